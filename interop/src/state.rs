//! The sandbox's internal state as the `/test/*` control API reports it
//! (spec §8): the runtime's and each extension's state with RAPID's names,
//! when it last changed, and the first fatal error.

use serde_json::{json, Value};

/// One state and when it was entered.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDescription {
    /// RAPID's name: `Started`, `Ready`, `Running`...
    pub name: &'static str,
    /// When the state was entered, Unix epoch milliseconds.
    pub last_modified_ms: u64,
    /// When the runtime last answered an invoke, Unix epoch nanoseconds
    /// (0 before its first answer, and for extensions).
    pub response_time_ns: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionDescription {
    pub name: String,
    /// Its identifier, once registered.
    pub id: Option<String>,
    pub state: StateDescription,
    /// The type it reported with `init/error` or `exit/error`.
    pub error_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct InternalState {
    /// None when no runtime has been started (or after a reset).
    pub runtime: Option<StateDescription>,
    pub extensions: Vec<ExtensionDescription>,
    /// The first error that failed an init or an invoke since the sandbox
    /// was last (re)started.
    pub first_fatal_error: Option<String>,
}

impl StateDescription {
    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "lastModified": self.last_modified_ms,
            "responseTimeNs": self.response_time_ns,
        })
    }
}

impl InternalState {
    /// The JSON shape of RAPID's `InternalStateDescription`.
    pub fn to_json(&self) -> Value {
        let extensions: Vec<Value> = self
            .extensions
            .iter()
            .map(|ext| {
                json!({
                    "name": ext.name,
                    "ID": ext.id.clone().unwrap_or_default(),
                    "state": ext.state.to_json(),
                    "errorType": ext.error_type.clone().unwrap_or_default(),
                })
            })
            .collect();
        json!({
            "runtime": self.runtime.as_ref().map(|rt| json!({ "state": rt.to_json() })),
            "extensions": extensions,
            "firstFatalError": self.first_fatal_error.clone().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_has_rapid_s_shape() {
        let state = InternalState {
            runtime: Some(StateDescription {
                name: "Ready",
                last_modified_ms: 1_700_000_000_000,
                response_time_ns: 0,
            }),
            extensions: vec![ExtensionDescription {
                name: "watch".to_owned(),
                id: Some("b5b0f3a4-0000-4000-8000-000000000000".to_owned()),
                state: StateDescription {
                    name: "Ready",
                    last_modified_ms: 1_700_000_000_001,
                    response_time_ns: 0,
                },
                error_type: None,
            }],
            first_fatal_error: None,
        };
        assert_eq!(
            state.to_json(),
            json!({
                "runtime": {"state": {"name": "Ready", "lastModified": 1_700_000_000_000u64, "responseTimeNs": 0}},
                "extensions": [{
                    "name": "watch",
                    "ID": "b5b0f3a4-0000-4000-8000-000000000000",
                    "state": {"name": "Ready", "lastModified": 1_700_000_000_001u64, "responseTimeNs": 0},
                    "errorType": "",
                }],
                "firstFatalError": "",
            })
        );
        assert_eq!(InternalState::default().to_json()["runtime"], Value::Null);
    }
}
