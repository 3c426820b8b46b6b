//! The invokes the runtime holds, as one value: one at a time, or up to K
//! with multi-concurrency (`AWS_LAMBDA_MAX_CONCURRENCY`). Which of the two
//! is the variant, chosen from the configuration when the runtime is
//! initialized (the data of `Phase::Serving`), and each carries only its
//! own bookkeeping: with one invoke at a time there are no held slots to
//! forget about.

use super::current::Current;
use super::Done;
use interop::contract::{InvokeFailure, InvokeSuccess};
use std::collections::VecDeque;
use std::time::Instant;

/// What an invoke's completion tells the one who waits for it.
pub(super) type Completion = Result<InvokeSuccess, InvokeFailure>;

// The large variant is the common one (one invoke at a time): boxing its
// invoke would cost an allocation per invoke; there is one value per engine.
#[allow(clippy::large_enum_variant)]
pub(super) enum Invocations {
    /// One invoke at a time: the one in flight, if any.
    One(Option<Current>),
    /// Multi-concurrency: the runtime's K workers.
    Many(Workers),
}

pub(super) struct Workers {
    /// K, the most invokes and polls the runtime holds at once.
    pub(super) limit: usize,
    /// The invokes the runtime holds, in dispatch order.
    pub(super) inflight: Vec<Current>,
    /// The completions of timed-out invokes whose workers have not polled
    /// again. Each holds its slot (the pool counts the sandbox's lease as
    /// taken) until a poll shows a worker came back, or the environment is
    /// torn down.
    pub(super) held_slots: VecDeque<(Done, Completion)>,
}

impl Invocations {
    pub(super) fn new(max_concurrency: Option<u32>) -> Invocations {
        match max_concurrency {
            None => Invocations::One(None),
            Some(k) => Invocations::Many(Workers {
                limit: k as usize,
                inflight: Vec::new(),
                held_slots: VecDeque::new(),
            }),
        }
    }

    /// The invoke in flight, with one invoke at a time.
    pub(super) fn current(&self) -> Option<&Current> {
        match self {
            Invocations::One(current) => current.as_ref(),
            Invocations::Many(_) => None,
        }
    }

    pub(super) fn current_mut(&mut self) -> Option<&mut Current> {
        match self {
            Invocations::One(current) => current.as_mut(),
            Invocations::Many(_) => None,
        }
    }

    pub(super) fn take_current(&mut self) -> Option<Current> {
        match self {
            Invocations::One(current) => current.take(),
            Invocations::Many(_) => None,
        }
    }

    /// The current invoke's runtime has answered it (one at a time).
    pub(super) fn answered(&self) -> bool {
        self.current().is_some_and(Current::has_answered)
    }

    /// Some invoke is in flight.
    pub(super) fn any(&self) -> bool {
        match self {
            Invocations::One(current) => current.is_some(),
            Invocations::Many(workers) => !workers.inflight.is_empty(),
        }
    }

    /// The soonest deadline of the invokes in flight.
    pub(super) fn earliest_deadline(&self) -> Option<Instant> {
        match self {
            Invocations::One(current) => current.as_ref().map(|c| c.deadline),
            Invocations::Many(workers) => workers.inflight.iter().map(|c| c.deadline).min(),
        }
    }

    /// Tells who waits for an invoke's completion, or, for an invoke that
    /// timed out with its worker still inside it, keeps it with its slot.
    pub(super) fn complete(&mut self, done: Done, completion: Completion, holds_slot: bool) {
        match self {
            Invocations::Many(workers) if holds_slot => {
                workers.held_slots.push_back((done, completion));
            }
            _ => {
                let _ = done.send(completion);
            }
        }
    }

    /// The environment is torn down: the workers inside timed-out invokes
    /// are gone with it, and their slots free.
    pub(super) fn release_held_slots(&mut self) {
        if let Invocations::Many(workers) = self {
            for (done, completion) in workers.held_slots.drain(..) {
                let _ = done.send(completion);
            }
        }
    }
}
