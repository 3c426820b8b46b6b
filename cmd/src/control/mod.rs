//! The `/test/*` control API (spec §8), served beside the front door when
//! `--test-api` is given: RAPID's standalone API, which drives the lifecycle
//! step by step through the same contract as the front door
//! (`interop::contract`): `init` and `waitUntilInitialized` (`init.rs`),
//! `reserve`, `invoke` and `waitUntilRelease` (`invoke.rs`), `restore`
//! (`restore.rs`), `eventLog` (`event_log.rs`), `reset`, `shutdown`, `ping`
//! and `internalState` (here).
//!
//! With a pool (`--max-sandboxes`), the operations on one sandbox take a
//! `sandbox=N` query parameter (`sandbox.rs`); without one they address
//! sandbox 0, as with a single sandbox.

mod event_log;
mod init;
mod invoke;
mod restore;
mod sandbox;

use crate::body::DoorBody;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use interop::contract::{PhaseRefused, ResetReason, ResponseMetrics, SandboxContext};
pub use sandbox::Controls;
use sandbox::Target;
use std::time::Duration;
use wire::{read_limited, LimitedBody};

/// The prefix of the control API's paths.
pub const PREFIX: &str = "/test/";

/// Largest request body the control API reads.
const BODY_LIMIT: u64 = 64 * 1024;

/// An operation of the control API: on rapid as a whole, or on one
/// sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Global(Global),
    On(OnSandbox),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    Ping,
    EventLog,
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnSandbox {
    InternalState,
    Reset,
    Init,
    WaitUntilInitialized,
    Reserve,
    Invoke,
    WaitUntilRelease,
    Restore,
}

impl Op {
    /// The operation `name` names, and the method it is called with.
    fn named(name: &str) -> Option<(Op, Method)> {
        use {Global::*, OnSandbox::*};
        let (op, method) = match name {
            "ping" => (Op::Global(Ping), Method::GET),
            "eventLog" => (Op::Global(EventLog), Method::GET),
            "shutdown" => (Op::Global(Shutdown), Method::POST),
            "internalState" => (Op::On(InternalState), Method::GET),
            "reset" => (Op::On(Reset), Method::POST),
            "init" => (Op::On(Init), Method::POST),
            "waitUntilInitialized" => (Op::On(WaitUntilInitialized), Method::POST),
            "reserve" => (Op::On(Reserve), Method::POST),
            "invoke" => (Op::On(Invoke), Method::POST),
            "waitUntilRelease" => (Op::On(WaitUntilRelease), Method::POST),
            "restore" => (Op::On(Restore), Method::POST),
            _ => return None,
        };
        Some((op, method))
    }
}

/// What the control API reaches through the front door that serves it:
/// the sandboxes, what it holds between calls, the function version, the
/// platform events and rapid's exit. The front door hands itself over as
/// one; the control API never names it.
pub trait Door: Send + Sync {
    /// The first sandbox.
    fn sandbox(&self) -> &rapid::Sandbox;
    /// With `--max-sandboxes` above 1: the pool the others come from.
    fn pool(&self) -> Option<&rapid::Pool>;
    /// What the control API holds between calls.
    fn controls(&self) -> &Controls;
    /// The function version invokes run.
    fn version(&self) -> std::borrow::Cow<'_, str>;
    /// The platform events so far, for `eventLog`.
    fn event_log(&self) -> &telemetry::EventLog;
    /// Asks rapid to exit.
    fn stop(&self);
}

/// Serves one `/test/*` request.
pub async fn handle<B>(door: &dyn Door, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let path = req.uri().path().to_owned();
    let name = path.strip_prefix(PREFIX).unwrap_or_default();
    let method = req.method().clone();
    let op = match Op::named(name) {
        Some((op, allowed)) if allowed == method => op,
        Some(_) => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "Client.InvalidRequest",
                &format!("{method} is not allowed on {path}"),
            )
        }
        None => {
            return error(
                StatusCode::NOT_FOUND,
                "Client.InvalidRequest",
                &format!("{path} is not an operation of the control API"),
            )
        }
    };
    let wanted = match sandbox::wanted(req.uri().query()) {
        Ok(wanted) => wanted,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    let op = match op {
        Op::Global(_) if wanted.is_some() => {
            return error(
                StatusCode::BAD_REQUEST,
                "Client.InvalidRequest",
                &format!("{path} concerns rapid as a whole: it takes no sandbox"),
            )
        }
        Op::Global(Global::Ping) => return text(StatusCode::OK, "pong"),
        Op::Global(Global::EventLog) => return event_log::handle(door),
        Op::Global(Global::Shutdown) => return shutdown(door, req).await,
        Op::On(op) => op,
    };
    let t = match Target::resolve(door, wanted.unwrap_or(0)).await {
        Ok(t) => t,
        Err(response) => return response,
    };
    match op {
        OnSandbox::InternalState => match t.sandbox.internal_state().await {
            Ok(state) => json(StatusCode::OK, t.describe(state)),
            Err(_) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sandbox.Gone",
                "the execution environment has shut down",
            ),
        },
        OnSandbox::Reset => reset(&t, req).await,
        OnSandbox::Init => init::init(&t, req).await,
        OnSandbox::WaitUntilInitialized => init::wait_until_initialized(&t).await,
        OnSandbox::Reserve => invoke::reserve(&t, req).await,
        OnSandbox::Invoke => invoke::invoke(&t, req).await,
        OnSandbox::WaitUntilRelease => invoke::wait_until_release(&t).await,
        OnSandbox::Restore => restore::restore(&t, req).await,
    }
}

/// `POST /test/shutdown {"timeoutMs": N}`: shuts the sandbox down within
/// `timeoutMs` (Lambda's budget when absent), answers with its internal
/// state, and makes rapid exit.
async fn shutdown<B>(door: &dyn Door, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let budget = match read_timeout_ms(req).await {
        Ok(budget) => budget,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    door.sandbox().shutdown(budget).await;
    let state = door.sandbox().internal_state().await.unwrap_or_default();
    door.stop();
    json(StatusCode::OK, sandbox::describe(0, state))
}

/// `POST /test/reset {"reason": "timeout"|"failure"}`: resets the sandbox
/// as a timeout or a failure would: an invoke or an init under way is cut
/// short (its invoker gets `Sandbox.Timedout` or `Sandbox.Failure`; an
/// invoke the runtime already answered is let complete first), extensions
/// get SHUTDOWN with that reason, every process is killed, the next invoke
/// initializes again. The answer says how long it took and what the invoke
/// cut short had measured; the reservation, if any, is released.
async fn reset<B>(t: &Target<'_>, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let body = match read_json(req).await {
        Ok(body) => body,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    let reason = match body.get("reason").and_then(|r| r.as_str()) {
        Some("timeout") => ResetReason::Timeout,
        Some("failure") => ResetReason::Failure,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "Client.InvalidRequest",
                &format!("reason must be \"timeout\" or \"failure\", not {other:?}"),
            )
        }
    };
    let result = SandboxContext::reset(&t.sandbox, reason).await;
    t.control.release_unsent();
    match result {
        Ok(done) => json(
            StatusCode::OK,
            serde_json::json!({
                "sandbox": t.index,
                "extensionsResetMs": done.extensions_reset.as_millis() as u64,
                "responseMetrics": response_metrics(done.response),
            }),
        ),
        Err(refused) => phase_refused(refused),
    }
}

/// RAPID's `responseMetrics` of an invoke; zeros when the runtime never
/// answered (or no invoke ran).
fn response_metrics(response: Option<ResponseMetrics>) -> serde_json::Value {
    match response {
        Some(r) => serde_json::json!({
            "runtimeResponseLatencyMs": r.latency.as_secs_f64() * 1000.0,
            "dimensions": {"invokeResponseMode": r.mode.as_str()},
        }),
        None => serde_json::json!({
            "runtimeResponseLatencyMs": 0,
            "dimensions": {"invokeResponseMode": ""},
        }),
    }
}

/// A phase that could not run: a `400` (RAPID's answer to a call in the
/// wrong phase) with a Lambda-style body, or `503` once shut down.
fn phase_refused(refused: PhaseRefused) -> Response<DoorBody> {
    let status = match refused {
        PhaseRefused::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, "Client.InvalidRequest", &refused.to_string())
}

/// The request's JSON object (an empty body is `{}`).
async fn read_json<B>(req: Request<B>) -> Result<serde_json::Value, String>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let body = match read_limited(req.into_body(), BODY_LIMIT).await {
        Ok(LimitedBody::Complete(body)) => body,
        Ok(LimitedBody::TooLarge { size }) => {
            return Err(format!("the body has {size} bytes, more than {BODY_LIMIT}"))
        }
        Err(_) => return Err("could not read the request body".to_owned()),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(&body)
        .map_err(|err| format!("Invalid json {}: {err}", String::from_utf8_lossy(&body)))
}

/// The optional `timeoutMs` of a JSON body (an empty body has none).
async fn read_timeout_ms<B>(req: Request<B>) -> Result<Option<Duration>, String>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let value = read_json(req).await?;
    match value.get("timeoutMs") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(ms) => ms
            .as_u64()
            .map(|ms| Some(Duration::from_millis(ms)))
            .ok_or_else(|| format!("timeoutMs must be a number of milliseconds, not {ms}")),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<DoorBody> {
    let mut response = Response::new(DoorBody::full(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<DoorBody> {
    let mut response = Response::new(DoorBody::full(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A Lambda-style error body.
fn error(status: StatusCode, error_type: &str, message: &str) -> Response<DoorBody> {
    json(
        status,
        serde_json::json!({ "errorType": error_type, "errorMessage": message }),
    )
}
