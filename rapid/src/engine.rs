//! The engine: the one task that owns the lifecycle of a sandbox.
//!
//! HTTP handlers and the reaper send it [`Message`]s; where an answer is due
//! the message carries a oneshot. A pending `next` is such a oneshot, held
//! here until there is an invoke to hand out. Nothing else holds lifecycle
//! state, and nothing here blocks on I/O other than reading `/proc`.

use crate::config::FunctionConfig;
use crate::lifecycle::{RuntimeInput, RuntimeState};
use crate::supervisor::{self, ProcessExit};
use bytes::Bytes;
use interop::{
    ErrorType, FunctionError, Invoke, InvokeBody, InvokeOutcome, InvokeResponse, ResponseStream,
    RuntimeEvent,
};
use nix::sys::signal::Signal;
use runtime_api::{ApiError, RuntimeErrorReport, StreamEnd, StreamSink, BUFFERED_RESPONSE_LIMIT};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use telemetry::{InvokeReport, InvokeStatus, LogHub};
use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep_until;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// Everything that can happen to a sandbox.
pub(crate) enum Message {
    Invoke {
        invoke: Invoke,
        reply: Option<oneshot::Sender<InvokeOutcome>>,
    },
    Init,
    Next(Reply<RuntimeEvent>),
    Response {
        request_id: String,
        body: Bytes,
        content_type: Option<String>,
        reply: Reply<()>,
    },
    ResponseTooLarge {
        request_id: String,
        size: u64,
        reply: Reply<()>,
    },
    StreamStart {
        request_id: String,
        content_type: Option<String>,
        reply: Reply<StreamSink>,
    },
    StreamEnd {
        request_id: String,
        end: StreamEnd,
        reply: Reply<()>,
    },
    BadResponseMode {
        request_id: String,
        mode: String,
        reply: Reply<()>,
    },
    Error {
        request_id: String,
        report: RuntimeErrorReport,
        reply: Reply<()>,
    },
    InitError {
        report: RuntimeErrorReport,
        reply: Reply<()>,
    },
    Exited(ProcessExit),
    Shutdown(oneshot::Sender<()>),
}

struct Queued {
    invoke: Invoke,
    reply: Option<oneshot::Sender<InvokeOutcome>>,
    /// Set when the invoke's clock already runs (an init retried for it).
    deadline: Option<Instant>,
}

struct Runtime {
    pid: i32,
    /// The runtime's own peak RSS, known once it has exited.
    exited_max_rss_kb: Option<u64>,
    state: RuntimeState,
    /// The runtime's pending `next`, when it is waiting in one.
    next: Option<Reply<RuntimeEvent>>,
    spawned: Instant,
}

struct InitPhase {
    deadline: Instant,
    /// `init` for the first try, `invoke` for a retry inside an invoke.
    phase: &'static str,
}

struct Current {
    request_id: String,
    reply: Option<oneshot::Sender<InvokeOutcome>>,
    tail: Option<oneshot::Sender<Bytes>>,
    tail_rx: Option<oneshot::Receiver<Bytes>>,
    dispatched: Instant,
    deadline: Instant,
    init_duration: Option<Duration>,
    /// When the runtime answered, how, and with which error type.
    answered: Option<(Instant, InvokeStatus, Option<String>)>,
    /// How a streamed response ends, while it streams.
    stream_end: Option<oneshot::Sender<Result<(), FunctionError>>>,
}

pub(crate) struct Engine {
    cfg: Arc<FunctionConfig>,
    api_address: String,
    logs: LogHub,
    queue: VecDeque<Queued>,
    runtime: Option<Runtime>,
    init: Option<InitPhase>,
    current: Option<Current>,
    /// Init duration waiting for the next REPORT line.
    init_duration: Option<Duration>,
    /// The last init failed: the next one runs inside the invoke's time.
    retry_init: bool,
    shutting_down: bool,
}

impl Engine {
    pub(crate) fn new(cfg: Arc<FunctionConfig>, api_address: String, logs: LogHub) -> Self {
        Engine {
            cfg,
            api_address,
            logs,
            queue: VecDeque::new(),
            runtime: None,
            init: None,
            current: None,
            init_duration: None,
            retry_init: false,
            shutting_down: false,
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Message>) {
        loop {
            let deadline = self.next_deadline();
            let message = tokio::select! {
                message = rx.recv() => message,
                _ = sleep_until(deadline.unwrap_or_else(far_future).into()), if deadline.is_some() => {
                    self.on_deadline();
                    continue;
                }
            };
            match message {
                Some(Message::Shutdown(done)) => {
                    self.shutdown(&mut rx).await;
                    let _ = done.send(());
                    return;
                }
                Some(message) => self.handle(message),
                None => {
                    self.shutdown(&mut rx).await;
                    return;
                }
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Invoke { invoke, reply } => {
                if self.shutting_down {
                    reply_shutdown(invoke, reply);
                    return;
                }
                self.queue.push_back(Queued {
                    invoke,
                    reply,
                    deadline: None,
                });
                self.drive();
            }
            Message::Init => {
                if self.runtime.is_none() && !self.shutting_down {
                    self.start_init(None);
                }
            }
            Message::Next(reply) => self.on_next(reply),
            Message::Response {
                request_id,
                body,
                content_type,
                reply,
            } => {
                let response = InvokeResponse {
                    body: InvokeBody::Buffered(body),
                    content_type,
                };
                let inputs = [RuntimeInput::Response, RuntimeInput::ResponseComplete];
                let result = self.answer(&request_id, &inputs, Ok(response));
                let _ = reply.send(result);
            }
            Message::StreamStart {
                request_id,
                content_type,
                reply,
            } => {
                let _ = reply.send(self.start_stream(&request_id, content_type));
            }
            Message::StreamEnd {
                request_id,
                end,
                reply,
            } => {
                let _ = reply.send(self.end_stream(&request_id, end));
            }
            Message::ResponseTooLarge {
                request_id,
                size,
                reply,
            } => {
                let message = format!(
                    "Response payload size ({size} bytes) exceeded maximum allowed payload size ({BUFFERED_RESPONSE_LIMIT} bytes)."
                );
                let err = FunctionError::new(ErrorType::RESPONSE_SIZE_TOO_LARGE, &message);
                let result = self.answer(&request_id, &[RuntimeInput::ErrorResponse], Err(err));
                let _ = reply.send(result);
            }
            Message::BadResponseMode {
                request_id,
                mode,
                reply,
            } => {
                let message = format!("Invalid response mode header value: {mode}");
                let err = FunctionError::new(ErrorType::INVALID_RESPONSE_MODE, &message);
                let result = self.answer(&request_id, &[RuntimeInput::ErrorResponse], Err(err));
                let _ = reply.send(result);
            }
            Message::Error {
                request_id,
                report,
                reply,
            } => {
                let err = FunctionError::from_runtime(&report.error_type, report.body);
                let result = self.answer(&request_id, &[RuntimeInput::ErrorResponse], Err(err));
                let _ = reply.send(result);
            }
            Message::InitError { report, reply } => {
                let _ = reply.send(self.on_init_error(report));
            }
            Message::Exited(exit) => self.on_exit(exit),
            Message::Shutdown(_) => {} // handled in run
        }
    }

    // ---- driving the queue ------------------------------------------------

    /// Starts whatever the queue needs: an init, or the next invoke.
    fn drive(&mut self) {
        while !self.shutting_down && self.current.is_none() && self.init.is_none() {
            if self.queue.is_empty() {
                return;
            }
            match &self.runtime {
                None => {
                    let deadline = if self.retry_init {
                        // Suppressed init: the retry counts against the invoke.
                        let deadline = Instant::now() + self.cfg.timeout;
                        if let Some(head) = self.queue.front_mut() {
                            head.deadline = Some(deadline);
                        }
                        Some(deadline)
                    } else {
                        None
                    };
                    // A failed start fails the head invoke; go round again.
                    self.start_init(deadline);
                }
                Some(rt) if rt.state == RuntimeState::Ready && rt.next.is_some() => {
                    self.dispatch();
                }
                Some(_) => return, // wait for the runtime's next
            }
        }
    }

    fn start_init(&mut self, invoke_deadline: Option<Instant>) {
        let now = Instant::now();
        let phase = if invoke_deadline.is_some() {
            "invoke"
        } else {
            "init"
        };
        let deadline = invoke_deadline.unwrap_or(now + self.cfg.init_timeout);
        let bootstrap = match &self.cfg.bootstrap {
            Ok(bootstrap) => bootstrap,
            Err(message) => {
                let err = FunctionError::new(ErrorType::RUNTIME_INVALID_ENTRYPOINT, message);
                self.init_failed(now, phase, err, InvokeStatus::Error);
                return;
            }
        };
        let mut env = self.cfg.environment.clone();
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), self.api_address.clone()));
        match supervisor::spawn(&bootstrap.program, &bootstrap.args, &bootstrap.cwd, &env) {
            Ok(spawned) => {
                for fd in [spawned.stdout, spawned.stderr] {
                    if let Err(err) = self.logs.add_source(fd) {
                        tracing::warn!(%err, "cannot capture the runtime's output");
                    }
                }
                tracing::debug!(pid = spawned.pid, "runtime started");
                self.runtime = Some(Runtime {
                    pid: spawned.pid,
                    exited_max_rss_kb: None,
                    state: RuntimeState::Started,
                    next: None,
                    spawned: now,
                });
                self.init = Some(InitPhase { deadline, phase });
            }
            Err(err) => {
                let message = format!("fork/exec {}: {}", bootstrap.program, io_reason(&err));
                let err = FunctionError::new(ErrorType::RUNTIME_INVALID_ENTRYPOINT, &message);
                self.init_failed(now, phase, err, InvokeStatus::Error);
            }
        }
    }

    fn dispatch(&mut self) {
        let (Some(queued), Some(rt)) = (self.queue.pop_front(), self.runtime.as_mut()) else {
            return;
        };
        let Some(next) = rt.next.take() else {
            self.queue.push_front(queued);
            return;
        };
        let now = Instant::now();
        let deadline = queued.deadline.unwrap_or(now + self.cfg.timeout);
        let request_id = queued.invoke.request_id.clone();
        let log_tail = queued.invoke.log_tail;
        self.logs.start_invoke(
            telemetry::start_line(&request_id, &self.cfg.function_version),
            log_tail,
        );
        let event = RuntimeEvent {
            invoke: queued.invoke,
            deadline_ms: epoch_ms_at(deadline),
            function_arn: self.cfg.function_arn.clone(),
        };
        if let Err(Ok(event)) = next.send(Ok(event)) {
            // The runtime's poll went away (its connection closed): keep the
            // invoke for its next poll.
            self.queue.push_front(Queued {
                invoke: event.invoke,
                reply: queued.reply,
                deadline: queued.deadline,
            });
            return;
        }
        rt.state = RuntimeState::Running;
        let (tail, tail_rx) = if log_tail {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.current = Some(Current {
            request_id,
            reply: queued.reply,
            tail,
            tail_rx,
            dispatched: now,
            deadline,
            init_duration: self.init_duration.take(),
            answered: None,
            stream_end: None,
        });
    }

    // ---- the runtime's calls ----------------------------------------------

    fn on_next(&mut self, reply: Reply<RuntimeEvent>) {
        let Some(rt) = self.runtime.as_mut() else {
            let _ = reply.send(Err(invalid_state("no runtime is running")));
            return;
        };
        match rt.state {
            RuntimeState::Ready => {
                if rt.next.as_ref().is_some_and(|n| !n.is_closed()) {
                    let _ = reply.send(Err(invalid_state(
                        "the runtime is already waiting for the next invocation",
                    )));
                    return;
                }
                rt.next = Some(reply);
            }
            state => match state.on(RuntimeInput::Next) {
                Err(err) => {
                    let _ = reply.send(Err(invalid_state(&err.to_string())));
                    return;
                }
                Ok(next_state) => {
                    rt.state = next_state;
                    rt.next = Some(reply);
                    if state == RuntimeState::Started {
                        let elapsed = rt.spawned.elapsed();
                        self.init = None;
                        self.retry_init = false;
                        self.init_duration = Some(elapsed);
                    } else {
                        self.finish_invoke();
                    }
                }
            },
        }
        self.drive();
    }

    /// The runtime and the invoke its call is about, when `request_id` is
    /// the current one.
    fn current_for(&mut self, request_id: &str) -> Result<(&mut Runtime, &mut Current), ApiError> {
        match (self.runtime.as_mut(), self.current.as_mut()) {
            (Some(rt), Some(current)) if current.request_id == request_id => Ok((rt, current)),
            (Some(rt), None) if rt.state == RuntimeState::Started => {
                Err(invalid_state("no invocation has been received yet"))
            }
            _ => Err(ApiError::InvalidRequestId {
                request_id: request_id.to_owned(),
            }),
        }
    }

    /// The runtime answered the current invoke (response or error).
    fn answer(
        &mut self,
        request_id: &str,
        inputs: &[RuntimeInput],
        result: Result<InvokeResponse, FunctionError>,
    ) -> Result<(), ApiError> {
        let (rt, current) = self.current_for(request_id)?;
        let mut state = rt.state;
        for input in inputs {
            state = state
                .on(*input)
                .map_err(|err| invalid_state(&err.to_string()))?;
        }
        rt.state = state;
        let (status, error_type) = match &result {
            Ok(_) => (InvokeStatus::Success, None),
            Err(err) => (InvokeStatus::Error, Some(err.error_type.clone())),
        };
        current.answered = Some((Instant::now(), status, error_type));
        current.send_outcome(result);
        Ok(())
    }

    fn start_stream(
        &mut self,
        request_id: &str,
        content_type: Option<String>,
    ) -> Result<StreamSink, ApiError> {
        let limit = self.cfg.max_stream_bytes;
        let throttle = self.cfg.throttle_streams;
        let (rt, current) = self.current_for(request_id)?;
        rt.state = rt
            .state
            .on(RuntimeInput::Response)
            .map_err(|err| invalid_state(&err.to_string()))?;
        // A few chunks in flight: enough to overlap reading and writing,
        // small enough that a slow invoker slows the runtime down.
        let (chunks_tx, chunks) = mpsc::channel(4);
        let (end_tx, end) = oneshot::channel();
        current.stream_end = Some(end_tx);
        current.send_outcome(Ok(InvokeResponse {
            body: InvokeBody::Streamed(ResponseStream { chunks, end }),
            content_type,
        }));
        Ok(StreamSink {
            chunks: chunks_tx,
            limit,
            throttle,
        })
    }

    fn end_stream(&mut self, request_id: &str, end: StreamEnd) -> Result<(), ApiError> {
        let (rt, current) = self.current_for(request_id)?;
        rt.state = rt
            .state
            .on(RuntimeInput::ResponseComplete)
            .map_err(|err| invalid_state(&err.to_string()))?;
        let (status, error_type) = match &end.result {
            Ok(()) => (InvokeStatus::Success, None),
            Err(err) => (InvokeStatus::Error, Some(err.error_type.clone())),
        };
        if let Some(stream_end) = current.stream_end.take() {
            let _ = stream_end.send(end.result);
        }
        current.answered = Some((Instant::now(), status, error_type));
        Ok(())
    }

    fn on_init_error(&mut self, report: RuntimeErrorReport) -> Result<(), ApiError> {
        let Some(rt) = self.runtime.as_mut() else {
            return Err(invalid_state("no runtime is initializing"));
        };
        rt.state = rt
            .state
            .on(RuntimeInput::InitError)
            .map_err(|err| invalid_state(&err.to_string()))?;
        let phase = self.init.as_ref().map_or("init", |i| i.phase);
        let err = FunctionError::from_runtime(&report.error_type, report.body);
        self.init_failed(Instant::now(), phase, err, InvokeStatus::Error);
        Ok(())
    }

    // ---- endings ----------------------------------------------------------

    /// The current invoke is over (the runtime asked for the next one).
    fn finish_invoke(&mut self) {
        let Some(current) = self.current.take() else {
            return;
        };
        let (answered, status, error_type) =
            current
                .answered
                .clone()
                .unwrap_or((Instant::now(), InvokeStatus::Success, None));
        self.report(current, answered, status, error_type, Vec::new());
    }

    fn report(
        &mut self,
        current: Current,
        end: Instant,
        status: InvokeStatus,
        error_type: Option<String>,
        mut lines: Vec<String>,
    ) {
        let report = InvokeReport {
            request_id: current.request_id.clone(),
            duration: end.saturating_duration_since(current.dispatched),
            memory_size_mb: self.cfg.memory_size_mb,
            max_memory_used_mb: self.max_memory_used_mb(),
            init_duration: current.init_duration,
            status,
            error_type,
        };
        lines.push(telemetry::end_line(&current.request_id));
        lines.push(telemetry::report_line(&report));
        self.logs.end_invoke(lines, current.tail);
    }

    fn max_memory_used_mb(&self) -> u64 {
        let Some(rt) = &self.runtime else {
            return 0;
        };
        match rt.exited_max_rss_kb {
            Some(kb) => kb.div_ceil(1024),
            None => telemetry::peak_rss_mb(&[rt.pid]).unwrap_or(0),
        }
    }

    /// Fails the current invoke (if still unanswered) and resets the sandbox.
    fn fail_current(&mut self, err: FunctionError, status: InvokeStatus, lines: Vec<String>) {
        if let Some(mut current) = self.current.take() {
            let (end, status, error_type) = match current.answered.clone() {
                // Already answered: the invoker has its result; only the
                // REPORT says what happened after.
                Some((_, _, error_type)) if status == InvokeStatus::Timeout => {
                    (Instant::now(), status, error_type)
                }
                Some(answered) => answered,
                None => {
                    let error_type = Some(err.error_type.clone());
                    match current.stream_end.take() {
                        // Mid-stream: the invoker has the headers already.
                        Some(stream_end) => {
                            let _ = stream_end.send(Err(err));
                        }
                        None => current.send_outcome(Err(err)),
                    }
                    (Instant::now(), status, error_type)
                }
            };
            self.report(current, end, status, error_type, lines);
        }
        self.reset();
    }

    /// Init failed: kill the runtime, fail the invoke waiting for it, and
    /// try again on the next invoke.
    fn init_failed(
        &mut self,
        started: Instant,
        phase: &str,
        err: FunctionError,
        status: InvokeStatus,
    ) {
        let duration = self
            .runtime
            .as_ref()
            .map_or(started.elapsed(), |rt| rt.spawned.elapsed());
        self.logs.line(format!(
            "INIT_REPORT Init Duration: {:.2} ms\tPhase: {phase}\tStatus: {}\tError Type: {}",
            duration.as_secs_f64() * 1000.0,
            status.as_str(),
            err.error_type
        ));
        self.reset();
        self.retry_init = true;
        if let Some(queued) = self.queue.pop_front() {
            self.fail_undispatched(queued, err, status);
        }
    }

    /// Fails an invoke that never reached the runtime, with its own START /
    /// END / REPORT lines.
    fn fail_undispatched(&mut self, queued: Queued, err: FunctionError, status: InvokeStatus) {
        let request_id = queued.invoke.request_id.clone();
        let now = Instant::now();
        self.logs.start_invoke(
            telemetry::start_line(&request_id, &self.cfg.function_version),
            queued.invoke.log_tail,
        );
        let (tail, tail_rx) = if queued.invoke.log_tail {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let error_type = Some(err.error_type.clone());
        if let Some(reply) = queued.reply {
            let _ = reply.send(InvokeOutcome {
                request_id: request_id.clone(),
                result: Err(err),
                log_tail: tail_rx,
            });
        }
        let current = Current {
            request_id,
            reply: None,
            tail,
            tail_rx: None,
            dispatched: now,
            deadline: now,
            init_duration: None,
            answered: None,
            stream_end: None,
        };
        self.report(current, now, status, error_type, Vec::new());
    }

    /// Kills the runtime's process group and forgets it; the next invoke
    /// starts a fresh one.
    fn reset(&mut self) {
        if let Some(rt) = self.runtime.take() {
            supervisor::signal_group(rt.pid, Signal::SIGKILL);
        }
        self.init = None;
    }

    fn on_exit(&mut self, exit: ProcessExit) {
        let Some(rt) = self.runtime.as_mut() else {
            return;
        };
        if rt.pid != exit.pid {
            return; // an orphan, or a runtime already reset
        }
        rt.exited_max_rss_kb = Some(exit.max_rss_kb);
        let reason = format!("Runtime exited with error: {}", exit.status);
        tracing::debug!(pid = exit.pid, %reason, "runtime exited");
        if let Some(init) = &self.init {
            let phase = init.phase;
            let message = match self.queue.front() {
                Some(q) => format!("RequestId: {} Error: {reason}", q.invoke.request_id),
                None => format!("Error: {reason}"),
            };
            let err = FunctionError::new(ErrorType::RUNTIME_EXIT_ERROR, &message);
            self.init_failed(Instant::now(), phase, err, InvokeStatus::Error);
        } else if let Some(current) = &self.current {
            let message = format!("RequestId: {} Error: {reason}", current.request_id);
            let err = FunctionError::new(ErrorType::RUNTIME_EXIT_ERROR, &message);
            if current.answered.is_some() {
                self.finish_invoke();
                self.reset();
            } else {
                self.fail_current(err, InvokeStatus::Error, Vec::new());
            }
        } else {
            tracing::warn!(pid = exit.pid, %reason, "the runtime exited while idle; the next invoke starts a new one");
            self.reset();
        }
        self.drive();
    }

    // ---- time -------------------------------------------------------------

    fn next_deadline(&self) -> Option<Instant> {
        match (&self.init, &self.current) {
            (Some(init), _) => Some(init.deadline),
            (None, Some(current)) => Some(current.deadline),
            (None, None) => None,
        }
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        if let Some(init) = &self.init {
            if now < init.deadline {
                return;
            }
            let phase = init.phase;
            let err = match self.queue.front() {
                Some(q) if phase == "invoke" => {
                    timeout_error(&q.invoke.request_id, self.cfg.timeout)
                }
                _ => FunctionError::new(
                    ErrorType::SANDBOX_TIMEDOUT,
                    &format!(
                        "Init timed out after {:.2} seconds",
                        self.cfg.init_timeout.as_secs_f64()
                    ),
                ),
            };
            self.init_failed(now, phase, err, InvokeStatus::Timeout);
            self.drive();
            return;
        }
        let Some(current) = &self.current else {
            return;
        };
        if now < current.deadline {
            return;
        }
        let timeout = self.cfg.timeout;
        let line = telemetry::timeout_line(&timestamp(), &current.request_id, timeout);
        let err = timeout_error(&current.request_id, timeout);
        self.fail_current(err, InvokeStatus::Timeout, vec![line]);
        self.drive();
    }

    // ---- shutdown ---------------------------------------------------------

    async fn shutdown(&mut self, rx: &mut mpsc::UnboundedReceiver<Message>) {
        self.shutting_down = true;
        let pending: Vec<Queued> = self.queue.drain(..).collect();
        for queued in pending {
            reply_shutdown(queued.invoke, queued.reply);
        }
        let pid = self.runtime.as_ref().map(|rt| rt.pid);
        let err = FunctionError::new(
            ErrorType::SANDBOX_SHUTDOWN,
            "The execution environment shut down during the invocation.",
        );
        self.init = None;
        self.fail_current(err, InvokeStatus::Error, Vec::new());
        // No extension can be registered yet, so the runtime gets SIGKILL at
        // once (spec §4); wait (briefly) until it is reaped.
        if let Some(pid) = pid {
            let wait = async {
                while let Some(message) = rx.recv().await {
                    match message {
                        Message::Exited(exit) if exit.pid == pid => return,
                        other => self.refuse_during_shutdown(other),
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
        }
        supervisor::kill_all_children();
        self.logs.flush().await;
    }

    fn refuse_during_shutdown(&mut self, message: Message) {
        match message {
            Message::Invoke { invoke, reply } => reply_shutdown(invoke, reply),
            Message::Next(reply) => {
                let _ = reply.send(Err(ApiError::ShuttingDown));
            }
            Message::StreamStart { reply, .. } => {
                let _ = reply.send(Err(ApiError::ShuttingDown));
            }
            Message::Response { reply, .. }
            | Message::StreamEnd { reply, .. }
            | Message::ResponseTooLarge { reply, .. }
            | Message::BadResponseMode { reply, .. }
            | Message::Error { reply, .. }
            | Message::InitError { reply, .. } => {
                let _ = reply.send(Err(ApiError::ShuttingDown));
            }
            Message::Shutdown(done) => {
                let _ = done.send(());
            }
            Message::Init | Message::Exited(_) => {}
        }
    }
}

impl Current {
    /// Hands the result to the invoker (once).
    fn send_outcome(&mut self, result: Result<InvokeResponse, FunctionError>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(InvokeOutcome {
                request_id: self.request_id.clone(),
                result,
                log_tail: self.tail_rx.take(),
            });
        }
    }
}

fn reply_shutdown(invoke: Invoke, reply: Option<oneshot::Sender<InvokeOutcome>>) {
    if let Some(reply) = reply {
        let _ = reply.send(InvokeOutcome {
            request_id: invoke.request_id,
            result: Err(FunctionError::new(
                ErrorType::SANDBOX_SHUTDOWN,
                "The execution environment is shutting down.",
            )),
            log_tail: None,
        });
    }
}

fn timeout_error(request_id: &str, timeout: Duration) -> FunctionError {
    FunctionError::new(
        ErrorType::SANDBOX_TIMEDOUT,
        &format!(
            "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
            timeout.as_secs_f64()
        ),
    )
}

fn invalid_state(message: &str) -> ApiError {
    ApiError::InvalidStateTransition {
        message: message.to_owned(),
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365)
}

/// The Unix epoch milliseconds of a future instant.
fn epoch_ms_at(at: Instant) -> u64 {
    let now_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ahead = at.saturating_duration_since(Instant::now());
    (now_epoch + ahead).as_millis() as u64
}

fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
