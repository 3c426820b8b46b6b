//! Reset and shutdown (spec §4), carried out: `lifecycle::teardown` decides
//! the stages (SIGTERM and grace for the runtime, SHUTDOWN and the rest of
//! the budget for extensions, then SIGKILL); this file does what it says.
//! Invokes queue meanwhile.

use super::{epoch_ms_at, Engine};
use crate::lifecycle::teardown::{self, Action, Begin, Input};
use interop::contract::{ShutdownReason, ShutdownSuccess};
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

pub(super) struct Teardown {
    reason: ShutdownReason,
    stages: teardown::Teardown,
}

impl Teardown {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.stages.next_deadline()
    }
}

/// How the environment ends, if it does: the part of its phase a reset
/// and a shutdown carry, with their data. A shutdown without a teardown
/// is `Shutdown`; with one, `ShuttingDown`.
pub(super) enum Ending {
    /// Nothing ends.
    Running,
    /// A reset: its teardown runs.
    Resetting(Teardown),
    /// A shutdown was asked.
    ShuttingDown {
        /// Who to tell when it is over.
        done: Vec<oneshot::Sender<ShutdownSuccess>>,
        /// The budget its caller set (the control API), else Lambda's.
        budget: Option<Duration>,
        /// Its teardown, while one runs (a reset's under way becomes the
        /// shutdown's).
        teardown: Option<Teardown>,
    },
}

impl Ending {
    pub(super) fn teardown(&self) -> Option<&Teardown> {
        match self {
            Ending::Running => None,
            Ending::Resetting(teardown) => Some(teardown),
            Ending::ShuttingDown { teardown, .. } => teardown.as_ref(),
        }
    }

    fn teardown_mut(&mut self) -> Option<&mut Teardown> {
        match self {
            Ending::Running => None,
            Ending::Resetting(teardown) => Some(teardown),
            Ending::ShuttingDown { teardown, .. } => teardown.as_mut(),
        }
    }

    /// A shutdown was asked.
    pub(super) fn is_shutdown(&self) -> bool {
        matches!(self, Ending::ShuttingDown { .. })
    }

    /// A shutdown is asked: `done` joins who waits for it. The first
    /// shutdown's budget stays (a teardown reads it when it begins).
    pub(super) fn shutdown_asked(
        &mut self,
        done: Option<oneshot::Sender<ShutdownSuccess>>,
        budget: Option<Duration>,
    ) {
        *self = match std::mem::replace(self, Ending::Running) {
            Ending::Running => Ending::ShuttingDown {
                done: done.into_iter().collect(),
                budget,
                teardown: None,
            },
            Ending::Resetting(teardown) => Ending::ShuttingDown {
                done: done.into_iter().collect(),
                budget,
                teardown: Some(teardown),
            },
            Ending::ShuttingDown {
                done: mut waiting,
                budget,
                teardown,
            } => {
                waiting.extend(done);
                Ending::ShuttingDown {
                    done: waiting,
                    budget,
                    teardown,
                }
            }
        };
    }

    /// Who waits for the shutdown, taken once it is over.
    pub(super) fn take_waiting(&mut self) -> Vec<oneshot::Sender<ShutdownSuccess>> {
        match self {
            Ending::ShuttingDown { done, .. } => std::mem::take(done),
            Ending::Running | Ending::Resetting(_) => Vec::new(),
        }
    }

    fn begin(&mut self, new: Teardown) {
        match self {
            Ending::ShuttingDown { teardown, .. } => *teardown = Some(new),
            Ending::Running | Ending::Resetting(_) => *self = Ending::Resetting(new),
        }
    }

    fn finish(&mut self) {
        match self {
            Ending::ShuttingDown { teardown, .. } => *teardown = None,
            Ending::Running | Ending::Resetting(_) => *self = Ending::Running,
        }
    }
}

impl Engine {
    pub(super) fn begin_teardown(&mut self, reason: ShutdownReason) {
        if self.ending.teardown().is_some() {
            return;
        }
        // A teardown ends a generation: with none running (a shutdown
        // after a reset, before the next init) there is nothing to end,
        // and nothing may begin one (`lifecycle::on_shutdown_asked`).
        #[cfg(test)]
        assert!(
            self.generations.current_id().is_some(),
            "a teardown ({}) begun with no generation to tear down, in {:?}",
            reason.as_str(),
            self.phase()
        );
        self.starting.take_init();
        self.invocations.release_held_slots();
        // Signals and SHUTDOWN must reach processes that can act on them.
        self.thaw();
        self.logs.mark(telemetry::Mark::Teardown {
            reason: reason.as_str(),
        });
        // A restore waited for in this generation will not run.
        self.abandon_restore(super::RestoreFailed::Reset);
        let asked = match &self.ending {
            Ending::ShuttingDown { budget, .. } => *budget,
            Ending::Running | Ending::Resetting(_) => None,
        };
        let begin = Begin {
            now: Instant::now(),
            budget: teardown::budget(self.extensions.any_external_registered(), asked),
            extensions_registered: self.extensions.any_registered(),
            runtime_alive: self
                .runtime
                .as_ref()
                .is_some_and(|rt| rt.exited_max_rss_kb.is_none()),
            extensions_gone: self.extensions.all_processes_exited(),
        };
        let (stages, actions) = teardown::Teardown::begin(begin);
        self.ending.begin(Teardown { reason, stages });
        self.carry_out(actions);
    }

    /// The runtime exited during a teardown.
    pub(super) fn teardown_runtime_exited(&mut self) {
        self.teardown_input(Input::RuntimeExited);
    }

    /// An extension process exited during a teardown.
    pub(super) fn teardown_extension_exited(&mut self) {
        self.teardown_input(Input::ExtensionExited);
    }

    /// The timer fired (possibly early) during a teardown.
    pub(super) fn teardown_timer(&mut self, now: Instant) {
        self.teardown_input(Input::Timer { now });
    }

    fn teardown_input(&mut self, input: Input) {
        let gone = self.extensions.all_processes_exited();
        let Some(teardown) = self.ending.teardown_mut() else {
            return;
        };
        let actions = teardown.stages.on(input, gone);
        self.carry_out(actions);
    }

    fn carry_out(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::TerminateRuntime => {
                    if let Some(rt) = &self.runtime {
                        self.processes.signal_group(rt.pid, Signal::SIGTERM);
                    }
                }
                Action::KillRuntime => self.kill_runtime(),
                Action::ShutdownExtensions { deadline } => {
                    let reason = self
                        .ending
                        .teardown()
                        .map_or(ShutdownReason::Failure, |t| t.reason);
                    for pid in self.extensions.send_shutdown(reason, epoch_ms_at(deadline)) {
                        self.processes.signal_group(pid, Signal::SIGKILL);
                    }
                }
                Action::ShutdownFailed => {
                    for name in self.extensions.still_running() {
                        tracing::warn!(extension = %name, "extension did not exit before the shutdown deadline; killed");
                    }
                    self.extensions.shutdown_deadline_passed();
                }
                Action::Finish => self.finish_teardown(),
            }
        }
    }

    fn kill_runtime(&mut self) {
        if let Some(rt) = &self.runtime {
            self.processes.signal_group(rt.pid, Signal::SIGKILL);
        }
    }

    /// Kills whatever is left of this generation and forgets it.
    fn finish_teardown(&mut self) {
        self.kill_runtime();
        for pid in self.extensions.live_pids() {
            self.processes.signal_group(pid, Signal::SIGKILL);
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
        self.ending.finish();
        self.reset_done();
    }
}
