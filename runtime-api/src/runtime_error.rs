//! Everything a runtime can get wrong about an invoke, as one typed value
//! (spec §3.2–§3.4): the engine learns what happened, and this file alone
//! says which Lambda error the invoker gets for it.

use bytes::Bytes;
use interop::{ErrorType, FunctionError};

/// Largest buffered response: 6 MB + 100 bytes (spec §3.2). Past it the
/// response is `ResponseTooLarge`, worded here.
pub const BUFFERED_RESPONSE_LIMIT: u64 = 6 * 1024 * 1024 + 100;

/// An error the runtime reported, ready for the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeErrorReport {
    /// Scrubbed error type (spec §3.4), for what rapid records.
    pub error_type: ErrorType,
    /// The body the invoker receives.
    pub body: Bytes,
}

/// How the runtime failed an invoke.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeError {
    /// It posted `/invocation/{id}/error`.
    Reported(RuntimeErrorReport),
    /// Its buffered response was over the limit (`size` bytes in all).
    ResponseTooLarge { size: u64 },
    /// Its `Lambda-Runtime-Function-Response-Mode` was neither absent nor
    /// `streaming`.
    InvalidResponseMode { mode: String },
    /// Its connection closed before the whole response was received.
    TruncatedResponse,
}

impl RuntimeError {
    /// What the invoker gets, and what rapid records.
    pub fn into_function_error(self) -> FunctionError {
        match self {
            RuntimeError::Reported(report) => {
                FunctionError::from_runtime(report.error_type, report.body)
            }
            RuntimeError::ResponseTooLarge { size } => FunctionError::new(
                ErrorType::FunctionResponseSizeTooLarge,
                &format!(
                    "Response payload size ({size} bytes) exceeded maximum allowed payload size ({BUFFERED_RESPONSE_LIMIT} bytes)."
                ),
            ),
            RuntimeError::InvalidResponseMode { mode } => FunctionError::new(
                ErrorType::RuntimeInvalidResponseModeHeader,
                &format!("Invalid response mode header value: {mode}"),
            ),
            RuntimeError::TruncatedResponse => FunctionError::new(
                ErrorType::RuntimeTruncatedResponse,
                "The runtime's connection closed before the whole response was received.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_lambda_error() {
        let cases = [
            (
                RuntimeError::ResponseTooLarge { size: 7_000_000 },
                "Function.ResponseSizeTooLarge",
                "Response payload size (7000000 bytes) exceeded maximum allowed payload size (6291556 bytes).",
            ),
            (
                RuntimeError::InvalidResponseMode {
                    mode: "chunky".to_owned(),
                },
                "Runtime.InvalidResponseModeHeader",
                "Invalid response mode header value: chunky",
            ),
            (
                RuntimeError::TruncatedResponse,
                "Runtime.TruncatedResponse",
                "The runtime's connection closed before the whole response was received.",
            ),
        ];
        for (error, error_type, message) in cases {
            let err = error.into_function_error();
            assert_eq!(err.error_type, error_type);
            let body: serde_json::Value = serde_json::from_slice(&err.body).unwrap();
            assert_eq!(body["errorMessage"], message);
            assert_eq!(body["errorType"], error_type);
        }
    }

    #[test]
    fn a_reported_error_keeps_the_runtime_s_body() {
        let report = RuntimeErrorReport {
            error_type: ErrorType::Reported("Function.ValueError".to_owned()),
            body: Bytes::from_static(br#"{"errorType":"ValueError","custom":1}"#),
        };
        let err = RuntimeError::Reported(report.clone()).into_function_error();
        assert_eq!(err.error_type, "Function.ValueError");
        assert_eq!(err.body, report.body);
    }
}
