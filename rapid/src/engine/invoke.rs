//! Running one invoke: dispatch to the runtime (and INVOKE to extensions),
//! the runtime's answers, completion, and the START / END / REPORT lines.

use super::invocations::Invocations;
use super::{
    epoch_ms_at, invalid_state, is_foreign, timestamp, Dispatched, Done, Engine, Queued, Reply,
    Runtime, FOREIGN_RUNTIME,
};
use crate::lifecycle::deadlines::after;
use crate::lifecycle::teardown;
use crate::lifecycle::{
    self, AfterNext, AnswerRefused, InvalidTransition, NextCall, Poll, RuntimeInput, RuntimeState,
};
use crate::supervisor::Caller;
use bytes::Bytes;
use interop::contract::{
    InvokeFailure, InvokeMetrics, InvokeSuccess, ResponseMetrics, ResponseMode,
};
use interop::{
    ErrorType, FunctionError, InvokeBody, InvokeOutcome, InvokeResponse, ResponseStream,
    RuntimeEvent,
};
use runtime_api::{ApiError, StreamEnd, StreamSink};
use std::time::{Duration, Instant, SystemTime};
use telemetry::events::{RuntimeDone, RuntimeDoneMetrics, Span, Start, Status, Tracing};
use telemetry::{
    InvokeReport, InvokeStatus, InvokeTimings, LogHub, MemoryUse, PlatformEvent, ReportRequest,
};
use tokio::sync::{mpsc, oneshot};

/// The invoke in progress.
pub(super) struct Current {
    pub(super) request_id: String,
    reply: Option<oneshot::Sender<InvokeOutcome>>,
    /// Told when the invoke is complete.
    done: Option<Done>,
    /// The runtime streams its response.
    streamed: bool,
    tail: Option<oneshot::Sender<Bytes>>,
    tail_rx: Option<oneshot::Receiver<Bytes>>,
    dispatched: Instant,
    pub(super) deadline: Instant,
    pub(super) init_duration: Option<Duration>,
    /// The restore this invoke waited for (init caching), if any.
    pub(super) restore_duration: Option<Duration>,
    /// When the runtime answered, how, and with which error type.
    answered: Option<(Instant, InvokeStatus, Option<ErrorType>)>,
    /// How a streamed response ends, while it streams.
    stream_end: Option<oneshot::Sender<Result<(), FunctionError>>>,
    timings: InvokeTimings,
    /// When the runtime asked for its next invoke after answering.
    runtime_done: Option<Instant>,
    /// Multi-concurrency: where the runtime's answer to this invoke is in
    /// the runtime's table (from `Running`); `None` with one invoke at a
    /// time, where the runtime's own state is.
    pub(super) answer_state: Option<RuntimeState>,
    /// Multi-concurrency: the invoke timed out while its worker is still
    /// inside it: its completion waits in `Workers.held_slots`.
    pub(super) holds_slot: bool,
}

impl Current {
    pub(super) fn new(
        queued_reply: Option<oneshot::Sender<InvokeOutcome>>,
        done: Option<Done>,
        request_id: String,
        log_tail: bool,
        deadline: Instant,
    ) -> Self {
        let (tail, tail_rx) = if log_tail {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        Current {
            request_id,
            reply: queued_reply,
            done,
            streamed: false,
            tail,
            tail_rx,
            dispatched: Instant::now(),
            deadline,
            init_duration: None,
            restore_duration: None,
            answered: None,
            stream_end: None,
            timings: InvokeTimings::default(),
            runtime_done: None,
            answer_state: None,
            holds_slot: false,
        }
    }

    /// Steps this invoke's answer through the runtime's table: its own
    /// place in it (multi-concurrency), else the runtime's state.
    fn step_answer(
        &mut self,
        rt: &mut Runtime,
        inputs: &[RuntimeInput],
    ) -> Result<(), InvalidTransition> {
        let from = self.answer_state.unwrap_or(rt.state);
        let state = inputs
            .iter()
            .try_fold(from, |state, input| state.on(*input))?;
        match self.answer_state.as_mut() {
            Some(own) => *own = state,
            None => rt.set_state(state),
        }
        Ok(())
    }

    /// The status of its answer (success when it has none yet).
    pub(super) fn answer_status(&self) -> InvokeStatus {
        self.answered
            .as_ref()
            .map_or(InvokeStatus::Success, |(_, status, _)| *status)
    }

    /// When the runtime answered, and the answer's error type.
    pub(super) fn answered_at(&self) -> Option<(Instant, Option<ErrorType>)> {
        let (at, _, error_type) = self.answered.as_ref()?;
        Some((*at, error_type.clone()))
    }

    /// Fails the unanswered invoke at `now` with `err`: its
    /// `platform.runtimeDone`, and the error to its invoker (or to the end
    /// of a stream already under way).
    pub(super) fn fail(
        &mut self,
        err: FunctionError,
        now: Instant,
        status: InvokeStatus,
        logs: &LogHub,
    ) {
        if logs.records_events() {
            logs.emit(self.runtime_done(now, status, Some(&err.error_type)));
        }
        match self.stream_end.take() {
            // Mid-stream: the invoker has the headers already.
            Some(stream_end) => {
                let _ = stream_end.send(Err(err));
            }
            None => self.send_outcome(Err(err)),
        }
    }

    /// `platform.runtimeDone` for the runtime's work on this invoke ending
    /// at `end` with `status`: the spans of its response when it gave one.
    fn runtime_done(
        &self,
        end: Instant,
        status: InvokeStatus,
        error_type: Option<&ErrorType>,
    ) -> PlatformEvent {
        let time = SystemTime::now();
        let ran = end.saturating_duration_since(self.dispatched);
        let spans = match (
            self.timings.response_latency,
            self.timings.response_duration,
        ) {
            (Some(latency), Some(duration)) => {
                // The wall-clock time of dispatch, from the event's own.
                let dispatched = time.checked_sub(end.elapsed() + ran).unwrap_or(time);
                vec![
                    Span::response_latency(dispatched, latency),
                    Span::response_duration(dispatched + latency, duration),
                ]
            }
            _ => Vec::new(),
        };
        PlatformEvent {
            time,
            record: RuntimeDone {
                request_id: self.request_id.clone(),
                status: Status::runtime_done(status, error_type),
                error_type: error_type.cloned(),
                metrics: RuntimeDoneMetrics {
                    duration: ran,
                    produced_bytes: self.timings.produced_bytes.unwrap_or(0),
                },
                spans,
                // The log hub gives it platform.start's.
                tracing: None,
            }
            .into(),
        }
    }

    pub(super) fn has_answered(&self) -> bool {
        self.answered.is_some()
    }

    /// What the runtime's answer measured, once it answered (or began to
    /// stream).
    pub(super) fn response_metrics(&self) -> Option<ResponseMetrics> {
        let latency = self.timings.response_latency?;
        Some(ResponseMetrics {
            latency,
            duration: self.timings.response_duration.unwrap_or_default(),
            produced_bytes: self.timings.produced_bytes.unwrap_or_default(),
            mode: if self.streamed {
                ResponseMode::Streaming
            } else {
                ResponseMode::Buffered
            },
        })
    }

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

/// `platform.start`, beside the START line.
fn start_event(request_id: &str, version: &str, trace_id: &str) -> PlatformEvent {
    PlatformEvent::now(Start {
        request_id: request_id.to_owned(),
        version: version.to_owned(),
        tracing: (!trace_id.is_empty()).then(|| Tracing {
            value: trace_id.to_owned(),
            // The log hub gives it one.
            span_id: None,
        }),
    })
}

impl Engine {
    /// An invoke begins: its START line and `platform.start`, written
    /// after what the runtime printed so far, before the event goes out:
    /// its lines for this invoke come after START.
    pub(super) fn announce(&self, request_id: &str, trace_id: &str, log_tail: bool) {
        let event = self
            .logs
            .records_events()
            .then(|| start_event(request_id, &self.cfg.function_version, trace_id));
        self.logs.start_invoke(
            request_id,
            telemetry::start_line(request_id, &self.cfg.function_version),
            log_tail,
            event,
        );
    }

    /// Hands the head of the queue to the runtime waiting in `next`; false
    /// when it could not go out (the poll's connection closed: the invoke
    /// stays queued for the runtime's next poll).
    pub(super) fn dispatch(&mut self) -> bool {
        if self.invocations.is_many() {
            return self.dispatch_concurrent();
        }
        // Thawed before the event is handed out: the frozen time is
        // outside the invoke.
        self.thaw();
        let Some(rt) = self.runtime.as_mut() else {
            return false;
        };
        let running = match rt.state.on(RuntimeInput::Dispatch) {
            Ok(state) if rt.next.is_some() => state,
            // `next_start` dispatches only to a Ready runtime waiting in next.
            result => {
                tracing::warn!(?result, "dispatch refused");
                return false;
            }
        };
        let (Some(next), Some(queued)) = (rt.next.take(), self.queue.pop_front()) else {
            return false;
        };
        if next.is_closed() {
            // The runtime's poll went away (its connection closed): keep the
            // invoke for its next poll.
            self.queue.push_front(queued);
            return false;
        }
        let trace_id = queued.invoke.trace_id.clone();
        let Some(current) = self.hand_out(next, queued) else {
            return false;
        };
        if let Some(rt) = self.runtime.as_mut() {
            rt.set_state(running);
        }
        self.extensions.send_invoke(
            epoch_ms_at(current.deadline),
            &current.request_id,
            &self.cfg.function_arn,
            &trace_id,
        );
        self.invocations = Invocations::One(Some(current));
        true
    }

    /// Hands `queued` to the runtime's `poll` (its START written first):
    /// the invoke it has begun, or `None` with the invoke back at the head
    /// of the queue when the poll went away meanwhile (it cannot on one
    /// thread: callers look at `is_closed` first).
    pub(super) fn hand_out(&mut self, poll: Reply<Dispatched>, queued: Queued) -> Option<Current> {
        let Queued {
            invoke,
            reply,
            done,
            deadline: waited,
        } = queued;
        let deadline = waited.unwrap_or_else(|| after(Instant::now(), self.cfg.timeout));
        let (request_id, log_tail, measured_restore) = (
            invoke.request_id.clone(),
            invoke.log_tail,
            invoke.restore_duration,
        );
        self.announce(&request_id, &invoke.trace_id, log_tail);
        let event = RuntimeEvent {
            invoke,
            deadline_ms: epoch_ms_at(deadline),
            function_arn: self.cfg.function_arn.clone(),
        };
        if let Err(Ok(Dispatched { event })) = poll.send(Ok(Dispatched { event })) {
            self.queue.push_front(Queued {
                invoke: event.invoke,
                reply,
                done,
                deadline: waited,
            });
            return None;
        }
        let mut current = Current::new(reply, done, request_id, log_tail, deadline);
        current.init_duration = self.init_duration.take();
        current.restore_duration = self.restore_duration.take().or(measured_restore);
        Some(current)
    }

    /// The runtime's `next`: init is done, or the previous invoke is, as
    /// `lifecycle::on_next` decides.
    pub(super) fn on_next(&mut self, caller: Option<Caller>, reply: Reply<Dispatched>) {
        let resetting = self.ending.teardown().is_some();
        let current_generation = self.generations.current_id();
        let call = {
            let rt = self.runtime.as_ref();
            let poll = match rt.and_then(|rt| rt.next.as_ref()) {
                None => Poll::None,
                Some(next) if next.is_closed() => Poll::Closed,
                Some(_) => Poll::Open,
            };
            lifecycle::on_next(
                resetting,
                self.invocations.is_many(),
                rt.map(|rt| rt.state),
                poll,
            )
        };
        let then = match call {
            NextCall::Refused(why) => {
                let _ = reply.send(Err(invalid_state(why)));
                return;
            }
            NextCall::HeldUntilStreamEnds | NextCall::Waits => {
                if let Some(rt) = self.runtime.as_mut() {
                    rt.next = Some(reply);
                }
                if call == NextCall::Waits {
                    self.drive();
                }
                return;
            }
            NextCall::WorkerPoll => {
                // A worker's next ends nothing: it is one more poll.
                self.concurrent_poll(reply);
                return;
            }
            NextCall::Steps(then) => then,
        };
        let Some(rt) = self.runtime.as_mut() else {
            return;
        };
        if then == AfterNext::Init
            && is_foreign(caller, current_generation, &[rt.pid], "a runtime's next")
        {
            let _ = reply.send(Err(invalid_state(FOREIGN_RUNTIME)));
            return;
        }
        if let Err(err) = rt.step(RuntimeInput::Next) {
            let _ = reply.send(Err(err.into()));
            return;
        }
        rt.next = Some(reply);
        match then {
            AfterNext::Init => self.runtime_ready(),
            AfterNext::Restore => self.restore_done(),
            AfterNext::Invoke => {
                if let Some(current) = self.invocations.current_mut() {
                    current.runtime_done = Some(Instant::now());
                }
                self.maybe_finish_invoke();
            }
        }
        self.drive();
    }

    /// The runtime and the invoke its call is about, when `request_id` is
    /// the current one.
    fn current_for(&mut self, request_id: &str) -> Result<(&mut Runtime, &mut Current), ApiError> {
        let invalid_id = || ApiError::InvalidRequestId {
            request_id: request_id.to_owned(),
        };
        if self.invocations.is_many() {
            let at = self.inflight_index(request_id)?;
            return match (self.runtime.as_mut(), &mut self.invocations) {
                (Some(rt), Invocations::Many(workers)) => match workers.inflight.get_mut(at) {
                    Some(current) => Ok((rt, current)),
                    None => Err(invalid_id()),
                },
                _ => Err(invalid_id()),
            };
        }
        let runtime = self.runtime.as_ref().map(|rt| rt.state);
        let current = self
            .invocations
            .current()
            .map(|c| c.request_id == request_id);
        match lifecycle::may_answer(runtime, current) {
            Ok(()) => {}
            Err(AnswerRefused::NoInvocationYet) => {
                return Err(invalid_state("no invocation has been received yet"))
            }
            Err(AnswerRefused::InvalidRequestId) => return Err(invalid_id()),
        }
        // `may_answer` found both.
        match (self.runtime.as_mut(), self.invocations.current_mut()) {
            (Some(rt), Some(current)) => Ok((rt, current)),
            _ => Err(invalid_id()),
        }
    }

    pub(super) fn on_response(
        &mut self,
        request_id: &str,
        body: Bytes,
        content_type: Option<String>,
    ) -> Result<(), ApiError> {
        let response = InvokeResponse {
            body: InvokeBody::Buffered(body),
            content_type,
        };
        let inputs = [RuntimeInput::Response, RuntimeInput::ResponseComplete];
        self.answer(request_id, &inputs, Ok(response))
    }

    pub(super) fn on_error(
        &mut self,
        request_id: &str,
        err: FunctionError,
    ) -> Result<(), ApiError> {
        self.answer(request_id, &[RuntimeInput::ErrorResponse], Err(err))
    }

    /// The runtime answered the current invoke (response or error).
    fn answer(
        &mut self,
        request_id: &str,
        inputs: &[RuntimeInput],
        result: Result<InvokeResponse, FunctionError>,
    ) -> Result<(), ApiError> {
        let records = self.logs.records_events();
        let (rt, current) = self.current_for(request_id)?;
        current.step_answer(rt, inputs)?;
        let (status, error_type, size) = match &result {
            Ok(InvokeResponse {
                body: InvokeBody::Buffered(body),
                ..
            }) => (InvokeStatus::Success, None, body.len()),
            Ok(_) => (InvokeStatus::Success, None, 0),
            Err(err) => (
                InvokeStatus::Error,
                Some(err.error_type.clone()),
                err.body.len(),
            ),
        };
        let now = Instant::now();
        current.timings.response_latency = Some(now - current.dispatched);
        current.timings.response_duration = Some(Duration::ZERO);
        current.timings.produced_bytes = Some(size as u64);
        let done = records.then(|| current.runtime_done(now, status, error_type.as_ref()));
        current.answered = Some((now, status, error_type));
        current.send_outcome(result);
        if let Some(done) = done {
            self.logs.emit(done);
        }
        self.answered_concurrent(request_id);
        Ok(())
    }

    pub(super) fn start_stream(
        &mut self,
        request_id: &str,
        content_type: Option<String>,
    ) -> Result<StreamSink, ApiError> {
        let limit = self.cfg.max_stream_bytes;
        let throttle = self.cfg.throttle_streams;
        let (rt, current) = self.current_for(request_id)?;
        current.step_answer(rt, &[RuntimeInput::Response])?;
        // A few chunks in flight: enough to overlap reading and writing,
        // small enough that a slow invoker slows the runtime down.
        let (chunks_tx, chunks) = mpsc::channel(4);
        let (end_tx, end) = oneshot::channel();
        current.stream_end = Some(end_tx);
        current.streamed = true;
        current.timings.response_latency = Some(current.dispatched.elapsed());
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

    pub(super) fn end_stream(&mut self, request_id: &str, end: StreamEnd) -> Result<(), ApiError> {
        let records = self.logs.records_events();
        let (rt, current) = self.current_for(request_id)?;
        current.step_answer(rt, &[RuntimeInput::ResponseComplete])?;
        let (status, error_type) = match &end.result {
            Ok(()) => (InvokeStatus::Success, None),
            Err(err) => (InvokeStatus::Error, Some(err.error_type.clone())),
        };
        if let Some(stream_end) = current.stream_end.take() {
            let _ = stream_end.send(end.result);
        }
        let now = Instant::now();
        let first_byte = end.first_byte.unwrap_or(now);
        current.timings.response_latency =
            Some(first_byte.saturating_duration_since(current.dispatched));
        current.timings.response_duration = Some(now.saturating_duration_since(first_byte));
        current.timings.produced_bytes = Some(end.size);
        let done = records.then(|| current.runtime_done(now, status, error_type.as_ref()));
        current.answered = Some((now, status, error_type));
        if current.answer_state.is_some() {
            if let Some(done) = done {
                self.logs.emit(done);
            }
            self.answered_concurrent(request_id);
            return Ok(());
        }
        // A next that came while the stream was still open.
        let held_next = match rt.next.is_some().then(|| rt.state.on(RuntimeInput::Next)) {
            Some(Ok(next)) => {
                rt.set_state(next);
                current.runtime_done = Some(now);
                Ok(true)
            }
            Some(Err(err)) => Err(ApiError::from(err)),
            None => Ok(false),
        };
        if let Some(done) = done {
            self.logs.emit(done);
        }
        if held_next? {
            self.maybe_finish_invoke();
        }
        Ok(())
    }

    /// The invoke is over when the runtime answered and asked for the next
    /// one, and every extension that got INVOKE asked for its next event.
    pub(super) fn maybe_finish_invoke(&mut self) {
        let runtime = self.runtime.as_ref().map(|rt| rt.state);
        let answered = self.invocations.answered();
        if !lifecycle::invoke_complete(runtime, answered, self.extensions.all_ready()) {
            return;
        }
        let Some(mut current) = self.invocations.take_current() else {
            return;
        };
        self.idle_since = Instant::now();
        let (answered, status, error_type) =
            current
                .answered
                .clone()
                .unwrap_or((Instant::now(), InvokeStatus::Success, None));
        let runtime_done = current.runtime_done.unwrap_or(answered);
        current.timings.post_runtime_extensions = Some(runtime_done.elapsed());
        self.report(current, answered, status, error_type, Vec::new(), None);
        // A reset asked after the answer starts now, before any queued
        // invoke is dispatched.
        self.start_pending_reset();
    }

    /// Writes END and REPORT and tells who waits for the invoke's end.
    /// `failed`: the invoke failed with this type and a teardown follows at
    /// once, so memory is read before anything is killed. The sandbox's
    /// memory cgroup is read here; without one, the log hub walks the
    /// process trees as it writes REPORT (here before a teardown).
    pub(super) fn report(
        &mut self,
        mut current: Current,
        end: Instant,
        status: InvokeStatus,
        error_type: Option<ErrorType>,
        lines: Vec<String>,
        failed: Option<ErrorType>,
    ) {
        let measure_now = failed.is_some();
        if let Some(done) = current.done.take() {
            let metrics = InvokeMetrics {
                duration: end.saturating_duration_since(current.dispatched),
                init_duration: current.init_duration,
                response: current.response_metrics(),
            };
            let request_id = current.request_id.clone();
            let completion = match failed.clone() {
                Some(error_type) => Err(InvokeFailure {
                    request_id,
                    error_type,
                    metrics,
                }),
                None => Ok(InvokeSuccess {
                    request_id,
                    function_error: error_type.clone(),
                    metrics,
                }),
            };
            self.invocations
                .complete(done, completion, current.holds_slot);
        }
        let report = InvokeReport {
            request_id: current.request_id.clone(),
            duration: end.saturating_duration_since(current.dispatched),
            memory_size_mb: self.cfg.memory_size_mb,
            max_memory_used_mb: 0, // filled in by the log hub
            init_duration: current.init_duration,
            restore_duration: current.restore_duration,
            status,
            error_type,
            timings: current.timings,
        };
        tracing::debug!(
            request_id = %report.request_id,
            timings = ?report.timings,
            "invoke done"
        );
        let memory = match self.processes.memory_peak_mb() {
            Some(mb) => MemoryUse::Measured(mb),
            None => self.memory_of_trees(measure_now),
        };
        // The next invoke's peak starts here, unless another is in flight
        // (its span would lose the peak so far) or a teardown follows
        // (the next init starts it again).
        if failed.is_none() && !self.invocations.any() {
            self.processes.reset_memory_peak();
        }
        let request = ReportRequest { report, memory };
        self.logs.end_invoke(lines, request, current.tail);
    }

    /// Without a memory cgroup: the peak RSS of the runtime's and the
    /// extensions' trees, measured `now` (before a teardown kills them),
    /// else by the log hub as it writes REPORT.
    fn memory_of_trees(&self, now: bool) -> MemoryUse {
        let (mut live_pids, mut exited_kb) = self.extensions.memory_roots();
        if let Some(rt) = &self.runtime {
            match rt.exited_max_rss_kb {
                Some(kb) => exited_kb += kb,
                None => live_pids.push(rt.pid),
            }
        }
        let trees = MemoryUse::Trees {
            live_pids,
            exited_kb,
        };
        if now {
            MemoryUse::Measured(trees.mb())
        } else {
            trees
        }
    }

    /// Fails the current invoke (if still unanswered), reports it, and
    /// resets the sandbox.
    pub(super) fn fail_current(&mut self, err: FunctionError, status: InvokeStatus) {
        if self.invocations.is_many() {
            self.fail_inflight(|_| err.clone(), status);
            return;
        }
        if status != InvokeStatus::Success {
            self.fatal(&err.error_type);
        }
        let mut lines = Vec::new();
        let failed = Some(err.error_type.clone());
        if let Some(mut current) = self.invocations.take_current() {
            if status == InvokeStatus::Timeout {
                lines.push(telemetry::timeout_line(
                    &timestamp(),
                    &current.request_id,
                    self.cfg.timeout,
                ));
            }
            let (end, status, error_type) = match current.answered.clone() {
                // The invoker has its result already; the REPORT says what
                // happened after.
                Some((answered_at, answered_status, answered_type)) => match status {
                    // Nothing went wrong with this invoke itself: its
                    // Duration ends with the runtime's answer.
                    InvokeStatus::Success => (answered_at, answered_status, answered_type),
                    failure => (
                        Instant::now(),
                        failure,
                        answered_type.or(Some(err.error_type.clone())),
                    ),
                },
                None => {
                    let error_type = Some(err.error_type.clone());
                    let now = Instant::now();
                    current.fail(err, now, status, &self.logs);
                    (now, status, error_type)
                }
            };
            self.report(current, end, status, error_type, lines, failed);
        }
        let timed_out = status == InvokeStatus::Timeout;
        self.begin_teardown(teardown::reason(self.ending.is_shutdown(), timed_out));
    }

    /// Fails an invoke that never reached the runtime, with its own START /
    /// END / REPORT lines.
    pub(super) fn fail_undispatched(
        &mut self,
        queued: Queued,
        err: FunctionError,
        status: InvokeStatus,
    ) {
        let request_id = queued.invoke.request_id.clone();
        self.announce(&request_id, &queued.invoke.trace_id, queued.invoke.log_tail);
        let mut current = Current::new(
            queued.reply,
            queued.done,
            request_id,
            queued.invoke.log_tail,
            Instant::now(),
        );
        let error_type = Some(err.error_type.clone());
        if self.logs.records_events() {
            self.logs
                .emit(current.runtime_done(Instant::now(), status, error_type.as_ref()));
        }
        current.send_outcome(Err(err));
        self.report(
            current,
            Instant::now(),
            status,
            error_type.clone(),
            Vec::new(),
            error_type,
        );
    }

    pub(super) fn invoke_timed_out(&mut self) {
        if self.invocations.is_many() {
            self.concurrent_timed_out();
            return;
        }
        let Some(current) = self.invocations.current() else {
            return;
        };
        let message = format!(
            "RequestId: {} Error: Task timed out after {:.2} seconds",
            current.request_id,
            self.cfg.timeout.as_secs_f64()
        );
        let err = FunctionError::new(ErrorType::SandboxTimedout, &message);
        self.fail_current(err, InvokeStatus::Timeout);
    }
}
