//! HTTP adapter for the Extensions API (`/2020-01-01/extension/*`, spec §5)
//! and for the Telemetry and Logs APIs' subscriptions (`subscribe`, spec §6).
//!
//! It parses and validates what extensions send and answers every failure
//! with the Lambda error type and status of the spec. Which extension may do
//! what, and when, is the engine's business: it is reached through the
//! [`ExtensionsEngine`] trait, which `rapid` implements. This crate must never
//! import `rapid` or another API crate, nor hold lifecycle state.

mod error;
mod event;
mod routes;
mod subscribe;

pub use error::ExtensionApiError;
pub use event::{EventKind, ExtensionEvent, ShutdownReason};
pub use routes::{
    extension_error_type, extension_identifier, handle, registration, Registration,
    RegistrationRequest,
};
pub use subscribe::{
    handle_subscription, SubscribeError, SubscriptionsEngine, LOGS_PATH, TELEMETRY_PATH,
};

use std::future::Future;

/// What the Extensions API needs from the engine.
pub trait ExtensionsEngine: Clone + Send + Sync + 'static {
    /// `POST /register`: the identifier and the response body.
    fn register(
        &self,
        request: RegistrationRequest,
    ) -> impl Future<Output = Result<Registration, ExtensionApiError>> + Send;
    /// `GET /event/next`: resolves with the extension's next event.
    fn next(
        &self,
        id: uuid::Uuid,
    ) -> impl Future<Output = Result<ExtensionEvent, ExtensionApiError>> + Send;
    /// `POST /init/error`.
    fn init_error(
        &self,
        id: uuid::Uuid,
        error_type: String,
    ) -> impl Future<Output = Result<(), ExtensionApiError>> + Send;
    /// `POST /exit/error`.
    fn exit_error(
        &self,
        id: uuid::Uuid,
        error_type: String,
    ) -> impl Future<Output = Result<(), ExtensionApiError>> + Send;
}
