//! Reset and shutdown (spec §4): with no extension registered the runtime is
//! killed at once; otherwise the runtime gets SIGTERM and 30 % of the budget,
//! then each extension registered for it gets SHUTDOWN and the rest of the
//! budget to exit, and whatever is left is killed. Invokes queue meanwhile.

use super::{epoch_ms_at, Engine};
use crate::supervisor;
use extensions_api::ShutdownReason;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

const BUDGET_INTERNAL_ONLY: Duration = Duration::from_millis(500);
const BUDGET_EXTERNAL: Duration = Duration::from_millis(2000);

pub(super) struct Teardown {
    reason: ShutdownReason,
    /// The end of the whole budget: extensions' `deadlineMs`.
    deadline: Instant,
    stage: Stage,
}

enum Stage {
    /// The runtime got SIGTERM and has until then to exit.
    RuntimeGrace { until: Instant },
    /// Extensions got SHUTDOWN and have until the deadline to exit.
    Extensions,
}

impl Teardown {
    pub(super) fn next_deadline(&self) -> Instant {
        match self.stage {
            Stage::RuntimeGrace { until } => until,
            Stage::Extensions => self.deadline,
        }
    }
}

impl Engine {
    pub(super) fn begin_teardown(&mut self, reason: ShutdownReason) {
        if self.teardown.is_some() {
            return;
        }
        self.init = None;
        // A restore waited for in this generation will not run.
        self.abandon_restore(super::RestoreFailed::Reset);
        if !self.extensions.any_registered() {
            self.kill_runtime();
            self.finish_teardown();
            return;
        }
        let lambda_budget = if self.extensions.any_external_registered() {
            BUDGET_EXTERNAL
        } else {
            BUDGET_INTERNAL_ONLY
        };
        // A shutdown asked with a budget of its own (the control API's
        // timeoutMs) uses it; a reset always has Lambda's.
        let budget = match self.shutdown_budget {
            Some(budget) if self.shutdown.is_some() => budget,
            _ => lambda_budget,
        };
        let now = Instant::now();
        let runtime_alive = self
            .runtime
            .as_ref()
            .is_some_and(|rt| rt.exited_max_rss_kb.is_none());
        let stage = match &self.runtime {
            Some(rt) if runtime_alive => {
                supervisor::signal_group(rt.pid, Signal::SIGTERM);
                Stage::RuntimeGrace {
                    until: now + budget.mul_f64(0.3),
                }
            }
            _ => Stage::Extensions,
        };
        let to_extensions = matches!(stage, Stage::Extensions);
        self.teardown = Some(Teardown {
            reason,
            deadline: now + budget,
            stage,
        });
        if to_extensions {
            self.shutdown_extensions();
        }
    }

    /// The runtime exited during a teardown.
    pub(super) fn teardown_runtime_exited(&mut self) {
        if let Some(Teardown {
            stage: Stage::RuntimeGrace { .. },
            ..
        }) = &self.teardown
        {
            self.kill_runtime(); // what is left of its group
            self.shutdown_extensions();
        }
    }

    /// An extension process exited during a teardown.
    pub(super) fn teardown_extension_exited(&mut self) {
        if matches!(
            &self.teardown,
            Some(Teardown {
                stage: Stage::Extensions,
                ..
            })
        ) && self.extensions.all_processes_exited()
        {
            self.finish_teardown();
        }
    }

    pub(super) fn teardown_deadline(&mut self) {
        let Some(teardown) = &self.teardown else {
            return;
        };
        match teardown.stage {
            Stage::RuntimeGrace { .. } => {
                self.kill_runtime();
                self.shutdown_extensions();
            }
            Stage::Extensions => {
                for name in self.extensions.still_running() {
                    tracing::warn!(extension = %name, "extension did not exit before the shutdown deadline; killed");
                }
                self.extensions.shutdown_deadline_passed();
                self.finish_teardown();
            }
        }
    }

    fn shutdown_extensions(&mut self) {
        let Some(teardown) = self.teardown.as_mut() else {
            return;
        };
        teardown.stage = Stage::Extensions;
        let deadline_ms = epoch_ms_at(teardown.deadline);
        let reason = teardown.reason;
        for pid in self.extensions.send_shutdown(reason, deadline_ms) {
            supervisor::signal_group(pid, Signal::SIGKILL);
        }
        if self.extensions.all_processes_exited() {
            self.finish_teardown();
        }
    }

    fn kill_runtime(&mut self) {
        if let Some(rt) = &self.runtime {
            supervisor::signal_group(rt.pid, Signal::SIGKILL);
        }
    }

    /// Kills whatever is left of this generation and forgets it.
    fn finish_teardown(&mut self) {
        self.kill_runtime();
        for pid in self.extensions.live_pids() {
            supervisor::signal_group(pid, Signal::SIGKILL);
        }
        for (name, error_type) in self.extensions.exit_errors() {
            tracing::warn!(extension = %name, %error_type, "extension reported an exit error (Extension.ExitError)");
        }
        // Nothing of this generation may outlive it, not even a process
        // that left its group (setsid) or was orphaned.
        self.processes.kill_all();
        // ... nor any of its tasks: its connections close, its polls and
        // pumps stop.
        self.generations.end();
        self.runtime = None;
        self.extensions.reset();
        self.teardown = None;
        self.reset_done();
    }
}
