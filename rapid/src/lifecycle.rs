//! The lifecycle as pure functions: the runtime's and each extension's
//! state tables (spec §8 names), and what the execution environment may
//! start next in its phase (spec §4).
//!
//! No sockets, no processes, no clocks: the engine asks whether an input is
//! allowed in the current state and gets the next state or a named error,
//! and asks [`next_start`] what to start. The engine assigns no state of
//! its own: every change goes through `on`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeState {
    /// Spawned, has not called `next` yet.
    Started,
    /// Posted `/init/error`.
    InitError,
    /// Waiting in `next`.
    Ready,
    /// An invoke is assigned and unanswered.
    Running,
    /// A response is being received (streamed).
    InvocationResponse,
    /// Posted `/error` for the current invoke.
    InvocationErrorResponse,
    /// Posted the response for the current invoke.
    RuntimeResponseSentState,
    /// Init caching: waiting in `restore/next` for a restore (init is done).
    RestoreReady,
    /// Its `restore/next` was answered: it runs its after-restore hooks
    /// until it calls `invocation/next`.
    Restoring,
    /// Posted `restore/error` (or `/init/error` while restoring).
    RuntimeRestoreErrorState,
}

/// What the runtime (or the engine, for `Dispatch`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeInput {
    Next,
    InitError,
    Dispatch,
    /// The response starts.
    Response,
    /// The response has been received whole.
    ResponseComplete,
    ErrorResponse,
    /// The runtime calls `restore/next` (init caching).
    RestoreNext,
    /// The engine answers the waiting `restore/next`: the restore starts.
    Restore,
    /// The runtime reports that its after-restore hooks failed.
    RestoreError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct InvalidTransition {
    pub state: RuntimeState,
    pub input: RuntimeInput,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transition from {} to ", self.state.name())?;
        match self.input {
            RuntimeInput::Next => write!(f, "Ready is not allowed"),
            RuntimeInput::InitError => write!(f, "InitError is not allowed"),
            RuntimeInput::Dispatch => write!(f, "Running is not allowed"),
            RuntimeInput::Response => write!(f, "InvocationResponse is not allowed"),
            RuntimeInput::ResponseComplete => write!(f, "RuntimeResponseSentState is not allowed"),
            RuntimeInput::ErrorResponse => write!(f, "InvocationErrorResponse is not allowed"),
            RuntimeInput::RestoreNext => write!(f, "RestoreReady is not allowed"),
            RuntimeInput::Restore => write!(f, "Restoring is not allowed"),
            RuntimeInput::RestoreError => write!(f, "RuntimeRestoreErrorState is not allowed"),
        }
    }
}

impl RuntimeState {
    pub fn name(self) -> &'static str {
        match self {
            RuntimeState::Started => "Started",
            RuntimeState::InitError => "InitError",
            RuntimeState::Ready => "Ready",
            RuntimeState::Running => "Running",
            RuntimeState::InvocationResponse => "InvocationResponse",
            RuntimeState::InvocationErrorResponse => "InvocationErrorResponse",
            RuntimeState::RuntimeResponseSentState => "RuntimeResponseSentState",
            RuntimeState::RestoreReady => "RestoreReady",
            RuntimeState::Restoring => "Restoring",
            RuntimeState::RuntimeRestoreErrorState => "RuntimeRestoreErrorState",
        }
    }

    /// The state after `input`, or why it is not allowed now.
    pub fn on(self, input: RuntimeInput) -> Result<RuntimeState, InvalidTransition> {
        use RuntimeInput as I;
        use RuntimeState as S;
        let next = match (self, input) {
            (S::Started, I::Next) => S::Ready,
            (S::Started, I::InitError) => S::InitError,
            (S::Ready, I::Dispatch) => S::Running,
            (S::Running, I::Response) => S::InvocationResponse,
            (S::InvocationResponse, I::ResponseComplete) => S::RuntimeResponseSentState,
            (S::Running, I::ErrorResponse) => S::InvocationErrorResponse,
            (S::RuntimeResponseSentState | S::InvocationErrorResponse, I::Next) => S::Ready,
            // Init caching: `restore/next` ends init and waits for a
            // restore; the runtime's next `invocation/next` completes it. A
            // runtime that calls `invocation/next` at once (Started + Next)
            // has no after-restore hooks: there is nothing to restore.
            (S::Started, I::RestoreNext) => S::RestoreReady,
            (S::RestoreReady, I::Restore) => S::Restoring,
            (S::Restoring, I::Next) => S::Ready,
            (S::Restoring, I::RestoreError) => S::RuntimeRestoreErrorState,
            (state, input) => return Err(InvalidTransition { state, input }),
        };
        Ok(next)
    }
}

/// An extension's states, with RAPID's names (spec §8). A launched external
/// extension that has not registered yet is `Started`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionState {
    Started,
    /// Registered, has not called `event/next` yet.
    Registered,
    /// Waiting in `event/next`.
    Ready,
    /// An event (INVOKE or SHUTDOWN) was handed out and it has not asked
    /// for the next one.
    Running,
    /// Posted `init/error`.
    InitError,
    /// Posted `exit/error`.
    ExitError,
    /// Still alive when the shutdown deadline passed (then killed).
    ShutdownFailed,
    /// Its process exited.
    Exited,
}

/// What an extension (or the engine, for `Event` and `ShutdownDeadline`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionInput {
    Register,
    Next,
    /// An event is handed out (to its waiting `next`, or kept for its next
    /// call).
    Event,
    InitError,
    ExitError,
    /// Its process exited.
    Exited,
    /// The shutdown deadline passed with its process alive.
    ShutdownDeadline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Extension transition from {} on {input:?} is not allowed", state.name())]
pub struct InvalidExtensionTransition {
    pub state: ExtensionState,
    pub input: ExtensionInput,
}

impl ExtensionState {
    pub fn name(self) -> &'static str {
        match self {
            ExtensionState::Started => "Started",
            ExtensionState::Registered => "Registered",
            ExtensionState::Ready => "Ready",
            ExtensionState::Running => "Running",
            ExtensionState::InitError => "InitError",
            ExtensionState::ExitError => "ExitError",
            ExtensionState::ShutdownFailed => "ShutdownFailed",
            ExtensionState::Exited => "Exited",
        }
    }

    /// The state after `input`, or why it is not allowed now.
    pub fn on(self, input: ExtensionInput) -> Result<ExtensionState, InvalidExtensionTransition> {
        use ExtensionInput as I;
        use ExtensionState as S;
        let next = match (self, input) {
            (S::Started, I::Register) => S::Registered,
            (S::Registered | S::Running, I::Next) => S::Ready,
            // An event for an extension that is not waiting (it has not
            // asked yet, or is still busy with the last one) is kept for its
            // next call.
            (S::Registered | S::Ready | S::Running, I::Event) => S::Running,
            (S::Registered | S::Ready | S::Running, I::InitError) => S::InitError,
            (S::Registered | S::Ready | S::Running, I::ExitError) => S::ExitError,
            // After exit/error it may still wait for (and get) SHUTDOWN;
            // after init/error it gets SHUTDOWN with the others.
            (S::ExitError, I::Next | I::Event) => S::ExitError,
            (S::InitError, I::Event) => S::InitError,
            (state, I::Exited) if state != S::Exited => S::Exited,
            (
                S::Started | S::Registered | S::Ready | S::Running | S::InitError | S::ExitError,
                I::ShutdownDeadline,
            ) => S::ShutdownFailed,
            (state, input) => return Err(InvalidExtensionTransition { state, input }),
        };
        Ok(next)
    }

    /// Nothing to wait for before an invoke can start or end: it waits in
    /// `next`, or it will not ask again.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            ExtensionState::Ready | ExtensionState::ExitError | ExtensionState::Exited
        )
    }
}

/// The execution environment's phase (spec §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No runtime: nothing started yet, or the last generation was torn down.
    Uninitialized,
    Initializing,
    /// Init caching: a restore runs (the runtime's after-restore hooks).
    Restoring,
    /// Initialized and idle.
    Ready,
    /// An invoke was dispatched and is not complete yet.
    Invoking,
    /// A generation is being torn down after a timeout, a failure or a reset.
    Resetting,
    ShuttingDown,
    Shutdown,
}

/// What [`next_start`] looks at: the phase and a few facts of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub phase: Phase,
    /// The runtime's state, when there is a runtime.
    pub runtime: Option<RuntimeState>,
    /// The runtime holds a `next` poll.
    pub runtime_polls: bool,
    /// Every registered extension waits in `next` (or will not ask again).
    pub extensions_settled: bool,
    /// An invoke waits in the queue.
    pub queued: bool,
    /// Someone waits for a restore.
    pub restore_asked: bool,
    /// Init caching (SnapStart) is on.
    pub init_caching: bool,
    /// The last init failed: the next runs inside the waiting invoke's time.
    pub retry_init: bool,
}

/// What the environment starts next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Nothing,
    /// An init, for a waiting invoke. `suppressed`: the last init failed, so
    /// this one runs inside the invoke's own time.
    Init {
        suppressed: bool,
    },
    /// Init caching: answer the runtime waiting in `restore/next`.
    Restore,
    /// A restore was asked of a runtime with no after-restore hooks (it went
    /// to `invocation/next` directly, or was restored already): it is done,
    /// in no time.
    RestoreWithoutHooks,
    /// Hand the invoke at the head of the queue to the runtime.
    Dispatch,
}

/// What may start now: the rules of spec §4 for inits, restores and
/// dispatch, in one place.
pub fn next_start(v: &View) -> Start {
    use RuntimeState as R;
    match v.phase {
        Phase::Uninitialized if v.queued => Start::Init {
            suppressed: v.retry_init,
        },
        Phase::Ready | Phase::Invoking if v.init_caching && v.extensions_settled => {
            match v.runtime {
                // The first invoke performs the restore nobody asked for
                // before it.
                Some(R::RestoreReady)
                    if v.phase == Phase::Ready && (v.restore_asked || v.queued) =>
                {
                    Start::Restore
                }
                Some(R::RestoreReady | R::Started | R::Restoring) | None => Start::Nothing,
                Some(_) if v.restore_asked => Start::RestoreWithoutHooks,
                Some(R::Ready) if v.phase == Phase::Ready && v.queued && v.runtime_polls => {
                    Start::Dispatch
                }
                Some(_) => Start::Nothing,
            }
        }
        Phase::Ready
            if v.queued
                && v.runtime_polls
                && v.extensions_settled
                && v.runtime == Some(R::Ready) =>
        {
            Start::Dispatch
        }
        _ => Start::Nothing,
    }
}

/// Something that ends what the environment is doing: a process exiting on
/// its own, or a reset asked from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disruption {
    RuntimeExited,
    ExtensionExited,
    /// A reset asked (the control API, the contract) with this reason.
    ResetAsked {
        timeout: bool,
    },
}

/// How what was cut short ended, for its REPORT and its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Error,
    Timeout,
    /// The runtime had answered the invoke already: it keeps its answer's
    /// status, and the environment is reset after it.
    Answered,
}

/// What the engine does about a [`Disruption`] in a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A teardown runs already: an exit is what it waits for, and a reset
    /// is done when it is.
    TeardownGoesOn,
    /// Shutting down: a reset is refused.
    Refused,
    /// The init fails (and is retried on the next invoke).
    FailInit(Outcome),
    /// The restore fails (the sandbox is reset like after a failed init).
    FailRestore(Outcome),
    /// The invoke fails, and the sandbox is reset.
    FailInvoke(Outcome),
    /// The runtime has answered: the invoke completes, then the reset runs.
    ResetAfterInvoke,
    /// Nothing runs: reset now (reason `failure` for an exit).
    ResetNow,
}

/// What a disruption does in `phase` (`answered`: the current invoke's
/// runtime has answered it): spec §4's "timeout and crash → reset", and a
/// reset asked from outside cutting short what runs.
pub fn on_disruption(phase: Phase, answered: bool, what: Disruption) -> Verdict {
    use Disruption as D;
    let cut = match what {
        D::ResetAsked { timeout: true } => Outcome::Timeout,
        _ => Outcome::Error,
    };
    match (phase, what) {
        (Phase::ShuttingDown | Phase::Shutdown, D::ResetAsked { .. }) => Verdict::Refused,
        (Phase::Resetting | Phase::ShuttingDown | Phase::Shutdown, _) => Verdict::TeardownGoesOn,
        (Phase::Initializing, _) => Verdict::FailInit(cut),
        (Phase::Restoring, _) => Verdict::FailRestore(cut),
        (Phase::Invoking, D::ResetAsked { .. }) if answered => Verdict::ResetAfterInvoke,
        // It answered, then exited instead of asking for the next invoke:
        // the invoke stands; the exit costs the next one a fresh init.
        (Phase::Invoking, D::RuntimeExited) if answered => Verdict::FailInvoke(Outcome::Answered),
        (Phase::Invoking, _) => Verdict::FailInvoke(cut),
        (Phase::Ready | Phase::Uninitialized, _) => Verdict::ResetNow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RuntimeInput as I;
    use RuntimeState as S;

    const STATES: [S; 10] = [
        S::Started,
        S::InitError,
        S::Ready,
        S::Running,
        S::InvocationResponse,
        S::InvocationErrorResponse,
        S::RuntimeResponseSentState,
        S::RestoreReady,
        S::Restoring,
        S::RuntimeRestoreErrorState,
    ];
    const INPUTS: [I; 9] = [
        I::Next,
        I::InitError,
        I::Dispatch,
        I::Response,
        I::ResponseComplete,
        I::ErrorResponse,
        I::RestoreNext,
        I::Restore,
        I::RestoreError,
    ];

    #[test]
    fn every_state_and_input() {
        let allowed = [
            (S::Started, I::Next, S::Ready),
            (S::Started, I::InitError, S::InitError),
            (S::Ready, I::Dispatch, S::Running),
            (S::Running, I::Response, S::InvocationResponse),
            (
                S::InvocationResponse,
                I::ResponseComplete,
                S::RuntimeResponseSentState,
            ),
            (S::Running, I::ErrorResponse, S::InvocationErrorResponse),
            (S::RuntimeResponseSentState, I::Next, S::Ready),
            (S::InvocationErrorResponse, I::Next, S::Ready),
            (S::Started, I::RestoreNext, S::RestoreReady),
            (S::RestoreReady, I::Restore, S::Restoring),
            (S::Restoring, I::Next, S::Ready),
            (S::Restoring, I::RestoreError, S::RuntimeRestoreErrorState),
        ];
        check_table(&STATES, &INPUTS, &allowed, |state, input| {
            state
                .on(input)
                .map_err(|e| assert_eq!(e, InvalidTransition { state, input }))
        });
    }

    /// Every state × input: the allowed ones give their state, every other
    /// one is refused (`on` checks the refusal names them).
    fn check_table<S, I>(
        states: &[S],
        inputs: &[I],
        allowed: &[(S, I, S)],
        on: impl Fn(S, I) -> Result<S, ()>,
    ) where
        S: Copy + PartialEq + std::fmt::Debug,
        I: Copy + PartialEq + std::fmt::Debug,
    {
        for &state in states {
            for &input in inputs {
                let want = allowed
                    .iter()
                    .find(|(s, i, _)| *s == state && *i == input)
                    .map(|(_, _, to)| *to);
                match (on(state, input), want) {
                    (Ok(got), Some(to)) => assert_eq!(got, to, "{state:?} + {input:?}"),
                    (Err(()), None) => {}
                    (got, want) => panic!("{state:?} + {input:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn errors_name_the_states() {
        let err = S::Running.on(I::Next).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Transition from Running to Ready is not allowed"
        );
        let err = S::InvocationResponse.on(I::Next).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Transition from InvocationResponse to Ready is not allowed"
        );
        let err = S::RuntimeResponseSentState.on(I::Response).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Transition from RuntimeResponseSentState to InvocationResponse is not allowed"
        );
        let err = S::Ready.on(I::RestoreNext).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Transition from Ready to RestoreReady is not allowed"
        );
        let err = S::Started.on(I::Restore).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Transition from Started to Restoring is not allowed"
        );
        let err = S::RestoreReady.on(I::RestoreError).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Transition from RestoreReady to RuntimeRestoreErrorState is not allowed"
        );
    }

    const EXT_STATES: [ExtensionState; 8] = [
        ExtensionState::Started,
        ExtensionState::Registered,
        ExtensionState::Ready,
        ExtensionState::Running,
        ExtensionState::InitError,
        ExtensionState::ExitError,
        ExtensionState::ShutdownFailed,
        ExtensionState::Exited,
    ];
    const EXT_INPUTS: [ExtensionInput; 7] = [
        ExtensionInput::Register,
        ExtensionInput::Next,
        ExtensionInput::Event,
        ExtensionInput::InitError,
        ExtensionInput::ExitError,
        ExtensionInput::Exited,
        ExtensionInput::ShutdownDeadline,
    ];

    #[test]
    fn every_extension_state_and_input() {
        use ExtensionInput as EI;
        use ExtensionState as ES;
        let allowed = [
            (ES::Started, EI::Register, ES::Registered),
            (ES::Started, EI::Exited, ES::Exited),
            (ES::Started, EI::ShutdownDeadline, ES::ShutdownFailed),
            (ES::Registered, EI::Next, ES::Ready),
            (ES::Registered, EI::Event, ES::Running),
            (ES::Registered, EI::InitError, ES::InitError),
            (ES::Registered, EI::ExitError, ES::ExitError),
            (ES::Registered, EI::Exited, ES::Exited),
            (ES::Registered, EI::ShutdownDeadline, ES::ShutdownFailed),
            (ES::Ready, EI::Event, ES::Running),
            (ES::Ready, EI::InitError, ES::InitError),
            (ES::Ready, EI::ExitError, ES::ExitError),
            (ES::Ready, EI::Exited, ES::Exited),
            (ES::Ready, EI::ShutdownDeadline, ES::ShutdownFailed),
            (ES::Running, EI::Next, ES::Ready),
            (ES::Running, EI::Event, ES::Running),
            (ES::Running, EI::InitError, ES::InitError),
            (ES::Running, EI::ExitError, ES::ExitError),
            (ES::Running, EI::Exited, ES::Exited),
            (ES::Running, EI::ShutdownDeadline, ES::ShutdownFailed),
            (ES::InitError, EI::Event, ES::InitError),
            (ES::InitError, EI::Exited, ES::Exited),
            (ES::InitError, EI::ShutdownDeadline, ES::ShutdownFailed),
            (ES::ExitError, EI::Next, ES::ExitError),
            (ES::ExitError, EI::Event, ES::ExitError),
            (ES::ExitError, EI::Exited, ES::Exited),
            (ES::ExitError, EI::ShutdownDeadline, ES::ShutdownFailed),
            (ES::ShutdownFailed, EI::Exited, ES::Exited),
        ];
        check_table(&EXT_STATES, &EXT_INPUTS, &allowed, |state, input| {
            state
                .on(input)
                .map_err(|e| assert_eq!(e, InvalidExtensionTransition { state, input }))
        });
    }

    #[test]
    fn an_extension_is_settled_when_nothing_more_is_expected_of_it() {
        let settled: Vec<ExtensionState> =
            EXT_STATES.into_iter().filter(|s| s.is_settled()).collect();
        assert_eq!(
            settled,
            [
                ExtensionState::Ready,
                ExtensionState::ExitError,
                ExtensionState::Exited
            ]
        );
    }

    const PHASES: [Phase; 8] = [
        Phase::Uninitialized,
        Phase::Initializing,
        Phase::Restoring,
        Phase::Ready,
        Phase::Invoking,
        Phase::Resetting,
        Phase::ShuttingDown,
        Phase::Shutdown,
    ];

    /// Every phase × runtime state × fact: the start [`next_start`] gives
    /// is the one a short statement of spec §4 gives.
    #[test]
    fn what_may_start_in_every_phase() {
        let runtimes: Vec<Option<S>> = std::iter::once(None)
            .chain(STATES.iter().copied().map(Some))
            .collect();
        let mut seen = std::collections::HashSet::new();
        for phase in PHASES {
            for &runtime in &runtimes {
                for bits in 0u8..64 {
                    let bit = |n: u8| bits & (1 << n) != 0;
                    let v = View {
                        phase,
                        runtime,
                        runtime_polls: bit(0),
                        extensions_settled: bit(1),
                        queued: bit(2),
                        restore_asked: bit(3),
                        init_caching: bit(4),
                        retry_init: bit(5),
                    };
                    let want = expected(&v);
                    assert_eq!(next_start(&v), want, "{v:?}");
                    seen.insert(format!("{want:?}"));
                }
            }
        }
        // Every start is reachable.
        assert_eq!(seen.len(), 6, "{seen:?}");
    }

    /// The rules, stated one by one.
    fn expected(v: &View) -> Start {
        // Nothing starts while an init, a restore, a reset or a shutdown
        // runs: each ends with its own event.
        if !matches!(
            v.phase,
            Phase::Uninitialized | Phase::Ready | Phase::Invoking
        ) {
            return Start::Nothing;
        }
        // Without a runtime, a waiting invoke needs an init (suppressed
        // after a failed one).
        if v.phase == Phase::Uninitialized {
            return if v.queued {
                Start::Init {
                    suppressed: v.retry_init,
                }
            } else {
                Start::Nothing
            };
        }
        // Extensions still busy: wait for their next.
        if !v.extensions_settled {
            return Start::Nothing;
        }
        if v.init_caching {
            match v.runtime {
                Some(S::RestoreReady) => {
                    return if v.phase == Phase::Ready && (v.restore_asked || v.queued) {
                        Start::Restore
                    } else {
                        Start::Nothing
                    };
                }
                Some(S::Started | S::Restoring) | None => return Start::Nothing,
                Some(_) if v.restore_asked => return Start::RestoreWithoutHooks,
                Some(_) => {}
            }
        }
        // An idle runtime waiting in next takes the head of the queue.
        if v.phase == Phase::Ready && v.queued && v.runtime_polls && v.runtime == Some(S::Ready) {
            return Start::Dispatch;
        }
        Start::Nothing
    }

    #[test]
    fn what_a_disruption_does_in_every_phase() {
        use Disruption as D;
        use Outcome as O;
        use Verdict as V;
        let disruptions = [
            D::RuntimeExited,
            D::ExtensionExited,
            D::ResetAsked { timeout: true },
            D::ResetAsked { timeout: false },
        ];
        // (phase, answered) -> verdicts for the four disruptions above.
        let table: [((Phase, bool), [Verdict; 4]); 9] = [
            ((Phase::Uninitialized, false), [V::ResetNow; 4]),
            (
                (Phase::Initializing, false),
                [
                    V::FailInit(O::Error),
                    V::FailInit(O::Error),
                    V::FailInit(O::Timeout),
                    V::FailInit(O::Error),
                ],
            ),
            (
                (Phase::Restoring, false),
                [
                    V::FailRestore(O::Error),
                    V::FailRestore(O::Error),
                    V::FailRestore(O::Timeout),
                    V::FailRestore(O::Error),
                ],
            ),
            ((Phase::Ready, false), [V::ResetNow; 4]),
            (
                (Phase::Invoking, false),
                [
                    V::FailInvoke(O::Error),
                    V::FailInvoke(O::Error),
                    V::FailInvoke(O::Timeout),
                    V::FailInvoke(O::Error),
                ],
            ),
            (
                (Phase::Invoking, true),
                [
                    V::FailInvoke(O::Answered),
                    V::FailInvoke(O::Error),
                    V::ResetAfterInvoke,
                    V::ResetAfterInvoke,
                ],
            ),
            ((Phase::Resetting, false), [V::TeardownGoesOn; 4]),
            (
                (Phase::ShuttingDown, false),
                [V::TeardownGoesOn, V::TeardownGoesOn, V::Refused, V::Refused],
            ),
            (
                (Phase::Shutdown, false),
                [V::TeardownGoesOn, V::TeardownGoesOn, V::Refused, V::Refused],
            ),
        ];
        for ((phase, answered), verdicts) in table {
            for (what, want) in disruptions.into_iter().zip(verdicts) {
                assert_eq!(
                    on_disruption(phase, answered, what),
                    want,
                    "{phase:?} (answered: {answered}) + {what:?}"
                );
            }
        }
        // `answered` only matters while an invoke runs.
        for phase in PHASES.into_iter().filter(|p| *p != Phase::Invoking) {
            for what in disruptions {
                assert_eq!(
                    on_disruption(phase, true, what),
                    on_disruption(phase, false, what),
                    "{phase:?} + {what:?}"
                );
            }
        }
    }
}
