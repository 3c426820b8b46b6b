//! Generations of the sandbox (spec §4): what a reset tears down stays torn
//! down. A request sent by a process of an earlier generation (or by any
//! process rapid did not start) cannot pass for the current runtime or
//! extensions, no process of a reset generation survives it, no connection
//! of it stays open (not even one whose peer outlives the reset), and a
//! reset neither delays the caller's timeout answer nor turns an answered
//! invoke into a failed one.

mod common;

use common::extensions::{ExtDir, Records};
use common::http::Kept;
use common::*;
use serde_json::{json, Value};
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

/// A Runtime API path rapid answers 404 without involving the engine: a
/// request on a connection that changes nothing.
const PROBE: &str = "/2018-06-01/runtime/generation-probe";

/// A connection to the Runtime API that rapid has accepted (it answered a
/// request on it) and that stays open, as a runtime keeps its keep-alive
/// connections. The test holds it, so it outlives any process rapid kills.
fn kept_connection(rapid: &Rapid) -> Kept {
    let mut conn = Kept::open(rapid.api_addr()).expect("connect to the Runtime API");
    let resp = conn
        .request("GET", PROBE, b"")
        .expect("an answer to the probe");
    assert_eq!(resp.status, 404, "{resp:?}");
    conn
}

fn with_extensions(dir: &ExtDir, records: &Records, config: &Value, flags: &[&str]) -> Rapid {
    let config = config.to_string();
    let mut all_flags = vec!["--extensions-dir", dir.as_str()];
    all_flags.extend_from_slice(flags);
    Rapid::scripted(
        &all_flags,
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    )
}

#[test]
fn a_register_from_a_process_outside_the_sandbox_is_refused() {
    let dir = ExtDir::new();
    dir.add_scripted("watch");
    let records = Records::new();
    let gate = unique_path("watch-register-gate");
    let config = json!({"watch": {"registerGate": gate}});
    let rapid = with_extensions(&dir, &records, &config, &["--eager-init"]);
    records.wait_kind("watch", "register_gate_waiting", 1);

    // What a request of a killed extension looks like when it is read after
    // the next init started: the name of an extension of this generation,
    // from a process that is not one of its own.
    let stale = rapid.api_request(
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "watch")],
        br#"{"events":["INVOKE","SHUTDOWN"]}"#,
    );
    assert_eq!(stale.status, 403, "{}", stale.text());
    assert_eq!(
        stale.json()["errorType"],
        "Extension.InvalidExtensionState",
        "{}",
        stale.text()
    );

    // The extension itself still registers, and the function works.
    std::fs::write(&gate, "").unwrap();
    let resp = rapid.invoke(b"{}", &[]);
    let id = request_id(&resp);
    assert_success(&resp);
    records.wait_event("watch", "INVOKE", "requestId", &id);
    assert_eq!(records.of("watch", "start").len(), 1, "{:?}", records.all());
    let _ = std::fs::remove_file(gate);
}

#[test]
fn a_next_or_init_error_from_a_process_outside_the_sandbox_does_not_touch_its_init() {
    let marker = unique_path("init-hang-once");
    let marker_str = marker.to_str().unwrap();
    let rapid = Rapid::scripted(
        &["--eager-init", "--init-timeout", "2"],
        &[
            ("SCRIPTED_INIT", "hang"),
            ("SCRIPTED_INIT_MARKER", marker_str),
        ],
    );
    rapid.wait_for_stdout(|l| l.starts_with("hanging during init"), WAIT);

    // The runtime is initializing and has not called next: a next from
    // another process must not end its init (nor wait for an invoke).
    let next = rapid.api_request("GET", "/2018-06-01/runtime/invocation/next", &[], b"");
    assert_eq!(next.status, 403, "{}", next.text());
    assert_eq!(next.json()["errorType"], "InvalidStateTransition");

    let body = json!({"errorMessage": "stale", "errorType": "Runtime.Stale"}).to_string();
    let init_error = rapid.api_request(
        "POST",
        "/2018-06-01/runtime/init/error",
        &[("Lambda-Runtime-Function-Error-Type", "Runtime.Stale")],
        body.as_bytes(),
    );
    assert_eq!(init_error.status, 403, "{}", init_error.text());

    // The runtime's own init is still the one that counts: it hangs, so the
    // invoke fails with the init timeout, not with the stranger's error.
    let resp = rapid.invoke(b"{}", &[]);
    let answer = assert_function_error(&resp, "Sandbox.Timedout");
    assert!(
        !answer.to_string().contains("stale"),
        "the stranger's init/error reached the invoker: {answer}"
    );
    // The retried init (the marker exists now) succeeds.
    assert_success(&rapid.invoke(b"{}", &[]));
    let _ = std::fs::remove_file(marker);
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

#[test]
fn the_reset_after_a_failed_init_counts_against_the_next_invoke_s_timeout() {
    // `stalled` registers and never asks for an event: every init times out
    // and each reset waits the whole 2 s budget for it to exit.
    let dir = ExtDir::new();
    dir.add_scripted("stalled");
    let records = Records::new();
    let never = unique_path("never-opened-gate");
    let config = json!({"stalled": {"gate": never}});
    let config = config.to_string();
    let rapid = Rapid::scripted(
        &["--extensions-dir", dir.as_str(), "--init-timeout", "3"],
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "1"),
        ],
    );

    let first = {
        let url = rapid.invoke_addr().to_owned();
        thread::spawn(move || common::http::request(&url, "POST", INVOKE_PATH, &[], b"{}"))
    };
    records.wait_kind("stalled", "gate_waiting", 1);
    // Queued behind the first invoke, whose init times out after 3 s; it
    // waits for the reset (2 s), and its 1 s runs out in the middle of it.
    let second = rapid.invoke(b"{}", &[]);
    let first = first.join().expect("the first invoker");
    assert_function_error(&first, "Sandbox.Timedout");
    let body = assert_function_error(&second, "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Task timed out after 1.00 seconds")),
        "{body}"
    );
    // Answered at its deadline, during the reset: no retry of the init was
    // started for it.
    assert_eq!(
        records.of("stalled", "start").len(),
        1,
        "the second invoke waited for a new init: {:?}",
        records.all()
    );
    let report = rapid.wait_for_report(&request_id(&second));
    assert_eq!(report.get("Status"), Some("timeout"), "{}", report.line);
    let _ = std::fs::remove_file(never);
}

#[test]
fn a_runtime_that_exits_after_answering_leaves_a_successful_report() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke_json(&json!({"action": "exit_after_response"}));
    let id = request_id(&resp);
    assert_success(&resp);
    let report = rapid.wait_for_report(&id);
    assert_eq!(report.get("Status"), None, "{}", report.line);
    assert_eq!(report.get("Error Type"), None, "{}", report.line);
    // The next invoke starts a new runtime, with an init of its own.
    let next = rapid.invoke(b"{}", &[]);
    assert_success(&next);
    let report = rapid.wait_for_report(&request_id(&next));
    assert!(report.get("Init Duration").is_some(), "{}", report.line);
}

#[test]
fn connections_of_a_reset_generation_are_closed_and_the_next_generation_is_served() {
    let rapid = Rapid::scripted(&[], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")]);
    assert_success(&rapid.invoke(b"{}", &[]));

    // Two connections of this generation: one idle between requests, one
    // with a request in flight (its body half sent: rapid waits for more).
    let mut idle = kept_connection(&rapid);
    let mut in_flight = kept_connection(&rapid);
    in_flight
        .send(
            b"POST /2018-06-01/runtime/invocation/not-an-invoke/response HTTP/1.1\r\n\
              Host: rapid\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n\
              {\"partial\":",
        )
        .expect("send half a request");

    // The invoke times out: the generation is reset.
    assert_function_error(
        &rapid.invoke_json(&json!({"action": "hang"})),
        "Sandbox.Timedout",
    );
    idle.wait_closed(WAIT).unwrap_or_else(|e| {
        panic!(
            "an idle connection of the reset generation: {e}\nstderr:\n{}",
            rapid.stderr().join("\n")
        )
    });
    in_flight.wait_closed(WAIT).unwrap_or_else(|e| {
        panic!("a request in flight on a connection of the reset generation: {e}")
    });

    // The next generation is served, and its own connections stay open.
    assert_success(&rapid.invoke(b"{}", &[]));
    let mut current = kept_connection(&rapid);
    assert_success(&rapid.invoke(b"{}", &[]));
    let again = current
        .request("GET", PROBE, b"")
        .expect("a connection of the running generation still serves");
    assert_eq!(again.status, 404, "{again:?}");
}

#[test]
fn a_stream_in_progress_when_its_generation_is_reset_stops_and_the_next_invoke_works() {
    let rapid = Rapid::scripted(&[], &[]);
    let invoker = {
        let addr = rapid.invoke_addr().to_owned();
        thread::spawn(move || {
            common::http::open(
                &addr,
                "POST",
                INVOKE_PATH,
                &[("TE", "trailers")],
                br#"{"action": "hang"}"#,
            )
        })
    };
    let line = rapid.wait_for_stdout(|l| l.starts_with("hanging on "), WAIT);
    let (request_id, pid) = line
        .strip_prefix("hanging on ")
        .and_then(|rest| rest.split_once(" pid "))
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    let pid: i32 = pid.parse().expect("the runtime's pid");

    // The response is streamed on a connection of this generation whose
    // peer (the test) outlives the runtime.
    let mut pump = Kept::open(rapid.api_addr()).expect("connect to the Runtime API");
    pump.send(
        format!(
            "POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n\
             Host: rapid\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n\
             Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
             5\r\nfirst\r\n"
        )
        .as_bytes(),
    )
    .expect("start the stream");
    let mut answer = invoker
        .join()
        .expect("the invoker thread")
        .expect("the invoker gets the stream's head");
    assert_eq!(answer.status, 200);
    let mut body = Vec::new();
    answer
        .read_until(&mut body, |b| b.ends_with(b"first"))
        .expect("the first chunk reaches the invoker");

    // The runtime crashes in the middle of the stream: a reset.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL)
        .expect("kill the runtime");
    if let Err(err) = answer.read_to_end(&mut body) {
        assert!(
            !common::http::is_timeout(&err),
            "the invoker was left waiting after the runtime crashed"
        );
    }
    pump.wait_closed(WAIT)
        .unwrap_or_else(|e| panic!("the connection of a stream cut short by the reset: {e}"));
    // The pump is gone: more of the old body goes nowhere, and the next
    // invoke works.
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn many_resets_leave_rapid_holding_no_more_sockets_than_before() {
    let rapid = Rapid::scripted(&[], &[]);
    // Before the first init: the listeners and tokio's signal pipes.
    let baseline = socket_count(rapid.pid());
    let mut kept = Vec::new();
    for _ in 0..20 {
        assert_success(&rapid.invoke(b"{}", &[]));
        kept.push(kept_connection(&rapid));
        let resp = rapid.invoke_json(&json!({"action": "crash"}));
        assert_function_error(&resp, "Runtime.ExitError");
    }
    // The last generation crashed and no init follows until an invoke: as
    // before the first init, rapid holds only its own sockets (those of
    // calls just answered close within moments).
    let deadline = std::time::Instant::now() + GONE_WITHIN;
    loop {
        let count = socket_count(rapid.pid());
        if count <= baseline {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rapid holds {count} sockets {GONE_WITHIN:?} after 20 resets, {baseline} before the first init"
        );
        thread::sleep(Duration::from_millis(20)); // ok: /proc has no change events
    }
    for (round, mut conn) in kept.into_iter().enumerate() {
        conn.wait_closed(WAIT)
            .unwrap_or_else(|e| panic!("the connection kept in generation {}: {e}", round + 1));
    }
}
