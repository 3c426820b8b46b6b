//! Asynchronous invocation with many functions (spec §13): an `Event`
//! invoke is answered 202 and run in its function's pool; a function error
//! (or timeout, crash) is retried up to `MaximumRetryAttempts` after
//! Lambda's delays (1 minute, then 2), a throttle or a system error with a
//! doubling backoff, all scaled by `--async-backoff-scale`; an event older
//! than `MaximumEventAgeInSeconds` (scaled too) is given up. The invocation
//! record then goes to `OnSuccess` / `OnFailure`: invoked asynchronously
//! when it names a function of this rapid, else appended as a JSON line to
//! `--async-destinations-file` (else logged). At shutdown every event not
//! yet delivered is written out the same way, never dropped silently.

use super::{split_function_name, Entry};
use bytes::Bytes;
use interop::{Invoke, InvokeBody};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lambda's delays before the first and the second retry of a failed
/// event.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];

/// The most a throttled event waits between tries.
const MAX_THROTTLE_DELAY: Duration = Duration::from_secs(300);

/// The set of functions an event runs in and a destination may name
/// (`routes::Functions`, which holds the set's `Events`: this file never
/// names it).
pub trait Targets: Send + Sync + 'static {
    /// The function named `name` exactly.
    fn entry(&self, name: &str) -> Option<&Entry>;
    /// The ARN of the function `name`.
    fn arn_of(&self, name: &str) -> String;
    /// Where the set's `Event` invokes go.
    fn events(&self) -> Option<&Arc<Events>>;
}

/// Where records go that no function of this rapid takes.
pub struct Events {
    scale: f64,
    file: Option<(PathBuf, Mutex<std::fs::File>)>,
    /// Events accepted and not yet delivered: request id → what to write
    /// out at shutdown.
    pending: Mutex<HashMap<String, Value>>,
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

/// How one try ended.
enum Attempt {
    Succeeded(Value),
    /// The function failed: its error body.
    Failed(Value),
    /// Not run: throttled, or no environment could be had.
    NotRun,
}

impl Events {
    pub fn new(scale: f64, file: Option<PathBuf>) -> Result<Events, String> {
        let file = match file {
            Some(path) => {
                let opened = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|err| {
                        format!(
                            "cannot open {} (--async-destinations-file): {err}",
                            path.display()
                        )
                    })?;
                Some((path, Mutex::new(opened)))
            }
            None => None,
        };
        Ok(Events {
            scale,
            file,
            pending: Mutex::new(HashMap::new()),
            tasks: Mutex::new(tokio::task::JoinSet::new()),
        })
    }

    fn scaled(&self, delay: Duration) -> Duration {
        delay.mul_f64(self.scale)
    }

    /// Runs the accepted event `payload` of function `name` (a name of
    /// the set) as Lambda runs an asynchronous invoke.
    pub fn accept(
        self: &Arc<Self>,
        functions: &Arc<impl Targets>,
        name: String,
        request_id: String,
        payload: Bytes,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let pending = json!({
            "function": name,
            "requestId": request_id,
            "requestPayload": payload_json(&payload),
        });
        lock(&self.pending).insert(request_id.clone(), pending);
        let events = self.clone();
        let functions = functions.clone();
        let mut tasks = lock(&self.tasks);
        // Finished tasks are reaped as new ones come.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            // Counted against the function's queue of events until done.
            let _permit = permit;
            events
                .deliver(&functions, &name, &request_id, payload)
                .await;
            lock(&events.pending).remove(&request_id);
        });
    }

    async fn deliver(
        &self,
        functions: &Arc<impl Targets>,
        name: &str,
        request_id: &str,
        payload: Bytes,
    ) {
        let Some(entry) = functions.entry(name) else {
            return;
        };
        let config = entry.spec.event_invoke.clone();
        let max_age = self.scaled(Duration::from_secs(config.max_event_age_s));
        let accepted = Instant::now();
        let mut tries = 0u32;
        let mut failures = 0u32;
        let mut throttles = 0u32;
        let mut last = None;
        let (condition, success) = loop {
            let outcome = if entry.spec.reserved_concurrency == Some(0) {
                Attempt::NotRun
            } else {
                tries += 1;
                attempt(&entry.door, request_id, payload.clone()).await
            };
            let delay = match outcome {
                Attempt::Succeeded(body) => {
                    last = Some((body, false));
                    break ("Success", true);
                }
                Attempt::Failed(body) => {
                    last = Some((body, true));
                    failures += 1;
                    match RETRY_DELAYS.get(failures as usize - 1) {
                        Some(delay) if failures <= config.max_retry_attempts => *delay,
                        _ => break ("RetriesExhausted", false),
                    }
                }
                Attempt::NotRun => {
                    throttles += 1;
                    Duration::from_secs(1u64 << throttles.min(9)).min(MAX_THROTTLE_DELAY)
                }
            };
            let delay = self.scaled(delay);
            if accepted.elapsed() + delay > max_age {
                break ("EventAgeExceeded", false);
            }
            tracing::info!(function = name, %request_id, tries, retry_in_ms = delay.as_millis() as u64, "Event invoke failed; retrying");
            tokio::time::sleep(delay).await; // ok: Lambda's retry delay, scaled
        };
        let arn = format!("{}:$LATEST", functions.arn_of(name));
        let mut record = json!({
            "version": "1.0",
            "timestamp": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "requestContext": {
                "requestId": request_id,
                "functionArn": arn,
                "condition": condition,
                "approximateInvokeCount": tries,
            },
            "requestPayload": payload_json(&payload),
        });
        if let Some((body, failed)) = last {
            let mut context = json!({ "statusCode": 200, "executedVersion": "$LATEST" });
            if failed {
                context["functionError"] = "Unhandled".into();
            }
            record["responseContext"] = context;
            record["responsePayload"] = body;
        }
        let destination = match success {
            true => config.on_success.as_deref(),
            false => config.on_failure.as_deref(),
        };
        tracing::info!(function = name, %request_id, condition, tries, destination, "Event invoke done");
        if let Some(destination) = destination {
            self.send(functions, destination, record);
        } else if !success {
            tracing::warn!(function = name, %request_id, %record, "Event invoke given up, no OnFailure destination");
        }
    }

    /// The record to `destination`: a function of this rapid, else the
    /// destinations file, else the log.
    fn send(&self, functions: &Arc<impl Targets>, destination: &str, record: Value) {
        let (name, _) = split_function_name(destination);
        let names_a_function = destination.contains(":function:") || !destination.contains(':');
        if let (true, Some(entry), Some(events)) =
            (names_a_function, functions.entry(name), functions.events())
        {
            match entry.door.queued_events.clone().try_acquire_owned() {
                Ok(permit) => {
                    let id = interop::ids::new_uuid().hyphenated().to_string();
                    let name = entry.spec.name.clone();
                    events.accept(functions, name, id, Bytes::from(record.to_string()), permit);
                    return;
                }
                Err(_) => tracing::warn!(
                    destination,
                    "the destination function's event queue is full: the record is written out"
                ),
            }
        }
        self.write_out(json!({ "destination": destination, "record": record }));
    }

    fn write_out(&self, line: Value) {
        match &self.file {
            Some((path, file)) => {
                let mut text = line.to_string();
                text.push('\n');
                if let Err(err) = lock(file).write_all(text.as_bytes()) {
                    tracing::error!(path = %path.display(), %err, %line, "cannot append to --async-destinations-file");
                }
            }
            None => tracing::warn!(%line, "no --async-destinations-file: the record is logged"),
        }
    }

    /// Stops every event still running or waiting and writes each out as
    /// undelivered.
    pub fn shutdown(&self) {
        lock(&self.tasks).abort_all();
        let pending: Vec<Value> = lock(&self.pending).drain().map(|(_, v)| v).collect();
        if !pending.is_empty() {
            tracing::warn!(
                count = pending.len(),
                "Event invokes not delivered at shutdown: written out"
            );
        }
        for event in pending {
            self.write_out(json!({ "undelivered": event }));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The payload as JSON in a record (it was checked to be JSON when
/// accepted; a text otherwise).
fn payload_json(payload: &[u8]) -> Value {
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

/// One try of the event in the function's pool.
async fn attempt(door: &crate::front_door::FrontDoor, request_id: &str, payload: Bytes) -> Attempt {
    let Some(pool) = &door.pool else {
        return Attempt::NotRun;
    };
    let invoke = Invoke {
        request_id: request_id.to_owned(),
        payload,
        client_context: None,
        cognito_identity: None,
        trace_id: crate::invoke_http::new_trace_id(),
        tenant_id: None,
        log_tail: false,
        restore_duration: None,
        accepted: Instant::now(),
    };
    let lease = match crate::run::acquire(pool, door.slot_wait, invoke.accepted).await {
        Ok(crate::run::Slot::Leased(lease)) => lease,
        Ok(crate::run::Slot::TimedOut(_)) | Err(_) => return Attempt::NotRun,
    };
    let outcome = match crate::run::run_leased(lease, request_id.to_owned(), invoke, None).await {
        Ok(outcome) => outcome,
        Err(_) => return Attempt::NotRun,
    };
    match outcome.arrived().await.result {
        Ok(response) => match response.body {
            InvokeBody::Buffered(body) => Attempt::Succeeded(payload_json(&body)),
            // Made whole by `arrived`.
            InvokeBody::Streamed(mut stream) | InvokeBody::Arriving { mut stream, .. } => {
                let mut body = Vec::new();
                while let Some(chunk) = stream.chunks.recv().await {
                    body.extend_from_slice(&chunk);
                }
                match stream.end.await {
                    Ok(Err(err)) => Attempt::Failed(payload_json(&err.body)),
                    _ => Attempt::Succeeded(payload_json(&body)),
                }
            }
        },
        Err(err) => Attempt::Failed(payload_json(&err.body)),
    }
}
