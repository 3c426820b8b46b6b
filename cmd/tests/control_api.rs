//! The `/test/*` control API (spec §8): off by default; with `--test-api`,
//! `ping`, `internalState` (RAPID's state names, when each state was
//! entered, the first fatal error), `init`, `waitUntilInitialized`,
//! `reserve`, `invoke`, `waitUntilRelease`, `reset` (which cuts short what
//! runs) and `shutdown` (`restore` is tested in restore.rs, `eventLog` in
//! event_log.rs); an unknown operation is a 404, a wrong method a 405.
//! With a pool, `?sandbox=N` addresses one sandbox.

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
fn unknown_operations_and_wrong_methods_are_named() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    let unknown = rapid.request("GET", "/test/nothing", &[], b"");
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(unknown.json()["errorType"], "Client.InvalidRequest");
    for (method, op) in [
        ("GET", "init"),
        ("GET", "waitUntilInitialized"),
        ("GET", "reserve"),
        ("GET", "invoke"),
        ("GET", "waitUntilRelease"),
        ("GET", "restore"),
        ("POST", "eventLog"),
        ("POST", "internalState"),
    ] {
        let resp = rapid.request(method, &format!("/test/{op}"), &[], b"");
        assert_eq!(resp.status, 405, "{method} /test/{op}: {resp:?}");
        assert_eq!(resp.json()["errorType"], "Client.InvalidRequest");
    }
    // The front door still serves invokes.
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn reset_sends_its_reason_and_the_next_invoke_starts_afresh() {
    let (dir, records) = (ExtDir::new(), Records::new());
    let rapid = with_watch(&dir, &records);
    let first = rapid.invoke(b"{}", &[]);
    let first_pid = assert_success(&first)["pid"].clone();
    // Idle: the invoke is complete (a reset while it completes would
    // report its response metrics).
    rapid.wait_for_report(&request_id(&first));

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
fn reset_while_an_invoke_runs_cuts_it_short() {
    let rapid = Rapid::scripted(&["--test-api"], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "300")]);
    let hung = {
        let addr = rapid.invoke_addr().to_owned();
        std::thread::spawn(move || {
            common::http::request(&addr, "POST", INVOKE_PATH, &[], br#"{"action":"hang"}"#)
        })
    };
    rapid.wait_for_stdout(|l| l.starts_with("hanging on"), WAIT);
    let resp = rapid.request("POST", "/test/reset", &[], br#"{"reason": "failure"}"#);
    assert_eq!(resp.status, 200, "{resp:?}");
    // The runtime never answered: no response metrics.
    assert_eq!(
        resp.json()["responseMetrics"]["dimensions"]["invokeResponseMode"],
        ""
    );
    let answer = hung.join().expect("the invoker");
    assert_function_error(&answer, "Sandbox.Failure");
    let report = rapid.wait_for_report(&request_id(&answer));
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    // The sandbox serves the next invoke with a new runtime.
    assert_success(&rapid.invoke(b"{}", &[]));
}

/// `/test/init`'s body with the three fields RAPID requires.
fn init_body(extra: Value) -> Vec<u8> {
    let mut body = json!({
        "functionName": "ctl-fn",
        "functionVersion": "7",
        "invokeTimeoutMs": 300000,
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body.to_string().into_bytes()
}

fn post(rapid: &Rapid, op: &str, headers: &[(&str, &str)], body: &[u8]) -> common::http::Resp {
    rapid.request("POST", &format!("/test/{op}"), headers, body)
}

#[test]
fn init_reserve_invoke_release_drive_one_invoke() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    let init = post(
        &rapid,
        "init",
        &[],
        &init_body(json!({
            "handler": "ctl.handler",
            "customer": {"environment": {"CUSTOMER_VAR": "from-init"}},
            "awskey": "AKIDINIT",
            "awssecret": "secret",
            "awssession": "session-token",
        })),
    );
    assert_eq!(init.status, 200, "{init:?}");
    let ready = post(&rapid, "waitUntilInitialized", &[], b"");
    assert_eq!(ready.status, 200, "{ready:?}");
    assert_eq!(ready.json()["runtime"]["state"]["name"], "Ready");

    let reserved = post(&rapid, "reserve", &[("X-Amzn-Trace-Id", "Root=1-abc")], b"");
    assert_eq!(reserved.status, 200, "{reserved:?}");
    let invoke_id = reserved.header("invoke-id").expect("Invoke-ID").to_owned();
    assert!(
        reserved.header("reservation-token").is_some(),
        "{reserved:?}"
    );
    assert_eq!(reserved.header("version-id"), Some("7"), "{reserved:?}");
    let again = post(&rapid, "reserve", &[], b"");
    assert_eq!(again.status, 400, "a second reservation: {again:?}");

    let answer = post(&rapid, "invoke", &[], br#"{"action":"headers"}"#);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("x-amzn-requestid"), Some(invoke_id.as_str()));
    let body = answer.json();
    let headers = &body["headers"];
    assert_eq!(headers["lambda-runtime-aws-request-id"], invoke_id.as_str());
    assert_eq!(headers["lambda-runtime-trace-id"], "Root=1-abc");
    assert!(
        headers["lambda-runtime-invoked-function-arn"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(":function:ctl-fn")),
        "{body}"
    );
    let env = &body["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "ctl-fn", "{body}");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "7", "{body}");
    assert_eq!(env["_HANDLER"], "ctl.handler", "{body}");
    assert_eq!(env["CUSTOMER_VAR"], "from-init", "{body}");
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "AKIDINIT", "{body}");
    assert_eq!(env["AWS_SESSION_TOKEN"], "session-token", "{body}");

    let released = post(&rapid, "waitUntilRelease", &[], b"");
    assert_eq!(released.status, 200, "{released:?}");
    let released = released.json();
    assert_eq!(released["runtime"]["state"]["name"], "Ready", "{released}");
    let metrics = &released["responseMetrics"];
    assert_eq!(
        metrics["dimensions"]["invokeResponseMode"], "Buffered",
        "{released}"
    );
    assert!(
        metrics["runtimeResponseLatencyMs"]
            .as_f64()
            .is_some_and(|ms| ms > 0.0),
        "{released}"
    );
    let report = rapid.wait_for_report(&invoke_id);
    assert!(report.get("Init Duration").is_some(), "{}", report.line);

    // Released: the next reservation is possible, and its invoke runs on
    // the same runtime.
    assert_eq!(post(&rapid, "reserve", &[], b"").status, 200);
    let second = post(&rapid, "invoke", &[], b"{}");
    assert_eq!(second.json()["pid"], body["pid"], "{second:?}");
    assert_eq!(post(&rapid, "waitUntilRelease", &[], b"").status, 200);
}

#[test]
fn calls_in_the_wrong_phase_get_a_clear_400() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    let expect_400 = |resp: common::http::Resp, mentions: &str| {
        assert_eq!(resp.status, 400, "{resp:?}");
        let body = resp.json();
        assert_eq!(body["errorType"], "Client.InvalidRequest", "{body}");
        assert!(
            body["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains(mentions)),
            "expected a message mentioning {mentions:?}: {body}"
        );
    };
    expect_400(post(&rapid, "waitUntilInitialized", &[], b""), "no init");
    expect_400(post(&rapid, "invoke", &[], b"{}"), "reserve");
    expect_400(post(&rapid, "waitUntilRelease", &[], b""), "reserved");
    for (missing, body) in [
        (
            "functionName",
            json!({"functionVersion": "1", "invokeTimeoutMs": 1000}),
        ),
        (
            "functionVersion",
            json!({"functionName": "f", "invokeTimeoutMs": 1000}),
        ),
        (
            "invokeTimeoutMs",
            json!({"functionName": "f", "functionVersion": "1"}),
        ),
    ] {
        expect_400(
            post(&rapid, "init", &[], body.to_string().as_bytes()),
            missing,
        );
    }
    expect_400(post(&rapid, "init", &[], b"{not json"), "Invalid json");
    assert_eq!(post(&rapid, "init", &[], &init_body(json!({}))).status, 200);
    expect_400(
        post(&rapid, "init", &[], &init_body(json!({}))),
        "already initialized",
    );
    assert_eq!(post(&rapid, "reserve", &[], b"").status, 200);
    expect_400(post(&rapid, "waitUntilRelease", &[], b""), "not been sent");
    // The front door still serves invokes beside the control API.
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn a_failed_init_is_told_by_wait_until_initialized_and_invoke() {
    let rapid = Rapid::scripted(
        &["--test-api"],
        &[
            ("SCRIPTED_INIT", "init_error"),
            ("SCRIPTED_INIT_ERROR_TYPE", "Runtime.ImportModuleError"),
        ],
    );
    assert_eq!(post(&rapid, "init", &[], &init_body(json!({}))).status, 200);
    let waited = post(&rapid, "waitUntilInitialized", &[], b"");
    assert_eq!(waited.status, 502, "{waited:?}");
    assert_eq!(waited.json()["errorType"], "Runtime.ImportModuleError");
    assert_eq!(post(&rapid, "reserve", &[], b"").status, 200);
    let invoked = post(&rapid, "invoke", &[], b"{}");
    assert_eq!(invoked.status, 502, "{invoked:?}");
    assert_eq!(
        invoked.json()["firstFatalError"],
        "Runtime.ImportModuleError",
        "{invoked:?}"
    );
    // The reservation is gone with the failed init.
    assert_eq!(post(&rapid, "reserve", &[], b"").status, 200);
}

#[test]
fn a_reset_during_a_control_invoke_fails_it_and_releases() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    assert_eq!(post(&rapid, "init", &[], &init_body(json!({}))).status, 200);
    assert_eq!(post(&rapid, "waitUntilInitialized", &[], b"").status, 200);
    assert_eq!(post(&rapid, "reserve", &[], b"").status, 200);
    let invoking = {
        let addr = rapid.invoke_addr().to_owned();
        std::thread::spawn(move || {
            common::http::request(&addr, "POST", "/test/invoke", &[], br#"{"action":"hang"}"#)
        })
    };
    rapid.wait_for_stdout(|l| l.starts_with("hanging on"), WAIT);
    let releasing = {
        let addr = rapid.invoke_addr().to_owned();
        std::thread::spawn(move || {
            common::http::request(&addr, "POST", "/test/waitUntilRelease", &[], b"")
        })
    };
    let reset = post(&rapid, "reset", &[], br#"{"reason": "timeout"}"#);
    assert_eq!(reset.status, 200, "{reset:?}");
    let answer = invoking.join().expect("the invoker");
    assert_function_error(&answer, "Sandbox.Timedout");
    let released = releasing.join().expect("the waiter");
    assert_eq!(released.status, 502, "{released:?}");
    assert_eq!(released.json()["errorType"], "Sandbox.Timedout");
    // Released: a new reservation works, and its invoke re-initializes.
    assert_eq!(post(&rapid, "reserve", &[], b"").status, 200);
    let again = post(&rapid, "invoke", &[], b"{}");
    assert_eq!(again.status, 200, "{again:?}");
}

#[test]
fn an_invoke_carries_the_restore_duration_its_caller_measured() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    assert_eq!(post(&rapid, "reserve", &[], b"").status, 200);
    let bad = post(&rapid, "invoke", &[("restore-duration", "soon")], b"{}");
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(
        bad.json()["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("restore-duration")),
        "{bad:?}"
    );
    let answer = post(
        &rapid,
        "invoke",
        &[
            ("restore-duration", "12345678"),
            ("restore-start-time", "1000"),
        ],
        b"{}",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let report = rapid.wait_for_report(&request_id(&answer));
    assert_eq!(
        report.get("Restore Duration"),
        Some("12.35 ms"),
        "{}",
        report.line
    );
    assert_eq!(post(&rapid, "waitUntilRelease", &[], b"").status, 200);
}

#[test]
fn with_a_pool_the_control_api_addresses_each_sandbox() {
    let rapid = Rapid::scripted(&["--test-api", "--max-sandboxes", "2"], &[]);
    // Sandbox 1 is started and initialized through the control API alone.
    let init = post(&rapid, "init?sandbox=1", &[], &init_body(json!({})));
    assert_eq!(init.status, 200, "{init:?}");
    let ready = post(&rapid, "waitUntilInitialized?sandbox=1", &[], b"");
    assert_eq!(ready.status, 200, "{ready:?}");
    assert_eq!(ready.json()["sandbox"], 1, "{ready:?}");
    assert_eq!(ready.json()["runtime"]["state"]["name"], "Ready");
    // Without the parameter: sandbox 0, which has not initialized.
    let first = internal_state(&rapid);
    assert_eq!(first["sandbox"], 0, "{first}");
    assert_eq!(first["runtime"], Value::Null, "{first}");

    // Each sandbox has its own reservation.
    let reserved = post(&rapid, "reserve?sandbox=1", &[], b"");
    assert_eq!(reserved.status, 200, "{reserved:?}");
    assert_eq!(reserved.json()["sandbox"], 1, "{reserved:?}");
    assert_eq!(post(&rapid, "reserve", &[], b"").status, 200);
    let in_one = post(&rapid, "invoke?sandbox=1", &[], br#"{"action":"echo"}"#);
    assert_eq!(in_one.header("x-rapid-sandbox"), Some("1"), "{in_one:?}");
    let in_zero = post(&rapid, "invoke", &[], br#"{"action":"echo"}"#);
    assert_eq!(in_zero.header("x-rapid-sandbox"), Some("0"), "{in_zero:?}");
    assert_ne!(in_one.json()["pid"], in_zero.json()["pid"], "two runtimes");
    let released = post(&rapid, "waitUntilRelease?sandbox=1", &[], b"");
    assert_eq!(released.status, 200, "{released:?}");
    assert_eq!(released.json()["sandbox"], 1, "{released:?}");
    assert_eq!(post(&rapid, "waitUntilRelease", &[], b"").status, 200);
    let state = rapid.request("GET", "/test/internalState?sandbox=1", &[], b"");
    assert_eq!(state.json()["sandbox"], 1, "{state:?}");
    assert_eq!(
        state.json()["runtime"]["state"]["name"],
        "Ready",
        "{state:?}"
    );

    // A reset of sandbox 1 leaves sandbox 0's runtime alone.
    let reset = post(&rapid, "reset?sandbox=1", &[], br#"{"reason":"failure"}"#);
    assert_eq!(reset.status, 200, "{reset:?}");
    assert_eq!(reset.json()["sandbox"], 1, "{reset:?}");
    let state = rapid.request("GET", "/test/internalState?sandbox=1", &[], b"");
    assert_eq!(state.json()["runtime"], Value::Null, "{state:?}");
    assert_eq!(internal_state(&rapid)["runtime"]["state"]["name"], "Ready");

    // Sandboxes that do not exist, and operations on rapid as a whole.
    for (method, path, mentions) in [
        (
            "GET",
            "/test/internalState?sandbox=2",
            "--max-sandboxes is 2",
        ),
        ("GET", "/test/internalState?sandbox=one", "not \"one\""),
        ("GET", "/test/ping?sandbox=0", "takes no sandbox"),
        ("GET", "/test/eventLog?sandbox=1", "takes no sandbox"),
        ("POST", "/test/shutdown?sandbox=1", "takes no sandbox"),
    ] {
        let refused = rapid.request(method, path, &[], b"");
        assert_eq!(refused.status, 400, "{path}: {refused:?}");
        let message = refused.json()["errorMessage"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        assert!(message.contains(mentions), "{path}: {message}");
    }
}

#[test]
fn with_one_sandbox_only_sandbox_0_exists() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    let state = rapid.request("GET", "/test/internalState?sandbox=0", &[], b"");
    assert_eq!(state.status, 200, "{state:?}");
    assert_eq!(state.json()["sandbox"], 0, "{state:?}");
    let refused = rapid.request("GET", "/test/internalState?sandbox=1", &[], b"");
    assert_eq!(refused.status, 400, "{refused:?}");
    // The front door says which sandbox ran an invoke with one too.
    let resp = rapid.invoke(br#"{"action":"echo"}"#, &[]);
    assert_eq!(resp.header("x-rapid-sandbox"), Some("0"), "{resp:?}");
}

/// The address the control API test gives its own network namespace (a
/// documentation address: nothing outside the namespace ever sees it).
const NON_LOOPBACK: &str = "192.0.2.1";

#[test]
fn the_control_api_refuses_a_caller_from_a_non_loopback_address() {
    // The loopback rule is about the real peer address of the connection:
    // rapid listens on every interface of a network namespace of its own,
    // which has a non-loopback address, and the caller connects to that
    // address from inside the namespace.
    let probe = std::process::Command::new("unshare")
        .args(["--net", "ip", "addr", "add", "192.0.2.1/32", "dev", "lo"])
        .output();
    if !probe.is_ok_and(|out| out.status.success()) {
        eprintln!("skipped: this machine cannot make a network namespace (unshare --net, ip)");
        return;
    }
    let setup =
        format!("ip addr add {NON_LOOPBACK}/32 dev lo && ip link set lo up && exec \"$0\" \"$@\"");
    // sh execs rapid: the process spawned is rapid's (no wrapper left).
    let runtime = scripted_command();
    let mut args = vec![
        "--net",
        "sh",
        "-c",
        setup.as_str(),
        env!("CARGO_BIN_EXE_rapid"),
        "--runtime-interface-emulator-address",
        "0.0.0.0:0",
        "--runtime-api-address",
        "127.0.0.1:0",
        "--test-api",
    ];
    args.extend(runtime.iter().map(String::as_str));
    let rapid = Rapid::start_program(&[], "unshare", &args, &[]);
    let port = rapid
        .invoke_addr()
        .rsplit(':')
        .next()
        .expect("a port")
        .to_owned();
    let client = r#"
import json, sys, urllib.error, urllib.request
port = sys.argv[1]
def status(host, path, data=None):
    req = urllib.request.Request(f"http://{host}:{port}{path}", data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
print(json.dumps({
    "remote_control": status(sys.argv[2], "/test/ping"),
    "loopback_control": status("127.0.0.1", "/test/ping"),
    "remote_invoke": status(sys.argv[2], "/2015-03-31/functions/function/invocations", b"{}"),
}))
"#;
    let netns = format!("--net=/proc/{}/ns/net", rapid.pid());
    let out = std::process::Command::new("nsenter")
        .args([netns.as_str(), "--", plain_python().as_str(), "-c", client])
        .args([port.as_str(), NON_LOOPBACK])
        .output()
        .expect("nsenter");
    assert!(out.status.success(), "{out:?}");
    let got: Value = serde_json::from_slice(&out.stdout).expect("the client's JSON");
    assert_eq!(
        got,
        json!({"remote_control": 404, "loopback_control": 200, "remote_invoke": 200}),
        "the control API from {NON_LOOPBACK} and from loopback, an invoke from {NON_LOOPBACK}"
    );
}
