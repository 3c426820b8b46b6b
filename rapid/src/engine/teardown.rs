//! Reset and shutdown (spec §4), carried out: `lifecycle::teardown` decides
//! the stages (SIGTERM and grace for the runtime, SHUTDOWN and the rest of
//! the budget for extensions, then SIGKILL); this file does what it says.
//! Invokes queue meanwhile.

use super::phase::{Phase, Teardown};
use super::{epoch_ms_at, Engine};
use crate::lifecycle::teardown::{self, Action, Begin, Input, TeardownAsked};
use interop::contract::ShutdownReason;
use nix::sys::signal::Signal;
use std::time::Instant;

impl Engine {
    pub(super) fn begin_teardown(&mut self, reason: ShutdownReason) {
        if teardown::on_teardown_asked(self.phase()) == TeardownAsked::GoesOn {
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
        // What ran ends: an init or a restore under way is dropped, the
        // workers inside timed-out invokes go and free their slots.
        let shutdown = match std::mem::replace(&mut self.phase, Phase::Uninitialized) {
            Phase::ShuttingDown(shutdown) => Some(shutdown),
            Phase::Serving(mut invocations) => {
                // Whatever begins a teardown has ended the invokes in
                // flight first (`fail_invocations`, `maybe_finish_invoke`).
                #[cfg(test)]
                assert!(
                    !invocations.any(),
                    "a teardown begun with invokes in flight"
                );
                invocations.release_held_slots();
                None
            }
            Phase::Uninitialized
            | Phase::Initializing(_)
            | Phase::Restoring(_)
            | Phase::Resetting(_) => None,
        };
        // Signals and SHUTDOWN must reach processes that can act on them.
        self.thaw();
        self.logs.mark(telemetry::Mark::Teardown {
            reason: reason.as_str(),
        });
        // A restore waited for in this generation will not run.
        self.abandon_restore(super::RestoreFailed::Reset);
        let asked = shutdown.as_ref().and_then(|shutdown| shutdown.budget);
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
        let teardown = Teardown { reason, stages };
        self.phase = match shutdown {
            Some(mut shutdown) => {
                shutdown.teardown = Some(teardown);
                Phase::ShuttingDown(shutdown)
            }
            None => Phase::Resetting(teardown),
        };
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
        let Some(teardown) = self.phase.teardown_mut() else {
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
                        .phase
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
        self.phase = match std::mem::replace(&mut self.phase, Phase::Uninitialized) {
            Phase::ShuttingDown(mut shutdown) => {
                shutdown.teardown = None;
                Phase::ShuttingDown(shutdown)
            }
            _ => Phase::Uninitialized,
        };
        self.reset_done();
    }
}
