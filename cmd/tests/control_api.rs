//! The `/test/*` control API (spec §8): off by default; with `--test-api`,
//! `ping`, `internalState` (RAPID's state names, when each state was
//! entered, the first fatal error), `reset` of an idle sandbox and
//! `shutdown` (and `eventLog`, tested in event_log.rs); every other
//! operation answers 501 with a message, never a
//! fake success.

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

/// rapid with the control API and one scripted extension, `watch`.
fn with_watch(dir: &ExtDir, records: &Records) -> Rapid {
    dir.add_scripted("watch");
    let config = json!({"watch": {}}).to_string();
    Rapid::scripted(
        &["--test-api", "--extensions-dir", dir.as_str()],
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    )
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
    let (dir, records) = (ExtDir::new(), Records::new());
    let rapid = with_watch(&dir, &records);
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
    let (dir, records) = (ExtDir::new(), Records::new());
    let rapid = with_watch(&dir, &records);
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
        "restore",
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

#[test]
fn reset_sends_its_reason_and_the_next_invoke_starts_afresh() {
    let (dir, records) = (ExtDir::new(), Records::new());
    let rapid = with_watch(&dir, &records);
    let first_pid = assert_success(&rapid.invoke(b"{}", &[]))["pid"].clone();

    let bad = rapid.request("POST", "/test/reset", &[], br#"{"reason": "boredom"}"#);
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.json()["errorType"], "Client.InvalidRequest");

    for (n, reason) in ["timeout", "failure"].into_iter().enumerate() {
        let body = json!({ "reason": reason }).to_string();
        let resp = rapid.request("POST", "/test/reset", &[], body.as_bytes());
        assert_eq!(resp.status, 200, "{resp:?}");
        let answer = resp.json();
        assert!(answer["extensionsResetMs"].is_u64(), "{answer}");
        assert_eq!(
            answer["responseMetrics"]["runtimeResponseLatencyMs"], 0,
            "{answer}"
        );
        let shutdowns = records.wait_n("a SHUTDOWN per reset", n + 1, |r| {
            r["kind"] == "event" && r["eventType"] == "SHUTDOWN"
        });
        assert_eq!(shutdowns[n]["shutdownReason"], reason, "{shutdowns:?}");
        // Nothing of the sandbox is left: no runtime, no extension.
        let state = internal_state(&rapid);
        assert_eq!(state["runtime"], Value::Null, "{state}");
        assert_eq!(state["extensions"], json!([]), "{state}");
        // The next invoke initializes a new runtime.
        let resp = rapid.invoke(b"{}", &[]);
        let body = assert_success(&resp);
        assert_ne!(body["pid"], first_pid, "the runtime survived the reset");
        let report = rapid.wait_for_report(&request_id(&resp));
        assert!(report.get("Init Duration").is_some(), "{}", report.line);
    }
}

#[test]
fn reset_while_an_invoke_runs_is_refused_and_cuts_nothing_short() {
    let rapid = Rapid::scripted(&["--test-api"], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")]);
    let hung = {
        let addr = rapid.invoke_addr().to_owned();
        std::thread::spawn(move || {
            common::http::request(&addr, "POST", INVOKE_PATH, &[], br#"{"action":"hang"}"#)
        })
    };
    rapid.wait_for_stdout(|l| l.starts_with("hanging on"), WAIT);
    let resp = rapid.request("POST", "/test/reset", &[], br#"{"reason": "failure"}"#);
    assert_eq!(resp.status, 409, "{resp:?}");
    assert!(
        resp.json()["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("running")),
        "{}",
        resp.text()
    );
    // The invoke ends as it would have: at its own timeout.
    let answer = hung.join().expect("the invoker");
    assert_function_error(&answer, "Sandbox.Timedout");
}
