//! A streamed response that fails after it started must never look like a
//! success to the invoker (README, "Response streaming").
//!
//! On the Invoke URL the bytes are forwarded as they arrive, so the status
//! is sent before the end is known. A stream that fails before its first
//! byte is answered as Lambda's Invoke answers it: a function error. A
//! stream that fails midway (error trailers from the runtime, timeout,
//! runtime crash, truncation, the size limit) ends abnormally — no
//! terminating chunk, so every HTTP client reports an incomplete body —
//! unless the invoker sent `TE: trailers`: then the body ends with the
//! error trailers. Checked with the clients people use: the curl binary,
//! Python's http.client, boto3.

mod common;

use common::invokers::*;
use common::*;
use serde_json::{json, Value};

const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";
/// curl's exit code for "transfer closed with outstanding read data remaining".
const CURL_PARTIAL_FILE: i32 = 18;

/// rapid running testdata/runtimes/streaming.py.
fn streaming_runtime(flags: &[&str], env: &[(&str, &str)]) -> Rapid {
    let cmd = streaming_command();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(cmd.iter().map(String::as_str));
    Rapid::start(&args, env)
}

fn mid_stream_error(partial: &str) -> Value {
    json!({"action": "trailers", "errorType": "Function.MidStream", "partial": partial})
}

/// What curl made of one invoke.
#[derive(Debug)]
struct CurlInvoke {
    /// curl's exit code: 0 = complete, 18 = the body was cut short.
    code: Option<i32>,
    body: String,
    /// The response's header and trailer lines, as curl dumped them.
    dumped: Vec<(String, String)>,
    stderr: String,
}

impl CurlInvoke {
    fn header(&self, name: &str) -> Option<&str> {
        self.dumped
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn request_id(&self) -> String {
        self.header("x-amzn-requestid")
            .unwrap_or_else(|| panic!("no X-Amzn-RequestId: {self:?}"))
            .to_owned()
    }
}

/// `curl -sS -N -d EVENT URL` (plus `extra`), as a user watching a stream
/// would run it. Without a curl binary, the same request through the test
/// client, with curl's verdict: 18 when the body was cut short.
fn curl_invoke(rapid: &Rapid, event: &Value, extra: &[(&str, &str)]) -> CurlInvoke {
    let url = format!("{}{INVOKE_PATH}", rapid.url());
    let dump = unique_path("curl-headers");
    let dump_arg = dump.display().to_string();
    let event_text = event.to_string();
    let mut args = vec!["-N", "-D", &dump_arg, "-d", &event_text];
    let header_args: Vec<String> = extra.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    for h in &header_args {
        args.extend(["-H", h.as_str()]);
    }
    args.push(&url);
    if let Some(run) = run_curl(&args) {
        let dumped = std::fs::read_to_string(&dump)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let _ = std::fs::remove_file(&dump);
        return CurlInvoke {
            code: run.code,
            body: run.stdout_text(),
            dumped,
            stderr: run.stderr,
        };
    }
    let mut headers = CURL_D_HEADERS.to_vec();
    headers.extend_from_slice(extra);
    let mut resp = http::open(
        rapid.invoke_addr(),
        "POST",
        INVOKE_PATH,
        &headers,
        event_text.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("no response head: {e}"));
    let mut body = Vec::new();
    let read = resp.read_to_end(&mut body);
    let mut dumped = resp.headers.clone();
    dumped.extend(resp.trailers.iter().cloned());
    CurlInvoke {
        code: Some(if read.is_ok() { 0 } else { CURL_PARTIAL_FILE }),
        body: String::from_utf8_lossy(&body).into_owned(),
        dumped,
        stderr: read.err().map(|e| e.to_string()).unwrap_or_default(),
    }
}

/// curl reports an incomplete transfer after receiving `body`.
fn assert_curl_incomplete(out: &CurlInvoke, body: &str) {
    assert_eq!(
        out.code,
        Some(CURL_PARTIAL_FILE),
        "curl must report the transfer as incomplete: {out:?}"
    );
    assert_eq!(out.body, body, "the bytes sent before the failure: {out:?}");
    assert_eq!(out.header("x-amz-function-error"), None, "{out:?}");
}

/// The REPORT of a failed invoke and rapid's log line about the stream.
fn assert_failure_reported(rapid: &Rapid, request_id: &str, status: &str) -> Report {
    let report = rapid.wait_for_report(request_id);
    assert_eq!(report.get("Status"), Some(status), "{}", report.line);
    rapid.wait_for_stderr(|l| l.contains(request_id) && l.contains("stream"), WAIT);
    report
}

/// A stream that ends well is still complete for curl (`-N`), after any
/// failure before it.
fn assert_next_stream_completes(rapid: &Rapid) {
    let out = curl_invoke(
        rapid,
        &json!({"action": "stream", "chunks": ["still ", "alive"]}),
        &[],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.body, "still alive", "{out:?}");
}

#[test]
fn mid_stream_error_is_an_incomplete_transfer_for_curl() {
    let rapid = streaming_runtime(&[], &[]);
    let out = curl_invoke(&rapid, &mid_stream_error("partial"), &[]);
    assert_curl_incomplete(&out, "partial");
    assert_eq!(
        out.header("x-amzn-requestid").map(str::len),
        Some(36),
        "{out:?}"
    );
    let report = assert_failure_reported(&rapid, &out.request_id(), "error");
    assert_eq!(report.get("Error Type"), Some("Function.MidStream"));
    let logged = rapid.wait_for_stderr(|l| l.contains(&out.request_id()), WAIT);
    assert!(logged.contains("Function.MidStream"), "{logged}");
    assert_next_stream_completes(&rapid);
}

#[test]
fn mid_stream_error_with_te_trailers_ends_in_the_error_trailers_for_curl() {
    let rapid = streaming_runtime(&[], &[]);
    let out = curl_invoke(&rapid, &mid_stream_error("partial"), &[("TE", "trailers")]);
    assert_eq!(out.code, Some(0), "the invoker asked for trailers: {out:?}");
    assert_eq!(out.body, "partial", "{out:?}");
    assert_eq!(
        out.header(ERROR_TYPE_TRAILER),
        Some("Function.MidStream"),
        "{out:?}"
    );
    let body = out.header(ERROR_BODY_TRAILER).unwrap_or("");
    let decoded = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    };
    let error: Value = serde_json::from_slice(&decoded).unwrap_or(Value::Null);
    assert_eq!(error["errorMessage"], "broke mid-stream", "{out:?}");
    assert_failure_reported(&rapid, &out.request_id(), "error");
}

#[test]
fn mid_stream_error_is_an_incomplete_read_for_python_http_client() {
    let rapid = streaming_runtime(&[], &[]);
    let out = http_client_invoke(
        &rapid.url(),
        &mid_stream_error("partial").to_string(),
        false,
    );
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(
        out["raised"], "IncompleteRead",
        "resp.read() must raise: {out}"
    );
    assert_eq!(out["partial"], "partial", "{out}");
    assert_eq!(out.get("body"), None, "{out}");
    let id = out["headers"]["x-amzn-requestid"].as_str().unwrap_or("");
    assert_failure_reported(&rapid, id, "error");
}

#[test]
fn mid_stream_error_is_an_exception_for_boto3() {
    let rapid = streaming_runtime(&[], &[]);
    let out = boto_invoke_outcome(&rapid.url(), &mid_stream_error("partial").to_string());
    assert!(
        out["raised"].as_str().is_some_and(|r| !r.is_empty()),
        "boto3 must raise instead of returning a payload: {out}"
    );
    assert_eq!(out.get("Payload"), None, "{out}");

    // InvokeWithResponseStream reports it in InvokeComplete, as Lambda does.
    let out = boto_stream(
        &rapid.url(),
        &["--payload", &mid_stream_error("partial").to_string()],
    );
    assert_eq!(out["chunks"], json!(["partial"]), "{out}");
    assert_eq!(
        out["InvokeComplete"]["ErrorCode"], "Function.MidStream",
        "{out}"
    );
}

#[test]
fn stream_that_fails_before_its_first_byte_is_a_function_error() {
    let rapid = streaming_runtime(&[], &[]);
    let event = mid_stream_error("");
    // The test client, with and without TE: trailers: a plain function error.
    for headers in [&[][..], &[("TE", "trailers")][..]] {
        let resp = rapid.invoke(event.to_string().as_bytes(), headers);
        let body = assert_function_error(&resp, "Function.MidStream");
        assert_eq!(body["errorMessage"], "broke mid-stream", "{resp:?}");
        assert!(resp.trailers.is_empty(), "{resp:?}");
        let report = rapid.wait_for_report(&request_id(&resp));
        assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    }

    let out = curl_invoke(&rapid, &event, &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.header("x-amz-function-error"),
        Some("Unhandled"),
        "{out:?}"
    );
    let body: Value = serde_json::from_str(&out.body).unwrap_or(Value::Null);
    assert_eq!(body["errorType"], "Function.MidStream", "{out:?}");

    let out = http_client_invoke(&rapid.url(), &event.to_string(), false);
    assert_eq!(out["headers"]["x-amz-function-error"], "Unhandled", "{out}");
    let body: Value = serde_json::from_str(out["body"].as_str().unwrap_or("")).unwrap_or_default();
    assert_eq!(body["errorType"], "Function.MidStream", "{out}");

    let out = boto_invoke_outcome(&rapid.url(), &event.to_string());
    assert_eq!(out["StatusCode"], 200, "{out}");
    assert_eq!(out["FunctionError"], "Unhandled", "{out}");
    let payload: Value =
        serde_json::from_str(out["Payload"].as_str().unwrap_or("")).unwrap_or_default();
    assert_eq!(payload["errorMessage"], "broke mid-stream", "{out}");

    let out = boto_stream(&rapid.url(), &["--payload", &event.to_string()]);
    assert_eq!(out["chunks"], json!([]), "{out}");
    assert_eq!(
        out["InvokeComplete"]["ErrorCode"], "Function.MidStream",
        "{out}"
    );
    assert_next_stream_completes(&rapid);
}

#[test]
fn timeout_mid_stream_is_an_incomplete_transfer() {
    let rapid = streaming_runtime(&[], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")]);
    let hang = json!({"action": "hang"});
    let out = curl_invoke(&rapid, &hang, &[]);
    assert_curl_incomplete(&out, "first");
    assert_failure_reported(&rapid, &out.request_id(), "timeout");

    let out = http_client_invoke(&rapid.url(), &hang.to_string(), false);
    assert_eq!(out["raised"], "IncompleteRead", "{out}");
    assert_eq!(out["partial"], "first", "{out}");
    assert_next_stream_completes(&rapid);
}

#[test]
fn runtime_crash_mid_stream_is_an_incomplete_transfer() {
    let rapid = streaming_runtime(&[], &[]);
    let out = curl_invoke(&rapid, &json!({"action": "crash"}), &[]);
    assert_curl_incomplete(&out, "first");
    assert_failure_reported(&rapid, &out.request_id(), "error");
    assert_next_stream_completes(&rapid);
}

#[test]
fn truncated_stream_is_an_incomplete_transfer() {
    let rapid = streaming_runtime(&[], &[]);
    let out = curl_invoke(&rapid, &json!({"action": "truncate"}), &[]);
    assert_curl_incomplete(&out, "first");
    let report = assert_failure_reported(&rapid, &out.request_id(), "error");
    assert_eq!(report.get("Error Type"), Some("Runtime.TruncatedResponse"));
    assert_next_stream_completes(&rapid);
}

#[test]
fn stream_over_the_limit_is_an_incomplete_transfer() {
    let limit = 1_000_000;
    let rapid = streaming_runtime(&["--max-stream-bytes", &limit.to_string()], &[]);
    let out = curl_invoke(&rapid, &json!({"action": "big", "size": 3 * limit}), &[]);
    assert_eq!(
        out.code,
        Some(CURL_PARTIAL_FILE),
        "code {:?}: {}",
        out.code,
        out.stderr
    );
    assert!(
        !out.body.is_empty() && out.body.len() <= limit && out.body.bytes().all(|b| b == b'x'),
        "{} bytes of the runtime's before the cut",
        out.body.len()
    );
    let report = assert_failure_reported(&rapid, &out.request_id(), "error");
    assert_eq!(
        report.get("Error Type"),
        Some("Function.ResponseSizeTooLarge")
    );
    assert_next_stream_completes(&rapid);
}

#[test]
fn stream_that_ends_well_is_complete_for_every_client() {
    let rapid = streaming_runtime(&[], &[]);
    let event = json!({"action": "stream", "chunks": ["hello ", "world"]});
    let out = curl_invoke(&rapid, &event, &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.body, "hello world");
    let out = http_client_invoke(&rapid.url(), &event.to_string(), false);
    assert_eq!(out["body"], "hello world", "{out}");
    let out = boto_invoke_outcome(&rapid.url(), &event.to_string());
    assert_eq!(out["Payload"], "hello world", "{out}");
    assert_eq!(out["FunctionError"], Value::Null, "{out}");
}
