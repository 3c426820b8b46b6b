//! The invokers people really use — curl's default `-d`, Python's urllib
//! without headers, boto3 — against handlers that read a field of their
//! event, on the real runtime clients (awslambdaric, lambda_runtime).
//!
//! `curl -d` and urllib send `Content-Type: application/x-www-form-urlencoded`.
//! Lambda's Invoke payload is JSON whatever the invoker's headers say, and
//! the runtime's `next` carries `Content-Type: application/json`: nothing of
//! the invoker's request reaches the runtime beyond what Lambda passes.

mod common;

use common::invokers::*;
use common::*;
use serde_json::{json, Value};

/// rapid running `python -m awslambdaric <handler>` on testdata/functions/python.
fn awslambdaric(handler: &str) -> Rapid {
    let (cmd, env) = awslambdaric_command(handler);
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Rapid::start(&args, &env)
}

/// The function's answer to `curl -d payload` (the real binary when there
/// is one, else the same request: curl's headers over the test client).
fn curl_d(rapid: &Rapid, payload: &str) -> Value {
    let url = format!("{}{INVOKE_PATH}", rapid.url());
    match run_curl(&["-d", payload, &url]) {
        Some(run) => {
            assert_eq!(run.code, Some(0), "curl -d failed: {run:?}");
            serde_json::from_slice(&run.stdout)
                .unwrap_or_else(|e| panic!("curl printed no JSON ({e}): {run:?}"))
        }
        None => assert_success(&rapid.invoke(payload.as_bytes(), CURL_D_HEADERS)),
    }
}

/// The function's answer to urllib's `urlopen(url, data=payload)`.
fn urllib(rapid: &Rapid, payload: &str) -> Value {
    let out = urllib_invoke(&rapid.url(), payload);
    assert_eq!(out["status"], 200, "urllib: {out}");
    assert_eq!(
        out["headers"].get("x-amz-function-error"),
        None,
        "urllib: {out}"
    );
    let body = out["body"].as_str().unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("urllib got no JSON ({e}): {out}"))
}

/// The function's answer to boto3's `invoke(Payload=payload)`.
fn boto3(rapid: &Rapid, payload: &str) -> Value {
    let out = boto_invoke_outcome(&rapid.url(), payload);
    assert_eq!(out["StatusCode"], 200, "boto3: {out}");
    assert_eq!(out["FunctionError"], Value::Null, "boto3: {out}");
    let body = out["Payload"].as_str().unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("boto3 got no JSON ({e}): {out}"))
}

#[test]
fn awslambdaric_handler_gets_a_dict_from_every_invoker() {
    let rapid = awslambdaric("handlers.greet");
    for (invoker, answer) in [
        ("curl -d", curl_d(&rapid, r#"{"name":"curl"}"#)),
        ("urllib", urllib(&rapid, r#"{"name":"urllib"}"#)),
        ("boto3", boto3(&rapid, r#"{"name":"boto3"}"#)),
    ] {
        let name = invoker.split(' ').next().unwrap_or(invoker);
        assert_eq!(
            answer,
            json!({"greeting": format!("hello {name}"), "event_type": "dict"}),
            "{invoker}: the handler must get the event as a dict"
        );
    }
}

#[test]
fn lambda_runtime_handler_reads_a_field_from_every_invoker() {
    let exe = rust_fn("greet-fn");
    let rapid = Rapid::start(&[exe.to_str().unwrap()], &[]);
    for (invoker, answer) in [
        ("curl -d", curl_d(&rapid, r#"{"name":"curl"}"#)),
        ("urllib", urllib(&rapid, r#"{"name":"urllib"}"#)),
        ("boto3", boto3(&rapid, r#"{"name":"boto3"}"#)),
    ] {
        let name = invoker.split(' ').next().unwrap_or(invoker);
        assert_eq!(
            answer,
            json!({"greeting": format!("hello {name}")}),
            "{invoker}"
        );
    }
}

/// Headers Lambda's `next` carries (spec §3.1), plus what any HTTP answer has.
const NEXT_HEADERS: &[&str] = &[
    "lambda-runtime-aws-request-id",
    "lambda-runtime-deadline-ms",
    "lambda-runtime-invoked-function-arn",
    "lambda-runtime-trace-id",
    "lambda-runtime-client-context",
    "lambda-runtime-cognito-identity",
    "lambda-runtime-aws-tenant-id",
    "content-type",
    "content-length",
    "date",
];

#[test]
fn the_runtime_sees_only_what_lambda_passes_whatever_the_invoker_sends() {
    let runtime = testdata("runtimes/next_headers.py").display().to_string();
    let rapid = Rapid::start(&[&plain_python(), &runtime], &[]);
    let payload = br#"{"name": "headers", "n": [1, 2]}"#;
    let client_context = r#"{"custom":{"k":"v"}}"#;
    let encoded_context = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(client_context)
    };
    let resp = rapid.invoke(
        payload,
        &[
            ("Content-Type", "text/plain; charset=latin1"),
            ("Accept", "text/html"),
            ("Accept-Encoding", "gzip, br"),
            ("User-Agent", "curl/8.5.0"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=test/..."),
            ("Cookie", "session=1"),
            ("X-Custom-Header", "custom"),
            ("X-Amz-Date", "20260101T000000Z"),
            ("X-Amz-Log-Type", "Tail"),
            ("X-Amz-Client-Context", &encoded_context),
            (
                "X-Amzn-Trace-Id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            ),
            ("X-Amz-Tenant-Id", "tenant-1"),
        ],
    );
    let seen = assert_success(&resp);
    let headers = seen["headers"].as_object().cloned().unwrap_or_default();
    let unexpected: Vec<&String> = headers
        .keys()
        .filter(|name| !NEXT_HEADERS.contains(&name.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "headers Lambda does not pass reached the runtime: {unexpected:?} in {seen}"
    );
    assert_eq!(headers["content-type"], "application/json", "{seen}");
    assert_eq!(
        seen["event"].as_str().map(str::as_bytes),
        Some(&payload[..]),
        "the event reaches the runtime byte for byte: {seen}"
    );
    // What Lambda does pass, passes.
    assert_eq!(
        headers["lambda-runtime-client-context"], client_context,
        "{seen}"
    );
    assert_eq!(
        headers["lambda-runtime-aws-tenant-id"], "tenant-1",
        "{seen}"
    );
    assert_eq!(
        headers["lambda-runtime-trace-id"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "{seen}"
    );
    assert_eq!(
        headers["lambda-runtime-aws-request-id"],
        request_id(&resp).as_str()
    );
}

#[test]
fn an_empty_trace_header_is_not_passed_on_and_a_trace_id_is_generated() {
    let runtime = testdata("runtimes/next_headers.py").display().to_string();
    let rapid = Rapid::start(&[&plain_python(), &runtime], &[]);
    for empty in ["", " "] {
        let resp = rapid.invoke(b"{}", &[("X-Amzn-Trace-Id", empty)]);
        let seen = assert_success(&resp);
        let trace = seen["headers"]["lambda-runtime-trace-id"]
            .as_str()
            .unwrap_or("");
        assert!(
            logs::is_generated_trace_id(trace),
            "X-Amzn-Trace-Id {empty:?}: the runtime got {trace:?}: {seen}"
        );
    }
}
