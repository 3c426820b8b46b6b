//! The runtime's states and what moves it between them (spec §8).

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

/// The runtime's pending `invocation/next`, as rapid holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    None,
    Open,
    /// Held, but its connection has closed.
    Closed,
}

/// What the runtime's `invocation/next` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextCall {
    /// Refused (`403 InvalidStateTransition`) for this reason.
    Refused(&'static str),
    /// It asks before rapid has seen the end of its streamed response on
    /// the other connection: the poll is held until then.
    HeldUntilStreamEnds,
    /// It waits (again) in `next`; a held poll whose connection closed is
    /// replaced.
    Waits,
    /// The runtime steps `Next` (refused in the table's words where it may
    /// not), then this.
    Steps(AfterNext),
    /// Multi-concurrency: a worker of an initialized runtime asks for an
    /// invoke. It ends nothing and steps no table: it is one more poll
    /// (`Engine::concurrent_poll`, at most K).
    WorkerPoll,
}

/// What the runtime's `next` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterNext {
    /// Its first `next`: registration closes, the init may be complete.
    Init,
    /// Its `next` after the after-restore hooks: the restore is done.
    Restore,
    /// Its `next` after answering: the invoke may be complete.
    Invoke,
}

/// What the runtime's `invocation/next` does in this state (`resetting`:
/// a teardown runs; `runtime`: none when no runtime runs; `concurrent`:
/// multi-concurrency, where the table describes the runtime only up to
/// its first `next`).
pub fn on_next(
    resetting: bool,
    concurrent: bool,
    runtime: Option<RuntimeState>,
    poll: Poll,
) -> NextCall {
    use RuntimeState as S;
    match (runtime, poll) {
        _ if resetting => NextCall::Refused("the execution environment is resetting"),
        (None, _) => NextCall::Refused("no runtime is running"),
        (Some(S::Ready), _) if concurrent => NextCall::WorkerPoll,
        (Some(S::InvocationResponse), Poll::None) => NextCall::HeldUntilStreamEnds,
        (Some(S::Ready), Poll::Open) => {
            NextCall::Refused("the runtime is already waiting for the next invocation")
        }
        (Some(S::Ready), Poll::None | Poll::Closed) => NextCall::Waits,
        (Some(S::Started), _) => NextCall::Steps(AfterNext::Init),
        (Some(S::Restoring), _) => NextCall::Steps(AfterNext::Restore),
        (Some(_), _) => NextCall::Steps(AfterNext::Invoke),
    }
}

/// What the runtime's `/init/error` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitErrorCall {
    /// Refused: no runtime is initializing.
    NoRuntime,
    /// A runtime whose after-restore hooks fail may say so on
    /// `/init/error`: Lambda takes it as a restore error.
    RestoreError,
    /// It steps `InitError` (refused in the table's words where it may
    /// not), and the init fails.
    Steps,
}

/// What the runtime's `/init/error` does in this state (`None`: no
/// runtime runs).
pub fn on_init_error(runtime: Option<RuntimeState>) -> InitErrorCall {
    match runtime {
        None => InitErrorCall::NoRuntime,
        Some(RuntimeState::Restoring) => InitErrorCall::RestoreError,
        Some(_) => InitErrorCall::Steps,
    }
}

/// A call of the runtime's under init caching: `restore/next` (it ends its
/// init and waits for a restore) or `restore/error` (its after-restore
/// hooks failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePath {
    Next,
    Error,
}

/// What a runtime's `restore/next` or `restore/error` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreCall {
    /// Init caching is off: there is no such path (`InitCachingDisabled`).
    NotEnabled,
    /// Refused (`403 InvalidStateTransition`) for this reason.
    Refused(&'static str),
    /// It steps its input (refused in the table's words where it may not).
    /// `first`: the runtime's first call (its `restore/next` while
    /// `Started`), which only its own process may make.
    Steps { first: bool },
}

/// What the runtime's `path` does (`init_caching`: on; `resetting`: a
/// teardown runs; `runtime`: none when no runtime runs).
pub fn on_restore_call(
    path: RestorePath,
    init_caching: bool,
    resetting: bool,
    runtime: Option<RuntimeState>,
) -> RestoreCall {
    match runtime {
        _ if !init_caching => RestoreCall::NotEnabled,
        _ if resetting && path == RestorePath::Next => {
            RestoreCall::Refused("the execution environment is resetting")
        }
        None => RestoreCall::Refused("no runtime is running"),
        Some(state) => RestoreCall::Steps {
            first: path == RestorePath::Next && state == RuntimeState::Started,
        },
    }
}

/// What the end of a streamed response does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnded {
    /// Multi-concurrency: the invoke is complete at its answer.
    Complete,
    /// One invoke at a time: the runtime's `next` that came while the
    /// stream was still open (`NextCall::HeldUntilStreamEnds`) steps `Next`
    /// now (refused in the table's words where it may not), and the invoke
    /// may be complete.
    StepsHeldNext,
    /// One invoke at a time, no `next` held: the invoke completes once the
    /// runtime asks for its next one.
    AwaitsNext,
}

/// What the end of a streamed response does (`concurrent`: the invoke has
/// its own place in the table, multi-concurrency; `next_held`: the runtime
/// waits in a `next` already).
pub fn on_stream_end(concurrent: bool, next_held: bool) -> StreamEnded {
    match (concurrent, next_held) {
        (true, _) => StreamEnded::Complete,
        (false, true) => StreamEnded::StepsHeldNext,
        (false, false) => StreamEnded::AwaitsNext,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::lifecycle::table::check_table;
    use RuntimeInput as I;
    use RuntimeState as S;

    pub(crate) const STATES: [S; 10] = [
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

    #[test]
    fn what_a_runtime_s_init_error_does_in_every_state() {
        assert_eq!(on_init_error(None), InitErrorCall::NoRuntime);
        for state in STATES {
            let want = match state {
                S::Restoring => InitErrorCall::RestoreError,
                _ => InitErrorCall::Steps,
            };
            assert_eq!(on_init_error(Some(state)), want, "{state:?}");
        }
        // Where it steps, the table allows `InitError` only during init.
        let steps_allowed: Vec<S> = STATES
            .into_iter()
            .filter(|s| on_init_error(Some(*s)) == InitErrorCall::Steps)
            .filter(|s| s.on(I::InitError).is_ok())
            .collect();
        assert_eq!(steps_allowed, [S::Started]);
    }

    #[test]
    fn what_a_runtime_s_next_does_in_every_state() {
        let polls = [Poll::None, Poll::Open, Poll::Closed];
        for (resetting, concurrent) in [(false, false), (true, false), (false, true), (true, true)]
        {
            for runtime in std::iter::once(None).chain(STATES.iter().copied().map(Some)) {
                for poll in polls {
                    let want = match runtime {
                        _ if resetting => {
                            NextCall::Refused("the execution environment is resetting")
                        }
                        None => NextCall::Refused("no runtime is running"),
                        Some(S::Ready) if concurrent => NextCall::WorkerPoll,
                        Some(S::InvocationResponse) if poll == Poll::None => {
                            NextCall::HeldUntilStreamEnds
                        }
                        Some(S::Ready) if poll == Poll::Open => NextCall::Refused(
                            "the runtime is already waiting for the next invocation",
                        ),
                        Some(S::Ready) => NextCall::Waits,
                        Some(S::Started) => NextCall::Steps(AfterNext::Init),
                        Some(S::Restoring) => NextCall::Steps(AfterNext::Restore),
                        Some(_) => NextCall::Steps(AfterNext::Invoke),
                    };
                    assert_eq!(
                        on_next(resetting, concurrent, runtime, poll),
                        want,
                        "resetting: {resetting} concurrent: {concurrent} runtime: {runtime:?} poll: {poll:?}"
                    );
                }
            }
        }
        // Where it steps, the state table says whether `Next` is allowed:
        // from a state that answered, after init or after a restore.
        let steps_allowed: Vec<S> = STATES
            .into_iter()
            .filter(|s| {
                matches!(
                    on_next(false, false, Some(*s), Poll::None),
                    NextCall::Steps(_)
                )
            })
            .filter(|s| s.on(I::Next).is_ok())
            .collect();
        assert_eq!(
            steps_allowed,
            [
                S::Started,
                S::InvocationErrorResponse,
                S::RuntimeResponseSentState,
                S::Restoring
            ]
        );
    }

    #[test]
    fn what_the_end_of_a_stream_does() {
        let table = [
            ((false, false), StreamEnded::AwaitsNext),
            ((false, true), StreamEnded::StepsHeldNext),
            ((true, false), StreamEnded::Complete),
            ((true, true), StreamEnded::Complete),
        ];
        for ((concurrent, next_held), want) in table {
            assert_eq!(
                on_stream_end(concurrent, next_held),
                want,
                "concurrent {concurrent} next held {next_held}"
            );
        }
    }

    #[test]
    fn what_a_runtime_s_restore_call_does_in_every_state() {
        for path in [RestorePath::Next, RestorePath::Error] {
            for init_caching in [false, true] {
                for resetting in [false, true] {
                    for runtime in std::iter::once(None).chain(STATES.iter().copied().map(Some)) {
                        let want = match runtime {
                            _ if !init_caching => RestoreCall::NotEnabled,
                            // An error of hooks that ran is heard during a
                            // reset too; a new restore/next is not.
                            _ if resetting && path == RestorePath::Next => {
                                RestoreCall::Refused("the execution environment is resetting")
                            }
                            None => RestoreCall::Refused("no runtime is running"),
                            Some(S::Started) if path == RestorePath::Next => {
                                RestoreCall::Steps { first: true }
                            }
                            Some(_) => RestoreCall::Steps { first: false },
                        };
                        assert_eq!(
                            on_restore_call(path, init_caching, resetting, runtime),
                            want,
                            "{path:?} caching {init_caching} resetting {resetting} {runtime:?}"
                        );
                    }
                }
            }
        }
    }
}
