//! Time: the deadlines the environment holds (`lifecycle::deadlines`
//! orders them and says when the one timer moves), and what each does when
//! it passes.

use super::{Engine, Invocations, Queued};
use crate::lifecycle::deadlines::{self, after, Deadlines, Due, QueueClocks};
use crate::lifecycle::{self, WaitingExpired};
use interop::contract::ShutdownReason;
use interop::{ErrorType, FunctionError};
use std::collections::VecDeque;
use std::time::Instant;

impl Engine {
    /// The deadlines the environment holds now.
    pub(super) fn deadlines(&self) -> Deadlines {
        Deadlines {
            waiting: self.waiting_deadline(),
            teardown: self.phase.teardown().and_then(|t| t.next_deadline()),
            init: self.phase.init().map(|i| i.deadline),
            restore: self.phase.restore().map(|r| r.deadline),
            invoke: self
                .phase
                .invocations()
                .and_then(Invocations::earliest_deadline),
            idle: deadlines::idle_deadline(
                self.phase(),
                !self.queue.is_empty() || !self.restore_waiters.is_empty(),
                self.idle_since,
                self.cfg.idle_timeout,
            ),
        }
    }

    /// The timer fired (possibly early): handles every deadline that has
    /// passed, in `Due::ORDER`, each looked at after the one before was
    /// handled.
    pub(super) fn on_deadline(&mut self) {
        let now = Instant::now();
        for due in Due::ORDER {
            if !self.deadlines().has_passed(due, now) {
                continue;
            }
            match due {
                Due::Waiting => self.waiting_timed_out(),
                Due::Teardown => self.teardown_timer(now),
                Due::Init => self.init_timed_out(),
                Due::Restore => self.restore_timed_out(),
                Due::Invoke => self.invoke_timed_out(),
                Due::Idle => self.idle_timed_out(),
            }
        }
        self.drive();
    }

    /// Idle for the idle timeout: the environment is retired as Lambda
    /// retires one (SHUTDOWN with reason spindown, the budget, SIGKILL);
    /// the next invoke starts a new one.
    pub(super) fn idle_timed_out(&mut self) {
        let idle = self.idle_since.elapsed();
        tracing::info!(
            idle_s = idle.as_secs(),
            "idle for the idle timeout: shutting the execution environment down (spindown)"
        );
        self.begin_teardown(ShutdownReason::Spindown);
    }

    /// The deadline of an invoke whose clock runs while it waits for a
    /// reset (see `drive`).
    /// With multi-concurrency, the soonest deadline of the invokes that
    /// wait for a free slot of an initialized runtime.
    pub(super) fn waiting_deadline(&self) -> Option<Instant> {
        match deadlines::queue_clocks(self.multi_concurrency(), self.phase()) {
            QueueClocks::Each => self.queue.iter().filter_map(|q| q.deadline).min(),
            QueueClocks::Head => self.queue.front().and_then(|q| q.deadline),
            QueueClocks::Nothing => None,
        }
    }

    pub(super) fn waiting_timed_out(&mut self) {
        let now = Instant::now();
        let expired: VecDeque<Queued> =
            match lifecycle::on_waiting_deadline(self.multi_concurrency()) {
                WaitingExpired::EachPast => {
                    let (expired, waiting) = std::mem::take(&mut self.queue)
                        .into_iter()
                        .partition(|q| q.deadline.is_some_and(|at| at <= now));
                    self.queue = waiting;
                    expired
                }
                WaitingExpired::Head => self.queue.pop_front().into_iter().collect(),
            };
        for queued in expired {
            let message = format!(
                "RequestId: {} Error: Task timed out after {:.2} seconds",
                queued.invoke.request_id,
                self.cfg.timeout.as_secs_f64()
            );
            let err = FunctionError::new(ErrorType::SandboxTimedout, &message);
            self.fail_undispatched(queued, err, telemetry::InvokeStatus::Timeout);
        }
    }
}

pub(super) fn far_future() -> Instant {
    after(Instant::now(), deadlines::FAR_FUTURE)
}
