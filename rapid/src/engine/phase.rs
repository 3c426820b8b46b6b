//! The environment's phase, stored, with what each phase holds (spec §4):
//! the init or the restore under way, the invokes in flight, the teardown
//! of a reset, the shutdown asked with its waiters and its teardown. One
//! value, so an init and a restore under way at once, or an invoke during
//! a teardown, cannot be written. `lifecycle::Phase` is its name, what the
//! tables take.

use super::invocations::Invocations;
use crate::lifecycle;
use interop::contract::{ShutdownReason, ShutdownSuccess};
use std::time::{Duration, Instant};
use telemetry::events::{InitPhase as InitKind, InitializationType};
use tokio::sync::oneshot;

// The large variant is the common one (serving invokes one at a time):
// boxing its invoke would cost an allocation per invoke; there is one value
// per engine.
#[allow(clippy::large_enum_variant)]
pub(super) enum Phase {
    /// No generation runs: nothing started yet, or the last one was torn
    /// down.
    Uninitialized,
    Initializing(InitPhase),
    /// Init caching: the runtime runs its after-restore hooks.
    Restoring(RestorePhase),
    /// Initialized: the runtime serves invokes; those in flight (none:
    /// `Ready`, else `Invoking`).
    Serving(Invocations),
    /// A reset: its teardown runs.
    Resetting(Teardown),
    /// A shutdown was asked.
    ShuttingDown(Shutdown),
}

/// An init under way (`init.rs` carries it out).
pub(super) struct InitPhase {
    pub(super) deadline: Instant,
    pub(super) started: Instant,
    /// `init` for the first try, `invoke` for a retry inside an invoke.
    pub(super) phase: InitKind,
    pub(super) kind: InitializationType,
    /// `platform.initRuntimeDone` was emitted (the runtime's first `next`).
    pub(super) runtime_done: bool,
}

/// A restore under way: the runtime runs its after-restore hooks
/// (`restore.rs`).
pub(super) struct RestorePhase {
    pub(super) started: Instant,
    pub(super) deadline: Instant,
    pub(super) timeout: Duration,
}

/// A teardown under way: why, and its stages as `lifecycle::teardown`
/// decides them (`teardown.rs` carries them out).
pub(super) struct Teardown {
    pub(super) reason: ShutdownReason,
    pub(super) stages: lifecycle::teardown::Teardown,
}

impl Teardown {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.stages.next_deadline()
    }
}

/// A shutdown asked: who waits for it, its budget, its teardown.
pub(super) struct Shutdown {
    /// Who to tell when it is over.
    pub(super) done: Vec<oneshot::Sender<ShutdownSuccess>>,
    /// The budget its caller set (the control API), else Lambda's.
    pub(super) budget: Option<Duration>,
    /// Its teardown, while one runs (a reset's under way becomes the
    /// shutdown's); without one the environment is shut down.
    pub(super) teardown: Option<Teardown>,
}

impl Phase {
    /// Its name, as the lifecycle's tables take it.
    pub(super) fn name(&self) -> lifecycle::Phase {
        match self {
            Phase::Uninitialized => lifecycle::Phase::Uninitialized,
            Phase::Initializing(_) => lifecycle::Phase::Initializing,
            Phase::Restoring(_) => lifecycle::Phase::Restoring,
            Phase::Serving(invocations) if invocations.any() => lifecycle::Phase::Invoking,
            Phase::Serving(_) => lifecycle::Phase::Ready,
            Phase::Resetting(_) => lifecycle::Phase::Resetting,
            Phase::ShuttingDown(Shutdown {
                teardown: Some(_), ..
            }) => lifecycle::Phase::ShuttingDown,
            Phase::ShuttingDown(Shutdown { teardown: None, .. }) => lifecycle::Phase::Shutdown,
        }
    }

    pub(super) fn init(&self) -> Option<&InitPhase> {
        match self {
            Phase::Initializing(init) => Some(init),
            _ => None,
        }
    }

    pub(super) fn init_mut(&mut self) -> Option<&mut InitPhase> {
        match self {
            Phase::Initializing(init) => Some(init),
            _ => None,
        }
    }

    pub(super) fn restore(&self) -> Option<&RestorePhase> {
        match self {
            Phase::Restoring(restore) => Some(restore),
            _ => None,
        }
    }

    /// The invokes in flight, while initialized.
    pub(super) fn invocations(&self) -> Option<&Invocations> {
        match self {
            Phase::Serving(invocations) => Some(invocations),
            _ => None,
        }
    }

    pub(super) fn invocations_mut(&mut self) -> Option<&mut Invocations> {
        match self {
            Phase::Serving(invocations) => Some(invocations),
            _ => None,
        }
    }

    /// The current invoke's runtime has answered it (one at a time).
    pub(super) fn answered(&self) -> bool {
        self.invocations().is_some_and(Invocations::answered)
    }

    /// The teardown under way, a reset's or a shutdown's.
    pub(super) fn teardown(&self) -> Option<&Teardown> {
        match self {
            Phase::Resetting(teardown) => Some(teardown),
            Phase::ShuttingDown(shutdown) => shutdown.teardown.as_ref(),
            _ => None,
        }
    }

    pub(super) fn teardown_mut(&mut self) -> Option<&mut Teardown> {
        match self {
            Phase::Resetting(teardown) => Some(teardown),
            Phase::ShuttingDown(shutdown) => shutdown.teardown.as_mut(),
            _ => None,
        }
    }

    /// A shutdown was asked.
    pub(super) fn is_shutdown(&self) -> bool {
        matches!(self, Phase::ShuttingDown(_))
    }

    /// Leaves the init under way, if one is, for `next`.
    pub(super) fn end_init(&mut self, next: Phase) -> Option<InitPhase> {
        if !matches!(self, Phase::Initializing(_)) {
            return None;
        }
        match std::mem::replace(self, next) {
            Phase::Initializing(init) => Some(init),
            _ => None,
        }
    }

    /// Leaves the restore under way, if one is, for `next`.
    pub(super) fn end_restore(&mut self, next: Phase) -> Option<RestorePhase> {
        if !matches!(self, Phase::Restoring(_)) {
            return None;
        }
        match std::mem::replace(self, next) {
            Phase::Restoring(restore) => Some(restore),
            _ => None,
        }
    }

    /// A shutdown is asked: `done` joins who waits for it. A teardown under
    /// way becomes the shutdown's; the first shutdown's budget stays. What
    /// the phase held before is given back (`None` when it was a reset's
    /// teardown or a shutdown already).
    pub(super) fn shutdown_asked(
        &mut self,
        done: Option<oneshot::Sender<ShutdownSuccess>>,
        budget: Option<Duration>,
    ) -> Option<Phase> {
        let before = std::mem::replace(self, Phase::Uninitialized);
        let (shutdown, before) = match before {
            Phase::ShuttingDown(mut shutdown) => {
                shutdown.done.extend(done);
                (shutdown, None)
            }
            Phase::Resetting(teardown) => (
                Shutdown {
                    done: done.into_iter().collect(),
                    budget,
                    teardown: Some(teardown),
                },
                None,
            ),
            before => (
                Shutdown {
                    done: done.into_iter().collect(),
                    budget,
                    teardown: None,
                },
                Some(before),
            ),
        };
        *self = Phase::ShuttingDown(shutdown);
        before
    }

    /// Who waits for the shutdown, taken once it is over.
    pub(super) fn take_waiting(&mut self) -> Vec<oneshot::Sender<ShutdownSuccess>> {
        match self {
            Phase::ShuttingDown(shutdown) => std::mem::take(&mut shutdown.done),
            _ => Vec::new(),
        }
    }
}
