//! Routing and parsing of the Runtime API requests.

use crate::runtime_error::{RuntimeError, RuntimeErrorReport, BUFFERED_RESPONSE_LIMIT};
use crate::{ApiError, RuntimeEngine};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response};
use http_body_util::Full;
use interop::{bounded_error_type, scrub_error_type, RuntimeEvent};
use wire::{accepted, json, read_limited, LimitedBody};

const PREFIX: &str = "/2018-06-01/runtime/";
const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";
const ERROR_CAUSE_CONTENT_TYPE: &str = "application/vnd.aws.lambda.error.cause+json";

/// Serves one Runtime API request.
pub async fn handle<E, B>(engine: E, req: Request<B>) -> Response<Full<Bytes>>
where
    E: RuntimeEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let result = route(engine, req).await;
    match result {
        Ok(response) => response,
        Err(err) => json(err.status(), err.body()),
    }
}

/// Where a Runtime API request goes.
enum Route<'a> {
    Next,
    Response(&'a str),
    Error(&'a str),
    InitError,
    RestoreNext,
    RestoreError,
    /// A known path with another method.
    WrongMethod,
    NotFound,
}

/// The route of `method` and `path` (no allocation: on every request).
fn route_of<'a>(method: &Method, path: &'a str) -> Route<'a> {
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Route::NotFound;
    };
    let mut segments = rest.split('/');
    let (first, second, third) = (segments.next(), segments.next(), segments.next());
    if segments.next().is_some() {
        return Route::NotFound;
    }
    let (route, allowed) = match (first, second, third) {
        (Some("invocation"), Some("next"), None) => (Route::Next, Method::GET),
        (Some("invocation"), Some(id), Some("response")) => (Route::Response(id), Method::POST),
        (Some("invocation"), Some(id), Some("error")) => (Route::Error(id), Method::POST),
        (Some("init"), Some("error"), None) => (Route::InitError, Method::POST),
        (Some("restore"), Some("next"), None) => (Route::RestoreNext, Method::GET),
        (Some("restore"), Some("error"), None) => (Route::RestoreError, Method::POST),
        _ => return Route::NotFound,
    };
    if *method == allowed {
        route
    } else {
        Route::WrongMethod
    }
}

async fn route<E, B>(engine: E, req: Request<B>) -> Result<Response<Full<Bytes>>, ApiError>
where
    E: RuntimeEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let path = req.uri().path();
    match route_of(req.method(), path) {
        Route::Next => next(engine).await,
        Route::Response(id) => {
            let id = id.to_owned();
            response(engine, id, req).await
        }
        Route::Error(id) => {
            let id = id.to_owned();
            let report = read_error_report(req).await?;
            engine.error(id, RuntimeError::Reported(report)).await?;
            Ok(accepted())
        }
        Route::InitError => {
            let report = read_error_report(req).await?;
            engine.init_error(report).await?;
            Ok(accepted())
        }
        Route::RestoreNext => {
            engine.restore_next().await?;
            // Lambda answers a restore with an empty 200.
            Ok(Response::new(Full::new(Bytes::new())))
        }
        Route::RestoreError => {
            let report = read_error_report(req).await?;
            engine.restore_error(report).await?;
            Ok(accepted())
        }
        Route::WrongMethod => Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            path: path.to_owned(),
        }),
        Route::NotFound => Err(ApiError::NotFound {
            path: path.to_owned(),
        }),
    }
}

async fn next<E: RuntimeEngine>(engine: E) -> Result<Response<Full<Bytes>>, ApiError> {
    let event = engine.next().await?;
    Ok(next_response(event))
}

// The names of `next`'s headers, parsed once.
const REQUEST_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-request-id");
const DEADLINE_MS: HeaderName = HeaderName::from_static("lambda-runtime-deadline-ms");
const FUNCTION_ARN: HeaderName = HeaderName::from_static("lambda-runtime-invoked-function-arn");
const TRACE_ID: HeaderName = HeaderName::from_static("lambda-runtime-trace-id");
const CLIENT_CONTEXT: HeaderName = HeaderName::from_static("lambda-runtime-client-context");
const COGNITO_IDENTITY: HeaderName = HeaderName::from_static("lambda-runtime-cognito-identity");
const TENANT_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-tenant-id");
const RESPONSE_MODE: HeaderName = HeaderName::from_static(RESPONSE_MODE_HEADER);

fn next_response(event: RuntimeEvent) -> Response<Full<Bytes>> {
    let invoke = event.invoke;
    let mut response = Response::new(Full::new(invoke.payload));
    let headers = response.headers_mut();
    headers.reserve(8);
    // The event's strings become the header values (no copies).
    put(headers, REQUEST_ID, invoke.request_id);
    headers.insert(DEADLINE_MS, HeaderValue::from(event.deadline_ms));
    if let Ok(arn) = HeaderValue::from_str(&event.function_arn) {
        headers.insert(FUNCTION_ARN, arn);
    }
    put(headers, TRACE_ID, invoke.trace_id);
    if let Some(value) = invoke.client_context {
        put(headers, CLIENT_CONTEXT, value);
    }
    if let Some(value) = invoke.cognito_identity {
        put(headers, COGNITO_IDENTITY, value);
    }
    if let Some(value) = invoke.tenant_id {
        put(headers, TENANT_ID, value);
    }
    // The event is JSON whatever the invoker's `Content-Type` said (`curl -d`
    // and urllib send a form type): Lambda's `next` always says so, and
    // awslambdaric decodes the event only for this type.
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Sets `name: value`; a value that is not a valid header (control
/// characters) is left out rather than failing the whole event.
fn put(headers: &mut http::HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

/// How a runtime sends its response (`Lambda-Runtime-Function-Response-Mode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseMode {
    /// No mode header: one body, read whole.
    Buffered,
    /// `streaming` (any case): chunks forwarded as they arrive.
    Streaming,
    /// Any other value, as sent (lossily decoded).
    Invalid(String),
}

/// The response mode a response's headers ask for.
pub fn response_mode(headers: &http::HeaderMap) -> ResponseMode {
    match headers.get(RESPONSE_MODE) {
        None => ResponseMode::Buffered,
        Some(mode) if mode.as_bytes().eq_ignore_ascii_case(b"streaming") => ResponseMode::Streaming,
        Some(mode) => ResponseMode::Invalid(String::from_utf8_lossy(mode.as_bytes()).into_owned()),
    }
}

async fn response<E, B>(
    engine: E,
    request_id: String,
    req: Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    E: RuntimeEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match response_mode(req.headers()) {
        ResponseMode::Buffered => {}
        ResponseMode::Streaming => return stream(engine, request_id, content_type, req).await,
        ResponseMode::Invalid(mode) => {
            let error = RuntimeError::InvalidResponseMode { mode: mode.clone() };
            engine.error(request_id, error).await?;
            return Err(ApiError::InvalidFunctionResponseMode { mode });
        }
    }
    if let Some(length) = forwardable(&req) {
        let sink = engine
            .start_forward(request_id.clone(), content_type.clone(), length)
            .await;
        if let Some(sink) = sink {
            return forward(engine, request_id, sink, req).await;
        }
    }
    match read_limited(req.into_body(), BUFFERED_RESPONSE_LIMIT).await {
        Ok(LimitedBody::Complete(body)) => {
            engine.response(request_id, body, content_type).await?;
            // Let the invoker's answer go out before this 202: it is the
            // one a caller waits for.
            tokio::task::yield_now().await;
            Ok(accepted())
        }
        Ok(LimitedBody::TooLarge { size }) => {
            let error = RuntimeError::ResponseTooLarge { size };
            engine.error(request_id, error).await?;
            Err(ApiError::RequestEntityTooLarge {
                limit: BUFFERED_RESPONSE_LIMIT,
            })
        }
        Err(_) => truncated(engine, request_id).await,
    }
}

/// A buffered response whose body ended before its end: the invoke fails
/// with `Runtime.TruncatedResponse`, and the runtime is told its request
/// was malformed.
async fn truncated<E: RuntimeEngine>(
    engine: E,
    request_id: String,
) -> Result<Response<Full<Bytes>>, ApiError> {
    engine
        .error(request_id, RuntimeError::TruncatedResponse)
        .await?;
    Err(ApiError::InvalidRequestFormat {
        message: "truncated response body".to_owned(),
    })
}

/// A buffered response at least this large is forwarded to the invoker as
/// it arrives when its `Content-Length` is known: below it the body comes
/// in one or two reads, and reading it whole costs less than forwarding.
const FORWARD_FROM: u64 = 64 * 1024;

/// The length of a buffered response whose bytes may go to the invoker as
/// they arrive: a `Content-Length` from [`FORWARD_FROM`] up to the limit.
/// A chunked body (no length) is read whole, and one over the limit is
/// refused, both as before anything reaches the invoker.
fn forwardable<B: hyper::body::Body>(req: &Request<B>) -> Option<u64> {
    let length = req.body().size_hint().exact()?;
    (FORWARD_FROM..=BUFFERED_RESPONSE_LIMIT)
        .contains(&length)
        .then_some(length)
}

/// Forwards a buffered response the engine took with `start_forward`: its
/// bytes go on as they arrive; the whole body is the runtime's answer, a
/// body cut short (the runtime's connection closed) a truncated response.
async fn forward<E, B>(
    engine: E,
    request_id: String,
    sink: crate::StreamSink,
    req: Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    E: RuntimeEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let end = crate::stream::pump(req.into_body(), sink).await;
    if end.result.is_err() {
        // With a Content-Length the body can only end early: hyper
        // refuses more bytes, and such a body has no trailers.
        return truncated(engine, request_id).await;
    }
    engine.forwarded(request_id, end.size).await?;
    // As for a body read whole: the invoker's answer ends before this 202.
    tokio::task::yield_now().await;
    Ok(accepted())
}

async fn stream<E, B>(
    engine: E,
    request_id: String,
    content_type: Option<String>,
    req: Request<B>,
) -> Result<Response<Full<Bytes>>, ApiError>
where
    E: RuntimeEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let sink = engine
        .start_stream(request_id.clone(), content_type)
        .await?;
    let limit = sink.limit;
    let end = crate::stream::pump(req.into_body(), sink).await;
    let too_large = end.too_large();
    let truncated = matches!(&end.result, Err(e) if e.error_type == interop::ErrorType::RuntimeTruncatedResponse);
    engine.end_stream(request_id, end).await?;
    if too_large {
        return Err(ApiError::RequestEntityTooLarge { limit });
    }
    if truncated {
        return Err(ApiError::InvalidRequestFormat {
            message: "truncated response body".to_owned(),
        });
    }
    Ok(accepted())
}

async fn read_error_report<B>(req: Request<B>) -> Result<RuntimeErrorReport, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let (header_type, is_cause) = error_headers(req.headers());
    let body = match read_limited(req.into_body(), BUFFERED_RESPONSE_LIMIT).await {
        Ok(LimitedBody::Complete(body)) => body,
        Ok(LimitedBody::TooLarge { .. }) => {
            return Err(ApiError::RequestEntityTooLarge {
                limit: BUFFERED_RESPONSE_LIMIT,
            })
        }
        Err(_) => {
            return Err(ApiError::InvalidRequestFormat {
                message: "truncated error body".to_owned(),
            })
        }
    };
    Ok(error_report(header_type.as_deref(), body, is_cause))
}

/// What an error post's headers say: the error type header, if it is
/// text, and whether the body is an error-cause document.
pub fn error_headers(headers: &http::HeaderMap) -> (Option<String>, bool) {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let header_type = text(wire::names::FUNCTION_ERROR_TYPE).map(str::to_owned);
    let is_cause =
        text(CONTENT_TYPE.as_str()).is_some_and(|ct| ct.starts_with(ERROR_CAUSE_CONTENT_TYPE));
    (header_type, is_cause)
}

/// Builds the report from the header, the body, and the body's content type.
pub fn error_report(header_type: Option<&str>, body: Bytes, is_cause: bool) -> RuntimeErrorReport {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let body_type = parsed
        .as_ref()
        .and_then(|v| v.get("errorType"))
        .and_then(|v| v.as_str());
    let raw_type = bounded_error_type(header_type.or(body_type).unwrap_or(""), "the runtime's");
    let error_type = scrub_error_type(raw_type);
    let body = match (is_cause, &parsed) {
        // An error-cause document: the invoker gets the compact error only.
        (true, Some(value)) => {
            let mut compact = serde_json::Map::new();
            for key in ["errorMessage", "errorType", "stackTrace"] {
                if let Some(v) = value.get(key) {
                    compact.insert(key.to_owned(), v.clone());
                }
            }
            Bytes::from(serde_json::Value::Object(compact).to_string())
        }
        _ if body.is_empty() => {
            let shown = if raw_type.is_empty() {
                "Unhandled"
            } else {
                raw_type
            };
            interop::error_body(shown, "")
        }
        _ => body,
    };
    RuntimeErrorReport { error_type, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_type_comes_from_the_header_then_the_body() {
        let body = Bytes::from_static(br#"{"errorType":"Function.FromBody","errorMessage":"x"}"#);
        let r = error_report(Some("Runtime.FromHeader"), body.clone(), false);
        assert_eq!(r.error_type, "Runtime.FromHeader");
        assert_eq!(r.body, body);
        let r = error_report(None, body.clone(), false);
        assert_eq!(r.error_type, "Function.FromBody");
        let r = error_report(Some("Unhandled"), body.clone(), false);
        assert_eq!(r.error_type, "Runtime.Unknown");
        assert_eq!(r.body, body, "the invoker still gets the runtime's body");
    }

    #[test]
    fn error_cause_is_compacted() {
        let body = Bytes::from_static(
            br#"{"errorMessage":"m","errorType":"Function.E","stackTrace":["a"],"cause":{"x":1}}"#,
        );
        let r = error_report(None, body, true);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["errorMessage"], "m");
        assert_eq!(v["stackTrace"][0], "a");
        assert!(v.get("cause").is_none());
    }

    /// Records which engine method a request reached.
    #[derive(Clone, Default)]
    struct Recorder {
        calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl Recorder {
        fn record(&self, call: String) {
            self.calls.lock().unwrap().push(call);
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl RuntimeEngine for Recorder {
        async fn next(&self) -> Result<RuntimeEvent, ApiError> {
            self.record("next".into());
            Err(ApiError::ShuttingDown)
        }
        async fn response(
            &self,
            request_id: String,
            _: Bytes,
            _: Option<String>,
        ) -> Result<(), ApiError> {
            self.record(format!("response {request_id}"));
            Ok(())
        }
        async fn start_stream(
            &self,
            _: String,
            _: Option<String>,
        ) -> Result<crate::StreamSink, ApiError> {
            Err(ApiError::ShuttingDown)
        }
        async fn end_stream(&self, _: String, _: crate::StreamEnd) -> Result<(), ApiError> {
            Ok(())
        }
        async fn error(&self, request_id: String, _: RuntimeError) -> Result<(), ApiError> {
            self.record(format!("error {request_id}"));
            Ok(())
        }
        async fn init_error(&self, report: RuntimeErrorReport) -> Result<(), ApiError> {
            self.record(format!("init_error {}", report.error_type));
            Ok(())
        }
        async fn restore_next(&self) -> Result<(), ApiError> {
            self.record("restore_next".into());
            Ok(())
        }
        async fn restore_error(&self, report: RuntimeErrorReport) -> Result<(), ApiError> {
            self.record(format!("restore_error {}", report.error_type));
            Ok(())
        }
        async fn credentials(
            &self,
            _: Option<String>,
        ) -> Result<interop::restore::Credentials, ApiError> {
            Err(ApiError::CredentialsNotFound)
        }
    }

    fn serve(
        engine: &Recorder,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response<Full<Bytes>> {
        let mut req = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(Bytes::new())).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(handle(engine.clone(), req))
    }

    #[test]
    fn restore_endpoints_reach_the_engine() {
        let engine = Recorder::default();
        let next = serve(&engine, "GET", "/2018-06-01/runtime/restore/next", &[]);
        assert_eq!(next.status(), http::StatusCode::OK);
        let error = serve(
            &engine,
            "POST",
            "/2018-06-01/runtime/restore/error",
            &[(
                wire::names::FUNCTION_ERROR_TYPE,
                "Runtime.AfterRestoreError",
            )],
        );
        assert_eq!(error.status(), http::StatusCode::ACCEPTED);
        let unscrubbed = serve(
            &engine,
            "POST",
            "/2018-06-01/runtime/restore/error",
            &[(wire::names::FUNCTION_ERROR_TYPE, "MyHookFailed")],
        );
        assert_eq!(unscrubbed.status(), http::StatusCode::ACCEPTED);
        assert_eq!(
            engine.calls(),
            [
                "restore_next",
                "restore_error Runtime.AfterRestoreError",
                "restore_error Runtime.Unknown"
            ]
        );
    }

    #[test]
    fn restore_endpoints_refuse_other_methods() {
        let engine = Recorder::default();
        let post_next = serve(&engine, "POST", "/2018-06-01/runtime/restore/next", &[]);
        assert_eq!(post_next.status(), http::StatusCode::METHOD_NOT_ALLOWED);
        let get_error = serve(&engine, "GET", "/2018-06-01/runtime/restore/error", &[]);
        assert_eq!(get_error.status(), http::StatusCode::METHOD_NOT_ALLOWED);
        let other = serve(&engine, "GET", "/2018-06-01/runtime/restore/other", &[]);
        assert_eq!(other.status(), http::StatusCode::NOT_FOUND);
        assert!(engine.calls().is_empty(), "{:?}", engine.calls());
    }

    #[test]
    fn empty_error_body_gets_a_lambda_body() {
        let r = error_report(Some("Unhandled"), Bytes::new(), false);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["errorType"], "Unhandled");
        assert_eq!(r.error_type, "Runtime.Unknown");
    }
}
