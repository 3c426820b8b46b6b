//! How a slot comes back: a released sandbox handed to the next waiting
//! invoke or marked idle, a stale one retired, a new one started for the
//! invokes that wait, and the waiting invoke itself.

use super::{Member, PoolError, Pooled, Shared};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Shuts a retired sandbox down and waits for its tasks.
pub(super) async fn retire<S: Pooled>(member: Member<S>) {
    member.sandbox.shut_down().await;
    member.server.abort();
    drop(member.sandbox);
    for task in member.tasks {
        let _ = task.await;
    }
}

/// Whether a sandbox marked idle has just been used.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Warmth {
    /// It just ran an invoke: the warmest now.
    Used,
    /// Started and never used: the coldest.
    Cold,
}

/// Hands slot `index` to the first waiter still waiting, or marks it idle.
/// A slot without a sandbox (its start failed) is never handed out.
pub(super) fn release<S: Pooled>(shared: &Arc<Shared<S>>, index: usize) {
    release_as(shared, index, Warmth::Used)
}

pub(super) fn release_as<S: Pooled>(shared: &Arc<Shared<S>>, index: usize, warmth: Warmth) {
    let mut state = shared.state();
    if let (Warmth::Used, Some(slot)) = (warmth, state.slots.get_mut(index)) {
        slot.served += 1;
        slot.last_used = Some(std::time::Instant::now());
    }
    let Some(slot) = state.slots.get(index) else {
        return;
    };
    // A retired sandbox whose last invoke this was is not handed on.
    let retiring = slot.stale && slot.leases <= 1;
    if slot.member.is_some() && !retiring {
        while let Some(waiter) = state.waiters.pop_front() {
            if waiter.send(index).is_ok() {
                return;
            }
        }
    }
    state.releases += 1;
    let now = match warmth {
        Warmth::Used => state.releases,
        Warmth::Cold => 0,
    };
    let mut retired = None;
    // What the cap gets back: a unit, or an idle environment to retire
    // for another pool's invoke.
    let mut unit = false;
    let mut idle = false;
    if let Some(slot) = state.slots.get_mut(index) {
        slot.leases = slot.leases.saturating_sub(1);
        slot.released = now;
        if slot.stale && slot.leases == 0 {
            slot.stale = false;
            retired = slot.member.take();
            (slot.served, slot.last_used) = (0, None);
        }
        if slot.member.is_none() && slot.leases == 0 && slot.counted {
            // Retired, or its start failed: its unit is free again, unless
            // a new sandbox starts in its place below.
            slot.counted = false;
            unit = true;
        }
        idle = slot.idle_counted();
    }
    if let Some(member) = retired {
        state.retiring.retain(|task| !task.is_finished());
        state.retiring.push(tokio::spawn(retire(member)));
        if !state.waiters.is_empty() && !state.closed {
            // Invokes wait for this slot: they get a new sandbox in it,
            // never the retired one (with the retired one's unit).
            if let Some(slot) = state.slots.get_mut(index) {
                slot.leases = 1;
                slot.counted = unit;
            }
            unit = false;
            let task = tokio::spawn(start_for_waiters(shared.clone(), index));
            state.retiring.push(task);
        }
    }
    drop(state);
    if let Some(cap) = &shared.cap {
        if unit {
            cap.free(1);
        } else if idle {
            cap.offer_idle(shared.clone(), index);
        }
    }
}

/// Starts a sandbox in slot `index` (reserved for it) for the invokes
/// waiting in the pool: the first still waiting gets it; if it cannot
/// start, that invoke is refused rather than left waiting.
pub(super) async fn start_for_waiters<S: Pooled>(shared: Arc<Shared<S>>, index: usize) {
    let started = (shared.start)(index).await;
    let shut = match started {
        Ok(member) => {
            let mut state = shared.state();
            if state.closed {
                Some(member)
            } else {
                state.slots[index].member = Some(member);
                None
            }
        }
        Err(err) => {
            tracing::warn!(sandbox = index, %err, "cannot start another execution environment");
            // Dropped, the first waiter's sender tells it the pool has no
            // sandbox for it.
            drop(shared.state().waiters.pop_front());
            None
        }
    };
    match shut {
        // The pool shut down meanwhile.
        Some(member) => retire(member).await,
        // Started for a waiter: handed to it, or idle and cold.
        None => release_as(&shared, index, Warmth::Cold),
    }
}

/// An invoke waiting for a sandbox. Dropped before it read the slot it
/// was handed (its caller went away), it hands the slot on.
pub(super) struct Waiting<S: Pooled> {
    pub(super) shared: Arc<Shared<S>>,
    pub(super) rx: Option<oneshot::Receiver<usize>>,
}

impl<S: Pooled> Waiting<S> {
    pub(super) async fn wait(mut self) -> Result<usize, PoolError> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(PoolError::Gone);
        };
        let index = rx.await.map_err(|_| PoolError::Gone);
        self.rx = None;
        index
    }
}

impl<S: Pooled> Drop for Waiting<S> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(index) = rx.try_recv() {
                release(&self.shared, index);
            }
        }
    }
}
