//! The log hub: one task that reads every captured pipe, frames lines, echoes
//! them to stdout, and keeps the tail of the current invoke's log.
//!
//! Platform lines (START, END, REPORT...) go through the same task, and before
//! writing one the hub drains every pipe: whatever the runtime wrote before it
//! called `next` is in its pipe already, so the function's lines always come
//! before the END line that follows them, and the Tail log holds them.
//!
//! START is the exception: the engine writes it itself, before it hands the
//! invoke's event out (`LogHub::start_invoke`, on the hub's state shared
//! behind a lock, after everything queued for the task), so none of the
//! runtime's lines for the invoke can come before it, and nothing waits
//! for the task in between.
//!
//! Platform events (`platform.start`, ...) go through it too, in the order
//! the engine emits them, and the hub adds `platform.report` itself when it
//! writes REPORT (with the memory the engine or it measured): `Hub::record` is where
//! every event passes, the one place that keeps the event log and hands
//! events to Telemetry API subscribers.
//!
//! One pipeline, several consumers: each captured line is cut once and goes
//! to stdout, to the Tail of the current invoke, and (as a `function` or
//! `extension` record, by the origin of its pipe) to the subscribers
//! (`crate::subscribers`), who get the platform events through the same
//! `record`.

mod hub;

use hub::{Hub, Read};

use crate::event_log::EventLog;
use crate::events::{PlatformEvent, Record, Report, Tracing};
use crate::log_format::{json_object, replaces_a_line, LogFormat};
use crate::memory::MemoryUse;
use crate::otlp::SpanMaker;
use crate::report::{end_line, report_line, InvokeReport};
use crate::subscribers::{Item, LineRecord, Origin, Subscribers};
use crate::timeline::{Mark, Recorder};
use bytes::Bytes;
use interop::subscription::Subscription;
use std::future::poll_fn;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, SystemTime};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

/// How much of an invoke's log `X-Amz-Log-Type: Tail` returns.
pub const TAIL_BYTES: usize = 4096;
/// The most invokes whose tails are kept at once (a multi-concurrent
/// runtime holds at most a few); past it the oldest is dropped.
const MAX_TAILS: usize = 1024;
/// A line longer than this is cut into pieces of this size.
const MAX_LINE: usize = 256 * 1024;
/// How long subscribers have, once the hub ends, to take what they have
/// queued.
const CLOSE_WITHIN: Duration = Duration::from_secs(1);

enum Message {
    Source(pipe::Receiver, Origin),
    /// Boxed: messages are moved whole, and this one is rare and large.
    Subscribe(Box<NewSubscription>),
    /// A START was written by [`LogHub::start_invoke`]: out with it, once
    /// the tasks woken with it had their turn.
    Written,
    Line(String),
    /// Boxed: hub messages are moved whole, and an event is much larger
    /// than the others.
    Event(Box<PlatformEvent>),
    /// Write the lines, stop capturing, and hand the tail over.
    End {
        lines: Vec<String>,
        report: Box<ReportRequest>,
        tail: Option<oneshot::Sender<Bytes>>,
    },
    Flush(oneshot::Sender<()>),
    /// For the timeline only: sent when one is written.
    Mark(Mark, SystemTime),
}

/// Who else is told an environment's lifecycle, besides the event log and
/// the subscribers: each hub gets its own of each.
#[derive(Default)]
pub struct Observers {
    /// Its part of the `--timeline`.
    pub timeline: Option<Recorder>,
    /// Its OTLP spans (`--otlp-endpoint`).
    pub spans: Option<SpanMaker>,
    /// Told each invoke's `Max Memory Used` (rapid's metrics).
    pub memory: Option<MemoryPeaks>,
}

/// Told the `Max Memory Used` of each invoke, in MB, as its REPORT is
/// written.
pub type MemoryPeaks = Arc<dyn Fn(u64) + Send + Sync>;

/// A REPORT line to write, and the memory the invoke used.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// The report; its `max_memory_used_mb` is filled in by the hub.
    pub report: InvokeReport,
    /// Its `Max Memory Used`, or the process trees to measure it from.
    pub memory: MemoryUse,
}

struct NewSubscription {
    extension_id: String,
    name: String,
    subscription: Subscription,
}

/// Where the hub writes the log.
type Out = std::io::BufWriter<Box<dyn Write + Send>>;

/// The hub's state and its queue, shared by its task and
/// [`LogHub::start_invoke`]: whoever holds the lock handles what is queued
/// before anything of its own, so the log keeps the order of the calls.
/// Never held across an await (rapid's tasks share one thread: the lock
/// is never contended there).
struct Shared {
    hub: Hub<Out>,
    rx: mpsc::UnboundedReceiver<Message>,
    /// A message the task took from the queue and handles after a yield:
    /// it comes before anything queued after it.
    held: Option<Message>,
}

/// What one wake-up of the hub task did.
enum Step {
    /// Took a message to handle after a yield.
    Queued,
    /// Recorded events; true when that wrote lines.
    Recorded(bool),
    /// Read a pipe.
    Read,
    /// Every handle is gone.
    Closed,
}

impl Shared {
    fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
        // A panic while it was held cannot leave it half-written in a way
        // that matters more than losing the log.
        shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles the held message and everything queued.
    fn catch_up(&mut self) {
        if let Some(message) = self.held.take() {
            self.hub.handle(message);
        }
        while let Ok(message) = self.rx.try_recv() {
            self.hub.handle(message);
        }
    }

    fn poll_step(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Step> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(None) => return Poll::Ready(Step::Closed),
            // Events only join the log: they are recorded at once.
            Poll::Ready(Some(Message::Event(event))) => {
                self.hub.record(*event);
                // In JSON, some events were written as lines.
                return Poll::Ready(Step::Recorded(self.hub.json));
            }
            Poll::Ready(Some(message)) => {
                self.held = Some(message);
                return Poll::Ready(Step::Queued);
            }
            Poll::Pending => {}
        }
        for index in 0..self.hub.sources.len() {
            if self.hub.sources[index].pipe.poll_read_ready(cx).is_ready() {
                self.hub.drain(index, Read::Readiness);
                return Poll::Ready(Step::Read);
            }
        }
        Poll::Pending
    }
}

/// Handle to the hub task. Cheap to clone.
#[derive(Clone)]
pub struct LogHub {
    tx: mpsc::UnboundedSender<Message>,
    shared: Arc<Mutex<Shared>>,
    /// Someone reads the platform events (the event log, a subscriber);
    /// when nobody does, the engine does not build them. Set once, by the
    /// first subscription when the event log keeps nothing.
    records: Arc<AtomicBool>,
    /// An extension subscribed (Telemetry or Logs API) since the start.
    subscribed: Arc<AtomicBool>,
    /// A timeline is written (`--timeline`): the engine's marks are wanted.
    timeline: bool,
}

impl LogHub {
    /// Starts the hub; it writes to `out`, records platform events in
    /// `events`, and runs until every handle is dropped.
    pub fn start<W: Write + Send + 'static>(
        out: W,
        events: EventLog,
    ) -> (LogHub, tokio::task::JoinHandle<()>) {
        Self::start_with(out, events, LogFormat::Text)
    }

    /// Like [`LogHub::start`], writing the log in `format`.
    pub fn start_with<W: Write + Send + 'static>(
        out: W,
        events: EventLog,
        format: LogFormat,
    ) -> (LogHub, tokio::task::JoinHandle<()>) {
        Self::start_recording(out, events, format, Observers::default())
    }

    /// Like [`LogHub::start_with`], and giving the environment's lifecycle
    /// to its `observers` (the timeline, OTLP spans).
    pub fn start_recording<W: Write + Send + 'static>(
        out: W,
        events: EventLog,
        format: LogFormat,
        observers: Observers,
    ) -> (LogHub, tokio::task::JoinHandle<()>) {
        let Observers {
            timeline,
            spans,
            memory,
        } = observers;
        let (tx, rx) = mpsc::unbounded_channel();
        // Buffered (below): what one wake-up writes goes out in one write(2).
        // In JSON the platform lines are events: they must be built.
        let json = format == LogFormat::Json;
        // The timeline and the spans are drawn from the events: they must
        // be built too.
        let with_timeline = timeline.is_some();
        let observed = with_timeline || spans.is_some();
        let records = Arc::new(AtomicBool::new(events.keeps() || json || observed));
        let out: Out = std::io::BufWriter::with_capacity(64 * 1024, Box::new(out));
        let mut hub = Hub::new(out, events, json);
        hub.timeline = timeline;
        hub.spans = spans;
        hub.memory = memory;
        let shared = Arc::new(Mutex::new(Shared {
            hub,
            rx,
            held: None,
        }));
        let task = tokio::spawn(run(shared.clone()));
        let subscribed = Arc::new(AtomicBool::new(false));
        (
            LogHub {
                tx,
                shared,
                records,
                subscribed,
                timeline: with_timeline,
            },
            task,
        )
    }

    /// Whether an extension has subscribed to the Telemetry or Logs API:
    /// the sandbox is then not frozen between invokes, since the delivery
    /// to the subscriber runs outside the sandbox here (in Lambda it is
    /// frozen with it) and would stall while the subscriber is stopped.
    pub fn has_subscribers(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }

    /// Whether platform events are recorded: when not, building them is
    /// wasted work on the invoke's path, and the engine skips it.
    pub fn records_events(&self) -> bool {
        self.records.load(Ordering::Relaxed)
    }

    /// Where Telemetry and Logs API subscriptions go: a handle that does
    /// not keep the hub running (the hub ends when the engine and the
    /// binary drop their `LogHub`s, whoever still holds this).
    pub fn subscriptions(&self) -> Subscriptions {
        Subscriptions {
            tx: self.tx.downgrade(),
            records: self.records.clone(),
            subscribed: self.subscribed.clone(),
        }
    }

    /// Records a platform event, after everything sent before it. Cheap:
    /// the event is kept as it is, never formatted here.
    pub fn emit(&self, event: PlatformEvent) {
        let _ = self.tx.send(Message::Event(Box::new(event)));
    }

    /// Tells the timeline what no platform event says (a freeze, a thaw, a
    /// teardown's start), happening now. Nothing at all without a timeline.
    pub fn mark(&self, mark: Mark) {
        self.mark_with(|| mark);
    }

    /// Like [`LogHub::mark`], building the mark only when a timeline is
    /// written (a mark naming an extension costs a copy of its name).
    pub fn mark_with(&self, mark: impl FnOnce() -> Mark) {
        if self.timeline {
            let _ = self.tx.send(Message::Mark(mark(), SystemTime::now()));
        }
    }

    /// Captures the read end of a child's stdout and stderr; its lines are
    /// records of `origin`.
    pub fn add_source(&self, fd: OwnedFd, origin: Origin) -> std::io::Result<()> {
        let receiver = pipe::Receiver::from_owned_fd(fd)?;
        let _ = self.tx.send(Message::Source(receiver, origin));
        Ok(())
    }

    /// Starts an invoke: writes its START `line` after what the pipes hold
    /// so far (and after everything sent to the hub before), records its
    /// `platform.start` `event`, and keeps the lines from here to its END
    /// for its Tail when `capture_tail`. Done when it returns: the invoke's
    /// event may go to the runtime now, and none of the runtime's lines for
    /// it can come before START. Invokes may overlap (multi-concurrency):
    /// each tail gets every line written while it is open.
    pub fn start_invoke(
        &self,
        request_id: &str,
        line: String,
        capture_tail: bool,
        event: Option<PlatformEvent>,
    ) {
        let mut shared = Shared::lock(&self.shared);
        shared.catch_up();
        shared.hub.start(request_id, &line, capture_tail);
        if let Some(event) = event {
            shared.hub.record(event);
        }
        drop(shared);
        // The write itself is the task's, off the invoke's path.
        let _ = self.tx.send(Message::Written);
    }

    pub fn line(&self, line: String) {
        let _ = self.tx.send(Message::Line(line));
    }

    /// Ends an invoke: writes `lines`, then END and REPORT (its memory
    /// measured here, off the invoke's path, when the engine had no
    /// figure), records `platform.report`
    /// with the same figures, and hands the tail over.
    pub fn end_invoke(
        &self,
        lines: Vec<String>,
        report: ReportRequest,
        tail: Option<oneshot::Sender<Bytes>>,
    ) {
        let report = Box::new(report);
        let _ = self.tx.send(Message::End {
            lines,
            report,
            tail,
        });
    }

    /// Resolves once everything sent so far, and everything in the pipes, is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Message::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Subscribes extensions to the hub's records (see [`LogHub::subscriptions`]).
#[derive(Clone)]
pub struct Subscriptions {
    tx: mpsc::WeakUnboundedSender<Message>,
    records: Arc<AtomicBool>,
    subscribed: Arc<AtomicBool>,
}

impl Subscriptions {
    /// Subscribes extension `name` (identifier `extension_id`) to the
    /// records `subscription` asks for; from now on the engine builds
    /// every platform event. False once the hub has ended.
    pub fn subscribe(
        &self,
        extension_id: String,
        name: String,
        subscription: Subscription,
    ) -> bool {
        let Some(tx) = self.tx.upgrade() else {
            return false;
        };
        self.records.store(true, Ordering::Relaxed);
        self.subscribed.store(true, Ordering::Relaxed);
        let new = Box::new(NewSubscription {
            extension_id,
            name,
            subscription,
        });
        tx.send(Message::Subscribe(new)).is_ok()
    }
}

/// The hub's task: handles what is sent to it, reads the pipes as they
/// become readable, and writes out after each wake-up; once every handle
/// is gone, the last of the pipes, then the subscribers' queues.
async fn run(shared: Arc<Mutex<Shared>>) {
    loop {
        let step = poll_fn(|cx| Shared::lock(&shared).poll_step(cx)).await;
        let lines = match step {
            Step::Closed => break,
            Step::Recorded(lines) => lines,
            Step::Read => true,
            Step::Queued => {
                // Never on an invoke's critical path: let the tasks that
                // answer the runtime and the invoker write first.
                tokio::task::yield_now().await;
                Shared::lock(&shared).catch_up();
                true
            }
        };
        Shared::lock(&shared).hub.flush_out(lines);
    }
    let mut subscribers = {
        let mut shared = Shared::lock(&shared);
        let hub = &mut shared.hub;
        hub.drain_all();
        hub.flush_out(true);
        std::mem::take(&mut hub.subscribers)
    };
    subscribers.close(CLOSE_WITHIN).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn pipe_pair() -> (OwnedFd, std::fs::File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (r, std::fs::File::from(w))
    }

    #[tokio::test]
    async fn function_lines_come_before_end_and_fill_the_tail() {
        let out = Shared::default();
        let (hub, _task) = LogHub::start(out.clone(), EventLog::new(0));
        let (r, mut w) = pipe_pair();
        hub.add_source(r, Origin::Function).unwrap();
        hub.start_invoke("id", "START".into(), true, None);
        hub.flush().await; // the runtime only writes once it has the event
        w.write_all(b"one\r\ntwo\npartial").unwrap();
        let (tx, rx) = oneshot::channel();
        hub.end_invoke(vec!["TIMEOUT".into()], report("id"), Some(tx));
        let tail = String::from_utf8(rx.await.unwrap().to_vec()).unwrap();
        assert!(
            tail.starts_with("START\none\ntwo\nTIMEOUT\nEND RequestId: id\nREPORT RequestId: id\t"),
            "{tail}"
        );
        drop(w);
        hub.flush().await;
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("\npartial\n"), "{text}");
    }

    #[tokio::test]
    async fn events_before_start_do_not_delay_its_drain() {
        let out = Shared::default();
        let (hub, _task) = LogHub::start(out.clone(), EventLog::new(10));
        let (r, mut w) = pipe_pair();
        hub.add_source(r, Origin::Function).unwrap();
        hub.flush().await;
        // Init done, then the first dispatch, in one turn of the engine:
        // events, START, and the runtime (a task woken after the hub)
        // writing its first line as soon as it has the event.
        hub.emit(PlatformEvent::now(crate::events::Start {
            request_id: "id".into(),
            version: "$LATEST".into(),
            tracing: None,
        }));
        hub.start_invoke("id", "START".into(), true, None);
        let runtime = tokio::spawn(async move {
            w.write_all(b"first line\n").unwrap();
            w
        });
        hub.flush().await;
        let _w = runtime.await.unwrap();
        hub.flush().await;
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "START\nfirst line\n");
    }

    #[tokio::test]
    async fn start_is_written_when_start_invoke_returns() {
        let out = Shared::default();
        let (hub, _task) = LogHub::start(out.clone(), EventLog::new(10));
        let (r, mut w) = pipe_pair();
        hub.add_source(r, Origin::Function).unwrap();
        hub.flush().await;
        // Queued before START: written before it.
        hub.line("INIT_REPORT".into());
        w.write_all(b"before\n").unwrap();
        hub.start_invoke("id", "START".into(), true, None);
        // The runtime has its event: it writes with no turn of the hub's
        // task in between.
        w.write_all(b"after\n").unwrap();
        hub.flush().await;
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "before\nINIT_REPORT\nSTART\nafter\n");
    }

    /// The init's backlog (for subscriptions made during the init) ends
    /// with the first invoke also when no event is built: it kept every
    /// line of every invoke, up to 4 MB, when nobody subscribed.
    #[test]
    fn the_init_backlog_ends_with_the_first_invoke() {
        let mut hub = Hub::new(std::io::sink(), EventLog::new(0), false);
        hub.record(PlatformEvent::now(crate::events::InitStart {
            initialization_type: crate::events::InitializationType::OnDemand,
            phase: crate::events::InitPhase::Init,
            function_name: "f".into(),
            function_version: "$LATEST".into(),
            runtime_version: None,
            runtime_version_arn: None,
        }));
        assert!(hub.subscribers.wants_lines(), "the init keeps its lines");
        hub.start("id", "START", false);
        assert!(!hub.subscribers.wants_lines(), "the backlog is gone");
    }

    #[tokio::test]
    async fn tail_keeps_the_last_4_kb() {
        let (hub, _task) = LogHub::start(std::io::sink(), EventLog::new(0));
        hub.start_invoke("id", "START".into(), true, None);
        for i in 0..1000 {
            hub.line(format!("line {i:04}"));
        }
        let (tx, rx) = oneshot::channel();
        hub.end_invoke(Vec::new(), report("id"), Some(tx));
        let tail = String::from_utf8(rx.await.unwrap().to_vec()).unwrap();
        assert_eq!(tail.len(), TAIL_BYTES);
        assert!(
            tail.contains("line 0999\nEND RequestId: id\nREPORT"),
            "{tail}"
        );
    }

    #[tokio::test]
    async fn report_memory_is_measured_by_the_hub() {
        let out = Shared::default();
        let (hub, _task) = LogHub::start(out.clone(), EventLog::new(0));
        let mut request = report("m");
        request.memory = MemoryUse::Trees {
            live_pids: vec![std::process::id() as i32],
            exited_kb: 2048,
        };
        hub.end_invoke(Vec::new(), request, None);
        hub.flush().await;
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let used: u64 = text
            .split("Max Memory Used: ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(used > 2, "this process and 2 MB of exited ones: {text}");
    }

    #[tokio::test]
    async fn events_keep_their_order_and_report_has_the_measured_memory() {
        let out = Shared::default();
        let log = EventLog::new(crate::EVENT_LOG_CAPACITY);
        let (hub, _task) = LogHub::start(out.clone(), log.clone());
        hub.emit(PlatformEvent::now(crate::events::Start {
            request_id: "m".into(),
            version: "$LATEST".into(),
            tracing: None,
        }));
        let mut request = report("m");
        request.memory = MemoryUse::Trees {
            live_pids: vec![std::process::id() as i32],
            exited_kb: 0,
        };
        hub.end_invoke(Vec::new(), request, None);
        hub.emit(PlatformEvent::now(crate::events::Start {
            request_id: "next".into(),
            version: "$LATEST".into(),
            tracing: None,
        }));
        hub.flush().await;
        let events = log.events();
        let types: Vec<&str> = events.iter().map(PlatformEvent::type_name).collect();
        assert_eq!(
            types,
            ["platform.start", "platform.report", "platform.start"]
        );
        let crate::events::Record::Report(report) = &events[1].record else {
            panic!("{events:?}");
        };
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let line = format!("Max Memory Used: {} MB", report.metrics.max_memory_used_mb);
        assert!(report.metrics.max_memory_used_mb > 0, "{report:?}");
        assert!(text.contains(&line), "{line} not in {text}");
        // The log outlives the hub.
        drop(hub);
        assert_eq!(log.events().len(), 3);
    }

    #[test]
    fn runtime_done_carries_the_trace_context_of_its_start() {
        use crate::events::{RuntimeDone, RuntimeDoneMetrics, Start, Status};
        let log = EventLog::new(10);
        let mut hub = Hub::new(std::io::sink(), log.clone(), false);
        let start = |id: &str, traced: bool| {
            PlatformEvent::now(Start {
                request_id: id.into(),
                version: "$LATEST".into(),
                tracing: traced.then(|| Tracing {
                    value: format!("Root=1-00000000-{id:0>24};Parent=0123456789abcdef;Sampled=1"),
                    span_id: None,
                }),
            })
        };
        let done = |id: &str| {
            PlatformEvent::now(RuntimeDone {
                request_id: id.into(),
                status: Status::Success,
                error_type: None,
                metrics: RuntimeDoneMetrics {
                    duration: Duration::from_millis(1),
                    produced_bytes: 2,
                },
                spans: Vec::new(),
                tracing: None,
            })
        };
        // Overlapping invokes (multi-concurrency), one of them untraced.
        hub.record(start("a", true));
        hub.record(start("b", true));
        hub.record(start("c", false));
        hub.record(done("b"));
        hub.record(done("c"));
        hub.record(done("a"));
        let tracing = |event: &PlatformEvent| match &event.record {
            Record::Start(start) => start.tracing.clone(),
            Record::RuntimeDone(done) => done.tracing.clone(),
            _ => None,
        };
        let events = log.events();
        let of = |i: usize| tracing(&events[i]);
        let (a, b) = (of(0).unwrap(), of(1).unwrap());
        let span = a.span_id.clone().unwrap();
        assert_eq!(span.len(), 16);
        assert!(span.chars().all(|c| c.is_ascii_hexdigit()), "{span}");
        assert_ne!(a.span_id, b.span_id);
        assert_eq!(of(3), Some(b));
        assert_eq!(of(4), None, "c had no trace header");
        assert_eq!(of(5), Some(a));
        assert!(hub.traced.is_empty());
    }

    fn report(request_id: &str) -> ReportRequest {
        ReportRequest {
            report: InvokeReport {
                request_id: request_id.into(),
                duration: std::time::Duration::from_millis(1),
                memory_size_mb: 128,
                max_memory_used_mb: 0,
                init_duration: None,
                restore_duration: None,
                status: crate::InvokeStatus::Success,
                error_type: None,
                timings: Default::default(),
            },
            memory: MemoryUse::Measured(0),
        }
    }
}
