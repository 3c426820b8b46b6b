//! Whose call it must be: a runtime call that ends its init (its first
//! `next`, its first `restore/next`, its `/init/error`) is refused from a
//! process that is not this generation's runtime (one from before a
//! reset?), so that a stale process cannot end the new generation's init.
//! The caller is asked about only for those calls: learning who it is
//! reads the process tree, so it is a probe the table calls when it needs
//! the answer.

use super::AfterNext;

/// A runtime call whose caller may matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeCall {
    /// `invocation/next`, with what it ends ([`super::on_next`]).
    Next(AfterNext),
    /// `restore/next`; `first`: the runtime's first call
    /// ([`super::RestoreCall::Steps`]).
    RestoreNext { first: bool },
    /// `/init/error`.
    InitError,
}

/// What the caller's identity does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerCheck {
    Allowed,
    /// Refused: the caller is not this generation's runtime.
    Foreign,
}

/// `call`, from a caller `foreign` says is outside this environment or not.
pub fn on_runtime_caller(call: RuntimeCall, foreign: impl FnOnce() -> bool) -> CallerCheck {
    let ends_init = match call {
        RuntimeCall::Next(then) => then == AfterNext::Init,
        RuntimeCall::RestoreNext { first } => first,
        RuntimeCall::InitError => true,
    };
    if ends_init && foreign() {
        CallerCheck::Foreign
    } else {
        CallerCheck::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallerCheck as C;
    use RuntimeCall as R;

    #[test]
    fn only_the_calls_that_end_an_init_ask_who_calls() {
        // call -> whether its caller is asked about
        let table = [
            (R::Next(AfterNext::Init), true),
            (R::Next(AfterNext::Restore), false),
            (R::Next(AfterNext::Invoke), false),
            (R::RestoreNext { first: true }, true),
            (R::RestoreNext { first: false }, false),
            (R::InitError, true),
        ];
        for (call, checked) in table {
            for foreign in [false, true] {
                let mut asked = false;
                let got = on_runtime_caller(call, || {
                    asked = true;
                    foreign
                });
                let want = if checked && foreign {
                    C::Foreign
                } else {
                    C::Allowed
                };
                assert_eq!(got, want, "{call:?}, foreign {foreign}");
                assert_eq!(asked, checked, "{call:?}");
            }
        }
    }
}
