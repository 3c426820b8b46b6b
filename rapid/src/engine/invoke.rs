//! Running one invoke: dispatch to the runtime (and INVOKE to extensions),
//! the runtime's answers, completion, and the START / END / REPORT lines.

use super::current::{start_event, Current};
use super::invocations::Invocations;
use super::{
    epoch_ms_at, invalid_state, is_foreign, Dispatched, Engine, Queued, Reply, Runtime,
    FOREIGN_RUNTIME,
};
use crate::lifecycle::deadlines::after;
use crate::lifecycle::{
    self, AfterNext, AnswerFor, CallerCheck, ForwardRefused, NextCall, Poll, RuntimeCall,
    RuntimeInput, StreamEnded,
};
use crate::supervisor::Caller;
use bytes::Bytes;
use interop::{FunctionError, InvokeBody, InvokeResponse, ResponseStream, RuntimeEvent};
use runtime_api::{ApiError, StreamEnd, StreamSink};
use std::time::{Duration, Instant};
use telemetry::InvokeStatus;
use tokio::sync::{mpsc, oneshot};

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
        match self.phase.invocations() {
            Some(Invocations::One(_)) => {}
            Some(Invocations::Many(_)) => return self.dispatch_concurrent(),
            // `next_start` dispatches only to an initialized runtime.
            None => return false,
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
        if let Some(Invocations::One(slot)) = self.phase.invocations_mut() {
            *slot = Some(current);
        }
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
        let resetting = self.phase.teardown().is_some();
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
                self.multi_concurrency(),
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
        let foreign = || is_foreign(caller, current_generation, &[rt.pid], "a runtime's next");
        if lifecycle::on_runtime_caller(RuntimeCall::Next(then), foreign) == CallerCheck::Foreign {
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
                if let Some(current) = self
                    .phase
                    .invocations_mut()
                    .and_then(Invocations::current_mut)
                {
                    current.runtime_done = Some(Instant::now());
                }
                self.maybe_finish_invoke();
            }
        }
        self.drive();
    }

    /// The runtime and the invoke its answer for `request_id` is about,
    /// as `lifecycle::answer_for` finds it: the invoke in progress, or one
    /// of those in flight with multi-concurrency.
    fn current_for(&mut self, request_id: &str) -> Result<(&mut Runtime, &mut Current), ApiError> {
        let invocations = self.phase.invocations();
        let at = match invocations {
            Some(Invocations::Many(workers)) => workers
                .inflight
                .iter()
                .position(|c| c.request_id == request_id),
            _ => None,
        };
        let current = invocations
            .and_then(Invocations::current)
            .map(|c| c.request_id == request_id);
        let runtime = self.runtime.as_ref();
        let timed_out = || runtime.is_some_and(|rt| rt.has_timed_out(request_id));
        let found = lifecycle::answer_for(
            self.multi_concurrency(),
            runtime.map(|rt| rt.state),
            current,
            at.is_some(),
            timed_out,
        );
        let invalid_id = || ApiError::InvalidRequestId {
            request_id: request_id.to_owned(),
        };
        match found {
            AnswerFor::Current | AnswerFor::InFlight => {}
            AnswerFor::NoInvocationYet => {
                return Err(invalid_state("no invocation has been received yet"))
            }
            AnswerFor::TimedOut => {
                return Err(ApiError::InvocationTimedOut {
                    request_id: request_id.to_owned(),
                })
            }
            AnswerFor::InvalidRequestId => return Err(invalid_id()),
        }
        // `answer_for` found both.
        let current = match self.phase.invocations_mut() {
            Some(Invocations::One(current)) => current.as_mut(),
            Some(Invocations::Many(workers)) => at.and_then(|at| workers.inflight.get_mut(at)),
            None => None,
        };
        match (self.runtime.as_mut(), current) {
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
        let size = body_len(&response);
        self.answer(request_id, &ANSWERED, size, Answer::Whole(Ok(response)))
    }

    /// A buffered response with a `Content-Length` begins: its bytes go to
    /// the invoker as they arrive (`InvokeBody::Arriving`). Nothing else
    /// changes for the engine: the runtime's answer is taken when the body
    /// is whole (`on_forwarded`), or fails as a body read whole fails, and
    /// meanwhile a failure (a crash, the timeout) ends the invoker's body
    /// through `stream_end`. Refused (the runtime then reads the body whole
    /// and answers with `on_response`, which says why) when the invoke could
    /// not take this answer now or has no invoker waiting.
    pub(super) fn start_forward(
        &mut self,
        request_id: &str,
        content_type: Option<String>,
        length: u64,
    ) -> Result<StreamSink, ApiError> {
        let (rt, current) = self.current_for(request_id)?;
        let from = current.answer_state.unwrap_or(rt.state);
        let waits = current.reply.is_some();
        match lifecycle::may_forward(from, waits, current.stream_end.is_some()) {
            Ok(()) => {}
            Err(ForwardRefused::Transition(err)) => return Err(err.into()),
            Err(ForwardRefused::UnderWay) => {
                return Err(invalid_state("the invoke's answer is under way"))
            }
        }
        // As a streamed response's: a few chunks in flight.
        let (chunks_tx, chunks) = mpsc::channel(4);
        let (end_tx, end) = oneshot::channel();
        current.stream_end = Some(end_tx);
        current.send_outcome(Ok(InvokeResponse {
            body: InvokeBody::Arriving {
                length,
                stream: ResponseStream { chunks, end },
            },
            content_type,
        }));
        Ok(StreamSink {
            chunks: chunks_tx,
            limit: length,
            throttle: false,
        })
    }

    /// Every byte of a forwarded response arrived: the runtime's answer, as
    /// `on_response` takes a body read whole.
    pub(super) fn on_forwarded(&mut self, request_id: &str, size: u64) -> Result<(), ApiError> {
        self.answer(request_id, &ANSWERED, size, Answer::Forwarded)
    }

    pub(super) fn on_error(
        &mut self,
        request_id: &str,
        err: FunctionError,
    ) -> Result<(), ApiError> {
        let size = err.body.len() as u64;
        let inputs = [RuntimeInput::ErrorResponse];
        self.answer(request_id, &inputs, size, Answer::Whole(Err(err)))
    }

    /// The runtime answered the current invoke (response or error) with
    /// `size` bytes.
    fn answer(
        &mut self,
        request_id: &str,
        inputs: &[RuntimeInput],
        size: u64,
        answer: Answer,
    ) -> Result<(), ApiError> {
        let records = self.logs.records_events();
        let (rt, current) = self.current_for(request_id)?;
        current.step_answer(rt, inputs)?;
        let (status, error_type) = match &answer {
            Answer::Whole(Err(err)) => (InvokeStatus::Error, Some(err.error_type.clone())),
            Answer::Whole(Ok(_)) | Answer::Forwarded => (InvokeStatus::Success, None),
        };
        let now = Instant::now();
        current.timings.response_latency = Some(now - current.dispatched);
        current.timings.response_duration = Some(Duration::ZERO);
        current.timings.produced_bytes = Some(size);
        let done = records.then(|| current.runtime_done(now, status, error_type.as_ref()));
        current.answered = Some((now, status, error_type));
        match answer {
            Answer::Whole(result) => current.deliver(result),
            // The invoker has every byte but the last chunk, held until now.
            Answer::Forwarded => {
                if let Some(stream_end) = current.stream_end.take() {
                    let _ = stream_end.send(Ok(()));
                }
            }
        }
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
        let ended = lifecycle::on_stream_end(current.answer_state.is_some(), rt.next.is_some());
        let stepped = match ended {
            StreamEnded::StepsHeldNext => match rt.state.on(RuntimeInput::Next) {
                Ok(next) => {
                    rt.set_state(next);
                    current.runtime_done = Some(now);
                    Ok(())
                }
                Err(err) => Err(ApiError::from(err)),
            },
            StreamEnded::Complete | StreamEnded::AwaitsNext => Ok(()),
        };
        if let Some(done) = done {
            self.logs.emit(done);
        }
        stepped?;
        match ended {
            StreamEnded::Complete => self.answered_concurrent(request_id),
            StreamEnded::StepsHeldNext => self.maybe_finish_invoke(),
            StreamEnded::AwaitsNext => {}
        }
        Ok(())
    }

    /// The invoke is over when the runtime answered and asked for the next
    /// one, and every extension that got INVOKE asked for its next event.
    pub(super) fn maybe_finish_invoke(&mut self) {
        let runtime = self.runtime.as_ref().map(|rt| rt.state);
        let answered = self.phase.answered();
        if !lifecycle::invoke_complete(runtime, answered, self.extensions.all_ready()) {
            return;
        }
        let taken = self
            .phase
            .invocations_mut()
            .and_then(Invocations::take_current);
        let Some(mut current) = taken else {
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
}

/// The runtime's answer to an invoke, as `answer` hands it on.
enum Answer {
    /// A response read whole, or an error.
    Whole(Result<InvokeResponse, FunctionError>),
    /// A response whose bytes went to the invoker as they arrived.
    Forwarded,
}

/// A buffered response's steps through the runtime's table.
const ANSWERED: [RuntimeInput; 2] = [RuntimeInput::Response, RuntimeInput::ResponseComplete];

/// The size of a response's body, as REPORT and `platform.runtimeDone` count it.
fn body_len(response: &InvokeResponse) -> u64 {
    match &response.body {
        InvokeBody::Buffered(body) => body.len() as u64,
        InvokeBody::Streamed(_) | InvokeBody::Arriving { .. } => 0,
    }
}
