//! A place of the pool ([`Slot`]: its sandbox, its invokes, when it was
//! released, whether it holds a unit of the cap), what the control API
//! shows of one ([`SlotView`]), and the pool's state under its lock with
//! the choice of the warmest place with room.

use super::{Member, Pooled};
use std::collections::VecDeque;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One place of the pool: its sandbox, when one runs or is starting, and
/// what the pool counts of it.
pub(super) struct Slot<S> {
    pub(super) member: Option<Member<S>>,
    /// The invokes it holds (a start under way counts as one): at most one,
    /// or K with multi-concurrency.
    pub(super) leases: usize,
    /// When it was last released idle, on the pool's own count of
    /// releases (0: never).
    pub(super) released: u64,
    /// Retire it once its invokes are done (`Pool::retire_all` found it
    /// busy).
    pub(super) stale: bool,
    /// It holds a unit of the cap (`--max-environments`): from the start
    /// of its sandbox (or, for the first sandbox, given and not started
    /// eagerly, from its first invoke) until it is retired.
    pub(super) counted: bool,
    /// Invokes its sandbox served (releases after use).
    pub(super) served: u64,
    /// When its sandbox was last released after an invoke.
    pub(super) last_used: Option<std::time::Instant>,
}

/// What the control API shows of one slot of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotView {
    pub index: usize,
    /// `busy`, `idle` or `starting`.
    pub state: &'static str,
    pub invokes_served: u64,
    pub last_used: Option<std::time::Instant>,
    /// Whose processes are its own: [`crate::Supervisor::pids_of`] lists
    /// them.
    pub processes_owner: Option<u64>,
}

/// The pool's places and who waits for one, under its lock.
pub(super) struct State<S> {
    pub(super) slots: Vec<Slot<S>>,
    /// Invokes waiting for a sandbox, first come first served.
    pub(super) waiters: VecDeque<oneshot::Sender<usize>>,
    /// Releases so far: the clock of `Slot::released`.
    pub(super) releases: u64,
    pub(super) closed: bool,
    /// Sandboxes retired while the pool runs, shutting down: awaited by
    /// `shutdown`.
    pub(super) retiring: Vec<JoinHandle<()>>,
}

impl<S> State<S> {
    /// The sandbox with room for one more invoke released last: the
    /// warmest, as Lambda prefers the most recently used environment; the
    /// others then stay idle long enough for `--idle-timeout` to retire
    /// them. With multi-concurrency the fullest one with room comes first,
    /// so another starts only when every one holds K.
    pub(super) fn warmest_with_room(&self, per_sandbox: usize) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.leases < per_sandbox && s.member.is_some())
            // Among never used ones, the lowest index.
            .max_by_key(|(index, s)| (s.leases, s.released, std::cmp::Reverse(*index)))
            .map(|(index, _)| index)
    }
}

impl<S: Pooled> Slot<S> {
    pub(super) fn empty() -> Slot<S> {
        Slot {
            member: None,
            leases: 0,
            released: 0,
            stale: false,
            counted: false,
            served: 0,
            last_used: None,
        }
    }

    /// It holds a unit of the cap and runs no invoke.
    pub(super) fn idle_counted(&self) -> bool {
        self.counted && self.member.is_some() && self.leases == 0 && !self.stale
    }

    /// It holds no unit and runs no invoke: the first sandbox, given to
    /// the pool and not yet invoked.
    pub(super) fn uncounted_idle(&self) -> bool {
        !self.counted && self.member.is_some() && self.leases == 0
    }
}
