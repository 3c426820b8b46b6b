//! The invoke front door: the subset of Lambda's Invoke API that callers use
//! (curl, the AWS SDKs), spec §2.

use crate::body::{DoorBody, Framing, ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER};
use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use interop::{Invoke, InvokeBody, InvokeOutcome};
use rapid::Sandbox;
use runtime_api::{read_limited, LimitedBody};
use std::sync::Arc;

/// Largest invoke payload: 6 MB.
pub const REQUEST_LIMIT: u64 = 6 * 1024 * 1024;

const INVOKE_PREFIX: &str = "/2015-03-31/functions/";
const STREAM_PREFIX: &str = "/2021-11-15/functions/";

/// What the front door needs besides the sandbox.
pub struct FrontDoor {
    pub sandbox: Sandbox,
    pub function_version: String,
}

#[derive(Debug, thiserror::Error)]
enum InvokeError {
    #[error("Could not parse request body into json: {0}")]
    NotJson(String),
    #[error("Request must be smaller than {REQUEST_LIMIT} bytes for the InvokeFunction operation")]
    TooLarge,
    #[error("Client context must be a valid Base64-encoded JSON object.")]
    ClientContext,
    #[error("1 validation error detected: Value '{value}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]")]
    InvocationType {
        value: String,
        allowed: &'static str,
    },
    #[error("Unknown operation {method} {path}")]
    UnknownOperation { method: String, path: String },
    #[error("The execution environment has shut down")]
    Gone,
    #[error("could not read the request body")]
    BodyRead,
}

impl InvokeError {
    fn status(&self) -> StatusCode {
        match self {
            InvokeError::NotJson(_)
            | InvokeError::ClientContext
            | InvokeError::InvocationType { .. }
            | InvokeError::BodyRead => StatusCode::BAD_REQUEST,
            InvokeError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            InvokeError::UnknownOperation { .. } => StatusCode::NOT_FOUND,
            InvokeError::Gone => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            InvokeError::NotJson(_) | InvokeError::ClientContext | InvokeError::BodyRead => {
                "InvalidRequestContentException"
            }
            InvokeError::TooLarge => "RequestTooLargeException",
            InvokeError::InvocationType { .. } => "InvalidParameterValueException",
            InvokeError::UnknownOperation { .. } => "UnknownOperationException",
            InvokeError::Gone => "ServiceException",
        }
    }

    fn response(&self) -> Response<DoorBody> {
        let kind = match self {
            InvokeError::Gone => "Service",
            _ => "User",
        };
        let body = serde_json::json!({ "Type": kind, "message": self.to_string() });
        let mut response = Response::new(DoorBody::full(Bytes::from(body.to_string())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            HeaderName::from_static("x-amzn-errortype"),
            HeaderValue::from_static(self.error_type()),
        );
        response
    }
}

enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// Serves one request on the front door.
pub async fn handle<B>(door: Arc<FrontDoor>, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    match invoke(&door, req).await {
        Ok(response) => response,
        Err(err) => err.response(),
    }
}

/// Which operation a path names, if any: `Invoke` answers raw bytes,
/// `InvokeWithResponseStream` an event stream.
fn operation(method: &Method, path: &str) -> Option<Framing> {
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
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let invocation_type = match header("x-amz-invocation-type").as_deref() {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        // InvokeWithResponseStream has no asynchronous form.
        Some("Event") if framing == Framing::Raw => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(InvokeError::InvocationType {
                value: other.to_owned(),
                allowed: match framing {
                    Framing::Raw => "Event, RequestResponse, DryRun",
                    Framing::EventStream => "RequestResponse, DryRun",
                },
            })
        }
    };
    let client_context = header("x-amz-client-context")
        .map(|encoded| decode_client_context(&encoded))
        .transpose()?;
    let log_tail = header("x-amz-log-type").is_some_and(|v| v.eq_ignore_ascii_case("Tail"));
    let trace_id = header("x-amzn-trace-id").unwrap_or_else(new_trace_id);
    let tenant_id = header("x-amz-tenant-id");
    let content_type = header("content-type");

    let payload = match read_limited(req.into_body(), REQUEST_LIMIT).await {
        Ok(LimitedBody::Complete(body)) => body,
        Ok(LimitedBody::TooLarge { .. }) => return Err(InvokeError::TooLarge),
        Err(_) => return Err(InvokeError::BodyRead),
    };
    let payload = if payload.iter().all(u8::is_ascii_whitespace) {
        // Lambda hands an empty invoke to the function as an empty object.
        Bytes::from_static(b"{}")
    } else {
        serde_json::from_slice::<serde::de::IgnoredAny>(&payload)
            .map_err(|e| InvokeError::NotJson(e.to_string()))?;
        payload
    };

    let request_id = interop::ids::new_uuid().to_string();
    let invoke = Invoke {
        request_id: request_id.clone(),
        payload,
        content_type,
        client_context,
        cognito_identity: None,
        trace_id,
        tenant_id,
        log_tail,
    };
    match invocation_type {
        InvocationType::DryRun => Ok(empty(StatusCode::NO_CONTENT, &request_id)),
        InvocationType::Event => {
            door.sandbox
                .invoke_async(invoke)
                .map_err(|_| InvokeError::Gone)?;
            Ok(empty(StatusCode::ACCEPTED, &request_id))
        }
        InvocationType::RequestResponse => {
            let outcome = door
                .sandbox
                .invoke(invoke)
                .await
                .map_err(|_| InvokeError::Gone)?;
            Ok(match framing {
                Framing::Raw => raw_response(door, outcome).await,
                Framing::EventStream => event_stream_response(door, outcome),
            })
        }
    }
}

/// Invoke's answer: the body as the runtime sent it; a function error is a
/// 200 with `X-Amz-Function-Error: Unhandled`.
async fn raw_response(door: &FrontDoor, outcome: InvokeOutcome) -> Response<DoorBody> {
    let mut log_tail = outcome.log_tail;
    let (body, content_type, function_error) = match outcome.result {
        Ok(ok) => match ok.body {
            InvokeBody::Buffered(bytes) => (DoorBody::full(bytes), ok.content_type, false),
            // Streamed as it arrives; the headers cannot wait for the log.
            InvokeBody::Streamed(stream) => {
                log_tail = None;
                let body = DoorBody::stream(stream, Framing::Raw, None);
                (body, ok.content_type, false)
            }
        },
        Err(err) => (DoorBody::full(err.body), None, true),
    };
    let log_result = match log_tail {
        Some(tail) => tail.await.ok(),
        None => None,
    };
    let streamed = !hyper::body::Body::is_end_stream(&body)
        && hyper::body::Body::size_hint(&body).exact().is_none();
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    let content_type = content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
        .unwrap_or(HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_TYPE, content_type);
    insert(headers, "x-amzn-requestid", &outcome.request_id);
    insert(headers, "x-amz-executed-version", &door.function_version);
    if function_error {
        headers.insert(
            HeaderName::from_static("x-amz-function-error"),
            HeaderValue::from_static("Unhandled"),
        );
    }
    if streamed {
        // A mid-stream error ends the body with these trailers (sent to
        // clients that asked for them with `TE: trailers`).
        insert(
            headers,
            "trailer",
            &format!("{ERROR_TYPE_TRAILER}, {ERROR_BODY_TRAILER}"),
        );
    }
    if let Some(tail) = log_result {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&tail);
        insert(headers, "x-amz-log-result", &encoded);
    }
    response
}

/// InvokeWithResponseStream's answer: `PayloadChunk` events, then
/// `InvokeComplete` (with the error and the log tail, when there are).
fn event_stream_response(door: &FrontDoor, outcome: InvokeOutcome) -> Response<DoorBody> {
    let tail = outcome.log_tail;
    let body = match outcome.result {
        Ok(ok) => match ok.body {
            InvokeBody::Buffered(bytes) => {
                DoorBody::finished(Some(bytes), Ok(()), Framing::EventStream, tail)
            }
            InvokeBody::Streamed(stream) => DoorBody::stream(stream, Framing::EventStream, tail),
        },
        Err(err) => DoorBody::finished(None, Err(err), Framing::EventStream, tail),
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    insert(headers, "x-amzn-requestid", &outcome.request_id);
    insert(headers, "x-amz-executed-version", &door.function_version);
    response
}

fn empty(status: StatusCode, request_id: &str) -> Response<DoorBody> {
    let mut response = Response::new(DoorBody::full(Bytes::new()));
    *response.status_mut() = status;
    insert(response.headers_mut(), "x-amzn-requestid", request_id);
    response
}

fn insert(headers: &mut http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// Decodes `X-Amz-Client-Context`: base64 of a JSON object.
fn decode_client_context(encoded: &str) -> Result<String, InvokeError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| InvokeError::ClientContext)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| InvokeError::ClientContext)?;
    if !value.is_object() {
        return Err(InvokeError::ClientContext);
    }
    // Compact, so that it is always a valid header value.
    Ok(value.to_string())
}

/// `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0`
fn new_trace_id() -> String {
    use std::fmt::Write as _;
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // 12 random bytes for the root, 8 for the parent: one system call.
    let random: [u8; 20] = interop::ids::random_bytes();
    let mut id = format!("Root=1-{epoch:08x}-");
    let hex = |id: &mut String, bytes: &[u8]| {
        for byte in bytes {
            let _ = write!(id, "{byte:02x}");
        }
    };
    hex(&mut id, &random[..12]);
    id.push_str(";Parent=");
    hex(&mut id, &random[12..]);
    id.push_str(";Sampled=0");
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_shape() {
        let id = new_trace_id();
        let parts: Vec<&str> = id.split(';').collect();
        assert_eq!(parts.len(), 3, "{id}");
        let root = parts[0].strip_prefix("Root=1-").unwrap();
        let (epoch, rest) = root.split_once('-').unwrap();
        assert_eq!(epoch.len(), 8);
        assert_eq!(rest.len(), 24);
        assert!(rest.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(parts[1].strip_prefix("Parent=").unwrap().len(), 16);
        assert_eq!(parts[2], "Sampled=0");
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
}
