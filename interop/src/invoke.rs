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

/// A response body: whole, streamed as the runtime sends it, or a buffered
/// response whose bytes come on as they arrive.
#[derive(Debug)]
pub enum InvokeBody {
    Buffered(Bytes),
    Streamed(ResponseStream),
    /// A buffered response of `length` bytes (the runtime's
    /// `Content-Length`), forwarded as it arrives. `end` resolves once every
    /// byte arrived and the runtime's answer was taken (`Ok`), or with the
    /// invoke's failure when it failed before that (the runtime's body cut
    /// short, its crash, the timeout): the body is then incomplete and must
    /// never be taken for the whole answer.
    Arriving {
        length: u64,
        stream: ResponseStream,
    },
}

impl InvokeBody {
    /// The whole body: a buffered one as it is, a forwarded one once every
    /// byte arrived (one copy), a streamed one joined. `Err` is the invoke's
    /// failure when the body did not end well.
    pub async fn whole(self) -> Result<Bytes, FunctionError> {
        let (stream, length) = match self {
            InvokeBody::Buffered(bytes) => return Ok(bytes),
            InvokeBody::Streamed(stream) => (stream, None),
            InvokeBody::Arriving { length, stream } => (stream, Some(length)),
        };
        let ResponseStream { mut chunks, end } = stream;
        let capacity = length.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
        let mut whole = bytes::BytesMut::with_capacity(capacity);
        while let Some(chunk) = chunks.recv().await {
            whole.extend_from_slice(&chunk);
        }
        match end.await {
            Ok(Ok(())) if length.is_some_and(|n| n != whole.len() as u64) => {
                Err(FunctionError::new(
                    ErrorType::RuntimeTruncatedResponse,
                    "The response ended short of its length.",
                ))
            }
            Ok(Ok(())) => Ok(whole.freeze()),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(FunctionError::new(
                ErrorType::RuntimeUnknown,
                "The invocation ended without a result.",
            )),
        }
    }
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

impl InvokeOutcome {
    /// Its body is a forwarded one, still arriving.
    pub fn is_arriving(&self) -> bool {
        matches!(
            self.result,
            Ok(InvokeResponse {
                body: InvokeBody::Arriving { .. },
                ..
            })
        )
    }

    /// The outcome with a forwarded body ([`InvokeBody::Arriving`]) made
    /// whole, for an invoker that needs the whole answer before it answers
    /// (the log tail, a web answer's mapping, an event stream's one chunk):
    /// then it is what a body read whole was, and a body cut short is the
    /// invoke's error.
    pub async fn arrived(self) -> Self {
        if !self.is_arriving() {
            return self;
        }
        let result = match self.result {
            Ok(InvokeResponse {
                body: body @ InvokeBody::Arriving { .. },
                content_type,
            }) => body.whole().await.map(|bytes| InvokeResponse {
                body: InvokeBody::Buffered(bytes),
                content_type,
            }),
            other => other,
        };
        InvokeOutcome { result, ..self }
    }
}
