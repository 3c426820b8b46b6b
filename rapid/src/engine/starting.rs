//! What the runtime is being brought to serve invokes by, if anything: an
//! init or a restore (init caching), never both at once.

use super::init::InitPhase;
use super::restore::RestorePhase;

pub(super) enum Starting {
    Nothing,
    Init(InitPhase),
    Restore(RestorePhase),
}

impl Starting {
    pub(super) fn init(&self) -> Option<&InitPhase> {
        match self {
            Starting::Init(init) => Some(init),
            Starting::Nothing | Starting::Restore(_) => None,
        }
    }

    pub(super) fn init_mut(&mut self) -> Option<&mut InitPhase> {
        match self {
            Starting::Init(init) => Some(init),
            Starting::Nothing | Starting::Restore(_) => None,
        }
    }

    /// Ends the init under way, if one is.
    pub(super) fn take_init(&mut self) -> Option<InitPhase> {
        match std::mem::replace(self, Starting::Nothing) {
            Starting::Init(init) => Some(init),
            other => {
                *self = other;
                None
            }
        }
    }

    pub(super) fn restore(&self) -> Option<&RestorePhase> {
        match self {
            Starting::Restore(restore) => Some(restore),
            Starting::Nothing | Starting::Init(_) => None,
        }
    }

    /// Ends the restore under way, if one is.
    pub(super) fn take_restore(&mut self) -> Option<RestorePhase> {
        match std::mem::replace(self, Starting::Nothing) {
            Starting::Restore(restore) => Some(restore),
            other => {
                *self = other;
                None
            }
        }
    }
}
