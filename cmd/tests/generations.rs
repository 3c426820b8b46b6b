//! Generations of the sandbox (spec §4): what a reset tears down stays torn
//! down. A request sent by a process of an earlier generation (or by any
//! process rapid did not start) cannot pass for the current runtime or
//! extensions, no process of a reset generation survives it, and a reset
//! neither delays the caller's timeout answer nor turns an answered invoke
//! into a failed one.

mod common;

use common::*;
use serde_json::json;
use std::thread;
use std::time::Duration;

/// Long enough for a process killed by a reset to be gone on a busy machine.
const GONE_WITHIN: Duration = Duration::from_secs(20);

fn wait_gone(pid: u32, what: &str) {
    let deadline = std::time::Instant::now() + GONE_WITHIN;
    while !process_is_gone(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} {pid} still alive {GONE_WITHIN:?} after the reset (state {:?}, {:?})",
            proc_state(pid),
            cmdline(pid)
        );
        thread::sleep(Duration::from_millis(20)); // ok: /proc has no change events
    }
}

#[test]
fn a_process_that_left_the_runtime_s_group_does_not_survive_a_reset() {
    let rapid = Rapid::scripted(&[], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "2")]);
    let body = assert_success(&rapid.invoke_json(&json!({"action": "escape"})));
    let escaped = body["escaped_pid"].as_u64().expect("the escapee's pid") as u32;
    assert!(
        !process_is_gone(escaped),
        "the escapee {escaped} must run until the reset"
    );

    assert_function_error(
        &rapid.invoke_json(&json!({"action": "hang"})),
        "Sandbox.Timedout",
    );
    wait_gone(escaped, "a grandchild in its own session");
    // The next generation serves.
    assert_success(&rapid.invoke(b"{}", &[]));
}
