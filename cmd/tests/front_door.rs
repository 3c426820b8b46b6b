//! The invoke front door (spec §2) and the log lines around each invoke
//! (§7), driven through the scripted runtime.

mod common;

use std::thread;

use base64::Engine;
use common::logs::assert_init_duration_only_on_the_first;
use common::*;
use serde_json::json;

/// Runs one ordinary invoke and checks that it is the only one that ever
/// started: whatever the test sent before must not have run.
fn assert_only_this_invoke_ran(rapid: &Rapid) {
    let resp = rapid.invoke(br#"{"sentinel":true}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    rapid.wait_for_report(&id);
    let starts: Vec<String> = rapid
        .stdout()
        .into_iter()
        .filter(|l| logs::start_id(l).is_some())
        .collect();
    assert_eq!(
        starts,
        vec![format!("START RequestId: {id} Version: $LATEST")],
        "only the sentinel invoke may have run"
    );
}

#[test]
fn success_returns_the_runtime_body_byte_for_byte() {
    let rapid = Rapid::scripted(&[], &[]);
    let event = br#"[1,  2, {"a" : "b"},"\u00e9"]"#;
    let resp = rapid.invoke(event, &[]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.body, event.to_vec(), "body: {}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.header("x-amz-executed-version"), Some("$LATEST"));
    assert_eq!(resp.header("x-amz-function-error"), None);
    assert!(logs::is_uuid(&request_id(&resp)), "{resp:?}");
}

#[test]
fn object_event_reaches_the_runtime() {
    let rapid = Rapid::scripted(&[], &[]);
    let body = assert_success(&rapid.invoke_json(&json!({"hello": "world", "n": [1, 2]})));
    assert_eq!(body["hello"], "world");
    assert_eq!(body["n"], json!([1, 2]));
    assert!(body["pid"].as_u64().is_some_and(|p| p > 0), "{body}");
}

#[test]
fn runtime_content_type_reaches_the_invoker() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(
        br#"{"responseContentType":"application/vnd.rapid-answer+json"}"#,
        &[],
    );
    assert_success(&resp);
    assert_eq!(
        resp.header("content-type"),
        Some("application/vnd.rapid-answer+json")
    );
}

#[test]
fn any_function_name_is_accepted() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.request(
        "POST",
        "/2015-03-31/functions/some-other-name/invocations",
        &[],
        br#"{"x":1}"#,
    );
    assert_eq!(assert_success(&resp)["x"], 1);
}

#[test]
fn empty_body_is_allowed() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(b"", &[]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("x-amz-function-error"), None, "{}", resp.text());
}

#[test]
fn body_that_is_not_json_is_rejected_and_nothing_runs() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(b"{not json", &[]);
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("InvalidRequestContentException")
    );
    let body = resp.json();
    assert_eq!(body["Type"], "User", "{body}");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("Could not parse request body into json"),
        "{message}"
    );
    assert_only_this_invoke_ran(&rapid);
}

/// The front door's fast JSON pass (`wire::json`) may only ever say
/// "surely valid"; everything else goes to the exact check. End to end:
/// bodies invalid in the ways that pass has shortcuts for are refused and
/// never run; valid ones it leaves to the exact check (deep nesting) or
/// reads fast (long strings, escapes, UTF-8) reach the runtime whole.
#[test]
fn every_invalid_body_is_refused_and_every_valid_one_runs() {
    let rapid = Rapid::scripted(&[], &[]);
    let long = "x".repeat(100);
    let mut invalid: Vec<Vec<u8>> = vec![
        format!("{{\"a\":\"{long}\u{1}{long}\"}}").into_bytes(),
        format!("{{\"a\":\"{long}\tb\"}}").into_bytes(),
        b"{\"a\":1,}".to_vec(),
        b"[01]".to_vec(),
        b"[1.]".to_vec(),
        b"{\"a\" 1}".to_vec(),
        b"{\"a\":\"\\x41\"}".to_vec(),
        b"{} {}".to_vec(),
        b"[nul]".to_vec(),
    ];
    let mut not_utf8 = format!("\"{long}").into_bytes();
    not_utf8.extend_from_slice(&[0xff, b'"']);
    invalid.push(not_utf8);
    for body in &invalid {
        let resp = rapid.invoke(body, &[]);
        assert_eq!(
            (resp.status, resp.header("x-amzn-errortype")),
            (400, Some("InvalidRequestContentException")),
            "{:?}: {resp:?}",
            String::from_utf8_lossy(body)
        );
    }
    assert_only_this_invoke_ran(&rapid);

    let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
    let valid: Vec<String> = vec![
        deep,
        format!(" {{\"s\":\"{long}\\n\\u00e9\\\"é€😀{long}\",\"n\":-0.5e+10}} "),
        "[true,false,null,{},[],\"\"]".to_owned(),
    ];
    for body in &valid {
        let resp = rapid.invoke(body.as_bytes(), &[]);
        let want: serde_json::Value = serde_json::from_str(body).expect("valid JSON");
        let mut got = assert_success(&resp);
        // The scripted runtime adds its pid to an object it echoes.
        if let Some(object) = got.as_object_mut() {
            object.remove("pid");
        }
        assert_eq!(got, want, "{body}");
    }
}

/// Found by the front_door fuzz target: a string holding a byte that is not
/// UTF-8 passed as JSON and reached the runtime.
#[test]
fn body_that_is_not_utf8_is_rejected_and_nothing_runs() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(b"{\"key\":\"a\xcd1\"}", &[]);
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("InvalidRequestContentException")
    );
    let message = resp.json()["message"].as_str().unwrap_or("").to_owned();
    assert!(
        message.starts_with("Could not parse request body into json") && message.contains("UTF-8"),
        "{message}"
    );
    assert_only_this_invoke_ran(&rapid);
}

#[test]
fn body_over_6_mb_is_413_and_nothing_runs() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(&json_string_of_len(6_291_457), &[]);
    assert_eq!(resp.status, 413, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["Type"], "User", "{body}");
    assert_eq!(
        body["message"],
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    );
    assert_only_this_invoke_ran(&rapid);
}

#[test]
fn body_of_exactly_6_mb_is_accepted() {
    let rapid = Rapid::scripted(&[], &[]);
    let event = json_string_of_len(6_291_456);
    let resp = rapid.invoke(&event, &[]);
    assert_eq!(
        resp.status,
        200,
        "{}",
        &resp.text()[..200.min(resp.body.len())]
    );
    assert!(resp.body == event, "the 6 MB event must come back whole");
}

#[test]
fn dry_run_answers_204_and_nothing_runs() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"x":1}"#, &[("X-Amz-Invocation-Type", "DryRun")]);
    assert_eq!(resp.status, 204, "{resp:?}");
    assert!(resp.body.is_empty());
    assert_only_this_invoke_ran(&rapid);
}

#[test]
fn event_invocation_answers_202_and_runs() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(
        br#"{"action":"print","lines":1}"#,
        &[("X-Amz-Invocation-Type", "Event")],
    );
    assert_eq!(resp.status, 202, "{resp:?}");
    // Lambda answers an Event invoke with the request id it runs under.
    let id = request_id(&resp);
    assert!(logs::is_uuid(&id), "{resp:?}");
    rapid.wait_for_stdout(|l| l == "line 0", WAIT);
    let report = rapid.wait_for_report(&id);
    assert_eq!(report.get("Status"), None, "{}", report.line);
}

#[test]
fn tail_log_result_holds_this_invokes_log() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(
        br#"{"action":"print","lines":2}"#,
        &[("X-Amz-Log-Type", "Tail")],
    );
    assert_eq!(assert_success(&resp), json!({"printed": 2}));
    let id = request_id(&resp);
    let encoded = resp
        .header("x-amz-log-result")
        .unwrap_or_else(|| panic!("no X-Amz-Log-Result: {resp:?}"));
    let log = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("X-Amz-Log-Result is not base64 ({e}): {encoded}"));
    let log = String::from_utf8(log).expect("log result is UTF-8");
    let lines: Vec<&str> = log.lines().collect();
    let find = |pred: &dyn Fn(&str) -> bool| {
        lines
            .iter()
            .position(|l| pred(l))
            .unwrap_or_else(|| panic!("log result lacks a line:\n{log}"))
    };
    let start = find(&|l| l == format!("START RequestId: {id} Version: $LATEST"));
    let line0 = find(&|l| l == "line 0");
    let line1 = find(&|l| l == "line 1");
    let end = find(&|l| l == format!("END RequestId: {id}"));
    let report = find(&|l| logs::is_report_of(l, &id));
    assert!(
        start < line0 && line0 < line1 && line1 < end && end < report,
        "log result out of order:\n{log}"
    );
}

#[test]
fn no_log_result_without_tail() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"print","lines":1}"#, &[]);
    assert_success(&resp);
    assert_eq!(resp.header("x-amz-log-result"), None);
}

#[test]
fn client_context_that_is_not_base64_is_rejected() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(b"{}", &[("X-Amz-Client-Context", "%%% not base64 %%%")]);
    assert_eq!(resp.status, 400, "{resp:?}");
    let names_exception = resp.header("x-amzn-errortype") == Some("InvalidRequestContentException")
        || resp.text().contains("InvalidRequestContentException");
    assert!(names_exception, "{resp:?}");
    assert_only_this_invoke_ran(&rapid);
}

/// Base64 of a JSON object, `len` bytes of it (a multiple of 4).
fn client_context_of(len: usize) -> String {
    use base64::Engine as _;
    let json_len = len / 4 * 3;
    let filler = "a".repeat(json_len - r#"{"custom":{"k":""}}"#.len());
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!(r#"{{"custom":{{"k":"{filler}"}}}}"#));
    assert_eq!(encoded.len(), len);
    encoded
}

/// Issue 22, item 4: Lambda takes at most 3,583 bytes of base64 client
/// context. A larger one was passed on, and at 266 KB awslambdaric failed
/// in `next` (`Runtime.ExitError` for the caller); it is refused at the
/// front door with `400` before anything runs.
#[test]
fn client_context_over_3583_bytes_is_refused_before_anything_runs() {
    let rapid = Rapid::scripted(&[], &[]);
    for len in [3584, 266 * 1024] {
        let context = client_context_of(len);
        let resp = rapid.invoke(b"{}", &[("X-Amz-Client-Context", &context)]);
        assert_eq!(resp.status, 400, "{len}: {resp:?}");
        assert_eq!(
            resp.header("x-amzn-errortype"),
            Some("InvalidRequestContentException"),
            "{len}: {resp:?}"
        );
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(
            body["message"],
            format!("Client context must be at most 3583 bytes of base64, got {len} bytes."),
        );
    }
    assert_only_this_invoke_ran(&rapid);
    // The longest one Lambda takes reaches the runtime whole.
    let context = client_context_of(3580);
    let resp = rapid.invoke(
        br#"{"action":"headers"}"#,
        &[("X-Amz-Client-Context", &context)],
    );
    let body = assert_success(&resp);
    let passed = body["headers"]["lambda-runtime-client-context"]
        .as_str()
        .unwrap_or_else(|| panic!("no client context reached the runtime: {body}"));
    let passed: serde_json::Value = serde_json::from_str(passed).unwrap();
    assert_eq!(
        passed["custom"]["k"].as_str().map(str::len),
        Some(2685 - 19)
    );
}

#[test]
fn concurrent_invokes_queue_and_all_succeed() {
    let rapid = Rapid::scripted(&[], &[]);
    let answers: Vec<(usize, Resp)> = thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let rapid = &rapid;
                s.spawn(move || (n, rapid.invoke_json(&json!({"n": n}))))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ids = Vec::new();
    let mut pids = Vec::new();
    for (n, resp) in &answers {
        let body = assert_success(resp);
        assert_eq!(
            body["n"], *n as u64,
            "invoke {n} got another's answer: {body}"
        );
        ids.push(request_id(resp));
        pids.push(body["pid"].as_u64().unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "request ids must be distinct");
    pids.dedup();
    assert_eq!(
        pids.len(),
        1,
        "one runtime serves them all in turn: {pids:?}"
    );
    for id in &ids {
        rapid.wait_for_report(id);
    }
}

#[test]
fn function_output_goes_to_stdout_after_start() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"print","lines":3}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    rapid.wait_for_report(&id);
    rapid.wait_for_stdout(|l| l == "line 2", WAIT);
    let lines = rapid.stdout();
    let pos = |want: &str| lines.iter().position(|l| l == want).unwrap();
    let start = pos(&format!("START RequestId: {id} Version: $LATEST"));
    assert!(
        start < pos("line 0") && pos("line 0") < pos("line 1") && pos("line 1") < pos("line 2"),
        "{lines:#?}"
    );
}

#[test]
fn report_line_has_durations_and_real_memory() {
    let rapid = Rapid::scripted(&[], &[]);
    let first = request_id(&rapid.invoke(b"{}", &[]));
    let second = request_id(&rapid.invoke(b"{}", &[]));
    let first = rapid.wait_for_report(&first);
    let second = rapid.wait_for_report(&second);
    for report in [&first, &second] {
        let duration = report.number("Duration", "ms");
        let billed = report.number("Billed Duration", "ms");
        // Dispatch to response crosses two processes: never 0.00 ms.
        assert!(duration > 0.0, "a measured duration: {}", report.line);
        assert!(
            report.get("Duration").is_some_and(|d| d
                .split_once('.')
                .is_some_and(|(_, f)| f.len() == "00 ms".len())),
            "Duration has two decimals: {}",
            report.line
        );
        assert!(
            billed.fract() == 0.0 && billed >= duration.floor(),
            "billed duration is whole ms, not below the duration: {}",
            report.line
        );
        assert_eq!(
            report.get("Memory Size"),
            Some("3008 MB"),
            "{}",
            report.line
        );
        let used = report.number("Max Memory Used", "MB");
        assert!(
            used > 0.0 && used != 3008.0,
            "Max Memory Used must be measured: {}",
            report.line
        );
        assert_eq!(
            report.get("Status"),
            None,
            "a success has no Status: {}",
            report.line
        );
    }
    assert_init_duration_only_on_the_first(&first, &second);
}
