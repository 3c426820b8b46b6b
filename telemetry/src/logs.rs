//! The log hub: one task that reads every captured pipe, frames lines, echoes
//! them to stdout, and keeps the tail of the current invoke's log.
//!
//! Platform lines (START, END, REPORT...) go through the same task, and before
//! writing one the hub drains every pipe: whatever the runtime wrote before it
//! called `next` is in its pipe already, so the function's lines always come
//! before the END line that follows them, and the Tail log holds them.
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
use std::sync::Arc;
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
    /// Start capturing the invoke's tail, then write the line, then say so.
    Start {
        request_id: String,
        line: String,
        capture_tail: bool,
        logged: oneshot::Sender<()>,
    },
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

/// Handle to the hub task. Cheap to clone.
#[derive(Clone)]
pub struct LogHub {
    tx: mpsc::UnboundedSender<Message>,
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
        // Buffered: what one wake-up writes goes out in one write(2).
        let out = std::io::BufWriter::with_capacity(64 * 1024, out);
        // In JSON the platform lines are events: they must be built.
        let json = format == LogFormat::Json;
        // The timeline and the spans are drawn from the events: they must
        // be built too.
        let with_timeline = timeline.is_some();
        let observed = with_timeline || spans.is_some();
        let records = Arc::new(AtomicBool::new(events.keeps() || json || observed));
        let mut hub = Hub::new(out, events, json);
        hub.timeline = timeline;
        hub.spans = spans;
        hub.memory = memory;
        let task = tokio::spawn(hub.run(rx));
        let subscribed = Arc::new(AtomicBool::new(false));
        (
            LogHub {
                tx,
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
    /// so far, and keeps the lines from here to its END for its Tail when
    /// `capture_tail`. The receiver is told once START is written: the
    /// invoke's event goes to the runtime only then, so none of the
    /// runtime's lines for it can come before START. Invokes may overlap
    /// (multi-concurrency): each tail gets every line written while it is
    /// open.
    pub fn start_invoke(
        &self,
        request_id: &str,
        line: String,
        capture_tail: bool,
    ) -> oneshot::Receiver<()> {
        let (logged, rx) = oneshot::channel();
        let _ = self.tx.send(Message::Start {
            request_id: request_id.to_owned(),
            line,
            capture_tail,
            logged,
        });
        rx
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

#[derive(Clone, Copy)]
enum Read {
    /// The reactor said the pipe is readable.
    Readiness,
    /// Read whatever the kernel holds now.
    Forced,
}

struct Source {
    pipe: pipe::Receiver,
    origin: Origin,
    partial: Vec<u8>,
}

struct Hub<W> {
    out: W,
    events: EventLog,
    sources: Vec<Source>,
    /// The tails being kept, by request id.
    tails: Vec<(String, Vec<u8>)>,
    /// Who waits for STARTs written (and their `platform.start`
    /// recorded): told once the messages queued with them are handled.
    logged: Vec<oneshot::Sender<()>>,
    scratch: Vec<u8>,
    subscribers: Subscribers,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON`.
    json: bool,
    /// This environment's part of the `--timeline`.
    timeline: Option<Recorder>,
    /// This environment's OTLP spans.
    spans: Option<SpanMaker>,
    /// Told each invoke's memory peak.
    memory: Option<MemoryPeaks>,
    /// The trace context of each invoke started and not yet done, by
    /// request id: `platform.runtimeDone` carries its `platform.start`'s.
    traced: Vec<(String, Tracing)>,
}

impl<W: Write> Hub<W> {
    fn new(out: W, events: EventLog, json: bool) -> Self {
        Hub {
            out,
            events,
            sources: Vec::new(),
            tails: Vec::new(),
            logged: Vec::new(),
            scratch: vec![0; 64 * 1024],
            subscribers: Subscribers::default(),
            json,
            timeline: None,
            spans: None,
            memory: None,
            traced: Vec::new(),
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Message>) {
        loop {
            let flush = tokio::select! {
                message = rx.recv() => match message {
                    Some(message) => self.receive(message, &mut rx).await,
                    None => {
                        self.drain_all();
                        let _ = self.out.flush();
                        if let Some(timeline) = &mut self.timeline {
                            timeline.flush();
                        }
                        self.subscribers.close(CLOSE_WITHIN).await;
                        return;
                    }
                },
                index = ready_source(&self.sources) => {
                    self.drain(index, Read::Readiness);
                    true
                }
            };
            if flush {
                let _ = self.out.flush();
            }
            if let Some(timeline) = &mut self.timeline {
                timeline.flush();
            }
        }
    }

    /// Handles `message` and whatever else is queued; says whether to flush.
    async fn receive(
        &mut self,
        mut message: Message,
        rx: &mut mpsc::UnboundedReceiver<Message>,
    ) -> bool {
        // Events only join the log: they are recorded at once, so that a
        // START the engine sent right after them (init done, then the
        // first dispatch) is not held behind the yield below.
        while let Message::Event(event) = message {
            self.record(*event);
            match rx.try_recv() {
                Ok(next) => message = next,
                // In JSON, some events were written as lines.
                Err(_) => return self.json,
            }
        }
        if let Message::Start { .. } = message {
            // At once: the drain before START must happen before the
            // runtime gets its event, or the invoke's first lines would
            // land before START. The write can wait its turn.
            self.handle(message);
            // So must the `platform.start` the engine emitted with it, for
            // the subscribers: the invoke's lines come after it; and the
            // START of another invoke dispatched in the same turn
            // (multi-concurrency).
            let mut after = None;
            while let Ok(next) = rx.try_recv() {
                match next {
                    Message::Event(event) => self.record(*event),
                    start @ Message::Start { .. } => self.handle(start),
                    other => {
                        after = Some(other);
                        break;
                    }
                }
            }
            self.release_logged();
            tokio::task::yield_now().await;
            if let Some(message) = after {
                self.handle(message);
            }
            return true;
        }
        // Anything else is never on an invoke's critical path: let the
        // tasks that answer the runtime and the invoker write first.
        tokio::task::yield_now().await;
        self.handle(message);
        while let Ok(message) = rx.try_recv() {
            self.handle(message);
        }
        self.release_logged();
        true
    }

    /// Tells who waits that their STARTs are written.
    fn release_logged(&mut self) {
        for logged in self.logged.drain(..) {
            let _ = logged.send(());
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Source(pipe, origin) => self.sources.push(Source {
                pipe,
                origin,
                partial: Vec::new(),
            }),
            Message::Subscribe(new) => {
                let event =
                    self.subscribers
                        .subscribe(new.extension_id, new.name, new.subscription);
                self.record(event);
            }
            Message::Start {
                request_id,
                line,
                capture_tail,
                logged,
            } => {
                self.logged.push(logged);
                self.drain_all();
                self.subscribers.invoke_started();
                self.tails.retain(|(id, _)| *id != request_id);
                if capture_tail {
                    if self.tails.len() >= MAX_TAILS {
                        self.tails.remove(0);
                    }
                    self.tails.push((request_id, Vec::new()));
                }
                // In JSON, platform.start is the line.
                if !self.json {
                    self.write_line(line.as_bytes());
                }
            }
            Message::Line(line) => {
                self.drain_all();
                // INIT_REPORT, RESTORE_REPORT: in JSON, their events are.
                if !self.json {
                    self.write_line(line.as_bytes());
                }
            }
            Message::Event(event) => self.record(*event),
            Message::End {
                lines,
                mut report,
                tail,
            } => {
                self.drain_all();
                report.report.max_memory_used_mb = report.memory.mb();
                if let Some(memory) = &self.memory {
                    memory(report.report.max_memory_used_mb);
                }
                let event = || PlatformEvent::now(Report::of(&report.report));
                if self.json {
                    // The timeout line, then platform.report as the REPORT line.
                    for line in &lines {
                        self.write_line(line.as_bytes());
                    }
                    self.record(event());
                } else {
                    // Before the REPORT line: whoever saw REPORT finds its
                    // event. Built only for them.
                    if self.events.keeps()
                        || self.subscribers.wants_events()
                        || self.timeline.is_some()
                        || self.spans.is_some()
                    {
                        self.record(event());
                    }
                    for line in &lines {
                        self.write_line(line.as_bytes());
                    }
                    self.write_line(end_line(&report.report.request_id).as_bytes());
                    self.write_line(report_line(&report.report).as_bytes());
                }
                let id = &report.report.request_id;
                let captured = match self.tails.iter().position(|(open, _)| open == id) {
                    Some(at) => self.tails.remove(at).1,
                    None => Vec::new(),
                };
                if let Some(tail) = tail {
                    let from = captured.len().saturating_sub(TAIL_BYTES);
                    let _ = tail.send(Bytes::copy_from_slice(&captured[from..]));
                }
            }
            Message::Flush(done) => {
                self.drain_all();
                let _ = self.out.flush();
                if let Some(timeline) = &mut self.timeline {
                    timeline.flush();
                }
                let _ = done.send(());
            }
            Message::Mark(mark, time) => {
                if let Some(timeline) = &mut self.timeline {
                    timeline.mark(mark, time);
                }
            }
        }
    }

    /// Every platform event passes here, in order.
    fn record(&mut self, mut event: PlatformEvent) {
        self.trace_context(&mut event.record);
        if let Some(timeline) = &mut self.timeline {
            timeline.event(&event);
        }
        if let Some(spans) = &mut self.spans {
            spans.event(&event);
        }
        let as_line = self.json && replaces_a_line(&event.record);
        if as_line {
            // The processes' lines written before it come first, as they
            // come before the text line it stands for.
            self.drain_all();
            // Only strings, numbers and maps: serialising cannot fail.
            if let Ok(json) = serde_json::to_vec(&event) {
                self.write_line(&json);
            }
        }
        // An init's start opens the backlog later subscribers get.
        let init_start = matches!(event.record, crate::events::Record::InitStart(_));
        if !(init_start || self.subscribers.wants_events()) {
            self.events.push(event);
            return;
        }
        // What the processes wrote before this moment comes before it.
        if self.subscribers.wants_lines() && !as_line {
            self.drain_all();
        }
        if self.events.keeps() {
            self.events.push(event.clone());
        }
        self.subscribers.push(Item::Event(event));
    }

    /// Gives a traced invoke's `platform.start` its span id, and its
    /// `platform.runtimeDone` the same trace context, as Lambda does: a
    /// tracer subscribed to the Telemetry API links the two.
    fn trace_context(&mut self, record: &mut Record) {
        match record {
            Record::Start(start) => {
                let Some(tracing) = &mut start.tracing else {
                    return;
                };
                if tracing.span_id.is_none() {
                    *tracing = Tracing::with_new_span(std::mem::take(&mut tracing.value));
                }
                let id = &start.request_id;
                self.traced.retain(|(open, _)| open != id);
                if self.traced.len() >= MAX_TAILS {
                    self.traced.remove(0);
                }
                self.traced.push((id.clone(), tracing.clone()));
            }
            Record::RuntimeDone(done) if done.tracing.is_none() => {
                let id = &done.request_id;
                if let Some(at) = self.traced.iter().position(|(open, _)| open == id) {
                    done.tracing = Some(self.traced.remove(at).1);
                }
            }
            _ => {}
        }
    }

    fn drain_all(&mut self) {
        let mut index = 0;
        while index < self.sources.len() {
            if self.drain(index, Read::Forced) {
                index += 1;
            }
        }
    }

    /// Reads what source `index` has; returns false when it closed (and was removed).
    fn drain(&mut self, index: usize, how: Read) -> bool {
        loop {
            let pipe = &self.sources[index].pipe;
            let read = match how {
                Read::Readiness => pipe.try_read(&mut self.scratch),
                // tokio's try_read answers WouldBlock until the reactor has
                // seen the pipe become readable; a forced drain must see
                // bytes written a moment ago, so it asks the kernel directly.
                Read::Forced => nix::unistd::read(pipe.as_raw_fd(), &mut self.scratch)
                    .map_err(std::io::Error::from),
            };
            match read {
                Ok(0) => {
                    let source = self.sources.swap_remove(index);
                    if !source.partial.is_empty() {
                        self.log_line(&source.partial, source.origin, SystemTime::now());
                    }
                    return false;
                }
                Ok(n) => self.take_lines(index, n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.sources.swap_remove(index);
                    return false;
                }
            }
        }
    }

    fn take_lines(&mut self, index: usize, n: usize) {
        let origin = self.sources[index].origin;
        // One time for what one read brought: the lines were written by then.
        let now = SystemTime::now();
        let mut partial = std::mem::take(&mut self.sources[index].partial);
        partial.extend_from_slice(&self.scratch[..n]);
        let mut start = 0;
        while let Some(pos) = partial[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let line = &partial[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.log_line(line, origin, now);
            start = end + 1;
        }
        partial.drain(..start);
        while partial.len() >= MAX_LINE {
            let rest = partial.split_off(MAX_LINE);
            self.log_line(&partial, origin, now);
            partial = rest;
        }
        self.sources[index].partial = partial;
    }

    /// A line a process wrote: echoed, in the Tail, and a record for
    /// whoever subscribed to its origin.
    fn log_line(&mut self, line: &[u8], origin: Origin, time: SystemTime) {
        self.write_line(line);
        if self.subscribers.wants_lines() {
            let text = String::from_utf8_lossy(line);
            let json = if self.json { json_object(line) } else { None };
            self.subscribers.push(Item::Line(LineRecord {
                time,
                origin,
                text: text.into(),
                json,
            }));
        }
    }

    fn write_line(&mut self, line: &[u8]) {
        let _ = self.out.write_all(line);
        let _ = self.out.write_all(b"\n");
        for (_, tail) in &mut self.tails {
            tail.extend_from_slice(line);
            tail.push(b'\n');
            // Keep the buffer bounded: only the last TAIL_BYTES are ever returned.
            if tail.len() > 4 * TAIL_BYTES {
                let cut = tail.len() - TAIL_BYTES;
                tail.drain(..cut);
            }
        }
    }
}

/// Resolves with the index of a source that has something to read (or closed).
async fn ready_source(sources: &[Source]) -> usize {
    poll_fn(|cx| {
        for (index, source) in sources.iter().enumerate() {
            if source.pipe.poll_read_ready(cx).is_ready() {
                return Poll::Ready(index);
            }
        }
        Poll::Pending
    })
    .await
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
        hub.start_invoke("id", "START".into(), true);
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
        hub.start_invoke("id", "START".into(), true);
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
        let (logged, _rx) = oneshot::channel();
        hub.handle(Message::Start {
            request_id: "id".into(),
            line: "START".into(),
            capture_tail: false,
            logged,
        });
        assert!(!hub.subscribers.wants_lines(), "the backlog is gone");
    }

    #[tokio::test]
    async fn tail_keeps_the_last_4_kb() {
        let (hub, _task) = LogHub::start(std::io::sink(), EventLog::new(0));
        hub.start_invoke("id", "START".into(), true);
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
