//! Why the front door refused an invoke: one variant per reason, each with
//! Lambda's error type and status in one match, and its JSON answer. Below
//! every path that refuses an invoke (the front door, the header parser,
//! `run.rs`, function URLs).

use crate::body::DoorBody;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};

/// Why the front door refused an invoke.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("Could not parse request body into json: {0}")]
    NotJson(String),
    #[error("Request must be smaller than {limit} bytes for the InvokeFunction operation")]
    TooLarge { limit: u64 },
    #[error("Client context must be a valid Base64-encoded JSON object.")]
    ClientContext,
    #[error("Client context must be at most {limit} bytes of base64, got {size} bytes.")]
    ClientContextTooLarge { size: usize, limit: usize },
    #[error("1 validation error detected: Value '{value}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]")]
    InvocationType {
        value: String,
        allowed: &'static str,
    },
    #[error("1 validation error detected: Value '{value}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]")]
    LogType { value: String },
    #[error("The value of the {name} header is not valid UTF-8")]
    HeaderNotUtf8 { name: &'static str },
    #[error("Rate Exceeded.")]
    Throttled,
    #[error("Unknown operation {method} {path}")]
    UnknownOperation { method: String, path: String },
    #[error("The execution environment has shut down")]
    Gone,
    #[error("could not read the request body")]
    BodyRead,
}

impl InvokeError {
    pub fn status(&self) -> StatusCode {
        match self {
            InvokeError::NotJson(_)
            | InvokeError::ClientContext
            | InvokeError::ClientContextTooLarge { .. }
            | InvokeError::InvocationType { .. }
            | InvokeError::LogType { .. }
            | InvokeError::HeaderNotUtf8 { .. }
            | InvokeError::BodyRead => StatusCode::BAD_REQUEST,
            InvokeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            InvokeError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            InvokeError::UnknownOperation { .. } => StatusCode::NOT_FOUND,
            InvokeError::Gone => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            InvokeError::NotJson(_)
            | InvokeError::ClientContext
            | InvokeError::ClientContextTooLarge { .. }
            | InvokeError::BodyRead => "InvalidRequestContentException",
            InvokeError::TooLarge { .. } => "RequestTooLargeException",
            InvokeError::InvocationType { .. }
            | InvokeError::LogType { .. }
            | InvokeError::HeaderNotUtf8 { .. } => "InvalidParameterValueException",
            InvokeError::Throttled => "TooManyRequestsException",
            InvokeError::UnknownOperation { .. } => "UnknownOperationException",
            InvokeError::Gone => "ServiceException",
        }
    }

    pub(crate) fn response(&self) -> Response<DoorBody> {
        let kind = match self {
            InvokeError::Gone => "Service",
            _ => "User",
        };
        let mut body = serde_json::json!({ "Type": kind, "message": self.to_string() });
        if let InvokeError::Throttled = self {
            // Lambda's throttle answer (spec §11).
            body["Reason"] = "ConcurrentInvocationLimitExceeded".into();
        }
        let mut response = Response::new(DoorBody::full(Bytes::from(body.to_string())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            HeaderName::from_static("x-amzn-errortype"),
            HeaderValue::from_static(self.error_type()),
        );
        response
    }
}
