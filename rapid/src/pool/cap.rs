//! `--max-environments`: one cap on the execution environments of every
//! pool of a rapid that runs many functions (spec §14). A pool takes a unit
//! of the cap for each environment it starts and gives it back when the
//! environment is retired. When none is left and an invoke needs a new
//! environment, the idle environment of another pool released longest ago
//! is retired for it (Lambda's spindown); when none is idle, the invoke
//! waits in its pool for the first unit or room to come free.
//!
//! Locks: the cap's lock is taken before a pool's, never after; two pools'
//! locks are held together only under the cap's lock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

/// What the cap needs of a pool (the pool's shared state implements it,
/// whatever its sandbox type).
pub(super) trait Capped: Send + Sync {
    /// Its idle environment that holds a unit and was released longest ago:
    /// the slot, and when it was last used (`None`: never, the coldest).
    fn oldest_idle(&self) -> Option<(usize, Option<Instant>)>;
    /// Retires idle environment `slot`, whose unit the caller takes over;
    /// false when it is not idle any more.
    fn retire_idle(&self, slot: usize) -> bool;
    /// Whether an invoke waits in it for a unit (one is waiting and there
    /// is a slot to start an environment in).
    fn wants(&self) -> bool;
    /// Starts an environment with a unit for its first waiting invoke;
    /// false (the unit unused) when none wants it any more.
    fn grant(self: Arc<Self>) -> bool;
}

/// The cap; clones share it.
#[derive(Clone)]
pub struct Cap {
    shared: Arc<CapShared>,
}

struct CapShared {
    max: usize,
    state: Mutex<CapState>,
}

pub(super) struct CapState {
    /// Units held: environments started or starting.
    used: usize,
    max: usize,
    pools: Vec<Weak<dyn Capped>>,
    /// Pools in which an invoke waits for a unit, in the order they began
    /// to wait (a pool once per waiting invoke; stale entries are skipped).
    hungry: VecDeque<Weak<dyn Capped>>,
}

impl std::fmt::Debug for Cap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cap")
            .field("max", &self.shared.max)
            .field("used", &self.used())
            .finish()
    }
}

/// Whether two pools are the same one.
fn same(a: &Weak<dyn Capped>, b: &Arc<dyn Capped>) -> bool {
    std::ptr::addr_eq(a.as_ptr(), Arc::as_ptr(b))
}

impl Cap {
    /// At most `max` environments (at least 1) for every pool given it.
    pub fn new(max: usize) -> Cap {
        let max = max.max(1);
        Cap {
            shared: Arc::new(CapShared {
                max,
                state: Mutex::new(CapState {
                    used: 0,
                    max,
                    pools: Vec::new(),
                    hungry: VecDeque::new(),
                }),
            }),
        }
    }

    pub fn max(&self) -> usize {
        self.shared.max
    }

    /// A unit for an environment started before any invoke (`--eager-init`):
    /// false when none is left.
    pub fn reserve(&self) -> bool {
        let mut state = self.lock();
        let free = state.used < state.max;
        state.used += usize::from(free);
        free
    }

    /// Environments that hold a unit now.
    pub fn used(&self) -> usize {
        self.lock().used
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, CapState> {
        // Every update is a few assignments: a poisoned lock is fine.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn register(&self, pool: Weak<dyn Capped>) {
        let mut state = self.lock();
        state.pools.retain(|p| p.strong_count() > 0);
        state.pools.push(pool);
    }

    /// Units given back (environments retired or never started): handed to
    /// pools whose invokes wait for one.
    pub(super) fn free(&self, units: usize) {
        if units == 0 {
            return;
        }
        let mut state = self.lock();
        state.used = state.used.saturating_sub(units);
        for _ in 0..units {
            state.hand_on();
        }
    }

    /// Pool `me` released idle environment `slot`: if an invoke of another
    /// pool waits for a unit, the environment is retired for it.
    pub(super) fn offer_idle(&self, me: Arc<dyn Capped>, slot: usize) {
        let mut state = self.lock();
        let wanted = state
            .hungry
            .iter()
            .any(|pool| !same(pool, &me) && pool.upgrade().is_some_and(|pool| pool.wants()));
        if wanted && me.retire_idle(slot) {
            tracing::info!(
                sandbox = slot,
                "retired an idle execution environment for another function (--max-environments)"
            );
            state.used = state.used.saturating_sub(1);
            state.hand_on();
        }
    }
}

impl CapState {
    /// A unit for pool `me`, which needs a new environment: a free one,
    /// else the one of another pool's idle environment released longest
    /// ago, retired now. The caller holds `me`'s lock.
    pub(super) fn take_unit(&mut self, me: &Arc<dyn Capped>) -> bool {
        if self.used < self.max {
            self.used += 1;
            return true;
        }
        let oldest = self
            .pools
            .iter()
            .filter(|pool| !same(pool, me))
            .filter_map(Weak::upgrade)
            .filter_map(|pool| pool.oldest_idle().map(|(slot, at)| (pool, slot, at)))
            // `None` (never used) sorts first: the coldest.
            .min_by_key(|(_, _, at)| *at);
        match oldest {
            Some((pool, slot, _)) if pool.retire_idle(slot) => {
                tracing::info!(
                    sandbox = slot,
                    "retired the least recently used idle execution environment of another function (--max-environments)"
                );
                true
            }
            _ => false,
        }
    }

    /// A unit for an environment that must start whatever the cap (the
    /// control API asked for it by index): counted, possibly past the cap.
    pub(super) fn force(&mut self) {
        self.used += 1;
    }

    /// Pool `me` has an invoke waiting for a unit.
    pub(super) fn wait_for_unit(&mut self, me: Weak<dyn Capped>) {
        self.hungry.push_back(me);
    }

    /// One unit just came free: the first pool still wanting one starts an
    /// environment with it.
    fn hand_on(&mut self) {
        while let Some(pool) = self.hungry.pop_front() {
            let Some(pool) = pool.upgrade() else {
                continue;
            };
            if pool.wants() && pool.grant() {
                self.used += 1;
                return;
            }
        }
    }
}
