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

/// The error type rapid records for a value the runtime sent.
///
/// The value is first cut to [`MAX_ERROR_TYPE_LEN`] bytes. A value
/// containing `Runtime.` or `Function.` followed by an upper-case letter and
/// at least one more letter is kept as is. Anything else becomes
/// `Function.Unknown` when it starts with `Function.`, else `Runtime.Unknown`.
pub fn scrub_error_type(raw: &str) -> &str {
    let raw = bound_error_type(raw);
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
}
