//! A Lambda function on the real `lambda_runtime` client that streams its
//! answer (`StreamResponse`), so rapid's tests can check response streaming
//! with the client that Rust functions actually use. The client posts with
//! `Lambda-Runtime-Function-Response-Mode: streaming` and the content type
//! `application/vnd.awslambda.http-integration-response`: a JSON metadata
//! prelude, 8 NUL bytes, then the chunks.
//!
//! The event:
//! - `chunks`: the strings to send, one chunk each (default `["hello ", "world"]`);
//! - `gate`: a path; the last chunk waits until that file exists, so a test
//!   can see the first chunks arrive before the function finishes;
//! - `prelude`: the metadata prelude (`{"statusCode", "headers", "cookies"}`),
//!   default status 200 with `content-type: application/octet-stream`.

use lambda_runtime::streaming::{channel, Body, Response};
use lambda_runtime::{service_fn, Error, LambdaEvent, MetadataPrelude};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest wait for the gate: far longer than any test waits for a
/// chunk (so a test never sees the last chunk unless it opened the gate),
/// and still a bound for a function that was forgotten.
const GATE_WAIT: Duration = Duration::from_secs(600);

async fn stream(event: LambdaEvent<Value>) -> Result<Response<Body>, Error> {
    let payload = event.payload;
    println!("stream-fn streaming {}", event.context.request_id);
    let chunks: Vec<String> = match payload.get("chunks") {
        Some(chunks) => serde_json::from_value(chunks.clone())?,
        None => vec!["hello ".into(), "world".into()],
    };
    let gate = payload
        .get("gate")
        .and_then(Value::as_str)
        .map(PathBuf::from);
    let metadata_prelude = match payload.get("prelude") {
        Some(prelude) => serde_json::from_value::<MetadataPrelude>(prelude.clone())?,
        None => MetadataPrelude::default(),
    };

    let (mut tx, body) = channel();
    tokio::spawn(async move {
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.into_iter().enumerate() {
            if i == last {
                if let Some(gate) = &gate {
                    println!("stream-fn waiting for gate");
                    if !wait_for_file(gate).await {
                        eprintln!("stream-fn: gate {} never opened", gate.display());
                        return; // the body ends without its last chunk
                    }
                }
            }
            if let Err(err) = tx.send_data(chunk.into()).await {
                eprintln!("stream-fn: cannot send a chunk: {err}");
                return;
            }
        }
        // Dropping `tx` ends the body normally.
    });
    Ok(Response {
        metadata_prelude,
        stream: body,
    })
}

/// Waits until `path` exists; false when [`GATE_WAIT`] passed first.
async fn wait_for_file(path: &Path) -> bool {
    let deadline = Instant::now() + GATE_WAIT;
    while !path.exists() {
        if Instant::now() >= deadline {
            return false;
        }
        // A bounded poll for a file the test creates: the runtime has no
        // other way to hear from the test.
        tokio::time::sleep(Duration::from_millis(10)).await; // ok: bounded poll of a file
    }
    true
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(stream)).await
}
