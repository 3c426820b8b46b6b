//! rapid as PID 1 of a PID namespace, as in a container (spec §10): it reaps
//! orphans and turns SIGTERM into a clean exit.
//!
//! These tests need root and a working `unshare --pid`. Where that does not
//! work they fail loudly instead of skipping, so a CI machine that cannot run
//! them is noticed.

mod common;

use std::process::Command;

use common::*;

const UNSHARE: &[&str] = &["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"];

/// rapid running the scripted runtime as PID 1 of a new PID namespace.
fn rapid_as_pid1() -> Rapid {
    let mut probe = Command::new(UNSHARE[0]);
    probe
        .args(&UNSHARE[1..])
        .args(["sh", "-c", "test $$ -eq 1"]);
    let probe = output_within(
        &mut probe,
        WAIT,
        &format!("{UNSHARE:?} (these tests need util-linux)"),
    );
    assert!(
        probe.status.success(),
        "{UNSHARE:?} does not give a PID namespace here ({}): {}\n\
         The PID 1 tests need root and unshare(CLONE_NEWPID); they do not skip.",
        probe.status,
        String::from_utf8_lossy(&probe.stderr)
    );
    let cmd = scripted_command();
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let rapid = Rapid::start_wrapped(UNSHARE, &args, &[]);
    assert_eq!(
        comm(rapid.pid()).as_deref(),
        Some("rapid"),
        "the process under unshare is rapid"
    );
    rapid
}

#[test]
fn runtime_sees_rapid_as_pid_1() {
    let rapid = rapid_as_pid1();
    let body = assert_success(&rapid.invoke(br#"{"action":"headers"}"#, &[]));
    let pid = body["pid"].as_u64().unwrap();
    assert!(pid > 1, "the runtime is a child of PID 1, got pid {pid}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", rapid.pid())).unwrap();
    let ns_pids = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap_or("")
        .to_string();
    assert!(
        ns_pids.split_whitespace().last() == Some("1"),
        "rapid is PID 1 in its namespace: {ns_pids:?}"
    );
}

#[test]
fn orphans_are_reaped() {
    let rapid = rapid_as_pid1();
    let body = assert_success(&rapid.invoke(br#"{"action":"spawn_orphan"}"#, &[]));
    assert_eq!(body["ok"], true, "{body}");
    let orphan = body["orphan_pid"].as_u64().unwrap_or(0);
    assert!(orphan > 1, "the runtime forked an orphan: {body}");

    let body = assert_success(&rapid.invoke(br#"{"action":"zombies"}"#, &[]));
    assert_eq!(
        body["zombies"], 0,
        "rapid as PID 1 must reap orphans (orphan was pid {orphan}): {body}"
    );
    // Still serving.
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn sigterm_to_pid_1_exits_0() {
    let rapid = rapid_as_pid1();
    assert_success(&rapid.invoke(b"{}", &[]));
    rapid.signal(Signal::SIGTERM);
    let status = rapid.wait_exit(WAIT);
    assert_eq!(
        status.code(),
        Some(0),
        "rapid as PID 1 exits 0 on SIGTERM: {status:?}"
    );
}

#[test]
fn crash_recovery_works_as_pid_1() {
    let rapid = rapid_as_pid1();
    let resp = rapid.invoke(br#"{"action":"crash","code":5}"#, &[]);
    let body = assert_function_error(&resp, "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("exit status 5"),
        "{body}"
    );
    assert_success(&rapid.invoke(b"{}", &[]));
    let body = assert_success(&rapid.invoke(br#"{"action":"zombies"}"#, &[]));
    assert_eq!(body["zombies"], 0, "the crashed runtime was reaped: {body}");
}
