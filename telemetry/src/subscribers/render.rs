//! One record as a subscriber reads it: `{"time", "type", "record"}`, in
//! the shape of the API it subscribed through. The Telemetry API gets the
//! platform events as they are; the Logs API gets its older shapes
//! (`platform.start`, `platform.end`, `platform.report` without spans, its
//! `platform.logsSubscription`) and no init or restore events.

use super::{Item, LineRecord, Origin};
use crate::events::{Record, Status};
use crate::PlatformEvent;
use interop::subscription::Api;
use serde_json::{json, Value};
use std::time::SystemTime;

/// Appends the record(s) `item` is for a subscriber of `api` to `out`,
/// each followed by `separator`; returns how many were written.
pub(super) fn render(item: &Item, api: Api, out: &mut Vec<u8>, separator: &[u8]) -> usize {
    match item {
        Item::Line(line) => {
            write(out, &line_json(line), separator);
            1
        }
        Item::Event(event) => match api {
            Api::Telemetry(_) => {
                // Only strings, numbers and maps: serialising cannot fail.
                if serde_json::to_writer(&mut *out, event).is_ok() {
                    out.extend_from_slice(separator);
                    1
                } else {
                    0
                }
            }
            Api::Logs => {
                let records = logs_api(event);
                for record in &records {
                    write(out, record, separator);
                }
                records.len()
            }
        },
    }
}

fn write(out: &mut Vec<u8>, value: &Value, separator: &[u8]) {
    if serde_json::to_writer(&mut *out, value).is_ok() {
        out.extend_from_slice(separator);
    }
}

fn line_json(line: &LineRecord) -> Value {
    let kind = match line.origin {
        Origin::Function => "function",
        Origin::Extension => "extension",
    };
    let record = match &line.json {
        Some(object) => object.clone(),
        None => Value::String(line.text.to_string()),
    };
    json!({"time": time(line.time), "type": kind, "record": record})
}

fn time(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// The Logs API's records for `event` (none for the events it never had).
fn logs_api(event: &PlatformEvent) -> Vec<Value> {
    let at = time(event.time);
    let one = |kind: &str, record: Value| vec![json!({"time": at, "type": kind, "record": record})];
    match &event.record {
        Record::Start(start) => one(
            "platform.start",
            json!({"requestId": start.request_id, "version": start.version}),
        ),
        Record::RuntimeDone(done) => one(
            "platform.runtimeDone",
            json!({"requestId": done.request_id, "status": status(done.status)}),
        ),
        Record::Report(report) => {
            let mut metrics = json!({
                "durationMs": crate::events::millis(report.metrics.duration),
                "billedDurationMs": report.metrics.billed_duration_ms,
                "memorySizeMB": report.metrics.memory_size_mb,
                "maxMemoryUsedMB": report.metrics.max_memory_used_mb,
            });
            if let Some(init) = report.metrics.init_duration {
                metrics["initDurationMs"] = json!(crate::events::millis(init));
            }
            let mut records = one("platform.end", json!({"requestId": report.request_id}));
            records.extend(one(
                "platform.report",
                json!({"requestId": report.request_id, "metrics": metrics}),
            ));
            records
        }
        Record::Extension(extension) => one(
            "platform.extension",
            json!({"name": extension.name, "state": extension.state, "events": extension.events}),
        ),
        Record::TelemetrySubscription(sub) => one(
            "platform.logsSubscription",
            json!({"name": sub.name, "state": sub.state, "types": sub.types}),
        ),
        Record::LogsDropped(dropped) => one(
            "platform.logsDropped",
            serde_json::to_value(dropped).unwrap_or(Value::Null),
        ),
        Record::InitStart(_)
        | Record::InitRuntimeDone(_)
        | Record::InitReport(_)
        | Record::RestoreStart(_)
        | Record::RestoreRuntimeDone(_)
        | Record::RestoreReport(_) => Vec::new(),
    }
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Failure => "failure",
        Status::Error => "error",
        Status::Timeout => "timeout",
    }
}
