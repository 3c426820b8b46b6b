//! A payload arriving in many pieces is checked as JSON piece by piece
//! while it streams in (`wire::JsonCheck`): an error in its very last byte
//! is still refused before the runtime sees a byte, and a valid one whose
//! pieces split strings, escapes and UTF-8 sequences reaches a real
//! runtime byte for byte.

mod common;

use common::http::Kept;
use common::*;
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

/// A JSON string of about `size` bytes, written as serde_json writes it
/// (so a runtime that decodes and encodes it again gives the same bytes),
/// full of escapes and characters of every UTF-8 width.
fn varied_text(size: usize) -> String {
    let piece = "plain ascii é € 😀 \"quoted\" back\\slash\nline\ttab\u{1} ";
    piece.repeat(size / piece.len() + 1)
}

/// `bytes` in pieces of `size` bytes: a size prime to the text's period,
/// so the boundaries fall inside every kind of token.
fn pieces(bytes: &[u8], size: usize) -> Vec<&[u8]> {
    bytes.chunks(size).collect()
}

#[test]
fn an_error_in_the_last_byte_of_many_chunks_is_refused_and_nothing_runs() {
    let rapid = Rapid::scripted(&[], &[]);
    let good = serde_json::to_vec(&json!({"action": "echo", "text": varied_text(2 * MIB)}))
        .expect("serializable");
    let endings: [&[u8]; 3] = [
        b"]",        // the wrong closing bracket
        b",",        // a comma with nothing after it
        b"\xe2\x82", // a UTF-8 sequence cut short
    ];
    for ending in endings {
        let mut body = good[..good.len() - 1].to_vec();
        body.extend_from_slice(ending);
        let mut conn = Kept::open(rapid.invoke_addr()).expect("connects");
        let resp = conn
            .post_chunked(INVOKE_PATH, pieces(&body, 4093))
            .expect("answered");
        assert_eq!(
            (resp.status, resp.header("x-amzn-errortype")),
            (400, Some("InvalidRequestContentException")),
            "ending {ending:?}: {}",
            resp.text()
        );
    }
    // Nothing reached the runtime: the next invoke is the first to start,
    // and the runtime answers it normally.
    let resp = rapid.invoke(br#"{"sentinel":true}"#, &[]);
    assert_success(&resp);
    let id = request_id(&resp);
    rapid.wait_for_report(&id);
    let starts = rapid.count_stdout(|l| logs::start_id(l).is_some());
    assert_eq!(starts, 1, "only the sentinel invoke ran");
}

#[test]
fn a_valid_payload_in_many_chunks_reaches_lambda_runtime_byte_for_byte() {
    let rapid = Rapid::start(&[rust_fn("echo-fn").to_str().expect("UTF-8 path")], &[]);
    let event = json!({"text": varied_text(3 * MIB)});
    let body = serde_json::to_vec(&event).expect("serializable");
    for size in [4093, 65_537, 1] {
        if size == 1 {
            // Byte by byte: only a short payload, to keep the test quick.
            let short = serde_json::to_vec(&json!({"text": varied_text(300)})).unwrap();
            let mut conn = Kept::open(rapid.invoke_addr()).expect("connects");
            let resp = conn.post_chunked(INVOKE_PATH, pieces(&short, 1)).unwrap();
            assert_eq!(resp.status, 200, "{}", resp.text());
            assert!(resp.body == short, "byte by byte: the echo differs");
            continue;
        }
        let mut conn = Kept::open(rapid.invoke_addr()).expect("connects");
        let resp = conn
            .post_chunked(INVOKE_PATH, pieces(&body, size))
            .expect("answered");
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert!(resp.body == body, "pieces of {size}: the echo differs");
    }
    // Whole, with a Content-Length, as before.
    let resp = rapid.invoke(&body, &[]);
    assert_eq!(resp.status, 200);
    let echoed: Value = serde_json::from_slice(&resp.body).expect("JSON");
    assert_eq!(echoed, event);
}
