//! Lambda error types and the scrubbing rule (spec §3.4).

/// Error types that rapid itself produces.
pub struct ErrorType;

impl ErrorType {
    pub const SANDBOX_TIMEDOUT: &'static str = "Sandbox.Timedout";
    pub const RUNTIME_EXIT_ERROR: &'static str = "Runtime.ExitError";
    pub const RUNTIME_INVALID_ENTRYPOINT: &'static str = "Runtime.InvalidEntrypoint";
    pub const RUNTIME_UNKNOWN: &'static str = "Runtime.Unknown";
    pub const FUNCTION_UNKNOWN: &'static str = "Function.Unknown";
    pub const RESPONSE_SIZE_TOO_LARGE: &'static str = "Function.ResponseSizeTooLarge";
    pub const INVALID_RESPONSE_MODE: &'static str = "Runtime.InvalidResponseModeHeader";
    pub const SANDBOX_SHUTDOWN: &'static str = "Sandbox.Shutdown";
    pub const TRUNCATED_RESPONSE: &'static str = "Runtime.TruncatedResponse";
    pub const EXTENSION_LAUNCH_ERROR: &'static str = "Extension.LaunchError";
    pub const EXTENSION_CRASH: &'static str = "Extension.Crash";
    pub const EXTENSION_INIT_ERROR: &'static str = "Extension.InitError";
}

/// The error type rapid records for a value the runtime sent.
///
/// A value containing `Runtime.` or `Function.` followed by an upper-case
/// letter and at least one more letter is kept as is. Anything else becomes
/// `Function.Unknown` when it starts with `Function.`, else `Runtime.Unknown`.
pub fn scrub_error_type(raw: &str) -> &str {
    if contains_lambda_type(raw) {
        raw
    } else if raw.starts_with("Function.") {
        ErrorType::FUNCTION_UNKNOWN
    } else {
        ErrorType::RUNTIME_UNKNOWN
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
}
