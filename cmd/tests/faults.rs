//! Faults a hostile or careless peer can cause: running rapid out of
//! descriptors, half-closed requests, invalid headers, floods of events,
//! oversized error types. rapid must keep serving and stay quiet.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::thread;

/// The runtime command for testdata/runtimes/gated.py.
fn gated_command() -> Vec<String> {
    vec![
        plain_python(),
        testdata("runtimes/gated.py").display().to_string(),
    ]
}

/// A FIFO the gated runtime waits on until the test opens it for writing.
fn gate() -> PathBuf {
    let path = unique_path("gate");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU)
        .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
    path
}

/// Lets the runtime waiting on `gate` go on.
fn open_gate(gate: &PathBuf) {
    // Opening for writing blocks until the runtime has it open for reading;
    // closing it at once gives the runtime its end of file.
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .open(gate)
            .expect("open gate"),
    );
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
