//! The execution environment's phases (spec §4): what may start in one,
//! and what a disruption does there.

use super::RuntimeState;

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

impl Phase {
    /// The runtime has finished its init and serves invokes: with
    /// multi-concurrency an invoke waiting for a free slot now waits on its
    /// own clock (`Engine::waiting_deadline`).
    pub fn initialized(self) -> bool {
        matches!(self, Phase::Ready | Phase::Invoking)
    }
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
    /// Multi-concurrency (`AWS_LAMBDA_MAX_CONCURRENCY`, spec §9): the
    /// runtime may hold several invokes at once.
    pub concurrent: bool,
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

/// Whether anything at all may start: every start needs a waiting invoke
/// or a restore asked for. The engine asks this before it builds a
/// [`View`] for [`next_start`], as most calls (a runtime's answer, an
/// extension's `next`) find neither.
pub fn anything_to_start(queued: bool, restore_asked: bool) -> bool {
    queued || restore_asked
}

/// Whether the engine's loop goes on taking messages: until the
/// environment is shut down (what comes after is reaped by
/// `on_call(Phase::Shutdown, _)`).
pub fn takes_messages(phase: Phase) -> bool {
    phase != Phase::Shutdown
}

/// What may start now: the rules of spec §4 for inits, restores and
/// dispatch, in one place.
pub fn next_start(v: &View) -> Start {
    use RuntimeState as R;
    if !anything_to_start(v.queued, v.restore_asked) {
        return Start::Nothing;
    }
    match v.phase {
        Phase::Uninitialized if v.queued => Start::Init {
            suppressed: v.retry_init,
        },
        // Multi-concurrency: a poll of the runtime takes the head of the
        // queue while other invokes run.
        Phase::Ready | Phase::Invoking
            if v.concurrent
                && !v.init_caching
                && v.queued
                && v.runtime_polls
                && v.extensions_settled
                && v.runtime == Some(R::Ready) =>
        {
            Start::Dispatch
        }
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
    /// A shutdown asked (SIGTERM, the control API, the contract).
    ShutdownAsked,
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
    /// No generation lives (before the first init, or after a teardown and
    /// before the next init): there is nothing to tear down, and a reset
    /// asked is done at once.
    NothingRuns,
    /// The environment goes away: the init or restore under way is dropped
    /// (a restore's waiters are told), and the teardown begins.
    Abandon,
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
        (Phase::Initializing | Phase::Restoring, D::ShutdownAsked) => Verdict::Abandon,
        // An answered invoke keeps its status; an unanswered one fails.
        (Phase::Invoking, D::ShutdownAsked) if answered => Verdict::FailInvoke(Outcome::Answered),
        (Phase::Resetting | Phase::ShuttingDown | Phase::Shutdown, _) => Verdict::TeardownGoesOn,
        (Phase::Initializing, _) => Verdict::FailInit(cut),
        (Phase::Restoring, _) => Verdict::FailRestore(cut),
        (Phase::Invoking, D::ResetAsked { .. }) if answered => Verdict::ResetAfterInvoke,
        // It answered, then exited instead of asking for the next invoke:
        // the invoke stands; the exit costs the next one a fresh init.
        (Phase::Invoking, D::RuntimeExited) if answered => Verdict::FailInvoke(Outcome::Answered),
        (Phase::Invoking, _) => Verdict::FailInvoke(cut),
        (Phase::Uninitialized, _) => Verdict::NothingRuns,
        (Phase::Ready, _) => Verdict::ResetNow,
    }
}

/// Init is complete once the runtime waits for its first event (in `next`,
/// or in `restore/next` with init caching) and every registered extension
/// waits in `next` (or will not ask again).
pub fn init_complete(runtime: Option<RuntimeState>, extensions_settled: bool) -> bool {
    matches!(
        runtime,
        Some(RuntimeState::Ready | RuntimeState::RestoreReady)
    ) && extensions_settled
}

/// An invoke is complete once the runtime answered it and asked for the
/// next one, and every extension that got INVOKE asked for its next event.
pub fn invoke_complete(
    runtime: Option<RuntimeState>,
    answered: bool,
    extensions_settled: bool,
) -> bool {
    runtime == Some(RuntimeState::Ready) && answered && extensions_settled
}

/// What a shutdown asked (SIGTERM, the control API, the contract) does,
/// step by step, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStep {
    /// The invokes in the queue are answered `Sandbox.Shutdown`.
    RefuseQueued,
    /// The init and the restore under way or asked for are dropped,
    /// whatever runs: one asked and not started yet will not run either
    /// (a restore's waiters are told).
    Abandon,
    /// The invoke in flight ends with this outcome (`Sandbox.Shutdown`, or
    /// the status of the answer it had), and the teardown its end begins
    /// (reason `spindown`) is the shutdown's.
    FailInvoke(Outcome),
    /// The teardown (reason `spindown`) begins.
    BeginTeardown,
}

/// What a shutdown asked in `phase` does (`answered`: the current
/// invoke's runtime has answered it). Asked again while shutting down, it
/// does nothing more: the caller only waits for the end.
pub fn on_shutdown_asked(phase: Phase, answered: bool) -> Vec<ShutdownStep> {
    use ShutdownStep as S;
    match phase {
        Phase::ShuttingDown | Phase::Shutdown => Vec::new(),
        // A teardown runs already: it becomes the shutdown's.
        Phase::Resetting => vec![S::RefuseQueued, S::Abandon],
        _ => {
            let mut steps = vec![S::RefuseQueued, S::Abandon];
            match on_disruption(phase, answered, Disruption::ShutdownAsked) {
                // A teardown begun after one that ended on the spot would
                // have nothing left to tear down.
                Verdict::FailInvoke(outcome) => steps.push(S::FailInvoke(outcome)),
                // Nothing to tear down: the shutdown is over once the queue
                // is answered.
                Verdict::NothingRuns => {}
                _ => steps.push(S::BeginTeardown),
            }
            steps
        }
    }
}

/// The runtime starts during an init, once every extension that was
/// launched has registered (spec §4: extensions register first), and only
/// once per init.
pub fn runtime_may_start(phase: Phase, runtime_started: bool, extensions_registered: bool) -> bool {
    phase == Phase::Initializing && !runtime_started && extensions_registered
}

/// What a caller waiting for the init's outcome (the contract's
/// `InitHandle`) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwaitInit {
    /// An init runs: told when it ends.
    Wait,
    /// No init runs: told how the last one ended, or that none did since
    /// the last reset.
    LastOutcome,
}

pub fn on_await_init(phase: Phase) -> AwaitInit {
    match phase {
        Phase::Initializing => AwaitInit::Wait,
        _ => AwaitInit::LastOutcome,
    }
}

/// What an init asked from outside does: `requested` is an init with the
/// function's settings (the control API, the contract), else an eager init
/// (`--eager-init`), for which an init done or under way is fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitAsked {
    Start,
    /// Initialized or busy already: nothing to do.
    Nothing,
    /// A requested init while initialized or busy.
    AlreadyInitialized,
    ShuttingDown,
}

pub fn on_init_asked(phase: Phase, requested: bool) -> InitAsked {
    match phase {
        Phase::ShuttingDown | Phase::Shutdown => InitAsked::ShuttingDown,
        Phase::Uninitialized => InitAsked::Start,
        _ if requested => InitAsked::AlreadyInitialized,
        _ => InitAsked::Nothing,
    }
}

/// What a restore asked from outside (the control API's `/test/restore`,
/// `SandboxContext::restore`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreAsked {
    /// Without init caching: refused.
    NotEnabled,
    ShuttingDown,
    /// A reset is under way: refused (ask again once it is over).
    Resetting,
    /// Nothing is initialized: an init starts, and the restore follows it.
    InitFirst,
    /// It waits: for the init to end in `restore/next` (the restore then
    /// runs), or for the restore under way (and shares its result).
    Wait,
    /// The runtime was restored already, or never waited in
    /// `restore/next` (an invoke ran, or it went to `invocation/next` at
    /// once): there is nothing to restore. RAPID then updates the
    /// credentials and answers at once, `restoreMs` 0, without restoring
    /// (`handleRestore`: the runtime is not in `RestoreReady`, "just
    /// returning"); so does rapid, and says so in its log.
    NothingToRestore,
}

pub fn on_restore_asked(
    init_caching: bool,
    phase: Phase,
    runtime: Option<RuntimeState>,
) -> RestoreAsked {
    use RuntimeState as R;
    if !init_caching {
        return RestoreAsked::NotEnabled;
    }
    match (phase, runtime) {
        (Phase::ShuttingDown | Phase::Shutdown, _) => RestoreAsked::ShuttingDown,
        (Phase::Resetting, _) => RestoreAsked::Resetting,
        (Phase::Uninitialized, _) => RestoreAsked::InitFirst,
        (
            Phase::Ready | Phase::Invoking,
            Some(
                R::Ready
                | R::Running
                | R::InvocationResponse
                | R::InvocationErrorResponse
                | R::RuntimeResponseSentState,
            ),
        ) => RestoreAsked::NothingToRestore,
        _ => RestoreAsked::Wait,
    }
}

/// Where a reset asked (or held until an invoke completed) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetStep {
    /// Something runs: its teardown begins.
    BeginTeardown,
    /// A teardown runs: the reset is done when it finishes.
    Wait,
    /// Nothing is left to tear down (the teardown finished on the spot, or
    /// no generation runs): the reset is done now.
    Done,
}

/// What a reset does in `phase`; asked again once its teardown has begun,
/// whether it waits for it or is done already.
pub fn reset_step(phase: Phase) -> ResetStep {
    match phase {
        Phase::Resetting | Phase::ShuttingDown => ResetStep::Wait,
        Phase::Uninitialized | Phase::Shutdown => ResetStep::Done,
        Phase::Initializing | Phase::Restoring | Phase::Ready | Phase::Invoking => {
            ResetStep::BeginTeardown
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::lifecycle::runtime::tests::STATES;
    use RuntimeState as S;

    pub(crate) const PHASES: [Phase; 8] = [
        Phase::Uninitialized,
        Phase::Initializing,
        Phase::Restoring,
        Phase::Ready,
        Phase::Invoking,
        Phase::Resetting,
        Phase::ShuttingDown,
        Phase::Shutdown,
    ];

    #[test]
    fn the_engine_takes_messages_until_shut_down() {
        for phase in PHASES {
            assert_eq!(takes_messages(phase), phase != Phase::Shutdown, "{phase:?}");
        }
    }

    #[test]
    fn only_ready_and_invoking_are_initialized() {
        for phase in PHASES {
            let want = matches!(phase, Phase::Ready | Phase::Invoking);
            assert_eq!(phase.initialized(), want, "{phase:?}");
        }
    }

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
                for bits in 0u8..128 {
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
                        concurrent: bit(6),
                    };
                    let want = expected(&v);
                    assert_eq!(next_start(&v), want, "{v:?}");
                    // The engine's shortcut agrees with the rules.
                    if !anything_to_start(v.queued, v.restore_asked) {
                        assert_eq!(want, Start::Nothing, "{v:?}");
                    }
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
        // An idle runtime waiting in next takes the head of the queue; with
        // multi-concurrency (never with init caching), while invokes run too.
        let may_take = v.phase == Phase::Ready || (v.concurrent && !v.init_caching);
        if may_take && v.queued && v.runtime_polls && v.runtime == Some(S::Ready) {
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
            D::ShutdownAsked,
        ];
        // (phase, answered) -> verdicts for the five disruptions above.
        let table: [((Phase, bool), [Verdict; 5]); 9] = [
            ((Phase::Uninitialized, false), [V::NothingRuns; 5]),
            (
                (Phase::Initializing, false),
                [
                    V::FailInit(O::Error),
                    V::FailInit(O::Error),
                    V::FailInit(O::Timeout),
                    V::FailInit(O::Error),
                    V::Abandon,
                ],
            ),
            (
                (Phase::Restoring, false),
                [
                    V::FailRestore(O::Error),
                    V::FailRestore(O::Error),
                    V::FailRestore(O::Timeout),
                    V::FailRestore(O::Error),
                    V::Abandon,
                ],
            ),
            ((Phase::Ready, false), [V::ResetNow; 5]),
            (
                (Phase::Invoking, false),
                [
                    V::FailInvoke(O::Error),
                    V::FailInvoke(O::Error),
                    V::FailInvoke(O::Timeout),
                    V::FailInvoke(O::Error),
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
                    V::FailInvoke(O::Answered),
                ],
            ),
            ((Phase::Resetting, false), [V::TeardownGoesOn; 5]),
            (
                (Phase::ShuttingDown, false),
                [
                    V::TeardownGoesOn,
                    V::TeardownGoesOn,
                    V::Refused,
                    V::Refused,
                    V::TeardownGoesOn,
                ],
            ),
            (
                (Phase::Shutdown, false),
                [
                    V::TeardownGoesOn,
                    V::TeardownGoesOn,
                    V::Refused,
                    V::Refused,
                    V::TeardownGoesOn,
                ],
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

    #[test]
    fn when_an_init_and_an_invoke_are_complete() {
        let runtimes: Vec<Option<S>> = std::iter::once(None)
            .chain(STATES.iter().copied().map(Some))
            .collect();
        for &runtime in &runtimes {
            for settled in [false, true] {
                let waits = matches!(runtime, Some(S::Ready | S::RestoreReady));
                assert_eq!(
                    init_complete(runtime, settled),
                    waits && settled,
                    "init: {runtime:?} settled: {settled}"
                );
                for answered in [false, true] {
                    assert_eq!(
                        invoke_complete(runtime, answered, settled),
                        runtime == Some(S::Ready) && answered && settled,
                        "invoke: {runtime:?} answered: {answered} settled: {settled}"
                    );
                }
            }
        }
    }

    #[test]
    fn what_a_shutdown_asked_does_in_every_phase() {
        use ShutdownStep as S;
        for phase in PHASES {
            for answered in [false, true] {
                let want = match phase {
                    Phase::ShuttingDown | Phase::Shutdown => vec![],
                    Phase::Resetting => vec![S::RefuseQueued, S::Abandon],
                    Phase::Invoking if answered => vec![
                        S::RefuseQueued,
                        S::Abandon,
                        S::FailInvoke(Outcome::Answered),
                    ],
                    Phase::Invoking => {
                        vec![S::RefuseQueued, S::Abandon, S::FailInvoke(Outcome::Error)]
                    }
                    // No generation: nothing to tear down.
                    Phase::Uninitialized => vec![S::RefuseQueued, S::Abandon],
                    Phase::Initializing | Phase::Restoring | Phase::Ready => {
                        vec![S::RefuseQueued, S::Abandon, S::BeginTeardown]
                    }
                };
                assert_eq!(
                    on_shutdown_asked(phase, answered),
                    want,
                    "{phase:?} answered: {answered}"
                );
            }
        }
    }

    #[test]
    fn the_runtime_starts_once_per_init_after_the_extensions_registered() {
        for phase in PHASES {
            for started in [false, true] {
                for registered in [false, true] {
                    let want = match phase {
                        Phase::Initializing => !started && registered,
                        Phase::Uninitialized
                        | Phase::Restoring
                        | Phase::Ready
                        | Phase::Invoking
                        | Phase::Resetting
                        | Phase::ShuttingDown
                        | Phase::Shutdown => false,
                    };
                    assert_eq!(
                        runtime_may_start(phase, started, registered),
                        want,
                        "{phase:?} started: {started} registered: {registered}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_caller_waits_for_the_init_only_while_one_runs() {
        for phase in PHASES {
            let want = match phase {
                Phase::Initializing => AwaitInit::Wait,
                Phase::Uninitialized
                | Phase::Restoring
                | Phase::Ready
                | Phase::Invoking
                | Phase::Resetting
                | Phase::ShuttingDown
                | Phase::Shutdown => AwaitInit::LastOutcome,
            };
            assert_eq!(on_await_init(phase), want, "{phase:?}");
        }
    }

    #[test]
    fn what_an_init_asked_from_outside_does() {
        for phase in PHASES {
            for requested in [false, true] {
                let want = match phase {
                    Phase::ShuttingDown | Phase::Shutdown => InitAsked::ShuttingDown,
                    Phase::Uninitialized => InitAsked::Start,
                    _ if requested => InitAsked::AlreadyInitialized,
                    _ => InitAsked::Nothing,
                };
                assert_eq!(
                    on_init_asked(phase, requested),
                    want,
                    "{phase:?} {requested}"
                );
            }
        }
    }

    #[test]
    fn what_a_restore_asked_from_outside_does() {
        use RestoreAsked as A;
        let runtimes = std::iter::once(None).chain(STATES.iter().copied().map(Some));
        // Restored already, or never waited in `restore/next`.
        let past_restore = [
            S::Ready,
            S::Running,
            S::InvocationResponse,
            S::InvocationErrorResponse,
            S::RuntimeResponseSentState,
        ];
        for phase in PHASES {
            for runtime in runtimes.clone() {
                assert_eq!(
                    on_restore_asked(false, phase, runtime),
                    A::NotEnabled,
                    "{phase:?} {runtime:?}"
                );
                let want = match phase {
                    Phase::ShuttingDown | Phase::Shutdown => A::ShuttingDown,
                    Phase::Resetting => A::Resetting,
                    Phase::Uninitialized => A::InitFirst,
                    Phase::Ready | Phase::Invoking
                        if runtime.is_some_and(|r| past_restore.contains(&r)) =>
                    {
                        A::NothingToRestore
                    }
                    Phase::Initializing | Phase::Restoring | Phase::Ready | Phase::Invoking => {
                        A::Wait
                    }
                };
                assert_eq!(
                    on_restore_asked(true, phase, runtime),
                    want,
                    "{phase:?} {runtime:?}"
                );
            }
        }
        // The rows the issue named: a second restore, a restore after an
        // invoke (the runtime back in `next`, or still running it).
        for (phase, runtime) in [
            (Phase::Ready, S::Ready),
            (Phase::Invoking, S::Running),
            (Phase::Invoking, S::RuntimeResponseSentState),
        ] {
            assert_eq!(
                on_restore_asked(true, phase, Some(runtime)),
                A::NothingToRestore
            );
        }
        // The restores that do run: init caching's first one, waiting in
        // `restore/next`, and one asked while the init or a restore runs.
        assert_eq!(
            on_restore_asked(true, Phase::Ready, Some(S::RestoreReady)),
            A::Wait
        );
        assert_eq!(
            on_restore_asked(true, Phase::Initializing, Some(S::Started)),
            A::Wait
        );
        assert_eq!(
            on_restore_asked(true, Phase::Restoring, Some(S::Restoring)),
            A::Wait
        );
        assert_eq!(
            on_restore_asked(true, Phase::Uninitialized, None),
            A::InitFirst
        );
    }

    #[test]
    fn where_a_reset_stands_in_every_phase() {
        for phase in PHASES {
            let want = match phase {
                Phase::Resetting | Phase::ShuttingDown => ResetStep::Wait,
                Phase::Uninitialized | Phase::Shutdown => ResetStep::Done,
                Phase::Initializing | Phase::Restoring | Phase::Ready | Phase::Invoking => {
                    ResetStep::BeginTeardown
                }
            };
            assert_eq!(reset_step(phase), want, "{phase:?}");
        }
    }
}
