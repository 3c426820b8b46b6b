//! What ends what runs: a process exiting (`on_exit`), a reset asked
//! (`reset`), a shutdown asked (`begin_shutdown`). `lifecycle::on_disruption`
//! and `on_shutdown_asked` decide; this file carries the verdict out
//! (`cut_short` fails the init, the restore or the invokes in flight).

use super::phase::Phase;
use super::{reply_shutdown, shutdown_failure, Engine, Invocations, RestoreFailed};
use crate::lifecycle::{self, Disruption, Outcome, ResetStep, ShutdownStep, Verdict};
use crate::supervisor::ProcessExit;
use interop::contract::{PhaseRefused, ResetReason, ResetSuccess, ShutdownReason, ShutdownSuccess};
use interop::{ErrorType, FunctionError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

impl Engine {
    pub(super) fn on_exit(&mut self, exit: ProcessExit) {
        // The kernel killed a process of the sandbox for memory since the
        // last exit: this one (a SIGKILL), as far as rapid can tell.
        let oom_kills = self.processes.oom_kills();
        let out_of_memory = oom_kills > self.oom_kills_seen
            && exit.status
                == crate::supervisor::ExitStatus::Signal(nix::sys::signal::Signal::SIGKILL);
        self.oom_kills_seen = oom_kills;
        if self.runtime.as_ref().is_some_and(|rt| rt.pid == exit.pid) {
            self.on_runtime_exit(exit, out_of_memory);
        } else if self.extensions.is_process(exit.pid) {
            self.on_extension_exit(exit);
        }
        // Anything else is an orphan (or a process of a torn-down
        // generation): reaped, nothing more to do.
        self.drive();
    }

    pub(super) fn on_runtime_exit(&mut self, exit: ProcessExit, out_of_memory: bool) {
        if let Some(rt) = self.runtime.as_mut() {
            rt.exited_max_rss_kb = Some(exit.max_rss_kb);
        }
        let why = format!("Runtime exited with error: {}", exit.status);
        tracing::debug!(pid = exit.pid, reason = %why, "runtime exited");
        let verdict = self.verdict(Disruption::RuntimeExited);
        match verdict {
            Verdict::TeardownGoesOn => self.teardown_runtime_exited(),
            Verdict::ResetNow => {
                tracing::warn!(pid = exit.pid, reason = %why, "the runtime exited while idle; the next invoke starts a new one");
                self.begin_teardown(ShutdownReason::Failure);
            }
            Verdict::FailInvoke(Outcome::Answered) => {
                tracing::warn!(pid = exit.pid, reason = %why, "the runtime exited after answering; the next invoke starts a new one");
            }
            _ => {}
        }
        let error_type = if out_of_memory {
            tracing::warn!(
                pid = exit.pid,
                "the runtime was killed for using more than the function's memory"
            );
            ErrorType::RuntimeOutOfMemory
        } else {
            ErrorType::RuntimeExitError
        };
        self.cut_short(verdict, error_type, &why);
    }

    /// What `lifecycle::on_disruption` says `what` does now.
    pub(super) fn verdict(&self, what: Disruption) -> Verdict {
        lifecycle::on_disruption(self.phase(), self.phase.answered(), what)
    }

    /// Carries out a verdict that fails what runs (an init, a restore, an
    /// invoke) with `error_type` and `why` (after `RequestId: <id> Error: `
    /// when an invoke is concerned); the other verdicts are the caller's.
    pub(super) fn cut_short(&mut self, verdict: Verdict, error_type: ErrorType, why: &str) {
        let message = |request_id: Option<&str>| match request_id {
            Some(id) => format!("RequestId: {id} Error: {why}"),
            None => format!("Error: {why}"),
        };
        let waiting = self.queue.front().map(|q| q.invoke.request_id.as_str());
        match verdict {
            Verdict::FailInit(outcome) => {
                let err = FunctionError::new(error_type, &message(waiting));
                self.init_failed(err, invoke_status(outcome));
            }
            Verdict::FailRestore(outcome) => {
                let err = FunctionError::new(error_type, &message(waiting));
                self.restore_failed(err, invoke_status(outcome));
            }
            Verdict::FailInvoke(outcome) => self.fail_invocations(
                |id| FunctionError::new(error_type.clone(), &message(Some(id))),
                invoke_status(outcome),
            ),
            Verdict::TeardownGoesOn
            | Verdict::Refused
            | Verdict::ResetAfterInvoke
            | Verdict::ResetNow
            | Verdict::NothingRuns
            | Verdict::Abandon => {}
        }
    }

    /// A reset asked from outside (the control API, the contract): it
    /// cuts short whatever runs. An unanswered invoke fails with
    /// `Sandbox.Timedout` or `Sandbox.Failure`, an init under way fails
    /// the same way; an invoke the runtime already answered is let
    /// complete first.
    pub(super) fn reset(
        &mut self,
        reason: ResetReason,
        done: oneshot::Sender<Result<ResetSuccess, PhaseRefused>>,
    ) {
        let timeout = reason == ResetReason::Timeout;
        let verdict = self.verdict(Disruption::ResetAsked { timeout });
        if verdict == Verdict::Refused {
            let _ = done.send(Err(PhaseRefused::ShuttingDown));
            return;
        }
        let shutdown_reason = ShutdownReason::from(reason);
        self.reset_waiters.push((Instant::now(), done));
        self.last_init = None;
        if let Some(current) = self.phase.invocations().and_then(Invocations::current) {
            self.reset_response = current.response_metrics();
        }
        let (error_type, why) = match reason {
            ResetReason::Timeout => (
                ErrorType::SandboxTimedout,
                "the execution environment was reset (timeout)",
            ),
            ResetReason::Failure => (
                ErrorType::SandboxFailure,
                "the execution environment was reset (failure)",
            ),
        };
        match verdict {
            // The invoke has its answer and waits only for the runtime and
            // the extensions to ask for their next event.
            Verdict::ResetAfterInvoke => {
                self.pending_reset.get_or_insert(shutdown_reason);
            }
            Verdict::ResetNow | Verdict::TeardownGoesOn => self.begin_reset(shutdown_reason),
            // No generation to tear down: a restore asked will not run in
            // it, and the reset is done.
            Verdict::NothingRuns => {
                self.abandon_restore(RestoreFailed::Reset);
                self.reset_done();
            }
            cut => self.cut_short(cut, error_type, why),
        }
    }

    /// Starts the reset asked while an invoke was completing, if any.
    pub(super) fn start_pending_reset(&mut self) {
        if let Some(reason) = self.pending_reset.take() {
            self.begin_reset(reason);
        }
    }

    pub(super) fn begin_reset(&mut self, reason: ShutdownReason) {
        if lifecycle::reset_step(self.phase()) == ResetStep::BeginTeardown {
            self.begin_teardown(reason);
        }
        // Nothing to wait for (no extension, or nothing running).
        if lifecycle::reset_step(self.phase()) == ResetStep::Done {
            self.reset_done();
        }
    }

    /// The reset finished: tell who asked how long it took.
    pub(super) fn reset_done(&mut self) {
        // Whatever ended the sandbox (the reset, a failure, a shutdown), a
        // reset still asked for is done.
        self.pending_reset = None;
        let response = self.reset_response.take();
        for (since, done) in self.reset_waiters.drain(..) {
            let _ = done.send(Ok(ResetSuccess {
                extensions_reset: since.elapsed(),
                response,
            }));
        }
    }

    /// Carries out what `lifecycle::on_shutdown_asked` says a shutdown
    /// does now; `done` is told when it is over.
    pub(super) fn begin_shutdown(
        &mut self,
        done: Option<oneshot::Sender<ShutdownSuccess>>,
        budget: Option<Duration>,
    ) {
        let steps = lifecycle::on_shutdown_asked(self.phase(), self.phase.answered());
        // What ran before: the init, the restore or the invokes the steps
        // below end.
        let mut before = self.phase.shutdown_asked(done, budget);
        for step in steps {
            match step {
                ShutdownStep::RefuseQueued => {
                    for queued in self.queue.drain(..) {
                        if let Some(done) = queued.done {
                            let _ = done.send(Err(shutdown_failure(&queued.invoke)));
                        }
                        reply_shutdown(queued.invoke, queued.reply);
                    }
                }
                ShutdownStep::Abandon => {
                    if matches!(before, Some(Phase::Initializing(_) | Phase::Restoring(_))) {
                        before = None;
                    }
                    self.abandon_restore(RestoreFailed::ShuttingDown);
                }
                ShutdownStep::FailInvoke(outcome) => {
                    if let Some(Phase::Serving(invocations)) = before.take() {
                        let err = FunctionError::new(
                            ErrorType::SandboxShutdown,
                            "The execution environment shut down during the invocation.",
                        );
                        self.fail_taken(invocations, |_| err.clone(), invoke_status(outcome));
                    }
                }
                ShutdownStep::BeginTeardown => {
                    // The workers inside timed-out invokes go with the
                    // environment.
                    if let Some(Phase::Serving(mut invocations)) = before.take() {
                        invocations.release_held_slots();
                    }
                    self.begin_teardown(ShutdownReason::Spindown);
                }
            }
        }
    }
}

/// The status of an invoke (or init, or restore) that ended with `outcome`.
pub(super) fn invoke_status(outcome: Outcome) -> telemetry::InvokeStatus {
    match outcome {
        Outcome::Error => telemetry::InvokeStatus::Error,
        Outcome::Timeout => telemetry::InvokeStatus::Timeout,
        Outcome::Answered => telemetry::InvokeStatus::Success,
    }
}
