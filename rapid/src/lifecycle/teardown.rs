//! The stages of a teardown (reset or shutdown, spec §4): with no extension
//! registered the runtime is killed at once; otherwise the runtime gets
//! SIGTERM and 30 % of the budget, then each extension registered for it
//! gets SHUTDOWN and the rest of the budget to exit, and whatever is left is
//! killed.
//!
//! Pure: the engine says what happened (with the time and the facts it
//! knows), the teardown moves to its next stage and says what to do.

use super::Phase;
use interop::contract::ShutdownReason;
use std::time::{Duration, Instant};

/// Lambda's shutdown budget when only internal extensions registered.
pub const BUDGET_INTERNAL_ONLY: Duration = Duration::from_millis(500);
/// Lambda's shutdown budget when an external extension registered.
pub const BUDGET_EXTERNAL: Duration = Duration::from_millis(2000);

/// The budget of a teardown: Lambda's, or the one a shutdown was asked
/// with (the control API's `timeoutMs`; a reset always has Lambda's).
pub fn budget(external_registered: bool, shutdown_asked_with: Option<Duration>) -> Duration {
    match shutdown_asked_with {
        Some(budget) => budget,
        None if external_registered => BUDGET_EXTERNAL,
        None => BUDGET_INTERNAL_ONLY,
    }
}

/// Why a teardown runs, as SHUTDOWN tells extensions: a shutdown is a
/// spindown whatever became of what ran; after a timeout the reset's
/// reason is `timeout`, after anything else `failure`.
pub fn reason(shutting_down: bool, timed_out: bool) -> ShutdownReason {
    match (shutting_down, timed_out) {
        (true, _) => ShutdownReason::Spindown,
        (false, true) => ShutdownReason::Timeout,
        (false, false) => ShutdownReason::Failure,
    }
}

/// What asking for a teardown does in a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeardownAsked {
    /// Begin one: what runs in the phase ends.
    Begin,
    /// A teardown is under way (a reset, or a shutdown's): it goes on as
    /// it is, with its stages and its reason (a crash or a timeout during
    /// a teardown does not start another).
    GoesOn,
}

/// Whether a teardown asked for in `phase` begins one.
pub fn on_teardown_asked(phase: Phase) -> TeardownAsked {
    match phase {
        Phase::Resetting | Phase::ShuttingDown => TeardownAsked::GoesOn,
        Phase::Uninitialized
        | Phase::Initializing
        | Phase::Restoring
        | Phase::Ready
        | Phase::Invoking
        | Phase::Shutdown => TeardownAsked::Begin,
    }
}

/// What an init or a restore that failed does (spec §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartFailed {
    /// The invoke waiting for it (the head of the queue) fails with its
    /// error; the invokes behind it wait for the next init.
    pub fail_head: bool,
    /// The next invoke starts a new init (on its own clock).
    pub retry_init: bool,
    /// The generation is torn down, for this reason.
    pub teardown: ShutdownReason,
}

/// An init or a restore failed (`timed_out`: by its timeout), with an
/// invoke waiting for it or not (`queued`), while shutting down or not.
pub fn on_start_failed(shutting_down: bool, timed_out: bool, queued: bool) -> StartFailed {
    StartFailed {
        fail_head: queued,
        retry_init: true,
        teardown: reason(shutting_down, timed_out),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The runtime got SIGTERM and has until then to exit.
    RuntimeGrace { until: Instant },
    /// Extensions got SHUTDOWN and have until the deadline to exit.
    Extensions,
    /// Everything is gone or killed: the generation is over.
    Finished,
}

/// What the engine knows when a teardown begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    pub now: Instant,
    pub budget: Duration,
    /// Some extension registered (internal or external).
    pub extensions_registered: bool,
    /// The runtime process is alive.
    pub runtime_alive: bool,
    /// Every extension process has exited already.
    pub extensions_gone: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    RuntimeExited,
    ExtensionExited,
    /// The timer fired at `now` (possibly early: the stage's deadline decides).
    Timer {
        now: Instant,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGTERM to the runtime's process group.
    TerminateRuntime,
    /// SIGKILL to what is left of the runtime's process group.
    KillRuntime,
    /// SHUTDOWN (with this `deadlineMs`) to the extensions registered for
    /// it; the processes of the others are killed.
    ShutdownExtensions { deadline: Instant },
    /// The extensions still alive failed to shut down in time.
    ShutdownFailed,
    /// Kill whatever is left and end the generation.
    Finish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Teardown {
    /// The end of the whole budget: extensions' `deadlineMs`.
    pub deadline: Instant,
    pub stage: Stage,
}

impl Teardown {
    /// Begins a teardown: its first stage and what to do now.
    pub fn begin(b: Begin) -> (Teardown, Vec<Action>) {
        let deadline = super::deadlines::after(b.now, b.budget);
        let mut teardown = Teardown {
            deadline,
            stage: Stage::Extensions,
        };
        let actions = if !b.extensions_registered {
            teardown.stage = Stage::Finished;
            vec![Action::KillRuntime, Action::Finish]
        } else if b.runtime_alive {
            teardown.stage = Stage::RuntimeGrace {
                until: super::deadlines::after(
                    b.now,
                    b.budget.min(super::deadlines::FAR_FUTURE).mul_f64(0.3),
                ),
            };
            vec![Action::TerminateRuntime]
        } else {
            teardown.shut_extensions_down(Vec::new(), b.extensions_gone)
        };
        (teardown, actions)
    }

    /// When the timer must fire next, until the teardown is finished.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.stage {
            Stage::RuntimeGrace { until } => Some(until),
            Stage::Extensions => Some(self.deadline),
            Stage::Finished => None,
        }
    }

    /// What `input` does; `extensions_gone`: every extension process has
    /// exited (after this input).
    pub fn on(&mut self, input: Input, extensions_gone: bool) -> Vec<Action> {
        match (self.stage, input) {
            (Stage::RuntimeGrace { .. }, Input::RuntimeExited) => {
                // What is left of its group goes with it.
                self.shut_extensions_down(vec![Action::KillRuntime], extensions_gone)
            }
            (Stage::RuntimeGrace { until }, Input::Timer { now }) if now >= until => {
                self.shut_extensions_down(vec![Action::KillRuntime], extensions_gone)
            }
            (Stage::Extensions, Input::ExtensionExited) if extensions_gone => self.finish(vec![]),
            (Stage::Extensions, Input::Timer { now }) if now >= self.deadline => {
                self.finish(vec![Action::ShutdownFailed])
            }
            _ => Vec::new(),
        }
    }

    fn shut_extensions_down(
        &mut self,
        mut actions: Vec<Action>,
        extensions_gone: bool,
    ) -> Vec<Action> {
        self.stage = Stage::Extensions;
        actions.push(Action::ShutdownExtensions {
            deadline: self.deadline,
        });
        if extensions_gone {
            return self.finish(actions);
        }
        actions
    }

    fn finish(&mut self, mut actions: Vec<Action>) -> Vec<Action> {
        self.stage = Stage::Finished;
        actions.push(Action::Finish);
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;

    fn begin(extensions_registered: bool, runtime_alive: bool, gone: bool) -> Begin {
        Begin {
            now: t0(),
            budget: Duration::from_millis(1000),
            extensions_registered,
            runtime_alive,
            extensions_gone: gone,
        }
    }

    fn t0() -> Instant {
        static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T0.get_or_init(Instant::now)
    }

    fn ms(n: u64) -> Instant {
        t0() + Duration::from_millis(n)
    }

    #[test]
    fn a_teardown_under_way_goes_on() {
        use crate::lifecycle::phase::tests::PHASES;
        for phase in PHASES {
            let want = match phase {
                Phase::Resetting | Phase::ShuttingDown => TeardownAsked::GoesOn,
                _ => TeardownAsked::Begin,
            };
            assert_eq!(on_teardown_asked(phase), want, "{phase:?}");
        }
    }

    #[test]
    fn a_failed_start_fails_the_head_and_tears_down() {
        use ShutdownReason as R;
        // (shutting down, timed out, queued) -> (fail the head, reason)
        let table = [
            ((false, false, false), (false, R::Failure)),
            ((false, false, true), (true, R::Failure)),
            ((false, true, false), (false, R::Timeout)),
            ((false, true, true), (true, R::Timeout)),
            ((true, false, false), (false, R::Spindown)),
            ((true, false, true), (true, R::Spindown)),
            ((true, true, false), (false, R::Spindown)),
            ((true, true, true), (true, R::Spindown)),
        ];
        for ((shutting_down, timed_out, queued), (fail_head, teardown)) in table {
            let want = StartFailed {
                fail_head,
                retry_init: true,
                teardown,
            };
            assert_eq!(
                on_start_failed(shutting_down, timed_out, queued),
                want,
                "shutting down {shutting_down}, timed out {timed_out}, queued {queued}"
            );
        }
    }

    #[test]
    fn the_budget_is_lambdas_unless_a_shutdown_asked_for_one() {
        assert_eq!(budget(false, None), BUDGET_INTERNAL_ONLY);
        assert_eq!(budget(true, None), BUDGET_EXTERNAL);
        let asked = Duration::from_millis(7000);
        assert_eq!(budget(false, Some(asked)), asked);
        assert_eq!(budget(true, Some(asked)), asked);
    }

    #[test]
    fn a_budget_past_the_clock_saturates() {
        let far = t0() + crate::lifecycle::deadlines::FAR_FUTURE;
        for budget in [Duration::MAX, Duration::from_millis(u64::MAX)] {
            let (teardown, actions) = Teardown::begin(Begin {
                budget,
                ..begin(true, true, false)
            });
            assert!(teardown.deadline <= far, "{budget:?}");
            assert!(teardown.deadline > ms(1000), "{budget:?}");
            assert_eq!(actions, vec![A::TerminateRuntime]);
        }
    }

    #[test]
    fn the_reason_extensions_are_told() {
        assert_eq!(reason(true, true), ShutdownReason::Spindown);
        assert_eq!(reason(true, false), ShutdownReason::Spindown);
        assert_eq!(reason(false, true), ShutdownReason::Timeout);
        assert_eq!(reason(false, false), ShutdownReason::Failure);
    }

    #[test]
    fn how_a_teardown_begins() {
        let shutdown = A::ShutdownExtensions { deadline: ms(1000) };
        let table = [
            // (registered, runtime alive, extensions gone) -> stage, actions
            (
                (false, true, false),
                Stage::Finished,
                vec![A::KillRuntime, A::Finish],
            ),
            (
                (false, false, true),
                Stage::Finished,
                vec![A::KillRuntime, A::Finish],
            ),
            (
                (true, true, false),
                Stage::RuntimeGrace { until: ms(300) },
                vec![A::TerminateRuntime],
            ),
            (
                (true, true, true),
                Stage::RuntimeGrace { until: ms(300) },
                vec![A::TerminateRuntime],
            ),
            ((true, false, false), Stage::Extensions, vec![shutdown]),
            (
                (true, false, true),
                Stage::Finished,
                vec![shutdown, A::Finish],
            ),
        ];
        for ((registered, alive, gone), stage, actions) in table {
            let (teardown, got) = Teardown::begin(begin(registered, alive, gone));
            assert_eq!(teardown.stage, stage, "{registered} {alive} {gone}");
            assert_eq!(teardown.deadline, ms(1000));
            assert_eq!(got, actions, "{registered} {alive} {gone}");
        }
    }

    /// Every stage × input × (extensions gone): the next stage and the
    /// actions.
    #[test]
    fn every_stage_and_input() {
        let grace = Stage::RuntimeGrace { until: ms(300) };
        let shutdown = A::ShutdownExtensions { deadline: ms(1000) };
        let early = Input::Timer { now: ms(299) };
        let grace_over = Input::Timer { now: ms(300) };
        let budget_over = Input::Timer { now: ms(1000) };
        let inputs = [
            Input::RuntimeExited,
            Input::ExtensionExited,
            early,
            grace_over,
            Input::Timer { now: ms(999) },
            budget_over,
        ];
        let table: &[(Stage, Input, bool, Stage, Vec<Action>)] = &[
            (
                grace,
                Input::RuntimeExited,
                false,
                Stage::Extensions,
                vec![A::KillRuntime, shutdown],
            ),
            (
                grace,
                Input::RuntimeExited,
                true,
                Stage::Finished,
                vec![A::KillRuntime, shutdown, A::Finish],
            ),
            (
                grace,
                grace_over,
                false,
                Stage::Extensions,
                vec![A::KillRuntime, shutdown],
            ),
            (
                grace,
                grace_over,
                true,
                Stage::Finished,
                vec![A::KillRuntime, shutdown, A::Finish],
            ),
            (
                grace,
                Input::Timer { now: ms(999) },
                false,
                Stage::Extensions,
                vec![A::KillRuntime, shutdown],
            ),
            (
                grace,
                Input::Timer { now: ms(999) },
                true,
                Stage::Finished,
                vec![A::KillRuntime, shutdown, A::Finish],
            ),
            (
                grace,
                budget_over,
                false,
                Stage::Extensions,
                vec![A::KillRuntime, shutdown],
            ),
            (
                grace,
                budget_over,
                true,
                Stage::Finished,
                vec![A::KillRuntime, shutdown, A::Finish],
            ),
            (
                Stage::Extensions,
                Input::ExtensionExited,
                true,
                Stage::Finished,
                vec![A::Finish],
            ),
            (
                Stage::Extensions,
                budget_over,
                false,
                Stage::Finished,
                vec![A::ShutdownFailed, A::Finish],
            ),
            (
                Stage::Extensions,
                budget_over,
                true,
                Stage::Finished,
                vec![A::ShutdownFailed, A::Finish],
            ),
        ];
        for stage in [grace, Stage::Extensions, Stage::Finished] {
            for input in inputs {
                for gone in [false, true] {
                    let mut teardown = Teardown {
                        deadline: ms(1000),
                        stage,
                    };
                    let got = teardown.on(input, gone);
                    let want = table
                        .iter()
                        .find(|(s, i, g, _, _)| *s == stage && *i == input && *g == gone);
                    match want {
                        Some((_, _, _, to, actions)) => {
                            assert_eq!(&got, actions, "{stage:?} + {input:?} (gone: {gone})");
                            assert_eq!(teardown.stage, *to, "{stage:?} + {input:?} (gone: {gone})");
                        }
                        None => {
                            // Nothing happens, nothing changes.
                            assert_eq!(got, [], "{stage:?} + {input:?} (gone: {gone})");
                            assert_eq!(teardown.stage, stage, "{stage:?} + {input:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_timer_follows_the_stage() {
        let (mut teardown, _) = Teardown::begin(begin(true, true, false));
        assert_eq!(teardown.next_deadline(), Some(ms(300)));
        teardown.on(Input::RuntimeExited, false);
        assert_eq!(teardown.next_deadline(), Some(ms(1000)));
        teardown.on(Input::ExtensionExited, true);
        assert_eq!(teardown.next_deadline(), None);
    }
}
