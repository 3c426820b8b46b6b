//! An invoke's end: its END and REPORT lines and completion (`report`),
//! and the failures that end invokes (`fail_invocations`, an invoke that
//! never reached the runtime, a deadline passed).

use super::current::Current;
use super::invocations::Invocations;
use super::{timestamp, Engine, Queued};
use crate::lifecycle::{self, teardown, InvokeDeadline};
use interop::contract::{InvokeFailure, InvokeMetrics, InvokeSuccess};
use interop::{ErrorType, FunctionError};
use std::time::Instant;
use telemetry::{InvokeReport, InvokeStatus, MemoryUse, ReportRequest};

impl Engine {
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
            match self.phase.invocations_mut() {
                Some(invocations) => invocations.complete(done, completion, current.holds_slot),
                None => {
                    let _ = done.send(completion);
                }
            }
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
        if failed.is_none() && !self.phase.invocations().is_some_and(Invocations::any) {
            self.processes.reset_memory_peak();
        }
        let request = ReportRequest { report, memory };
        self.logs.end_invoke(lines, request, current.tail);
    }

    /// Without a memory cgroup: the peak RSS of the runtime's and the
    /// extensions' trees, measured `now` (before a teardown kills them),
    /// else by the log hub as it writes REPORT.
    pub(super) fn memory_of_trees(&self, now: bool) -> MemoryUse {
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

    /// Fails the invokes in flight, each with the error `error_for` its
    /// request id gives (if still unanswered), reports them, and resets the
    /// sandbox.
    pub(super) fn fail_invocations(
        &mut self,
        error_for: impl Fn(&str) -> FunctionError,
        status: InvokeStatus,
    ) {
        let fresh = Invocations::new(self.cfg.max_concurrency);
        match self.phase.invocations_mut() {
            Some(invocations) => {
                let taken = std::mem::replace(invocations, fresh);
                self.fail_taken(taken, error_for, status);
            }
            None => self.fail_taken(fresh, error_for, status),
        }
    }

    /// Fails `invocations`, taken out of the phase (a shutdown's, or the
    /// teardown's that follows), and begins the teardown.
    pub(super) fn fail_taken(
        &mut self,
        invocations: Invocations,
        error_for: impl Fn(&str) -> FunctionError,
        status: InvokeStatus,
    ) {
        match invocations {
            Invocations::One(current) => self.fail_current(current, &error_for, status),
            Invocations::Many(mut workers) => {
                for current in std::mem::take(&mut workers.inflight) {
                    let err = error_for(&current.request_id);
                    self.finish_concurrent(current, status, Some(err));
                }
                // The workers inside timed-out invokes go with the
                // environment.
                Invocations::Many(workers).release_held_slots();
            }
        }
        let timed_out = status == InvokeStatus::Timeout;
        self.begin_teardown(teardown::reason(self.phase.is_shutdown(), timed_out));
    }

    /// Fails the invoke in flight, one at a time (if still unanswered), and
    /// reports it.
    pub(super) fn fail_current(
        &mut self,
        current: Option<Current>,
        error_for: impl Fn(&str) -> FunctionError,
        status: InvokeStatus,
    ) {
        let Some(mut current) = current else {
            if status != InvokeStatus::Success {
                self.fatal(&error_for("").error_type);
            }
            return;
        };
        let err = error_for(&current.request_id);
        if status != InvokeStatus::Success {
            self.fatal(&err.error_type);
        }
        let mut lines = Vec::new();
        let failed = Some(err.error_type.clone());
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
        let in_flight = self.phase.invocations().is_some_and(Invocations::any);
        match lifecycle::on_invoke_deadline(self.multi_concurrency(), in_flight) {
            InvokeDeadline::Nothing => {}
            InvokeDeadline::FailEachExpired => self.concurrent_timed_out(),
            InvokeDeadline::FailAndReset => {
                let seconds = self.cfg.timeout.as_secs_f64();
                let error_for = |request_id: &str| {
                    let message = format!(
                        "RequestId: {request_id} Error: Task timed out after {seconds:.2} seconds"
                    );
                    FunctionError::new(ErrorType::SandboxTimedout, &message)
                };
                self.fail_invocations(error_for, InvokeStatus::Timeout);
            }
        }
    }
}
