//! The lifecycle timeline (`--timeline FILE`): what each execution
//! environment went through, written as it happens in the Chrome / Perfetto
//! trace event format (JSON object form: `{"otherData": ..., "traceEvents":
//! [...]}`), which `ui.perfetto.dev`, `chrome://tracing` and rapid's own
//! page (`rapid timeline FILE -o page.html`) open.
//!
//! One process per environment (`pid`: the sandbox's number), tracks in it
//! (`tid`): the environment (init, each invoke with its request id, frozen
//! time, restores, resets and shutdown), the runtime (its init and its work
//! on each invoke, with the `responseLatency` / `responseDuration` spans of
//! `platform.runtimeDone`), the extensions together (the time between the
//! runtime's answer and the end of the invoke: their post-invoke work), and
//! one track per extension (its registration where it happened, and its
//! own post-invoke work: from the runtime's answer to its `next`).
//!
//! Everything comes from what the log hub already sees: the platform events
//! passing `Hub::record` and the few [`Mark`]s the engine sends only when a
//! timeline is written (freeze, thaw, the start of a teardown).
//!
//! The file is a complete JSON document after every write: each write
//! replaces the closing `]}` with the new events and a new closing. A reader
//! may open it at any moment, and a rapid killed with SIGKILL leaves it
//! valid; nothing has to be finished at shutdown. The hub writes once per
//! wake-up (one `pwrite`), never on the invoke's path.

use crate::events::Status;
use crate::events::{InitPhase, InitializationType, PlatformEvent, Record, Report, RuntimeDone};
use interop::ErrorType;
use serde::Serialize;
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What identifies a rapid timeline: `otherData.producer`.
pub const PRODUCER: &str = "rapid";
/// The closing every write leaves at the end of the file.
const CLOSING: &[u8] = b"\n]}\n";

/// The tracks of an environment; each extension's follow `EXTENSIONS`.
const ENVIRONMENT: u32 = 1;
const RUNTIME: u32 = 2;
const EXTENSIONS: u32 = 3;
/// Extensions with a track of their own, at most (Lambda allows 10 per
/// environment; names may change across resets). Others are drawn on the
/// extensions' common track.
const MAX_EXTENSION_TRACKS: usize = 64;

/// What the engine tells the timeline that no platform event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The environment was frozen (between invokes).
    Freeze,
    /// The environment was thawed.
    Thaw,
    /// A reset or a shutdown began, for `reason` (`spindown`, `timeout`,
    /// `failure`: the SHUTDOWN event's reason).
    Teardown { reason: &'static str },
    /// An extension registered (its `platform.extension` comes at the end
    /// of init).
    Registered { name: String },
    /// An extension asked for its next event after an INVOKE: its part of
    /// the invoke ended.
    ExtensionDone { name: String },
}

/// The timeline file, shared by the log hubs of every environment.
#[derive(Clone)]
pub struct Timeline {
    file: Arc<Mutex<TimelineFile>>,
}

struct TimelineFile {
    file: File,
    /// Where the closing starts: the next write goes there.
    end: u64,
    /// No event written yet (the first takes no comma).
    empty: bool,
    /// A write failed: said once, then the timeline stops.
    failed: bool,
}

impl Timeline {
    /// Creates (or truncates) `path` and writes an empty timeline to it.
    pub fn create(path: &Path) -> std::io::Result<Timeline> {
        let mut file = File::create(path)?;
        let head = json!({
            "producer": PRODUCER,
            "version": env!("CARGO_PKG_VERSION"),
            "format": "Chrome trace event JSON; ts and dur in microseconds since the Unix epoch",
        });
        let head = format!("{{\"otherData\":{head},\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
        file.write_all(head.as_bytes())?;
        file.write_all(CLOSING)?;
        Ok(Timeline {
            file: Arc::new(Mutex::new(TimelineFile {
                file,
                end: head.len() as u64,
                empty: true,
                failed: false,
            })),
        })
    }

    /// The recorder of environment `environment`, for its log hub.
    pub fn recorder(&self, environment: u32) -> Recorder {
        self.recorder_named(environment, format!("environment {environment}"))
    }

    /// The recorder of the environment drawn as process `pid` named
    /// `process` (with many functions, the function's name is in it).
    pub fn recorder_named(&self, pid: u32, process: String) -> Recorder {
        Recorder {
            timeline: self.clone(),
            pid,
            process,
            pending: Vec::new(),
            open: Open::default(),
            named: false,
            extension_tracks: Vec::new(),
        }
    }

    /// Appends `events` (JSON objects, each after ",\n") in one write that
    /// ends with the closing; the first event of the file takes no comma.
    fn append(&self, events: &mut Vec<u8>) {
        let Ok(mut file) = self.file.lock() else {
            return;
        };
        if file.failed || events.is_empty() {
            return;
        }
        let from = if file.empty { 1 } else { 0 };
        let written = (events.len() - from) as u64;
        events.extend_from_slice(CLOSING);
        match file.file.write_all_at(&events[from..], file.end) {
            Ok(()) => {
                file.end += written;
                file.empty = false;
            }
            Err(err) => {
                file.failed = true;
                tracing::warn!(%err, "cannot write the timeline; it stops here");
            }
        }
    }
}

/// One trace event, as the trace event format spells it.
#[derive(Serialize)]
struct TraceEvent<'a> {
    ph: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cat: &'static str,
    pid: u32,
    tid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<u64>,
    /// An instant's scope: `t`, its track.
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    /// Trace viewers' own colour names: `terrible` for what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    cname: Option<&'static str>,
    args: Args<'a>,
}

/// What a trace event says besides its time: the Telemetry API's fields.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Args<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    initialization_type: Option<InitializationType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<InitPhase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    produced_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billed_duration_ms: Option<u64>,
    #[serde(rename = "maxMemoryUsedMB", skip_serializing_if = "Option::is_none")]
    max_memory_used_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cold_start: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// An extension's, or a process's or track's (metadata events).
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<&'a [&'static str]>,
    #[serde(rename = "sort_index", skip_serializing_if = "Option::is_none")]
    sort_index: Option<u32>,
}

impl<'a> Args<'a> {
    fn status(status: Status, error_type: Option<&'a ErrorType>) -> Args<'a> {
        Args {
            status: Some(status),
            error_type: error_type.map(ErrorType::as_str),
            ..Args::default()
        }
    }
}

/// What one environment has begun and not yet ended.
#[derive(Default)]
struct Open {
    /// When, how and in which phase.
    init: Option<(SystemTime, InitializationType, InitPhase)>,
    restore: Option<SystemTime>,
    frozen: Option<SystemTime>,
    /// Invokes started, by request id: when.
    invokes: Vec<(String, SystemTime)>,
    /// The runtime's answer to each invoke, by request id.
    answered: Vec<(String, SystemTime)>,
    /// A teardown began and no init since: the environment is gone (the
    /// engine may be asked to shut down what is already torn down).
    torn_down: bool,
    /// Extensions registered and not yet reported (`platform.extension`),
    /// with when.
    registered: Vec<(String, SystemTime)>,
    /// Extensions done with the current invoke, with when.
    done: Vec<(String, SystemTime)>,
}

/// One environment's part of the timeline: turns its platform events and
/// marks into trace events, kept until [`Recorder::flush`].
pub struct Recorder {
    timeline: Timeline,
    pid: u32,
    /// The process's name on the timeline.
    process: String,
    /// Trace events not written yet, each after ",\n".
    pending: Vec<u8>,
    open: Open,
    /// The process and thread names are written.
    named: bool,
    /// The extensions with a track of their own, in the order of their
    /// tracks (`EXTENSIONS + 1 + index`).
    extension_tracks: Vec<String>,
}

/// The most invokes kept open at once (a multi-concurrent runtime holds a
/// few); past it the oldest is forgotten.
const MAX_OPEN: usize = 1024;

impl Recorder {
    /// Writes what was recorded since the last flush.
    pub fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.timeline.append(&mut self.pending);
            self.pending.clear();
        }
    }

    pub fn mark(&mut self, mark: Mark, time: SystemTime) {
        self.name_tracks();
        match mark {
            Mark::Freeze => self.open.frozen = Some(time),
            Mark::Thaw => {
                if let Some(from) = self.open.frozen.take() {
                    self.span(ENVIRONMENT, "frozen", from, time, Args::default());
                }
            }
            Mark::Teardown { reason } => {
                if std::mem::replace(&mut self.open.torn_down, true) {
                    return;
                }
                let name = if reason == "spindown" {
                    "shutdown"
                } else {
                    "reset"
                };
                let args = Args {
                    reason: Some(reason),
                    ..Args::default()
                };
                self.instant(ENVIRONMENT, name, time, args);
                // What was open ends here.
                self.open.invokes.clear();
                self.open.answered.clear();
                self.open.done.clear();
            }
            Mark::Registered { name } => keep(&mut self.open.registered, name, time),
            Mark::ExtensionDone { name } => keep(&mut self.open.done, name, time),
        }
    }

    pub fn event(&mut self, event: &PlatformEvent) {
        self.name_tracks();
        let time = event.time;
        match &event.record {
            Record::InitStart(r) => {
                self.open.torn_down = false;
                self.open.init = Some((time, r.initialization_type, r.phase));
            }
            Record::InitRuntimeDone(r) => {
                if let Some((from, _, _)) = self.open.init {
                    let args = Args::status(r.status, r.error_type.as_ref());
                    self.span(RUNTIME, "runtime init", from, time, args);
                }
            }
            Record::Extension(r) => {
                // Drawn where it registered, when the engine said so.
                let at = take(&mut self.open.registered, &r.name).unwrap_or(time);
                let tid = self.extension_track(&r.name);
                let args = Args {
                    name: Some(&r.name),
                    state: Some(r.state),
                    events: Some(&r.events),
                    ..Args::default()
                };
                self.instant(tid, &format!("{} registered", r.name), at, args);
            }
            Record::InitReport(r) => {
                if let Some((from, initialization_type, phase)) = self.open.init.take() {
                    let args = Args {
                        initialization_type: Some(initialization_type),
                        phase: Some(phase),
                        ..Args::status(r.status, r.error_type.as_ref())
                    };
                    self.span(ENVIRONMENT, "init", from, time, args);
                }
            }
            Record::Start(r) => {
                // Extensions get one invoke at a time: what they said
                // before this one was about an earlier one.
                self.open.done.clear();
                if self.open.invokes.len() >= MAX_OPEN {
                    self.open.invokes.remove(0);
                }
                self.open.invokes.push((r.request_id.clone(), time));
            }
            Record::RuntimeDone(r) => self.runtime_done(r, time),
            Record::Report(r) => self.report(r),
            Record::RestoreStart(_) => {
                self.open.torn_down = false;
                self.open.restore = Some(time);
            }
            Record::RestoreRuntimeDone(r) => {
                if let Some(from) = self.open.restore {
                    let args = Args::status(r.status, r.error_type.as_ref());
                    self.span(RUNTIME, "runtime restore", from, time, args);
                }
            }
            Record::RestoreReport(r) => {
                if let Some(from) = self.open.restore.take() {
                    let args = Args::status(r.status, r.error_type.as_ref());
                    self.span(ENVIRONMENT, "restore", from, time, args);
                }
            }
            Record::TelemetrySubscription(_) | Record::LogsDropped(_) => {}
        }
    }

    /// The runtime's part of an invoke, and its response's spans.
    fn runtime_done(&mut self, r: &RuntimeDone, time: SystemTime) {
        let Some(from) = started(&self.open.invokes, &r.request_id) else {
            return;
        };
        let id = Some(r.request_id.as_str());
        let args = Args {
            request_id: id,
            produced_bytes: Some(r.metrics.produced_bytes),
            ..Args::status(r.status, r.error_type.as_ref())
        };
        self.span(RUNTIME, "runtime", from, time, args);
        for span in &r.spans {
            let to = span.start + span.duration;
            let args = Args {
                request_id: id,
                ..Args::default()
            };
            self.span(RUNTIME, span.name, span.start, to, args);
        }
        if self.open.answered.len() >= MAX_OPEN {
            self.open.answered.remove(0);
        }
        self.open.answered.push((r.request_id.clone(), time));
    }

    /// The invoke, as REPORT measured it, and the extensions' time after
    /// the runtime's answer.
    fn report(&mut self, r: &Report) {
        let id = r.request_id.as_str();
        let Some(from) = take(&mut self.open.invokes, id) else {
            return;
        };
        let to = from + r.metrics.duration;
        let done = std::mem::take(&mut self.open.done);
        if let Some(answered) = take(&mut self.open.answered, id) {
            // REPORT's duration ends at the runtime's answer: the
            // extensions' work goes on to the last one's `next`.
            let last = done.iter().map(|(_, at)| *at).max();
            let end = last.map_or(to, |last| last.max(to));
            if end > answered {
                let args = Args {
                    request_id: Some(id),
                    ..Args::default()
                };
                self.span(EXTENSIONS, "post-invoke", answered, end, args);
            }
            // Each extension's own, when it was still at work after the
            // runtime's answer.
            for (name, at) in done.iter().filter(|(_, at)| *at > answered) {
                let tid = self.extension_track(name);
                let args = Args {
                    request_id: Some(id),
                    name: Some(name),
                    ..Args::default()
                };
                self.span(tid, "post-invoke", answered, *at, args);
            }
        }
        let args = Args {
            request_id: Some(id),
            billed_duration_ms: Some(r.metrics.billed_duration_ms),
            max_memory_used_mb: Some(r.metrics.max_memory_used_mb),
            cold_start: Some(r.metrics.init_duration.is_some()),
            ..Args::status(r.status, r.error_type.as_ref())
        };
        self.span(ENVIRONMENT, "invoke", from, to, args);
    }

    /// The process and track names, before the first event.
    fn name_tracks(&mut self) {
        if self.named {
            return;
        }
        self.named = true;
        let process = std::mem::take(&mut self.process);
        self.metadata(
            "process_name",
            0,
            Args {
                name: Some(&process),
                ..Args::default()
            },
        );
        for (tid, name) in [
            (ENVIRONMENT, "environment"),
            (RUNTIME, "runtime"),
            (EXTENSIONS, "extensions"),
        ] {
            let args = Args {
                name: Some(name),
                ..Args::default()
            };
            self.metadata("thread_name", tid, args);
            let args = Args {
                sort_index: Some(tid),
                ..Args::default()
            };
            self.metadata("thread_sort_index", tid, args);
        }
    }

    /// The track of extension `name`, named when first used; the common
    /// track past [`MAX_EXTENSION_TRACKS`].
    fn extension_track(&mut self, name: &str) -> u32 {
        if let Some(at) = self.extension_tracks.iter().position(|n| n == name) {
            return EXTENSIONS + 1 + at as u32;
        }
        if self.extension_tracks.len() >= MAX_EXTENSION_TRACKS {
            return EXTENSIONS;
        }
        self.extension_tracks.push(name.to_owned());
        let tid = EXTENSIONS + self.extension_tracks.len() as u32;
        let track = format!("extension {name}");
        let args = Args {
            name: Some(&track),
            ..Args::default()
        };
        self.metadata("thread_name", tid, args);
        let args = Args {
            sort_index: Some(tid),
            ..Args::default()
        };
        self.metadata("thread_sort_index", tid, args);
        tid
    }

    fn metadata(&mut self, name: &str, tid: u32, args: Args) {
        self.push(&TraceEvent {
            ph: "M",
            name,
            cat: "",
            pid: self.pid,
            tid,
            ts: None,
            dur: None,
            s: None,
            cname: None,
            args,
        });
    }

    fn span(&mut self, tid: u32, name: &str, from: SystemTime, to: SystemTime, args: Args) {
        let dur = to.duration_since(from).unwrap_or(Duration::ZERO);
        let failed = args.status.is_some_and(|s| s != Status::Success);
        self.push(&TraceEvent {
            ph: "X",
            name,
            cat: "lambda",
            pid: self.pid,
            tid,
            ts: Some(micros(from)),
            dur: Some(dur.as_micros() as u64),
            s: None,
            cname: failed.then_some("terrible"),
            args,
        });
    }

    fn instant(&mut self, tid: u32, name: &str, time: SystemTime, args: Args) {
        self.push(&TraceEvent {
            ph: "i",
            name,
            cat: "lambda",
            pid: self.pid,
            tid,
            ts: Some(micros(time)),
            dur: None,
            s: Some("t"),
            cname: None,
            args,
        });
    }

    fn push(&mut self, event: &TraceEvent) {
        self.pending.extend_from_slice(b",\n");
        // Strings, numbers and maps only: cannot fail.
        let _ = serde_json::to_writer(&mut self.pending, event);
    }
}

/// Keeps `(name, time)`, replacing an earlier one of `name`; past
/// [`MAX_OPEN`] the oldest is forgotten.
fn keep(open: &mut Vec<(String, SystemTime)>, name: String, time: SystemTime) {
    open.retain(|(kept, _)| *kept != name);
    if open.len() >= MAX_OPEN {
        open.remove(0);
    }
    open.push((name, time));
}

fn started(open: &[(String, SystemTime)], id: &str) -> Option<SystemTime> {
    open.iter().find(|(open, _)| open == id).map(|(_, at)| *at)
}

fn take(open: &mut Vec<(String, SystemTime)>, id: &str) -> Option<SystemTime> {
    let at = open.iter().position(|(open, _)| open == id)?;
    Some(open.remove(at).1)
}

fn micros(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Whether `bytes` are a timeline rapid wrote (what `rapid timeline`
/// accepts): a JSON object whose `otherData.producer` is rapid's.
pub fn is_timeline(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .is_ok_and(|v| v["otherData"]["producer"] == PRODUCER && v["traceEvents"].is_array())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{InitPhase, InitReport, InitReportMetrics, InitStart, InitializationType};
    use crate::events::{Report, RuntimeDone, RuntimeDoneMetrics, Span, Start};
    use crate::report::{InvokeReport, InvokeStatus};

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    fn read(path: &Path) -> Value {
        let bytes = std::fs::read(path).unwrap();
        assert!(is_timeline(&bytes), "{}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice(&bytes).unwrap()
    }

    fn named<'a>(doc: &'a Value, name: &str) -> Vec<&'a Value> {
        doc["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == name)
            .collect()
    }

    #[test]
    fn the_file_is_valid_json_after_every_write() {
        let path = std::env::temp_dir().join(format!("timeline-{}.json", std::process::id()));
        let timeline = Timeline::create(&path).unwrap();
        assert_eq!(read(&path)["traceEvents"], json!([]));
        let mut env = timeline.recorder(0);
        let event = |ms, record: Record| PlatformEvent {
            time: at(ms),
            record,
        };
        env.event(&event(
            0,
            InitStart {
                initialization_type: InitializationType::OnDemand,
                phase: InitPhase::Init,
                function_name: "f".into(),
                function_version: "$LATEST".into(),
                runtime_version: None,
                runtime_version_arn: None,
            }
            .into(),
        ));
        // Registered early; reported at the end of init.
        let ext = "ext-a";
        env.mark(Mark::Registered { name: ext.into() }, at(5));
        env.event(&event(
            99,
            crate::events::ExtensionInit {
                name: ext.into(),
                state: "Ready",
                events: vec!["INVOKE"],
                error_type: None,
            }
            .into(),
        ));
        env.event(&event(
            100,
            InitReport {
                initialization_type: InitializationType::OnDemand,
                phase: InitPhase::Init,
                status: Status::Success,
                error_type: None,
                metrics: InitReportMetrics {
                    duration: Duration::from_millis(100),
                },
            }
            .into(),
        ));
        env.flush();
        assert_eq!(named(&read(&path), "init")[0]["dur"], 100_000);
        let id = "req-1";
        env.event(&event(
            110,
            Start {
                request_id: id.into(),
                version: "$LATEST".into(),
                tracing: None,
            }
            .into(),
        ));
        env.event(&event(
            150,
            RuntimeDone {
                request_id: id.into(),
                status: Status::Timeout,
                error_type: None,
                metrics: RuntimeDoneMetrics {
                    duration: Duration::from_millis(40),
                    produced_bytes: 0,
                },
                spans: vec![Span::response_latency(at(111), Duration::from_millis(30))],
                tracing: None,
            }
            .into(),
        ));
        // Done with the invoke 8 ms after the runtime's answer.
        env.mark(Mark::ExtensionDone { name: ext.into() }, at(158));
        let report = InvokeReport {
            request_id: id.into(),
            duration: Duration::from_millis(50),
            memory_size_mb: 128,
            max_memory_used_mb: 20,
            init_duration: None,
            restore_duration: None,
            status: InvokeStatus::Timeout,
            error_type: None,
            timings: Default::default(),
        };
        env.event(&event(161, Report::of(&report).into()));
        env.mark(Mark::Teardown { reason: "timeout" }, at(162));
        // Asked again, with nothing left to tear down: said once.
        env.mark(Mark::Teardown { reason: "spindown" }, at(163));
        env.flush();
        let doc = read(&path);
        let invoke = named(&doc, "invoke")[0];
        assert_eq!(invoke["args"]["requestId"], id);
        assert_eq!(invoke["args"]["status"], "timeout");
        assert_eq!(invoke["cname"], "terrible");
        assert_eq!(invoke["dur"], 50_000);
        let post = named(&doc, "post-invoke");
        assert_eq!(post.len(), 2, "{doc}");
        assert_eq!(
            (post[0]["tid"].as_u64(), &post[0]["dur"]),
            (Some(3), &json!(10_000))
        );
        // The extension's own, on its own track.
        assert_eq!(
            (post[1]["tid"].as_u64(), &post[1]["dur"]),
            (Some(4), &json!(8_000))
        );
        assert_eq!(post[1]["args"]["name"], ext);
        let track = named(&doc, "thread_name")
            .into_iter()
            .find(|e| e["tid"] == 4)
            .expect("the extension's track");
        assert_eq!(track["args"]["name"], "extension ext-a");
        let registered = named(&doc, "ext-a registered")[0];
        assert_eq!(
            (registered["tid"].as_u64(), registered["ts"].as_u64()),
            (Some(4), Some(micros(at(5))))
        );
        assert_eq!(named(&doc, "responseLatency")[0]["dur"], 30_000);
        assert_eq!(named(&doc, "reset")[0]["args"]["reason"], "timeout");
        assert!(named(&doc, "shutdown").is_empty());
        let _ = std::fs::remove_file(&path);
    }
}
