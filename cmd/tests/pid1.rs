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

/// rapid running the scripted runtime as PID 1 of a new PID namespace,
/// with a private `/etc/hosts` (rapid as PID 1 may add to it; the
/// machine's is never touched).
fn rapid_as_pid1() -> Rapid {
    rapid_as_pid1_with_hosts("127.0.0.1\tlocalhost\n").0
}

/// rapid as PID 1, its `/etc/hosts` a file holding `hosts` bind-mounted
/// in its mount namespace; that file's path.
fn rapid_as_pid1_with_hosts(hosts: &str) -> (Rapid, std::path::PathBuf) {
    let path = unique_path("hosts");
    std::fs::write(&path, hosts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let path_text = path.to_str().expect("temporary paths are UTF-8").to_owned();
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
    // PID 1 is the shell, which mounts the file and becomes rapid.
    let mut wrapper = UNSHARE.to_vec();
    wrapper.extend([
        "sh",
        "-c",
        r#"mount --bind "$0" /etc/hosts && exec "$@""#,
        path_text.as_str(),
    ]);
    let rapid = Rapid::start_wrapped(&wrapper, &args, &[]);
    assert_eq!(
        comm(rapid.pid()).as_deref(),
        Some("rapid"),
        "the process under unshare is rapid"
    );
    (rapid, path)
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

/// Issue 22, item 7: extensions written for Lambda bind their listener to
/// `sandbox.localdomain`, which a container's `/etc/hosts` does not map.
/// rapid as PID 1 adds Lambda's entry, so they start here as there.
#[test]
fn sandbox_localdomain_resolves_under_rapid_as_pid_1() {
    let (rapid, hosts) = rapid_as_pid1_with_hosts("127.0.0.1\tlocalhost");
    let body = assert_success(&rapid.invoke(
        br#"{"action":"listen_on","host":"sandbox.localdomain"}"#,
        &[],
    ));
    assert_eq!(body["bound"], true, "{body}");
    assert_eq!(body["address"], "127.0.0.1", "{body}");
    let text = std::fs::read_to_string(&hosts).unwrap();
    assert_eq!(
        text, "127.0.0.1\tlocalhost\n127.0.0.1\tsandbox.localdomain sandbox\n",
        "the line is added once, on a line of its own"
    );
    drop(rapid);

    // A file that maps it already is left as it is.
    let mapped = "127.0.0.1 localhost\n169.254.79.129 sandbox.localdomain\n";
    let (rapid, hosts) = rapid_as_pid1_with_hosts(mapped);
    assert_success(&rapid.invoke(b"{}", &[]));
    assert_eq!(std::fs::read_to_string(&hosts).unwrap(), mapped);
}
