//! Limits of scale (spec §11): invokes past the queue's length are
//! throttled with 429 as at Lambda's concurrency limit, and an idle
//! execution environment is retired the way Lambda retires one.

mod common;

use common::extensions::{ExtDir, Records};
use common::*;
use serde_json::json;
use std::thread;

fn pid_in_line(rapid: &Rapid, prefix: &str) -> u32 {
    let line = rapid.wait_for_stdout(|l| l.starts_with(prefix), WAIT);
    line.rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid at the end of {line:?}"))
}

#[test]
fn past_the_queue_an_invoke_is_throttled_with_429() {
    // No room to wait: while one invoke runs, the next is refused.
    let rapid = Rapid::scripted(
        &["--max-queued", "0"],
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")],
    );
    thread::scope(|s| {
        let running = s.spawn(|| rapid.invoke(br#"{"action":"hang"}"#, &[]));
        pid_in_line(&rapid, "hanging on ");
        let throttled = rapid.invoke(b"{}", &[]);
        assert_eq!(throttled.status, 429, "{throttled:?}");
        assert_eq!(
            throttled.header("x-amzn-errortype"),
            Some("TooManyRequestsException")
        );
        assert_eq!(
            throttled.json(),
            json!({
                "Reason": "ConcurrentInvocationLimitExceeded",
                "Type": "User",
                "message": "Rate Exceeded."
            })
        );
        // The running invoke is not disturbed; once it ended there is room.
        assert_function_error(&running.join().unwrap(), "Sandbox.Timedout");
    });
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn an_idle_execution_environment_is_retired_and_the_next_invoke_starts_a_new_one() {
    let (dir, records) = (ExtDir::new(), Records::new());
    dir.add_scripted("watch");
    let config = json!({"watch": {}}).to_string();
    let rapid = Rapid::scripted(
        &["--idle-timeout", "1", "--extensions-dir", dir.as_str()],
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    );
    let first = rapid.invoke(br#"{"action":"echo"}"#, &[]);
    let first_pid = assert_success(&first)["pid"].as_u64().expect("echo's pid") as u32;
    let report = rapid.wait_for_report(&request_id(&first));
    assert!(report.get("Init Duration").is_some(), "{}", report.line);

    // Idle for a second: SHUTDOWN (spindown) to the extension, then
    // every process goes.
    records.wait_event("watch", "SHUTDOWN", "shutdownReason", "spindown");
    rapid.wait_for_stderr(|l| l.contains("idle for the idle timeout"), WAIT);
    let deadline = std::time::Instant::now() + WAIT;
    while !process_is_gone(first_pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the runtime {first_pid} outlived the retired environment"
        );
        thread::yield_now();
    }

    // The next invoke starts a new environment: a cold start again.
    let second = rapid.invoke(br#"{"action":"echo"}"#, &[]);
    let second_pid = assert_success(&second)["pid"].as_u64().expect("echo's pid") as u32;
    assert_ne!(second_pid, first_pid);
    let report = rapid.wait_for_report(&request_id(&second));
    assert!(report.get("Init Duration").is_some(), "{}", report.line);
}

#[test]
fn with_eager_init_the_environment_is_kept_however_long_it_idles() {
    let rapid = Rapid::scripted(&["--eager-init", "--idle-timeout", "1"], &[]);
    let first = assert_success(&rapid.invoke(br#"{"action":"echo"}"#, &[]));
    // Nothing marks "it stayed idle and nothing happened": held past the
    // timeout, as the harness does for rules that forbid an event.
    rapid.assert_no_stderr_during("an --eager-init environment must be kept", HOLD * 3, |l| {
        l.contains("idle for the idle timeout")
    });
    let second = assert_success(&rapid.invoke(br#"{"action":"echo"}"#, &[]));
    assert_eq!(first["pid"], second["pid"], "the runtime was replaced");
}
