//! The Telemetry API and the Logs API (spec §6): subscriptions, what a
//! subscriber receives (platform events, `function` and `extension`
//! records) and how (batches, flushing, retries, drops).
//!
//! A real extension on the `lambda-extension` crate's telemetry support
//! (`testdata/rust-ext`, `ext-telemetry`) subscribes over HTTP and records
//! each batch it parsed; for exact checks, the scripted extension
//! (`testdata/extensions/scripted.py`) subscribes a scripted subscriber
//! of the test process (`common::subscriber`), HTTP or TCP, which keeps
//! every batch as received.

mod common;

use common::extensions::{assert_api_error, ExtDir, Records};
use common::subscriber::Subscriber;
use common::*;
use serde_json::{json, Value};

const TELEMETRY: &str = "/2022-07-01/telemetry";
const LOGS: &str = "/2020-08-15/logs";

/// A free port on 127.0.0.1 for an extension's listener.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// rapid with the scripted runtime and the `ext-telemetry` extension
/// (named `otel`) subscribed with `types`.
fn with_rust_subscriber(types: &str, env: &[(&str, &str)]) -> (Rapid, ExtDir, Records) {
    let (dir, records) = (ExtDir::new(), Records::new());
    dir.add_telemetry("otel");
    let port = free_port().to_string();
    let mut all = vec![
        ("EXT_RECORD_FILE", records.as_str()),
        ("EXT_TELEMETRY_PORT", port.as_str()),
        ("EXT_TELEMETRY_TYPES", types),
    ];
    all.extend_from_slice(env);
    let rapid = Rapid::scripted(&["--extensions-dir", dir.as_str()], &all);
    (rapid, dir, records)
}

/// Every record the `ext-telemetry` extension received, in order.
fn received(records: &Records) -> Vec<Value> {
    records
        .of("otel", "batch")
        .into_iter()
        .flat_map(|batch| batch["records"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Waits until the extension received `kind` for `request_id`.
fn wait_received(records: &Records, kind: &str, request_id: &str) -> Vec<Value> {
    records.wait(&format!("a batch with {kind} of {request_id}"), |r| {
        r["kind"] == "batch"
            && r["records"].as_array().is_some_and(|batch| {
                batch
                    .iter()
                    .any(|e| e["type"] == kind && e["record"]["requestId"] == request_id)
            })
    });
    received(records)
}

/// Every record received up to `request_id`'s `platform.report` (made
/// once the invoke is complete, after the runtime and the extension asked
/// for their next event; with a subscriber rapid does not freeze the
/// environment then, so it arrives without another invoke).
fn report_received(records: &Records, request_id: &str) -> Vec<Value> {
    let events = wait_received(records, "platform.report", request_id);
    let end = position(&events, |e| {
        e["type"] == "platform.report" && e["record"]["requestId"] == request_id
    });
    events[..=end].to_vec()
}

fn platform_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|t| t.starts_with("platform."))
        .collect()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn one<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    match of_type(events, kind).as_slice() {
        [event] => event,
        _ => panic!("not one {kind} in {events:#?}"),
    }
}

fn position(events: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
    events
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("not found in {events:#?}"))
}

const INIT: [&str; 5] = [
    "platform.initStart",
    "platform.telemetrySubscription",
    "platform.initRuntimeDone",
    "platform.extension",
    "platform.initReport",
];

fn with_init(invoke: &[&'static str]) -> Vec<&'static str> {
    INIT.iter().chain(invoke).copied().collect()
}

#[test]
fn the_rust_extension_receives_a_successful_invoke_in_order() {
    let (rapid, _dir, records) = with_rust_subscriber("platform,function,extension", &[]);
    let resp = rapid.invoke(br#"{"action": "print", "lines": 3}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    let events = report_received(&records, &id);
    assert_eq!(
        platform_types(&events),
        with_init(&["platform.start", "platform.runtimeDone", "platform.report"]),
        "{events:#?}"
    );
    let subscription = one(&events, "platform.telemetrySubscription");
    assert_eq!(
        subscription["record"],
        json!({"name": "otel", "state": "Subscribed", "types": ["platform", "function", "extension"]})
    );
    // The function's lines, as `function` records, between start and runtimeDone.
    let start = position(&events, |e| e["type"] == "platform.start");
    let done = position(&events, |e| e["type"] == "platform.runtimeDone");
    for i in 0..3 {
        let line = format!("line {i}");
        let at = position(&events, |e| e["type"] == "function" && e["record"] == line);
        assert!(start < at && at < done, "{line} at {at}: {events:#?}");
    }
    // The extension's own line, as an `extension` record, from the backlog
    // of the init (it printed it before it subscribed).
    let own = position(&events, |e| {
        e["type"] == "extension" && e["record"] == "ext-telemetry otel: started"
    });
    assert!(own < start, "{events:#?}");
    assert!(
        !events.iter().any(|e| e["type"] == "function"
            && e["record"].as_str().unwrap_or("").contains("ext-telemetry")),
        "an extension's line taken for the function's: {events:#?}"
    );
    let report = one(&events, "platform.report");
    assert_eq!(report["record"]["requestId"], id.as_str());
    assert_eq!(report["record"]["status"], "success");
    assert!(report["record"]["metrics"]["initDurationMs"]
        .as_f64()
        .is_some());
}

/// Runs one invoke of `event` under the Rust subscriber and returns the
/// request id and every record received up to its `platform.report`.
fn invoke_received(env: &[(&str, &str)], event: &[u8]) -> (String, Resp, Vec<Value>) {
    let (rapid, _dir, records) = with_rust_subscriber("platform,function,extension", env);
    let resp = rapid.invoke(event, &[]);
    let id = request_id(&resp);
    let events = report_received(&records, &id);
    (id, resp, events)
}

/// What a tracer's extension (the OpenTelemetry collector's Lambda
/// extension waits, on each INVOKE, for the `runtimeDone` of its request
/// id) needs: `platform.start` and `platform.runtimeDone` carry the
/// invoke's trace header and one span id, as Lambda's do, and arrive
/// within the batch timeout, without another invoke.
#[test]
fn start_and_runtime_done_carry_the_trace_context() {
    const TRACE: &str =
        "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1";
    let (rapid, _dir, records) = with_rust_subscriber("platform", &[]);
    let mut spans = Vec::new();
    for _ in 0..2 {
        let resp = rapid.invoke(br#"{"action": "echo"}"#, &[("X-Amzn-Trace-Id", TRACE)]);
        assert_success(&resp);
        let id = request_id(&resp);
        // Parsed by lambda-extension's own types, as a tracer would.
        let events = wait_received(&records, "platform.runtimeDone", &id);
        let of = |kind: &str| {
            events
                .iter()
                .find(|e| e["type"] == kind && e["record"]["requestId"] == id.as_str())
                .unwrap_or_else(|| panic!("no {kind} of {id}: {events:#?}"))
        };
        let start = &of("platform.start")["record"]["tracing"];
        let done = &of("platform.runtimeDone")["record"]["tracing"];
        assert_eq!(start["type"], "X-Amzn-Trace-Id", "{start}");
        assert_eq!(start["value"], TRACE, "{start}");
        let span = start["spanId"].as_str().unwrap_or_default().to_owned();
        assert!(
            span.len() == 16 && span.chars().all(|c| c.is_ascii_hexdigit()),
            "spanId: {start}"
        );
        assert_eq!(done, start, "runtimeDone's tracing is start's");
        spans.push(span);
    }
    assert_ne!(spans[0], spans[1], "each invoke has its own span");
}

#[test]
fn a_function_error_is_runtime_done_error_with_its_type() {
    let (id, resp, events) = invoke_received(
        &[],
        br#"{"action": "error", "errorType": "Function.ValueError"}"#,
    );
    assert_function_error(&resp, "Function.ValueError");
    assert_eq!(
        platform_types(&events),
        with_init(&["platform.start", "platform.runtimeDone", "platform.report"]),
        "{events:#?}"
    );
    let done = &one(&events, "platform.runtimeDone")["record"];
    assert_eq!(done["requestId"], id.as_str());
    assert_eq!(done["status"], "error", "{done}");
    assert_eq!(done["errorType"], "Function.ValueError", "{done}");
    let report = &one(&events, "platform.report")["record"];
    assert_eq!(report["status"], "error", "{report}");
    assert_eq!(report["errorType"], "Function.ValueError", "{report}");
}

#[test]
fn a_timeout_is_runtime_done_timeout() {
    let (id, resp, events) = invoke_received(
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")],
        br#"{"action": "hang"}"#,
    );
    assert_function_error(&resp, "Sandbox.Timedout");
    assert_eq!(
        platform_types(&events),
        with_init(&["platform.start", "platform.runtimeDone", "platform.report"]),
        "{events:#?}"
    );
    let done = &one(&events, "platform.runtimeDone")["record"];
    assert_eq!(done["requestId"], id.as_str());
    assert_eq!(done["status"], "timeout", "{done}");
    assert_eq!(done["errorType"], "Sandbox.Timedout", "{done}");
    assert_eq!(
        one(&events, "platform.report")["record"]["status"],
        "timeout"
    );
}

#[test]
fn a_crash_is_runtime_done_error_with_the_exit_error() {
    let (id, resp, events) = invoke_received(&[], br#"{"action": "crash", "code": 3}"#);
    assert_function_error(&resp, "Runtime.ExitError");
    assert_eq!(
        platform_types(&events),
        with_init(&["platform.start", "platform.runtimeDone", "platform.report"]),
        "{events:#?}"
    );
    let done = &one(&events, "platform.runtimeDone")["record"];
    assert_eq!(done["requestId"], id.as_str());
    assert_eq!(done["status"], "error", "{done}");
    assert_eq!(done["errorType"], "Runtime.ExitError", "{done}");
    let report = &one(&events, "platform.report")["record"];
    assert_eq!(report["status"], "error", "{report}");
    assert_eq!(report["errorType"], "Runtime.ExitError", "{report}");
}

#[test]
fn an_init_error_is_init_runtime_done_error() {
    let (_id, resp, events) = invoke_received(
        &[
            ("SCRIPTED_INIT", "init_error"),
            ("SCRIPTED_INIT_ERROR_TYPE", "Runtime.ImportModuleError"),
        ],
        b"{}",
    );
    assert_function_error(&resp, "Runtime.ImportModuleError");
    assert_eq!(
        platform_types(&events),
        with_init(&["platform.start", "platform.runtimeDone", "platform.report"]),
        "{events:#?}"
    );
    let done = &one(&events, "platform.initRuntimeDone")["record"];
    assert_eq!(done["phase"], "init", "{done}");
    assert_eq!(done["status"], "error", "{done}");
    assert_eq!(done["errorType"], "Runtime.ImportModuleError", "{done}");
    // (The crate's initReport has no status; the schema table checks it.)
    let report = &one(&events, "platform.initReport")["record"];
    assert!(report["metrics"]["durationMs"].is_f64(), "{report}");
}

/// rapid with the scripted runtime and the scripted extension `sub`
/// making the subscriptions `subscribe` (see scripted.py).
fn with_scripted_subscriber(subscribe: Value, env: &[(&str, &str)]) -> (Rapid, ExtDir, Records) {
    let (dir, records) = (ExtDir::new(), Records::new());
    dir.add_scripted("sub");
    let config =
        json!({"sub": {"events": ["INVOKE", "SHUTDOWN"], "subscribe": subscribe}}).to_string();
    let mut all = vec![
        ("EXT_RECORD_FILE", records.as_str()),
        ("EXT_CONFIG", config.as_str()),
    ];
    all.extend_from_slice(env);
    // Eager: the extension subscribes before the test's first invoke.
    let rapid = Rapid::scripted(&["--eager-init", "--extensions-dir", dir.as_str()], &all);
    (rapid, dir, records)
}

fn telemetry_body(types: &[&str], buffering: Value, destination: Value) -> Value {
    json!({
        "schemaVersion": "2022-12-13",
        "types": types,
        "buffering": buffering,
        "destination": destination,
    })
}

fn http_to(subscriber: &Subscriber) -> Value {
    json!({"protocol": "HTTP", "URI": subscriber.http_uri("telemetry")})
}

#[test]
fn batches_hold_at_most_max_items_and_the_rest_follows_in_order() {
    let subscriber = Subscriber::http();
    let body = telemetry_body(
        &["function"],
        json!({"maxItems": 1000, "maxBytes": 1048576, "timeoutMs": 30000}),
        http_to(&subscriber),
    );
    let (rapid, _dir, records) =
        with_scripted_subscriber(json!([{"path": TELEMETRY, "body": body}]), &[]);
    assert_success(&rapid.invoke(br#"{"action": "print", "lines": 2500}"#, &[]));
    assert_eq!(records.wait_api("sub", "subscribe:0")["status"], 200);
    // Only full batches go before the 30 s timeout.
    subscriber.wait_for("two full batches", |records| records.len() >= 2000);
    let batches = subscriber.batches();
    assert!(
        batches.iter().all(|b| b.records.len() == 1000),
        "batch sizes {:?}",
        batches.iter().map(|b| b.records.len()).collect::<Vec<_>>()
    );
    let lines: Vec<&str> = batches
        .iter()
        .flat_map(|b| b.records.iter())
        .filter_map(|r| r["record"].as_str())
        .filter(|r| r.starts_with("line "))
        .collect();
    let expected: Vec<String> = (0..lines.len()).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, expected, "the function's lines in order, none twice");
    assert!(
        lines.len() >= 1900,
        "{} lines in the full batches",
        lines.len()
    );
}

#[test]
fn a_batch_goes_as_soon_as_it_holds_max_items() {
    // Exactly maxItems records: the batch goes at once, not at timeoutMs
    // (30 s, longer than the test waits).
    let subscriber = Subscriber::http();
    let body = telemetry_body(
        &["function"],
        json!({"maxItems": 1000, "maxBytes": 1048576, "timeoutMs": 30000}),
        http_to(&subscriber),
    );
    let (rapid, _dir, records) =
        with_scripted_subscriber(json!([{"path": TELEMETRY, "body": body}]), &[]);
    assert_eq!(records.wait_api("sub", "subscribe:0")["status"], 200);
    // The runtime's one line of its init is in the backlog the
    // subscription got; 999 more make the 1,000 of a full batch (the
    // least maxItems the Telemetry API takes).
    assert_success(&rapid.invoke(br#"{"action": "print", "lines": 999}"#, &[]));
    subscriber.wait_for("a full batch of 1,000", |records| records.len() >= 1000);
    let batches = subscriber.batches();
    let lines: Vec<&str> = batches[0]
        .records
        .iter()
        .filter_map(|r| r["record"].as_str())
        .collect();
    let mut want = vec!["scripted runtime ready".to_owned()];
    want.extend((0..999).map(|i| format!("line {i}")));
    assert_eq!(lines, want, "the first batch");
}

#[test]
fn batches_hold_at_most_max_bytes() {
    let subscriber = Subscriber::http();
    let body = telemetry_body(
        &["function"],
        json!({"maxItems": 10000, "maxBytes": 262144, "timeoutMs": 30000}),
        http_to(&subscriber),
    );
    let (rapid, _dir, records) =
        with_scripted_subscriber(json!([{"path": TELEMETRY, "body": body}]), &[]);
    assert_eq!(records.wait_api("sub", "subscribe:0")["status"], 200);
    // 1,000 lines of 1 KB: about 1 MB, 4 full batches of 256 KB.
    let padding = "x".repeat(1000);
    let event = json!({"action": "print", "lines": 1000, "padding": padding});
    assert_success(&rapid.invoke(event.to_string().as_bytes(), &[]));
    subscriber.wait_for("three full batches", |records| records.len() >= 700);
    let batches = subscriber.batches();
    for batch in &batches {
        assert!(
            batch.raw.len() <= 262144,
            "a batch of {} bytes",
            batch.raw.len()
        );
        assert!(
            batch.raw.len() > 262144 - 2000,
            "a batch sent before it was full: {} bytes",
            batch.raw.len()
        );
    }
}

#[test]
fn a_batch_goes_at_timeout_ms_when_not_full() {
    let subscriber = Subscriber::http();
    let body = telemetry_body(
        &["platform", "function"],
        json!({"maxItems": 10000, "maxBytes": 1048576, "timeoutMs": 25}),
        http_to(&subscriber),
    );
    let (rapid, _dir, _records) =
        with_scripted_subscriber(json!([{"path": TELEMETRY, "body": body}]), &[]);
    let resp = rapid.invoke(br#"{"action": "print", "lines": 2}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    // A dozen records, far from 10,000: only the timeout sends them.
    let received = subscriber.wait_for_event("platform.report", &id);
    assert!(received
        .iter()
        .any(|r| r["type"] == "function" && r["record"] == "line 1"));
}

#[test]
fn a_tcp_subscriber_gets_lines_of_json() {
    let subscriber = Subscriber::tcp();
    let body = telemetry_body(
        &["platform", "function"],
        json!({"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}),
        json!({"protocol": "TCP", "URI": format!("tcp://sandbox.localdomain:{}", subscriber.port())}),
    );
    let (rapid, _dir, records) =
        with_scripted_subscriber(json!([{"path": TELEMETRY, "body": body}]), &[]);
    let resp = rapid.invoke(br#"{"action": "print", "lines": 2}"#, &[]);
    assert_success(&resp);
    assert_eq!(records.wait_api("sub", "subscribe:0")["status"], 200);
    let id = request_id(&resp);
    let received = subscriber.wait_for_event("platform.report", &id);
    assert_eq!(
        platform_types(&received),
        with_init(&["platform.start", "platform.runtimeDone", "platform.report"]),
        "{received:#?}"
    );
    for batch in subscriber.batches() {
        assert!(
            batch.raw.ends_with('\n') && !batch.raw.starts_with('['),
            "{:?}",
            batch.raw
        );
    }
    assert_eq!(
        subscriber.connections(),
        1,
        "one connection for every batch"
    );
}

#[test]
fn a_subscriber_that_never_answers_costs_the_function_nothing_and_hears_of_the_drops() {
    // The first batch is never answered: rapid gives up on it after its
    // send timeout, and meanwhile the queue (4 x 1,000 records) overflows.
    let subscriber = Subscriber::http_silent_for(1);
    let body = telemetry_body(
        &["platform", "function"],
        json!({"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}),
        http_to(&subscriber),
    );
    let (rapid, _dir, records) =
        with_scripted_subscriber(json!([{"path": TELEMETRY, "body": body}]), &[]);
    assert_eq!(records.wait_api("sub", "subscribe:0")["status"], 200);
    let first = rapid.invoke(br#"{"action": "print", "lines": 1}"#, &[]);
    assert_success(&first);
    // The first batch is held; the invokes go on all the same, and the
    // function's lines overflow the subscriber's queue.
    subscriber.wait_requests(1);
    let resp = rapid.invoke(br#"{"action": "print", "lines": 6000}"#, &[]);
    assert_success(&resp);
    rapid.wait_for_report(&request_id(&resp));
    let received = subscriber.wait_for("a platform.logsDropped", |records| {
        records.iter().any(|r| r["type"] == "platform.logsDropped")
    });
    let dropped = &one(&received, "platform.logsDropped")["record"];
    assert!(
        dropped["droppedRecords"].as_u64().unwrap_or(0) > 0,
        "{dropped}"
    );
    assert!(
        dropped["droppedBytes"].as_u64().unwrap_or(0) > 0,
        "{dropped}"
    );
    assert!(dropped["reason"].is_string(), "{dropped}");
    // Once it answers, it gets the next invoke's records.
    let last = rapid.invoke(br#"{"action": "print", "lines": 1}"#, &[]);
    assert_success(&last);
    subscriber.wait_for_event("platform.report", &request_id(&last));
}

#[test]
fn subscribing_again_replaces_the_subscription() {
    let (first, second) = (Subscriber::http(), Subscriber::http());
    let buffering = json!({"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25});
    let subscribe = json!([
        {"path": TELEMETRY, "body": telemetry_body(&["platform"], buffering.clone(), http_to(&first))},
        {"path": TELEMETRY, "body": telemetry_body(&["platform", "function"], buffering, http_to(&second))},
    ]);
    let (rapid, _dir, records) = with_scripted_subscriber(subscribe, &[]);
    assert_eq!(records.wait_api("sub", "subscribe:0")["status"], 200);
    assert_eq!(records.wait_api("sub", "subscribe:1")["status"], 200);
    let resp = rapid.invoke(br#"{"action": "print", "lines": 1}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    let received = second.wait_for_event("platform.report", &id);
    // The second subscription's types, and its event.
    assert!(received
        .iter()
        .any(|r| r["type"] == "function" && r["record"] == "line 0"));
    let second_event = received
        .iter()
        .filter(|r| r["type"] == "platform.telemetrySubscription")
        .filter(|r| r["record"]["types"] == json!(["platform", "function"]))
        .count();
    assert_eq!(second_event, 1, "{received:#?}");
    // What the first subscription had taken before it was replaced went
    // to the first subscriber, the rest to the second: each record once,
    // and nothing after the replacement to the first.
    let everything: Vec<Value> = first
        .records()
        .into_iter()
        .chain(received.clone())
        .collect();
    let first_event = everything
        .iter()
        .filter(|r| r["type"] == "platform.telemetrySubscription")
        .filter(|r| r["record"]["types"] == json!(["platform"]))
        .count();
    let init_starts = of_type(&everything, "platform.initStart").len();
    assert!(
        first_event <= 1 && init_starts <= 1,
        "sent twice: {everything:#?}"
    );
    assert_eq!(
        of_type(&received, "platform.start").len(),
        1,
        "{received:#?}"
    );
    let stale = of_type(&first.records(), "platform.start").len();
    assert_eq!(
        stale,
        0,
        "the replaced subscription still gets records: {:#?}",
        first.records()
    );
}

#[test]
fn only_registered_extensions_subscribe_with_valid_bodies() {
    let subscriber = Subscriber::http();
    let good = telemetry_body(&["platform"], Value::Null, http_to(&subscriber));
    let cases = [
        (
            json!({"path": TELEMETRY, "body": good, "id": "missing"}),
            403,
            "Extension.MissingExtensionIdentifier",
        ),
        (
            json!({"path": TELEMETRY, "body": good, "id": "invalid"}),
            403,
            "Extension.InvalidExtensionIdentifier",
        ),
        (
            json!({"path": TELEMETRY, "body": good, "id": "unknown"}),
            403,
            "Extension.UnknownExtensionIdentifier",
        ),
        (
            json!({"path": TELEMETRY, "raw": "{not json"}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&["logs"], Value::Null, http_to(&subscriber))}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&["platform"], json!({"timeoutMs": 10}), http_to(&subscriber))}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": {"schemaVersion": "2021-01-01", "types": ["platform"], "destination": http_to(&subscriber)}}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&["platform"], Value::Null, json!({"protocol": "HTTP", "URI": "http://example.com:80/"}))}),
            400,
            "ValidationError",
        ),
        // Each rule of the subscription's validation, end to end.
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&[], Value::Null, http_to(&subscriber))}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&["platform"], json!({"maxItems": 999}), http_to(&subscriber))}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&["platform"], json!({"maxBytes": 1048577}), http_to(&subscriber))}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&["platform"], json!("fast"), http_to(&subscriber))}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&["platform"], Value::Null, json!({"protocol": "UDP", "URI": subscriber.http_uri("telemetry")}))}),
            400,
            "ValidationError",
        ),
        (
            json!({"path": TELEMETRY, "body": telemetry_body(&["platform"], Value::Null, json!({"protocol": "HTTP", "URI": format!("{}\r\nX-Injected: 1", subscriber.http_uri("telemetry"))}))}),
            400,
            "ValidationError",
        ),
    ];
    let subscribe: Vec<Value> = cases.iter().map(|(spec, _, _)| spec.clone()).collect();
    let (rapid, _dir, records) = with_scripted_subscriber(Value::Array(subscribe), &[]);
    for (index, (spec, status, error_type)) in cases.iter().enumerate() {
        let answer = records.wait_api("sub", &format!("subscribe:{index}"));
        assert_api_error(&answer, *status, error_type);
        assert!(!answer.to_string().is_empty(), "{spec}");
    }
    assert_success(&rapid.invoke(b"{}", &[]));
    // None of them subscribed anything.
    assert_eq!(subscriber.requests(), 0);
}

#[test]
fn every_schema_version_is_accepted() {
    let subscriber = Subscriber::http();
    let subscribe: Vec<Value> = ["2022-07-01", "2022-12-13", "2025-01-29"]
        .iter()
        .map(|version| {
            let mut body = telemetry_body(&["platform"], Value::Null, http_to(&subscriber));
            body["schemaVersion"] = json!(version);
            json!({"path": TELEMETRY, "body": body})
        })
        .collect();
    let (_rapid, _dir, records) = with_scripted_subscriber(Value::Array(subscribe), &[]);
    for index in 0..3 {
        let answer = records.wait_api("sub", &format!("subscribe:{index}"));
        assert_eq!(answer["status"], 200, "{answer}");
        assert_eq!(answer["body"], "OK", "{answer}");
    }
}

#[test]
fn the_logs_api_gets_its_older_records() {
    let subscriber = Subscriber::http();
    let body = json!({
        "types": ["platform", "function"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
        "destination": http_to(&subscriber),
    });
    let (rapid, _dir, records) =
        with_scripted_subscriber(json!([{"path": LOGS, "body": body}]), &[]);
    assert_eq!(records.wait_api("sub", "subscribe:0")["status"], 200);
    let resp = rapid.invoke(br#"{"action": "print", "lines": 1}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    let received = subscriber.wait_for_event("platform.report", &id);
    assert_eq!(
        platform_types(&received),
        [
            "platform.logsSubscription",
            "platform.extension",
            "platform.start",
            "platform.runtimeDone",
            "platform.end",
            "platform.report"
        ],
        "{received:#?}"
    );
    let report = &one(&received, "platform.report")["record"];
    assert_eq!(report["requestId"], id.as_str());
    assert!(report["metrics"]["billedDurationMs"].is_u64(), "{report}");
    assert!(received
        .iter()
        .any(|r| r["type"] == "function" && r["record"] == "line 0"));
}

/// What a field of a record must be.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Str,
    /// An RFC 3339 time with milliseconds, in UTC.
    Time,
    Num,
    Int,
    Strs,
    Obj,
    Arr,
}

/// `(type, [(path in the record, kind, required)])`: the Telemetry API's
/// event schema for every record rapid sends (nested fields by dotted path).
/// A field: its path in the record, its kind, whether it is required.
type Field = (&'static str, Kind, bool);

const SCHEMA: &[(&str, &[Field])] = &[
    (
        "platform.initStart",
        &[
            ("initializationType", Kind::Str, true),
            ("phase", Kind::Str, true),
            ("functionName", Kind::Str, true),
            ("functionVersion", Kind::Str, true),
            ("runtimeVersion", Kind::Str, false),
            ("runtimeVersionArn", Kind::Str, false),
        ],
    ),
    (
        "platform.initRuntimeDone",
        &[
            ("initializationType", Kind::Str, true),
            ("phase", Kind::Str, true),
            ("status", Kind::Str, true),
            ("errorType", Kind::Str, false),
            ("spans", Kind::Arr, false),
        ],
    ),
    (
        "platform.initReport",
        &[
            ("initializationType", Kind::Str, true),
            ("phase", Kind::Str, true),
            ("status", Kind::Str, true),
            ("errorType", Kind::Str, false),
            ("metrics", Kind::Obj, true),
            ("metrics.durationMs", Kind::Num, true),
        ],
    ),
    (
        "platform.start",
        &[
            ("requestId", Kind::Str, true),
            ("version", Kind::Str, true),
            ("tracing", Kind::Obj, false),
            ("tracing.spanId", Kind::Str, false),
            ("tracing.type", Kind::Str, false),
            ("tracing.value", Kind::Str, false),
        ],
    ),
    (
        "platform.runtimeDone",
        &[
            ("requestId", Kind::Str, true),
            ("status", Kind::Str, true),
            ("errorType", Kind::Str, false),
            ("metrics", Kind::Obj, true),
            ("metrics.durationMs", Kind::Num, true),
            ("metrics.producedBytes", Kind::Int, true),
            ("spans", Kind::Arr, false),
            ("tracing", Kind::Obj, false),
            ("tracing.spanId", Kind::Str, false),
            ("tracing.type", Kind::Str, false),
            ("tracing.value", Kind::Str, false),
        ],
    ),
    (
        "platform.report",
        &[
            ("requestId", Kind::Str, true),
            ("status", Kind::Str, true),
            ("errorType", Kind::Str, false),
            ("metrics", Kind::Obj, true),
            ("metrics.durationMs", Kind::Num, true),
            ("metrics.billedDurationMs", Kind::Int, true),
            ("metrics.memorySizeMB", Kind::Int, true),
            ("metrics.maxMemoryUsedMB", Kind::Int, true),
            ("metrics.initDurationMs", Kind::Num, false),
        ],
    ),
    (
        "platform.extension",
        &[
            ("name", Kind::Str, true),
            ("state", Kind::Str, true),
            ("events", Kind::Strs, true),
            ("errorType", Kind::Str, false),
        ],
    ),
    (
        "platform.telemetrySubscription",
        &[
            ("name", Kind::Str, true),
            ("state", Kind::Str, true),
            ("types", Kind::Strs, true),
        ],
    ),
    (
        "platform.logsDropped",
        &[
            ("reason", Kind::Str, true),
            ("droppedRecords", Kind::Int, true),
            ("droppedBytes", Kind::Int, true),
        ],
    ),
];

const STATUSES: [&str; 4] = ["success", "failure", "error", "timeout"];
const SPAN_FIELDS: [(&str, Kind); 3] = [
    ("name", Kind::Str),
    ("start", Kind::Time),
    ("durationMs", Kind::Num),
];

fn is_kind(value: &Value, kind: Kind) -> bool {
    match kind {
        Kind::Str => value.is_string(),
        Kind::Time => value.as_str().is_some_and(is_time),
        Kind::Num => value.is_number(),
        Kind::Int => value.is_u64(),
        Kind::Strs => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        Kind::Obj => value.is_object(),
        Kind::Arr => value.is_array(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    bytes.len() == 24
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && bytes[19] == b'.'
        && digits(20..23)
        && bytes[23] == b'Z'
}

fn at<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(record, |value, key| value.get(key))
}

/// Every problem of `event` against [`SCHEMA`] (none when it conforms).
fn schema_problems(event: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(fields) = event.as_object() else {
        return vec!["not an object".into()];
    };
    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
    names.sort_unstable();
    if names != ["record", "time", "type"] {
        problems.push(format!("fields {names:?}, not record, time, type"));
    }
    if !is_kind(&event["time"], Kind::Time) {
        problems.push(format!("time {}", event["time"]));
    }
    let kind = event["type"].as_str().unwrap_or_default();
    let record = &event["record"];
    if kind == "function" || kind == "extension" {
        if !record.is_string() {
            problems.push(format!("a {kind} record that is not a string: {record}"));
        }
        return problems;
    }
    let Some((_, schema)) = SCHEMA.iter().find(|(name, _)| *name == kind) else {
        return vec![format!("a type the schema does not have: {kind}")];
    };
    for (path, field_kind, required) in schema.iter() {
        match at(record, path) {
            None if *required => problems.push(format!("{kind}: no {path}")),
            None => {}
            Some(value) if !is_kind(value, *field_kind) => {
                problems.push(format!("{kind}: {path} is {value}, not {field_kind:?}"))
            }
            Some(_) => {}
        }
    }
    // No field the schema does not list (nested ones included).
    let listed = |path: &str| schema.iter().any(|(p, _, _)| *p == path);
    for (name, value) in record.as_object().into_iter().flatten() {
        if !listed(name) {
            problems.push(format!("{kind}: unknown field {name}"));
        }
        if let (Value::Object(inner), false) = (value, name == "tracing" || name == "metrics") {
            problems.push(format!("{kind}: unexpected object {name}: {inner:?}"));
        }
        if name == "metrics" || name == "tracing" {
            for inner in value.as_object().into_iter().flatten().map(|(k, _)| k) {
                if !listed(&format!("{name}.{inner}")) {
                    problems.push(format!("{kind}: unknown field {name}.{inner}"));
                }
            }
        }
    }
    if let Some(status) = record.get("status") {
        if !STATUSES.iter().any(|s| status == s) {
            problems.push(format!("{kind}: status {status}"));
        }
    }
    for span in record["spans"].as_array().into_iter().flatten() {
        for (name, span_kind) in SPAN_FIELDS {
            if !span.get(name).is_some_and(|v| is_kind(v, span_kind)) {
                problems.push(format!("{kind}: span {span} has no {name} {span_kind:?}"));
            }
        }
    }
    problems
}

#[test]
fn every_record_follows_the_documented_schema() {
    let subscriber = Subscriber::http();
    let body = telemetry_body(
        &["platform", "function", "extension"],
        json!({"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}),
        http_to(&subscriber),
    );
    let (rapid, _dir, _records) = with_scripted_subscriber(
        json!([{"path": TELEMETRY, "body": body}]),
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")],
    );
    // A success, a function error, a crash and a timeout: every status and
    // optional field rapid writes.
    let mut last = String::new();
    for event in [
        &br#"{"action": "print", "lines": 2}"#[..],
        br#"{"action": "error", "errorType": "Function.ValueError"}"#,
        br#"{"action": "crash"}"#,
        br#"{"action": "hang"}"#,
    ] {
        last = request_id(&rapid.invoke(event, &[]));
    }
    let received = subscriber.wait_for_event("platform.report", &last);
    let mut seen: Vec<&str> = Vec::new();
    for event in &received {
        let problems = schema_problems(event);
        assert!(problems.is_empty(), "{event}: {problems:#?}");
        seen.push(event["type"].as_str().unwrap_or_default());
    }
    for kind in SCHEMA.iter().map(|(kind, _)| *kind) {
        if kind != "platform.logsDropped" {
            assert!(seen.contains(&kind), "no {kind} in {received:#?}");
        }
    }
    assert!(
        seen.contains(&"function") && seen.contains(&"extension"),
        "{seen:?}"
    );
    // The schema check can fail: a record missing a required field.
    let mut broken = of_type(&received, "platform.initStart")[0].clone();
    broken["record"].as_object_mut().map(|r| r.remove("phase"));
    assert_eq!(schema_problems(&broken), ["platform.initStart: no phase"]);
}

#[test]
fn json_log_format_writes_platform_events_and_passes_json_lines_as_objects() {
    let subscriber = Subscriber::http();
    let body = telemetry_body(
        &["platform", "function"],
        json!({"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}),
        http_to(&subscriber),
    );
    let (dir, records) = (ExtDir::new(), Records::new());
    dir.add_scripted("sub");
    let config = json!({"sub": {"subscribe": [{"path": TELEMETRY, "body": body}]}}).to_string();
    let (cmd, cmd_env) = awslambdaric_command("handlers.leveled_log");
    let mut args = vec!["--eager-init", "--extensions-dir", dir.as_str()];
    args.extend(cmd.iter().map(String::as_str));
    let mut env: Vec<(&str, &str)> = cmd_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.extend([
        ("EXT_RECORD_FILE", records.as_str()),
        ("EXT_CONFIG", config.as_str()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
    ]);
    let rapid = Rapid::start(&args, &env);
    let resp = rapid.invoke(b"{}", &[("X-Amz-Log-Type", "Tail")]);
    assert_success(&resp);
    let id = request_id(&resp);

    // stdout: platform.start and platform.report as JSON, no text lines.
    let report_line = rapid.wait_for_stdout(|l| l.contains("\"platform.report\""), WAIT);
    let report: Value = serde_json::from_str(&report_line).expect("a JSON REPORT line");
    assert_eq!(report["record"]["requestId"], id.as_str());
    assert!(
        report["record"]["metrics"]["maxMemoryUsedMB"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{report}"
    );
    let stdout = rapid.stdout();
    let start_at = stdout
        .iter()
        .position(|l| l.contains("\"platform.start\"") && l.contains(id.as_str()))
        .unwrap_or_else(|| panic!("no JSON platform.start in {stdout:#?}"));
    let info_at = stdout
        .iter()
        .position(|l| l.contains("info line"))
        .expect("the info line");
    assert!(start_at < info_at, "{stdout:#?}");
    assert!(
        !stdout.iter().any(|l| l.starts_with("START RequestId")
            || l.starts_with("END RequestId")
            || l.starts_with("REPORT RequestId")),
        "text platform lines in JSON format: {stdout:#?}"
    );
    // The Tail is the same log.
    let tail = resp.header("x-amz-log-result").expect("a Tail");
    let tail = String::from_utf8(base64_decode(tail)).expect("UTF-8 tail");
    assert!(
        tail.contains("\"platform.start\"") && tail.contains("info line"),
        "{tail}"
    );

    // The subscriber: JSON lines as objects, the printed one as a string,
    // and no debug line (AWS_LAMBDA_LOG_LEVEL reached the runtime).
    let received = subscriber.wait_for_event("platform.report", &id);
    let functions: Vec<&Value> = of_type(&received, "function");
    let info = functions
        .iter()
        .find(|r| r["record"]["message"] == "info line")
        .unwrap_or_else(|| panic!("no info object in {functions:#?}"));
    assert_eq!(info["record"]["level"], "INFO", "{info}");
    assert!(
        functions
            .iter()
            .any(|r| r["record"]["level"] == "WARN" || r["record"]["level"] == "WARNING"),
        "{functions:#?}"
    );
    assert!(
        functions.iter().any(|r| r["record"] == "printed line"),
        "{functions:#?}"
    );
    assert!(
        !functions
            .iter()
            .any(|r| r.to_string().contains("debug line")),
        "a debug line under level INFO: {functions:#?}"
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

#[test]
fn sigterm_ends_rapid_while_an_invoker_keeps_its_connection_and_a_subscriber_listens() {
    // The handles that serve subscriptions must not keep the log hub (and
    // so rapid) running while a front-door connection stays open.
    let subscriber = Subscriber::http();
    let body = telemetry_body(
        &["platform"],
        json!({"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}),
        http_to(&subscriber),
    );
    let (rapid, _dir, records) =
        with_scripted_subscriber(json!([{"path": TELEMETRY, "body": body}]), &[]);
    assert_eq!(records.wait_api("sub", "subscribe:0")["status"], 200);
    let mut kept = common::http::Kept::open(rapid.invoke_addr()).expect("connect to rapid");
    let resp = kept.request("POST", INVOKE_PATH, b"{}").expect("an invoke");
    assert_eq!(resp.status, 200, "{resp:?}");
    subscriber.wait_for_event("platform.report", &request_id(&resp));
    rapid.signal(Signal::SIGTERM);
    let status = rapid.wait_exit(WAIT);
    assert!(status.success(), "rapid exited with {status:?}");
}
