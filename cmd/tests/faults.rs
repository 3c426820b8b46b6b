//! Faults a hostile or careless peer can cause: running rapid out of
//! descriptors, half-closed requests, invalid headers, floods of events,
//! oversized error types. rapid must keep serving and stay quiet.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

/// The runtime command for testdata/runtimes/gated.py.
fn gated_command() -> Vec<String> {
    vec![
        plain_python(),
        testdata("runtimes/gated.py").display().to_string(),
    ]
}

#[test]
fn a_connection_flood_under_a_low_descriptor_limit_leaves_invokes_working() {
    // 64 descriptors, soft and hard, so rapid cannot raise its limit.
    let cmd = gated_command();
    let mut args = vec![];
    args.extend(cmd.iter().map(String::as_str));
    let rapid = Rapid::start_wrapped(
        &["sh", "-c", "ulimit -n 64 && \"$@\"", "sh"],
        &args,
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "10")],
    );
    let gate = gate();
    let event = serde_json::json!({ "gate": gate.display().to_string() }).to_string();
    let addr = rapid.invoke_addr().to_string();
    let invoker =
        thread::spawn(move || http::try_request(&addr, "POST", INVOKE_PATH, &[], event.as_bytes()));
    rapid.wait_for_stdout(|l| l.starts_with("gated on "), WAIT);

    // Twice the limit (and within the listener's backlog of 128, so that
    // every connect completes): each one accepted takes a descriptor.
    let flood: Vec<TcpStream> = (0..128)
        .map(|i| {
            TcpStream::connect(rapid.invoke_addr())
                .unwrap_or_else(|e| panic!("flood connection {i}: {e}"))
        })
        .collect();
    // rapid says the front door is full (or, unfixed, that accept fails).
    rapid.wait_for_stderr(|l| l.contains("front door"), WAIT);

    // The runtime answers on a new connection to the Runtime API.
    open_gate(&gate);
    let resp = invoker
        .join()
        .expect("invoker thread")
        .expect("the invoke in flight is answered");
    let body = assert_success(&resp);
    assert_eq!(body["gate"], gate.display().to_string(), "{body}");

    // The condition is logged once, not once per attempt.
    let lines = rapid.stderr();
    assert!(
        lines.len() <= 20,
        "{} lines of stderr while flooded; the first ones:\n{}",
        lines.len(),
        lines[..lines.len().min(20)].join("\n")
    );
    drop(flood);
    // Once the flood is gone, new callers are served again.
    assert_success(&rapid.invoke(b"{\"after\":\"flood\"}", &[]));
}

#[test]
fn a_function_with_hundreds_of_processes_leaves_rapid_its_descriptors() {
    let rapid = with_128_descriptors(&["sh", "-c", "ulimit -n 128 && \"$@\"", "sh"]);
    function_with_300_processes(&rapid);
}

#[test]
fn without_a_memory_cgroup_too_a_function_with_hundreds_of_processes_leaves_rapid_its_descriptors()
{
    // No cgroup hierarchy in sight (an empty tmpfs over it, in a mount
    // namespace of its own): rapid measures the memory from /proc.
    let probe = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: unshare --mount does not work here (util-linux, root)");
        return;
    }
    let rapid = with_128_descriptors(&[
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t tmpfs rapid-no-cgroup /sys/fs/cgroup && ulimit -n 128 && \"$@\"",
        "sh",
    ]);
    rapid.wait_for_stderr(|l| l.contains("memory is not capped"), WAIT);
    function_with_300_processes(&rapid);
}

/// rapid with the scripted runtime under `wrapper`, which limits it to 128
/// descriptors, soft and hard, so that it cannot raise its limit.
fn with_128_descriptors(wrapper: &[&str]) -> Rapid {
    let cmd = scripted_command();
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    Rapid::start_wrapped(wrapper, &args, &[])
}

/// A function that leaves 300 processes behind: measuring its memory
/// must not hold a descriptor per process, and rapid goes on serving.
fn function_with_300_processes(rapid: &Rapid) {
    let forked = rapid.invoke_json(&serde_json::json!({"action": "fork_children", "n": 300}));
    let pids = assert_success(&forked)["pids"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(pids, 300, "the function left 300 children");
    rapid.wait_for_report(&request_id(&forked));
    // Every later invoke is answered, and REPORT measured each.
    for _ in 0..3 {
        let resp = rapid.invoke(b"{}", &[]);
        assert_success(&resp);
        rapid.wait_for_report(&request_id(&resp));
    }
    let held = fd_count(rapid.pid());
    assert!(
        held < 64,
        "rapid holds {held} of its 128 descriptors with 301 processes in the function"
    );
    let full = rapid.stderr();
    assert!(
        !full.iter().any(|l| l.contains("Too many open files")),
        "{full:#?}"
    );
}

/// The soft and hard `Max open files` of `pid`, from /proc.
fn nofile_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn rapid_raises_its_descriptor_limit_and_the_runtime_gets_the_original() {
    let cmd = gated_command();
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let rapid = Rapid::start_wrapped(
        &["sh", "-c", "ulimit -Sn 256 && \"$@\"", "sh"],
        &[&["--eager-init"], args.as_slice()].concat(),
        &[],
    );
    let line = rapid.wait_for_stdout(|l| l.starts_with("gated runtime ready"), WAIT);
    let (soft, hard) = nofile_limits(rapid.pid());
    assert_eq!(soft, hard, "rapid runs with its soft limit at the hard one");
    assert_eq!(
        line,
        format!("gated runtime ready, nofile 256 {hard}"),
        "the runtime gets the limit rapid was started with"
    );
}

/// Sends `requests` on one connection, shuts down the write side, and reads
/// everything rapid answers until it closes the connection.
fn send_then_half_close(addr: &str, requests: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to the front door");
    stream
        .set_read_timeout(Some(WAIT))
        .expect("set a read timeout");
    stream.write_all(requests).expect("send the requests");
    stream
        .shutdown(Shutdown::Write)
        .expect("shut down the write side");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("read the answers until rapid closes");
    String::from_utf8_lossy(&answer).into_owned()
}

fn invoke_request(event: &str) -> String {
    format!(
        "POST {INVOKE_PATH} HTTP/1.1\r\nHost: rapid\r\nContent-Length: {}\r\n\r\n{event}",
        event.len()
    )
}

#[test]
fn a_request_followed_by_a_half_close_is_answered() {
    let rapid = Rapid::scripted(&[], &[]);
    let answer = send_then_half_close(rapid.invoke_addr(), invoke_request("{\"n\":1}").as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 200 OK\r\n"),
        "answer to a half-closed request: {answer:?}"
    );
    assert!(answer.contains("\"n\": 1"), "the echo: {answer:?}");
}

#[test]
fn a_pipelined_burst_ending_in_a_half_close_gets_every_answer() {
    let rapid = Rapid::scripted(&[], &[]);
    let burst: String = (0..3)
        .map(|n| invoke_request(&format!("{{\"n\":{n}}}")))
        .collect();
    let answer = send_then_half_close(rapid.invoke_addr(), burst.as_bytes());
    assert_eq!(
        answer.matches("HTTP/1.1 200 OK\r\n").count(),
        3,
        "three answers: {answer:?}"
    );
    for n in 0..3 {
        assert!(
            answer.contains(&format!("\"n\": {n}")),
            "echo {n}: {answer:?}"
        );
    }
}

#[test]
fn a_log_type_other_than_tail_or_none_is_refused() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(b"{}", &[("X-Amz-Log-Type", "Verbose")]);
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("InvalidParameterValueException")
    );
    let body = resp.json();
    assert_eq!(body["Type"], "User", "{body}");
    assert_eq!(
        body["message"],
        "1 validation error detected: Value 'Verbose' at 'logType' failed to satisfy \
         constraint: Member must satisfy enum value set: [None, Tail]"
    );
    let resp = rapid.invoke(b"{}", &[("X-Amz-Log-Type", "None")]);
    assert_success(&resp);
    assert_eq!(resp.header("x-amz-log-result"), None, "{resp:?}");
    rapid.wait_for_report(&request_id(&resp));
    assert_eq!(
        rapid.count_stdout(|l| l.starts_with("START ")),
        1,
        "only the valid invoke ran"
    );
}

/// One request with a raw (possibly non-UTF-8) header, on a connection that
/// closes after the answer; returns the status line and the body.
fn raw_invoke(addr: &str, name: &str, value: &[u8]) -> (String, String) {
    let mut request = format!(
        "POST {INVOKE_PATH} HTTP/1.1\r\nHost: rapid\r\nConnection: close\r\n\
         Content-Length: 2\r\n{name}: "
    )
    .into_bytes();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n\r\n{}");
    let mut stream = TcpStream::connect(addr).expect("connect to the front door");
    stream
        .set_read_timeout(Some(WAIT))
        .expect("set a read timeout");
    stream.write_all(&request).expect("send the request");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.lines().next().unwrap_or_default().to_string();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn a_lambda_header_that_is_not_utf8_is_refused() {
    let rapid = Rapid::scripted(&[], &[]);
    for name in [
        "X-Amz-Invocation-Type",
        "X-Amz-Client-Context",
        "X-Amz-Log-Type",
        "X-Amzn-Trace-Id",
        "X-Amz-Tenant-Id",
    ] {
        let (status, body) = raw_invoke(rapid.invoke_addr(), name, b"Tail\xff\xfe");
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{name}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON error body");
        assert_eq!(
            body["message"],
            format!("The value of the {name} header is not valid UTF-8"),
            "{name}"
        );
    }
    // Valid UTF-8 that is not ASCII is text like any other.
    let (status, body) = raw_invoke(
        rapid.invoke_addr(),
        "X-Amz-Tenant-Id",
        "tenant-é".as_bytes(),
    );
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    rapid.wait_for_stdout(|l| l.starts_with("REPORT "), WAIT);
    assert_eq!(
        rapid.count_stdout(|l| l.starts_with("START ")),
        1,
        "only the valid invoke ran"
    );
}

#[test]
fn event_invokes_are_limited_to_1_mb() {
    let rapid = Rapid::scripted(&[], &[]);
    let event = [("X-Amz-Invocation-Type", "Event")];
    let resp = rapid.invoke(&json_string_of_len(1024 * 1024 + 1), &event);
    assert_eq!(resp.status, 413, "{resp:?}");
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("RequestTooLargeException")
    );
    assert_eq!(
        resp.json()["message"],
        "Request must be smaller than 1048576 bytes for the InvokeFunction operation"
    );
    let resp = rapid.invoke(&json_string_of_len(1024 * 1024), &event);
    assert_eq!(resp.status, 202, "{resp:?}");
    // A synchronous invoke keeps the 6 MB limit.
    assert_success(&rapid.invoke(&json_string_of_len(1024 * 1024 + 1), &[]));
}

#[test]
fn event_invokes_past_the_queue_bound_are_throttled() {
    let cmd = gated_command();
    let mut args = vec!["--max-queued-events", "2"];
    args.extend(cmd.iter().map(String::as_str));
    let rapid = Rapid::start(&args, &[]);
    let event = [("X-Amz-Invocation-Type", "Event")];
    let gate = gate();
    let gated = serde_json::json!({ "gate": gate.display().to_string() }).to_string();

    // One event runs (held by the runtime), one waits: the queue is full.
    assert_eq!(rapid.invoke(gated.as_bytes(), &event).status, 202);
    rapid.wait_for_stdout(|l| l.starts_with("gated on "), WAIT);
    assert_eq!(rapid.invoke(b"{\"n\":2}", &event).status, 202);
    let resp = rapid.invoke(b"{\"n\":3}", &event);
    assert_eq!(resp.status, 429, "{resp:?}");
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );
    assert_eq!(
        resp.json(),
        serde_json::json!({
            "Reason": "ConcurrentInvocationLimitExceeded",
            "Type": "User",
            "message": "Rate Exceeded."
        })
    );
    // Synchronous invokes are not counted: they queue as before (this one
    // runs after the two events).
    let addr = rapid.invoke_addr().to_string();
    let sync = thread::spawn(move || http::request(&addr, "POST", INVOKE_PATH, &[], b"{}"));

    // Once the runtime answered both events, events are accepted again.
    open_gate(&gate);
    rapid.wait_for_stdout_n(|l| l == "response status: 202", 2, WAIT);
    assert_success(&sync.join().expect("sync invoke"));
    assert_eq!(rapid.invoke(b"{\"n\":4}", &event).status, 202);
}

#[test]
fn a_10000_character_error_type_is_cut_in_the_report() {
    let rapid = Rapid::scripted(&[], &[]);
    let long_type = format!("Function.Long{}", "x".repeat(10_000 - 13));
    let resp = rapid.invoke_json(&serde_json::json!({
        "action": "error",
        "errorType": long_type,
    }));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("x-amz-function-error"), Some("Unhandled"));
    let report = rapid.wait_for_report(&request_id(&resp));
    let recorded = report.get("Error Type").expect("an Error Type in REPORT");
    assert_eq!(recorded.len(), 256, "REPORT: {}", report.line);
    assert!(long_type.starts_with(recorded), "REPORT: {}", report.line);
    rapid.wait_for_stderr(|l| l.contains("error type is too long"), WAIT);
}

#[test]
fn an_extension_s_10000_character_error_type_is_cut() {
    let dir = common::extensions::ExtDir::new();
    dir.add_scripted("picky");
    let records = common::extensions::Records::new();
    let long_type = format!("Extension.Long{}", "x".repeat(10_000 - 14));
    let config = serde_json::json!({"picky": {"init": "init_error", "initErrorType": long_type}})
        .to_string();
    let rapid = Rapid::scripted(
        &["--extensions-dir", dir.as_str()],
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    );
    let body = assert_function_error(&rapid.invoke(b"{}", &[]), "Extension.InitError");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains(&long_type[..256]) && !message.contains(&long_type[..257]),
        "the message carries the type cut to 256 bytes: {} bytes",
        message.len()
    );
    rapid.wait_for_stderr(
        |l| l.contains("an extension's error type is too long"),
        WAIT,
    );
}
