//! An invoke's outcome as the answer to a web request: the mapping of
//! `http_events` for a buffered result, the prelude then the body as it
//! arrives for a streamed one, and `502 Internal Server Error` (logged
//! with the reason) for a function error, a timeout, a crash or a result
//! that is not an answer, never a 200.

use crate::body::{DoorBody, FailedEnd};
use bytes::{Bytes, BytesMut};
use http::header::{HeaderValue, CONTENT_TYPE};
use http::Response;
use http_events::{
    Answer, InvokeMode, PayloadVersion, PreludeScan, PreludeSplit, HTTP_INTEGRATION_RESPONSE,
};
use interop::{InvokeBody, InvokeOutcome, ResponseStream};

/// The largest result a buffered function URL reads (its Invoke limit).
const BUFFERED_LIMIT: usize = 6 * 1024 * 1024;

/// The answer for `outcome` under invoke mode `mode`, read as payload
/// format `version` says.
pub(super) async fn answer(
    mode: InvokeMode,
    version: PayloadVersion,
    outcome: InvokeOutcome,
    failed_end: FailedEnd,
) -> Response<DoorBody> {
    // A web answer is mapped from the whole result.
    let outcome = if outcome.is_arriving() {
        outcome.arrived().await
    } else {
        outcome
    };
    let request_id = outcome.request_id;
    let response = match outcome.result {
        Err(err) => Err(format!("the function failed with {}", err.error_type)),
        Ok(ok) => mapped(mode, version, ok, &request_id, failed_end).await,
    };
    response.unwrap_or_else(|reason| {
        tracing::warn!(%request_id, "web request answered 502 Internal Server Error: {reason}");
        to_response(version.failure())
    })
}

async fn mapped(
    mode: InvokeMode,
    version: PayloadVersion,
    ok: interop::InvokeResponse,
    request_id: &str,
    failed_end: FailedEnd,
) -> Result<Response<DoorBody>, String> {
    let integration = ok
        .content_type
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case(HTTP_INTEGRATION_RESPONSE));
    match (mode, ok.body) {
        (InvokeMode::Buffered, body) => buffered(body, version, integration).await,
        (InvokeMode::ResponseStream, InvokeBody::Streamed(stream)) if integration => {
            streamed(stream, request_id, failed_end).await
        }
        (InvokeMode::ResponseStream, body) if integration => {
            let bytes = whole(body).await?;
            let (chunks, end) = finished();
            streamed_bytes(bytes, ResponseStream { chunks, end }, request_id)
        }
        (InvokeMode::ResponseStream, body) => {
            passed_through(body, ok.content_type, request_id, failed_end).await
        }
    }
}

/// BUFFERED: the whole result, mapped as payload format `version` says.
async fn buffered(
    body: InvokeBody,
    version: PayloadVersion,
    integration: bool,
) -> Result<Response<DoorBody>, String> {
    let result = whole(body).await?;
    if integration {
        return Err(
            "the function streamed an HTTP answer (prelude and body); run rapid with --http-invoke-mode RESPONSE_STREAM".into(),
        );
    }
    version
        .answer(&result)
        .map(to_response)
        .map_err(|err| format!("its result is not an HTTP answer: {err}"))
}

/// RESPONSE_STREAM with an HTTP prelude: the prelude's status and headers
/// as soon as its eight NUL bytes arrived (however the runtime split its
/// writes), then the body chunk by chunk as the runtime sends it.
async fn streamed(
    stream: ResponseStream,
    request_id: &str,
    failed_end: FailedEnd,
) -> Result<Response<DoorBody>, String> {
    let ResponseStream { mut chunks, end } = stream;
    let mut scan = PreludeScan::default();
    while let Some(chunk) = chunks.recv().await {
        match scan.push(&chunk) {
            PreludeSplit::More => {}
            PreludeSplit::TooLong => {
                return Err(format!(
                    "no end of the streamed prelude (eight NUL bytes) in its first {} bytes",
                    http_events::MAX_PRELUDE
                ))
            }
            PreludeSplit::Found { prelude, body } => {
                let (status, headers) = http_events::streamed_head(&prelude)
                    .map_err(|err| format!("its streamed answer is not valid: {err}"))?;
                let body = DoorBody::raw_stream_after(
                    body,
                    ResponseStream { chunks, end },
                    request_id,
                    failed_end,
                );
                let mut response = Response::new(body);
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                return Ok(response);
            }
        }
    }
    match end.await {
        Ok(Ok(())) => Err("the stream ended before its prelude's eight NUL bytes".into()),
        Ok(Err(err)) => Err(format!("the function failed with {}", err.error_type)),
        Err(_) => Err("the stream ended without a result".into()),
    }
}

/// A whole result with an HTTP prelude (a runtime that posted it buffered).
fn streamed_bytes(
    bytes: Bytes,
    rest: ResponseStream,
    request_id: &str,
) -> Result<Response<DoorBody>, String> {
    let mut scan = PreludeScan::default();
    match scan.push(&bytes) {
        PreludeSplit::Found { prelude, body } => {
            let (status, headers) = http_events::streamed_head(&prelude)
                .map_err(|err| format!("its streamed answer is not valid: {err}"))?;
            let body = DoorBody::raw_stream_after(body, rest, request_id, FailedEnd::Abort);
            let mut response = Response::new(body);
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            Ok(response)
        }
        _ => Err("no end of the prelude (eight NUL bytes) in its answer".into()),
    }
}

/// RESPONSE_STREAM without a prelude: Lambda does not read the result as
/// an HTTP answer; it is the body of a 200 with the runtime's content type.
async fn passed_through(
    body: InvokeBody,
    content_type: Option<String>,
    request_id: &str,
    failed_end: FailedEnd,
) -> Result<Response<DoorBody>, String> {
    let body = match body {
        InvokeBody::Buffered(bytes) => DoorBody::full(bytes),
        // Made whole by `answer` (`InvokeOutcome::arrived`).
        InvokeBody::Arriving { stream, .. } | InvokeBody::Streamed(stream) => {
            DoorBody::raw_stream(stream, request_id, failed_end)
                .await
                .map_err(|err| format!("the function failed with {}", err.error_type))?
        }
    };
    let mut response = Response::new(body);
    let content_type = content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
        .unwrap_or(HeaderValue::from_static("application/json"));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    Ok(response)
}

/// The whole result: a buffered one as it is, a streamed one read to its
/// end under the buffered limit.
async fn whole(body: InvokeBody) -> Result<Bytes, String> {
    let ResponseStream { mut chunks, end } = match body {
        InvokeBody::Buffered(bytes) => return Ok(bytes),
        InvokeBody::Streamed(stream) | InvokeBody::Arriving { stream, .. } => stream,
    };
    let mut all = BytesMut::new();
    while let Some(chunk) = chunks.recv().await {
        if all.len() + chunk.len() > BUFFERED_LIMIT {
            return Err(format!(
                "its streamed result is larger than {BUFFERED_LIMIT} bytes, a buffered function URL's limit"
            ));
        }
        all.extend_from_slice(&chunk);
    }
    match end.await {
        Ok(Ok(())) => Ok(all.freeze()),
        Ok(Err(err)) => Err(format!("the function failed with {}", err.error_type)),
        Err(_) => Err("the stream ended without a result".into()),
    }
}

/// A stream that has ended well with no more chunks.
fn finished() -> (
    tokio::sync::mpsc::Receiver<Bytes>,
    tokio::sync::oneshot::Receiver<Result<(), interop::FunctionError>>,
) {
    let (_, chunks) = tokio::sync::mpsc::channel(1);
    let (done, end) = tokio::sync::oneshot::channel();
    let _ = done.send(Ok(()));
    (chunks, end)
}

fn to_response(answer: Answer) -> Response<DoorBody> {
    let mut response = Response::new(DoorBody::full(answer.body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    response
}
