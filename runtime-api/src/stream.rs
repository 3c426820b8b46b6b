//! Streamed responses (spec §3.3): forwarding the runtime's chunks as they
//! arrive, with back-pressure, the size limit, optional bandwidth shaping,
//! and the error trailers.

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use interop::{scrub_error_type, ErrorType, FunctionError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Real Lambda sends the first 6 MB at full speed, then 2 MB/s.
const UNTHROTTLED_BYTES: u64 = 6 * 1024 * 1024;
const THROTTLED_BYTES_PER_SEC: f64 = 2.0 * 1024.0 * 1024.0;

/// Where the engine wants a stream's chunks, and under which rules.
#[derive(Debug)]
pub struct StreamSink {
    pub chunks: mpsc::Sender<Bytes>,
    /// Largest streamed response, in bytes.
    pub limit: u64,
    /// Shape the bandwidth as real Lambda does.
    pub throttle: bool,
}

/// How a streamed response ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEnd {
    /// Bytes received from the runtime.
    pub size: u64,
    /// When the first byte arrived.
    pub first_byte: Option<Instant>,
    pub result: Result<(), FunctionError>,
}

impl StreamEnd {
    pub fn too_large(&self) -> bool {
        matches!(&self.result, Err(e) if e.error_type == ErrorType::FunctionResponseSizeTooLarge)
    }
}

/// Forwards `body` to `sink` until it ends. When the invoker goes away the
/// rest of the body is still read (and dropped), so the runtime is never
/// left blocked on a response nobody reads.
pub(crate) async fn pump<B>(mut body: B, sink: StreamSink) -> StreamEnd
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut size: u64 = 0;
    let mut first_byte = None;
    let mut chunks = Some(sink.chunks);
    let mut throttled_since: Option<Instant> = None;
    loop {
        let frame = match body.frame().await {
            None => {
                return StreamEnd {
                    size,
                    first_byte,
                    result: Ok(()),
                }
            }
            Some(Err(_)) => return StreamEnd {
                size,
                first_byte,
                result: Err(FunctionError::new(
                    ErrorType::RuntimeTruncatedResponse,
                    "The runtime's connection closed before the streamed response was complete.",
                )),
            },
            Some(Ok(frame)) => frame,
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    if let Some(err) = trailer_error(&trailers) {
                        return StreamEnd {
                            size,
                            first_byte,
                            result: Err(err),
                        };
                    }
                }
                continue;
            }
        };
        if data.is_empty() {
            continue;
        }
        first_byte.get_or_insert_with(Instant::now);
        size += data.len() as u64;
        if size > sink.limit {
            let message = format!(
                "Response payload size exceeded maximum allowed payload size ({} bytes).",
                sink.limit
            );
            return StreamEnd {
                size,
                first_byte,
                result: Err(FunctionError::new(
                    ErrorType::FunctionResponseSizeTooLarge,
                    &message,
                )),
            };
        }
        if sink.throttle && size > UNTHROTTLED_BYTES {
            let since = *throttled_since.get_or_insert_with(Instant::now);
            let due = (size - UNTHROTTLED_BYTES) as f64 / THROTTLED_BYTES_PER_SEC;
            tokio::time::sleep_until((since + Duration::from_secs_f64(due)).into()).await;
        }
        if let Some(tx) = &chunks {
            if tx.send(data).await.is_err() {
                chunks = None; // the invoker is gone; keep draining
            }
        }
    }
}

/// The error a runtime reported in its trailers, if any.
pub fn trailer_error(trailers: &HeaderMap) -> Option<FunctionError> {
    let raw_type = trailers
        .get(wire::names::FUNCTION_ERROR_TYPE)?
        .to_str()
        .ok()?;
    let raw_type = interop::bounded_error_type(raw_type, "the runtime's").to_owned();
    let body = trailers
        .get(wire::names::FUNCTION_ERROR_BODY)
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .ok()
        })
        .filter(|b| !b.is_empty());
    let error_type = scrub_error_type(&raw_type);
    Some(match body {
        Some(body) => FunctionError::from_runtime(error_type, Bytes::from(body)),
        None => FunctionError::from_runtime(error_type, interop::error_body(&raw_type, "")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn trailers_carry_type_and_base64_body() {
        let mut t = HeaderMap::new();
        t.insert(
            wire::names::FUNCTION_ERROR_TYPE,
            HeaderValue::from_static("Function.Boom"),
        );
        let body = base64::engine::general_purpose::STANDARD.encode(r#"{"errorMessage":"x"}"#);
        t.insert(
            wire::names::FUNCTION_ERROR_BODY,
            HeaderValue::from_str(&body).unwrap(),
        );
        let err = trailer_error(&t).unwrap();
        assert_eq!(err.error_type, "Function.Boom");
        assert_eq!(&err.body[..], br#"{"errorMessage":"x"}"#);
    }

    #[test]
    fn no_type_no_error_and_types_are_scrubbed() {
        assert_eq!(trailer_error(&HeaderMap::new()), None);
        let mut t = HeaderMap::new();
        t.insert(
            wire::names::FUNCTION_ERROR_TYPE,
            HeaderValue::from_static("Oops"),
        );
        let err = trailer_error(&t).unwrap();
        assert_eq!(err.error_type, "Runtime.Unknown");
        assert!(std::str::from_utf8(&err.body).unwrap().contains("Oops"));
    }
}
