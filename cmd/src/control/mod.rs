//! The `/test/*` control API (spec §8), served beside the front door when
//! `--test-api` is given. It has `ping`, `internalState`, `reset` (of an
//! idle sandbox), `shutdown` and `eventLog`; the rest of RAPID's standalone
//! API (init, reserve, invoke, waitUntilRelease, restore) answers `501` with
//! a message that says so, never a fake success.

mod event_log;

use crate::body::DoorBody;
use crate::front_door::FrontDoor;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use wire::{read_limited, LimitedBody};

/// The prefix of the control API's paths.
pub const PREFIX: &str = "/test/";

/// Largest request body the control API reads.
const BODY_LIMIT: u64 = 64 * 1024;

/// Serves one `/test/*` request.
pub async fn handle<B>(door: Arc<FrontDoor>, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let path = req.uri().path().to_owned();
    let name = path.strip_prefix(PREFIX).unwrap_or_default();
    let method = req.method().clone();
    match (name, &method) {
        ("ping", &Method::GET) => text(StatusCode::OK, "pong"),
        ("internalState", &Method::GET) => match door.sandbox.internal_state().await {
            Ok(state) => json(StatusCode::OK, state.to_json()),
            Err(err) => error(StatusCode::SERVICE_UNAVAILABLE, "Sandbox.Gone", &err.to_string()),
        },
        ("shutdown", &Method::POST) => shutdown(&door, req).await,
        ("reset", &Method::POST) => reset(&door, req).await,
        ("eventLog", &Method::GET) => event_log::handle(&door),
        ("ping" | "internalState" | "eventLog", _) | ("shutdown" | "reset", _) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Client.InvalidRequest",
            &format!("{method} is not allowed on {path}"),
        ),
        (
            "init" | "waitUntilInitialized" | "reserve" | "invoke" | "waitUntilRelease"
            | "restore",
            _,
        ) => error(
            StatusCode::NOT_IMPLEMENTED,
            "Client.NotSupported",
            &format!(
                "{path} is not supported by this version of rapid; the control API has /test/ping, /test/internalState, /test/reset, /test/shutdown and /test/eventLog"
            ),
        ),
        _ => error(
            StatusCode::NOT_FOUND,
            "Client.InvalidRequest",
            &format!("{path} is not an operation of the control API"),
        ),
    }
}

/// `POST /test/shutdown {"timeoutMs": N}`: shuts the sandbox down within
/// `timeoutMs` (Lambda's budget when absent), answers with its internal
/// state, and makes rapid exit.
async fn shutdown<B>(door: &FrontDoor, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let budget = match read_timeout_ms(req).await {
        Ok(budget) => budget,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    door.sandbox.shutdown_within(budget).await;
    let state = door.sandbox.internal_state().await.unwrap_or_default();
    door.stop.notify_one();
    json(StatusCode::OK, state.to_json())
}

/// `POST /test/reset {"reason": "timeout"|"failure"}`: resets an idle
/// sandbox as a timeout or a failure would (extensions get SHUTDOWN with
/// that reason, every process is killed, the next invoke initializes
/// again) and answers how long it took. While an invoke or an init runs the
/// answer is `409` until the runtime has answered: nothing is cut short
/// (once it has, the reset waits for the invoke to be complete).
async fn reset<B>(door: &FrontDoor, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let body = match read_json(req).await {
        Ok(body) => body,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    let reason = match body.get("reason").and_then(|r| r.as_str()) {
        Some("timeout") => rapid::ShutdownReason::Timeout,
        Some("failure") => rapid::ShutdownReason::Failure,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "Client.InvalidRequest",
                &format!("reason must be \"timeout\" or \"failure\", not {other:?}"),
            )
        }
    };
    match door.sandbox.reset(reason).await {
        Ok(Ok(took)) => json(
            StatusCode::OK,
            serde_json::json!({
                "extensionsResetMs": took.as_millis() as u64,
                // No invoke was running: nothing was cut short.
                "responseMetrics": {
                    "runtimeResponseLatencyMs": 0,
                    "dimensions": {"invokeResponseMode": ""},
                },
            }),
        ),
        Ok(Err(refused)) => error(
            StatusCode::CONFLICT,
            "Client.InvalidRequest",
            &refused.to_string(),
        ),
        Err(err) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sandbox.Gone",
            &err.to_string(),
        ),
    }
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
