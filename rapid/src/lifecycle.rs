//! The runtime's lifecycle as a pure transition function (spec §8 names).
//!
//! No sockets, no processes, no clocks: the engine asks whether an input is
//! allowed in the current state and gets the next state or a named error.

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
            (state, input) => return Err(InvalidTransition { state, input }),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RuntimeInput as I;
    use RuntimeState as S;

    const STATES: [S; 7] = [
        S::Started,
        S::InitError,
        S::Ready,
        S::Running,
        S::InvocationResponse,
        S::InvocationErrorResponse,
        S::RuntimeResponseSentState,
    ];
    const INPUTS: [I; 6] = [
        I::Next,
        I::InitError,
        I::Dispatch,
        I::Response,
        I::ResponseComplete,
        I::ErrorResponse,
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
        ];
        for state in STATES {
            for input in INPUTS {
                let want = allowed
                    .iter()
                    .find(|(s, i, _)| *s == state && *i == input)
                    .map(|(_, _, to)| *to);
                match (state.on(input), want) {
                    (Ok(got), Some(to)) => assert_eq!(got, to, "{state:?} + {input:?}"),
                    (Err(e), None) => {
                        assert_eq!(e, InvalidTransition { state, input });
                    }
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
    }
}
