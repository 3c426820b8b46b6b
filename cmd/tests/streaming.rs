//! Streamed responses end to end (spec §2 "Streaming", §3.3): the front door
//! forwards the runtime's chunks as they arrive, ends a failed stream with
//! the error trailers, and InvokeWithResponseStream answers in the AWS event
//! stream that boto3 decodes.
//!
//! The runtimes: testdata/runtimes/streaming.py (stdlib, scripted by the
//! event's "action") and stream-fn (the real lambda_runtime client's
//! `StreamResponse`, testdata/rust-fns). A test that must see a chunk arrive
//! before the runtime sends the next one uses a gate file: the runtime holds
//! its last chunk back until the test creates the file, which the test does
//! only once the first chunks are in its hands.

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};

/// The InvokeWithResponseStream path.
const STREAM_PATH: &str = "/2021-11-15/functions/function/response-streaming-invocations";
/// The content type of lambda_runtime's streamed answers: a JSON metadata
/// prelude, 8 NUL bytes, then the body.
const INTEGRATION_RESPONSE: &str = "application/vnd.awslambda.http-integration-response";
const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";
const MB: usize = 1024 * 1024;

/// rapid running testdata/runtimes/streaming.py.
fn streaming_runtime(flags: &[&str], env: &[(&str, &str)]) -> Rapid {
    let cmd = streaming_command();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(cmd.iter().map(String::as_str));
    Rapid::start(&args, env)
}

/// rapid running the lambda_runtime streaming function.
fn stream_fn() -> Rapid {
    let exe = rust_fn("stream-fn");
    Rapid::start(&[exe.to_str().expect("UTF-8 path")], &[])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|e| panic!("not base64 ({e}): {text:?}"))
}

/// Starts an invoke on `path` whose body the test reads as it arrives.
fn open(rapid: &Rapid, path: &str, event: &Value, headers: &[(&str, &str)]) -> http::Streamed {
    http::open(
        rapid.invoke_addr(),
        "POST",
        path,
        headers,
        event.to_string().as_bytes(),
    )
    .unwrap_or_else(|e| panic!("POST {path}: no response head: {e}"))
}

fn streamed_request_id(resp: &http::Streamed) -> String {
    resp.header("x-amzn-requestid")
        .expect("X-Amzn-RequestId")
        .to_string()
}

fn trailer<'a>(resp: &'a Resp, name: &str) -> Option<&'a str> {
    resp.trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks that a streamed answer failed mid-stream with `error_type`: a 200
/// whose body ended with the error trailers. Returns the decoded error body.
fn assert_stream_error(resp: &Resp, error_type: &str) -> Value {
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(
        resp.header("transfer-encoding"),
        Some("chunked"),
        "a streamed answer: {resp:?}"
    );
    assert_eq!(
        trailer(resp, ERROR_TYPE_TRAILER),
        Some(error_type),
        "error trailers: {resp:?}"
    );
    let body = trailer(resp, ERROR_BODY_TRAILER)
        .unwrap_or_else(|| panic!("no {ERROR_BODY_TRAILER} trailer: {resp:?}"));
    serde_json::from_slice(&unb64(body)).expect("the error body trailer is base64 JSON")
}

/// Checks the REPORT of a failed invoke: `Status: <status>` and, for errors,
/// `Error Type: <error_type>`.
fn assert_report_failed(rapid: &Rapid, request_id: &str, status: &str, error_type: Option<&str>) {
    let report = rapid.wait_for_report(request_id);
    assert_eq!(report.get("Status"), Some(status), "{}", report.line);
    assert_eq!(report.get("Error Type"), error_type, "{}", report.line);
}

/// The environment still serves invokes: a plain stream goes through, and
/// the streaming runtime has been started `starts` times in all (1: the
/// failure did not cost the runtime its life).
fn assert_next_stream_works(rapid: &Rapid, starts: usize) {
    let resp = rapid.invoke_json(&json!({"action": "stream", "chunks": ["still ", "alive"]}));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "still alive");
    assert!(resp.trailers.is_empty(), "{resp:?}");
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), None, "{}", report.line);
    let ready = |l: &str| l == "streaming runtime ready";
    rapid.wait_for_stdout_n(ready, starts, WAIT);
    assert_eq!(rapid.count_stdout(ready), starts, "runtime starts");
}

/// Splits lambda_runtime's body into its metadata prelude and the rest.
fn split_prelude(body: &[u8]) -> (Value, &[u8]) {
    let at = body
        .windows(8)
        .position(|w| w == [0; 8])
        .unwrap_or_else(|| panic!("no 8-NUL delimiter: {:?}", String::from_utf8_lossy(body)));
    let prelude = serde_json::from_slice(&body[..at]).expect("the prelude is JSON");
    (prelude, &body[at + 8..])
}

// ---- the AWS event-stream encoding, decoded by hand -----------------------

/// One event-stream message.
#[derive(Debug)]
struct Message {
    headers: Vec<(String, String)>,
    payload: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn event_type(&self) -> &str {
        self.header(":event-type").unwrap_or("")
    }
}

/// CRC-32 (IEEE), as the event-stream prelude and message checksums use.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes"))
}

/// Decodes the complete messages at the start of `bytes`: total length,
/// headers length, prelude CRC, headers, payload, message CRC. Panics on a
/// bad checksum or a header that is not a string; an incomplete last
/// message is left for later.
fn decode_messages(mut bytes: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    while bytes.len() >= 12 {
        let total = be32(bytes) as usize;
        let headers_len = be32(&bytes[4..]) as usize;
        assert_eq!(crc32(&bytes[..8]), be32(&bytes[8..]), "prelude CRC");
        assert!(total >= 16 + headers_len, "message length {total}");
        if bytes.len() < total {
            break;
        }
        let message = &bytes[..total];
        assert_eq!(
            crc32(&message[..total - 4]),
            be32(&message[total - 4..]),
            "message CRC"
        );
        let mut headers = Vec::new();
        let mut h = &message[12..12 + headers_len];
        while !h.is_empty() {
            let name_len = h[0] as usize;
            let name = String::from_utf8(h[1..1 + name_len].to_vec()).expect("UTF-8 name");
            h = &h[1 + name_len..];
            assert_eq!(h[0], 7, "header {name} is a string");
            let value_len = u16::from_be_bytes([h[1], h[2]]) as usize;
            let value = String::from_utf8(h[3..3 + value_len].to_vec()).expect("UTF-8 value");
            h = &h[3 + value_len..];
            headers.push((name, value));
        }
        out.push(Message {
            headers,
            payload: message[12 + headers_len..total - 4].to_vec(),
        });
        bytes = &bytes[total..];
    }
    out
}

/// The encoded size of a decoded message (all headers are strings).
fn encoded_len(m: &Message) -> usize {
    let headers: usize = m
        .headers
        .iter()
        .map(|(k, v)| 1 + k.len() + 3 + v.len())
        .sum();
    16 + headers + m.payload.len()
}

/// Checks a whole event stream: payload chunks, then exactly one
/// `InvokeComplete` at the end. Returns the joined payload and the
/// `InvokeComplete` JSON.
fn payload_and_complete(messages: &[Message]) -> (Vec<u8>, Value) {
    let (last, chunks) = messages.split_last().expect("at least InvokeComplete");
    let mut payload = Vec::new();
    for m in chunks {
        assert_eq!(m.event_type(), "PayloadChunk", "{m:?}");
        assert_eq!(m.header(":message-type"), Some("event"), "{m:?}");
        assert_eq!(
            m.header(":content-type"),
            Some("application/octet-stream"),
            "{m:?}"
        );
        payload.extend_from_slice(&m.payload);
    }
    assert_eq!(last.event_type(), "InvokeComplete", "{last:?}");
    assert_eq!(last.header(":message-type"), Some("event"), "{last:?}");
    assert_eq!(
        last.header(":content-type"),
        Some("application/json"),
        "{last:?}"
    );
    let complete = serde_json::from_slice(&last.payload).expect("InvokeComplete is JSON");
    (payload, complete)
}

#[test]
fn crc32_matches_the_reference_value() {
    // The check value of CRC-32/ISO-HDLC, which zlib and event streams use.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

// ---- chunks arrive as the runtime sends them ------------------------------

#[test]
fn first_chunks_reach_the_invoker_before_the_runtime_sends_the_last() {
    let rapid = streaming_runtime(&[], &[]);
    let gate = unique_path("gate");
    let event = json!({"action": "stream", "chunks": ["first ", "second ", "last"], "gate": gate});
    let mut resp = open(&rapid, INVOKE_PATH, &event, &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(resp.header("x-amz-executed-version"), Some("$LATEST"));
    let id = streamed_request_id(&resp);

    // The runtime holds "last" back until the gate opens, and the gate opens
    // only once the first chunks are here: a front door that waited for the
    // whole response would time out in this read.
    let mut body = Vec::new();
    resp.read_until(&mut body, |b| b.len() >= "first second ".len())
        .expect("the first chunks arrive while the runtime waits");
    assert_eq!(body, b"first second ");
    rapid.wait_for_stdout(|l| l == "waiting for gate", WAIT);
    assert_eq!(rapid.count_stdout(|l| logs::is_report_of(l, &id)), 0);

    std::fs::write(&gate, b"").expect("create the gate");
    resp.read_to_end(&mut body).expect("the rest of the stream");
    assert_eq!(body, b"first second last");
    assert!(resp.trailers.is_empty(), "{:?}", resp.trailers);
    let report = rapid.wait_for_report(&id);
    assert_eq!(report.get("Status"), None, "{}", report.line);
    rapid.wait_for_stdout(|l| l.starts_with("stream answer: 202"), WAIT);
}

#[test]
fn lambda_runtime_stream_reaches_the_invoker_chunk_by_chunk() {
    let rapid = stream_fn();
    let gate = unique_path("gate");
    let event = json!({"chunks": ["first ", "second ", "last"], "gate": gate});
    let mut resp = open(&rapid, INVOKE_PATH, &event, &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some(INTEGRATION_RESPONSE));

    let mut body = Vec::new();
    resp.read_until(&mut body, |b| b.ends_with(b"first second "))
        .expect("the prelude and the first chunks arrive while stream-fn waits");
    rapid.wait_for_stdout(|l| l == "stream-fn waiting for gate", WAIT);
    std::fs::write(&gate, b"").expect("create the gate");
    resp.read_to_end(&mut body).expect("the rest of the stream");

    let (prelude, rest) = split_prelude(&body);
    assert_eq!(prelude["statusCode"], 200, "{prelude}");
    assert_eq!(
        prelude["headers"]["content-type"], "application/octet-stream",
        "{prelude}"
    );
    assert_eq!(rest, b"first second last");
    assert!(resp.trailers.is_empty(), "{:?}", resp.trailers);
    let report = rapid.wait_for_report(&streamed_request_id(&resp));
    assert_eq!(report.get("Status"), None, "{}", report.line);
}

#[test]
fn event_stream_delivers_payload_chunks_as_they_arrive() {
    let rapid = streaming_runtime(&[], &[]);
    let gate = unique_path("gate");
    let event = json!({"action": "stream", "chunks": ["one ", "two ", "three"], "gate": gate});
    let mut resp = open(&rapid, STREAM_PATH, &event, &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("application/vnd.amazon.eventstream")
    );
    assert_eq!(resp.header("x-amz-executed-version"), Some("$LATEST"));
    let id = streamed_request_id(&resp);
    assert!(logs::is_uuid(&id), "{id}");

    let mut body = Vec::new();
    resp.read_until(&mut body, |b| {
        let messages = decode_messages(b);
        let payload: Vec<u8> = messages.iter().flat_map(|m| m.payload.clone()).collect();
        payload == b"one two "
    })
    .expect("the first PayloadChunk events arrive while the runtime waits");
    std::fs::write(&gate, b"").expect("create the gate");
    resp.read_to_end(&mut body).expect("the rest of the stream");

    let messages = decode_messages(&body);
    let used: usize = messages.iter().map(encoded_len).sum();
    assert_eq!(used, body.len(), "the body is whole messages only");
    let (payload, complete) = payload_and_complete(&messages);
    assert_eq!(payload, b"one two three");
    assert_eq!(complete, json!({}), "a success has no error and no log");
    rapid.wait_for_report(&id);
}

// ---- bytes pass through unchanged ----------------------------------------

#[test]
fn http_integration_response_passes_through_byte_for_byte() {
    let rapid = streaming_runtime(&[], &[]);
    let prelude = br#"{"statusCode":201,"headers":{"content-type":"text/html","x-custom":"yes"},"cookies":["a=1"]}"#;
    let binary: Vec<u8> = (0..=255u8).collect();
    let chunks: Vec<&[u8]> = vec![prelude, &[0; 8], b"<h1>", &binary, b"</h1>\r\n0\r\n\r\n"];
    let expected = chunks.concat();
    let event = json!({
        "action": "stream",
        "contentType": INTEGRATION_RESPONSE,
        "chunksB64": chunks.iter().map(|c| b64(c)).collect::<Vec<_>>(),
    });

    let resp = rapid.invoke_json(&event);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some(INTEGRATION_RESPONSE));
    assert_eq!(resp.body, expected, "raw body: {}", resp.text());
    assert!(resp.trailers.is_empty(), "{resp:?}");

    let resp = rapid.request("POST", STREAM_PATH, &[], event.to_string().as_bytes());
    assert_eq!(resp.status, 200, "{resp:?}");
    let (payload, complete) = payload_and_complete(&decode_messages(&resp.body));
    assert_eq!(payload, expected, "event-stream payload");
    assert_eq!(complete, json!({}));
}

#[test]
fn lambda_runtime_prelude_and_body_pass_through() {
    let rapid = stream_fn();
    let prelude = json!({
        "statusCode": 201,
        "headers": {"content-type": "text/html", "x-custom": "yes"},
        "cookies": ["a=1", "b=2"],
    });
    let event = json!({"chunks": ["<h1>", "héllo", "</h1>"], "prelude": prelude});
    let resp = rapid.invoke_json(&event);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("content-type"), Some(INTEGRATION_RESPONSE));
    let (sent_prelude, rest) = split_prelude(&resp.body);
    assert_eq!(sent_prelude, prelude);
    assert_eq!(rest, "<h1>héllo</h1>".as_bytes());
}

// ---- a stream that fails --------------------------------------------------

#[test]
fn mid_stream_error_ends_in_trailers_and_report_says_error() {
    let rapid = streaming_runtime(&[], &[]);
    let event = json!({"action": "trailers", "errorType": "Function.MidStream"});
    let resp = rapid.invoke(event.to_string().as_bytes(), &[("TE", "trailers")]);
    let declared = resp.header("trailer").unwrap_or("").to_ascii_lowercase();
    assert!(
        declared.contains(ERROR_TYPE_TRAILER) && declared.contains(ERROR_BODY_TRAILER),
        "the Trailer header declares both: {resp:?}"
    );
    assert_eq!(resp.text(), "partial", "the bytes before the error arrive");
    let error = assert_stream_error(&resp, "Function.MidStream");
    assert_eq!(error["errorMessage"], "broke mid-stream", "{error}");
    assert_eq!(error["errorType"], "Function.MidStream", "{error}");
    assert_report_failed(
        &rapid,
        &request_id(&resp),
        "error",
        Some("Function.MidStream"),
    );
    rapid.wait_for_stdout(|l| l.starts_with("stream answer: 202"), WAIT);

    // A client that did not ask for trailers sees the transfer cut short
    // (cmd/tests/stream_failures.rs checks what each client makes of it).
    let cut = rapid.try_invoke(event.to_string().as_bytes(), &[]);
    assert!(cut.is_err(), "must not look complete: {cut:?}");
    assert_next_stream_works(&rapid, 1);
}

#[test]
fn mid_stream_error_types_are_scrubbed_in_report_not_in_the_error_body() {
    let rapid = streaming_runtime(&[], &[]);
    for (posted, recorded) in [
        ("not a lambda type", "Runtime.Unknown"),
        ("Function.x", "Function.Unknown"),
    ] {
        let event = json!({"action": "trailers", "errorType": posted});
        let resp = rapid.invoke(event.to_string().as_bytes(), &[("TE", "trailers")]);
        assert_eq!(resp.text(), "partial", "{resp:?}");
        let body = trailer(&resp, ERROR_BODY_TRAILER)
            .unwrap_or_else(|| panic!("no {ERROR_BODY_TRAILER} trailer: {resp:?}"));
        let error: Value = serde_json::from_slice(&unb64(body)).expect("base64 JSON");
        assert_eq!(
            error,
            json!({"errorMessage": "broke mid-stream", "errorType": posted}),
            "the invoker gets the runtime's own error body"
        );
        assert_report_failed(&rapid, &request_id(&resp), "error", Some(recorded));
    }
    assert_next_stream_works(&rapid, 1);
}

#[test]
fn invalid_response_mode_fails_the_invoke_and_the_runtime_gets_400() {
    let rapid = streaming_runtime(&[], &[]);
    let resp = rapid.invoke_json(&json!({"action": "bad_mode"}));
    assert_function_error(&resp, "Runtime.InvalidResponseModeHeader");
    let answer = rapid.wait_for_stdout(|l| l.starts_with("bad mode answer:"), WAIT);
    assert!(
        answer.starts_with("bad mode answer: 400")
            && answer.contains("InvalidFunctionResponseMode"),
        "{answer}"
    );
    assert_report_failed(
        &rapid,
        &request_id(&resp),
        "error",
        Some("Runtime.InvalidResponseModeHeader"),
    );
    assert_next_stream_works(&rapid, 1);
}

#[test]
fn stream_over_the_limit_is_cut_with_response_size_too_large() {
    let limit = 1_000_000;
    let rapid = streaming_runtime(&["--max-stream-bytes", &limit.to_string()], &[]);
    let event = json!({"action": "big", "size": 3 * MB});
    let resp = rapid.invoke(event.to_string().as_bytes(), &[("TE", "trailers")]);
    assert!(
        resp.body.len() <= limit,
        "{} bytes passed a {limit}-byte limit",
        resp.body.len()
    );
    assert!(
        resp.body.iter().all(|b| *b == b'x'),
        "only the runtime's bytes"
    );
    let error = assert_stream_error(&resp, "Function.ResponseSizeTooLarge");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("({limit} bytes)")),
        "{error}"
    );
    assert_report_failed(
        &rapid,
        &request_id(&resp),
        "error",
        Some("Function.ResponseSizeTooLarge"),
    );
    // The runtime is told: 413 (rapid then closes the connection, whose
    // request body it stopped reading). A runtime that is still writing
    // when the connection closes sees it cut instead.
    let told = rapid.wait_for_stdout(
        |l| l.starts_with("stream answer:") || l.starts_with("stream cut after"),
        WAIT,
    );
    assert!(
        told.starts_with("stream answer: 413") && told.contains("RequestEntityTooLarge")
            || told.starts_with("stream cut after"),
        "{told}"
    );
    assert_next_stream_works(&rapid, 1);

    // The event stream ends with the error as well.
    let out = boto_stream(
        &rapid.url(),
        &["--payload", &event.to_string(), "--lengths"],
    );
    let complete = &out["InvokeComplete"];
    assert_eq!(
        complete["ErrorCode"], "Function.ResponseSizeTooLarge",
        "{out}"
    );
    assert!(
        out["total"].as_u64().unwrap_or(u64::MAX) <= limit as u64,
        "{out}"
    );
}

#[test]
fn stream_of_exactly_the_limit_is_delivered() {
    let limit = 1_000_000;
    let rapid = streaming_runtime(&["--max-stream-bytes", &limit.to_string()], &[]);
    let resp = rapid.invoke(
        json!({"action": "big", "size": limit})
            .to_string()
            .as_bytes(),
        &[("TE", "trailers")],
    );
    assert_eq!(resp.status, 200, "{:?}", resp.headers);
    assert_eq!(resp.body.len(), limit);
    assert!(resp.trailers.is_empty(), "{:?}", resp.trailers);
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), None, "{}", report.line);

    let resp = rapid.invoke(
        json!({"action": "big", "size": limit + 1})
            .to_string()
            .as_bytes(),
        &[("TE", "trailers")],
    );
    assert_stream_error(&resp, "Function.ResponseSizeTooLarge");
    assert!(resp.body.len() <= limit, "{} bytes", resp.body.len());
    assert_report_failed(
        &rapid,
        &request_id(&resp),
        "error",
        Some("Function.ResponseSizeTooLarge"),
    );
}

#[test]
fn empty_stream_is_an_empty_success() {
    let rapid = streaming_runtime(&[], &[]);
    let event = json!({"action": "stream", "chunks": []});
    let resp = rapid.invoke(event.to_string().as_bytes(), &[("TE", "trailers")]);
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.header("x-amz-function-error"), None, "{resp:?}");
    assert!(resp.body.is_empty(), "{resp:?}");
    assert!(resp.trailers.is_empty(), "{resp:?}");
    rapid.wait_for_report(&request_id(&resp));

    let resp = rapid.request("POST", STREAM_PATH, &[], event.to_string().as_bytes());
    assert_eq!(resp.status, 200, "{resp:?}");
    let messages = decode_messages(&resp.body);
    assert_eq!(messages.len(), 1, "only InvokeComplete: {messages:?}");
    let (payload, complete) = payload_and_complete(&messages);
    assert!(payload.is_empty());
    assert_eq!(complete, json!({}));
}

#[test]
fn dropped_runtime_connection_is_a_truncated_response() {
    let rapid = streaming_runtime(&[], &[]);
    let resp = rapid.invoke(
        json!({"action": "truncate"}).to_string().as_bytes(),
        &[("TE", "trailers")],
    );
    assert_eq!(resp.text(), "first");
    let error = assert_stream_error(&resp, "Runtime.TruncatedResponse");
    assert_eq!(error["errorType"], "Runtime.TruncatedResponse", "{error}");
    assert_report_failed(
        &rapid,
        &request_id(&resp),
        "error",
        Some("Runtime.TruncatedResponse"),
    );
    assert_next_stream_works(&rapid, 1);
}

#[test]
fn next_right_after_a_dropped_stream_is_not_refused() {
    // A runtime whose stream broke asks for the next event at once, on a new
    // connection. That `next` can reach rapid before rapid has seen the old
    // connection close; it must still be served, not refused with 403
    // InvalidStateTransition: real clients (awslambdaric, lambda_runtime)
    // treat a failed `next` as fatal and exit. (streaming.py retries, and
    // prints each refusal.)
    const ROUNDS: usize = 200;
    let rapid = streaming_runtime(&[], &[]);
    for _ in 0..ROUNDS {
        let resp = rapid.invoke(
            json!({"action": "truncate"}).to_string().as_bytes(),
            &[("TE", "trailers")],
        );
        assert_stream_error(&resp, "Runtime.TruncatedResponse");
        rapid.wait_for_report(&request_id(&resp));
    }
    assert_next_stream_works(&rapid, 1);
    let refused: Vec<String> = rapid
        .stdout()
        .into_iter()
        .filter(|l| l.starts_with("next answered 403"))
        .collect();
    assert!(
        refused.is_empty(),
        "{} refused `next` calls after {ROUNDS} dropped streams, the first: {:?}",
        refused.len(),
        refused.first()
    );
}

#[test]
fn timeout_during_a_stream_ends_it_and_the_next_invoke_works() {
    // The runtime must send its first chunk before the timeout: 3 s leaves
    // a loaded machine room for that.
    let rapid = streaming_runtime(&[], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")]);
    let resp = rapid.invoke(
        json!({"action": "hang"}).to_string().as_bytes(),
        &[("TE", "trailers")],
    );
    assert_eq!(resp.text(), "first", "the chunk sent before the timeout");
    let error = assert_stream_error(&resp, "Sandbox.Timedout");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("Task timed out after 3.00 seconds"),
        "{error}"
    );
    let id = request_id(&resp);
    rapid.wait_for_stdout(
        |l| l.contains(&id) && l.contains("Task timed out after 3.00 seconds"),
        WAIT,
    );
    assert_report_failed(&rapid, &id, "timeout", None);
    // The hung runtime was killed; a new one serves the next invoke.
    assert_next_stream_works(&rapid, 2);
}

#[test]
fn timeout_while_the_invoker_does_not_read() {
    // Back-pressure holds the runtime at a few chunks ahead of an invoker
    // that reads nothing, so a 100 MB stream cannot finish before the 1 s
    // timeout; the invoker still gets what was sent, then the trailers.
    let rapid = streaming_runtime(&[], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")]);
    let mut resp = open(
        &rapid,
        INVOKE_PATH,
        &json!({"action": "big", "size": 100 * MB}),
        &[("TE", "trailers")],
    );
    let id = streamed_request_id(&resp);
    assert_report_failed(&rapid, &id, "timeout", None);
    let mut body = Vec::new();
    resp.read_to_end(&mut body).expect("the stream ends");
    assert!(body.len() < 100 * MB, "{} bytes", body.len());
    assert!(body.iter().all(|b| *b == b'x'), "only the runtime's bytes");
    assert_eq!(
        resp.trailer(ERROR_TYPE_TRAILER),
        Some("Sandbox.Timedout"),
        "{:?}",
        resp.trailers
    );
    assert_next_stream_works(&rapid, 2);
}

#[test]
fn invoker_that_goes_away_does_not_block_the_runtime() {
    let rapid = streaming_runtime(&[], &[]);
    let gate = unique_path("gate");
    let event = json!({"action": "stream", "chunks": ["first ", "last"], "gate": gate});
    let mut resp = open(&rapid, INVOKE_PATH, &event, &[]);
    let id = streamed_request_id(&resp);
    let mut body = Vec::new();
    resp.read_until(&mut body, |b| b == b"first ")
        .expect("the first chunk");
    drop(resp);
    std::fs::write(&gate, b"").expect("create the gate");
    // The runtime's response is read to its end and accepted.
    rapid.wait_for_stdout(|l| l.starts_with("stream answer: 202"), WAIT);
    rapid.wait_for_report(&id);
    assert_next_stream_works(&rapid, 1);
}

#[test]
fn streaming_a_response_for_another_request_id_is_invalid_request_id() {
    let rapid = streaming_runtime(&[], &[]);
    let resp = rapid.invoke(
        json!({"action": "wrong_id"}).to_string().as_bytes(),
        &[("TE", "trailers")],
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), "wrong id status 400", "{resp:?}");
    assert!(resp.trailers.is_empty(), "{resp:?}");
    let answer = rapid.wait_for_stdout(|l| l.starts_with("wrong id answer: "), WAIT);
    let body: Value = serde_json::from_str(answer.trim_start_matches("wrong id answer: 400 "))
        .unwrap_or_else(|e| panic!("not a 400 with a JSON body ({e}): {answer}"));
    assert_eq!(body["errorType"], "InvalidRequestID", "{answer}");
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), None, "{}", report.line);
    assert_next_stream_works(&rapid, 1);
}

#[test]
fn streaming_invoke_request_limit_is_6_mb_exactly() {
    let rapid = Rapid::scripted(&[], &[]);
    let resp = rapid.request("POST", STREAM_PATH, &[], &json_string_of_len(6_291_457));
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert_eq!(
        resp.json()["message"],
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    );
    assert_eq!(
        rapid.count_stdout(|l| logs::start_id(l).is_some()),
        0,
        "nothing ran for a refused request"
    );

    let event = json_string_of_len(6_291_456);
    let resp = rapid.request("POST", STREAM_PATH, &[], &event);
    assert_eq!(resp.status, 200, "{:?}", resp.headers);
    let (payload, complete) = payload_and_complete(&decode_messages(&resp.body));
    assert!(payload == event, "the 6 MB event must come back whole");
    assert_eq!(complete, json!({}));
}

// ---- InvokeWithResponseStream's parameters -------------------------------

#[test]
fn streaming_invoke_rejects_the_event_invocation_type() {
    // InvokeWithResponseStream knows RequestResponse and DryRun only
    // (ResponseStreamingInvocationType); Lambda rejects Event before
    // anything runs.
    let rapid = streaming_runtime(&[], &[]);
    let event = json!({"action": "stream"}).to_string();
    let resp = rapid.request(
        "POST",
        STREAM_PATH,
        &[("X-Amz-Invocation-Type", "DryRun")],
        event.as_bytes(),
    );
    assert_eq!(resp.status, 204, "{resp:?}");
    let resp = rapid.request(
        "POST",
        STREAM_PATH,
        &[("X-Amz-Invocation-Type", "Event")],
        event.as_bytes(),
    );
    assert_eq!(resp.status, 400, "{resp:?}");
    let resp = rapid.invoke_json(&json!({"action": "stream", "chunks": ["only"]}));
    assert_eq!(resp.text(), "only");
    rapid.wait_for_report(&request_id(&resp));
    assert_eq!(
        rapid.count_stdout(|l| logs::start_id(l).is_some()),
        1,
        "only the last invoke ran"
    );
}

// ---- boto3's invoke_with_response_stream ---------------------------------

#[test]
fn boto3_reads_payload_chunks_and_invoke_complete() {
    let rapid = streaming_runtime(&[], &[]);
    let event = json!({"action": "stream", "chunks": ["one ", "two ", "three"]});
    let out = boto_stream(&rapid.url(), &["--payload", &event.to_string()]);
    assert_eq!(out["StatusCode"], 200, "{out}");
    assert_eq!(out["ExecutedVersion"], "$LATEST", "{out}");
    let chunks: Vec<&str> = out["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .map(|c| c.as_str().unwrap_or(""))
        .collect();
    assert_eq!(chunks.concat(), "one two three", "{out}");
    let events = out["events"].as_array().expect("events");
    assert_eq!(
        events.last(),
        Some(&json!("InvokeComplete")),
        "InvokeComplete is last: {out}"
    );
    assert_eq!(
        events.iter().filter(|e| *e == "InvokeComplete").count(),
        1,
        "{out}"
    );
    assert_eq!(
        out["InvokeComplete"],
        json!({"ErrorCode": null, "ErrorDetails": null, "LogResult": null}),
        "{out}"
    );
    let id = out["RequestId"].as_str().expect("RequestId");
    rapid.wait_for_report(id);
}

#[test]
fn boto3_sees_a_mid_stream_error_in_invoke_complete() {
    let rapid = streaming_runtime(&[], &[]);
    let event = json!({"action": "trailers", "errorType": "Function.MidStream"});
    let out = boto_stream(&rapid.url(), &["--payload", &event.to_string()]);
    assert_eq!(out["StatusCode"], 200, "{out}");
    assert_eq!(out["chunks"], json!(["partial"]), "{out}");
    assert_eq!(
        out["InvokeComplete"]["ErrorCode"], "Function.MidStream",
        "{out}"
    );
    assert_eq!(
        out["InvokeComplete"]["ErrorDetails"], "broke mid-stream",
        "{out}"
    );
}

#[test]
fn boto3_gets_the_log_tail_in_invoke_complete() {
    let rapid = streaming_runtime(&[], &[]);
    let event = json!({"action": "stream", "chunks": ["tail ", "me"]});
    let out = boto_stream(
        &rapid.url(),
        &["--payload", &event.to_string(), "--log-type", "Tail"],
    );
    let chunks: Vec<&str> = out["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .map(|c| c.as_str().unwrap_or(""))
        .collect();
    assert_eq!(chunks.concat(), "tail me", "{out}");
    let id = out["RequestId"].as_str().expect("RequestId");
    let log = out["InvokeComplete"]["LogResult"]
        .as_str()
        .unwrap_or_else(|| panic!("no LogResult: {out}"));
    assert!(
        log.contains(&format!("START RequestId: {id}")),
        "START in the tail: {log}"
    );
    assert!(
        log.contains("stream answer: 202"),
        "the runtime's line: {log}"
    );
    assert!(
        log.contains(&format!("REPORT RequestId: {id}")),
        "REPORT in the tail: {log}"
    );
    assert_eq!(out["InvokeComplete"]["ErrorCode"], Value::Null, "{out}");
}

#[test]
fn boto3_reads_a_lambda_runtime_stream() {
    let rapid = stream_fn();
    let event = json!({"chunks": ["from ", "lambda_runtime"]});
    let out = boto_stream(&rapid.url(), &["--payload", &event.to_string()]);
    assert_eq!(out["StatusCode"], 200, "{out}");
    let joined: String = out["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .map(|c| c.as_str().unwrap_or(""))
        .collect();
    let (prelude, rest) = split_prelude(joined.as_bytes());
    assert_eq!(prelude["statusCode"], 200, "{out}");
    assert_eq!(rest, b"from lambda_runtime", "{out}");
    assert_eq!(out["InvokeComplete"]["ErrorCode"], Value::Null, "{out}");
}

#[test]
fn boto3_streaming_invoke_of_a_buffered_function() {
    // A function that does not stream answers InvokeWithResponseStream too:
    // its whole response is the payload, then InvokeComplete.
    let rapid = Rapid::scripted(&[], &[]);
    let out = boto_stream(&rapid.url(), &["--payload", r#"{"n": 1}"#]);
    assert_eq!(out["StatusCode"], 200, "{out}");
    let joined: String = out["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .map(|c| c.as_str().unwrap_or(""))
        .collect();
    let body: Value = serde_json::from_str(&joined).expect("the echoed event");
    assert_eq!(body["n"], 1, "{out}");
    assert_eq!(out["InvokeComplete"]["ErrorCode"], Value::Null, "{out}");

    let out = boto_stream(
        &rapid.url(),
        &[
            "--payload",
            r#"{"action": "error", "errorType": "Function.Buffered"}"#,
        ],
    );
    assert_eq!(out["chunks"], json!([]), "{out}");
    assert_eq!(
        out["InvokeComplete"]["ErrorCode"], "Function.Buffered",
        "{out}"
    );
}

#[test]
fn boto3_sees_truncation_and_timeout_in_invoke_complete() {
    // The runtime must send its first chunk before the timeout.
    let rapid = streaming_runtime(&[], &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")]);
    let out = boto_stream(&rapid.url(), &["--payload", r#"{"action": "truncate"}"#]);
    assert_eq!(out["chunks"], json!(["first"]), "{out}");
    assert_eq!(
        out["InvokeComplete"]["ErrorCode"], "Runtime.TruncatedResponse",
        "{out}"
    );

    let out = boto_stream(&rapid.url(), &["--payload", r#"{"action": "hang"}"#]);
    assert_eq!(out["chunks"], json!(["first"]), "{out}");
    assert_eq!(
        out["InvokeComplete"]["ErrorCode"], "Sandbox.Timedout",
        "{out}"
    );
    let details = out["InvokeComplete"]["ErrorDetails"].as_str().unwrap_or("");
    assert!(
        details.contains("Task timed out after 3.00 seconds"),
        "{out}"
    );
}

// ---- big and slow streams -------------------------------------------------

#[test]
fn slow_reader_of_100_mb_keeps_rapid_memory_bounded() {
    const SIZE: usize = 100 * MB;
    /// rapid idles at a few MB; back-pressure keeps a stream's bytes in
    /// flight to a handful of chunks, so a stream may not grow it much.
    const RSS_BOUND_KB: u64 = 64 * 1024;
    let rapid = streaming_runtime(&[], &[]);
    let idle_kb = vm_rss_kb(rapid.pid()).expect("rapid's VmRSS");

    let mut resp = open(
        &rapid,
        INVOKE_PATH,
        &json!({"action": "big", "size": SIZE}),
        &[("TE", "trailers")],
    );
    assert_eq!(resp.status, 200);
    // Small reads, with a look at rapid's memory after each: the reader is
    // slower than the runtime, so rapid must hold the runtime back.
    let mut buf = [0u8; 4096];
    let mut total = 0;
    let mut peak_kb = idle_kb;
    loop {
        let n = resp.read_data(&mut buf).expect("read the stream");
        if n == 0 {
            break;
        }
        assert!(buf[..n].iter().all(|b| *b == b'x'), "at byte {total}");
        total += n;
        if let Some(kb) = vm_rss_kb(rapid.pid()) {
            peak_kb = peak_kb.max(kb);
        }
    }
    eprintln!("rapid VmRSS: {idle_kb} kB idle, {peak_kb} kB at most while streaming {SIZE} bytes");
    assert_eq!(total, SIZE);
    assert!(resp.trailers.is_empty(), "{:?}", resp.trailers);
    assert!(
        peak_kb < RSS_BOUND_KB,
        "rapid's VmRSS reached {peak_kb} kB (idle: {idle_kb} kB) for a 100 MB stream"
    );
    let report = rapid.wait_for_report(&streamed_request_id(&resp));
    assert_eq!(report.get("Status"), None, "{}", report.line);
}

#[test]
fn response_bandwidth_still_delivers_the_whole_stream() {
    let rapid = streaming_runtime(&["--response-bandwidth"], &[]);
    let resp = rapid.invoke(
        json!({"action": "big", "size": 7 * MB})
            .to_string()
            .as_bytes(),
        &[("TE", "trailers")],
    );
    assert_eq!(resp.status, 200, "{:?}", resp.headers);
    assert_eq!(resp.body.len(), 7 * MB);
    assert!(resp.body.iter().all(|b| *b == b'x'));
    assert!(resp.trailers.is_empty(), "{:?}", resp.trailers);
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), None, "{}", report.line);
}
