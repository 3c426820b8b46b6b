//! Lambda's advanced logging controls (`AWS_LAMBDA_LOG_FORMAT`): with
//! `JSON`, the platform's own lines (START, END, REPORT, INIT_REPORT,
//! RESTORE_REPORT) are written as the JSON of their platform events, and a
//! line a process wrote that is a JSON object reaches the subscribers as
//! that object instead of a string. `AWS_LAMBDA_LOG_LEVEL` is the runtime's
//! business: it gets it in its environment like any variable.

use crate::events::Record;
use serde_json::Value;

/// How the function's log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Lines as written, and the platform's tab-separated text lines.
    #[default]
    Text,
    /// Platform lines as JSON events; JSON lines as objects.
    Json,
}

impl LogFormat {
    /// The format `AWS_LAMBDA_LOG_FORMAT` names (`JSON`, any case); text
    /// otherwise, as in Lambda.
    pub fn from_env_value(value: Option<&str>) -> LogFormat {
        match value {
            Some(v) if v.trim().eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Whether the event stands, in the JSON format, for a platform line of
/// the text format (and is written to stdout where that line would be).
pub(crate) fn replaces_a_line(record: &Record) -> bool {
    matches!(
        record,
        Record::InitStart(_)
            | Record::InitReport(_)
            | Record::Start(_)
            | Record::RuntimeDone(_)
            | Record::Report(_)
            | Record::RestoreStart(_)
            | Record::RestoreReport(_)
    )
}

/// The JSON object `line` is, if it is one.
pub(crate) fn json_object(line: &[u8]) -> Option<Value> {
    if line.first() != Some(&b'{') {
        return None;
    }
    match serde_json::from_slice(line) {
        Ok(value @ Value::Object(_)) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_and_the_format_variable() {
        assert_eq!(LogFormat::from_env_value(Some("JSON")), LogFormat::Json);
        assert_eq!(LogFormat::from_env_value(Some("json")), LogFormat::Json);
        assert_eq!(LogFormat::from_env_value(Some("Text")), LogFormat::Text);
        assert_eq!(LogFormat::from_env_value(None), LogFormat::Text);
        assert_eq!(
            json_object(br#"{"level":"INFO","message":"hi"}"#),
            Some(serde_json::json!({"level": "INFO", "message": "hi"}))
        );
        assert_eq!(json_object(b"[1, 2]"), None);
        assert_eq!(json_object(b"{not json"), None);
        assert_eq!(json_object(b"plain text"), None);
    }
}
