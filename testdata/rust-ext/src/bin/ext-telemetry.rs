//! An external extension on the real `lambda-extension` client that
//! subscribes to the Telemetry API (`Extension::with_telemetry_processor`)
//! and records every batch it receives, so rapid's tests see telemetry the
//! way a Rust observability extension does.
//!
//! Configured by the environment:
//! - `EXT_TELEMETRY_PORT`: the port its listener binds (required: tests
//!   run in parallel);
//! - `EXT_TELEMETRY_TYPES`: comma-separated types (default
//!   `platform,function,extension`);
//! - `EXT_TELEMETRY_BUFFERING`: `maxItems,maxBytes,timeoutMs` (default
//!   `1000,262144,25`).
//!
//! It appends one JSON line per step to `EXT_RECORD_FILE`:
//! `{"kind":"start","ext","pid","ms"}`, `{"kind":"registered","ext","id","ms"}`,
//! `{"kind":"batch","ext","records":[...],"ms"}` for every batch (the
//! records as the crate parsed them: a batch it cannot parse is answered
//! 400 and never recorded), `{"kind":"event","eventType":"INVOKE" |
//! "SHUTDOWN",...}`. It prints `ext-telemetry <name>: started` once (an
//! `extension` record for the tests) and nothing per batch (that would
//! feed itself). On SHUTDOWN it keeps taking batches until none came for
//! `QUIET` (within the shutdown's deadline), as a collector flushes before
//! it exits.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_extension::{
    service_fn, Error, Extension, LambdaEvent, LambdaTelemetry, LogBuffering, NextEvent,
    SharedService,
};
use serde_json::{json, Value};

/// How long without a batch, after SHUTDOWN, before it exits.
const QUIET: Duration = Duration::from_millis(300);
/// When the last batch arrived (Unix ms).
static LAST_BATCH_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn own_name() -> String {
    std::env::args()
        .next()
        .as_deref()
        .and_then(|arg0| Path::new(arg0).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Appends `record` (with `ext`) as one line to `EXT_RECORD_FILE`, in one write.
fn record(mut record: Value) {
    record["ext"] = json!(own_name());
    let line = format!("{record}\n");
    let Some(path) = std::env::var_os("EXT_RECORD_FILE") else {
        return;
    };
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("ext-telemetry: cannot append to {path:?}: {e}");
    }
}

async fn on_batch(batch: Vec<LambdaTelemetry>) -> Result<(), Error> {
    record(json!({"kind": "batch", "records": batch, "ms": now_ms()}));
    LAST_BATCH_MS.store(now_ms(), Ordering::Relaxed);
    Ok(())
}

async fn on_event(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(invoke) => {
            record(json!({
                "kind": "event",
                "eventType": "INVOKE",
                "requestId": invoke.request_id,
                "ms": now_ms(),
            }));
        }
        NextEvent::Shutdown(shutdown) => {
            record(json!({
                "kind": "event",
                "eventType": "SHUTDOWN",
                "shutdownReason": shutdown.shutdown_reason,
                "ms": now_ms(),
            }));
            let deadline = shutdown.deadline_ms.saturating_sub(100);
            let quiet = QUIET.as_millis() as u64;
            let since = now_ms();
            let last = || LAST_BATCH_MS.load(Ordering::Relaxed).max(since);
            while now_ms() < deadline && now_ms().saturating_sub(last()) < quiet {
                // The extension's own flush: a bounded wait for batches
                // still on their way.
                tokio::time::sleep(Duration::from_millis(20)).await; // ok: bounded flush wait
            }
            std::process::exit(0);
        }
    }
    Ok(())
}

fn buffering() -> LogBuffering {
    let text = std::env::var("EXT_TELEMETRY_BUFFERING").unwrap_or_default();
    let numbers: Vec<usize> = text
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    match numbers.as_slice() {
        [max_items, max_bytes, timeout_ms] => LogBuffering {
            max_items: *max_items,
            max_bytes: *max_bytes,
            timeout_ms: *timeout_ms,
        },
        _ => LogBuffering {
            max_items: 1000,
            max_bytes: 262_144,
            timeout_ms: 25,
        },
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    record(json!({"kind": "start", "pid": std::process::id(), "ms": now_ms()}));
    println!("ext-telemetry {}: started", own_name());
    let _ = std::io::stdout().flush();
    let port: u16 = std::env::var("EXT_TELEMETRY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or("EXT_TELEMETRY_PORT is not set to a port")?;
    let types_text = std::env::var("EXT_TELEMETRY_TYPES")
        .unwrap_or_else(|_| "platform,function,extension".to_owned());
    let types: Vec<&str> = types_text.split(',').map(str::trim).collect();
    let registered = Extension::new()
        .with_events(&["INVOKE", "SHUTDOWN"])
        .with_events_processor(service_fn(on_event))
        .with_telemetry_types(&types)
        .with_telemetry_buffering(buffering())
        .with_telemetry_port_number(port)
        .with_telemetry_processor(SharedService::new(service_fn(on_batch)))
        .register()
        .await
        .inspect_err(|e| record(json!({"kind": "register_failed", "error": e.to_string()})))?;
    record(json!({"kind": "registered", "id": registered.extension_id, "ms": now_ms()}));
    registered.run().await
}
