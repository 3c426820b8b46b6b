//! The front door's parsers: the operation from the method and path, the
//! invoke headers (invocation type, log type, client context, trace id,
//! tenant id), and the payload read under its limit and checked as JSON.
//! Every input must give an answer (a parsed invoke or a typed refusal with
//! its status), never a panic, and what is accepted must be safe to pass on.

#![no_main]

use base64::Engine as _;
use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use rapid_cmd::body::Framing;
use rapid_cmd::front_door::{
    decode_client_context, operation, parse_headers, read_payload, InvocationType, InvokeError,
};
use rapid_fuzz::{block_on, Input};

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let _ = operation(&input.method, &input.path);
    for framing in [Framing::Raw, Framing::EventStream] {
        match parse_headers(framing, &input.headers) {
            Ok(parsed) => {
                // What the runtime gets must be sendable as its headers.
                if let Some(context) = &parsed.client_context {
                    assert!(HeaderValue::from_str(context).is_ok(), "{context:?}");
                    let value: serde_json::Value = serde_json::from_str(context).unwrap();
                    assert!(value.is_object());
                }
                assert!(!parsed.trace_id.trim().is_empty());
                if framing == Framing::EventStream {
                    assert_ne!(parsed.invocation_type, InvocationType::Event);
                }
                if parsed.invocation_type == InvocationType::Event {
                    assert!(!parsed.log_tail, "Tail is for synchronous invokes only");
                }
                let tenant = input.headers.get("x-amz-tenant-id");
                assert_eq!(
                    parsed.tenant_id.as_deref().map(str::as_bytes),
                    tenant.map(|v| v.as_bytes())
                );
            }
            Err(err) => refused(&err),
        }
    }
    // The client context alone, from any text.
    let text = String::from_utf8_lossy(data);
    if let Ok(context) = decode_client_context(&text) {
        assert!(HeaderValue::from_str(&context).is_ok());
        let decoded = base64::engine::general_purpose::STANDARD.decode(text.trim());
        assert!(decoded.is_ok());
    }
    // The fast JSON check passes only what the exact one accepts.
    if wire::surely_json(data) {
        is_json(data);
    }
    // The payload under a small limit (the first byte), frame by frame.
    let limit = u64::from(data.first().copied().unwrap_or(0));
    let sent = input.data();
    match block_on(read_payload(input.body(), limit)) {
        Ok(payload) => {
            assert!(!input.is_cut());
            assert!(sent.len() as u64 <= limit);
            if sent.iter().all(u8::is_ascii_whitespace) {
                assert_eq!(&payload[..], b"{}");
            } else {
                assert_eq!(&payload[..], &sent[..], "the payload is passed on as sent");
                is_json(&payload);
            }
        }
        Err(InvokeError::TooLarge { limit: said }) => {
            assert_eq!(said, limit);
            assert!(sent.len() as u64 > limit);
        }
        Err(InvokeError::BodyRead) => assert!(input.is_cut()),
        Err(err @ InvokeError::NotJson(_)) => {
            assert!(sent.len() as u64 <= limit);
            refused(&err)
        }
        Err(err) => panic!("a payload cannot fail with {err:?}"),
    }
});

/// `payload` is JSON text: UTF-8 that serde_json reads whole as JSON
/// text (ignored, not held). JSON's grammar allows a number past f64's
/// range (`1e999`) and a lone surrogate escape (`"\\ud800"`, RFC 8259
/// §8.2), which serde_json's `Value` cannot hold; the runtime's decoder
/// may read them (Python's reads both).
fn is_json(payload: &[u8]) {
    assert!(
        std::str::from_utf8(payload).is_ok(),
        "not UTF-8: {payload:?}"
    );
    if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
        panic!("{err}: {payload:?}");
    }
}

/// A refusal has a 4xx status, an error type and a message.
fn refused(err: &InvokeError) {
    assert!(err.status().is_client_error(), "{err:?}");
    assert!(!err.error_type().is_empty());
    assert!(!err.to_string().is_empty());
}
