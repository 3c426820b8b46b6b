//! HTTP adapter for the Runtime API (`/2018-06-01/runtime/*`, spec §3).
//!
//! This crate parses and validates what the runtime sends, enforces the size
//! limits while reading, and turns every failure into the Lambda-style JSON
//! error. It decides nothing about the lifecycle: it calls the engine through
//! the [`RuntimeEngine`] trait, which `rapid` implements. It must never import
//! `rapid` or hold lifecycle state of its own.

mod credentials;
mod error;
mod routes;
mod runtime_error;
mod stream;

pub use credentials::{handle_credentials, CREDENTIALS_PATH};
pub use error::ApiError;
pub use routes::{error_headers, error_report, handle, response_mode, ResponseMode};
pub use runtime_error::{RuntimeError, RuntimeErrorReport, BUFFERED_RESPONSE_LIMIT};
pub use stream::{trailer_error, StreamEnd, StreamSink};

use interop::restore::Credentials;
use interop::RuntimeEvent;
use std::future::Future;

/// What the Runtime API needs from the engine.
pub trait RuntimeEngine: Clone + Send + Sync + 'static {
    /// `GET /invocation/next`: resolves when an invoke is assigned.
    fn next(&self) -> impl Future<Output = Result<RuntimeEvent, ApiError>> + Send;
    /// `POST /invocation/{id}/response`, buffered.
    fn response(
        &self,
        request_id: String,
        body: bytes::Bytes,
        content_type: Option<String>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// A buffered response of `length` bytes (its `Content-Length`, within
    /// the limit) starts: where to send its bytes as they arrive, when the
    /// engine hands them to the invoker before the body is whole. `None`:
    /// the body is read whole and given to [`RuntimeEngine::response`], as
    /// any buffered response.
    fn start_forward(
        &self,
        request_id: String,
        content_type: Option<String>,
        length: u64,
    ) -> impl Future<Output = Option<StreamSink>> + Send {
        let _ = (request_id, content_type, length);
        async { None }
    }
    /// Every byte of a response [`RuntimeEngine::start_forward`] took
    /// arrived (`size` bytes): the runtime's answer, as `response` is for
    /// a body read whole. A forwarded body cut short is `error` with
    /// [`RuntimeError::TruncatedResponse`].
    fn forwarded(
        &self,
        request_id: String,
        size: u64,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        let _ = size;
        async { Err(ApiError::InvalidRequestId { request_id }) }
    }
    /// A streamed response starts: where to send its chunks.
    fn start_stream(
        &self,
        request_id: String,
        content_type: Option<String>,
    ) -> impl Future<Output = Result<StreamSink, ApiError>> + Send;
    /// The streamed response ended (well, or how it failed).
    fn end_stream(
        &self,
        request_id: String,
        end: StreamEnd,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// The runtime failed the invoke `request_id`: it posted
    /// `/invocation/{id}/error`, or its response was too large, had an
    /// invalid response mode, or was cut off.
    fn error(
        &self,
        request_id: String,
        error: RuntimeError,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// `POST /init/error`.
    fn init_error(
        &self,
        report: RuntimeErrorReport,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// `GET /restore/next` (init caching): ends init, resolves when a
    /// restore starts.
    fn restore_next(&self) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// `POST /restore/error`: the runtime's after-restore hooks failed.
    fn restore_error(
        &self,
        report: RuntimeErrorReport,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// `GET /2021-04-23/credentials` with its `Authorization` header: the
    /// credentials of the init or of the last restore, with their
    /// expiration.
    fn credentials(
        &self,
        authorization: Option<String>,
    ) -> impl Future<Output = Result<Credentials, ApiError>> + Send;
}
