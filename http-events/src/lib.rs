//! Web traffic as Lambda sees it: a plain HTTP request becomes the event a
//! function URL (or an API Gateway HTTP API, payload format 2.0) hands its
//! function, and the function's result becomes the HTTP answer Lambda
//! would send back (spec §12).
//!
//! Pure functions of their inputs: the request, the time and the ids are
//! arguments, the event and the answer are values. This crate must never
//! open a socket, read a clock, generate an id, spawn a process or know
//! anything of the lifecycle; the front door (`cmd/src/web.rs`) gathers
//! what a request needs, calls these, and runs the invoke.

mod answer;
mod event;
mod prelude;

pub use answer::{answer_v2, failure, streamed_head, Answer, AnswerError, INTERNAL_SERVER_ERROR};
pub use event::{event_v2, is_text, HttpRequest, RequestContext};
pub use prelude::{PreludeScan, PreludeSplit, MAX_PRELUDE, PRELUDE_DELIMITER};

/// The content type of a streamed answer that starts with an HTTP prelude
/// (status, headers, cookies), then eight NUL bytes, then the body.
pub const HTTP_INTEGRATION_RESPONSE: &str = "application/vnd.awslambda.http-integration-response";

/// How a function URL invokes its function (its `InvokeMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    /// The Invoke API: the result is read whole (6 MB), then mapped.
    Buffered,
    /// InvokeWithResponseStream: the answer goes out as the function writes it.
    ResponseStream,
}

impl std::str::FromStr for InvokeMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "BUFFERED" => Ok(InvokeMode::Buffered),
            "RESPONSE_STREAM" => Ok(InvokeMode::ResponseStream),
            other => Err(format!(
                "invalid invoke mode {other:?}: use BUFFERED or RESPONSE_STREAM"
            )),
        }
    }
}
