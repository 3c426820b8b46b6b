//! The Extensions API's parsers, through its real handler (register, its
//! name, feature and identifier headers and its JSON body; event/next;
//! init and exit errors), plus the event bodies it sends, built from
//! arbitrary request ids, ARNs and trace ids: they must be JSON that gives
//! back exactly what was put in.

#![no_main]

use extensions_api::{
    extension_error_type, extension_identifier, registration, EventKind, ExtensionApiError,
    ExtensionEvent, ExtensionsEngine, Registration, RegistrationRequest, ShutdownReason,
};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use rapid_fuzz::{block_on, fields, Input};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

#[derive(Clone)]
struct Engine {
    registered: Arc<Mutex<Option<RegistrationRequest>>>,
    event: ExtensionEvent,
}

impl ExtensionsEngine for Engine {
    async fn register(
        &self,
        request: RegistrationRequest,
    ) -> Result<Registration, ExtensionApiError> {
        let name = request.name.clone();
        *self.registered.lock().unwrap_or_else(|e| e.into_inner()) = Some(request);
        Ok(Registration {
            id: Uuid::nil(),
            function_name: name,
            function_version: "$LATEST".into(),
            handler: "h".into(),
            account_id: None,
        })
    }
    async fn next(&self, _: Uuid) -> Result<ExtensionEvent, ExtensionApiError> {
        Ok(self.event.clone())
    }
    async fn init_error(&self, _: Uuid, _: String) -> Result<(), ExtensionApiError> {
        Ok(())
    }
    async fn exit_error(&self, _: Uuid, _: String) -> Result<(), ExtensionApiError> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let body = input.data();
    match registration(&input.headers, &body) {
        Ok(request) => {
            assert!(!request.name.is_empty());
            assert_eq!(request.name.trim(), request.name);
            let invokes = request.events.iter().filter(|e| **e == EventKind::Invoke);
            let shutdowns = request.events.iter().filter(|e| **e == EventKind::Shutdown);
            assert!(
                invokes.count() <= 1 && shutdowns.count() <= 1,
                "events are not repeated"
            );
        }
        Err(err) => refused(&err),
    }
    if let Ok(id) = extension_identifier(&input.headers) {
        let sent = input.headers.get("lambda-extension-identifier").unwrap();
        assert_eq!(
            Uuid::parse_str(sent.to_str().unwrap().trim()).ok(),
            Some(id)
        );
    }
    let _ = extension_error_type(&input.headers);

    // The whole handler, whose `next` hands out an event made of the input.
    let [request_id, arn, trace_id]: [String; 3] = fields(&body, 3).try_into().unwrap();
    let deadline_ms = u64::from_le_bytes(
        body.iter()
            .copied()
            .chain(std::iter::repeat(0))
            .take(8)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    );
    let invoke = ExtensionEvent::invoke(deadline_ms, request_id.clone(), &arn, trace_id.clone());
    event_round_trip(&invoke, &request_id, &arn, &trace_id, deadline_ms);
    let shutdown = ExtensionEvent::Shutdown {
        shutdown_reason: ShutdownReason::Timeout,
        deadline_ms,
    };
    let value: serde_json::Value = serde_json::to_value(&shutdown).unwrap();
    assert_eq!(value["eventType"], "SHUTDOWN");
    assert_eq!(value["deadlineMs"], deadline_ms);

    let engine = Engine {
        registered: Default::default(),
        event: invoke,
    };
    let response = block_on(extensions_api::handle(engine.clone(), input.request()));
    let status = response.status();
    let answer = block_on(response.into_body().collect())
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(&answer).expect("every answer is JSON");
    if !status.is_success() {
        assert!(value["errorType"].is_string(), "{value}");
    } else if value.get("eventType").is_some() {
        assert_eq!(value["requestId"], request_id.as_str());
    }
    let registered = engine
        .registered
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(registered) = registered {
        assert_eq!(
            Ok(registered),
            registration(&input.headers, &body).map_err(|_| ())
        );
    }
});

/// The INVOKE event's JSON gives back what it was made of.
fn event_round_trip(
    event: &ExtensionEvent,
    request_id: &str,
    arn: &str,
    trace_id: &str,
    deadline_ms: u64,
) {
    let bytes = serde_json::to_vec(event).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["eventType"], "INVOKE");
    assert_eq!(value["requestId"], request_id);
    assert_eq!(value["invokedFunctionArn"], arn);
    assert_eq!(value["tracing"]["value"], trace_id);
    assert_eq!(value["tracing"]["type"], "X-Amzn-Trace-Id");
    assert_eq!(value["deadlineMs"], deadline_ms);
}

fn refused(err: &ExtensionApiError) {
    assert!(err.status().is_client_error(), "{err:?}");
    assert!(!err.error_type().is_empty());
}
