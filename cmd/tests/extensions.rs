//! External extensions (spec §1, §4, §5): discovery, environment, the
//! Extensions API and its errors, and how extensions take part in init,
//! invokes, resets and shutdown. Driven with the scripted extension
//! (testdata/extensions/scripted.py) and `ext-recorder`, built on the real
//! `lambda-extension` crate (testdata/rust-ext), beside the scripted runtime.
//!
//! The extensions append what they see to a record file (`Records`); tests
//! wait for those records, for rapid's output and for answers, never for time.

mod common;

use std::thread;

use common::extensions::{assert_api_error, ExtDir, Records};
use common::*;
use serde_json::{json, Value};

const READY: &str = "scripted runtime ready";
const ARN: &str = "arn:aws:lambda:us-east-1:012345678912:function:test_function";
const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// rapid running the scripted runtime with the extensions in `dir`, which
/// record to `records` and behave as `config` says (see scripted.py).
fn start(
    dir: &ExtDir,
    records: &Records,
    config: Value,
    flags: &[&str],
    env: &[(&str, &str)],
) -> Rapid {
    let config = config.to_string();
    let mut all_flags = vec!["--extensions-dir", dir.as_str()];
    all_flags.extend_from_slice(flags);
    let mut all_env = vec![
        ("EXT_RECORD_FILE", records.as_str()),
        ("EXT_CONFIG", config.as_str()),
    ];
    all_env.extend_from_slice(env);
    Rapid::scripted(&all_flags, &all_env)
}

/// SIGTERM to rapid: it must exit 0 and leave no process behind, neither an
/// extension that ever started nor anything of its tree at the signal.
fn finish(rapid: &Rapid, records: &Records) {
    let tree = descendants(rapid.pid());
    rapid.signal(Signal::SIGTERM);
    let status = rapid.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    records.assert_all_gone();
    let left: Vec<u32> = tree.into_iter().filter(|p| !process_is_gone(*p)).collect();
    assert!(left.is_empty(), "processes outlived rapid: {left:?}");
}

/// Invokes `event`, asserts success and returns the request id and body.
fn invoke_ok(rapid: &Rapid, event: &Value) -> (String, Value) {
    let resp = rapid.invoke_json(event);
    let body = assert_success(&resp);
    (request_id(&resp), body)
}

fn runtime_pid(body: &Value) -> u32 {
    body["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("the scripted runtime answers its pid: {body}")) as u32
}

fn ms(record: &Value, key: &str) -> u64 {
    record[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no numeric {key} in {record}"))
}

/// The processes of rapid's tree that run the scripted runtime.
fn runtime_processes(rapid: &Rapid) -> Vec<u32> {
    descendants(rapid.pid())
        .into_iter()
        .filter(|p| cmdline(*p).is_some_and(|c| c.contains("runtimes/scripted.py")))
        .collect()
}

fn runtime_running(rapid: &Rapid) -> bool {
    !runtime_processes(rapid).is_empty()
}

/// The pid of the one running scripted runtime.
fn runtime_process(rapid: &Rapid) -> u32 {
    match runtime_processes(rapid).as_slice() {
        [pid] => *pid,
        other => panic!("expected one runtime process under rapid, found {other:?}"),
    }
}

/// The process a debug line `extension started pid=N name=X` or `runtime
/// started pid=N` names: (X or "runtime", N).
fn spawn_log(line: &str) -> Option<(String, u32)> {
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(str::to_string)
    };
    let name = if line.contains(" extension started ") {
        field("name=")?
    } else if line.contains(" runtime started ") {
        "runtime".to_string()
    } else {
        return None;
    };
    Some((name, field("pid=")?.parse().ok()?))
}

// ---------------------------------------------------------------------------
// Discovery and registration

#[test]
fn extensions_start_in_name_order_before_the_runtime() {
    let dir = ExtDir::new();
    dir.add_scripted("b-second")
        .add_scripted("a-first")
        .add_recorder("c-recorder")
        .add_file("d-notes", "#!/bin/sh\necho not an extension\n", 0o644);
    std::fs::create_dir(dir.path().join("e-directory")).unwrap();
    let records = Records::new();
    // rapid's debug log names each process as it spawns it, in order.
    let rapid = start(&dir, &records, json!({}), &["--log-level", "debug"], &[]);

    let (_, body) = invoke_ok(&rapid, &json!({}));
    let runtime = runtime_pid(&body);
    rapid.wait_for_stderr(|l| l.contains("runtime started"), WAIT);
    let spawned: Vec<(String, u32)> = rapid.stderr().iter().filter_map(|l| spawn_log(l)).collect();
    let want: Vec<(String, u32)> = [
        ("a-first", records.wait_pid("a-first", 1)),
        ("b-second", records.wait_pid("b-second", 1)),
        ("c-recorder", records.wait_pid("c-recorder", 1)),
        ("runtime", runtime),
    ]
    .into_iter()
    .map(|(name, pid)| (name.to_string(), pid))
    .collect();
    assert_eq!(
        spawned, want,
        "extensions start in name order, then the runtime"
    );
    for ext in ["a-first", "b-second", "c-recorder"] {
        records.wait_kind(ext, "registered", 1);
    }
    assert_eq!(records.pids().len(), 3, "{:#?}", records.all());
    assert_eq!(
        rapid.count_stdout(|l| l.contains("not an extension")),
        0,
        "a file that is not executable is not an extension"
    );
    finish(&rapid, &records);
}

#[test]
fn the_runtime_starts_only_after_every_extension_registered() {
    let dir = ExtDir::new();
    dir.add_scripted("slow").add_scripted("quick");
    let records = Records::new();
    let gate = unique_path("register-gate");
    let rapid = start(
        &dir,
        &records,
        json!({"slow": {"registerGate": gate}}),
        &["--eager-init"],
        &[],
    );
    records.wait_kind("quick", "registered", 1);
    records.wait_kind("slow", "register_gate_waiting", 1);
    // Were the rule broken, the runtime would start now that `quick` is in.
    rapid.assert_no_stdout_during(
        "the runtime started while `slow` had not registered",
        HOLD,
        |l| l == READY,
    );
    assert!(
        !runtime_running(&rapid),
        "the runtime started while `slow` had not registered"
    );

    std::fs::write(&gate, "").unwrap();
    rapid.wait_for_stdout(|l| l == READY, WAIT);
    invoke_ok(&rapid, &json!({}));
    finish(&rapid, &records);
    let _ = std::fs::remove_file(gate);
}

#[test]
fn init_waits_for_every_extension_to_call_next() {
    let dir = ExtDir::new();
    dir.add_scripted("gated");
    let records = Records::new();
    let gate = unique_path("next-gate");
    let rapid = start(&dir, &records, json!({"gated": {"gate": gate}}), &[], &[]);
    thread::scope(|s| {
        let invoke = s.spawn(|| rapid.invoke_json(&json!({"n": 1})));
        records.wait_kind("gated", "gate_waiting", 1);
        rapid.wait_for_stdout(|l| l == READY, WAIT);
        // The runtime is up and asks for its first event at once: were the
        // rule broken, the invoke would start now.
        rapid.assert_no_stdout_during(
            "the invoke started before the extension's first next",
            HOLD,
            |l| logs::start_id(l).is_some(),
        );
        assert!(
            !invoke.is_finished(),
            "the invoke was answered before the extension's first next"
        );
        std::fs::write(&gate, "").unwrap();
        let resp = invoke.join().unwrap();
        assert_success(&resp);
        records.wait_event("gated", "INVOKE", "requestId", &request_id(&resp));
    });
    finish(&rapid, &records);
    let _ = std::fs::remove_file(gate);
}

#[test]
fn extensions_get_the_environment_without_underscore_variables() {
    let dir = ExtDir::new();
    dir.add_scripted("py").add_recorder("rs");
    let records = Records::new();
    let rapid = start(
        &dir,
        &records,
        json!({}),
        &[],
        &[("CUSTOMER_VAR", "customer"), ("_PRIVATE_VAR", "private")],
    );
    let (_, body) = invoke_ok(&rapid, &json!({"action": "headers"}));
    assert!(
        body["env"]["_HANDLER"].is_string(),
        "the runtime has _HANDLER: {body}"
    );

    for ext in ["py", "rs"] {
        let start = records.wait_kind(ext, "start", 1);
        let env = start["env"]
            .as_object()
            .unwrap_or_else(|| panic!("no env in {start}"));
        assert!(
            env.get("_HANDLER").is_none() && env.get("_PRIVATE_VAR").is_none(),
            "{ext} got variables starting with _: {env:?}"
        );
        // rs is exec'd directly; py runs under whatever `python3` on PATH is,
        // which may add variables of its own (pyenv's shims add _PYENV_*).
        if ext == "rs" {
            let underscored: Vec<&String> = env.keys().filter(|k| k.starts_with('_')).collect();
            assert!(
                underscored.is_empty(),
                "{ext} got variables starting with _: {underscored:?}"
            );
        }
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], rapid.api_addr(), "{ext}");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "test_function", "{ext}");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST", "{ext}");
        assert_eq!(env["CUSTOMER_VAR"], "customer", "{ext}");
    }
    finish(&rapid, &records);
}

#[test]
fn register_answers_the_function_and_the_account_id_when_asked() {
    let dir = ExtDir::new();
    dir.add_scripted("with-account")
        .add_scripted("without-account")
        .add_recorder("rust-client");
    let records = Records::new();
    let rapid = start(
        &dir,
        &records,
        json!({"with-account": {"accountId": true}}),
        &[],
        &[],
    );
    let (_, body) = invoke_ok(&rapid, &json!({"action": "headers"}));
    let handler = body["env"]["_HANDLER"].as_str().unwrap().to_string();

    let with = records.wait_kind("with-account", "registered", 1);
    let without = records.wait_kind("without-account", "registered", 1);
    for reg in [&with, &without] {
        assert_eq!(reg["status"], 200, "{reg}");
        assert!(
            logs::is_uuid(reg["id"].as_str().unwrap_or("")),
            "identifier is a UUID: {reg}"
        );
        assert_eq!(reg["body"]["functionName"], "test_function", "{reg}");
        assert_eq!(reg["body"]["functionVersion"], "$LATEST", "{reg}");
        assert_eq!(reg["body"]["handler"], handler.as_str(), "{reg}");
    }
    assert_eq!(with["body"]["accountId"], "012345678912", "{with}");
    assert!(
        without["body"].get("accountId").is_none(),
        "accountId only when asked: {without}"
    );
    assert_ne!(with["id"], without["id"]);

    // lambda-extension always accepts the accountId feature.
    let rust = records.wait_kind("rust-client", "registered", 1);
    assert_eq!(rust["accountId"], "012345678912", "{rust}");
    assert_eq!(rust["functionName"], "test_function", "{rust}");
    assert_eq!(rust["handler"], handler.as_str(), "{rust}");
    finish(&rapid, &records);
}

#[test]
fn extension_output_is_echoed_to_stdout() {
    let dir = ExtDir::new();
    dir.add_scripted("talker");
    let records = Records::new();
    // The directory from the environment this time.
    let rapid = Rapid::scripted(
        &[],
        &[
            ("RAPID_EXTENSIONS_DIR", dir.as_str()),
            ("EXT_RECORD_FILE", records.as_str()),
        ],
    );
    invoke_ok(&rapid, &json!({}));
    let pid = records.wait_pid("talker", 1);
    rapid.wait_for_stdout(|l| l == format!("ext talker: started pid {pid}"), WAIT);
    rapid.wait_for_stdout(|l| l == "ext talker: hello on stderr", WAIT);
    finish(&rapid, &records);
}

#[test]
fn an_extension_that_cannot_start_fails_init_with_launch_error() {
    let dir = ExtDir::new();
    dir.add_scripted("fine")
        .add_file("broken", "#!/nonexistent/interpreter\n", 0o755);
    let records = Records::new();
    let rapid = start(&dir, &records, json!({}), &[], &[]);
    for _ in 0..2 {
        assert_function_error(&rapid.invoke(b"{}", &[]), "Extension.LaunchError");
    }
    finish(&rapid, &records);
}

// ---------------------------------------------------------------------------
// The Extensions API's errors (§5)

#[test]
fn bad_registrations_and_identifiers_answer_403_with_their_type() {
    let dir = ExtDir::new();
    dir.add_scripted("bad");
    let records = Records::new();
    let config = json!({"bad": {
        "before": [
            "register_empty_name",
            "register_bad_json",
            "register_unknown_event",
            "register_internal_shutdown",
        ],
        "after": [
            "register_again",
            "next_missing_id",
            "next_invalid_id",
            "next_unknown_id",
            "init_error_unknown_id",
            "exit_error_invalid_id",
        ],
    }});
    let rapid = start(&dir, &records, config, &[], &[]);
    // None of the refused calls gets in the way of the extension's own.
    let (id, _) = invoke_ok(&rapid, &json!({}));
    records.wait_event("bad", "INVOKE", "requestId", &id);

    let expected = [
        ("register_empty_name", "Extension.InvalidExtensionName"),
        ("register_bad_json", "InvalidRequestFormat"),
        ("register_unknown_event", "Extension.InvalidEventType"),
        ("register_internal_shutdown", "Extension.InvalidEventType"),
        ("register_again", "Extension.InvalidExtensionState"),
        ("next_missing_id", "Extension.MissingExtensionIdentifier"),
        ("next_invalid_id", "Extension.InvalidExtensionIdentifier"),
        ("next_unknown_id", "Extension.UnknownExtensionIdentifier"),
        (
            "init_error_unknown_id",
            "Extension.UnknownExtensionIdentifier",
        ),
        (
            "exit_error_invalid_id",
            "Extension.InvalidExtensionIdentifier",
        ),
    ];
    for (call, error_type) in expected {
        assert_api_error(&records.wait_api("bad", call), 403, error_type);
    }
    finish(&rapid, &records);
}

#[test]
fn an_internal_extension_gets_invoke_but_may_not_register_for_shutdown() {
    let dir = ExtDir::new();
    dir.add_scripted("host");
    let records = Records::new();
    let config = json!({"host": {"after": ["register_internal_shutdown", "internal_agent"]}});
    let rapid = start(&dir, &records, config, &[], &[]);
    let (id, _) = invoke_ok(&rapid, &json!({}));

    assert_api_error(
        &records.wait_api("host", "register_internal_shutdown"),
        403,
        "Extension.InvalidEventType",
    );
    let agent = records.wait_api("host", "internal_agent");
    assert_eq!(agent["status"], 200, "INVOKE alone is fine: {agent}");
    records.wait_event("host-internal", "INVOKE", "requestId", &id);
    records.wait_event("host", "INVOKE", "requestId", &id);

    finish(&rapid, &records);
    assert!(
        records.events("host-internal", "SHUTDOWN").is_empty(),
        "{:#?}",
        records.all()
    );
    assert_eq!(records.events("host", "SHUTDOWN").len(), 1);
}

#[test]
fn the_eleventh_extension_is_too_many() {
    let dir = ExtDir::new();
    let names: Vec<String> = (0..10).map(|i| format!("ext-{i:02}")).collect();
    for name in &names {
        dir.add_scripted(name);
    }
    let records = Records::new();
    // ext-09 registers an eleventh (internal) extension once all ten are in.
    let config = json!({"ext-09": {"after": ["wait_registered:10", "register_extra"]}});
    let rapid = start(&dir, &records, config, &[], &[]);
    let (id, _) = invoke_ok(&rapid, &json!({}));

    let waited = records.wait_kind("ext-09", "waited", 1);
    assert_eq!(waited["found"], true, "all ten registered: {waited}");
    assert_api_error(
        &records.wait_api("ext-09", "register_extra"),
        403,
        "Extension.TooManyExtensions",
    );
    for name in &names {
        records.wait_event(name, "INVOKE", "requestId", &id);
    }
    finish(&rapid, &records);
}

#[test]
fn eleven_extension_files_are_one_too_many_and_init_fails() {
    let dir = ExtDir::new();
    for i in 0..11 {
        dir.add_scripted(&format!("ext-{i:02}"));
    }
    let records = Records::new();
    let rapid = start(&dir, &records, json!({}), &[], &[]);
    // The refused extension exits (as extensions do when they cannot
    // register), which fails init.
    assert_function_error(&rapid.invoke(b"{}", &[]), "Extension.Crash");
    let refused = records.wait("a refused registration", |r| {
        r["kind"] == "api" && r["call"] == "register"
    });
    assert_api_error(&refused, 403, "Extension.TooManyExtensions");
    finish(&rapid, &records);
    let refusals = records
        .all()
        .iter()
        .filter(|r| r["kind"] == "api" && r["call"] == "register")
        .count();
    assert_eq!(refusals, 1, "{:#?}", records.all());
}

#[test]
fn registration_closes_when_the_runtime_first_calls_next() {
    let dir = ExtDir::new();
    dir.add_scripted("late");
    let records = Records::new();
    let config = json!({"late": {"onInvoke": "late_register"}});
    let rapid = start(&dir, &records, config, &[], &[]);
    invoke_ok(&rapid, &json!({}));
    assert_api_error(
        &records.wait_api("late", "late_register"),
        403,
        "Extension.RegistrationClosed",
    );

    // From outside any extension, too.
    let resp = rapid.api_request(
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "latecomer")],
        br#"{"events":["INVOKE"]}"#,
    );
    assert_eq!(resp.status, 403, "{resp:?}");
    assert_eq!(resp.json()["errorType"], "Extension.RegistrationClosed");
    // The sandbox still serves.
    invoke_ok(&rapid, &json!({}));
    finish(&rapid, &records);
}

// ---------------------------------------------------------------------------
// Invokes

#[test]
fn invoke_event_carries_the_request_trace_and_a_future_deadline() {
    let dir = ExtDir::new();
    dir.add_scripted("py").add_recorder("rs");
    let records = Records::new();
    let rapid = start(&dir, &records, json!({}), &[], &[]);

    let resp = rapid.invoke(br#"{"action":"headers"}"#, &[("X-Amzn-Trace-Id", TRACE)]);
    let body = assert_success(&resp);
    let id = request_id(&resp);
    let runtime_deadline: u64 = body["headers"]["lambda-runtime-deadline-ms"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no deadline in {body}"));
    for ext in ["py", "rs"] {
        let event = records.wait_event(ext, "INVOKE", "requestId", &id);
        assert_eq!(ms(&event, "deadlineMs"), runtime_deadline, "{ext}: {event}");
        assert!(
            ms(&event, "deadlineMs") > ms(&event, "ms"),
            "{ext}: the deadline is in the future: {event}"
        );
        assert_eq!(event["invokedFunctionArn"], ARN, "{ext}: {event}");
        assert_eq!(
            event["tracing"]["type"], "X-Amzn-Trace-Id",
            "{ext}: {event}"
        );
        assert_eq!(event["tracing"]["value"], TRACE, "{ext}: {event}");
    }
    let py = records.wait_event("py", "INVOKE", "requestId", &id);
    assert!(
        logs::is_uuid(py["eventId"].as_str().unwrap_or("")),
        "Lambda-Extension-Event-Identifier: {py}"
    );

    // One INVOKE per invoke, each with its own request id.
    let (second, _) = invoke_ok(&rapid, &json!({}));
    assert_ne!(second, id);
    for ext in ["py", "rs"] {
        records.wait_event(ext, "INVOKE", "requestId", &second);
        assert_eq!(records.events(ext, "INVOKE").len(), 2, "{ext}");
    }
    finish(&rapid, &records);
}

#[test]
fn the_invoker_is_answered_while_an_extension_works_and_the_next_invoke_waits_for_it() {
    let dir = ExtDir::new();
    dir.add_recorder("busy").add_scripted("quick");
    let records = Records::new();
    let delay = unique_path("invoke-delay");
    let rapid = start(
        &dir,
        &records,
        json!({}),
        &[],
        &[("EXT_INVOKE_DELAY_FILE", delay.to_str().unwrap())],
    );

    let (first, _) = invoke_ok(&rapid, &json!({"n": 1}));
    records.wait_event("busy", "INVOKE", "requestId", &first);
    assert!(
        records.of("busy", "released").is_empty(),
        "the answer came before the extension was done"
    );

    thread::scope(|s| {
        let second = s.spawn(|| rapid.invoke_json(&json!({"n": 2})));
        // The runtime is waiting, so were the rule broken the second invoke
        // would start as soon as it arrives.
        rapid.assert_no_stdout_during(
            "the second invoke started while `busy` was still on the first",
            HOLD,
            |l| logs::start_id(l).is_some_and(|id| id != first),
        );
        let ran_early = second.is_finished()
            || records
                .events("quick", "INVOKE")
                .iter()
                .any(|e| e["requestId"] != first.as_str());
        assert!(
            !ran_early,
            "the second invoke ran while `busy` was still on the first"
        );
        std::fs::write(&delay, "").unwrap();
        let resp = second.join().unwrap();
        assert_eq!(assert_success(&resp)["n"], 2);
        let second_id = request_id(&resp);

        let released = records.wait_kind("busy", "released", 1);
        assert_eq!(released["requestId"], first.as_str(), "{released}");
        assert_eq!(released["delayFileFound"], true, "{released}");
        records.wait_event("quick", "INVOKE", "requestId", &second_id);
        // `busy` wrote `released` before it called next; only then could the
        // second invoke reach any extension.
        let all = records.all();
        let pos = |pred: &dyn Fn(&Value) -> bool| all.iter().position(pred).unwrap();
        let released_at = pos(&|r| r["ext"] == "busy" && r["kind"] == "released");
        let second_at = pos(&|r| {
            r["ext"] == "quick" && r["kind"] == "event" && r["requestId"] == second_id.as_str()
        });
        assert!(released_at < second_at, "{all:#?}");
    });
    finish(&rapid, &records);
    let _ = std::fs::remove_file(delay);
}

#[test]
fn with_a_pool_a_sandbox_stays_taken_until_its_extensions_are_done() {
    // A sandbox goes back to the pool when its invoke is complete, not when
    // its caller has the answer: an invoke sent right after the first one's
    // answer, while `busy` still works on it, runs in another sandbox.
    let dir = ExtDir::new();
    dir.add_recorder("busy");
    let records = Records::new();
    let delay = unique_path("pool-invoke-delay");
    let rapid = start(
        &dir,
        &records,
        json!({}),
        &["--max-sandboxes", "2"],
        &[("EXT_INVOKE_DELAY_FILE", delay.to_str().unwrap())],
    );
    let first = rapid.invoke_json(&json!({"n": 1}));
    assert_success(&first);
    assert_eq!(first.header("x-rapid-sandbox"), Some("0"), "{first:?}");
    records.wait_event("busy", "INVOKE", "requestId", &request_id(&first));
    assert!(
        records.of("busy", "released").is_empty(),
        "the answer came before the extension was done"
    );
    let second = rapid.invoke_json(&json!({"n": 2}));
    assert_success(&second);
    assert_eq!(
        second.header("x-rapid-sandbox"),
        Some("1"),
        "sent to the sandbox whose extension was still busy: {second:?}"
    );
    std::fs::write(&delay, b"").expect("the delay file");
    records.wait_kind("busy", "released", 2);
    finish(&rapid, &records);
    let _ = std::fs::remove_file(delay);
}

#[test]
fn end_and_report_wait_for_every_extension_to_call_next() {
    let dir = ExtDir::new();
    dir.add_recorder("busy").add_scripted("quick");
    let records = Records::new();
    let delay = unique_path("report-delay");
    let rapid = start(
        &dir,
        &records,
        json!({}),
        &[],
        &[
            ("EXT_INVOKE_DELAY_FILE", delay.to_str().unwrap()),
            ("SCRIPTED_ANNOUNCE_NEXT", "1"),
        ],
    );
    let (id, _) = invoke_ok(&rapid, &json!({}));
    records.wait_event("busy", "INVOKE", "requestId", &id);
    records.wait_kind("quick", "released", 1);
    // The runtime answered and asks for its next event (its second "asking
    // for next"); `quick` is done too. Only `busy` holds the invoke open:
    // were the rule broken, END and REPORT would follow within milliseconds.
    rapid.wait_for_stdout_n(|l| l == "asking for next", 2, WAIT);
    let end_or_report =
        |l: &str| logs::end_id(l) == Some(id.as_str()) || logs::is_report_of(l, &id);
    rapid.assert_no_stdout_during(
        "END/REPORT came while `busy` had not called next after INVOKE",
        HOLD,
        end_or_report,
    );
    assert!(
        records.of("busy", "released").is_empty(),
        "`busy` was released before the test opened its gate"
    );

    std::fs::write(&delay, "").unwrap();
    let report = rapid.wait_for_report(&id);
    assert_eq!(report.get("Status"), None, "{}", report.line);
    let released = records.wait_kind("busy", "released", 1);
    assert_eq!(released["delayFileFound"], true, "{released}");
    let lines = rapid.stdout();
    let end = lines
        .iter()
        .position(|l| logs::end_id(l) == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no END for {id}: {lines:#?}"));
    let report_at = lines
        .iter()
        .position(|l| logs::is_report_of(l, &id))
        .expect("waited for above");
    assert!(end < report_at, "END before REPORT: {lines:#?}");
    finish(&rapid, &records);
    let _ = std::fs::remove_file(delay);
}

// ---------------------------------------------------------------------------
// Failures and resets

/// An extension that exits during init fails the invoke with Extension.Crash;
/// the next invoke starts everything again and succeeds.
fn crash_in_init_then_recover(init: &str) {
    let dir = ExtDir::new();
    dir.add_scripted("crashy").add_scripted("watch");
    let records = Records::new();
    let once = unique_path("crash-once");
    let config = json!({"crashy": {"init": init, "once": once}});
    let rapid = start(&dir, &records, config, &[], &[]);

    assert_function_error(&rapid.invoke(b"{}", &[]), "Extension.Crash");
    let crashed = records.wait_pid("crashy", 1);

    let (id, _) = invoke_ok(&rapid, &json!({"second": true}));
    assert_ne!(records.wait_pid("crashy", 2), crashed);
    records.wait_event("crashy", "INVOKE", "requestId", &id);
    records.wait_event("watch", "INVOKE", "requestId", &id);
    // Every process of the failed init is gone: the crashed one and `watch`
    // (which may have been killed before it wrote anything).
    for ext in ["crashy", "watch"] {
        let mut pids: Vec<u32> = records
            .of(ext, "start")
            .iter()
            .filter_map(|r| r["pid"].as_u64())
            .map(|p| p as u32)
            .collect();
        pids.pop(); // the one serving now
        for pid in pids {
            assert!(
                process_is_gone(pid),
                "{ext} {pid} of the failed init survived"
            );
        }
    }
    finish(&rapid, &records);
    let _ = std::fs::remove_file(once);
}

#[test]
fn an_extension_exiting_before_it_registers_fails_init_with_extension_crash() {
    crash_in_init_then_recover("crash_before_register");
}

#[test]
fn an_extension_exiting_after_it_registered_fails_init_with_extension_crash() {
    crash_in_init_then_recover("crash");
}

#[test]
fn extension_init_error_fails_init_with_extension_init_error_then_init_is_retried() {
    let dir = ExtDir::new();
    dir.add_scripted("picky");
    let records = Records::new();
    let once = unique_path("init-error-once");
    let config = json!({"picky": {"init": "init_error", "once": once}});
    let rapid = start(&dir, &records, config, &[], &[]);

    assert_function_error(&rapid.invoke(b"{}", &[]), "Extension.InitError");
    let answer = records.wait_api("picky", "init_error");
    assert_eq!(answer["status"], 202, "{answer}");
    let first = records.wait_pid("picky", 1);

    let (id, _) = invoke_ok(&rapid, &json!({}));
    records.wait_event("picky", "INVOKE", "requestId", &id);
    assert!(
        process_is_gone(first),
        "the extension {first} that failed init must be killed"
    );
    finish(&rapid, &records);
    let _ = std::fs::remove_file(once);
}

#[test]
fn an_extension_that_never_finishes_init_times_it_out_and_is_killed() {
    let dir = ExtDir::new();
    dir.add_scripted("stuck");
    let records = Records::new();
    let gate = unique_path("stuck-gate");
    let rapid = start(
        &dir,
        &records,
        json!({"stuck": {"gate": gate}}),
        // Long enough for the retry's extension and runtime to start on a
        // busy machine; the first init never gets there.
        &["--init-timeout", "3"],
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "30")],
    );
    let resp = rapid.invoke(b"{}", &[]);
    let body = assert_function_error(&resp, "Sandbox.Timedout");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("timed out after"),
        "{body}"
    );
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), Some("timeout"), "{}", report.line);
    let stuck = records.wait_pid("stuck", 1);

    // Let the next one through: the retry starts a new extension.
    std::fs::write(&gate, "").unwrap();
    let (id, _) = invoke_ok(&rapid, &json!({}));
    records.wait_event("stuck", "INVOKE", "requestId", &id);
    assert!(
        process_is_gone(stuck),
        "the extension {stuck} stuck in init must be killed"
    );
    finish(&rapid, &records);
    let _ = std::fs::remove_file(gate);
}

#[test]
fn an_extension_crashing_during_an_invoke_fails_it_and_resets() {
    let dir = ExtDir::new();
    dir.add_scripted("crashy").add_recorder("watch");
    let records = Records::new();
    let once = unique_path("invoke-crash-once");
    let config = json!({"crashy": {"onInvoke": "crash", "once": once}});
    let rapid = start(&dir, &records, config, &["--eager-init"], &[]);
    rapid.wait_for_stdout(|l| l == READY, WAIT);
    let hung_runtime = runtime_process(&rapid);

    // The runtime never answers (it may not even have read the event when
    // the reset kills it): only the extension's crash ends the invoke.
    let resp = rapid.invoke(br#"{"action":"hang"}"#, &[]);
    let id = request_id(&resp);
    assert_function_error(&resp, "Extension.Crash");
    records.wait_event("watch", "SHUTDOWN", "shutdownReason", "failure");
    let report = rapid.wait_for_report(&id);
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    let crashed = records.wait_pid("crashy", 1);
    let first_watch = records.wait_pid("watch", 1);

    let (second, body) = invoke_ok(&rapid, &json!({}));
    assert_ne!(runtime_pid(&body), hung_runtime);
    records.wait_event("crashy", "INVOKE", "requestId", &second);
    records.wait_event("watch", "INVOKE", "requestId", &second);
    for pid in [hung_runtime, crashed, first_watch] {
        assert!(process_is_gone(pid), "{pid} survived the reset");
    }
    finish(&rapid, &records);
    let _ = std::fs::remove_file(once);
}

#[test]
fn an_extension_crashing_after_the_response_resets_before_the_next_invoke() {
    let dir = ExtDir::new();
    dir.add_scripted("crashy").add_scripted("watch");
    let records = Records::new();
    let once = unique_path("late-crash-once");
    let delay = unique_path("late-crash-delay");
    let config = json!({"crashy": {"onInvoke": "delay_then_crash", "once": once}});
    let rapid = start(
        &dir,
        &records,
        config,
        &[],
        &[("EXT_INVOKE_DELAY_FILE", delay.to_str().unwrap())],
    );

    // The runtime answered; the extension crashes afterwards.
    let (first, body) = invoke_ok(&rapid, &json!({}));
    let first_runtime = runtime_pid(&body);
    records.wait_event("crashy", "INVOKE", "requestId", &first);
    std::fs::write(&delay, "").unwrap();
    records.wait_kind("crashy", "crashing", 1);
    records.wait_event("watch", "SHUTDOWN", "shutdownReason", "failure");
    // The crashed extension is handed no SHUTDOWN: its table refuses an
    // event once it exited, and rapid does not try.
    let refused: Vec<String> = rapid
        .stderr()
        .into_iter()
        .filter(|l| l.contains("is not allowed"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");

    let (second, body) = invoke_ok(&rapid, &json!({}));
    assert_ne!(
        runtime_pid(&body),
        first_runtime,
        "a new runtime after the reset"
    );
    records.wait_event("crashy", "INVOKE", "requestId", &second);
    assert!(process_is_gone(first_runtime));
    finish(&rapid, &records);
    let _ = std::fs::remove_file(once);
    let _ = std::fs::remove_file(delay);
}

#[test]
fn an_extension_busy_past_the_deadline_times_out_and_resets() {
    let dir = ExtDir::new();
    dir.add_scripted("hanger").add_scripted("watch");
    let records = Records::new();
    let once = unique_path("hang-once");
    let config = json!({"hanger": {"onInvoke": "hang", "once": once}});
    // The runtime must answer within the timeout: 3 s leaves a loaded
    // machine room for that.
    let rapid = start(
        &dir,
        &records,
        config,
        &[],
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")],
    );

    // The runtime answers at once; the extension never calls next again.
    let (first, body) = invoke_ok(&rapid, &json!({}));
    let first_runtime = runtime_pid(&body);
    let hanging = records.wait_kind("hanger", "hanging", 1);
    assert_eq!(hanging["requestId"], first.as_str());
    let shutdown = records.wait_event("watch", "SHUTDOWN", "shutdownReason", "timeout");
    assert!(
        ms(&shutdown, "deadlineMs") > ms(&shutdown, "ms"),
        "SHUTDOWN deadline in the future: {shutdown}"
    );
    let hung = ms(&hanging, "pid") as u32;
    let report = rapid.wait_for_report(&first);
    assert_eq!(report.get("Status"), Some("timeout"), "{}", report.line);

    let (second, body) = invoke_ok(&rapid, &json!({}));
    assert_ne!(runtime_pid(&body), first_runtime);
    records.wait_event("hanger", "INVOKE", "requestId", &second);
    for pid in [hung, first_runtime] {
        assert!(process_is_gone(pid), "{pid} survived the timeout reset");
    }
    finish(&rapid, &records);
    let _ = std::fs::remove_file(once);
}

#[test]
fn a_runtime_timeout_sends_shutdown_timeout_to_extensions() {
    let dir = ExtDir::new();
    dir.add_scripted("py").add_recorder("rs");
    let records = Records::new();
    let rapid = start(
        &dir,
        &records,
        json!({}),
        &["--eager-init"],
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")],
    );
    rapid.wait_for_stdout(|l| l == READY, WAIT);
    let hung = runtime_process(&rapid);
    let resp = rapid.invoke(br#"{"action":"hang"}"#, &[]);
    assert_function_error(&resp, "Sandbox.Timedout");
    for ext in ["py", "rs"] {
        let shutdown = records.wait_event(ext, "SHUTDOWN", "shutdownReason", "timeout");
        assert!(
            ms(&shutdown, "deadlineMs") > ms(&shutdown, "ms"),
            "{ext}: SHUTDOWN deadline in the future: {shutdown}"
        );
    }
    let old = [records.wait_pid("py", 1), records.wait_pid("rs", 1), hung];
    let (id, body) = invoke_ok(&rapid, &json!({}));
    assert_ne!(runtime_pid(&body), hung, "a new runtime after the reset");
    records.wait_event("py", "INVOKE", "requestId", &id);
    records.wait_event("rs", "INVOKE", "requestId", &id);
    for pid in old {
        assert!(process_is_gone(pid), "{pid} survived the timeout reset");
    }
    finish(&rapid, &records);
}

// ---------------------------------------------------------------------------
// Shutdown

#[test]
fn sigterm_sends_shutdown_spindown_after_the_runtime_is_gone() {
    let dir = ExtDir::new();
    dir.add_scripted("py")
        .add_recorder("rs")
        .add_scripted("invoke-only")
        .add_scripted("shutdown-only");
    let records = Records::new();
    let config = json!({
        "invoke-only": {"events": ["INVOKE"]},
        "shutdown-only": {"events": ["SHUTDOWN"]},
    });
    let rapid = start(&dir, &records, config, &[], &[]);
    let (id, body) = invoke_ok(&rapid, &json!({}));
    let runtime = runtime_pid(&body);
    // The REPORT comes once every extension is done with the invoke.
    rapid.wait_for_report(&id);

    finish(&rapid, &records);
    for ext in ["py", "rs", "shutdown-only"] {
        let shutdown = records.wait_event(ext, "SHUTDOWN", "shutdownReason", "spindown");
        assert!(
            ms(&shutdown, "deadlineMs") > ms(&shutdown, "ms"),
            "{ext}: SHUTDOWN deadline in the future: {shutdown}"
        );
    }
    assert!(
        records.events("invoke-only", "SHUTDOWN").is_empty(),
        "SHUTDOWN only to those registered for it"
    );
    assert!(
        records.events("shutdown-only", "INVOKE").is_empty(),
        "INVOKE only to those registered for it"
    );
    // The runtime got SIGTERM first: gone (or a zombie) before SHUTDOWN.
    let shutdown = records.wait_event("py", "SHUTDOWN", "shutdownReason", "spindown");
    let siblings = shutdown["siblings"].as_array().expect("siblings listed");
    assert!(
        !siblings
            .iter()
            .any(|p| p["pid"] == runtime && p["state"] != "Z"),
        "the runtime {runtime} still ran when extensions got SHUTDOWN: {siblings:#?}"
    );
    assert!(process_is_gone(runtime), "runtime {runtime} outlived rapid");
}

#[test]
fn sigterm_while_an_extension_is_busy_after_the_response_sends_spindown() {
    let dir = ExtDir::new();
    dir.add_recorder("busy").add_scripted("watch");
    let records = Records::new();
    let delay = unique_path("busy-at-sigterm");
    let rapid = start(
        &dir,
        &records,
        json!({}),
        &[],
        &[("EXT_INVOKE_DELAY_FILE", delay.to_str().unwrap())],
    );
    let (id, _) = invoke_ok(&rapid, &json!({}));
    records.wait_event("busy", "INVOKE", "requestId", &id);
    records.wait_kind("watch", "released", 1);

    // The invoke is not over (busy works on), yet this is a plain shutdown.
    rapid.signal(Signal::SIGTERM);
    let shutdown = records.wait("watch SHUTDOWN", |r| {
        r["ext"] == "watch" && r["kind"] == "event" && r["eventType"] == "SHUTDOWN"
    });
    std::fs::write(&delay, "").unwrap();
    let status = rapid.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    records.assert_all_gone();
    assert_eq!(shutdown["shutdownReason"], "spindown", "{shutdown}");
    let _ = std::fs::remove_file(delay);
}

#[test]
fn sigterm_while_the_runtime_works_on_an_invoke_sends_spindown() {
    let dir = ExtDir::new();
    dir.add_recorder("rs");
    let records = Records::new();
    let rapid = start(&dir, &records, json!({}), &[], &[]);
    thread::scope(|s| {
        let invoke = s.spawn(|| rapid.try_invoke(br#"{"action":"hang"}"#, &[]));
        rapid.wait_for_stdout(|l| l.starts_with("hanging on "), WAIT);
        rapid.signal(Signal::SIGTERM);
        let status = rapid.wait_exit(WAIT);
        assert_eq!(status.code(), Some(0), "{status:?}");
        // The invoker gets an answer or a closed connection, never a hang.
        let result = invoke.join().unwrap();
        assert_answered_or_closed(&result, "the invoke running at SIGTERM");
    });
    records.assert_all_gone();
    let shutdown = records.wait("rs SHUTDOWN", |r| {
        r["ext"] == "rs" && r["kind"] == "event" && r["eventType"] == "SHUTDOWN"
    });
    assert_eq!(shutdown["shutdownReason"], "spindown", "{shutdown}");
}

#[test]
fn sigterm_after_an_eager_init_shuts_extensions_down() {
    let dir = ExtDir::new();
    dir.add_recorder("rs");
    let records = Records::new();
    let rapid = start(&dir, &records, json!({}), &["--eager-init"], &[]);
    records.wait_kind("rs", "registered", 1);
    rapid.wait_for_stdout(|l| l == READY, WAIT);
    finish(&rapid, &records);
    records.wait_event("rs", "SHUTDOWN", "shutdownReason", "spindown");
}

#[test]
fn an_extension_ignoring_shutdown_is_killed_and_rapid_exits_0() {
    let dir = ExtDir::new();
    dir.add_scripted("stubborn").add_recorder("rs");
    let records = Records::new();
    let config = json!({"stubborn": {"onShutdown": "ignore"}});
    let rapid = start(&dir, &records, config, &[], &[]);
    invoke_ok(&rapid, &json!({}));
    let stubborn = records.wait_pid("stubborn", 1);

    // finish() asserts the exit and that `stubborn` is gone.
    finish(&rapid, &records);
    records.wait_kind("stubborn", "ignoring_shutdown", 1);
    assert!(process_is_gone(stubborn));
}

#[test]
fn exit_error_at_shutdown_is_accepted() {
    let dir = ExtDir::new();
    dir.add_scripted("quitter");
    let records = Records::new();
    let config = json!({"quitter": {"onShutdown": "exit_error"}});
    let rapid = start(&dir, &records, config, &[], &[]);
    invoke_ok(&rapid, &json!({}));
    finish(&rapid, &records);
    let answer = records.wait_api("quitter", "exit_error");
    assert_eq!(answer["status"], 202, "{answer}");
}
