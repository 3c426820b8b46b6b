//! The environment's deadlines (init, restore, invoke, teardown, and an
//! invoke whose clock runs while it waits for a reset), which one falls due
//! first, and when the one timer has to be moved.
//!
//! Pure: the engine gives the deadlines it holds and the time.
//!
//! Every deadline is computed with [`after`], never with `Instant + Duration`
//! (which panics past what the clock can hold): a timeout too long to
//! matter ends in the far future instead of taking the event loop down.

use super::Phase;
use std::time::{Duration, Instant};

/// How far ahead a deadline is at most: thirty years, as tokio's own "far
/// future". Any longer timeout means "never" for a sandbox, and an instant
/// this far leaves room for the arithmetic timers do on it.
pub const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The instant `wait` after `at`, saturating: a `wait` past [`FAR_FUTURE`]
/// (say a timeout of `u64::MAX` seconds) gives `at + FAR_FUTURE`, and a
/// clock that cannot hold even that gives the latest instant it can
/// (halving the wait until it fits). Never panics.
pub fn after(at: Instant, wait: Duration) -> Instant {
    let mut wait = wait.min(FAR_FUTURE);
    loop {
        if let Some(deadline) = at.checked_add(wait) {
            return deadline;
        }
        // Ends: `at + 0` always fits.
        wait /= 2;
    }
}

/// Whether the invoke at the head of the queue has its clock running
/// while it waits: after a failed init (`retry_init`) the next init runs
/// inside the waiting invoke's time, and the reset before it is part of
/// that wait, so the caller is answered at its deadline however long the
/// reset takes.
pub fn head_clock_runs(phase: Phase, retry_init: bool) -> bool {
    retry_init && matches!(phase, Phase::Resetting | Phase::ShuttingDown)
}

/// Which invokes in the queue have their clock running towards a
/// deadline while they wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueClocks {
    /// Each from its acceptance: with multi-concurrency an initialized
    /// runtime is busy in all its slots, and the wait is the invoke's time.
    Each,
    /// The head's, once set ([`head_clock_runs`]): an invoke waiting for a
    /// teardown to end.
    Head,
    /// None: time spent waiting for an init does not count (Lambda bills
    /// an invoke from when its init is done).
    Nothing,
}

/// Which queued invokes' clocks run in `phase` (`concurrent`:
/// multi-concurrency is on).
pub fn queue_clocks(concurrent: bool, phase: Phase) -> QueueClocks {
    match phase {
        _ if concurrent && phase.initialized() => QueueClocks::Each,
        Phase::Resetting | Phase::ShuttingDown => QueueClocks::Head,
        _ => QueueClocks::Nothing,
    }
}

/// A deadline that can pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// An invoke waiting (with its clock running) for a reset to end.
    Waiting,
    /// The teardown's stage (the runtime's grace, the extensions' budget).
    Teardown,
    Init,
    Restore,
    Invoke,
    /// The environment has been idle for the idle timeout: it is retired.
    Idle,
}

impl Due {
    /// The order in which deadlines that have all passed are handled. A
    /// waiting invoke comes before the teardown: when both passed (rapid
    /// was not scheduled for a while) the invoke is answered rather than
    /// handed to an init that has no time left.
    pub const ORDER: [Due; 6] = [
        Due::Waiting,
        Due::Teardown,
        Due::Init,
        Due::Restore,
        Due::Invoke,
        Due::Idle,
    ];
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadlines {
    pub waiting: Option<Instant>,
    pub teardown: Option<Instant>,
    pub init: Option<Instant>,
    pub restore: Option<Instant>,
    pub invoke: Option<Instant>,
    pub idle: Option<Instant>,
}

impl Deadlines {
    pub fn of(&self, due: Due) -> Option<Instant> {
        match due {
            Due::Waiting => self.waiting,
            Due::Teardown => self.teardown,
            Due::Init => self.init,
            Due::Restore => self.restore,
            Due::Invoke => self.invoke,
            Due::Idle => self.idle,
        }
    }

    pub fn earliest(&self) -> Option<Instant> {
        Due::ORDER.into_iter().filter_map(|d| self.of(d)).min()
    }

    /// `due`'s deadline has passed at `now`.
    pub fn has_passed(&self, due: Due, now: Instant) -> bool {
        self.of(due).is_some_and(|at| now >= at)
    }
}

/// When an idle environment is retired: only one that is initialized and
/// idle (phase `Ready`) with nothing waiting, `timeout` after it last
/// became so; never without a timeout.
pub fn idle_deadline(
    phase: super::Phase,
    waiting: bool,
    idle_since: Instant,
    timeout: Option<Duration>,
) -> Option<Instant> {
    match (phase, waiting, timeout) {
        (super::Phase::Ready, false, Some(timeout)) => Some(after(idle_since, timeout)),
        _ => None,
    }
}

/// Where the one timer must be armed now, if it must move: it is armed at
/// the earliest deadline and moved only when a sooner one appears. Arming
/// it anew for every invoke (each a deadline later than the last) would
/// wake the reactor once per invoke; a timer that fires early costs one
/// look at the real deadlines.
pub fn rearm(armed: Option<Instant>, earliest: Option<Instant>) -> Option<Instant> {
    match (armed, earliest) {
        (_, None) => None,
        (None, Some(at)) => Some(at),
        (Some(armed), Some(at)) if at < armed => Some(at),
        (Some(_), Some(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::phase::tests::PHASES;
    use std::time::Duration;

    #[test]
    fn the_head_s_clock_runs_through_the_reset_before_a_retried_init() {
        for phase in PHASES {
            for retry_init in [false, true] {
                let want = retry_init && matches!(phase, Phase::Resetting | Phase::ShuttingDown);
                assert_eq!(
                    head_clock_runs(phase, retry_init),
                    want,
                    "{phase:?} retry_init: {retry_init}"
                );
            }
        }
    }

    #[test]
    fn which_queued_invokes_have_their_clock_running() {
        use QueueClocks as Q;
        for phase in PHASES {
            for concurrent in [false, true] {
                let want = match phase {
                    Phase::Ready | Phase::Invoking if concurrent => Q::Each,
                    Phase::Resetting | Phase::ShuttingDown => Q::Head,
                    Phase::Uninitialized
                    | Phase::Initializing
                    | Phase::Restoring
                    | Phase::Ready
                    | Phase::Invoking
                    | Phase::Shutdown => Q::Nothing,
                };
                assert_eq!(
                    queue_clocks(concurrent, phase),
                    want,
                    "{phase:?} concurrent: {concurrent}"
                );
            }
        }
    }

    fn at(ms: u64) -> Instant {
        static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T0.get_or_init(Instant::now) + Duration::from_millis(ms)
    }

    #[test]
    fn the_earliest_deadline_arms_the_timer() {
        let none = Deadlines::default();
        assert_eq!(none.earliest(), None);
        let d = Deadlines {
            waiting: None,
            teardown: Some(at(30)),
            init: None,
            restore: Some(at(20)),
            invoke: Some(at(40)),
            idle: Some(at(50)),
        };
        assert_eq!(d.earliest(), Some(at(20)));
    }

    #[test]
    fn each_deadline_passes_at_its_time() {
        let d = Deadlines {
            waiting: Some(at(10)),
            teardown: Some(at(20)),
            init: Some(at(30)),
            restore: Some(at(40)),
            invoke: Some(at(50)),
            idle: Some(at(60)),
        };
        for (i, due) in Due::ORDER.into_iter().enumerate() {
            let deadline = at(10 * (i as u64 + 1));
            assert_eq!(d.of(due), Some(deadline));
            assert!(
                !d.has_passed(due, deadline - Duration::from_millis(1)),
                "{due:?}"
            );
            assert!(d.has_passed(due, deadline), "{due:?}");
            assert!(!Deadlines::default().has_passed(due, at(1000)), "{due:?}");
        }
    }

    #[test]
    fn only_an_idle_initialized_environment_is_retired() {
        use crate::lifecycle::phase::tests::PHASES;
        use crate::lifecycle::Phase;
        let timeout = Some(Duration::from_millis(100));
        for phase in PHASES {
            for waiting in [false, true] {
                let want = (phase == Phase::Ready && !waiting).then(|| at(100));
                assert_eq!(
                    idle_deadline(phase, waiting, at(0), timeout),
                    want,
                    "{phase:?} {waiting}"
                );
                assert_eq!(
                    idle_deadline(phase, waiting, at(0), None),
                    None,
                    "{phase:?} {waiting}"
                );
            }
        }
    }

    #[test]
    fn a_deadline_saturates_instead_of_overflowing() {
        let now = Instant::now();
        assert_eq!(
            after(now, Duration::from_millis(5)),
            now + Duration::from_millis(5)
        );
        assert_eq!(after(now, FAR_FUTURE), now + FAR_FUTURE);
        // `now + u64::MAX seconds` overflows the clock (and panicked).
        for huge in [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            Duration::from_secs(i64::MAX as u64),
            FAR_FUTURE + Duration::from_nanos(1),
        ] {
            assert_eq!(after(now, huge), now + FAR_FUTURE, "{huge:?}");
        }
        assert_eq!(
            idle_deadline(
                crate::lifecycle::Phase::Ready,
                false,
                now,
                Some(Duration::MAX)
            ),
            Some(now + FAR_FUTURE)
        );
    }

    #[test]
    fn a_waiting_invoke_is_handled_before_the_teardown() {
        assert_eq!(Due::ORDER[0], Due::Waiting);
        assert_eq!(Due::ORDER[1], Due::Teardown);
    }

    #[test]
    fn the_timer_moves_only_for_a_sooner_deadline() {
        let table = [
            // (armed, earliest) -> arm at
            ((None, None), None),
            ((Some(at(10)), None), None),
            ((None, Some(at(10))), Some(at(10))),
            ((Some(at(10)), Some(at(5))), Some(at(5))),
            ((Some(at(10)), Some(at(10))), None),
            ((Some(at(10)), Some(at(20))), None),
        ];
        for ((armed, earliest), want) in table {
            assert_eq!(rearm(armed, earliest), want, "{armed:?} {earliest:?}");
        }
    }
}
