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
}
