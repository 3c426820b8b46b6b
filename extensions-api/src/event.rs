//! The events an extension receives from `event/next`.

use serde::Serialize;

/// Which events an extension registers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
pub enum EventKind {
    #[serde(rename = "INVOKE")]
    Invoke,
    #[serde(rename = "SHUTDOWN")]
    Shutdown,
}

pub use interop::contract::ShutdownReason;

/// One event, serialized as Lambda sends it (tagged by `eventType`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "eventType", rename_all = "UPPERCASE")]
pub enum ExtensionEvent {
    #[serde(rename_all = "camelCase")]
    Invoke {
        deadline_ms: u64,
        request_id: String,
        invoked_function_arn: String,
        tracing: Tracing,
    },
    #[serde(rename_all = "camelCase")]
    Shutdown {
        shutdown_reason: ShutdownReason,
        deadline_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tracing {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

impl ExtensionEvent {
    pub fn invoke(deadline_ms: u64, request_id: String, arn: &str, trace_id: String) -> Self {
        ExtensionEvent::Invoke {
            deadline_ms,
            request_id,
            invoked_function_arn: arn.to_owned(),
            tracing: Tracing {
                kind: "X-Amzn-Trace-Id",
                value: trace_id,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_as_lambda_sends_them() {
        let invoke = ExtensionEvent::invoke(5, "id".into(), "arn", "Root=1".into());
        assert_eq!(
            serde_json::to_value(&invoke).unwrap(),
            serde_json::json!({
                "eventType": "INVOKE", "deadlineMs": 5, "requestId": "id",
                "invokedFunctionArn": "arn",
                "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1"}
            })
        );
        let shutdown = ExtensionEvent::Shutdown {
            shutdown_reason: ShutdownReason::Timeout,
            deadline_ms: 9,
        };
        assert_eq!(
            serde_json::to_value(&shutdown).unwrap(),
            serde_json::json!({"eventType": "SHUTDOWN", "shutdownReason": "timeout", "deadlineMs": 9})
        );
    }
}
