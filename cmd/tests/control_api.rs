//! The `/test/*` control API (spec §8): off by default; with `--test-api`,
//! `ping`, `internalState` (RAPID's state names, when each state was
//! entered, the first fatal error) and `shutdown`; every other operation
//! answers 501 with a message, never a fake success.

mod common;

use common::extensions::{ExtDir, Records};
use common::*;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn internal_state(rapid: &Rapid) -> Value {
    let resp = rapid.request("GET", "/test/internalState", &[], b"");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    resp.json()
}

#[test]
fn without_the_flag_there_is_no_control_api() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.request("GET", "/test/ping", &[], b"");
    assert_eq!(resp.status, 404, "{resp:?}");
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("UnknownOperationException")
    );
}

#[test]
fn ping_answers_pong() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    let resp = rapid.request("GET", "/test/ping", &[], b"");
    assert_eq!((resp.status, resp.text().as_str()), (200, "pong"));
    let wrong = rapid.request("POST", "/test/ping", &[], b"");
    assert_eq!(wrong.status, 405, "{wrong:?}");
    assert_eq!(wrong.json()["errorType"], "Client.InvalidRequest");
}

#[test]
fn internal_state_follows_the_runtime_and_extensions() {
    let dir = ExtDir::new();
    dir.add_scripted("watch");
    let records = Records::new();
    let config = json!({"watch": {}}).to_string();
    let rapid = Rapid::scripted(
        &["--test-api", "--extensions-dir", dir.as_str()],
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    );
    // Nothing has started before the first invoke (lazy init).
    let before = internal_state(&rapid);
    assert_eq!(before["runtime"], Value::Null, "{before}");
    assert_eq!(before["extensions"], json!([]), "{before}");
    assert_eq!(before["firstFatalError"], "", "{before}");

    let start = now_ms();
    let resp = rapid.invoke(b"{}", &[]);
    assert_success(&resp);
    records.wait_event("watch", "INVOKE", "requestId", &request_id(&resp));
    // The invoke is complete once the runtime and the extension asked for
    // their next event: both wait in next.
    rapid.wait_for_report(&request_id(&resp));
    let after = internal_state(&rapid);
    let runtime = &after["runtime"]["state"];
    assert_eq!(runtime["name"], "Ready", "{after}");
    let modified = runtime["lastModified"].as_u64().unwrap_or(0);
    assert!(
        modified >= start && modified <= now_ms(),
        "lastModified {modified} is not within the invoke: {after}"
    );
    assert!(
        runtime["responseTimeNs"].as_u64().unwrap_or(0) > 0,
        "{after}"
    );
    let extensions = after["extensions"].as_array().expect("a list");
    assert_eq!(extensions.len(), 1, "{after}");
    let watch = &extensions[0];
    assert_eq!(watch["name"], "watch");
    assert_eq!(watch["state"]["name"], "Ready", "{after}");
    let registered = records.wait_kind("watch", "registered", 1);
    assert_eq!(watch["ID"], registered["id"], "{after}");
    assert_eq!(watch["errorType"], "");
}

#[test]
fn the_first_fatal_error_is_reported_until_an_init_succeeds() {
    let marker = unique_path("fatal-once");
    let marker_str = marker.to_str().unwrap();
    let rapid = Rapid::scripted(
        &["--test-api"],
        &[
            ("SCRIPTED_INIT", "init_error"),
            ("SCRIPTED_INIT_MARKER", marker_str),
        ],
    );
    assert_function_error(&rapid.invoke(b"{}", &[]), "Runtime.ImportModuleError");
    let failed = internal_state(&rapid);
    assert_eq!(
        failed["firstFatalError"], "Runtime.ImportModuleError",
        "{failed}"
    );
    // The retried init succeeds: the sandbox is healthy again.
    assert_success(&rapid.invoke(b"{}", &[]));
    let healthy = internal_state(&rapid);
    assert_eq!(healthy["firstFatalError"], "", "{healthy}");
    let _ = std::fs::remove_file(marker);
}

#[test]
fn shutdown_answers_the_state_and_rapid_exits() {
    let dir = ExtDir::new();
    dir.add_scripted("watch");
    let records = Records::new();
    let config = json!({"watch": {}}).to_string();
    let rapid = Rapid::scripted(
        &["--test-api", "--extensions-dir", dir.as_str()],
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    );
    assert_success(&rapid.invoke(b"{}", &[]));
    let tree = descendants(rapid.pid());
    assert!(!tree.is_empty(), "the runtime and the extension run");

    let bad = rapid.request("POST", "/test/shutdown", &[], b"{\"timeoutMs\": \"soon\"}");
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.json()["errorType"], "Client.InvalidRequest");

    let resp = rapid.request("POST", "/test/shutdown", &[], br#"{"timeoutMs": 1500}"#);
    assert_eq!(resp.status, 200, "{resp:?}");
    let state = resp.json();
    assert!(state.get("runtime").is_some(), "{state}");
    let event = records.wait_event("watch", "SHUTDOWN", "shutdownReason", "spindown");
    // The deadline the extension got is the caller's, not Lambda's 2 s.
    let sent = event["ms"].as_u64().unwrap_or(0);
    let deadline = event["deadlineMs"].as_u64().unwrap_or(0);
    assert!(
        deadline <= sent + 1500,
        "deadlineMs {deadline} is past the 1.5 s asked (received at {sent})"
    );
    let status = rapid.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    for pid in tree {
        assert!(process_is_gone(pid), "{pid} outlived rapid");
    }
}

#[test]
fn operations_not_built_yet_say_so() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    for op in [
        "init",
        "waitUntilInitialized",
        "reserve",
        "invoke",
        "waitUntilRelease",
        "reset",
        "restore",
        "eventLog",
    ] {
        let resp = rapid.request("POST", &format!("/test/{op}"), &[], b"{}");
        assert_eq!(resp.status, 501, "/test/{op}: {resp:?}");
        let body = resp.json();
        assert_eq!(body["errorType"], "Client.NotSupported", "{body}");
        assert!(
            body["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("not supported")),
            "{body}"
        );
    }
    let unknown = rapid.request("GET", "/test/nothing", &[], b"");
    assert_eq!(unknown.status, 404, "{unknown:?}");
    // The front door still serves invokes.
    assert_success(&rapid.invoke(b"{}", &[]));
}
