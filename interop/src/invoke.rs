//! An invoke, the event the runtime receives for it, and its outcome.

use crate::ErrorType;
use bytes::Bytes;
use tokio::sync::oneshot;

/// One invoke as the front door received it.
#[derive(Debug, Clone)]
pub struct Invoke {
    pub request_id: String,
    /// The event: JSON, whatever `Content-Type` the invoker sent (Lambda's
    /// Invoke payload is JSON; the runtime's `next` says `application/json`).
    pub payload: Bytes,
    /// Decoded client context JSON.
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    /// X-Ray trace header, always present (generated when the invoker sent none).
    pub trace_id: String,
    pub tenant_id: Option<String>,
    /// The invoker asked for the tail of this invoke's log (`X-Amz-Log-Type: Tail`).
    pub log_tail: bool,
    /// A restore the caller ran and measured itself before this invoke (the
    /// control API's `restore-duration` header): the invoke's REPORT shows
    /// it as `Restore Duration`.
    pub restore_duration: Option<std::time::Duration>,
    /// When the front door accepted it. With multi-concurrency the time it
    /// waits for a free slot counts against its timeout: a slot may stay
    /// held by a worker still inside a timed-out invoke.
    pub accepted: std::time::Instant,
}

/// What the runtime's `next` returns for an invoke.
#[derive(Debug, Clone)]
pub struct RuntimeEvent {
    pub invoke: Invoke,
    /// Deadline as Unix epoch milliseconds.
    pub deadline_ms: u64,
    pub function_arn: std::sync::Arc<str>,
}

/// A successful response, byte for byte as the runtime posted it.
#[derive(Debug)]
pub struct InvokeResponse {
    pub body: InvokeBody,
    pub content_type: Option<String>,
}

/// A response body: whole, or streamed as the runtime sends it.
#[derive(Debug)]
pub enum InvokeBody {
    Buffered(Bytes),
    Streamed(ResponseStream),
}

/// A streamed response (spec §3.3). `chunks` closes when the runtime's body
/// ends; `end` then says whether the stream finished well or with an error
/// (mid-stream error trailers, size limit, truncation, timeout). `end` may
/// also resolve first, when the invoke fails while chunks are still due.
#[derive(Debug)]
pub struct ResponseStream {
    pub chunks: tokio::sync::mpsc::Receiver<Bytes>,
    pub end: oneshot::Receiver<Result<(), FunctionError>>,
}

/// A function error: what the invoker receives and the (scrubbed) type rapid records.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    /// Scrubbed error type, for REPORT lines and telemetry.
    pub error_type: ErrorType,
    /// The JSON body the invoker receives.
    pub body: Bytes,
}

impl FunctionError {
    /// An error rapid produces itself: `{"errorType": ..., "errorMessage": ...}`.
    pub fn new(error_type: ErrorType, message: &str) -> Self {
        let body = error_body(error_type.as_str(), message);
        Self { error_type, body }
    }

    /// An error whose body came from the runtime; `error_type` must already be scrubbed.
    /// The body's `errorMessage`, else the body itself.
    pub fn message(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned())
    }

    pub fn from_runtime(error_type: ErrorType, body: Bytes) -> Self {
        Self { error_type, body }
    }
}

/// `{"errorType": ..., "errorMessage": ...}` with any spelling of the type
/// (a runtime's own, unscrubbed, is what its invoker sees).
pub fn error_body(error_type: &str, message: &str) -> Bytes {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    Bytes::from(body.to_string())
}

/// The result of an invoke, handed to the front door as soon as it is known.
#[derive(Debug)]
pub struct InvokeOutcome {
    pub request_id: String,
    pub result: Result<InvokeResponse, FunctionError>,
    /// When the invoke asked for it: the last 4 KB of its log, sent once the
    /// REPORT line is written.
    pub log_tail: Option<oneshot::Receiver<Bytes>>,
}
