//! The small HTTP pieces every server of rapid shares: reading a body under
//! a size limit, a fast check that a body is JSON, JSON answers, setting a
//! header that may not be valid, and the names of the Lambda headers and
//! trailers more than one crate uses.
//!
//! The Runtime API, the Extensions API and the front door each parse their
//! own requests; this crate only keeps them from writing the same helpers
//! three times. It must never route, decide anything about the lifecycle,
//! or import another crate of rapid's.

mod answer;
mod body;
mod json;
mod json_check;
pub mod names;

pub use answer::{accepted, insert_header, insert_named, json};
pub use body::{drain_allowance, read_limited, read_limited_seeing, LimitedBody};
pub use json::{surely_json, MAX_JSON_DEPTH};
pub use json_check::JsonCheck;
