//! Every error the Extensions API answers, with its status and Lambda type.

use bytes::Bytes;
use http::StatusCode;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtensionApiError {
    #[error("Empty extension name")]
    InvalidExtensionName,
    #[error("Extension registration closed already")]
    RegistrationClosed,
    #[error("Extension {name} is already registered")]
    AlreadyRegistered { name: String },
    #[error("Too many extensions registered, the limit is {limit}")]
    TooManyExtensions { limit: usize },
    #[error("{message}")]
    InvalidEventType { message: String },
    #[error("{message}")]
    InvalidRequestFormat { message: String },
    #[error("Missing Lambda-Extension-Identifier header")]
    MissingIdentifier,
    #[error("Invalid Lambda-Extension-Identifier header: {value}")]
    InvalidIdentifier { value: String },
    #[error("Unknown extension identifier {id}")]
    UnknownIdentifier { id: String },
    #[error("{message}")]
    InvalidState { message: String },
    #[error("{path} not found")]
    NotFound { path: String },
    #[error("the execution environment is shutting down")]
    ShuttingDown,
}

impl ExtensionApiError {
    pub fn error_type(&self) -> &'static str {
        use ExtensionApiError as E;
        match self {
            E::InvalidExtensionName => "Extension.InvalidExtensionName",
            E::RegistrationClosed => "Extension.RegistrationClosed",
            E::AlreadyRegistered { .. } | E::InvalidState { .. } => {
                "Extension.InvalidExtensionState"
            }
            E::TooManyExtensions { .. } => "Extension.TooManyExtensions",
            E::InvalidEventType { .. } => "Extension.InvalidEventType",
            E::InvalidRequestFormat { .. } => "InvalidRequestFormat",
            E::MissingIdentifier => "Extension.MissingExtensionIdentifier",
            E::InvalidIdentifier { .. } => "Extension.InvalidExtensionIdentifier",
            E::UnknownIdentifier { .. } => "Extension.UnknownExtensionIdentifier",
            E::NotFound { .. } => "NotFound",
            E::ShuttingDown => "ShuttingDown",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ExtensionApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ExtensionApiError::ShuttingDown => StatusCode::GONE,
            _ => StatusCode::FORBIDDEN,
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
