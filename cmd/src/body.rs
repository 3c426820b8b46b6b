//! Bodies of front-door responses: whole, streamed as the runtime sends it,
//! or streamed in the AWS event-stream encoding that InvokeWithResponseStream
//! speaks (spec §2).

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use interop::{FunctionError, ResponseStream};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::sync::{mpsc, oneshot};

pub const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
pub const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";

/// How a stream is framed for the invoker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// The bytes as they come, chunked; a failure ends in error trailers.
    Raw,
    /// `PayloadChunk` events, then one `InvokeComplete`.
    EventStream,
}

pub struct DoorBody {
    state: State,
}

enum State {
    Full(Option<Bytes>),
    Stream(Box<Streaming>),
    Done,
}

struct Streaming {
    chunks: Option<mpsc::Receiver<Bytes>>,
    end: oneshot::Receiver<Result<(), FunctionError>>,
    result: Option<Result<(), FunctionError>>,
    framing: Framing,
    log_tail: Option<oneshot::Receiver<Bytes>>,
}

impl DoorBody {
    pub fn full(bytes: Bytes) -> Self {
        DoorBody {
            state: State::Full(Some(bytes)),
        }
    }

    pub fn stream(
        stream: ResponseStream,
        framing: Framing,
        log_tail: Option<oneshot::Receiver<Bytes>>,
    ) -> Self {
        DoorBody {
            state: State::Stream(Box::new(Streaming {
                chunks: Some(stream.chunks),
                end: stream.end,
                result: None,
                framing,
                log_tail,
            })),
        }
    }

    /// A result that is already whole, framed as a stream (event stream).
    pub fn finished(
        body: Option<Bytes>,
        result: Result<(), FunctionError>,
        framing: Framing,
        log_tail: Option<oneshot::Receiver<Bytes>>,
    ) -> Self {
        let (tx, chunks) = mpsc::channel(1);
        if let Some(body) = body.filter(|b| !b.is_empty()) {
            let _ = tx.try_send(body);
        }
        let (end_tx, end) = oneshot::channel();
        let _ = end_tx.send(result);
        Self::stream(ResponseStream { chunks, end }, framing, log_tail)
    }
}

impl Body for DoorBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let frame = match &mut self.state {
            State::Full(bytes) => bytes.take().map(Frame::data),
            State::Stream(streaming) => match ready!(streaming.poll_next(cx)) {
                Step::Frame(frame) => Some(frame),
                Step::Last(frame) => {
                    self.state = State::Done;
                    frame
                }
            },
            State::Done => None,
        };
        Poll::Ready(frame.map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Full(bytes) => bytes.is_none(),
            State::Stream(_) => false,
            State::Done => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            State::Full(None) | State::Done => SizeHint::with_exact(0),
            State::Stream(_) => SizeHint::default(),
        }
    }
}

enum Step {
    Frame(Frame<Bytes>),
    /// The stream's last frame (if any): the body ends after it.
    Last(Option<Frame<Bytes>>),
}

impl Streaming {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        // Every chunk the runtime sent is delivered before the ending, even
        // when the ending is an error (trailers come after the body).
        if let Some(chunks) = &mut self.chunks {
            match ready!(chunks.poll_recv(cx)) {
                Some(data) => return Poll::Ready(Step::Frame(self.data_frame(data))),
                None => self.chunks = None,
            }
        }
        if self.result.is_none() {
            let result = ready!(Pin::new(&mut self.end).poll(cx)).unwrap_or_else(|_| {
                Err(FunctionError::new(
                    interop::ErrorType::RUNTIME_UNKNOWN,
                    "The invocation ended without a result.",
                ))
            });
            self.result = Some(result);
        }
        let tail = match &mut self.log_tail {
            Some(tail) if self.framing == Framing::EventStream => {
                let tail = ready!(Pin::new(tail).poll(cx)).ok();
                self.log_tail = None;
                tail
            }
            _ => None,
        };
        let result = self.result.take().unwrap_or(Ok(()));
        Poll::Ready(Step::Last(match self.framing {
            Framing::Raw => result
                .err()
                .map(|err| Frame::trailers(error_trailers(&err))),
            Framing::EventStream => Some(Frame::data(invoke_complete(result, tail))),
        }))
    }

    fn data_frame(&self, data: Bytes) -> Frame<Bytes> {
        match self.framing {
            Framing::Raw => Frame::data(data),
            Framing::EventStream => {
                Frame::data(event("PayloadChunk", "application/octet-stream", data))
            }
        }
    }
}

use std::future::Future as _;

fn error_trailers(err: &FunctionError) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(&err.error_type) {
        trailers.insert(ERROR_TYPE_TRAILER, value);
    }
    let body = base64::engine::general_purpose::STANDARD.encode(&err.body);
    if let Ok(value) = http::HeaderValue::from_str(&body) {
        trailers.insert(ERROR_BODY_TRAILER, value);
    }
    trailers
}

/// The closing `InvokeComplete` event: `ErrorCode` / `ErrorDetails` on a
/// failure, `LogResult` when the log tail was asked for.
fn invoke_complete(result: Result<(), FunctionError>, tail: Option<Bytes>) -> Bytes {
    let mut complete = serde_json::Map::new();
    if let Err(err) = result {
        let details = serde_json::from_slice::<serde_json::Value>(&err.body)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&err.body).into_owned());
        complete.insert("ErrorCode".into(), err.error_type.into());
        complete.insert("ErrorDetails".into(), details.into());
    }
    if let Some(tail) = tail {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&tail);
        complete.insert("LogResult".into(), encoded.into());
    }
    let payload = Bytes::from(serde_json::Value::Object(complete).to_string());
    event("InvokeComplete", "application/json", payload)
}

/// One event-stream message (prelude, headers, payload, CRCs).
fn event(event_type: &'static str, content_type: &'static str, payload: Bytes) -> Bytes {
    let message = Message::new(payload)
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String(content_type.into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ));
    let mut out = Vec::new();
    // Writing to a Vec fails only for messages over the 16 MB frame limit,
    // which a chunk from the runtime's connection never is.
    match aws_smithy_eventstream::frame::write_message_to(&message, &mut out) {
        Ok(()) => Bytes::from(out),
        Err(err) => {
            tracing::error!(%err, "cannot encode an event-stream message");
            Bytes::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn decode(mut bytes: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            out.push(aws_smithy_eventstream::frame::read_message_from(&bytes[..len]).unwrap());
            bytes = &bytes[len..];
        }
        out
    }

    fn header<'a>(m: &'a Message, name: &str) -> &'a str {
        let h = m
            .headers()
            .iter()
            .find(|h| h.name().as_str() == name)
            .unwrap();
        h.value().as_string().unwrap().as_str()
    }

    #[tokio::test]
    async fn event_stream_chunks_then_complete() {
        let (tx, chunks) = mpsc::channel(4);
        let (end_tx, end) = oneshot::channel();
        tx.send(Bytes::from_static(b"hello ")).await.unwrap();
        tx.send(Bytes::from_static(b"world")).await.unwrap();
        drop(tx);
        end_tx.send(Ok(())).unwrap();
        let body = DoorBody::stream(ResponseStream { chunks, end }, Framing::EventStream, None);
        let bytes = body.collect().await.unwrap().to_bytes();
        let messages = decode(&bytes);
        assert_eq!(messages.len(), 3);
        assert_eq!(header(&messages[0], ":event-type"), "PayloadChunk");
        assert_eq!(&messages[1].payload()[..], b"world");
        assert_eq!(header(&messages[2], ":event-type"), "InvokeComplete");
        assert_eq!(&messages[2].payload()[..], b"{}");
    }

    #[tokio::test]
    async fn raw_stream_error_ends_in_trailers() {
        let err = FunctionError::new("Function.Boom", "mid-stream");
        let body = DoorBody::finished(
            Some(Bytes::from_static(b"part")),
            Err(err),
            Framing::Raw,
            None,
        );
        let collected = body.collect().await.unwrap();
        let trailers = collected.trailers().cloned().unwrap();
        assert_eq!(trailers[ERROR_TYPE_TRAILER], "Function.Boom");
        assert_eq!(&collected.to_bytes()[..], b"part");
    }

    #[tokio::test]
    async fn event_stream_error_has_code_and_details() {
        let err = FunctionError::new("Sandbox.Timedout", "Task timed out after 1.00 seconds");
        let body = DoorBody::finished(None, Err(err), Framing::EventStream, None);
        let bytes = body.collect().await.unwrap().to_bytes();
        let messages = decode(&bytes);
        assert_eq!(messages.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(messages[0].payload()).unwrap();
        assert_eq!(v["ErrorCode"], "Sandbox.Timedout");
        assert_eq!(v["ErrorDetails"], "Task timed out after 1.00 seconds");
    }
}
