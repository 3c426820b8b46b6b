//! Real Lambda clients against rapid: the Python runtime interface client
//! (awslambdaric), the Rust runtime (lambda_runtime, testdata/rust-fns) and
//! the AWS SDK's Lambda client (boto3, testdata/invoker/boto_invoke.py).
//!
//! The Python clients live in the venv that scripts/test creates.

mod common;

use base64::Engine;
use common::logs::assert_init_duration_only_on_the_first;
use common::*;
use serde_json::{json, Value};

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// rapid running `python -m awslambdaric <handler>` on testdata/functions/python.
fn awslambdaric(handler: &str, extra_env: &[(&str, &str)]) -> Rapid {
    let (cmd, env) = awslambdaric_command(handler);
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend_from_slice(extra_env);
    Rapid::start(&args, &env)
}

fn rust_function(name: &str) -> Rapid {
    let exe = rust_fn(name);
    Rapid::start(&[exe.to_str().unwrap()], &[])
}

// ---- awslambdaric -------------------------------------------------------

#[test]
fn awslambdaric_echo() {
    let rapid = awslambdaric("handlers.echo", &[]);
    let event = json!({"hello": "world", "n": [1, 2, 3], "nested": {"ok": true}});
    assert_eq!(assert_success(&rapid.invoke_json(&event)), event);
    // A second invoke on the same (warm) runtime.
    assert_eq!(
        assert_success(&rapid.invoke_json(&json!({"n": 2}))),
        json!({"n": 2})
    );
}

#[test]
fn awslambdaric_exception_is_a_function_error() {
    let rapid = awslambdaric("handlers.fail", &[]);
    let resp = rapid.invoke(b"{}", &[]);
    let body = assert_function_error(&resp, "ValueError");
    assert_eq!(body["errorMessage"], "boom");
    assert!(
        body["stackTrace"].as_array().is_some_and(|t| !t.is_empty()),
        "the client's stack trace is forwarded: {body}"
    );
    rapid.wait_for_report(&request_id(&resp));
    // The runtime survives its handler's exception.
    let resp = rapid.invoke(b"{}", &[]);
    assert_function_error(&resp, "ValueError");
}

#[test]
fn awslambdaric_print_is_logged_and_tailed() {
    let rapid = awslambdaric("handlers.log", &[]);
    let resp = rapid.invoke(b"{}", &[("X-Amz-Log-Type", "Tail")]);
    assert_eq!(assert_success(&resp), json!({"ok": true}));
    rapid.wait_for_stdout(|l| l.contains("hello from python"), WAIT);
    let log = base64::engine::general_purpose::STANDARD
        .decode(resp.header("x-amz-log-result").expect("X-Amz-Log-Result"))
        .expect("base64 log result");
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("hello from python"), "{log}");
    assert!(
        log.contains(&format!("START RequestId: {}", request_id(&resp))),
        "{log}"
    );
}

#[test]
fn awslambdaric_context_matches_the_invoke() {
    let rapid = awslambdaric(
        "handlers.context_info",
        &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")],
    );
    let client_context = json!({"custom": {"k": "v"}, "env": {}, "client": {}});
    let resp = rapid.invoke(
        b"{}",
        &[("X-Amz-Client-Context", &b64(&client_context.to_string()))],
    );
    let body = assert_success(&resp);
    assert_eq!(body["aws_request_id"], request_id(&resp).as_str());
    assert_eq!(
        body["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:012345678912:function:test_function"
    );
    assert_eq!(body["function_name"], "test_function");
    assert_eq!(
        body["memory_limit_in_mb"].to_string().trim_matches('"'),
        "512"
    );
    let remaining = body["remaining_time_in_millis"].as_i64().unwrap_or(-1);
    assert!(
        remaining > 0 && remaining <= 300_000,
        "remaining time within the 300 s default timeout: {body}"
    );
    assert_eq!(body["client_context"], json!({"k": "v"}));
}

/// Found by the front_door fuzz target: a DEL in the client context made
/// the runtime's header invalid, and `next` went out without it.
#[test]
fn awslambdaric_gets_a_client_context_holding_a_del() {
    let rapid = awslambdaric("handlers.context_info", &[]);
    let client_context = json!({"custom": {"k": "a\u{7f}b"}, "env": {}, "client": {}});
    let resp = rapid.invoke(
        b"{}",
        &[("X-Amz-Client-Context", &b64(&client_context.to_string()))],
    );
    let body = assert_success(&resp);
    assert_eq!(body["client_context"], json!({"k": "a\u{7f}b"}), "{body}");
}

#[test]
fn awslambdaric_missing_module_is_an_init_error() {
    let rapid = awslambdaric("no_such_module.handler", &[]);
    let resp = rapid.invoke(b"{}", &[]);
    let body = assert_function_error(&resp, "Runtime.ImportModuleError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("no_such_module"),
        "{body}"
    );
}

#[test]
fn awslambdaric_missing_handler_function_is_an_init_error() {
    let rapid = awslambdaric("handlers.no_such_function", &[]);
    let resp = rapid.invoke(b"{}", &[]);
    assert_function_error(&resp, "Runtime.HandlerNotFound");
}

// ---- lambda_runtime (Rust) ----------------------------------------------

#[test]
fn lambda_runtime_echo() {
    let rapid = rust_function("echo-fn");
    for n in 0..3 {
        let event = json!({"n": n, "s": "text"});
        let resp = rapid.invoke_json(&event);
        assert_eq!(assert_success(&resp), event);
        let id = request_id(&resp);
        rapid.wait_for_stdout(|l| l == format!("echo-fn handling {id}"), WAIT);
    }
}

#[test]
fn lambda_runtime_diagnostic_is_a_function_error() {
    let rapid = rust_function("fail-fn");
    let resp = rapid.invoke(br#"{"x":1}"#, &[]);
    let body = assert_function_error(&resp, "Function.ValueError");
    assert_eq!(body["errorMessage"], "boom from fail-fn");
}

/// Two invokes on one runtime: only the first REPORT carries a positive
/// `Init Duration`.
fn assert_init_duration_only_on_the_first_invoke(rapid: &Rapid) {
    let first = request_id(&rapid.invoke_json(&json!({"n": 1})));
    let second = request_id(&rapid.invoke_json(&json!({"n": 2})));
    let first = rapid.wait_for_report(&first);
    let second = rapid.wait_for_report(&second);
    assert_init_duration_only_on_the_first(&first, &second);
    for report in [&first, &second] {
        assert_eq!(report.get("Status"), None, "{}", report.line);
    }
}

#[test]
fn awslambdaric_init_duration_only_on_the_first_invoke() {
    assert_init_duration_only_on_the_first_invoke(&awslambdaric("handlers.echo", &[]));
}

#[test]
fn lambda_runtime_init_duration_only_on_the_first_invoke() {
    assert_init_duration_only_on_the_first_invoke(&rust_function("echo-fn"));
}

// ---- boto3 --------------------------------------------------------------

/// The request id of a boto3 result line.
fn boto_request_id(result: &Value) -> String {
    result["RequestId"]
        .as_str()
        .unwrap_or_else(|| panic!("no RequestId in {result}"))
        .to_string()
}

#[test]
fn boto3_invoke() {
    let rapid = Rapid::scripted(&[], &[]);
    let results = boto_invoke(&rapid.url(), &["--payload", r#"{"from":"boto3"}"#]);
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["StatusCode"], 200, "{r}");
    assert_eq!(r["FunctionError"], Value::Null, "{r}");
    assert_eq!(r["ExecutedVersion"], "$LATEST", "{r}");
    assert_eq!(r["LogResult"], Value::Null, "{r}");
    let payload: Value = serde_json::from_str(r["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["from"], "boto3");
    let id = boto_request_id(r);
    rapid.wait_for_stdout(|l| logs::start_id(l) == Some(id.as_str()), WAIT);
}

#[test]
fn boto3_tail_log() {
    let rapid = Rapid::scripted(&[], &[]);
    let results = boto_invoke(
        &rapid.url(),
        &[
            "--payload",
            r#"{"action":"print","lines":1}"#,
            "--log-type",
            "Tail",
        ],
    );
    let r = &results[0];
    assert_eq!(r["StatusCode"], 200, "{r}");
    let id = boto_request_id(r);
    let log = r["LogResult"].as_str().unwrap_or("");
    assert!(log.contains(&format!("START RequestId: {id}")), "{log}");
    assert!(log.lines().any(|l| l == "line 0"), "{log}");
    assert!(log.contains(&format!("REPORT RequestId: {id}")), "{log}");
}

#[test]
fn boto3_function_error() {
    let rapid = Rapid::scripted(&[], &[]);
    let results = boto_invoke(
        &rapid.url(),
        &[
            "--payload",
            r#"{"action":"error","errorType":"Function.Boto","errorMessage":"via boto"}"#,
        ],
    );
    let r = &results[0];
    assert_eq!(r["StatusCode"], 200, "{r}");
    assert_eq!(r["FunctionError"], "Unhandled", "{r}");
    let payload: Value = serde_json::from_str(r["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["errorType"], "Function.Boto");
    assert_eq!(payload["errorMessage"], "via boto");
}

#[test]
fn boto3_event_and_dry_run() {
    let rapid = Rapid::scripted(&[], &[]);
    let event = boto_invoke(
        &rapid.url(),
        &[
            "--payload",
            r#"{"action":"print","lines":1}"#,
            "--invocation-type",
            "Event",
        ],
    );
    assert_eq!(event[0]["StatusCode"], 202, "{}", event[0]);
    rapid.wait_for_stdout(|l| l == "line 0", WAIT);
    rapid.wait_for_stdout(|l| l.starts_with("REPORT RequestId: "), WAIT);

    let dry = boto_invoke(&rapid.url(), &["--invocation-type", "DryRun"]);
    assert_eq!(dry[0]["StatusCode"], 204, "{}", dry[0]);
}

#[test]
fn boto3_concurrent_invokes_all_succeed() {
    let rapid = Rapid::scripted(&[], &[]);
    let results = boto_invoke(
        &rapid.url(),
        &["--payload", r#"{"c":1}"#, "--concurrency", "6"],
    );
    assert_eq!(results.len(), 6);
    let mut ids: Vec<String> = results
        .iter()
        .map(|r| {
            assert_eq!(r["StatusCode"], 200, "{r}");
            assert_eq!(r["FunctionError"], Value::Null, "{r}");
            boto_request_id(r)
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 6, "distinct request ids");
}

#[test]
fn boto3_client_context_reaches_awslambdaric() {
    let rapid = awslambdaric("handlers.context_info", &[]);
    let client_context = json!({"custom": {"from": "boto3"}, "env": {}, "client": {}});
    let results = boto_invoke(
        &rapid.url(),
        &["--client-context", &b64(&client_context.to_string())],
    );
    let r = &results[0];
    assert_eq!(r["StatusCode"], 200, "{r}");
    let payload: Value = serde_json::from_str(r["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["client_context"], json!({"from": "boto3"}));
    assert_eq!(payload["aws_request_id"], boto_request_id(r).as_str());
}

#[test]
fn boto3_against_awslambdaric_exception() {
    let rapid = awslambdaric("handlers.fail", &[]);
    let results = boto_invoke(&rapid.url(), &["--log-type", "Tail"]);
    let r = &results[0];
    assert_eq!(r["FunctionError"], "Unhandled", "{r}");
    let payload: Value = serde_json::from_str(r["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["errorType"], "ValueError");
    assert!(
        r["LogResult"].as_str().unwrap_or("").contains("boom"),
        "the traceback is in the tail: {r}"
    );
}
