//! When the environment is frozen (spec §11): between invokes, once it is
//! idle, unless freezing is off or something outside it must keep seeing it
//! run.

use super::Phase;

/// What [`may_freeze`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freezing {
    /// Freezing is configured on.
    pub enabled: bool,
    /// The environment is frozen already.
    pub frozen: bool,
    /// A Telemetry / Logs API subscriber listens: its extension must keep
    /// receiving (`LogHub::has_subscribers`).
    pub subscribers: bool,
    pub phase: Phase,
    /// An invoke or a restore waits for the environment.
    pub waiting: bool,
    /// The runtime waits in `next` (or `restore/next`).
    pub runtime_polls: bool,
}

/// Whether the environment is frozen now: only when freezing is on, it is
/// not frozen yet and no subscriber listens, and only once it is idle
/// (phase `Ready`) with nothing waiting and its runtime waiting in `next`
/// (or `restore/next`). Every extension is settled then: `Ready` is
/// reached only through `init_complete` and `invoke_complete`, which both
/// require it, and an extension can leave `next` only for an event, which
/// only an invoke or a teardown (another phase) hands out. The engine's
/// tests check this on every message (`Engine::check_phase`).
pub fn may_freeze(f: &Freezing) -> bool {
    f.enabled
        && !f.frozen
        && !f.subscribers
        && f.phase == Phase::Ready
        && !f.waiting
        && f.runtime_polls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::phase::tests::PHASES;

    #[test]
    fn when_the_environment_is_frozen() {
        for phase in PHASES {
            for bits in 0u8..32 {
                let f = Freezing {
                    enabled: bits & 1 != 0,
                    frozen: bits & 2 != 0,
                    subscribers: bits & 4 != 0,
                    phase,
                    waiting: bits & 8 != 0,
                    runtime_polls: bits & 16 != 0,
                };
                // Only one row freezes: on, not frozen, unheard, Ready,
                // nothing waiting, the runtime in `next`.
                let want = phase == Phase::Ready && bits == 1 | 16;
                assert_eq!(may_freeze(&f), want, "{f:?}");
            }
        }
    }
}
