//! Every error the Runtime API answers, with its status and Lambda error type.

use bytes::Bytes;
use http::StatusCode;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ApiError {
    #[error("Invalid request ID")]
    InvalidRequestId { request_id: String },
    #[error("{message}")]
    InvalidStateTransition { message: String },
    #[error("Exceeded maximum allowed payload size ({limit} bytes).")]
    RequestEntityTooLarge { limit: u64 },
    #[error("Invalid function response mode: {mode}")]
    InvalidFunctionResponseMode { mode: String },
    #[error("{message}")]
    InvalidRequestFormat { message: String },
    #[error("{path} not found")]
    NotFound { path: String },
    #[error("method {method} not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("the execution environment is shutting down")]
    ShuttingDown,
    /// Multi-concurrency: the invoke timed out and its caller was answered;
    /// the runtime's late answer is refused (`410 Gone`), the environment
    /// goes on.
    #[error("Invocation {request_id} timed out; its response is no longer accepted")]
    InvocationTimedOut { request_id: String },
    /// A restore endpoint (or the credentials endpoint) without init
    /// caching: Lambda serves them only to SnapStart functions.
    #[error("{path} is served only with init caching (start rapid with --enable-init-caching)")]
    InitCachingDisabled { path: String },
    /// The credentials endpoint was called without the token rapid gave.
    #[error("cannot get credentials for the provided token")]
    CredentialsNotFound,
}

impl ApiError {
    pub fn error_type(&self) -> &'static str {
        match self {
            ApiError::InvalidRequestId { .. } => "InvalidRequestID",
            ApiError::InvalidStateTransition { .. } => "InvalidStateTransition",
            ApiError::RequestEntityTooLarge { .. } => "RequestEntityTooLarge",
            ApiError::InvalidFunctionResponseMode { .. } => "InvalidFunctionResponseMode",
            ApiError::InvalidRequestFormat { .. } => "InvalidRequestFormat",
            ApiError::NotFound { .. } => "NotFound",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::ShuttingDown => "ShuttingDown",
            ApiError::InvocationTimedOut { .. } => "InvocationTimedOut",
            ApiError::InitCachingDisabled { .. } => "NotFound",
            ApiError::CredentialsNotFound => "NotFound",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequestId { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidStateTransition { .. } => StatusCode::FORBIDDEN,
            ApiError::RequestEntityTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidFunctionResponseMode { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidRequestFormat { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::ShuttingDown => StatusCode::GONE,
            ApiError::InvocationTimedOut { .. } => StatusCode::GONE,
            ApiError::InitCachingDisabled { .. } => StatusCode::NOT_FOUND,
            ApiError::CredentialsNotFound => StatusCode::NOT_FOUND,
        }
    }

    /// `{"errorMessage": ..., "errorType": ...}`
    pub fn body(&self) -> Bytes {
        let body = serde_json::json!({
            "errorMessage": self.to_string(),
            "errorType": self.error_type(),
        });
        Bytes::from(body.to_string())
    }
}
