//! Multi-concurrency (spec §9, Lambda Managed Instances):
//! `AWS_LAMBDA_MAX_CONCURRENCY=K` lets one runtime hold up to K invokes at
//! once, each answered by its request id, each with its own deadline,
//! REPORT and error path.

mod common;

use common::extensions::{ExtDir, Records};
use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::thread;

fn concurrent_command() -> Vec<String> {
    vec![
        plain_python(),
        testdata("runtimes/concurrent.py").display().to_string(),
    ]
}

/// rapid serving testdata/runtimes/concurrent.py with `flags` and `env`.
fn concurrent(flags: &[&str], env: &[(&str, &str)]) -> Rapid {
    let cmd = concurrent_command();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(cmd.iter().map(String::as_str));
    let rapid = Rapid::start(&args, env);
    rapid.invoke(br#"{"action":"echo"}"#, &[]);
    rapid
}

fn runtime_pid(rapid: &Rapid) -> u32 {
    let line = rapid.wait_for_stdout(|l| l.starts_with("concurrent runtime ready"), WAIT);
    line.rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid at the end of {line:?}"))
}

#[test]
fn four_invokes_run_at_once_and_answers_in_reverse_order_reach_their_callers() {
    let rapid = concurrent(&[], &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]);
    // The runtime answers a group only once it holds all four: with one
    // invoke at a time, none would ever come back.
    let answers: Vec<(u64, Resp)> = thread::scope(|s| {
        let calls: Vec<_> = (0..4u64)
            .map(|n| {
                let rapid = &rapid;
                s.spawn(move || {
                    let event = json!({"action": "hold", "group": 4, "n": n});
                    (n, rapid.invoke_json(&event))
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut ids = Vec::new();
    for (n, resp) in &answers {
        let body = assert_success(resp);
        assert_eq!(
            body["event"]["n"], *n,
            "invoke {n} got another's answer: {body}"
        );
        assert_eq!(body["request_id"], request_id(resp), "{body}");
        ids.push(request_id(resp));
    }
    // Answered newest first: the order the runtime printed is the reverse
    // of the order it received them.
    let handled: Vec<String> = rapid
        .stdout()
        .iter()
        .filter_map(|l| l.strip_prefix("handling ").map(str::to_owned))
        .filter(|id| ids.contains(id))
        .collect();
    let answered = rapid.wait_for_stdout_n(|l| l.starts_with("answered "), 4, WAIT);
    let answered: Vec<String> = answered
        .iter()
        .filter_map(|l| l.split(' ').nth(1).map(str::to_owned))
        .collect();
    let mut reversed = handled.clone();
    reversed.reverse();
    assert_eq!(answered, reversed, "handled in order {handled:?}");
    // Each has its own START (before the runtime's first line for it),
    // END and whole REPORT.
    for id in &ids {
        let report = rapid.wait_for_report(id);
        assert!(report.get("Max Memory Used").is_some(), "{}", report.line);
        let stdout = rapid.stdout();
        let at = |line: &str| stdout.iter().position(|l| l == line);
        let start = stdout
            .iter()
            .position(|l| l.starts_with(&format!("START RequestId: {id} ")));
        let handling = at(&format!("handling {id}"));
        let end = at(&format!("END RequestId: {id}"));
        assert!(
            start.is_some() && start < handling && handling < end,
            "START, the runtime's line and END of {id} out of order: {stdout:#?}"
        );
    }
}

#[test]
fn lambda_runtime_run_concurrent_serves_boto3_invokes_side_by_side() {
    // The real Rust client in its Managed Instances mode, invoked by boto3:
    // each invoke waits inside the handler until four are there at once.
    let fun = rust_fn("concurrent-fn");
    let rapid = Rapid::start(
        &[fun.to_str().expect("utf-8 path")],
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")],
    );
    let results = boto_invoke(
        &rapid.url(),
        &[
            "--payload",
            r#"{"meet": 4}"#,
            "--concurrency",
            "8",
            "--distinct",
            "--log-type",
            "Tail",
        ],
    );
    assert_eq!(results.len(), 8, "{results:?}");
    let mut seen = HashSet::new();
    for result in &results {
        assert_eq!(result["StatusCode"], 200, "{result}");
        assert!(result["FunctionError"].is_null(), "{result}");
        let payload: Value =
            serde_json::from_str(result["Payload"].as_str().expect("a payload")).expect("JSON");
        let request_id = result["RequestId"].as_str().expect("a request id");
        assert_eq!(payload["request_id"], request_id, "{payload}");
        assert!(seen.insert(payload["event"]["n"].as_u64().expect("n")));
        // The tail is the invoke's own: its START, END and REPORT.
        let tail = result["LogResult"].as_str().expect("a tail");
        assert!(
            tail.contains(&format!("START RequestId: {request_id} ")),
            "{tail}"
        );
        assert!(
            tail.contains(&format!("REPORT RequestId: {request_id}\t")),
            "{tail}"
        );
    }
    assert_eq!(seen.len(), 8);
}

#[test]
fn a_timed_out_invoke_fails_alone_and_the_environment_goes_on() {
    let rapid = concurrent(
        &[],
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "2"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "1"),
        ],
    );
    let pid = runtime_pid(&rapid);
    let gate = gate();
    let event = json!({"action": "late", "gate": gate});
    thread::scope(|s| {
        let late = s.spawn(|| rapid.invoke_json(&event));
        rapid.wait_for_stdout(|l| l.starts_with("handling "), WAIT);
        // The other slot keeps serving while the first hangs.
        assert_success(&rapid.invoke(br#"{"action":"echo"}"#, &[]));
        let timed_out = late.join().unwrap();
        let body = assert_function_error(&timed_out, "Sandbox.Timedout");
        assert!(
            body["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("Task timed out after 1.00 seconds")),
            "{body}"
        );
        let report = rapid.wait_for_report(&request_id(&timed_out));
        assert_eq!(report.get("Status"), Some("timeout"), "{}", report.line);
    });
    // Its late answer is refused with 410; the runtime was not reset.
    open_gate(&gate);
    rapid.wait_for_stdout(|l| l == "late response status: 410", WAIT);
    let after = rapid.invoke(br#"{"action":"echo"}"#, &[]);
    assert_eq!(
        assert_success(&after)["pid"],
        pid,
        "the runtime was replaced"
    );
    assert!(
        !rapid.stdout().iter().any(|l| l.starts_with("INIT_REPORT")),
        "a timeout must not re-initialize: {:?}",
        rapid.stdout()
    );
}

#[test]
fn a_runtime_crash_fails_every_invoke_in_flight_and_the_next_starts_a_new_runtime() {
    let rapid = concurrent(&[], &[("AWS_LAMBDA_MAX_CONCURRENCY", "3")]);
    let first = runtime_pid(&rapid);
    let gate = gate();
    let late = json!({"action": "late", "gate": gate});
    thread::scope(|s| {
        let held: Vec<_> = (0..2)
            .map(|_| s.spawn(|| rapid.invoke_json(&late)))
            .collect();
        rapid.wait_for_stdout_n(|l| l.starts_with("handling "), 3, WAIT);
        let crash = rapid.invoke(br#"{"action":"crash"}"#, &[]);
        assert_function_error(&crash, "Runtime.ExitError");
        for h in held {
            let resp = h.join().unwrap();
            let body = assert_function_error(&resp, "Runtime.ExitError");
            assert!(
                body["errorMessage"]
                    .as_str()
                    .is_some_and(|m| m.contains(&request_id(&resp))),
                "{body}"
            );
        }
    });
    poll_until("the crashed runtime to be gone", WAIT, || {
        process_is_gone(first)
    });
    let next = rapid.invoke(br#"{"action":"echo"}"#, &[]);
    assert_ne!(assert_success(&next)["pid"], first);
}

#[test]
fn extensions_get_no_invoke_event_but_get_shutdown() {
    let (dir, records) = (ExtDir::new(), Records::new());
    dir.add_scripted("watch");
    let config = json!({"watch": {}}).to_string();
    let rapid = concurrent(
        &["--extensions-dir", dir.as_str()],
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "2"),
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    );
    for _ in 0..3 {
        assert_success(&rapid.invoke(br#"{"action":"echo"}"#, &[]));
    }
    rapid.signal(Signal::SIGTERM);
    records.wait_event("watch", "SHUTDOWN", "shutdownReason", "spindown");
    assert!(
        records.events("watch", "INVOKE").is_empty(),
        "{:?}",
        records.all()
    );
}

#[test]
fn a_poll_past_the_limit_is_refused() {
    let rapid = concurrent(
        &[],
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "2"),
            ("CONCURRENT_EXTRA_WORKERS", "1"),
        ],
    );
    let refused = rapid.wait_for_stdout(|l| l.starts_with("next refused: "), WAIT);
    assert!(refused.starts_with("next refused: 403 "), "{refused}");
    assert!(
        refused.contains("AWS_LAMBDA_MAX_CONCURRENCY=2"),
        "{refused}"
    );
    // The two workers within the limit serve on.
    thread::scope(|s| {
        let both: Vec<_> = (0..2)
            .map(|n| {
                let rapid = &rapid;
                s.spawn(move || rapid.invoke_json(&json!({"action": "hold", "group": 2, "n": n})))
            })
            .collect();
        for b in both {
            assert_success(&b.join().unwrap());
        }
    });
}

#[test]
fn what_multi_concurrency_cannot_be_used_with_is_said_at_start() {
    let cmd = concurrent_command();
    for (flags, env_value, says) in [
        (vec!["--enable-init-caching"], "2", "--enable-init-caching"),
        (vec![], "0", "AWS_LAMBDA_MAX_CONCURRENCY must be at least 1"),
        (
            vec![],
            "many",
            "AWS_LAMBDA_MAX_CONCURRENCY must be a whole number",
        ),
    ] {
        let mut args = vec![
            "--runtime-interface-emulator-address",
            "127.0.0.1:0",
            "--runtime-api-address",
            "127.0.0.1:0",
        ];
        args.extend(flags.iter().copied());
        args.extend(cmd.iter().map(String::as_str));
        let output = output_within(
            std::process::Command::new(env!("CARGO_BIN_EXE_rapid"))
                .args(&args)
                .env("AWS_LAMBDA_MAX_CONCURRENCY", env_value),
            WAIT,
            "rapid refusing its configuration",
        );
        assert!(!output.status.success(), "{flags:?} {env_value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{flags:?} {env_value}: {stderr}");
    }
}

#[test]
fn telemetry_needs_the_newest_schema_and_reports_each_concurrent_invoke() {
    let subscriber = common::subscriber::Subscriber::http();
    let body = |version: &str| {
        json!({
            "schemaVersion": version,
            "types": ["platform"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
            "destination": {"protocol": "HTTP", "URI": subscriber.http_uri("telemetry")},
        })
    };
    let subscribe = json!([
        {"path": "/2022-07-01/telemetry", "body": body("2022-12-13")},
        {"path": "/2022-07-01/telemetry", "body": body("2025-01-29")},
    ]);
    let (dir, records) = (ExtDir::new(), Records::new());
    dir.add_scripted("sub");
    let config = json!({"sub": {"events": ["SHUTDOWN"], "subscribe": subscribe}}).to_string();
    let rapid = concurrent(
        &["--extensions-dir", dir.as_str()],
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "2"),
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    );
    let older = records.wait_api("sub", "subscribe:0");
    assert_eq!(older["status"], 400, "{older}");
    assert!(older.to_string().contains("ValidationError"), "{older}");
    assert!(older.to_string().contains("2025-01-29"), "{older}");
    assert_eq!(records.wait_api("sub", "subscribe:1")["status"], 200);
    let ids: Vec<String> = thread::scope(|s| {
        let both: Vec<_> = (0..2)
            .map(|n| {
                let rapid = &rapid;
                s.spawn(move || rapid.invoke_json(&json!({"action": "hold", "group": 2, "n": n})))
            })
            .collect();
        both.into_iter()
            .map(|b| request_id(&b.join().unwrap()))
            .collect()
    });
    for id in &ids {
        let received = subscriber.wait_for_event("platform.report", id);
        for kind in ["platform.start", "platform.runtimeDone"] {
            assert!(
                received
                    .iter()
                    .any(|r| r["type"] == kind && r["record"]["requestId"] == *id),
                "no {kind} of {id}: {received:#?}"
            );
        }
    }
}

#[test]
fn awslambdaric_workers_serve_boto3_invokes_side_by_side() {
    // The real Python client in its Managed Instances mode: one worker
    // process per slot; each invoke waits until three have arrived.
    let (cmd, env) = awslambdaric_command("handlers.meet");
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.push(("AWS_LAMBDA_MAX_CONCURRENCY", "3"));
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let rapid = Rapid::start(&args, &all);
    let meeting = unique_path("meeting");
    std::fs::create_dir_all(&meeting).expect("a meeting directory");
    let payload = json!({"dir": meeting, "group": 3}).to_string();
    let results = boto_invoke(
        &rapid.url(),
        &["--payload", &payload, "--concurrency", "3", "--distinct"],
    );
    let mut pids = HashSet::new();
    let mut ns = HashSet::new();
    for result in &results {
        assert_eq!(result["StatusCode"], 200, "{result}");
        assert!(result["FunctionError"].is_null(), "{result}");
        let body: Value =
            serde_json::from_str(result["Payload"].as_str().expect("a payload")).expect("JSON");
        assert_eq!(body["request_id"], result["RequestId"], "{body}");
        assert_eq!(body["met"], 3, "{body}");
        pids.insert(body["pid"].as_u64().expect("a pid"));
        ns.insert(body["event"]["n"].as_u64().expect("n"));
    }
    assert_eq!(ns.len(), 3, "{results:?}");
    assert_eq!(pids.len(), 3, "three worker processes: {results:?}");
    let _ = std::fs::remove_dir_all(&meeting);
}

#[test]
fn past_k_running_and_the_queue_an_invoke_is_throttled() {
    // Two run at once, none may wait: the third is throttled.
    let rapid = concurrent(
        &["--max-queued", "0"],
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")],
    );
    let gates = [gate(), gate()];
    thread::scope(|s| {
        let running: Vec<_> = gates
            .iter()
            .map(|gate| {
                let rapid = &rapid;
                s.spawn(move || rapid.invoke_json(&json!({"action": "late", "gate": gate})))
            })
            .collect();
        rapid.wait_for_stdout_n(|l| l.starts_with("handling "), 3, WAIT);
        let third = rapid.invoke(br#"{"action":"echo"}"#, &[]);
        assert_eq!(third.status, 429, "{third:?}");
        assert_eq!(
            third.header("x-amzn-errortype"),
            Some("TooManyRequestsException")
        );
        for gate in &gates {
            open_gate(gate);
        }
        for r in running {
            assert_success(&r.join().unwrap());
        }
    });
    assert_success(&rapid.invoke(br#"{"action":"echo"}"#, &[]));
}

#[test]
fn with_a_pool_each_sandbox_takes_k_invokes_before_another_starts() {
    // Two sandboxes of two: four run at once, two in each; a fifth has
    // nowhere to go.
    let rapid = concurrent(
        &["--max-sandboxes", "2", "--max-queued", "0"],
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")],
    );
    let gates: Vec<PathBuf> = (0..4).map(|_| gate()).collect();
    thread::scope(|s| {
        let running: Vec<_> = gates
            .iter()
            .map(|gate| {
                let rapid = &rapid;
                s.spawn(move || rapid.invoke_json(&json!({"action": "late", "gate": gate})))
            })
            .collect();
        // The first echo, then the four.
        rapid.wait_for_stdout_n(|l| l.starts_with("handling "), 5, WAIT);
        let fifth = rapid.invoke(br#"{"action":"echo"}"#, &[]);
        assert_eq!(fifth.status, 429, "{fifth:?}");
        for gate in &gates {
            open_gate(gate);
        }
        let mut per_sandbox = std::collections::HashMap::new();
        let mut pids = HashSet::new();
        for r in running {
            let resp = r.join().unwrap();
            pids.insert(assert_success(&resp)["pid"].as_u64().expect("a pid"));
            let sandbox = resp.header("x-rapid-sandbox").expect("the sandbox header");
            *per_sandbox.entry(sandbox.to_owned()).or_insert(0) += 1;
        }
        assert_eq!(pids.len(), 2, "two runtimes: {pids:?}");
        assert_eq!(per_sandbox.get("0"), Some(&2), "{per_sandbox:?}");
        assert_eq!(per_sandbox.get("1"), Some(&2), "{per_sandbox:?}");
    });
}

#[test]
fn a_streamed_answer_is_an_invoke_of_its_own_too() {
    // The stdlib streaming runtime (one poll at a time) in the mode: a
    // stream and a stream cut by an error, each answered and reported.
    let cmd = streaming_command();
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let rapid = Rapid::start(&args, &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")]);
    let streamed = boto_stream(
        &rapid.url(),
        &[
            "--payload",
            r#"{"action":"stream","chunks":["one ","two"]}"#,
        ],
    );
    assert_eq!(streamed["chunks"], json!(["one ", "two"]), "{streamed}");
    let cut = json!({"action": "trailers", "errorType": "Function.MidStream", "partial": "half"});
    let failed = boto_stream(&rapid.url(), &["--payload", &cut.to_string()]);
    assert_eq!(failed["chunks"], json!(["half"]), "{failed}");
    assert_eq!(
        failed["InvokeComplete"]["ErrorCode"], "Function.MidStream",
        "{failed}"
    );
    let reports = rapid.wait_for_stdout_n(|l| l.starts_with("REPORT RequestId: "), 2, WAIT);
    assert!(reports[1].contains("Status: error"), "{reports:?}");
    assert!(!reports[0].contains("Status:"), "{reports:?}");
}

#[test]
fn a_timed_out_invoke_holds_its_slot_until_its_worker_polls_again() {
    // Issue 22, 1: both workers of sandbox 0 are still inside timed-out
    // invokes, so sandbox 0 has no free slot: new invokes go to sandbox 1,
    // never to a sandbox where no worker will take them.
    let rapid = concurrent(
        &["--max-sandboxes", "2"],
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "2"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "1"),
        ],
    );
    let stuck: Vec<PathBuf> = (0..4).map(|_| gate()).collect();
    thread::scope(|s| {
        let timed_out: Vec<_> = stuck[..2]
            .iter()
            .map(|gate| {
                let rapid = &rapid;
                s.spawn(move || rapid.invoke_json(&json!({"action": "late", "gate": gate})))
            })
            .collect();
        for t in timed_out {
            let resp = t.join().unwrap();
            assert_function_error(&resp, "Sandbox.Timedout");
            assert_eq!(resp.header("x-rapid-sandbox"), Some("0"), "{resp:?}");
        }
        let echoes: Vec<_> = (0..3)
            .map(|_| {
                let rapid = &rapid;
                s.spawn(move || rapid.invoke(br#"{"action":"echo"}"#, &[]))
            })
            .collect();
        for e in echoes {
            let resp = e.join().unwrap();
            assert_success(&resp);
            assert_eq!(
                resp.header("x-rapid-sandbox"),
                Some("1"),
                "sent to a sandbox whose workers are all inside timed-out invokes: {resp:?}"
            );
        }
        // Sandbox 1's workers get stuck too: nowhere is a slot free, and an
        // invoke waits no longer than its own timeout.
        let more: Vec<_> = stuck[2..]
            .iter()
            .map(|gate| {
                let rapid = &rapid;
                s.spawn(move || rapid.invoke_json(&json!({"action": "late", "gate": gate})))
            })
            .collect();
        for t in more {
            let resp = t.join().unwrap();
            assert_function_error(&resp, "Sandbox.Timedout");
            assert_eq!(resp.header("x-rapid-sandbox"), Some("1"), "{resp:?}");
        }
        let waited = rapid.invoke(br#"{"action":"echo"}"#, &[]);
        let body = assert_function_error(&waited, "Sandbox.Timedout");
        assert!(
            body["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("Task timed out after 1.00 seconds")),
            "{body}"
        );
    });
    // The workers come back (their late answers refused): the slots free.
    for gate in &stuck {
        open_gate(gate);
    }
    rapid.wait_for_stdout_n(|l| l == "late response status: 410", 4, WAIT);
    let mut served = HashSet::new();
    for _ in 0..4 {
        let resp = rapid.invoke(br#"{"action":"echo"}"#, &[]);
        assert_success(&resp);
        served.insert(resp.header("x-rapid-sandbox").map(str::to_owned));
    }
    assert!(!served.is_empty());
}

#[test]
fn an_invoke_waiting_for_a_worker_times_out_on_its_own_clock() {
    // Issue 22, 1: one sandbox, both workers inside timed-out invokes: the
    // next invoke waits for a poll that never comes, and is answered at its
    // own timeout, not never.
    let rapid = concurrent(
        &[],
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "2"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "1"),
        ],
    );
    let pid = runtime_pid(&rapid);
    let stuck: Vec<PathBuf> = (0..2).map(|_| gate()).collect();
    thread::scope(|s| {
        let timed_out: Vec<_> = stuck
            .iter()
            .map(|gate| {
                let rapid = &rapid;
                s.spawn(move || rapid.invoke_json(&json!({"action": "late", "gate": gate})))
            })
            .collect();
        for t in timed_out {
            assert_function_error(&t.join().unwrap(), "Sandbox.Timedout");
        }
    });
    let waited = rapid.invoke(br#"{"action":"echo"}"#, &[]);
    let body = assert_function_error(&waited, "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("Task timed out after 1.00 seconds")),
        "{body}"
    );
    let report = rapid.wait_for_report(&request_id(&waited));
    assert_eq!(report.get("Status"), Some("timeout"), "{}", report.line);
    // Once a worker is back, invokes run again in the same runtime.
    for gate in &stuck {
        open_gate(gate);
    }
    rapid.wait_for_stdout_n(|l| l == "late response status: 410", 2, WAIT);
    let after = rapid.invoke(br#"{"action":"echo"}"#, &[]);
    assert_eq!(
        assert_success(&after)["pid"],
        pid,
        "the runtime was replaced"
    );
}
