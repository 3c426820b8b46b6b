//! The control API's `GET /test/eventLog`: the platform events (spec §6) of
//! what happened so far, in order, with the figures of the START / REPORT /
//! INIT_REPORT lines.
//!
//! Each test waits for a line on stdout, then reads the log once: the log
//! hub records an event before it writes the line that goes with it
//! (`platform.report` before REPORT, `platform.initReport` before
//! INIT_REPORT), so a line seen means its events are there.

mod common;

use common::extensions::{ExtDir, Records};
use common::*;
use serde_json::{json, Value};

/// The whole event log.
fn event_log(rapid: &Rapid) -> Vec<Value> {
    let resp = rapid.request("GET", "/test/eventLog", &[], b"");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    match resp.json() {
        Value::Array(events) => events,
        other => panic!("the event log is not an array: {other}"),
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect()
}

/// The one event of `kind` about `request_id`.
fn event_of<'a>(events: &'a [Value], kind: &str, request_id: &str) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == kind && e["record"]["requestId"] == request_id)
        .collect();
    match found.as_slice() {
        [event] => event,
        _ => panic!("not one {kind} for {request_id}: {events:#?}"),
    }
}

fn only<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| e["type"] == kind).collect();
    match found.as_slice() {
        [event] => event,
        _ => panic!("not one {kind}: {events:#?}"),
    }
}

/// The events of the one init of `phase` (`init`, or `invoke` for a
/// suppressed init): initStart, initRuntimeDone, initReport, in order.
fn init_events<'a>(events: &'a [Value], phase: &str) -> Vec<&'a Value> {
    let of_phase: Vec<&Value> = events
        .iter()
        .filter(|e| e["record"]["phase"] == phase)
        .collect();
    let kinds: Vec<&str> = of_phase
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        [
            "platform.initStart",
            "platform.initRuntimeDone",
            "platform.initReport"
        ],
        "the {phase} init's events in {events:#?}"
    );
    of_phase
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as the Telemetry API writes times.
fn assert_time(value: &Value) {
    let text = value.as_str().unwrap_or_default();
    let digits = |range: std::ops::Range<usize>| {
        text.get(range)
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
    };
    let shape = text.len() == 24
        && digits(0..4)
        && &text[4..5] == "-"
        && digits(5..7)
        && &text[10..11] == "T"
        && &text[19..20] == "."
        && digits(20..23)
        && text.ends_with('Z');
    assert!(shape, "not an RFC 3339 time with ms: {value}");
}

/// The figures of the REPORT line and of `platform.report` agree.
fn assert_report_matches(report: &Value, line: &logs::Report) {
    let metrics = &report["record"]["metrics"];
    assert_eq!(
        metrics["durationMs"].as_f64(),
        Some(line.number("Duration", "ms")),
        "{report} / {}",
        line.line
    );
    assert_eq!(
        metrics["billedDurationMs"].as_u64(),
        Some(line.number("Billed Duration", "ms") as u64),
        "{report} / {}",
        line.line
    );
    assert_eq!(
        metrics["memorySizeMB"].as_u64(),
        Some(line.number("Memory Size", "MB") as u64),
        "{report} / {}",
        line.line
    );
    assert_eq!(
        metrics["maxMemoryUsedMB"].as_u64(),
        Some(line.number("Max Memory Used", "MB") as u64),
        "{report} / {}",
        line.line
    );
    match line.get("Init Duration") {
        Some(_) => assert_eq!(
            metrics["initDurationMs"].as_f64(),
            Some(line.number("Init Duration", "ms")),
            "{report} / {}",
            line.line
        ),
        None => assert!(
            metrics.get("initDurationMs").is_none(),
            "{report} / {}",
            line.line
        ),
    }
}

#[test]
fn a_successful_invoke_logs_init_start_and_report_with_the_report_lines_figures() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    let resp = rapid.invoke(br#"{"hello": "world"}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    let line = rapid.wait_for_report(&id);
    let events = event_log(&rapid);
    assert_eq!(
        types(&events),
        [
            "platform.initStart",
            "platform.initRuntimeDone",
            "platform.initReport",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
        ],
        "{events:#?}"
    );
    for event in &events {
        assert_time(&event["time"]);
    }
    let init_start = &events[0]["record"];
    assert_eq!(init_start["initializationType"], "on-demand");
    assert_eq!(init_start["phase"], "init");
    assert_eq!(init_start["functionName"], "test_function");
    assert_eq!(init_start["functionVersion"], "$LATEST");
    assert_eq!(
        events[1]["record"],
        json!({"initializationType": "on-demand", "phase": "init", "status": "success"})
    );
    let init_report = &events[2]["record"];
    assert_eq!(init_report["status"], "success");
    assert_eq!(
        init_report["metrics"]["durationMs"].as_f64(),
        Some(line.number("Init Duration", "ms")),
        "{init_report} / {}",
        line.line
    );

    let start = event_of(&events, "platform.start", &id);
    assert_eq!(start["record"]["version"], "$LATEST");
    assert_eq!(start["record"]["tracing"]["type"], "X-Amzn-Trace-Id");
    assert!(
        start["record"]["tracing"]["value"]
            .as_str()
            .is_some_and(logs::is_generated_trace_id),
        "{start}"
    );

    let done = &event_of(&events, "platform.runtimeDone", &id)["record"];
    assert_eq!(done["status"], "success");
    assert!(done.get("errorType").is_none(), "{done}");
    // The runtime's whole answer, {"hello": "world", "pid": N}.
    let body = resp.text();
    assert_eq!(
        done["metrics"]["producedBytes"].as_u64(),
        Some(body.len() as u64),
        "{done} / {body}"
    );
    assert_eq!(
        done["metrics"]["durationMs"].as_f64(),
        Some(line.number("Duration", "ms")),
        "{done} / {}",
        line.line
    );
    let spans = done["spans"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = spans
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(names, ["responseLatency", "responseDuration"], "{done}");
    for span in &spans {
        assert_time(&span["start"]);
        assert!(span["durationMs"].is_f64(), "{span}");
    }

    let report = event_of(&events, "platform.report", &id);
    assert_eq!(report["record"]["status"], "success");
    assert!(report["record"].get("errorType").is_none(), "{report}");
    assert_report_matches(report, &line);
}

#[test]
fn an_invoke_that_times_out() {
    let rapid = Rapid::scripted(&["--test-api"], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")]);
    let resp = rapid.invoke(br#"{"action": "hang"}"#, &[]);
    assert_function_error(&resp, "Sandbox.Timedout");
    let id = request_id(&resp);
    let line = rapid.wait_for_report(&id);
    assert_eq!(line.get("Status"), Some("timeout"), "{}", line.line);
    let events = event_log(&rapid);

    let done = &event_of(&events, "platform.runtimeDone", &id)["record"];
    assert_eq!(done["status"], "timeout", "{done}");
    assert_eq!(done["errorType"], "Sandbox.Timedout", "{done}");
    assert_eq!(done["metrics"]["producedBytes"], 0, "{done}");
    assert!(done.get("spans").is_none(), "no response, no spans: {done}");

    let report = event_of(&events, "platform.report", &id);
    assert_eq!(report["record"]["status"], "timeout", "{report}");
    assert_eq!(
        report["record"]["errorType"], "Sandbox.Timedout",
        "{report}"
    );
    assert_report_matches(report, &line);
}

#[test]
fn a_function_error_is_status_error_with_its_type() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    let resp = rapid.invoke(
        br#"{"action": "error", "errorType": "Function.ValueError"}"#,
        &[],
    );
    assert_function_error(&resp, "Function.ValueError");
    let id = request_id(&resp);
    let line = rapid.wait_for_report(&id);
    let events = event_log(&rapid);
    let done = &event_of(&events, "platform.runtimeDone", &id)["record"];
    assert_eq!(done["status"], "error", "{done}");
    assert_eq!(done["errorType"], "Function.ValueError", "{done}");
    let report = event_of(&events, "platform.report", &id);
    assert_eq!(report["record"]["status"], "error", "{report}");
    assert_eq!(report["record"]["errorType"], "Function.ValueError");
    assert_report_matches(report, &line);
}

#[test]
fn an_init_error_is_reported_with_the_scrubbed_error_type() {
    // Not a Lambda error type: rapid records it as Runtime.Unknown.
    let rapid = Rapid::scripted(
        &["--test-api"],
        &[
            ("SCRIPTED_INIT", "init_error"),
            ("SCRIPTED_INIT_ERROR_TYPE", "ImportModuleError"),
        ],
    );
    let resp = rapid.invoke(b"{}", &[]);
    // The invoker gets the body as the runtime posted it; rapid records
    // the scrubbed type.
    assert_function_error(&resp, "ImportModuleError");
    let id = request_id(&resp);
    let init_line = rapid.wait_for_stdout(|l| l.starts_with("INIT_REPORT"), WAIT);
    let line = rapid.wait_for_report(&id);
    let events = event_log(&rapid);
    assert_eq!(
        types(&events),
        [
            "platform.initStart",
            "platform.initRuntimeDone",
            "platform.initReport",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
        ],
        "{events:#?}"
    );
    assert_eq!(
        events[1]["record"],
        json!({
            "initializationType": "on-demand",
            "phase": "init",
            "status": "error",
            "errorType": "Runtime.Unknown",
        })
    );
    let init_report = &events[2]["record"];
    assert_eq!(init_report["status"], "error", "{init_report}");
    assert_eq!(init_report["errorType"], "Runtime.Unknown", "{init_report}");
    // The figure of the INIT_REPORT line.
    let init_ms: f64 = init_line
        .strip_prefix("INIT_REPORT Init Duration: ")
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no Init Duration in {init_line:?}"));
    assert_eq!(
        init_report["metrics"]["durationMs"].as_f64(),
        Some(init_ms),
        "{init_report} / {init_line}"
    );
    let report = event_of(&events, "platform.report", &id);
    assert_eq!(report["record"]["status"], "error", "{report}");
    assert_eq!(report["record"]["errorType"], "Runtime.Unknown");
    assert_report_matches(report, &line);
}

#[test]
fn a_registered_extension_is_reported_at_the_end_of_init() {
    let (dir, records) = (ExtDir::new(), Records::new());
    dir.add_scripted("watch");
    let config = json!({"watch": {"events": ["INVOKE"]}}).to_string();
    let rapid = Rapid::scripted(
        &["--test-api", "--extensions-dir", dir.as_str()],
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", config.as_str()),
        ],
    );
    let resp = rapid.invoke(b"{}", &[]);
    assert_success(&resp);
    rapid.wait_for_report(&request_id(&resp));
    let events = event_log(&rapid);
    let extension = only(&events, "platform.extension");
    assert_eq!(
        extension["record"],
        json!({"name": "watch", "state": "Ready", "events": ["INVOKE"]})
    );
    assert_time(&extension["time"]);
    // Between the runtime's init and the init's report.
    let at = |kind: &str| types(&events).iter().position(|t| *t == kind);
    assert!(
        at("platform.initRuntimeDone") < at("platform.extension")
            && at("platform.extension") < at("platform.initReport"),
        "{events:#?}"
    );
}

#[test]
fn only_the_first_report_after_an_init_has_init_duration() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    let first = request_id(&rapid.invoke(b"{}", &[]));
    let first_line = rapid.wait_for_report(&first);
    let second = request_id(&rapid.invoke(b"{}", &[]));
    let second_line = rapid.wait_for_report(&second);
    logs::assert_init_duration_only_on_the_first(&first_line, &second_line);
    let events = event_log(&rapid);
    assert_eq!(
        types(&events),
        [
            "platform.initStart",
            "platform.initRuntimeDone",
            "platform.initReport",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
            "platform.start",
            "platform.runtimeDone",
            "platform.report",
        ],
        "{events:#?}"
    );
    let ids: Vec<&str> = events[3..]
        .iter()
        .map(|e| e["record"]["requestId"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        ids,
        [&first, &first, &first, &second, &second, &second],
        "{events:#?}"
    );
    let first_report = event_of(&events, "platform.report", &first);
    let second_report = event_of(&events, "platform.report", &second);
    assert!(
        first_report["record"]["metrics"]["initDurationMs"].as_f64() > Some(0.0),
        "{first_report}"
    );
    assert_report_matches(first_report, &first_line);
    assert_report_matches(second_report, &second_line);
}

#[test]
fn the_event_log_is_only_read() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    assert_eq!(event_log(&rapid), Vec::<Value>::new());
    let wrong = rapid.request("POST", "/test/eventLog", &[], b"");
    assert_eq!(wrong.status, 405, "{wrong:?}");
    assert_eq!(wrong.json()["errorType"], "Client.InvalidRequest");
}

#[test]
fn a_streamed_response_is_done_at_the_end_of_its_stream() {
    let cmd = streaming_command();
    let mut args = vec!["--test-api"];
    args.extend(cmd.iter().map(String::as_str));
    let rapid = Rapid::start(&args, &[]);

    let event = json!({"action": "stream", "chunks": ["ab", "cde"]});
    let resp = rapid.invoke(event.to_string().as_bytes(), &[]);
    assert_eq!(resp.text(), "abcde", "{resp:?}");
    let id = request_id(&resp);
    let line = rapid.wait_for_report(&id);
    let events = event_log(&rapid);
    let done = &event_of(&events, "platform.runtimeDone", &id)["record"];
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(done["metrics"]["producedBytes"], 5, "{done}");
    assert_eq!(
        done["metrics"]["durationMs"].as_f64(),
        Some(line.number("Duration", "ms")),
        "{done} / {}",
        line.line
    );
    let spans = done["spans"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = spans
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(names, ["responseLatency", "responseDuration"], "{done}");
    assert_report_matches(event_of(&events, "platform.report", &id), &line);

    let event = json!({"action": "trailers", "errorType": "Function.MidStream"});
    let resp = rapid.invoke(event.to_string().as_bytes(), &[("TE", "trailers")]);
    assert_eq!(resp.text(), "partial", "{resp:?}");
    let id = request_id(&resp);
    let line = rapid.wait_for_report(&id);
    let events = event_log(&rapid);
    let done = &event_of(&events, "platform.runtimeDone", &id)["record"];
    assert_eq!(done["status"], "error", "{done}");
    assert_eq!(done["errorType"], "Function.MidStream", "{done}");
    assert_eq!(done["metrics"]["producedBytes"], 7, "{done}");
    let report = event_of(&events, "platform.report", &id);
    assert_eq!(report["record"]["status"], "error", "{report}");
    assert_report_matches(report, &line);
}

#[test]
fn an_init_retried_inside_an_invoke_is_phase_invoke() {
    let marker = unique_path("events-init-exit-once");
    let rapid = Rapid::scripted(
        &["--test-api"],
        &[
            ("SCRIPTED_INIT", "exit"),
            ("SCRIPTED_INIT_MARKER", marker.to_str().unwrap_or_default()),
        ],
    );
    let failed = rapid.invoke(b"{}", &[]);
    assert_function_error(&failed, "Runtime.ExitError");
    rapid.wait_for_report(&request_id(&failed));
    let resp = rapid.invoke(b"{}", &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    let line = rapid.wait_for_report(&id);
    let events = event_log(&rapid);
    let _ = std::fs::remove_file(marker);

    // The runtime exited before its first next: its init ended in error.
    let first_init = init_events(&events, "init");
    assert_eq!(first_init[1]["record"]["status"], "error");
    assert_eq!(first_init[1]["record"]["errorType"], "Runtime.ExitError");
    assert_eq!(first_init[2]["record"]["status"], "error");

    // The retry ran inside the second invoke's time.
    let retried = init_events(&events, "invoke");
    assert_eq!(retried[1]["record"]["status"], "success");
    assert_eq!(
        retried[2]["record"]["metrics"]["durationMs"].as_f64(),
        Some(line.number("Init Duration", "ms")),
        "{events:#?} / {}",
        line.line
    );
    assert_report_matches(event_of(&events, "platform.report", &id), &line);
}

#[test]
fn a_restore_logs_its_start_and_report_with_the_report_lines_figure() {
    let rapid = Rapid::scripted(
        &["--enable-init-caching", "--test-api"],
        &[("SCRIPTED_RESTORE", "hooks")],
    );
    let resp = rapid.invoke(br#"{"hello": "snapstart"}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    let line = rapid.wait_for_report(&id);
    let events = event_log(&rapid);
    let order: Vec<&str> = types(&events)
        .into_iter()
        .filter(|t| t.starts_with("platform.restore") || *t == "platform.start")
        .collect();
    assert_eq!(
        order,
        [
            "platform.restoreStart",
            "platform.restoreRuntimeDone",
            "platform.restoreReport",
            "platform.start",
        ],
        "{events:#?}"
    );
    let start = only(&events, "platform.restoreStart");
    assert_time(&start["time"]);
    assert_eq!(start["record"]["functionName"], "test_function", "{start}");
    assert_eq!(
        only(&events, "platform.restoreRuntimeDone")["record"]["status"],
        "success"
    );
    let restore_report = only(&events, "platform.restoreReport");
    assert_eq!(restore_report["record"]["status"], "success");
    let restore_ms = line.number("Restore Duration", "ms");
    assert_eq!(
        restore_report["record"]["metrics"]["durationMs"].as_f64(),
        Some(restore_ms),
        "{restore_report} / {}",
        line.line
    );
    let report = event_of(&events, "platform.report", &id);
    assert_eq!(
        report["record"]["metrics"]["restoreDurationMs"].as_f64(),
        Some(restore_ms),
        "{report} / {}",
        line.line
    );
    assert_report_matches(report, &line);
    let init_start = only(&events, "platform.initStart");
    assert_eq!(
        init_start["record"]["initializationType"], "snap-start",
        "{init_start}"
    );
}
