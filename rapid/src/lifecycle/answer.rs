//! A runtime's answer for a request id (a response, its error, the start or
//! end of a stream): which invoke it is about, one at a time or with
//! multi-concurrency, and whether a forwarded response may begin.

use super::{InvalidTransition, RuntimeInput, RuntimeState};

/// What a runtime's answer for a request id meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFor {
    /// One invoke at a time: the invoke in progress is the one named.
    Current,
    /// Multi-concurrency: the invoke named is in flight.
    InFlight,
    /// One invoke at a time: the runtime has not asked for an invoke yet.
    NoInvocationYet,
    /// Multi-concurrency: the invoke timed out and was answered for (`410`,
    /// a late answer).
    TimedOut,
    /// Not an invoke of this runtime (`400 InvalidRequestID`).
    InvalidRequestId,
}

/// Which invoke an answer for a request id is about. `concurrent`: the
/// runtime holds several invokes at once (`AWS_LAMBDA_MAX_CONCURRENCY`);
/// `runtime`: its state, when there is one; `current`: one at a time,
/// whether the id is the invoke in progress (`None`: none is);
/// `in_flight`: with multi-concurrency, whether the id is among those in
/// flight. Whether it timed out is asked only of an id with
/// multi-concurrency that is not in flight.
pub fn answer_for(
    concurrent: bool,
    runtime: Option<RuntimeState>,
    current: Option<bool>,
    in_flight: bool,
    timed_out: impl FnOnce() -> bool,
) -> AnswerFor {
    match (concurrent, runtime) {
        (true, Some(_)) if in_flight => AnswerFor::InFlight,
        (true, _) if !in_flight && timed_out() => AnswerFor::TimedOut,
        (true, _) => AnswerFor::InvalidRequestId,
        (false, Some(_)) if current == Some(true) => AnswerFor::Current,
        (false, Some(RuntimeState::Started)) if current.is_none() => AnswerFor::NoInvocationYet,
        (false, _) => AnswerFor::InvalidRequestId,
    }
}

/// Why a forwarded response (a buffered one whose bytes go to the invoker
/// as they arrive) may not begin; the runtime then sends the body whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardRefused {
    /// The invoke's state could not take a whole answer now.
    Transition(InvalidTransition),
    /// No invoker waits for the outcome, or an answer is under way.
    UnderWay,
}

/// Whether a forwarded response may begin for an invoke whose state is
/// `from` (the runtime's, or the invoke's own with multi-concurrency): its
/// state must take a response and its end, someone must wait for the
/// outcome, and no answer may be under way.
pub fn may_forward(
    from: RuntimeState,
    invoker_waits: bool,
    answer_under_way: bool,
) -> Result<(), ForwardRefused> {
    from.on(RuntimeInput::Response)
        .and_then(|state| state.on(RuntimeInput::ResponseComplete))
        .map_err(ForwardRefused::Transition)?;
    match invoker_waits && !answer_under_way {
        true => Ok(()),
        false => Err(ForwardRefused::UnderWay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::runtime::tests::STATES;
    use RuntimeState as S;

    /// Every mode × runtime state × lookup: one at a time the invoke in
    /// progress answers (before the first invoke: no invocation yet); with
    /// multi-concurrency one in flight answers, a late answer is gone and
    /// an unknown one invalid, and the timed-out ids are looked at only
    /// for an id not in flight.
    #[test]
    fn which_invoke_an_answer_is_about() {
        let runtimes = std::iter::once(None).chain(STATES.iter().copied().map(Some));
        for runtime in runtimes {
            for current in [None, Some(false), Some(true)] {
                for in_flight in [false, true] {
                    for timed_out in [false, true] {
                        // One at a time.
                        let want = match (runtime, current) {
                            (Some(_), Some(true)) => AnswerFor::Current,
                            (Some(S::Started), None) => AnswerFor::NoInvocationYet,
                            _ => AnswerFor::InvalidRequestId,
                        };
                        let mut asked = false;
                        let got = answer_for(false, runtime, current, in_flight, || {
                            asked = true;
                            timed_out
                        });
                        let case = format!("{runtime:?} {current:?} {in_flight} {timed_out}");
                        assert_eq!(got, want, "one at a time: {case}");
                        assert!(!asked, "one at a time: {case}");
                        // Multi-concurrency.
                        let want = match (in_flight, timed_out) {
                            (true, _) if runtime.is_some() => AnswerFor::InFlight,
                            (true, _) => AnswerFor::InvalidRequestId,
                            (false, true) => AnswerFor::TimedOut,
                            (false, false) => AnswerFor::InvalidRequestId,
                        };
                        let mut asked = false;
                        let got = answer_for(true, runtime, current, in_flight, || {
                            asked = true;
                            timed_out
                        });
                        assert_eq!(got, want, "concurrent: {case}");
                        assert_eq!(asked, !in_flight, "concurrent: {case}");
                    }
                }
            }
        }
    }

    /// Every state × (invoker waits, answer under way): only a running
    /// invoke whose invoker waits, with no answer begun, is forwarded; a
    /// state that cannot take the answer says so first.
    #[test]
    fn when_a_forwarded_response_may_begin() {
        for from in STATES {
            for waits in [false, true] {
                for under_way in [false, true] {
                    let want = match (from, waits, under_way) {
                        (S::Running, true, false) => Ok(()),
                        (S::Running, _, _) => Err(ForwardRefused::UnderWay),
                        (state, _, _) => Err(ForwardRefused::Transition(InvalidTransition {
                            state,
                            input: RuntimeInput::Response,
                        })),
                    };
                    assert_eq!(
                        may_forward(from, waits, under_way),
                        want,
                        "{from:?} {waits} {under_way}"
                    );
                }
            }
        }
    }
}
