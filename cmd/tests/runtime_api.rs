//! The Runtime API as a runtime sees it (spec §1, §3.1, §3.2, §3.4), driven
//! through the scripted runtime (testdata/runtimes/scripted.py).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::*;
use serde_json::{json, Value};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// Invokes the `headers` action and returns the answer and its JSON body.
fn invoke_headers(rapid: &Rapid, headers: &[(&str, &str)]) -> (Resp, Value) {
    let resp = rapid.invoke(br#"{"action":"headers"}"#, headers);
    let body = assert_success(&resp);
    (resp, body)
}

#[test]
fn next_carries_the_request_id_of_the_invoke_and_its_log_lines() {
    let rapid = Rapid::scripted(&[], &[]);
    let (resp, body) = invoke_headers(&rapid, &[]);
    let id = request_id(&resp);
    assert!(logs::is_uuid(&id), "request id {id:?} is not a UUID");
    assert_eq!(
        body["headers"]["lambda-runtime-aws-request-id"],
        id.as_str()
    );

    let start = rapid.wait_for_stdout(|l| logs::start_id(l) == Some(id.as_str()), WAIT);
    assert_eq!(start, format!("START RequestId: {id} Version: $LATEST"));
    let end = rapid.wait_for_stdout(|l| logs::end_id(l) == Some(id.as_str()), WAIT);
    assert_eq!(end, format!("END RequestId: {id}"));
    rapid.wait_for_report(&id);

    let lines = rapid.stdout();
    let pos = |line: &str| lines.iter().position(|l| l == line).unwrap();
    let report = lines
        .iter()
        .position(|l| logs::is_report_of(l, &id))
        .unwrap();
    assert!(pos(&start) < pos(&end) && pos(&end) < report, "{lines:#?}");
}

#[test]
fn next_headers_describe_the_invoke() {
    let rapid = Rapid::scripted(&[], &[]);
    let before = now_ms();
    let (_, body) = invoke_headers(&rapid, &[]);
    let after = now_ms();
    let headers = &body["headers"];

    // Deadline = dispatch + the default 300 s timeout, dispatch in [before, after].
    let deadline: u64 = headers["lambda-runtime-deadline-ms"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no numeric deadline in {headers}"));
    assert!(
        deadline > after,
        "deadline {deadline} is not in the future ({after})"
    );
    assert!(
        deadline + 1_000 >= before + 300_000 && deadline <= after + 300_000 + 1_000,
        "deadline {deadline} is not dispatch + 300 s (invoke between {before} and {after})"
    );
    assert_eq!(
        headers["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:012345678912:function:test_function"
    );
    let trace = headers["lambda-runtime-trace-id"]
        .as_str()
        .unwrap_or_else(|| panic!("no generated trace id in {headers}"));
    assert!(
        logs::is_generated_trace_id(trace),
        "generated trace id {trace:?} does not match Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0"
    );
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        headers.get("lambda-runtime-client-context").is_none(),
        "no client context was sent: {headers}"
    );
}

#[test]
fn next_passes_trace_id_tenant_and_decoded_client_context() {
    let rapid = Rapid::scripted(&[], &[]);
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let client_context = json!({
        "custom": {"k": "v"},
        "env": {"platform": "test"},
        "client": {"installation_id": "i-1", "app_title": "t", "app_version_name": "1",
                   "app_version_code": "1", "app_package_name": "p"}
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(client_context.to_string());
    let (_, body) = invoke_headers(
        &rapid,
        &[
            ("X-Amzn-Trace-Id", trace),
            ("X-Amz-Client-Context", &encoded),
            ("X-Amz-Tenant-Id", "tenant-42"),
        ],
    );
    let headers = &body["headers"];
    assert_eq!(headers["lambda-runtime-trace-id"], trace);
    assert_eq!(headers["lambda-runtime-aws-tenant-id"], "tenant-42");
    let passed = headers["lambda-runtime-client-context"]
        .as_str()
        .unwrap_or_else(|| panic!("no client context in {headers}"));
    let passed: Value = serde_json::from_str(passed)
        .unwrap_or_else(|e| panic!("client context {passed:?} is not decoded JSON: {e}"));
    assert_eq!(passed, client_context);
}

#[test]
fn runtime_environment_has_lambda_defaults() {
    let rapid = Rapid::start(
        &[
            &scripted_command()[0],
            &scripted_command()[1],
            "scripted.handler",
        ],
        &[],
    );
    let (_, body) = invoke_headers(&rapid, &[]);
    let env = &body["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "test_function");
    assert_eq!(
        env["_HANDLER"], "scripted.handler",
        "handler = last CLI arg"
    );
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_DEFAULT_REGION"], "us-east-1");
    assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], rapid.api_addr());
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "3008");
    assert_eq!(
        env["AWS_LAMBDA_LOG_GROUP_NAME"],
        "/aws/lambda/test_function"
    );
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    let stream = env["AWS_LAMBDA_LOG_STREAM_NAME"].as_str().unwrap_or("");
    assert!(stream.contains("$LATEST"), "log stream name {stream:?}");
}

#[test]
fn runtime_environment_takes_customer_values_but_not_reserved_ones() {
    let rapid = Rapid::scripted(
        &[],
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", "my-fn"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("TZ", "Europe/Paris"),
            ("AWS_LAMBDA_RUNTIME_API", "192.0.2.1:1"),
            ("MY_SETTING", "kept"),
        ],
    );
    let (resp, body) = invoke_headers(&rapid, &[]);
    let env = &body["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "my-fn");
    assert_eq!(env["AWS_REGION"], "eu-west-1");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
    assert_eq!(env["TZ"], "Europe/Paris");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/my-fn");
    assert_eq!(
        env["AWS_LAMBDA_RUNTIME_API"],
        rapid.api_addr(),
        "AWS_LAMBDA_RUNTIME_API is reserved"
    );
    assert_eq!(
        body["headers"]["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:eu-west-1:012345678912:function:my-fn"
    );
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Memory Size"), Some("512 MB"), "{}", report.line);
}

#[test]
fn responding_twice_is_an_invalid_state_transition() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"twice"}"#, &[]);
    assert_eq!(assert_success(&resp), json!({"first": true}));
    rapid.wait_for_stdout(|l| l == "second response status: 403", WAIT);
    let body = rapid.wait_for_stdout(|l| l.starts_with("second response body: "), WAIT);
    assert!(body.contains("InvalidStateTransition"), "{body}");
    // The sandbox goes on.
    assert_success(&rapid.invoke(br#"{"n":2}"#, &[]));
}

#[test]
fn responding_for_another_request_id_is_invalid_request_id() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"wrong_id"}"#, &[]);
    assert_eq!(assert_success(&resp), json!({"wrong_id_status": 400}));
    let body = rapid.wait_for_stdout(|l| l.starts_with("wrong id body: "), WAIT);
    let body: Value = serde_json::from_str(body.trim_start_matches("wrong id body: "))
        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {body}"));
    assert_eq!(body["errorType"], "InvalidRequestID");
    assert!(body["errorMessage"].is_string(), "{body}");
}

#[test]
fn response_over_the_limit_is_refused_and_the_invoke_fails() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"big","size":7340032}"#, &[]);
    let body = assert_function_error(&resp, "Function.ResponseSizeTooLarge");
    let message = body["errorMessage"].as_str().unwrap_or("");
    assert!(
        message.contains("exceeded maximum allowed payload size (6291556 bytes)"),
        "{message}"
    );
    rapid.wait_for_stdout(|l| l == "big response status: 413", WAIT);
    let runtime_body = rapid.wait_for_stdout(|l| l.starts_with("big response body: "), WAIT);
    assert!(
        runtime_body.contains("RequestEntityTooLarge"),
        "{runtime_body}"
    );
    // The sandbox goes on.
    assert_success(&rapid.invoke(br#"{"after":"big"}"#, &[]));
}

#[test]
fn response_one_byte_over_the_limit_is_refused() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"big","size":6291557}"#, &[]);
    let body = assert_function_error(&resp, "Function.ResponseSizeTooLarge");
    assert_eq!(
        body["errorMessage"],
        "Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes).",
        "{body}"
    );
    rapid.wait_for_stdout(|l| l == "big response status: 413", WAIT);
    let runtime_body = rapid.wait_for_stdout(|l| l.starts_with("big response body: "), WAIT);
    let runtime_body: Value =
        serde_json::from_str(runtime_body.trim_start_matches("big response body: "))
            .unwrap_or_else(|e| panic!("413 body is not JSON ({e}): {runtime_body}"));
    assert_eq!(
        runtime_body["errorType"], "RequestEntityTooLarge",
        "{runtime_body}"
    );
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    assert_eq!(
        report.get("Error Type"),
        Some("Function.ResponseSizeTooLarge"),
        "{}",
        report.line
    );
}

#[test]
fn response_at_the_limit_is_delivered_whole() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"big","size":6291556}"#, &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-amz-function-error"), None);
    assert_eq!(resp.body.len(), 6_291_556);
    assert!(resp.body.starts_with(b"\"aaa") && resp.body.ends_with(b"aaa\""));
    rapid.wait_for_stdout(|l| l == "big response status: 202", WAIT);
}

#[test]
fn next_while_an_invoke_is_running_is_refused() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(br#"{"action":"next_while_running"}"#, &[]);
    let body = assert_success(&resp);
    assert_eq!(body["status"], 403, "{body}");
    assert!(
        body["body"]
            .as_str()
            .unwrap_or("")
            .contains("InvalidStateTransition"),
        "{body}"
    );
}

#[test]
fn runtime_error_reaches_the_invoker_as_posted() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.invoke(
        br#"{"action":"error","errorType":"Function.MyError","errorMessage":"it broke"}"#,
        &[],
    );
    assert_function_error(&resp, "Function.MyError");
    assert_eq!(
        resp.text(),
        r#"{"errorMessage": "it broke", "errorType": "Function.MyError", "stackTrace": []}"#,
        "the runtime's own error body, byte for byte"
    );
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    assert_eq!(
        report.get("Error Type"),
        Some("Function.MyError"),
        "{}",
        report.line
    );
}

/// Posts a runtime error typed `posted` and checks that REPORT records the
/// scrubbed type `recorded` while the invoker gets the runtime's own body.
fn assert_error_type_scrubbed(posted: &str, recorded: &str) {
    let rapid = Rapid::scripted(&[], &[]);
    let event = json!({"action": "error", "errorType": posted, "errorMessage": "m"});
    let resp = rapid.invoke_json(&event);
    assert_function_error(&resp, posted);
    assert_eq!(
        resp.text(),
        // As the scripted runtime's json.dumps writes it.
        format!(r#"{{"errorMessage": "m", "errorType": "{posted}", "stackTrace": []}}"#),
        "the invoker gets the runtime's own error body, byte for byte"
    );
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    assert_eq!(
        report.get("Error Type"),
        Some(recorded),
        "REPORT records the scrubbed type of {posted:?}: {}",
        report.line
    );
    // The sandbox goes on.
    assert_success(&rapid.invoke(b"{}", &[]));
}

#[test]
fn an_error_type_that_is_not_a_lambda_type_is_reported_as_runtime_unknown() {
    assert_error_type_scrubbed("not a lambda type", "Runtime.Unknown");
}

#[test]
fn a_function_error_type_without_a_proper_name_is_reported_as_function_unknown() {
    assert_error_type_scrubbed("Function.x", "Function.Unknown");
}
