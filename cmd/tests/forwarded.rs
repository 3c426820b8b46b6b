//! A buffered response with a `Content-Length` goes to the invoker as it
//! arrives (README "Differences"): the same answer, byte for byte and
//! header for header, as a body read whole; a body the runtime cuts short
//! ends the invoker's connection before the body is complete. Driven
//! through the scripted runtime's `big` and `cut_short` actions
//! (testdata/runtimes/scripted.py).

mod common;

use common::invokers::http_client_invoke;
use common::*;
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

/// The body `big` sends with `"fill": "pattern"`: a JSON string of `size`
/// bytes whose characters cycle through the printable ASCII ones but `"`
/// and `\`.
fn pattern_body(size: usize) -> Vec<u8> {
    let pattern: Vec<u8> = (0x20u8..0x7f).filter(|b| !b"\"\\".contains(b)).collect();
    let mut body = Vec::with_capacity(size);
    body.push(b'"');
    body.extend(pattern.iter().cycle().take(size - 2));
    body.push(b'"');
    body
}

fn big(size: usize) -> Vec<u8> {
    json!({"action": "big", "size": size, "fill": "pattern"})
        .to_string()
        .into_bytes()
}

/// The answer's header names, sorted.
fn header_names(resp: &Resp) -> Vec<String> {
    let mut names: Vec<String> = resp.headers.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names
}

#[test]
fn a_large_response_arrives_byte_exact_with_the_headers_of_one_read_whole() {
    let rapid = Rapid::scripted(&[], &[]);
    // Small enough to be read whole (under 64 KiB), then forwarded.
    let small = rapid.invoke(&big(1000), &[]);
    assert_eq!(small.status, 200);
    assert_eq!(small.body, pattern_body(1000));
    rapid.wait_for_stdout(|l| l == "big response status: 202", WAIT);

    let size = 3 * MIB + 7;
    let resp = rapid.invoke(&big(size), &[]);
    assert_eq!(resp.status, 200);
    assert!(resp.body == pattern_body(size), "the body, byte for byte");
    assert_eq!(
        resp.header("content-length"),
        Some(size.to_string().as_str())
    );
    assert_eq!(resp.header("transfer-encoding"), None);
    assert_eq!(resp.header("trailer"), None);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.header("x-amz-executed-version"), Some("$LATEST"));
    assert_eq!(resp.header("x-amz-function-error"), None);
    assert_eq!(
        header_names(&resp),
        header_names(&small),
        "the same headers"
    );
    rapid.wait_for_stdout_n(|l| l == "big response status: 202", 2, WAIT);
    assert_eq!(
        rapid.count_stdout(|l| l == "big response status: 202"),
        2,
        "the runtime's post accepted"
    );
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), None, "{}", report.line);
    // The sandbox goes on with the same runtime.
    assert_success(&rapid.invoke(br#"{"after":"big"}"#, &[]));
}

#[test]
fn boto3_reads_a_forwarded_response_whole_with_and_without_the_log_tail() {
    let rapid = Rapid::scripted(&[], &[]);
    let size = 2 * MIB;
    let expected = String::from_utf8(pattern_body(size)).unwrap();
    let payload = String::from_utf8(big(size)).unwrap();
    for tail in [false, true] {
        let mut args = vec!["--payload", payload.as_str()];
        if tail {
            args.extend(["--log-type", "Tail"]);
        }
        let results = boto_invoke(&rapid.url(), &args);
        let result = &results[0];
        assert_eq!(result["StatusCode"], 200, "{}", result["FunctionError"]);
        assert_eq!(result["FunctionError"], Value::Null);
        assert!(result["Payload"] == expected.as_str(), "the body, whole");
        if tail {
            let log = result["LogResult"].as_str().unwrap_or_default();
            assert!(log.contains("REPORT RequestId:"), "{log}");
        } else {
            assert_eq!(result["LogResult"], Value::Null);
        }
    }
}

#[test]
fn a_response_cut_short_ends_the_invokers_connection_and_the_invoke_fails() {
    let rapid = Rapid::scripted(&[], &[]);
    let cut = json!({"action": "cut_short", "size": MIB, "sent": MIB / 2}).to_string();
    let seen = http_client_invoke(&rapid.url(), &cut, false);
    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(
        seen["headers"]["content-length"],
        MIB.to_string(),
        "the length the runtime announced"
    );
    assert_eq!(seen["raised"], "IncompleteRead", "{}", seen["message"]);
    let partial = seen["partial"].as_str().unwrap_or_default().as_bytes();
    assert!(partial.len() < MIB, "never the whole body");
    assert!(
        pattern_body(MIB).starts_with(partial),
        "what arrived is the runtime's"
    );
    rapid.wait_for_stdout(|l| l.starts_with("cut short after"), WAIT);
    let id = seen["headers"]["x-amzn-requestid"]
        .as_str()
        .unwrap_or_default();
    let report = rapid.wait_for_report(id);
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    let error_type = report.get("Error Type").unwrap_or_default();
    assert!(
        ["Runtime.ExitError", "Runtime.TruncatedResponse"].contains(&error_type),
        "{}",
        report.line
    );
    rapid.wait_for_stderr(
        |l| l.contains("failed after it started; the transfer is cut short") && l.contains(id),
        WAIT,
    );

    // A raw client sees no complete answer either.
    let again = rapid.try_invoke(cut.as_bytes(), &[]);
    assert!(again.is_err(), "a short body taken as complete: {again:?}");
    // And the next invoke is served by a new runtime.
    assert_success(&rapid.invoke(br#"{"after":"cut"}"#, &[]));
}

#[test]
fn a_timeout_while_the_response_arrives_ends_the_invokers_connection() {
    let rapid = Rapid::scripted(&[], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")]);
    let stalled = json!({"action": "cut_short", "size": MIB, "sent": MIB / 4, "hang": true});
    let seen = http_client_invoke(&rapid.url(), &stalled.to_string(), false);
    assert_eq!(seen["status"], 200, "{seen}");
    assert_eq!(seen["raised"], "IncompleteRead", "{}", seen["message"]);
    let id = seen["headers"]["x-amzn-requestid"]
        .as_str()
        .unwrap_or_default();
    let report = rapid.wait_for_report(id);
    assert_eq!(report.get("Status"), Some("timeout"), "{}", report.line);
    // The stalled runtime was killed; a new one serves the next invoke.
    assert_success(&rapid.invoke(br#"{"after":"timeout"}"#, &[]));
}

#[test]
fn a_chunked_response_is_read_whole_as_before() {
    let rapid = Rapid::scripted(&[], &[]);
    let size = MIB + 3;
    let event = json!({"action": "big", "size": size, "fill": "pattern", "chunked": true});
    let resp = rapid.invoke(event.to_string().as_bytes(), &[]);
    assert_eq!(resp.status, 200);
    assert!(resp.body == pattern_body(size), "the body, byte for byte");
    assert_eq!(
        resp.header("content-length"),
        Some(size.to_string().as_str())
    );
    rapid.wait_for_stdout(|l| l == "big response status: 202", WAIT);
    // Over the limit without a length: refused when the limit is passed.
    let over = json!({"action": "big", "size": 7 * MIB, "chunked": true});
    let resp = rapid.invoke(over.to_string().as_bytes(), &[]);
    assert_function_error(&resp, "Function.ResponseSizeTooLarge");
    rapid.wait_for_stdout(|l| l == "big response status: 413", WAIT);
}

#[test]
fn many_large_invokes_at_once_on_a_pool_each_arrive_whole() {
    let rapid = Rapid::scripted(&["--max-sandboxes", "4"], &[]);
    let sizes: Vec<usize> = (0..8).map(|i| MIB + i * 4099).collect();
    let answers: Vec<(usize, Resp)> = std::thread::scope(|scope| {
        let rapid = &rapid;
        let handles: Vec<_> = sizes
            .iter()
            .map(|&size| scope.spawn(move || (size, rapid.invoke(&big(size), &[]))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sandboxes: Vec<&str> = Vec::new();
    for (size, resp) in &answers {
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert!(
            resp.body == pattern_body(*size),
            "{size} bytes, byte for byte"
        );
        sandboxes.extend(resp.header("x-rapid-sandbox"));
    }
    sandboxes.sort();
    sandboxes.dedup();
    assert!(sandboxes.len() > 1, "the pool ran them: {sandboxes:?}");
}
