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
    poll_until(
        &format!("the runtime {first_pid} of the retired environment to be gone"),
        WAIT,
        || process_is_gone(first_pid),
    );

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

/// rapid running `python -m awslambdaric handlers.<handler>` with `flags`.
fn awslambdaric(handler: &str, flags: &[&str]) -> Rapid {
    let (cmd, env) = awslambdaric_command(handler);
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(cmd.iter().map(String::as_str));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Rapid::start(&args, &env)
}

#[test]
fn a_burst_from_boto3_runs_in_several_sandboxes_and_every_invoke_gets_its_own_answer() {
    let rapid = awslambdaric("handlers.whoami", &["--max-sandboxes", "4"]);
    let results = boto_invoke(
        &rapid.url(),
        &[
            "--payload",
            r#"{"burst":true}"#,
            "--concurrency",
            "50",
            "--distinct",
        ],
    );
    assert_eq!(results.len(), 50, "{results:?}");
    let mut seen_n = Vec::new();
    let mut pids = std::collections::HashSet::new();
    let mut addresses = std::collections::HashSet::new();
    for r in &results {
        assert_eq!(r["StatusCode"], 200, "{r}");
        assert_eq!(r["FunctionError"], serde_json::Value::Null, "{r}");
        let payload: serde_json::Value =
            serde_json::from_str(r["Payload"].as_str().unwrap_or("")).expect("a JSON payload");
        assert_eq!(payload["event"]["burst"], true, "{payload}");
        seen_n.push(payload["event"]["n"].as_u64().expect("its own n"));
        pids.insert(payload["pid"].as_u64().expect("a pid"));
        addresses.insert(payload["runtime_api"].as_str().unwrap_or("").to_owned());
    }
    seen_n.sort_unstable();
    assert_eq!(
        seen_n,
        (0..50).collect::<Vec<u64>>(),
        "each invoke answered with its own event"
    );
    // More than one environment served the burst, each with its own
    // runtime and Runtime API address, and never more than four.
    assert!(pids.len() > 1 && pids.len() <= 4, "runtimes: {pids:?}");
    assert_eq!(pids.len(), addresses.len(), "{pids:?} {addresses:?}");
    // Each START / REPORT line is whole and names an invoke of the burst.
    let reports = rapid.wait_for_stdout_n(|l| l.starts_with("REPORT RequestId: "), 50, WAIT);
    assert_eq!(reports.len(), 50);
    // rapid's own log says which sandbox ran each invoke.
    let sandboxes: std::collections::HashSet<String> = rapid
        .stderr()
        .iter()
        .filter(|l| l.contains("invoke") && l.contains("request_id="))
        .filter_map(|l| l.split("sandbox=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next().map(str::to_owned))
        .collect();
    assert_eq!(
        sandboxes.len(),
        pids.len(),
        "{sandboxes:?}: {:?}",
        rapid.stderr()
    );
}

#[test]
fn with_every_sandbox_busy_and_no_room_to_wait_an_invoke_is_throttled() {
    let rapid = Rapid::scripted(
        &["--max-sandboxes", "2", "--max-queued", "0"],
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")],
    );
    thread::scope(|s| {
        let first = s.spawn(|| rapid.invoke(br#"{"action":"hang"}"#, &[]));
        let second = s.spawn(|| rapid.invoke(br#"{"action":"hang"}"#, &[]));
        rapid.wait_for_stdout_n(|l| l.starts_with("hanging on "), 2, WAIT);
        let throttled = rapid.invoke(b"{}", &[]);
        assert_eq!(throttled.status, 429, "{throttled:?}");
        assert_function_error(&first.join().unwrap(), "Sandbox.Timedout");
        assert_function_error(&second.join().unwrap(), "Sandbox.Timedout");
    });
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn a_crash_in_one_sandbox_fails_only_its_own_invoke() {
    let rapid = Rapid::scripted(&["--max-sandboxes", "2"], &[]);
    thread::scope(|s| {
        let hanging = s.spawn(|| rapid.try_invoke(br#"{"action":"hang"}"#, &[]));
        rapid.wait_for_stdout(|l| l.starts_with("hanging on "), WAIT);
        // The other sandbox answers while the first one is busy...
        let crash = rapid.invoke(br#"{"action":"crash","code":3}"#, &[]);
        assert_function_error(&crash, "Runtime.ExitError");
        // ... and, reset, answers again.
        assert_success(&rapid.invoke(br#"{"action":"echo"}"#, &[]));
        rapid.signal(Signal::SIGTERM);
        assert_answered_or_closed(&hanging.join().unwrap(), "the invoke running at SIGTERM");
    });
    let status = rapid.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// rapid with the scripted runtime and `flags`, after an invoke that left
/// a thread writing a counter every 10 ms (`background`): the counter's
/// file and its value once the invoke was complete (its REPORT out).
fn with_background_counter(flags: &[&str]) -> (Rapid, std::path::PathBuf, String) {
    let file = unique_path("counter");
    let rapid = Rapid::scripted(flags, &[]);
    let event = json!({"action": "background", "file": file.to_str().unwrap()});
    let first = rapid.invoke(event.to_string().as_bytes(), &[]);
    assert_success(&first);
    rapid.wait_for_report(&request_id(&first));
    // The runtime wrote the file before it answered.
    let seen = counter(&file);
    (rapid, file, seen)
}

/// The counter the runtime's background thread writes.
fn counter(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn between_invokes_background_work_is_frozen_and_resumes_with_the_next_invoke() {
    let (rapid, file, frozen_at) = with_background_counter(&[]);
    // The environment is frozen once the invoke is complete: the counter,
    // which would move a hundred times a second, stays.
    holds_for("background work ran between invokes", HOLD, || {
        counter(&file) == frozen_at
    });
    // The next invoke thaws it: while it runs (held open on a named pipe),
    // the counter moves again.
    let fifo = gate();
    thread::scope(|s| {
        let held = s.spawn(|| rapid.invoke_json(&json!({"action": "wait_fifo", "fifo": fifo})));
        rapid.wait_for_stdout(|l| l.starts_with("waiting on "), WAIT);
        poll_until(
            "the counter to move while the next invoke runs",
            WAIT,
            || counter(&file) != frozen_at,
        );
        open_gate(&fifo);
        assert_success(&held.join().unwrap());
    });
    let _ = std::fs::remove_file(&file);
}

#[test]
fn with_no_freeze_background_work_runs_between_invokes() {
    let (_rapid, file, seen) = with_background_counter(&["--no-freeze"]);
    poll_until("the counter to move between invokes", WAIT, || {
        counter(&file) != seen
    });
    let _ = std::fs::remove_file(&file);
}

#[test]
fn past_the_memory_size_the_runtime_is_killed_with_out_of_memory_and_the_next_invoke_succeeds() {
    let rapid = Rapid::scripted(&[], &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")]);
    if uncapped(&rapid) {
        return;
    }
    let resp = rapid.invoke(br#"{"action":"allocate","mb":400}"#, &[]);
    let body = assert_function_error(&resp, "Runtime.OutOfMemory");
    assert_eq!(
        body["errorMessage"]
            .as_str()
            .map(|m| m.ends_with("Runtime exited with error: signal: killed")),
        Some(true),
        "{body}"
    );
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    assert_eq!(
        report.get("Error Type"),
        Some("Runtime.OutOfMemory"),
        "{}",
        report.line
    );
    let used = report.number("Max Memory Used", "MB");
    // The sandbox's peak: up to its cap, never past it (as a sum of its
    // processes' peaks could be).
    assert!(
        (100.0..=128.0).contains(&used),
        "the peak was measured, within the cap: {}",
        report.line
    );
    // Reset: the next invoke runs on a new runtime, within its memory, and
    // its peak is its own generation's.
    let next = rapid.invoke(br#"{"action":"allocate","mb":16}"#, &[]);
    assert_success(&next);
    let report = rapid.wait_for_report(&request_id(&next));
    let used = report.number("Max Memory Used", "MB");
    assert!(
        (16.0..100.0).contains(&used),
        "the new generation's own peak: {}",
        report.line
    );
}

/// Skips the test (true) when rapid said it cannot cap the memory here.
fn uncapped(rapid: &Rapid) -> bool {
    let line = rapid
        .stderr()
        .into_iter()
        .find(|l| l.contains("memory is not capped"));
    if let Some(line) = &line {
        eprintln!("skipped: rapid cannot make a memory cgroup here: {line}");
    }
    line.is_some()
}

#[test]
fn max_memory_used_is_the_sandboxs_peak_not_a_sum_over_its_processes() {
    let rapid = Rapid::scripted(&[], &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")]);
    if uncapped(&rapid) {
        return;
    }
    // 40 processes sharing 8 MB and the interpreter copy-on-write: each
    // one's peak RSS counts it all, the sandbox holds it once.
    let forked = rapid.invoke_json(&json!({"action": "fork_children", "n": 40, "mb": 8}));
    assert_success(&forked);
    let echo = rapid.invoke(b"{}", &[]);
    assert_success(&echo);
    for resp in [&forked, &echo] {
        let report = rapid.wait_for_report(&request_id(resp));
        let used = report.number("Max Memory Used", "MB");
        assert!(
            (8.0..=128.0).contains(&used),
            "no more than the memory size with 41 processes: {}",
            report.line
        );
    }
}

#[test]
fn each_invoke_reports_its_own_peak() {
    let rapid = Rapid::scripted(&[], &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")]);
    if uncapped(&rapid) {
        return;
    }
    // 96 MB held during the first invoke only (freed when it returns).
    let big = rapid.invoke_json(&json!({"action": "allocate", "mb": 96}));
    assert_success(&big);
    let small = rapid.invoke(b"{}", &[]);
    assert_success(&small);
    let big = rapid.wait_for_report(&request_id(&big));
    let small = rapid.wait_for_report(&request_id(&small));
    let (big_mb, small_mb) = (
        big.number("Max Memory Used", "MB"),
        small.number("Max Memory Used", "MB"),
    );
    assert!(
        big_mb >= 96.0 && small_mb < 96.0,
        "the second invoke's peak is its own:\n{}\n{}",
        big.line,
        small.line
    );
}

/// The sandbox rapid says ran an invoke (its own `X-Rapid-Sandbox`).
fn sandbox_of(resp: &common::http::Resp) -> &str {
    resp.header("x-rapid-sandbox")
        .unwrap_or_else(|| panic!("no X-Rapid-Sandbox header: {resp:?}"))
}

#[test]
fn sequential_invokes_go_to_the_sandbox_used_last() {
    let rapid = Rapid::scripted(&["--max-sandboxes", "2"], &[]);
    // Two invokes at once warm two sandboxes; the one in sandbox 0 ends
    // first, so sandbox 1 is the one used last.
    let (first_gate, second_gate) = (gate(), gate());
    let waiting = |gate: &std::path::Path| json!({"action": "wait_fifo", "fifo": gate});
    thread::scope(|s| {
        let first = s.spawn(|| rapid.invoke_json(&waiting(&first_gate)));
        rapid.wait_for_stdout(|l| l.starts_with("waiting on "), WAIT);
        let second = s.spawn(|| rapid.invoke_json(&waiting(&second_gate)));
        rapid.wait_for_stdout_n(|l| l.starts_with("waiting on "), 2, WAIT);
        open_gate(&first_gate);
        let first = first.join().unwrap();
        assert_success(&first);
        assert_eq!(sandbox_of(&first), "0");
        rapid.wait_for_report(&request_id(&first));
        open_gate(&second_gate);
        let second = second.join().unwrap();
        assert_success(&second);
        assert_eq!(sandbox_of(&second), "1");
        rapid.wait_for_report(&request_id(&second));
    });
    // One at a time, every invoke lands on the warmest: sandbox 1.
    for _ in 0..3 {
        let resp = rapid.invoke(br#"{"action":"echo"}"#, &[]);
        assert_success(&resp);
        assert_eq!(sandbox_of(&resp), "1", "{resp:?}");
        rapid.wait_for_report(&request_id(&resp));
    }
}

/// Where the unified (cgroup v2) hierarchy holds this test's cgroup, when
/// a cgroup with a freezer can be made there (the test removes it at once);
/// else why not.
fn v2_freezer_here() -> Result<std::path::PathBuf, String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("this process is in no cgroup v2")?;
    let root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|dir| dir.join("cgroup.controllers").exists())
        .ok_or("no cgroup v2 hierarchy is mounted")?;
    let probe = unique_path("probe");
    let probe = root
        .join(path.trim_start_matches('/'))
        .join(probe.file_name().expect("a file name"));
    std::fs::create_dir(&probe).map_err(|e| format!("cannot make {}: {e}", probe.display()))?;
    let freezer = probe.join("cgroup.freeze").exists();
    let _ = std::fs::remove_dir(&probe);
    freezer
        .then_some(root)
        .ok_or_else(|| "the kernel's cgroup v2 has no freezer".to_owned())
}

/// The `cgroup.events` of the v2 cgroup `pid` is in, under `root`.
fn cgroup_events_of(root: &std::path::Path, pid: u64) -> std::path::PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("cannot read the cgroup of {pid}: {e}"));
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_else(|| panic!("{pid} is in no cgroup v2: {text}"));
    root.join(path.trim_start_matches('/'))
        .join("cgroup.events")
}

#[test]
fn the_cgroup_freezer_also_freezes_a_daemon_that_left_the_process_group() {
    let root = match v2_freezer_here() {
        Ok(root) => root,
        Err(why) => {
            eprintln!("skipped: no cgroup v2 freezer can be made here: {why}");
            return;
        }
    };
    let file = unique_path("daemon-counter");
    let rapid = Rapid::scripted(&[], &[]);
    let event = json!({"action": "background_session", "file": file});
    let first = rapid.invoke_json(&event);
    let daemon = assert_success(&first)["pid"]
        .as_u64()
        .expect("the daemon's pid");
    rapid.wait_for_report(&request_id(&first));
    // The daemon is in the sandbox's cgroup, which is frozen once the
    // invoke is complete: its counter stays, although signals to the
    // runtime's process group do not reach it.
    let events = cgroup_events_of(&root, daemon);
    poll_until(
        &format!("{} to say frozen 1", events.display()),
        WAIT,
        || std::fs::read_to_string(&events).is_ok_and(|e| e.contains("frozen 1")),
    );
    let frozen_at = counter(&file);
    holds_for("the daemon ran between invokes", HOLD, || {
        counter(&file) == frozen_at
    });
    // The next invoke thaws it: it counts while that invoke runs.
    let gate = gate();
    thread::scope(|s| {
        let running = s.spawn(|| rapid.invoke_json(&json!({"action": "wait_fifo", "fifo": gate})));
        rapid.wait_for_stdout(|l| l.starts_with("waiting on "), WAIT);
        poll_until("the daemon to count during the next invoke", WAIT, || {
            counter(&file) != frozen_at
        });
        open_gate(&gate);
        assert_success(&running.join().unwrap());
    });
    let _ = std::fs::remove_file(&file);
}

#[test]
fn after_rapid_is_killed_while_frozen_the_next_rapid_kills_what_its_cgroup_held() {
    let root = match v2_freezer_here() {
        Ok(root) => root,
        Err(why) => {
            eprintln!("skipped: no cgroup v2 freezer can be made here: {why}");
            return;
        }
    };
    let file = unique_path("orphan-counter");
    let first = Rapid::scripted(&[], &[]);
    let resp = first.invoke_json(&json!({"action": "background_session", "file": file}));
    let daemon = assert_success(&resp)["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
        .expect("the daemon's pid");
    let _daemon = KilledPid(daemon, start_time(daemon));
    first.wait_for_report(&request_id(&resp));
    let events = cgroup_events_of(&root, daemon.into());
    poll_until(
        &format!("{} to say frozen 1", events.display()),
        WAIT,
        || std::fs::read_to_string(&events).is_ok_and(|e| e.contains("frozen 1")),
    );
    // PDEATHSIG ends the runtime, not the daemon it forked: that one stays,
    // frozen, in the cgroup its rapid leaves behind.
    first.signal(Signal::SIGKILL);
    first.wait_exit(WAIT);
    assert!(!process_is_gone(daemon), "the daemon outlived its rapid");
    // The next rapid finds the cgroup of a rapid that is gone: what it
    // holds belongs to no running rapid, and is killed, not thawed.
    let _next = Rapid::scripted(&[], &[]);
    poll_until("the next rapid to kill the daemon", WAIT, || {
        process_is_gone(daemon)
    });
    poll_until("the stale cgroup to be removed", WAIT, || !events.exists());
    let _ = std::fs::remove_file(&file);
}

/// A process the test made, by pid and start time, killed when dropped
/// if it still runs, should the test fail first.
struct KilledPid(u32, Option<u64>);

impl Drop for KilledPid {
    fn drop(&mut self) {
        if self.1.is_some() && start_time(self.0) == self.1 {
            kill(self.0, Signal::SIGKILL);
        }
    }
}

/// A process killed (by its pid) when dropped, should the test fail first.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_burst_past_the_sandboxes_and_the_queue_gets_429s_and_nothing_else_fails() {
    // Four sandboxes and ten places to wait: of fifty invokes held open at
    // once, fourteen are taken and thirty-six throttled.
    let rapid = awslambdaric(
        "handlers.hold",
        &["--max-sandboxes", "4", "--max-queued", "10"],
    );
    let arrivals = unique_path("arrivals");
    std::fs::create_dir_all(&arrivals).expect("an arrivals directory");
    let release = unique_path("release");
    let payload = json!({"dir": arrivals, "release": release}).to_string();
    let out_path = unique_path("burst-out");
    let out = std::fs::File::create(&out_path).expect("the invoker's output file");
    let invoker = std::process::Command::new(venv_python())
        .arg(testdata("invoker/boto_invoke.py"))
        .args(["--endpoint", &rapid.url(), "--payload", &payload])
        .args(["--concurrency", "50", "--distinct", "--report-errors"])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .spawn()
        .expect("the boto3 invoker");
    let mut invoker = Killed(invoker);
    let lines = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&out_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let throttled =
        |lines: &[serde_json::Value]| lines.iter().filter(|l| l["HTTPStatusCode"] == 429).count();
    poll_until("36 of the burst throttled", INVOKER_DEADLINE, || {
        throttled(&lines()) >= 36
    });
    std::fs::write(&release, b"").expect("the release file");
    poll_until("the invoker to end", INVOKER_DEADLINE, || {
        matches!(invoker.0.try_wait(), Ok(Some(_)))
    });
    let status = invoker.0.wait().expect("the invoker's status");
    let lines = lines();
    assert!(status.success(), "{status:?}: {lines:?}");
    assert_eq!(lines.len(), 50, "{lines:?}");
    let mut answered_n = Vec::new();
    for line in &lines {
        if line["HTTPStatusCode"] == 429 {
            assert_eq!(line["Error"], "TooManyRequestsException", "{line}");
            assert_eq!(
                line["Reason"], "ConcurrentInvocationLimitExceeded",
                "{line}"
            );
            continue;
        }
        assert_eq!(line["StatusCode"], 200, "nothing but 429 may fail: {line}");
        assert!(line["FunctionError"].is_null(), "{line}");
        let body: serde_json::Value =
            serde_json::from_str(line["Payload"].as_str().unwrap_or("")).expect("JSON");
        answered_n.push(body["event"]["n"].as_u64().expect("its own n"));
    }
    assert_eq!(throttled(&lines), 36, "{lines:?}");
    answered_n.sort_unstable();
    answered_n.dedup();
    assert_eq!(answered_n.len(), 14, "each answered with its own event");
    let _ = std::fs::remove_dir_all(&arrivals);
}

#[test]
fn after_a_burst_of_large_payloads_rapid_returns_near_its_idle_memory() {
    let rapid = awslambdaric("handlers.whoami", &["--max-sandboxes", "4"]);
    assert_success(&rapid.invoke(b"{}", &[]));
    let pid = rapid.pid();
    let idle = vm_rss_kb(pid).expect("rapid's VmRSS");
    // Fifty invokes of 100 KB at once, each answered with its event: about
    // 10 MB through rapid, most of it at the same time.
    let payload = json!({"pad": "x".repeat(100_000)}).to_string();
    let results = boto_invoke(
        &rapid.url(),
        &["--payload", &payload, "--concurrency", "50", "--distinct"],
    );
    assert_eq!(results.len(), 50);
    for r in &results {
        assert_eq!(r["StatusCode"], 200, "{}", r["FunctionError"]);
        assert!(r["FunctionError"].is_null(), "{}", r["FunctionError"]);
    }
    // Four sandboxes now, and what the allocator keeps: within 4 MiB of the
    // idle figure (glibc kept about 9 MB of freed buffers before rapid gave
    // them back after bursts).
    poll_until(
        &format!("rapid's RSS to come back within 4 MiB of its idle {idle} kB"),
        WAIT,
        || vm_rss_kb(pid).is_some_and(|now| now <= idle + 4096),
    );
}
