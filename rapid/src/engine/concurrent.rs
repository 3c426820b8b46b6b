//! Multi-concurrency (`AWS_LAMBDA_MAX_CONCURRENCY`, spec §9, Lambda
//! Managed Instances): the runtime holds up to K `next` polls at once, one
//! per idle worker; each waiting invoke goes to one of them, and each
//! invoke has its own answer, deadline, START / END / REPORT and telemetry.
//!
//! What differs from one invoke at a time, as in Lambda Managed Instances:
//! an invoke is complete once the runtime answered it (a worker's next
//! `next` is just another poll, it says nothing about which invoke it
//! ended); extensions get no INVOKE event; an invoke that times out is
//! answered `Sandbox.Timedout` while the environment goes on (its late
//! answer is refused with `410`); the environment is never frozen. A crash
//! of the runtime or an extension, a reset and a shutdown fail every
//! invoke in flight.
//!
//! A timed-out invoke keeps its slot until its worker comes back (as in
//! Managed Instances): its completion, which frees the sandbox's lease in
//! the pool, is held in `Workers.held_slots` until a poll finds every worker
//! accounted for, so the pool sends new invokes elsewhere (or they wait,
//! on their own clock, until their timeout).

use super::current::Current;
use super::invocations::Invocations;
use super::{invalid_state, timestamp, Dispatched, Engine, Reply};
use crate::lifecycle::deadlines::{self, after, QueueClocks};
use crate::lifecycle::{self, WorkerPoll};
use interop::{ErrorType, FunctionError};
use std::time::Instant;
use telemetry::InvokeStatus;

impl Engine {
    /// A `next` of an initialized runtime: one more worker waits. Polls
    /// whose connection closed are dropped first; past the limit (polls
    /// and invokes in flight together) the call is refused: a runtime holds
    /// at most `AWS_LAMBDA_MAX_CONCURRENCY`.
    pub(super) fn concurrent_poll(&mut self, reply: Reply<Dispatched>) {
        // Before the init ends (an extension still busy) nothing is in
        // flight and no slot is held.
        let (mut workers, limit) = match self.phase.invocations_mut() {
            Some(Invocations::Many(workers)) => {
                let limit = workers.limit;
                (Some(workers), limit)
            }
            Some(Invocations::One(_)) => return,
            None => match self.cfg.max_concurrency {
                Some(k) => (None, k as usize),
                None => return,
            },
        };
        let Some(rt) = self.runtime.as_mut() else {
            return;
        };
        rt.polls.retain(|poll| !poll.is_closed());
        if rt.next.as_ref().is_some_and(|next| next.is_closed()) {
            rt.next = rt.polls.pop();
        }
        let open = usize::from(rt.next.is_some()) + rt.polls.len();
        let running = workers.as_ref().map_or(0, |w| w.inflight.len());
        let held = workers.as_ref().map_or(0, |w| w.held_slots.len());
        match lifecycle::on_worker_poll(open, running, held, limit) {
            WorkerPoll::Refused => {
                let _ = reply.send(Err(invalid_state(&format!(
                    "the runtime already waits in {open} next calls with {running} invokes in flight, the most AWS_LAMBDA_MAX_CONCURRENCY={limit} allows"
                ))));
                return;
            }
            WorkerPoll::Waits { frees_held_slot } => {
                if let Some(workers) = workers.as_mut().filter(|_| frees_held_slot) {
                    if let Some((done, completion)) = workers.held_slots.pop_front() {
                        let _ = done.send(completion);
                    }
                }
            }
        }
        match rt.next {
            None => rt.next = Some(reply),
            Some(_) => rt.polls.push(reply),
        }
        self.drive();
    }

    /// Hands the head of the queue to one of the runtime's waiting polls;
    /// false when none could take it (every poll's connection closed).
    pub(super) fn dispatch_concurrent(&mut self) -> bool {
        let Some(rt) = self.runtime.as_mut() else {
            return false;
        };
        let poll = loop {
            let Some(poll) = rt.next.take().or_else(|| rt.polls.pop()) else {
                return false;
            };
            if !poll.is_closed() {
                break poll;
            }
        };
        let Some(queued) = self.queue.pop_front() else {
            rt.next = Some(poll);
            return false;
        };
        let Some(mut current) = self.hand_out(poll, queued) else {
            return false;
        };
        // Its answer has its own place in the runtime's table.
        current.answer_state = Some(crate::lifecycle::RuntimeState::Running);
        if let Some(Invocations::Many(workers)) = self.phase.invocations_mut() {
            workers.inflight.push(current);
        }
        true
    }

    /// With multi-concurrency, when an invoke accepted at `accepted` must
    /// have been dispatched: its clock runs while it waits for a free
    /// slot of an initialized runtime (during an init it starts when the
    /// init ends, `start_slot_waits`). None with one invoke at a time.
    pub(super) fn slot_wait_deadline(&self, accepted: Instant) -> Option<Instant> {
        let clocks = deadlines::queue_clocks(self.multi_concurrency(), self.phase());
        (clocks == QueueClocks::Each).then(|| after(accepted, self.cfg.timeout))
    }

    /// The init ended: the invokes that waited for it start their clocks
    /// now if the phase runs each one's (multi-concurrency,
    /// `deadlines::queue_clocks`).
    pub(super) fn start_slot_waits(&mut self) {
        let clocks = deadlines::queue_clocks(self.multi_concurrency(), self.phase());
        if clocks != QueueClocks::Each {
            return;
        }
        let deadline = after(Instant::now(), self.cfg.timeout);
        for queued in &mut self.queue {
            queued.deadline.get_or_insert(deadline);
        }
    }

    /// The invoke `request_id` was answered whole: with multi-concurrency
    /// it is complete (one at a time, it completes once the runtime asks
    /// for the next: `maybe_finish_invoke`).
    pub(super) fn answered_concurrent(&mut self, request_id: &str) {
        let Some(Invocations::Many(workers)) = self.phase.invocations_mut() else {
            return;
        };
        let at = workers
            .inflight
            .iter()
            .position(|c| c.request_id == request_id);
        if let Some(at) = at {
            let current = workers.inflight.remove(at);
            let status = current.answer_status();
            self.finish_concurrent(current, status, None);
        }
    }

    /// Writes the invoke's END and REPORT (failing it first with `failed`
    /// when given); the environment is idle once nothing is in flight.
    pub(super) fn finish_concurrent(
        &mut self,
        mut current: Current,
        status: InvokeStatus,
        failed: Option<FunctionError>,
    ) {
        let mut lines = Vec::new();
        let now = Instant::now();
        let (end, error_type, failed_type) = match failed {
            Some(err) => {
                if status == InvokeStatus::Timeout {
                    lines.push(telemetry::timeout_line(
                        &timestamp(),
                        &current.request_id,
                        self.cfg.timeout,
                    ));
                }
                let error_type = Some(err.error_type.clone());
                self.fatal(&err.error_type);
                current.fail(err, now, status, &self.logs);
                (now, error_type.clone(), error_type)
            }
            None => current
                .answered_at()
                .map_or((now, None, None), |(at, error_type)| (at, error_type, None)),
        };
        if !self.phase.invocations().is_some_and(Invocations::any) {
            self.idle_since = now;
        }
        self.report(current, end, status, error_type, lines, failed_type);
    }

    /// Invokes in flight past their deadline are answered
    /// `Sandbox.Timedout` and reported; the environment goes on.
    pub(super) fn concurrent_timed_out(&mut self) {
        let now = Instant::now();
        let Some(Invocations::Many(workers)) = self.phase.invocations_mut() else {
            return;
        };
        let (expired, running): (Vec<_>, Vec<_>) = std::mem::take(&mut workers.inflight)
            .into_iter()
            .partition(|c| c.deadline <= now);
        workers.inflight = running;
        if let Some(rt) = self.runtime.as_mut() {
            for current in &expired {
                rt.timed_out(&current.request_id);
            }
        }
        for current in expired {
            let message = format!(
                "RequestId: {} Error: Task timed out after {:.2} seconds",
                current.request_id,
                self.cfg.timeout.as_secs_f64()
            );
            tracing::warn!(request_id = %current.request_id, "invoke timed out; the runtime's other invokes go on");
            let err = FunctionError::new(ErrorType::SandboxTimedout, &message);
            let mut current = current;
            current.holds_slot = true;
            self.finish_concurrent(current, InvokeStatus::Timeout, Some(err));
        }
    }
}
