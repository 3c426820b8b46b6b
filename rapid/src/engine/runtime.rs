//! The runtime process as the engine holds it (its state in the runtime's
//! table, its pending polls, the ids of invokes that timed out in its
//! workers), and who may speak for a sandbox's processes (`is_foreign`).

use super::{invalid_state, Dispatched, Reply};
use crate::lifecycle::{InvalidTransition, RuntimeInput, RuntimeState};
use crate::supervisor::{Caller, Ownership};
use runtime_api::ApiError;
use std::collections::VecDeque;
use std::time::SystemTime;

pub(super) struct Runtime {
    pub(super) pid: i32,
    /// When `state` was entered.
    pub(super) since: SystemTime,
    /// When it last answered an invoke.
    pub(super) answered_at: Option<SystemTime>,
    /// The runtime's own peak RSS, known once it has exited.
    pub(super) exited_max_rss_kb: Option<u64>,
    pub(super) state: RuntimeState,
    /// The runtime's pending `next`, when it is waiting in one.
    pub(super) next: Option<Reply<Dispatched>>,
    /// Multi-concurrency: its further pending `next` polls (one per idle
    /// worker), beside `next`.
    pub(super) polls: Vec<Reply<Dispatched>>,
    /// Its pending `restore/next` (init caching), until a restore starts.
    pub(super) restore_next: Option<Reply<()>>,
    /// Multi-concurrency: the latest invokes that timed out while a worker
    /// of this runtime held them, whose late answers are refused with `410`.
    pub(super) timed_out: VecDeque<String>,
}

/// How many timed-out request ids are remembered for their late answers.
const TIMED_OUT_KEPT: usize = 1024;

impl Runtime {
    /// Moves the runtime through its state table, or says why `input` is
    /// not allowed now (`403 InvalidStateTransition`).
    pub(super) fn step(&mut self, input: RuntimeInput) -> Result<(), InvalidTransition> {
        let next = self.state.on(input)?;
        self.set_state(next);
        Ok(())
    }

    /// It waits in at least one `next`.
    pub(super) fn polls(&self) -> bool {
        self.next.is_some() || !self.polls.is_empty()
    }

    /// Remembers `request_id` timed out, for its late answer.
    pub(super) fn timed_out(&mut self, request_id: &str) {
        if self.timed_out.len() == TIMED_OUT_KEPT {
            self.timed_out.pop_front();
        }
        self.timed_out.push_back(request_id.to_owned());
    }

    /// `request_id` timed out lately.
    pub(super) fn has_timed_out(&self, request_id: &str) -> bool {
        self.timed_out.iter().any(|id| id == request_id)
    }

    pub(super) fn set_state(&mut self, state: RuntimeState) {
        let changed = state != self.state;
        let answered = matches!(
            state,
            RuntimeState::RuntimeResponseSentState | RuntimeState::InvocationErrorResponse
        );
        if changed || answered {
            let now = SystemTime::now();
            if changed {
                self.since = now;
            }
            if answered {
                self.answered_at = Some(now);
            }
        }
        self.state = state;
    }
}

/// A call that only a process of the current generation may make came from
/// outside its process trees: a request a killed process sent before a
/// reset, read only now, or a process rapid did not start. A connection
/// accepted during another generation than `current` is foreign for sure;
/// otherwise the owner of its socket is looked up, and when it cannot be
/// told (no `/proc`), the call is let through.
pub(super) fn is_foreign(
    caller: Option<Caller>,
    current: Option<u64>,
    roots: &[i32],
    what: &str,
) -> bool {
    let Some(caller) = caller else {
        return false;
    };
    if caller.generation.is_some() && caller.generation != current {
        tracing::warn!(peer = %caller.peer, "refused {what} on a connection of an ended generation (a request of a process from before a reset)");
        return true;
    }
    match crate::supervisor::owner_in_tree(caller, roots) {
        Ownership::Foreign => {
            tracing::warn!(peer = %caller.peer, "refused {what} from a process outside this execution environment (a request of a process from before a reset?)");
            true
        }
        Ownership::Owned(_) | Ownership::Unknown => false,
    }
}

pub(super) const FOREIGN_RUNTIME: &str =
    "the caller is not the runtime of this execution environment (a process from before a reset?)";

/// The table's refusal, as the Runtime API answers it (`403
/// InvalidStateTransition`, in the table's words): the one place a typed
/// refusal becomes text, at the API's edge.
impl From<InvalidTransition> for ApiError {
    fn from(err: InvalidTransition) -> ApiError {
        invalid_state(&err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn caller(generation: Option<u64>) -> Option<Caller> {
        Some(Caller {
            peer: "127.0.0.1:1".parse().expect("an address"),
            local: "127.0.0.1:2".parse().expect("an address"),
            generation,
        })
    }

    #[test]
    pub(super) fn a_connection_of_another_generation_is_foreign_without_a_look_up() {
        // No process owns these addresses: only the generation can tell.
        assert!(is_foreign(caller(Some(1)), Some(2), &[], "a test call"));
        assert!(is_foreign(caller(Some(1)), None, &[], "a test call"));
        assert!(!is_foreign(None, Some(2), &[], "a call with no connection"));
    }
}
