//! Multi-concurrency's rules (`AWS_LAMBDA_MAX_CONCURRENCY=K`, spec §9): a
//! worker's poll against the K slots, what an invoke's deadline does, and
//! which waiting invokes fail when their clock runs out. Which invoke a
//! worker's answer is about is `answer.rs`.

/// What a worker's `next` does (an initialized runtime's, or one still in
/// its init with an extension busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerPoll {
    /// Refused: polls and invokes in flight together would pass K.
    Refused,
    /// It waits for an invoke. `frees_held_slot`: with every one of the K
    /// workers accounted for (polling, in an invoke, or still inside a
    /// timed-out one), this poll is a worker back from a timed-out invoke:
    /// the oldest held slot is freed.
    Waits { frees_held_slot: bool },
}

/// What a worker's poll does with `open` polls held already, `running`
/// invokes in flight, `held` slots of timed-out invokes, and `limit` K.
/// A worker answers its invoke before it polls again, so polls and invokes
/// in flight together never pass K.
pub fn on_worker_poll(open: usize, running: usize, held: usize, limit: usize) -> WorkerPoll {
    let busy = open.saturating_add(running);
    if busy >= limit {
        return WorkerPoll::Refused;
    }
    WorkerPoll::Waits {
        frees_held_slot: held > 0 && busy.saturating_add(held) >= limit,
    }
}

/// What an invoke's deadline passing does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeDeadline {
    /// One invoke at a time: it fails and the environment is reset (the
    /// runtime may be stuck in it).
    FailAndReset,
    /// Multi-concurrency: each invoke past its deadline fails alone and
    /// keeps its slot until its worker comes back; the runtime's other
    /// invokes go on.
    FailEachExpired,
    /// One invoke at a time, none in flight any more: nothing to fail.
    Nothing,
}

/// What the invoke deadline that fell due does (`in_flight`: some invoke
/// is in flight).
pub fn on_invoke_deadline(concurrent: bool, in_flight: bool) -> InvokeDeadline {
    match (concurrent, in_flight) {
        (true, _) => InvokeDeadline::FailEachExpired,
        (false, true) => InvokeDeadline::FailAndReset,
        (false, false) => InvokeDeadline::Nothing,
    }
}

/// Which waiting invokes fail when the waiting deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitingExpired {
    /// The head of the queue: the only one whose clock runs (it waits for
    /// the reset before its retried init).
    Head,
    /// Every queued invoke past its own deadline (multi-concurrency: each
    /// waits for a slot on its own clock).
    EachPast,
}

pub fn on_waiting_deadline(concurrent: bool) -> WaitingExpired {
    if concurrent {
        WaitingExpired::EachPast
    } else {
        WaitingExpired::Head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_s_poll_against_k_slots() {
        use WorkerPoll as W;
        let refused = W::Refused;
        let waits = W::Waits {
            frees_held_slot: false,
        };
        let frees = W::Waits {
            frees_held_slot: true,
        };
        // (open, running, held, limit) -> what the poll does
        let table = [
            ((0, 0, 0, 1), waits),
            ((1, 0, 0, 1), refused),
            ((0, 1, 0, 1), refused),
            ((0, 0, 1, 1), frees),
            ((1, 1, 0, 4), waits),
            ((2, 2, 0, 4), refused),
            ((3, 1, 0, 4), refused),
            ((2, 1, 1, 4), frees),
            ((1, 1, 1, 4), waits),
            ((0, 0, 3, 4), waits),
            ((1, 0, 3, 4), frees),
            ((0, 3, 2, 4), frees),
        ];
        for ((open, running, held, limit), want) in table {
            assert_eq!(
                on_worker_poll(open, running, held, limit),
                want,
                "open {open} running {running} held {held} K {limit}"
            );
        }
        // The rule, over every small case.
        for limit in 1..5 {
            for open in 0..6 {
                for running in 0..6 {
                    for held in 0..6 {
                        let got = on_worker_poll(open, running, held, limit);
                        let want = if open + running >= limit {
                            W::Refused
                        } else {
                            W::Waits {
                                frees_held_slot: held > 0 && open + running + held >= limit,
                            }
                        };
                        assert_eq!(got, want, "{open} {running} {held} {limit}");
                    }
                }
            }
        }
        assert_eq!(on_worker_poll(usize::MAX, 1, 1, 4), W::Refused);
    }

    #[test]
    fn a_deadline_fails_one_invoke_or_resets() {
        assert_eq!(
            on_invoke_deadline(false, true),
            InvokeDeadline::FailAndReset
        );
        assert_eq!(on_invoke_deadline(false, false), InvokeDeadline::Nothing);
        assert_eq!(
            on_invoke_deadline(true, true),
            InvokeDeadline::FailEachExpired
        );
        assert_eq!(
            on_invoke_deadline(true, false),
            InvokeDeadline::FailEachExpired
        );
        assert_eq!(on_waiting_deadline(false), WaitingExpired::Head);
        assert_eq!(on_waiting_deadline(true), WaitingExpired::EachPast);
    }
}
