//! What every HTTP path into an invoke shares (the front door, the control
//! API, function URLs): the payload limits, the headers rapid answers
//! with, a new trace id, and an invoke's answer as the runtime gave it.
//! Below the front door and the control API: it names neither.

use crate::body::{DoorBody, FailedEnd, ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER};
use base64::Engine as _;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::Response;
use interop::{InvokeBody, InvokeOutcome};

/// Largest invoke payload: 6 MB.
pub const REQUEST_LIMIT: u64 = 6 * 1024 * 1024;

/// Largest asynchronous (`Event`) invoke payload: 1 MB.
pub const EVENT_REQUEST_LIMIT: u64 = 1024 * 1024;

/// Largest `X-Amz-Client-Context`: 3,583 bytes of base64, Lambda's limit.
pub const CLIENT_CONTEXT_LIMIT: usize = 3583;

/// rapid's own answer header (no Lambda header is named `X-Rapid-*`): which
/// sandbox ran the invoke, 0 being the first.
pub const SANDBOX_HEADER: HeaderName = HeaderName::from_static("x-rapid-sandbox");

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
pub(crate) const EXECUTED_VERSION: HeaderName = HeaderName::from_static("x-amz-executed-version");

/// Invoke's answer: the body as the runtime sent it; a function error is a
/// 200 with `X-Amz-Function-Error: Unhandled`. A streamed body goes out as
/// it arrives; one that fails midway ends as `failed_end` says.
pub(crate) async fn raw_response(
    version: &str,
    outcome: InvokeOutcome,
    failed_end: FailedEnd,
) -> Response<DoorBody> {
    // The log tail's header waits for REPORT, so for the whole response:
    // with Tail a forwarded body is taken whole first.
    let outcome = if outcome.log_tail.is_some() && outcome.is_arriving() {
        outcome.arrived().await
    } else {
        outcome
    };
    let result = match outcome.result {
        Ok(ok) => match ok.body {
            InvokeBody::Buffered(bytes) => Ok((DoorBody::full(bytes), ok.content_type)),
            InvokeBody::Arriving { length, stream } => Ok((
                DoorBody::forwarded(stream, length, &outcome.request_id),
                ok.content_type,
            )),
            InvokeBody::Streamed(stream) => {
                DoorBody::raw_stream(stream, &outcome.request_id, failed_end)
                    .await
                    .map(|body| (body, ok.content_type))
            }
        },
        Err(err) => Err(err),
    };
    let (body, content_type, function_error) = match result {
        Ok((body, content_type)) => (body, content_type, false),
        Err(err) => (DoorBody::full(err.body), None, true),
    };
    let streamed = !hyper::body::Body::is_end_stream(&body)
        && hyper::body::Body::size_hint(&body).exact().is_none();
    // A streamed body goes out as it arrives: the headers cannot wait for the log.
    let log_result = match outcome.log_tail {
        Some(tail) if !streamed => tail.await.ok(),
        _ => None,
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    let content_type = content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
        .unwrap_or(HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_TYPE, content_type);
    wire::insert_named(headers, REQUEST_ID, &outcome.request_id);
    wire::insert_named(headers, EXECUTED_VERSION, version);
    if function_error {
        headers.insert(
            HeaderName::from_static("x-amz-function-error"),
            HeaderValue::from_static("Unhandled"),
        );
    }
    if streamed {
        // A mid-stream error ends the body with these trailers (sent to
        // clients that asked for them with `TE: trailers`).
        wire::insert_header(
            headers,
            "trailer",
            &format!("{ERROR_TYPE_TRAILER}, {ERROR_BODY_TRAILER}"),
        );
    }
    if let Some(tail) = log_result {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&tail);
        wire::insert_header(headers, "x-amz-log-result", &encoded);
    }
    response
}

/// A new request id: a random UUID, hyphenated, lower case (without the
/// formatting machinery: one per invoke).
pub(crate) fn new_request_id() -> String {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    interop::ids::new_uuid()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0`
pub(crate) fn new_trace_id() -> String {
    // By hand rather than with `format!`: one per invoke without a trace
    // header, and hex digits through the formatter cost more than the rest
    // of the front door's work on a small event. Written into a fixed
    // array, then checked once as UTF-8.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    const LEN: usize = 7 + 8 + 1 + 24 + 8 + 16 + 10;
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // Eight hex digits, as X-Ray's root ids have (enough until 2106).
    let epoch = u32::try_from(epoch).unwrap_or(u32::MAX);
    // 12 random bytes for the root, 8 for the parent: one system call.
    let random: [u8; 20] = interop::ids::random_bytes();
    let mut id = [0u8; LEN];
    let mut at = 0;
    let mut text = |bytes: &[u8]| {
        id[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    let hex = |bytes: &[u8], out: &mut [u8]| {
        for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
    };
    let mut digits = [0u8; 48];
    hex(&epoch.to_be_bytes(), &mut digits[..8]);
    hex(&random[..12], &mut digits[8..32]);
    hex(&random[12..], &mut digits[32..48]);
    text(b"Root=1-");
    text(&digits[..8]);
    text(b"-");
    text(&digits[8..32]);
    text(b";Parent=");
    text(&digits[32..48]);
    text(b";Sampled=0");
    // Only ASCII was written: this never fails.
    String::from_utf8(id.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_hyphenated_lower_case_uuids() {
        let id = new_request_id();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.hyphenated().to_string(), id);
        assert_eq!(id.len(), 36);
        assert_ne!(new_request_id(), id);
    }

    #[test]
    fn trace_id_shape() {
        let id = new_trace_id();
        let parts: Vec<&str> = id.split(';').collect();
        assert_eq!(parts.len(), 3, "{id}");
        let root = parts[0].strip_prefix("Root=1-").unwrap();
        let (epoch, rest) = root.split_once('-').unwrap();
        assert_eq!(epoch.len(), 8);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let epoch = u64::from_str_radix(epoch, 16).unwrap();
        assert!(now.abs_diff(epoch) < 60, "{epoch:x} is not now ({now:x})");
        assert_eq!(rest.len(), 24);
        assert!(rest.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        assert!(rest.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(parts[1].strip_prefix("Parent=").unwrap().len(), 16);
        assert_eq!(parts[2], "Sampled=0");
    }
}
