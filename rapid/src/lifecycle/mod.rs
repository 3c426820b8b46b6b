//! The lifecycle as pure functions: the runtime's and each extension's
//! state tables (spec §8 names), what the execution environment may start
//! next in its phase and what a disruption does there (spec §4), the
//! stages of a teardown, which deadline falls due first, and when an init
//! or an invoke is complete.
//!
//! No sockets, no processes, no clocks: the engine asks whether an input is
//! allowed in the current state and gets the next state or a named error,
//! asks what to start, and carries out what it is told. The engine assigns
//! no state of its own: every change goes through these tables.

mod answer;
mod caller;
mod calls;
mod credentials;
pub mod deadlines;
mod extension;
mod freeze;
mod phase;
mod runtime;
pub mod teardown;
mod workers;

pub use answer::{answer_for, may_forward, AnswerFor, ForwardRefused};
pub use caller::{on_runtime_caller, CallerCheck, RuntimeCall};
pub use calls::{on_call, Admit, Call};
pub use credentials::{on_credentials, CredentialsCall};
pub use extension::{
    extension_next, may_post_init_error, may_register, on_register, ExtensionInput, ExtensionNext,
    ExtensionNextEnds, ExtensionState, InvalidExtensionTransition, RegisterRefused, Registering,
    MAX_EXTENSIONS,
};
pub use freeze::{may_freeze, Freezing};
pub use phase::{
    anything_to_start, init_complete, invoke_complete, next_start, on_await_init, on_disruption,
    on_init_asked, on_restore_asked, on_shutdown_asked, reset_step, runtime_may_start,
    takes_messages, AwaitInit, Disruption, InitAsked, Outcome, Phase, ResetStep, RestoreAsked,
    ShutdownStep, Start, Verdict, View,
};
pub use runtime::{
    on_init_error, on_next, on_restore_call, on_stream_end, AfterNext, InitErrorCall,
    InvalidTransition, NextCall, Poll, RestoreCall, RestorePath, RuntimeInput, RuntimeState,
    StreamEnded,
};
pub use workers::{
    on_invoke_deadline, on_waiting_deadline, on_worker_poll, InvokeDeadline, WaitingExpired,
    WorkerPoll,
};

#[cfg(test)]
pub(crate) mod table {
    /// Every state × input: the allowed ones give their state, every other
    /// one is refused (`on` checks the refusal names them).
    pub(crate) fn check_table<S, I>(
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
}
