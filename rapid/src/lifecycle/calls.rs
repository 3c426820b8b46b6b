//! What each message of the engine does in each phase before its handler
//! looks at it: handled, or refused because the environment shuts down.
//! One table for the engine's loop and for the reaping after it, so the
//! engine's `refuse` only words a refusal for each kind of reply and
//! decides nothing. A handler's own table may still refuse (an init asked
//! while shutting down: `on_init_asked`; a reset: `on_disruption`; a
//! restore: `on_restore_asked`), with the answer that call has.

use super::Phase;

/// A kind of message (`Message::call` in the engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// An invoke sent to the environment.
    Invoke,
    /// An init asked (`--eager-init`, the contract's `init`).
    Init,
    /// Waiting for the init's outcome (the contract's `InitHandle`).
    AwaitInit,
    /// The runtime's `invocation/next`.
    RuntimeNext,
    /// The runtime's response, the start or end of a streamed one, its
    /// invocation error.
    Answer,
    /// The runtime's `/init/error`.
    InitError,
    /// An extension's `register`.
    Register,
    /// An extension's `event/next`, `init/error` or `exit/error`.
    ExtensionCall,
    /// A process of the sandbox exited (the reaper).
    Exited,
    /// A shutdown asked.
    Shutdown,
    /// The control API's view of the states.
    InternalState,
    /// A reset asked.
    Reset,
    /// Init caching: the runtime's `restore/next` or `restore/error`.
    RuntimeRestoreCall,
    /// Init caching: a restore asked.
    Restore,
    /// Init caching: the credentials endpoint.
    Credentials,
}

/// Whether a message is handled, or refused before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Handle,
    /// Refused: the environment shuts down (`Sandbox.Shutdown` for an
    /// invoke, `ShuttingDown` for the APIs and the contract).
    ShuttingDown,
}

/// What `call` does in `phase`.
pub fn on_call(phase: Phase, call: Call) -> Admit {
    match (phase, call) {
        // Shut down (the engine reaps what it killed): exits are reaped and
        // a further shutdown waits for the end; everything else is told the
        // environment is gone.
        (Phase::Shutdown, Call::Exited | Call::Shutdown) => Admit::Handle,
        (Phase::Shutdown, _) => Admit::ShuttingDown,
        // Shutting down: no invoke is taken any more (those queued were
        // refused when the shutdown was asked).
        (Phase::ShuttingDown, Call::Invoke) => Admit::ShuttingDown,
        _ => Admit::Handle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::phase::tests::PHASES;

    const CALLS: [Call; 15] = [
        Call::Invoke,
        Call::Init,
        Call::AwaitInit,
        Call::RuntimeNext,
        Call::Answer,
        Call::InitError,
        Call::Register,
        Call::ExtensionCall,
        Call::Exited,
        Call::Shutdown,
        Call::InternalState,
        Call::Reset,
        Call::RuntimeRestoreCall,
        Call::Restore,
        Call::Credentials,
    ];

    #[test]
    fn what_every_message_does_in_every_phase() {
        for phase in PHASES {
            for call in CALLS {
                let want = match (phase, call) {
                    (Phase::Shutdown, Call::Exited | Call::Shutdown) => Admit::Handle,
                    (Phase::Shutdown, _) => Admit::ShuttingDown,
                    (Phase::ShuttingDown, Call::Invoke) => Admit::ShuttingDown,
                    (
                        Phase::Uninitialized
                        | Phase::Initializing
                        | Phase::Restoring
                        | Phase::Ready
                        | Phase::Invoking
                        | Phase::Resetting
                        | Phase::ShuttingDown,
                        _,
                    ) => Admit::Handle,
                };
                assert_eq!(on_call(phase, call), want, "{phase:?} {call:?}");
            }
        }
    }
}
