//! The contract between rapid's crates: what an invoke is, what comes back,
//! and which error types exist.
//!
//! Types only, and the one source of fresh ids (`ids`). This crate must never
//! open a socket, spawn a process or read a clock: the engine (`rapid`) and
//! the HTTP adapters exchange these values and nothing else.

pub mod contract;
mod error_type;
pub mod ids;
mod invoke;
pub mod restore;
pub mod state;
pub mod subscription;

pub use error_type::{
    bound_error_type, bounded_error_type, scrub_error_type, ErrorType, MAX_ERROR_TYPE_LEN,
};
pub use invoke::{
    error_body, FunctionError, Invoke, InvokeBody, InvokeOutcome, InvokeResponse, ResponseStream,
    RuntimeEvent,
};
