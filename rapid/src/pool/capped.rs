//! The pool's side of the cap (`cap.rs`): which of its sandboxes the cap
//! may retire, and how a unit the cap hands it becomes a sandbox for its
//! first waiting invoke.

use super::cap::Capped;
use super::release::{retire, start_for_waiters};
use super::{Pooled, Shared, Slot};
use std::sync::Arc;

impl<S: Pooled> Capped for Shared<S> {
    fn oldest_idle(&self) -> Option<(usize, Option<std::time::Instant>)> {
        let state = self.state();
        if state.closed {
            return None;
        }
        state
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.idle_counted())
            .min_by_key(|(_, slot)| slot.last_used)
            .map(|(index, slot)| (index, slot.last_used))
    }

    fn retire_idle(&self, index: usize) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        let Some(slot) = state.slots.get_mut(index).filter(|s| s.idle_counted()) else {
            return false;
        };
        let member = slot.member.take();
        slot.counted = false;
        (slot.served, slot.last_used) = (0, None);
        state.retiring.retain(|task| !task.is_finished());
        if let Some(member) = member {
            state.retiring.push(tokio::spawn(retire(member)));
        }
        true
    }

    fn wants(&self) -> bool {
        let state = self.state();
        !state.closed
            && state.waiters.iter().any(|w| !w.is_closed())
            && (state
                .slots
                .iter()
                .any(|s| s.member.is_none() && s.leases == 0)
                || state.slots.len() < self.max
                || state.slots.iter().any(Slot::uncounted_idle))
    }

    fn grant(self: Arc<Self>) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        // The first sandbox, never invoked, takes the unit as it is.
        if let Some(index) = state.slots.iter().position(Slot::uncounted_idle) {
            while let Some(waiter) = state.waiters.pop_front() {
                state.slots[index].leases += 1;
                if waiter.send(index).is_ok() {
                    state.slots[index].counted = true;
                    return true;
                }
                state.slots[index].leases -= 1;
            }
            return false;
        }
        state.waiters.retain(|w| !w.is_closed());
        if state.waiters.is_empty() {
            return false;
        }
        let free = state
            .slots
            .iter()
            .position(|s| s.member.is_none() && s.leases == 0);
        let index = match free {
            Some(index) => index,
            None if state.slots.len() < self.max => {
                state.slots.push(Slot::empty());
                state.slots.len() - 1
            }
            None => return false,
        };
        let slot = &mut state.slots[index];
        slot.leases = 1;
        slot.counted = true;
        let task = tokio::spawn(start_for_waiters(self.clone(), index));
        state.retiring.retain(|task| !task.is_finished());
        state.retiring.push(task);
        true
    }
}
