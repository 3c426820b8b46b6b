//! A streaming web handler on the real `lambda_http` crate
//! (`run_with_streaming_response`): the client sends a JSON prelude
//! (status, headers, cookies), eight NUL bytes, then the body as the
//! handler produces it.
//!
//! `GET /stream?chunks=N&gate=PATH` answers 201 with a cookie and N text
//! chunks `chunk <i>\n`; with `gate`, the last chunk waits until that file
//! exists, so a test sees the first chunks arrive before the handler ends.
//! `GET /bytes?n=N` streams `0..=255` N times (binary, byte-exact).

use lambda_http::http::{header, StatusCode};
use lambda_http::lambda_runtime::streaming::channel;
use lambda_http::{run_with_streaming_response, service_fn, Error, Request, RequestExt, Response};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest wait for the gate: far longer than any test waits, and
/// still a bound for a function that was forgotten.
const GATE_WAIT: Duration = Duration::from_secs(600);

async fn handle(
    request: Request,
) -> Result<Response<lambda_http::lambda_runtime::streaming::Body>, Error> {
    let params = request.query_string_parameters();
    let number = |name: &str, default: usize| {
        params
            .first(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (chunks, content_type): (Vec<Vec<u8>>, &str) = match request.uri().path() {
        "/bytes" => (
            (0..number("n", 4)).map(|_| (0..=255u8).collect()).collect(),
            "application/octet-stream",
        ),
        _ => (
            (0..number("chunks", 3))
                .map(|i| format!("chunk {i}\n").into_bytes())
                .collect(),
            "text/plain",
        ),
    };
    let gate = params.first("gate").map(PathBuf::from);
    let (mut tx, body) = channel();
    tokio::spawn(async move {
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.into_iter().enumerate() {
            if i == last {
                if let Some(gate) = &gate {
                    if !wait_for_file(gate).await {
                        eprintln!("web-stream-fn: gate {} never opened", gate.display());
                        return;
                    }
                }
            }
            if let Err(err) = tx.send_data(chunk.into()).await {
                eprintln!("web-stream-fn: cannot send a chunk: {err}");
                return;
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::CREATED)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::SET_COOKIE, "streamed=yes; Path=/")
        .body(body)?)
}

/// Waits until `path` exists; false when [`GATE_WAIT`] passed first.
async fn wait_for_file(path: &Path) -> bool {
    let deadline = Instant::now() + GATE_WAIT;
    while !path.exists() {
        if Instant::now() >= deadline {
            return false;
        }
        // A bounded poll for a file the test creates: the function has no
        // other way to hear from the test.
        tokio::time::sleep(Duration::from_millis(10)).await; // ok: bounded poll of a file
    }
    true
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run_with_streaming_response(service_fn(handle)).await
}
