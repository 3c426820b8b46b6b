//! An extension's states and what moves it between them (spec §8).

use super::Phase;

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

/// Lambda's limit on registered extensions.
pub const MAX_EXTENSIONS: usize = 10;

/// What the environment says to a `register` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registering {
    /// Registration is open (init runs, the runtime has not called `next`).
    pub open: bool,
    /// The environment's phase: registration closes for a reset or a
    /// shutdown, whatever `open` says.
    pub phase: Phase,
    /// An extension of that name registered already.
    pub name_taken: bool,
    /// How many registered so far.
    pub registered: usize,
    /// It asks for SHUTDOWN.
    pub wants_shutdown: bool,
    /// It is an external extension (a file of the extensions directory).
    pub external: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterRefused {
    Closed,
    /// The caller is not a process of this execution environment (one from
    /// before a reset?).
    Foreign,
    AlreadyRegistered,
    TooMany,
    /// An internal extension cannot register for SHUTDOWN.
    ShutdownForInternal,
}

impl Registering {
    /// Registration is open and no teardown runs: only then is the caller
    /// worth asking who it is (a closed registration tells a stale process
    /// nothing more than "closed").
    pub fn is_open(&self) -> bool {
        self.open
            && !matches!(
                self.phase,
                Phase::Resetting | Phase::ShuttingDown | Phase::Shutdown
            )
    }
}

/// Whether a `register` call is allowed now (spec §5), checked in this
/// order, and the state the extension starts in when it is: the table's
/// `Started` + `Register`.
pub fn may_register(r: &Registering) -> Result<ExtensionState, RegisterRefused> {
    if !r.is_open() {
        Err(RegisterRefused::Closed)
    } else if r.name_taken {
        Err(RegisterRefused::AlreadyRegistered)
    } else if r.registered >= MAX_EXTENSIONS {
        Err(RegisterRefused::TooMany)
    } else if r.wants_shutdown && !r.external {
        Err(RegisterRefused::ShutdownForInternal)
    } else {
        Ok(ExtensionState::Registered)
    }
}

/// A `register` call (spec §5): while registration is open the caller is
/// asked about first (`foreign`: it is not a process of this environment,
/// so a stale process learns nothing more); a closed registration is
/// refused without asking. Then [`may_register`].
pub fn on_register(
    r: &Registering,
    foreign: impl FnOnce() -> bool,
) -> Result<ExtensionState, RegisterRefused> {
    if r.is_open() && foreign() {
        return Err(RegisterRefused::Foreign);
    }
    may_register(r)
}

/// Whether an extension may post `init/error` in `phase`: only while the
/// environment initializes (its own state then says whether it may, as
/// the table's `InitError`).
pub fn may_post_init_error(phase: Phase) -> bool {
    phase == Phase::Initializing
}

/// What an extension's `event/next` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionNext {
    /// An event was kept for it: it gets it at once.
    TakesPending,
    /// Refused: it waits in another `next` already.
    AlreadyWaiting,
    /// It waits (again) in `next`; a held poll whose connection closed is
    /// replaced.
    Waits,
    /// It steps `Next` (refused in the table's words where it may not),
    /// then what it ends.
    Steps(ExtensionNextEnds),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionNextEnds {
    /// Its first `next`: the init may be complete.
    Init,
    /// Its `next` after INVOKE: the invoke may be complete.
    Invoke,
    Nothing,
}

/// What an extension's `event/next` does in `state` (`pending`: an event
/// was kept for it; `poll`: the `next` rapid holds for it).
pub fn extension_next(
    state: ExtensionState,
    pending: bool,
    poll: crate::lifecycle::Poll,
) -> ExtensionNext {
    use crate::lifecycle::Poll;
    match state {
        _ if pending => ExtensionNext::TakesPending,
        ExtensionState::Ready if poll == Poll::Open => ExtensionNext::AlreadyWaiting,
        ExtensionState::Ready => ExtensionNext::Waits,
        ExtensionState::Registered => ExtensionNext::Steps(ExtensionNextEnds::Init),
        ExtensionState::Running => ExtensionNext::Steps(ExtensionNextEnds::Invoke),
        _ => ExtensionNext::Steps(ExtensionNextEnds::Nothing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::phase::tests::PHASES;
    use crate::lifecycle::table::check_table;

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

    #[test]
    fn a_foreign_caller_is_asked_about_only_while_registration_is_open() {
        use crate::lifecycle::phase::tests::PHASES;
        for phase in PHASES {
            for open in [false, true] {
                for foreign in [false, true] {
                    let r = Registering {
                        open,
                        phase,
                        name_taken: false,
                        registered: 0,
                        wants_shutdown: false,
                        external: true,
                    };
                    let mut asked = false;
                    let got = on_register(&r, || {
                        asked = true;
                        foreign
                    });
                    assert_eq!(asked, r.is_open(), "{r:?}");
                    let want = match (r.is_open(), foreign) {
                        (false, _) => Err(RegisterRefused::Closed),
                        (true, true) => Err(RegisterRefused::Foreign),
                        (true, false) => Ok(ExtensionState::Registered),
                    };
                    assert_eq!(got, want, "{r:?}, foreign {foreign}");
                }
            }
        }
    }

    #[test]
    fn who_may_register() {
        let ok = Registering {
            open: true,
            phase: Phase::Initializing,
            name_taken: false,
            registered: 0,
            wants_shutdown: true,
            external: true,
        };
        assert_eq!(may_register(&ok), Ok(ExtensionState::Registered));
        // The state it starts in is the table's.
        assert_eq!(
            ExtensionState::Started.on(ExtensionInput::Register),
            Ok(ExtensionState::Registered)
        );
        // Closed for a teardown whatever `open` says, open in every other
        // phase `open` allows.
        for phase in PHASES {
            let tearing_down = matches!(
                phase,
                Phase::Resetting | Phase::ShuttingDown | Phase::Shutdown
            );
            let r = Registering { phase, ..ok };
            assert_eq!(r.is_open(), !tearing_down, "{phase:?}");
            let want = if tearing_down {
                Err(RegisterRefused::Closed)
            } else {
                Ok(ExtensionState::Registered)
            };
            assert_eq!(may_register(&r), want, "{phase:?}");
        }
        let table = [
            (Registering { open: false, ..ok }, RegisterRefused::Closed),
            (
                Registering {
                    phase: Phase::Resetting,
                    ..ok
                },
                RegisterRefused::Closed,
            ),
            (
                Registering {
                    phase: Phase::ShuttingDown,
                    name_taken: true,
                    ..ok
                },
                RegisterRefused::Closed,
            ),
            (
                Registering {
                    name_taken: true,
                    ..ok
                },
                RegisterRefused::AlreadyRegistered,
            ),
            (
                Registering {
                    name_taken: true,
                    registered: 10,
                    ..ok
                },
                RegisterRefused::AlreadyRegistered,
            ),
            (
                Registering {
                    registered: 10,
                    ..ok
                },
                RegisterRefused::TooMany,
            ),
            (
                Registering {
                    registered: 10,
                    external: false,
                    ..ok
                },
                RegisterRefused::TooMany,
            ),
            (
                Registering {
                    external: false,
                    ..ok
                },
                RegisterRefused::ShutdownForInternal,
            ),
        ];
        for (r, want) in table {
            assert_eq!(may_register(&r), Err(want), "{r:?}");
        }
        assert_eq!(
            may_register(&Registering {
                registered: 9,
                ..ok
            }),
            Ok(ExtensionState::Registered)
        );
        let internal_invoke_only = Registering {
            wants_shutdown: false,
            external: false,
            ..ok
        };
        assert_eq!(
            may_register(&internal_invoke_only),
            Ok(ExtensionState::Registered)
        );
    }

    #[test]
    fn init_error_only_during_init() {
        for phase in PHASES {
            assert_eq!(
                may_post_init_error(phase),
                phase == Phase::Initializing,
                "{phase:?}"
            );
        }
    }

    #[test]
    fn what_an_extension_s_next_does_in_every_state() {
        use crate::lifecycle::Poll;
        for state in EXT_STATES {
            for poll in [Poll::None, Poll::Open, Poll::Closed] {
                assert_eq!(
                    extension_next(state, true, poll),
                    ExtensionNext::TakesPending,
                    "{state:?}"
                );
                let want = match state {
                    ExtensionState::Ready if poll == Poll::Open => ExtensionNext::AlreadyWaiting,
                    ExtensionState::Ready => ExtensionNext::Waits,
                    ExtensionState::Registered => ExtensionNext::Steps(ExtensionNextEnds::Init),
                    ExtensionState::Running => ExtensionNext::Steps(ExtensionNextEnds::Invoke),
                    _ => ExtensionNext::Steps(ExtensionNextEnds::Nothing),
                };
                assert_eq!(
                    extension_next(state, false, poll),
                    want,
                    "{state:?} {poll:?}"
                );
            }
        }
    }
}
