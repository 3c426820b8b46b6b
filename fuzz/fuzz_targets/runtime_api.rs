//! The Runtime API's parsers, through its real handler: any method, path,
//! headers and body (buffered or streamed, cut, with trailers) reaching
//! `next`, `response`, `error`, `init/error` and the restore calls. The
//! engine behind it accepts everything and records what it was told. Every
//! request must be answered with a Lambda status and a JSON error body when
//! it fails; what reaches the engine must be what the runtime sent, with
//! error types scrubbed and bounded.

#![no_main]

use bytes::Bytes;
use http_body_util::BodyExt;
use interop::{ErrorType, Invoke, RuntimeEvent, MAX_ERROR_TYPE_LEN};
use libfuzzer_sys::fuzz_target;
use rapid_fuzz::{block_on, Input};
use runtime_api::{
    error_headers, error_report, response_mode, trailer_error, ApiError, ResponseMode,
    RuntimeEngine, RuntimeError, RuntimeErrorReport, StreamEnd, StreamSink,
};
use std::sync::{Arc, Mutex};

/// A streamed response's limit, small so that inputs cross it.
const STREAM_LIMIT: u64 = 64;

#[derive(Clone, Default)]
struct Engine {
    seen: Arc<Mutex<Seen>>,
}

#[derive(Default)]
struct Seen {
    response: Option<Bytes>,
    errors: Vec<RuntimeError>,
    reports: Vec<RuntimeErrorReport>,
    /// The chunks a stream forwarded, and how it ended.
    forwarded: Arc<Mutex<Vec<u8>>>,
    end: Option<StreamEnd>,
}

impl Engine {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RuntimeEngine for Engine {
    async fn next(&self) -> Result<RuntimeEvent, ApiError> {
        Ok(RuntimeEvent {
            invoke: Invoke {
                request_id: "id".into(),
                payload: Bytes::from_static(b"{}"),
                client_context: None,
                cognito_identity: None,
                trace_id: "Root=1".into(),
                tenant_id: None,
                log_tail: false,
                restore_duration: None,
                accepted: std::time::Instant::now(),
            },
            deadline_ms: 1,
            function_arn: "arn".into(),
        })
    }
    async fn response(&self, _: String, body: Bytes, _: Option<String>) -> Result<(), ApiError> {
        self.seen().response = Some(body);
        Ok(())
    }
    async fn start_stream(&self, _: String, _: Option<String>) -> Result<StreamSink, ApiError> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let forwarded = self.seen().forwarded.clone();
        tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                forwarded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk);
            }
        });
        Ok(StreamSink {
            chunks: tx,
            limit: STREAM_LIMIT,
            throttle: false,
        })
    }
    async fn end_stream(&self, _: String, end: StreamEnd) -> Result<(), ApiError> {
        self.seen().end = Some(end);
        Ok(())
    }
    async fn error(&self, _: String, error: RuntimeError) -> Result<(), ApiError> {
        self.seen().errors.push(error);
        Ok(())
    }
    async fn init_error(&self, report: RuntimeErrorReport) -> Result<(), ApiError> {
        self.seen().reports.push(report);
        Ok(())
    }
    async fn restore_next(&self) -> Result<(), ApiError> {
        Ok(())
    }
    async fn restore_error(&self, report: RuntimeErrorReport) -> Result<(), ApiError> {
        self.seen().reports.push(report);
        Ok(())
    }
    async fn credentials(
        &self,
        _: Option<String>,
    ) -> Result<interop::restore::Credentials, ApiError> {
        Err(ApiError::CredentialsNotFound)
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    pure_parsers(&input);

    let engine = Engine::default();
    let response = block_on(async {
        let response = runtime_api::handle(engine.clone(), input.request()).await;
        // Let the stream's forwarding task finish.
        tokio::task::yield_now().await;
        response
    });
    let status = response.status();
    let body = block_on(response.into_body().collect())
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !status.is_success() {
        let value: serde_json::Value =
            serde_json::from_slice(&body).expect("an error answer is JSON");
        assert!(value["errorType"].is_string(), "{value}");
    }
    let seen = engine.seen();
    for report in &seen.reports {
        scrubbed(&report.error_type);
        assert!(!report.body.is_empty());
    }
    for error in &seen.errors {
        if let RuntimeError::Reported(report) = error {
            scrubbed(&report.error_type);
        }
        let function_error = error.clone().into_function_error();
        assert!(!function_error.body.is_empty());
    }
    if let Some(response) = &seen.response {
        assert!(!input.is_cut());
        assert_eq!(
            &response[..],
            &input.data()[..],
            "a response is passed on as sent"
        );
    }
    if let Some(end) = &seen.end {
        let forwarded = seen.forwarded.lock().unwrap_or_else(|e| e.into_inner());
        let sent = input.data();
        assert!(forwarded.len() as u64 <= STREAM_LIMIT);
        assert!(
            sent.starts_with(&forwarded),
            "chunks are forwarded in order, unchanged"
        );
        match &end.result {
            Ok(()) => {
                assert!(!input.is_cut());
                assert_eq!(&forwarded[..], &sent[..]);
            }
            Err(err) => scrubbed(&err.error_type),
        }
    }
});

/// The pure parsers, on the input's headers and body.
fn pure_parsers(input: &Input) {
    match response_mode(&input.headers) {
        ResponseMode::Invalid(mode) => assert!(!mode.eq_ignore_ascii_case("streaming")),
        ResponseMode::Buffered | ResponseMode::Streaming => {}
    }
    let (header_type, is_cause) = error_headers(&input.headers);
    let report = error_report(header_type.as_deref(), Bytes::from(input.data()), is_cause);
    scrubbed(&report.error_type);
    assert!(!report.body.is_empty());
    if let Some(err) = trailer_error(&input.headers) {
        scrubbed(&err.error_type);
        assert!(!err.body.is_empty());
    }
}

/// A type from a runtime is bounded and kept only in Lambda's two families.
fn scrubbed(error_type: &ErrorType) {
    let spelled = error_type.as_str();
    assert!(spelled.len() <= MAX_ERROR_TYPE_LEN, "{spelled:?}");
    assert!(
        spelled.contains("Runtime.") || spelled.contains("Function."),
        "{spelled:?}"
    );
}
