//! The event-stream encoding of InvokeWithResponseStream: every message
//! rapid writes decodes to what it encoded (encode then decode is the
//! identity), and a whole response body (chunks, then the ending, an error
//! or success, with or without a log tail) decodes to the chunks in order
//! and one `InvokeComplete` saying how it ended.

#![no_main]

use bytes::Bytes;
use http_body_util::BodyExt;
use interop::{ErrorType, FunctionError, ResponseStream};
use libfuzzer_sys::fuzz_target;
use rapid_cmd::body::{event, DoorBody, Framing};
use rapid_fuzz::{block_on, fields};

fuzz_target!(|data: &[u8]| {
    // Any bytes: the decoder must refuse or decode, never panic.
    let _ = aws_smithy_eventstream::frame::read_message_from(data);

    // The first byte says how the response ends; the rest, split at 0xFF,
    // is the chunks; an error's type and message follow a 0xFD byte.
    let (&mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let (chunks, ending) = match rest.iter().position(|b| *b == 0xFD) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    let chunks: Vec<Bytes> = chunks
        .split(|b| *b == 0xFF)
        .map(Bytes::copy_from_slice)
        .collect();
    for chunk in &chunks {
        let encoded = event("PayloadChunk", "application/octet-stream", chunk.clone());
        let message = aws_smithy_eventstream::frame::read_message_from(&encoded[..])
            .expect("rapid's own message decodes");
        assert_eq!(message.payload(), chunk);
        assert_eq!(header(&message, ":event-type"), Some("PayloadChunk"));
        assert_eq!(header(&message, ":message-type"), Some("event"));
    }

    let [error_type, message]: [String; 2] = fields(ending, 2).try_into().unwrap();
    let result = match mode % 3 {
        0 => Ok(()),
        1 => Err(FunctionError::new(
            ErrorType::Reported(error_type.clone()),
            &message,
        )),
        _ => Err(FunctionError::from_runtime(
            ErrorType::Reported(error_type.clone()),
            Bytes::from(message.clone()),
        )),
    };
    let tail = (mode & 0x80 != 0).then(|| Bytes::from(message.clone()));
    let (tx, rx) = tokio::sync::mpsc::channel(chunks.len().max(1));
    for chunk in &chunks {
        tx.try_send(chunk.clone()).unwrap();
    }
    drop(tx);
    let (end_tx, end) = tokio::sync::oneshot::channel();
    let _ = end_tx.send(result.clone());
    let (tail_tx, tail_rx) = tokio::sync::oneshot::channel();
    match &tail {
        Some(tail) => {
            let _ = tail_tx.send(tail.clone());
        }
        None => drop(tail_tx),
    }
    let body = DoorBody::stream(
        ResponseStream { chunks: rx, end },
        Framing::EventStream,
        Some(tail_rx),
    );
    let bytes = block_on(body.collect())
        .expect("an event stream never fails")
        .to_bytes();

    let mut messages = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        messages.push(aws_smithy_eventstream::frame::read_message_from(&rest[..len]).unwrap());
        rest = &rest[len..];
    }
    let (complete, payload) = messages.split_last().expect("at least InvokeComplete");
    assert_eq!(header(complete, ":event-type"), Some("InvokeComplete"));
    let received: Vec<u8> = payload.iter().flat_map(|m| m.payload().to_vec()).collect();
    let sent: Vec<u8> = chunks.concat();
    assert_eq!(received, sent, "the chunks arrive in order, unchanged");
    let complete: serde_json::Value = serde_json::from_slice(complete.payload()).unwrap();
    match &result {
        Ok(()) => assert!(complete.get("ErrorCode").is_none()),
        Err(err) => assert_eq!(complete["ErrorCode"], err.error_type.as_str()),
    }
    if let Some(tail) = tail {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&tail);
        assert_eq!(complete["LogResult"], encoded.as_str());
    }
});

fn header<'a>(message: &'a aws_smithy_types::event_stream::Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str())
}
