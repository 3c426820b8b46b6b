//! The lifecycle (spec §3.5, §4): init, init failures and their retry,
//! crashes, timeouts, resets and graceful shutdown, driven through the
//! scripted runtime.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::thread;

use common::*;

const READY: &str = "scripted runtime ready";

/// How many times the scripted runtime said it was ready, once it said so
/// `at_least` times: its lines reach rapid's stdout through the log pipe,
/// so after the invoke that needed them, not before.
fn ready_count(rapid: &Rapid, at_least: usize) -> usize {
    rapid.wait_for_stdout_n(|l| l == READY, at_least, WAIT);
    rapid.count_stdout(|l| l == READY)
}

/// The pid the scripted runtime printed in a line starting with `prefix`
/// (`... pid N`).
fn pid_in_line(rapid: &Rapid, prefix: &str) -> u32 {
    let line = rapid.wait_for_stdout(|l| l.starts_with(prefix), WAIT);
    line.rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid at the end of {line:?}"))
}

fn echo_pid(rapid: &Rapid) -> u32 {
    let body = assert_success(&rapid.invoke(b"{}", &[]));
    body["pid"].as_u64().expect("echo answers its pid") as u32
}

#[test]
fn eager_init_starts_the_runtime_before_any_invoke() {
    let rapid = Rapid::scripted(&["--eager-init"], &[]);
    rapid.wait_for_stdout(|l| l == READY, WAIT);
    let resp = rapid.invoke(b"{}", &[]);
    assert_success(&resp);
    let report = rapid.wait_for_report(&request_id(&resp));
    assert!(
        report.get("Init Duration").is_some(),
        "first invoke after init carries Init Duration: {}",
        report.line
    );
    assert_eq!(ready_count(&rapid, 1), 1);
}

#[test]
fn crash_fails_the_invoke_with_exit_error_then_recovers() {
    let rapid = Rapid::scripted(&[], &[]);
    let first_pid = echo_pid(&rapid);

    let resp = rapid.invoke(br#"{"action":"crash"}"#, &[]);
    let id = request_id(&resp);
    let body = assert_function_error(&resp, "Runtime.ExitError");
    let message = body["errorMessage"].as_str().unwrap_or("");
    assert!(
        message.contains("Runtime exited with error: exit status 3"),
        "{message}"
    );
    assert!(
        message.contains(&id),
        "message names the request: {message}"
    );
    let report = rapid.wait_for_report(&id);
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);

    let second_pid = echo_pid(&rapid);
    assert_ne!(
        first_pid, second_pid,
        "a new runtime serves after the crash"
    );
    assert_eq!(ready_count(&rapid, 2), 2, "the runtime was started again");
    assert!(process_is_gone(first_pid));
}

#[test]
fn crash_exit_code_is_reported() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"crash","code":7}"#, &[]);
    let body = assert_function_error(&resp, "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("Runtime exited with error: exit status 7"),
        "{body}"
    );
}

#[test]
fn timeout_fails_the_invoke_kills_the_runtime_and_recovers() {
    // The runtime must print its "hanging" line before the timeout kills
    // it: 3 s leaves a loaded machine room for that.
    let rapid = Rapid::scripted(&[], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")]);
    let resp = rapid.invoke(br#"{"action":"hang"}"#, &[]);
    let id = request_id(&resp);
    let hung_pid = pid_in_line(&rapid, &format!("hanging on {id}"));
    let body = assert_function_error(&resp, "Sandbox.Timedout");
    let message = body["errorMessage"].as_str().unwrap_or("");
    assert!(
        message.contains("Task timed out after 3.00 seconds"),
        "{message}"
    );
    assert!(
        message.contains(&id),
        "message names the request: {message}"
    );

    let report = rapid.wait_for_report(&id);
    assert_eq!(
        report.fields.last().map(|(k, v)| (k.as_str(), v.as_str())),
        Some(("Status", "timeout")),
        "REPORT ends with Status: timeout: {}",
        report.line
    );
    let lines = rapid.stdout();
    let timed_out = lines
        .iter()
        .position(|l| l.contains(&format!("{id} Task timed out after 3.00 seconds")))
        .unwrap_or_else(|| panic!("no 'Task timed out' line for {id}: {lines:#?}"));
    let end = lines
        .iter()
        .position(|l| logs::end_id(l) == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no END line for {id}: {lines:#?}"));
    assert!(timed_out < end, "the timeout line comes before END");

    let new_pid = echo_pid(&rapid);
    assert_ne!(new_pid, hung_pid);
    assert!(
        process_is_gone(hung_pid),
        "the timed-out runtime {hung_pid} must be killed"
    );
}

#[test]
fn init_error_fails_the_invoke_with_the_runtime_body_and_init_is_retried() {
    // Timeouts far beyond the client's: the answer must come from the init
    // error itself, not from a timer.
    let rapid = Rapid::scripted(
        &["--init-timeout", "600"],
        &[
            ("SCRIPTED_INIT", "init_error"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "600"),
        ],
    );
    let expected = r#"{"errorMessage": "scripted init failure", "errorType": "Runtime.ImportModuleError", "stackTrace": []}"#;
    let resp = rapid.invoke(b"{}", &[]);
    assert_function_error(&resp, "Runtime.ImportModuleError");
    assert_eq!(resp.text(), expected);

    let resp = rapid.invoke(b"{}", &[]);
    assert_function_error(&resp, "Runtime.ImportModuleError");
    assert_eq!(resp.text(), expected);
    rapid.wait_for_stdout_n(|l| l == READY, 2, WAIT);
}

#[test]
fn init_error_type_comes_from_the_runtime() {
    let rapid = Rapid::scripted(
        &[],
        &[
            ("SCRIPTED_INIT", "init_error"),
            ("SCRIPTED_INIT_ERROR_TYPE", "Runtime.HandlerNotFound"),
        ],
    );
    assert_function_error(&rapid.invoke(b"{}", &[]), "Runtime.HandlerNotFound");
}

#[test]
fn init_error_once_then_the_retry_succeeds() {
    let marker = unique_path("init-error-once");
    let rapid = Rapid::scripted(
        &[],
        &[
            ("SCRIPTED_INIT", "init_error"),
            ("SCRIPTED_INIT_MARKER", marker.to_str().unwrap()),
        ],
    );
    assert_function_error(&rapid.invoke(b"{}", &[]), "Runtime.ImportModuleError");
    let body = assert_success(&rapid.invoke(br#"{"second":true}"#, &[]));
    assert_eq!(body["second"], true);
    let _ = std::fs::remove_file(marker);
}

#[test]
fn runtime_exit_during_init_fails_the_invoke_then_recovers() {
    let marker = unique_path("init-exit-once");
    let rapid = Rapid::scripted(
        &["--init-timeout", "600"],
        &[
            ("SCRIPTED_INIT", "exit"),
            ("SCRIPTED_INIT_MARKER", marker.to_str().unwrap()),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "600"),
        ],
    );
    let resp = rapid.invoke(b"{}", &[]);
    let body = assert_function_error(&resp, "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("exit status 2"),
        "{body}"
    );
    let resp = rapid.invoke(br#"{"second":true}"#, &[]);
    assert_eq!(assert_success(&resp)["second"], true);
    let report = rapid.wait_for_report(&request_id(&resp));
    assert!(
        report.get("Init Duration").is_some(),
        "first invoke after a successful init carries Init Duration: {}",
        report.line
    );
    let _ = std::fs::remove_file(marker);
}

#[test]
fn init_that_never_finishes_fails_and_is_killed() {
    let rapid = Rapid::scripted(
        &["--init-timeout", "1"],
        &[
            ("SCRIPTED_INIT", "hang"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "2"),
        ],
    );
    let resp = rapid.invoke(b"{}", &[]);
    let body = assert_function_error(&resp, "Sandbox.Timedout");
    let message = body["errorMessage"].as_str().unwrap_or("");
    assert!(message.contains("timed out after"), "{body}");
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), Some("timeout"), "{}", report.line);
    let hung_pid = pid_in_line(&rapid, "hanging during init pid");

    // The next invoke starts a new runtime, after the old one is killed;
    // its (suppressed) init hangs too and times out within its invoke.
    let resp = rapid.invoke(b"{}", &[]);
    let body = assert_function_error(&resp, "Sandbox.Timedout");
    let id = request_id(&resp);
    let message = body["errorMessage"].as_str().unwrap_or("");
    assert!(
        message.contains("Task timed out after 2.00 seconds") && message.contains(&id),
        "{body}"
    );
    rapid.wait_for_stdout_n(|l| l == READY, 2, WAIT);
    assert!(
        process_is_gone(hung_pid),
        "the runtime {hung_pid} stuck in init must be killed"
    );
}

#[test]
fn missing_bootstrap_is_an_invalid_entrypoint() {
    let rapid = Rapid::start(&["/nonexistent/bootstrap"], &[]);
    for _ in 0..2 {
        let resp = rapid.invoke(b"{}", &[]);
        assert_function_error(&resp, "Runtime.InvalidEntrypoint");
    }
}

#[test]
fn bootstrap_that_is_not_executable_is_an_invalid_entrypoint() {
    let path = unique_path("not-executable-bootstrap");
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let rapid = Rapid::start(&[path.to_str().unwrap()], &[]);
    assert_function_error(&rapid.invoke(b"{}", &[]), "Runtime.InvalidEntrypoint");
    let _ = std::fs::remove_file(path);
}

#[test]
fn runtime_exiting_after_its_response_is_restarted_for_the_next_invoke() {
    let rapid = Rapid::scripted(&[], &[]);
    let body = assert_success(&rapid.invoke(br#"{"action":"exit_after_response"}"#, &[]));
    let old_pid = body["pid"].as_u64().unwrap() as u32;
    rapid.wait_for_stdout(|l| l == "exiting after response", WAIT);
    let new_pid = echo_pid(&rapid);
    assert_ne!(old_pid, new_pid);
    assert_eq!(ready_count(&rapid, 2), 2);
}

#[test]
fn sigterm_exits_0_and_takes_the_runtime_along() {
    let rapid = Rapid::scripted(&[], &[]);
    let runtime_pid = echo_pid(&rapid);
    rapid.signal(Signal::SIGTERM);
    let status = rapid.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        process_is_gone(runtime_pid),
        "runtime {runtime_pid} outlived rapid"
    );
}

#[test]
fn sigint_exits_0_and_takes_the_runtime_along() {
    let rapid = Rapid::scripted(&[], &[]);
    let runtime_pid = echo_pid(&rapid);
    rapid.signal(Signal::SIGINT);
    let status = rapid.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(process_is_gone(runtime_pid));
}

#[test]
fn sigterm_before_any_invoke_exits_0() {
    let rapid = Rapid::scripted(&[], &[]);
    rapid.signal(Signal::SIGTERM);
    let status = rapid.wait_exit(WAIT);
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?} (signal {:?})",
        status.signal()
    );
}

#[test]
fn sigterm_during_a_running_invoke_exits_0_and_kills_the_runtime() {
    let rapid = Rapid::scripted(&[], &[]);
    thread::scope(|s| {
        let invoke = s.spawn(|| rapid.try_invoke(br#"{"action":"hang"}"#, &[]));
        let runtime_pid = pid_in_line(&rapid, "hanging on ");
        rapid.signal(Signal::SIGTERM);
        let status = rapid.wait_exit(WAIT);
        assert_eq!(status.code(), Some(0), "{status:?}");
        assert!(
            process_is_gone(runtime_pid),
            "runtime {runtime_pid} outlived rapid"
        );
        // The invoker gets an answer or a closed connection, never a hang.
        let result = invoke.join().unwrap();
        assert_answered_or_closed(&result, "the invoke running at SIGTERM");
    });
}

#[test]
fn event_invoke_and_a_following_invoke_both_run() {
    let rapid = Rapid::scripted(&[], &[]);
    let async_resp = rapid.invoke(
        br#"{"action":"print","lines":2}"#,
        &[("X-Amz-Invocation-Type", "Event")],
    );
    assert_eq!(async_resp.status, 202, "{async_resp:?}");
    let sync = rapid.invoke(br#"{"sync":true}"#, &[]);
    assert_eq!(assert_success(&sync)["sync"], true);
    rapid.wait_for_stdout(|l| l == "line 1", WAIT);
    rapid.wait_for_stdout_n(|l| l.starts_with("REPORT RequestId: "), 2, WAIT);
}

#[test]
fn an_invoke_queued_behind_a_failed_init_runs_on_a_retried_init() {
    let marker = unique_path("init-error-queued");
    let rapid = Rapid::scripted(
        &[],
        &[
            ("SCRIPTED_INIT", "init_error"),
            ("SCRIPTED_INIT_MARKER", marker.to_str().unwrap()),
        ],
    );
    // Both arrive while the first init runs (the runtime takes a while to
    // start): the first gets the init error, the second must not be left
    // waiting — it runs on the retried init.
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| rapid.invoke(br#"{"n":1}"#, &[]));
        let b = s.spawn(|| rapid.invoke(br#"{"n":2}"#, &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let failed = [&a, &b]
        .iter()
        .filter(|r| r.header("x-amz-function-error").is_some())
        .count();
    assert_eq!(failed, 1, "exactly one invoke gets the init error");
    let _ = std::fs::remove_file(marker);
}

#[test]
fn the_invoke_timings_for_telemetry_count_the_response_bytes() {
    let rapid = Rapid::scripted(&["--log-level", "debug"], &[]);
    // A non-object body comes back byte for byte.
    let resp = rapid.invoke(br#"[1, 2, 3, "four"]"#, &[]);
    assert_eq!(resp.status, 200);
    let id = request_id(&resp);
    let line = rapid.wait_for_stderr(|l| l.contains("invoke done") && l.contains(&id), WAIT);
    let produced = format!("produced_bytes: Some({})", resp.body.len());
    assert!(line.contains(&produced), "{line}");
    assert!(line.contains("response_latency: Some("), "{line}");
    assert!(line.contains("post_runtime_extensions: Some("), "{line}");
}
