//! The invoke front door: the subset of Lambda's Invoke API that callers use
//! (curl, the AWS SDKs), spec §2.

use crate::body::{DoorBody, Framing};
pub use crate::door::FrontDoor;
pub use crate::invoke_error::InvokeError;
pub use crate::invoke_headers::{
    decode_client_context, parse_headers, InvocationType, InvokeHeaders,
};
use crate::invoke_http::{new_request_id, raw_response, EXECUTED_VERSION, REQUEST_ID};
pub use crate::invoke_http::{
    CLIENT_CONTEXT_LIMIT, EVENT_REQUEST_LIMIT, REQUEST_LIMIT, SANDBOX_HEADER,
};
use crate::run::{acquire, run_leased, run_sync, Slot};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use interop::contract::{InitContext, InvokeContext, SandboxContext};
use interop::{Invoke, InvokeBody, InvokeOutcome};
use std::sync::Arc;
use wire::{read_limited_seeing, LimitedBody};

/// How many accepted `Event` invokes may wait for (or run in) the runtime.
pub const DEFAULT_MAX_QUEUED_EVENTS: usize = 100;

/// How many synchronous invokes may wait beside the one running.
pub const DEFAULT_MAX_QUEUED: usize = 1000;

const INVOKE_PREFIX: &str = "/2015-03-31/functions/";

const STREAM_PREFIX: &str = "/2021-11-15/functions/";

/// What one connection may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Invokes (the front door's own listener).
    pub invokes: bool,
    /// The `/test/*` control API.
    pub control: bool,
}

impl Access {
    /// A connection from `peer` on the front door's listener: invokes, and
    /// the control API when it is on and the caller is on this machine
    /// (its address is a loopback one), since it lets a caller shut rapid
    /// down and the front door may listen on every interface.
    pub fn front_door(test_api: bool, peer: std::net::IpAddr) -> Self {
        Access {
            invokes: true,
            control: test_api && peer.to_canonical().is_loopback(),
        }
    }

    /// A connection on `--test-api-address`: the control API, to any caller.
    pub const CONTROL: Access = Access {
        invokes: false,
        control: true,
    };
}

/// Serves one request on the front door.
pub async fn handle<B>(door: Arc<FrontDoor>, req: Request<B>, access: Access) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    if access.control && req.uri().path().starts_with(crate::control::PREFIX) {
        return crate::control::handle(&*door, req).await;
    }
    if !access.invokes {
        return InvokeError::UnknownOperation {
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
        }
        .response();
    }
    match invoke(&door, req).await {
        Ok(response) => response,
        Err(err) => err.response(),
    }
}

/// Which operation a path names, if any: `Invoke` answers raw bytes,
/// `InvokeWithResponseStream` an event stream.
pub fn operation(method: &Method, path: &str) -> Option<Framing> {
    let named = |prefix: &str, suffix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
    };
    if method != Method::POST {
        None
    } else if named(INVOKE_PREFIX, "/invocations") {
        Some(Framing::Raw)
    } else if named(STREAM_PREFIX, "/response-streaming-invocations") {
        Some(Framing::EventStream)
    } else {
        None
    }
}

async fn invoke<B>(door: &FrontDoor, req: Request<B>) -> Result<Response<DoorBody>, InvokeError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let Some(framing) = operation(req.method(), req.uri().path()) else {
        return Err(InvokeError::UnknownOperation {
            method: req.method().to_string(),
            path: req.uri().path().to_owned(),
        });
    };
    let InvokeHeaders {
        invocation_type,
        client_context,
        log_tail,
        trace_id,
        tenant_id,
        failed_end,
    } = parse_headers(framing, req.headers())?;
    let payload = read_payload(req.into_body(), invocation_type.body_limit()).await?;

    let request_id = new_request_id();
    let invoke = Invoke {
        request_id: request_id.clone(),
        payload,
        client_context,
        cognito_identity: None,
        trace_id,
        tenant_id,
        log_tail,
        restore_duration: None,
        accepted: std::time::Instant::now(),
    };
    match invocation_type {
        InvocationType::DryRun => Ok(empty(StatusCode::NO_CONTENT, &request_id)),
        InvocationType::Event => {
            let slot = door
                .queued_events
                .clone()
                .try_acquire_owned()
                .map_err(|_| InvokeError::Throttled)?;
            let slot = (slot, door.bursts.enter(invoke.payload.len()));
            match &door.pool {
                Some(pool) => {
                    // Accepted now; it takes a sandbox when one is free.
                    let pool = pool.clone();
                    let id = request_id.clone();
                    let wait = door.slot_wait;
                    let metrics = door.metrics.clone();
                    tokio::spawn(async move {
                        match acquire(&pool, wait, invoke.accepted).await {
                            Ok(Slot::Leased(lease)) => {
                                let ran = run_leased(lease, id, invoke, metrics.clone()).await;
                                if let (Some(metrics), Ok(outcome)) = (&metrics, &ran) {
                                    metrics.count(crate::metrics::Outcome::of(outcome));
                                }
                            }
                            Ok(Slot::TimedOut(timeout)) => {
                                tracing::warn!(request_id = %id, timeout_s = timeout.as_secs_f64(), "an Event invoke timed out waiting for a free slot; it did not run");
                            }
                            Err(_) => {}
                        }
                        drop(slot);
                    });
                }
                None => {
                    let answered = door
                        .sandbox
                        .on_demand()
                        .reserve(request_id.clone())
                        .untracked()
                        .post(invoke)
                        .map_err(|_| InvokeError::Gone)?;
                    // The event counts against the queue until the runtime
                    // answered it (or the sandbox gave it up).
                    tokio::spawn(async move {
                        let _ = answered.await;
                        drop(slot);
                    });
                }
            }
            Ok(empty(StatusCode::ACCEPTED, &request_id))
        }
        InvocationType::RequestResponse => {
            let (outcome, sandbox) = run_sync(door, invoke).await?;
            let mut response = match framing {
                Framing::Raw => raw_response(&door.version(), outcome, failed_end).await,
                Framing::EventStream => event_stream_response(door, outcome).await,
            };
            response
                .headers_mut()
                .insert(SANDBOX_HEADER, HeaderValue::from(sandbox));
            Ok(response)
        }
    }
}

/// Reads an invoke's payload under `limit` (see
/// [`InvocationType::body_limit`]) and checks it is JSON; a blank payload
/// becomes `{}`.
pub async fn read_payload<B>(body: B, limit: u64) -> Result<Bytes, InvokeError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    // The JSON check runs on each frame as it arrives, so it is done when
    // the last one is; what it does not show valid (a blank payload, an
    // error, deep nesting) gets the exact check on the whole.
    let mut check = wire::JsonCheck::new();
    match read_limited_seeing(body, limit, |frame| check.feed(frame)).await {
        Ok(LimitedBody::Complete(payload)) if check.surely_json() => Ok(payload),
        Ok(LimitedBody::Complete(payload)) => exact_json_payload(payload),
        Ok(LimitedBody::TooLarge { .. }) => Err(InvokeError::TooLarge { limit }),
        Err(_) => Err(InvokeError::BodyRead),
    }
}

/// The payload the runtime gets: the caller's JSON as it was sent, or `{}`
/// for a blank one.
pub fn json_payload(payload: Bytes) -> Result<Bytes, InvokeError> {
    // One pass at memory speed for what is surely JSON; anything else gets
    // the exact check, which says what is wrong.
    if wire::surely_json(&payload) {
        return Ok(payload);
    }
    exact_json_payload(payload)
}

/// [`json_payload`] for a payload `wire::JsonCheck` did not show valid:
/// a blank one, or serde_json's exact check.
fn exact_json_payload(payload: Bytes) -> Result<Bytes, InvokeError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        // Lambda hands an empty invoke to the function as an empty object.
        return Ok(Bytes::from_static(b"{}"));
    }
    // JSON is UTF-8. serde_json skips the bytes of a string it ignores
    // without checking them, so the encoding is checked first: a runtime
    // must never get an event its JSON decoder refuses.
    let text = std::str::from_utf8(&payload).map_err(|e| {
        InvokeError::NotJson(format!(
            "invalid UTF-8 at byte {} of the payload",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| InvokeError::NotJson(e.to_string()))?;
    Ok(payload)
}

/// InvokeWithResponseStream's answer: `PayloadChunk` events, then
/// `InvokeComplete` (with the error and the log tail, when there are).
async fn event_stream_response(door: &FrontDoor, outcome: InvokeOutcome) -> Response<DoorBody> {
    // A buffered response is one `PayloadChunk`, however it arrived.
    let outcome = if outcome.is_arriving() {
        outcome.arrived().await
    } else {
        outcome
    };
    let tail = outcome.log_tail;
    let body = match outcome.result {
        Ok(ok) => match ok.body {
            InvokeBody::Buffered(bytes) => {
                DoorBody::finished(Some(bytes), Ok(()), Framing::EventStream, tail)
            }
            // Made whole by `arrived`.
            InvokeBody::Streamed(stream) | InvokeBody::Arriving { stream, .. } => {
                DoorBody::stream(stream, Framing::EventStream, tail)
            }
        },
        Err(err) => DoorBody::finished(None, Err(err), Framing::EventStream, tail),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    wire::insert_named(headers, REQUEST_ID, &outcome.request_id);
    wire::insert_named(headers, EXECUTED_VERSION, &door.version());
    response
}

fn empty(status: StatusCode, request_id: &str) -> Response<DoorBody> {
    let mut response = Response::new(DoorBody::full(Bytes::new()));
    *response.status_mut() = status;
    wire::insert_named(response.headers_mut(), REQUEST_ID, request_id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn the_control_api_is_for_callers_on_loopback() {
        let on = |ip: &str| Access::front_door(true, ip.parse().unwrap()).control;
        assert!(on("127.0.0.1"));
        assert!(on("127.0.0.2"));
        assert!(on("::1"));
        assert!(on("::ffff:127.0.0.1"), "IPv4 on a dual-stack listener");
        assert!(!on("10.0.0.7"));
        assert!(!on("192.168.1.2"));
        assert!(!on("::ffff:10.0.0.7"));
        assert!(!on("2001:db8::1"));
        assert!(!Access::front_door(false, "127.0.0.1".parse().unwrap()).control);
        assert!(Access::front_door(false, "10.0.0.7".parse().unwrap()).invokes);
    }

    #[test]
    fn payload_must_be_json_in_utf8() {
        let ok = Bytes::from_static(r#"{"key":"caf\u00e9 café"}"#.as_bytes());
        assert_eq!(json_payload(ok.clone()).unwrap(), ok);
        assert_eq!(
            &json_payload(Bytes::from_static(b" \n")).unwrap()[..],
            b"{}"
        );
        // Found by the front_door fuzz target: an invalid byte inside a
        // string passed as JSON and reached the runtime.
        let err = json_payload(Bytes::from_static(b"{\"key\":\"a\xcd1\"}")).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.error_type(), "InvalidRequestContentException");
        assert!(err.to_string().contains("UTF-8"), "{err}");
        assert!(json_payload(Bytes::from_static(b"{\"a\":")).is_err());
    }

    #[test]
    fn client_context_is_decoded_and_compacted() {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode("{\n \"custom\": {\"a\": 1}\n}");
        assert_eq!(
            decode_client_context(&encoded).unwrap(),
            r#"{"custom":{"a":1}}"#
        );
        assert!(decode_client_context("not base64!").is_err());
        let not_object = base64::engine::general_purpose::STANDARD.encode("[1]");
        assert!(decode_client_context(&not_object).is_err());
    }

    /// A client context of the given base64 length (a JSON object).
    fn client_context_of(len: usize) -> String {
        assert_eq!(len % 4, 0, "padded base64");
        let json_len = len / 4 * 3;
        let filler = "a".repeat(json_len - r#"{"custom":{"k":""}}"#.len());
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!(r#"{{"custom":{{"k":"{filler}"}}}}"#));
        assert_eq!(encoded.len(), len);
        encoded
    }

    #[test]
    fn client_context_over_lambdas_limit_is_refused() {
        // 3,580 is the longest padded base64 within 3,583 bytes.
        assert!(decode_client_context(&client_context_of(3580)).is_ok());
        for len in [3584, 266 * 1024] {
            let err = decode_client_context(&client_context_of(len)).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
            assert_eq!(err.error_type(), "InvalidRequestContentException");
            assert_eq!(
                err.to_string(),
                format!("Client context must be at most 3583 bytes of base64, got {len} bytes.")
            );
        }
    }

    /// Found by the front_door fuzz target: a DEL in a string of the client
    /// context made it an invalid header value, so the runtime's `next`
    /// went out without `Lambda-Runtime-Client-Context`.
    #[test]
    fn client_context_is_always_a_header_value() {
        let json = "{\"cust\u{7f}m\":{\"a\":\"\u{7f}\\n\"}}";
        let encoded = base64::engine::general_purpose::STANDARD.encode(json);
        let decoded = decode_client_context(&encoded).unwrap();
        assert!(HeaderValue::from_str(&decoded).is_ok(), "{decoded:?}");
        let original: serde_json::Value = serde_json::from_str(json).unwrap();
        let sent: serde_json::Value = serde_json::from_str(&decoded).unwrap();
        assert_eq!(sent, original, "the same JSON");
    }
}
