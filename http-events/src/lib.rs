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
mod event_v1;
mod prelude;

pub use answer::{
    answer_v1, answer_v2, failure, failure_v1, streamed_head, Answer, AnswerError,
    INTERNAL_SERVER_ERROR,
};
pub use event::{address_text, event_v2, is_text, HttpRequest, RequestContext};
pub use event_v1::event_v1;
pub use prelude::{PreludeScan, PreludeSplit, MAX_PRELUDE, PRELUDE_DELIMITER};

/// The content type of a streamed answer that starts with an HTTP prelude
/// (status, headers, cookies), then eight NUL bytes, then the body.
pub const HTTP_INTEGRATION_RESPONSE: &str = "application/vnd.awslambda.http-integration-response";

/// Which event a request becomes, and how the result is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    /// API Gateway REST API (and HTTP API format 1.0).
    V1,
    /// Function URLs and HTTP APIs by default.
    V2,
}

impl PayloadVersion {
    /// The event for `request`.
    pub fn event(self, request: &HttpRequest, context: &RequestContext<'_>) -> bytes::Bytes {
        match self {
            PayloadVersion::V1 => event_v1(request, context),
            PayloadVersion::V2 => event_v2(request, context),
        }
    }

    /// The answer for a buffered result.
    pub fn answer(self, result: &bytes::Bytes) -> Result<Answer, AnswerError> {
        match self {
            PayloadVersion::V1 => answer_v1(result),
            PayloadVersion::V2 => answer_v2(result),
        }
    }

    /// The answer to a failed invoke or a result that is no answer.
    pub fn failure(self) -> Answer {
        match self {
            PayloadVersion::V1 => failure_v1(),
            PayloadVersion::V2 => failure(),
        }
    }
}

impl std::str::FromStr for PayloadVersion {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "1.0" => Ok(PayloadVersion::V1),
            "2.0" => Ok(PayloadVersion::V2),
            other => Err(format!("invalid payload version {other:?}: use 1.0 or 2.0")),
        }
    }
}

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
