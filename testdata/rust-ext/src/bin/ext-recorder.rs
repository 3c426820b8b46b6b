//! An external extension on the real `lambda-extension` client that records
//! every event it receives, so rapid's tests can see the Extensions API the
//! way a Rust extension does.
//!
//! It registers for INVOKE and SHUTDOWN under its file name (the crate takes
//! the name from `argv[0]`), then appends one JSON line per step to the file
//! named by `EXT_RECORD_FILE`:
//!
//! - `{"kind":"start","ext",pid,"ms","env":{...}}` when it starts,
//! - `{"kind":"registered","ext","id","accountId","functionName",...}`,
//! - `{"kind":"event","ext","eventType":"INVOKE","requestId","deadlineMs",
//!   "invokedFunctionArn","tracing","ms"}` or
//!   `{"kind":"event","ext","eventType":"SHUTDOWN","shutdownReason","deadlineMs","ms"}`,
//! - `{"kind":"released","ext","requestId","ms"}` when it is done with an
//!   INVOKE (right before it calls `next` again).
//!
//! `ms` is the wall clock (Unix epoch milliseconds) at that step. On SHUTDOWN
//! it writes the line and exits 0. With `EXT_INVOKE_DELAY_FILE` set, an INVOKE
//! is held until that file exists (at most `EXT_INVOKE_DELAY_MAX_MS`, default
//! 60 s), which keeps the extension busy after the runtime answered.
//! Every record is also printed to stdout as `ext-recorder <name>: <line>`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_extension::{service_fn, Error, Extension, LambdaEvent, NextEvent};
use serde_json::{json, Value};

/// How often the delay file is looked for.
const DELAY_POLL: Duration = Duration::from_millis(20);
const DEFAULT_DELAY_MAX: Duration = Duration::from_secs(60);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The name the crate registers under: the file name of `argv[0]`.
fn own_name() -> String {
    std::env::args()
        .next()
        .as_deref()
        .and_then(|arg0| Path::new(arg0).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Appends `record` (with `ext` added) as one line to `EXT_RECORD_FILE`, in a
/// single write so that lines of several extensions never interleave.
fn record(name: &str, mut record: Value) {
    record["ext"] = json!(name);
    let line = format!("{record}\n");
    print!("ext-recorder {name}: {line}");
    let _ = std::io::stdout().flush();
    let Some(path) = std::env::var_os("EXT_RECORD_FILE") else {
        return;
    };
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("ext-recorder {name}: cannot append to {path:?}: {e}");
    }
}

/// Waits until `path` exists or `max` passed; says which.
async fn wait_for_file(path: &Path, max: Duration) -> bool {
    let deadline = Instant::now() + max;
    while !path.exists() {
        if Instant::now() >= deadline {
            return false;
        }
        // A bounded poll of a file the test creates: files have no change
        // event to wait on without extra dependencies.
        tokio::time::sleep(DELAY_POLL).await; // ok: bounded poll of a file
    }
    true
}

fn delay_max() -> Duration {
    std::env::var("EXT_INVOKE_DELAY_MAX_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_DELAY_MAX)
}

async fn on_event(event: LambdaEvent) -> Result<(), Error> {
    let name = own_name();
    match event.next {
        NextEvent::Invoke(invoke) => {
            record(
                &name,
                json!({
                    "kind": "event",
                    "eventType": "INVOKE",
                    "requestId": invoke.request_id,
                    "deadlineMs": invoke.deadline_ms,
                    "invokedFunctionArn": invoke.invoked_function_arn,
                    "tracing": {"type": invoke.tracing.r#type, "value": invoke.tracing.value},
                    "ms": now_ms(),
                }),
            );
            if let Some(delay_file) = std::env::var_os("EXT_INVOKE_DELAY_FILE") {
                let found = wait_for_file(&PathBuf::from(delay_file), delay_max()).await;
                record(
                    &name,
                    json!({
                        "kind": "released",
                        "requestId": invoke.request_id,
                        "delayFileFound": found,
                        "ms": now_ms(),
                    }),
                );
            } else {
                record(
                    &name,
                    json!({"kind": "released", "requestId": invoke.request_id, "ms": now_ms()}),
                );
            }
        }
        NextEvent::Shutdown(shutdown) => {
            record(
                &name,
                json!({
                    "kind": "event",
                    "eventType": "SHUTDOWN",
                    "shutdownReason": shutdown.shutdown_reason,
                    "deadlineMs": shutdown.deadline_ms,
                    "ms": now_ms(),
                }),
            );
            std::process::exit(0);
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let name = own_name();
    let env: serde_json::Map<String, Value> = std::env::vars()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    record(
        &name,
        json!({"kind": "start", "pid": std::process::id(), "ms": now_ms(), "env": env}),
    );

    let registered = Extension::new()
        .with_events(&["INVOKE", "SHUTDOWN"])
        .with_events_processor(service_fn(on_event))
        .register()
        .await
        .inspect_err(|e| {
            record(
                &name,
                json!({"kind": "register_failed", "error": e.to_string()}),
            );
        })?;
    record(
        &name,
        json!({
            "kind": "registered",
            "id": registered.extension_id,
            "accountId": registered.account_id,
            "functionName": registered.function_name,
            "functionVersion": registered.function_version,
            "handler": registered.handler,
            "ms": now_ms(),
        }),
    );
    registered.run().await
}
