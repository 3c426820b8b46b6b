//! Lambda error types and the scrubbing rule (spec §3.4).

use std::fmt;

/// A Lambda error type. rapid's own are variants; a type a runtime reported
/// and the scrubbing rule kept is `Reported` (see [`scrub_error_type`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorType {
    SandboxTimedout,
    SandboxShutdown,
    /// The sandbox was reset (reason failure) under an invoke.
    SandboxFailure,
    RuntimeExitError,
    /// The runtime was killed for using more than the function's memory.
    RuntimeOutOfMemory,
    RuntimeInvalidEntrypoint,
    RuntimeInvalidResponseModeHeader,
    RuntimeTruncatedResponse,
    RuntimeUnknown,
    /// The runtime's after-restore hooks did not finish in time (init
    /// caching).
    RuntimeRestoreHookUserTimeout,
    FunctionResponseSizeTooLarge,
    FunctionUnknown,
    ExtensionLaunchError,
    ExtensionCrash,
    ExtensionInitError,
    /// A runtime's own type that passed the scrubbing rule
    /// (`Runtime.ImportModuleError`, `Function.ValueError`...).
    Reported(String),
}

/// rapid's own error types with their Lambda spelling.
const SPELLINGS: [(ErrorType, &str); 15] = [
    (ErrorType::SandboxTimedout, "Sandbox.Timedout"),
    (ErrorType::SandboxShutdown, "Sandbox.Shutdown"),
    (ErrorType::SandboxFailure, "Sandbox.Failure"),
    (ErrorType::RuntimeExitError, "Runtime.ExitError"),
    (ErrorType::RuntimeOutOfMemory, "Runtime.OutOfMemory"),
    (
        ErrorType::RuntimeInvalidEntrypoint,
        "Runtime.InvalidEntrypoint",
    ),
    (
        ErrorType::RuntimeInvalidResponseModeHeader,
        "Runtime.InvalidResponseModeHeader",
    ),
    (
        ErrorType::RuntimeTruncatedResponse,
        "Runtime.TruncatedResponse",
    ),
    (ErrorType::RuntimeUnknown, "Runtime.Unknown"),
    (
        ErrorType::RuntimeRestoreHookUserTimeout,
        "Runtime.RestoreHookUserTimeout",
    ),
    (
        ErrorType::FunctionResponseSizeTooLarge,
        "Function.ResponseSizeTooLarge",
    ),
    (ErrorType::FunctionUnknown, "Function.Unknown"),
    (ErrorType::ExtensionLaunchError, "Extension.LaunchError"),
    (ErrorType::ExtensionCrash, "Extension.Crash"),
    (ErrorType::ExtensionInitError, "Extension.InitError"),
];

impl ErrorType {
    /// The Lambda spelling: `Sandbox.Timedout`, `Runtime.ExitError`...
    pub fn as_str(&self) -> &str {
        match self {
            ErrorType::Reported(spelling) => spelling,
            own => SPELLINGS
                .iter()
                .find(|(kind, _)| kind == own)
                .map_or("Runtime.Unknown", |(_, spelling)| spelling),
        }
    }

    /// The type spelled `spelling`: one of rapid's own, or `Reported`.
    fn from_spelling(spelling: &str) -> ErrorType {
        SPELLINGS
            .iter()
            .find(|(_, own)| *own == spelling)
            .map_or_else(
                || ErrorType::Reported(spelling.to_owned()),
                |(kind, _)| kind.clone(),
            )
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorType {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The longest error type rapid takes from a runtime, in bytes. A longer
/// one is cut (at a character boundary) before it is scrubbed, so that a
/// runtime cannot blow up the REPORT line, telemetry and the trailers.
pub const MAX_ERROR_TYPE_LEN: usize = 256;

/// `raw` cut to at most [`MAX_ERROR_TYPE_LEN`] bytes.
pub fn bound_error_type(raw: &str) -> &str {
    if raw.len() <= MAX_ERROR_TYPE_LEN {
        return raw;
    }
    let mut end = MAX_ERROR_TYPE_LEN;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    &raw[..end]
}

/// `raw` cut to [`MAX_ERROR_TYPE_LEN`] bytes, saying so in rapid's log
/// when it was longer (`whose`: "the runtime's", "an extension's"). The
/// Runtime API (a runtime's error type) and the engine (an extension's)
/// both bound with it.
pub fn bounded_error_type<'a>(raw: &'a str, whose: &str) -> &'a str {
    let bounded = bound_error_type(raw);
    if bounded.len() < raw.len() {
        tracing::warn!(
            length = raw.len(),
            kept = bounded.len(),
            "{whose} error type is too long; it is cut"
        );
    }
    bounded
}

/// The error type rapid records for a value the runtime sent.
///
/// The value is first cut to [`MAX_ERROR_TYPE_LEN`] bytes. A value
/// containing `Runtime.` or `Function.` followed by an upper-case letter and
/// at least one more letter is kept as is. Anything else becomes
/// `Function.Unknown` when it starts with `Function.`, else `Runtime.Unknown`.
pub fn scrub_error_type(raw: &str) -> ErrorType {
    let raw = bound_error_type(raw);
    if contains_lambda_type(raw) {
        ErrorType::from_spelling(raw)
    } else if raw.starts_with("Function.") {
        ErrorType::FunctionUnknown
    } else {
        ErrorType::RuntimeUnknown
    }
}

fn contains_lambda_type(raw: &str) -> bool {
    ["Runtime.", "Function."].iter().any(|prefix| {
        raw.match_indices(prefix).any(|(at, _)| {
            let rest = &raw.as_bytes()[at + prefix.len()..];
            rest.len() >= 2 && rest[0].is_ascii_uppercase() && rest[1].is_ascii_alphabetic()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_follows_the_spec_table() {
        let cases = [
            ("Runtime.ImportModuleError", "Runtime.ImportModuleError"),
            ("Function.ValueError", "Function.ValueError"),
            ("Function.X", "Function.Unknown"),
            ("Function.lower", "Function.Unknown"),
            ("Runtime.", "Runtime.Unknown"),
            ("Unhandled", "Runtime.Unknown"),
            ("", "Runtime.Unknown"),
            ("ValueError", "Runtime.Unknown"),
            ("MyRuntime.Crashed", "MyRuntime.Crashed"),
            ("Function.", "Function.Unknown"),
            ("runtime.ExitError", "Runtime.Unknown"),
            ("Function.Ü", "Function.Unknown"),
        ];
        for (raw, want) in cases {
            assert_eq!(scrub_error_type(raw), want, "scrubbing {raw:?}");
        }
    }

    #[test]
    fn long_error_types_are_cut_before_scrubbing() {
        let long = format!("Runtime.Long{}", "x".repeat(10_000));
        assert_eq!(scrub_error_type(&long), &long[..MAX_ERROR_TYPE_LEN]);
        // The Lambda pattern past the cut does not count.
        let late = format!("{}Runtime.Late", "x".repeat(MAX_ERROR_TYPE_LEN));
        assert_eq!(scrub_error_type(&late), "Runtime.Unknown");
        // Never in the middle of a character.
        let wide = format!("Function.Wide{}", "é".repeat(200));
        let cut = bound_error_type(&wide);
        assert!(cut.len() <= MAX_ERROR_TYPE_LEN && cut.len() >= MAX_ERROR_TYPE_LEN - 1);
        assert!(wide.starts_with(cut));
        assert_eq!(bound_error_type("Runtime.Short"), "Runtime.Short");
    }

    #[test]
    fn every_type_has_its_lambda_spelling_and_back() {
        for (kind, spelling) in SPELLINGS {
            assert_eq!(kind.as_str(), spelling);
            assert_eq!(kind.to_string(), spelling);
            assert_eq!(ErrorType::from_spelling(spelling), kind);
        }
        // A runtime that reports one of rapid's own types gets that type.
        assert_eq!(
            scrub_error_type("Runtime.ExitError"),
            ErrorType::RuntimeExitError
        );
        assert_eq!(
            scrub_error_type("Function.ValueError"),
            ErrorType::Reported("Function.ValueError".to_owned())
        );
    }
}
