//! Bodies of front-door responses: whole, streamed as the runtime sends it,
//! or streamed in the AWS event-stream encoding that InvokeWithResponseStream
//! speaks (spec §2).

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use interop::{FunctionError, ResponseStream};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::sync::{mpsc, oneshot};

pub use wire::names::{
    FUNCTION_ERROR_BODY as ERROR_BODY_TRAILER, FUNCTION_ERROR_TYPE as ERROR_TYPE_TRAILER,
};

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

/// How a raw stream that fails after its first byte ends for the invoker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedEnd {
    /// The invoker sent `TE: trailers`: the body ends with the error trailers.
    Trailers,
    /// The transfer is cut without its terminating chunk, so that every
    /// HTTP client reports an incomplete body instead of a success.
    Abort,
}

impl FailedEnd {
    /// `Trailers` when the request's `TE` lists `trailers` (the condition
    /// under which HTTP/1.1 lets a server send trailer fields).
    pub fn for_request(headers: &HeaderMap) -> Self {
        let asks_trailers = headers
            .get_all(http::header::TE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|line| line.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("trailers"));
        if asks_trailers {
            FailedEnd::Trailers
        } else {
            FailedEnd::Abort
        }
    }
}

/// The error that cuts a raw stream short: hyper closes the connection
/// without the body's terminating chunk.
#[derive(Debug, thiserror::Error)]
#[error("the streamed response of {request_id} failed with {error_type}")]
pub struct StreamFailed {
    request_id: String,
    error_type: String,
}

enum State {
    Full(Option<Bytes>),
    Stream(Box<Streaming>),
    Forwarded(Box<Forwarding>),
    Done,
}

/// A buffered response forwarded as it arrives, under the length the
/// runtime announced (the invoker's `Content-Length`).
struct Forwarding {
    length: u64,
    /// Bytes handed on so far.
    sent: u64,
    chunks: Option<mpsc::Receiver<Bytes>>,
    /// The chunk that completes the body, held until the runtime's answer
    /// is taken: the invoker never has the whole body of a failed invoke.
    last: Option<Bytes>,
    end: oneshot::Receiver<Result<(), FunctionError>>,
    result: Option<Result<(), FunctionError>>,
    /// A failure cuts the transfer short (the length is sent already).
    cut: RawEnd,
}

struct Streaming {
    /// A chunk already taken from `chunks`, delivered first.
    first: Option<Bytes>,
    chunks: Option<mpsc::Receiver<Bytes>>,
    end: oneshot::Receiver<Result<(), FunctionError>>,
    result: Option<Result<(), FunctionError>>,
    framing: Framing,
    log_tail: Option<oneshot::Receiver<Bytes>>,
    /// Raw framing only: whose stream it is and how a failure ends it.
    raw: Option<RawEnd>,
}

struct RawEnd {
    request_id: String,
    failed: FailedEnd,
    /// A buffered response forwarded as it arrived, not a stream.
    forwarded: bool,
    /// The body has yielded once since the failure was known, so hyper
    /// has flushed the chunks before it; the connection is cut next.
    flushed: bool,
    logged: bool,
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
                first: None,
                chunks: Some(stream.chunks),
                end: stream.end,
                result: None,
                framing,
                log_tail,
                raw: None,
            })),
        }
    }

    /// Invoke's body for a streamed response (raw framing). Waits for the
    /// stream's first chunk: a stream that fails before it is the function
    /// error it is (`Err`), answered as Lambda's Invoke answers it. From the
    /// first chunk on, the bytes go out as they arrive, and a failure ends
    /// the body as `failed` says.
    pub async fn raw_stream(
        stream: ResponseStream,
        request_id: &str,
        failed: FailedEnd,
    ) -> Result<Self, FunctionError> {
        let ResponseStream { mut chunks, end } = stream;
        let Some(first) = chunks.recv().await else {
            return match end.await {
                Ok(Ok(())) => Ok(DoorBody::full(Bytes::new())),
                Ok(Err(err)) => Err(err),
                Err(_) => Err(ended_without_result()),
            };
        };
        Ok(DoorBody::raw_stream_after(
            first,
            ResponseStream { chunks, end },
            request_id,
            failed,
        ))
    }

    /// The rest of a raw stream whose first bytes were read already (an
    /// HTTP answer's body after its prelude): `first`, then the chunks as
    /// they arrive; a failure ends the body as `failed` says.
    pub fn raw_stream_after(
        first: Bytes,
        stream: ResponseStream,
        request_id: &str,
        failed: FailedEnd,
    ) -> Self {
        DoorBody {
            state: State::Stream(Box::new(Streaming {
                first: Some(first).filter(|bytes| !bytes.is_empty()),
                chunks: Some(stream.chunks),
                end: stream.end,
                result: None,
                framing: Framing::Raw,
                log_tail: None,
                raw: Some(RawEnd {
                    request_id: request_id.to_owned(),
                    failed,
                    forwarded: false,
                    flushed: false,
                    logged: false,
                }),
            })),
        }
    }

    /// Invoke's body for a buffered response of `length` bytes forwarded
    /// as it arrives: the same answer as the whole body (its length as
    /// `Content-Length`), but its bytes go out as they come. When the
    /// invoke fails before the runtime's answer is taken (the runtime's
    /// body cut short, its crash, the timeout), the transfer is cut short
    /// instead: the headers are out, so it can no longer be an error
    /// answer, and a client sees an incomplete body, never a short one.
    pub fn forwarded(stream: ResponseStream, length: u64, request_id: &str) -> Self {
        DoorBody {
            state: State::Forwarded(Box::new(Forwarding {
                length,
                sent: 0,
                chunks: Some(stream.chunks),
                last: None,
                end: stream.end,
                result: None,
                cut: RawEnd {
                    request_id: request_id.to_owned(),
                    failed: FailedEnd::Abort,
                    forwarded: true,
                    flushed: false,
                    logged: false,
                },
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
    type Error = StreamFailed;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamFailed>>> {
        let step = match &mut self.state {
            State::Full(bytes) => return Poll::Ready(bytes.take().map(Frame::data).map(Ok)),
            State::Forwarded(forwarding) => ready!(forwarding.poll_next(cx)),
            State::Stream(streaming) => ready!(streaming.poll_next(cx)),
            State::Done => return Poll::Ready(None),
        };
        let frame = match step {
            Step::Frame(frame) => Some(Ok(frame)),
            Step::Last(frame) => {
                self.state = State::Done;
                frame.map(Ok)
            }
            Step::Abort(failed) => {
                self.state = State::Done;
                Some(Err(failed))
            }
        };
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Full(bytes) => bytes.is_none(),
            State::Stream(_) | State::Forwarded(_) => false,
            State::Done => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            State::Full(None) | State::Done => SizeHint::with_exact(0),
            State::Forwarded(forwarding) => SizeHint::with_exact(forwarding.length),
            State::Stream(_) => SizeHint::default(),
        }
    }
}

enum Step {
    Frame(Frame<Bytes>),
    /// The stream's last frame (if any): the body ends after it.
    Last(Option<Frame<Bytes>>),
    /// The body ends without its terminating chunk.
    Abort(StreamFailed),
}

impl Streaming {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        if let Some(data) = self.first.take() {
            return Poll::Ready(Step::Frame(self.data_frame(data)));
        }
        // Every chunk the runtime sent is delivered before the ending, even
        // when the ending is an error (trailers come after the body).
        if let Some(chunks) = &mut self.chunks {
            match ready!(chunks.poll_recv(cx)) {
                Some(data) => return Poll::Ready(Step::Frame(self.data_frame(data))),
                None => self.chunks = None,
            }
        }
        if self.result.is_none() {
            let result = ready!(Pin::new(&mut self.end).poll(cx))
                .unwrap_or_else(|_| Err(ended_without_result()));
            self.result = Some(result);
        }
        if let (Some(raw), Some(Err(err))) = (&mut self.raw, &self.result) {
            return raw.fail(err, cx);
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

impl Forwarding {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        loop {
            if self.result.is_none() {
                if let Poll::Ready(result) = Pin::new(&mut self.end).poll(cx) {
                    self.result = Some(result.unwrap_or_else(|_| Err(ended_without_result())));
                }
            }
            if let Some(Err(err)) = &self.result {
                return self.cut.fail(err, cx);
            }
            if let (None, Some(chunks)) = (&self.last, &mut self.chunks) {
                match ready!(chunks.poll_recv(cx)) {
                    Some(data) if self.sent + data.len() as u64 >= self.length => {
                        self.last = Some(data);
                        self.chunks = None;
                    }
                    Some(data) => {
                        self.sent += data.len() as u64;
                        return Poll::Ready(Step::Frame(Frame::data(data)));
                    }
                    None => self.chunks = None,
                }
                continue;
            }
            // Every byte arrived (or the runtime stopped sending): the
            // last chunk goes out once the answer is taken.
            match self.result {
                None => return Poll::Pending,
                Some(_) => {
                    let sent = self.sent + self.last.as_ref().map_or(0, |b| b.len() as u64);
                    if sent == self.length {
                        return Poll::Ready(Step::Last(self.last.take().map(Frame::data)));
                    }
                    // Taken as an answer, but short of its length (the
                    // runtime posted its answer again meanwhile).
                    self.result = Some(Err(FunctionError::new(
                        interop::ErrorType::RuntimeTruncatedResponse,
                        "The response ended short of its length.",
                    )));
                }
            }
        }
    }
}

impl RawEnd {
    /// Ends a raw stream that failed after its first byte: with the error
    /// trailers when the invoker asked for them, else by cutting the
    /// transfer short. The failure is logged once.
    fn fail(&mut self, err: &FunctionError, cx: &mut Context<'_>) -> Poll<Step> {
        if !self.logged {
            self.logged = true;
            let ending = match self.failed {
                FailedEnd::Trailers => "its body ends with the error trailers",
                FailedEnd::Abort if self.forwarded => "the transfer is cut short",
                FailedEnd::Abort => {
                    "the transfer is cut short (the invoker did not send TE: trailers)"
                }
            };
            let what = if self.forwarded {
                "the response forwarded as it arrived"
            } else {
                "the streamed response"
            };
            tracing::warn!(
                request_id = %self.request_id,
                error_type = %err.error_type,
                "{what} failed after it started; {ending}"
            );
        }
        match self.failed {
            FailedEnd::Trailers => {
                Poll::Ready(Step::Last(Some(Frame::trailers(error_trailers(err)))))
            }
            FailedEnd::Abort if !self.flushed => {
                // hyper drops what it has not written when a body fails:
                // yield once so that it flushes the chunks sent so far.
                self.flushed = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            FailedEnd::Abort => Poll::Ready(Step::Abort(StreamFailed {
                request_id: self.request_id.clone(),
                error_type: err.error_type.to_string(),
            })),
        }
    }
}

fn ended_without_result() -> FunctionError {
    FunctionError::new(
        interop::ErrorType::RuntimeUnknown,
        "The invocation ended without a result.",
    )
}

use std::future::Future as _;

fn error_trailers(err: &FunctionError) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(err.error_type.as_str()) {
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
        complete.insert("ErrorCode".into(), err.error_type.as_str().into());
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
pub fn event(event_type: &'static str, content_type: &'static str, payload: Bytes) -> Bytes {
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

    /// A stream that already holds `chunks` and then ends with `result`.
    fn response_stream(
        chunks: &[&'static str],
        result: Result<(), FunctionError>,
    ) -> ResponseStream {
        let (tx, rx) = mpsc::channel(chunks.len().max(1));
        for chunk in chunks {
            tx.try_send(Bytes::from_static(chunk.as_bytes())).unwrap();
        }
        let (end_tx, end) = oneshot::channel();
        end_tx.send(result).unwrap();
        ResponseStream { chunks: rx, end }
    }

    fn boom() -> FunctionError {
        FunctionError::new(
            interop::ErrorType::Reported("Function.Boom".to_owned()),
            "mid-stream",
        )
    }

    #[tokio::test]
    async fn raw_stream_error_with_te_trailers_ends_in_trailers() {
        let stream = response_stream(&["part"], Err(boom()));
        let body = DoorBody::raw_stream(stream, "id", FailedEnd::Trailers)
            .await
            .unwrap();
        let collected = body.collect().await.unwrap();
        let trailers = collected.trailers().cloned().unwrap();
        assert_eq!(trailers[ERROR_TYPE_TRAILER], "Function.Boom");
        assert_eq!(&collected.to_bytes()[..], b"part");
    }

    #[tokio::test]
    async fn raw_stream_error_without_te_trailers_fails_the_body_after_the_data() {
        let stream = response_stream(&["part", "ial"], Err(boom()));
        let mut body = DoorBody::raw_stream(stream, "id", FailedEnd::Abort)
            .await
            .unwrap();
        let mut data = Vec::new();
        let failed = loop {
            match body.frame().await {
                Some(Ok(frame)) => data.extend_from_slice(&frame.into_data().unwrap()),
                Some(Err(failed)) => break failed,
                None => panic!("the body ended cleanly"),
            }
        };
        assert_eq!(data, b"partial");
        assert_eq!(failed.error_type, "Function.Boom");
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn raw_stream_that_fails_before_its_first_byte_is_a_function_error() {
        let stream = response_stream(&[], Err(boom()));
        let err = DoorBody::raw_stream(stream, "id", FailedEnd::Abort)
            .await
            .err()
            .unwrap();
        assert_eq!(err, boom());
        let stream = response_stream(&[], Ok(()));
        let body = DoorBody::raw_stream(stream, "id", FailedEnd::Abort)
            .await
            .unwrap();
        assert!(body.collect().await.unwrap().to_bytes().is_empty());
    }

    #[tokio::test]
    async fn raw_stream_that_ends_well_ends_cleanly() {
        let stream = response_stream(&["a", "b"], Ok(()));
        let body = DoorBody::raw_stream(stream, "id", FailedEnd::Abort)
            .await
            .unwrap();
        let collected = body.collect().await.unwrap();
        assert!(collected.trailers().is_none());
        assert_eq!(&collected.to_bytes()[..], b"ab");
    }

    /// Serves `body` as hyper does on the front door, to one raw client
    /// request, and returns every byte the client received until the
    /// server closed the connection.
    async fn served_bytes(body: DoorBody) -> Vec<u8> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let body = std::sync::Mutex::new(Some(body));
            let service = hyper::service::service_fn(move |_req| {
                let body = body.lock().unwrap().take().unwrap();
                async move { Ok::<_, std::convert::Infallible>(http::Response::new(body)) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
        });
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.unwrap();
        assert!(
            server.await.unwrap().is_err(),
            "the connection ends in error"
        );
        received
    }

    #[tokio::test]
    async fn cut_stream_delivers_every_chunk_then_no_terminating_chunk() {
        // The chunks and the failure are all ready at once: hyper must still
        // write the chunks before it drops the connection.
        let stream = response_stream(&["part", "ial"], Err(boom()));
        let body = DoorBody::raw_stream(stream, "id", FailedEnd::Abort)
            .await
            .unwrap();
        let received = String::from_utf8(served_bytes(body).await).unwrap();
        let (head, body) = received.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        assert_eq!(body, "4\r\npart\r\n3\r\nial\r\n", "no terminating chunk");
    }

    #[tokio::test]
    async fn a_forwarded_body_holds_its_last_chunk_until_the_answer_is_taken() {
        use std::future::poll_fn;
        let (tx, chunks) = mpsc::channel(4);
        let (end_tx, end) = oneshot::channel();
        let mut body = DoorBody::forwarded(ResponseStream { chunks, end }, 4, "id");
        assert_eq!(body.size_hint().exact(), Some(4));
        tx.send(Bytes::from_static(b"ab")).await.unwrap();
        tx.send(Bytes::from_static(b"cd")).await.unwrap();
        drop(tx);
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"ab");
        let held = poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx).is_pending()));
        assert!(held.await, "the last chunk waits for the answer");
        end_tx.send(Ok(())).unwrap();
        let last = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&last[..], b"cd");
        assert!(body.frame().await.is_none());
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn a_forwarded_body_cut_short_is_an_incomplete_transfer() {
        let (tx, chunks) = mpsc::channel(4);
        let (end_tx, end) = oneshot::channel();
        tx.send(Bytes::from_static(b"part")).await.unwrap();
        drop(tx);
        end_tx.send(Err(boom())).unwrap();
        let body = DoorBody::forwarded(ResponseStream { chunks, end }, 10, "id");
        let received = String::from_utf8(served_bytes(body).await).unwrap();
        let (head, body) = received.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("content-length: 10"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        assert!(body.len() < 10, "never the whole length: {body:?}");
    }

    #[tokio::test]
    async fn a_forwarded_body_taken_short_of_its_length_is_cut() {
        let stream = response_stream(&["part"], Ok(()));
        let body = DoorBody::forwarded(stream, 10, "id");
        let received = String::from_utf8(served_bytes(body).await).unwrap();
        let (_, body) = received.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, "part", "what came, and no more");
    }

    #[test]
    fn te_trailers_is_found_in_any_te_list() {
        let mut headers = HeaderMap::new();
        assert_eq!(FailedEnd::for_request(&headers), FailedEnd::Abort);
        headers.insert(http::header::TE, http::HeaderValue::from_static("gzip"));
        assert_eq!(FailedEnd::for_request(&headers), FailedEnd::Abort);
        headers.append(
            http::header::TE,
            http::HeaderValue::from_static("deflate, Trailers"),
        );
        assert_eq!(FailedEnd::for_request(&headers), FailedEnd::Trailers);
    }

    #[tokio::test]
    async fn event_stream_error_has_code_and_details() {
        let err = FunctionError::new(
            interop::ErrorType::SandboxTimedout,
            "Task timed out after 1.00 seconds",
        );
        let body = DoorBody::finished(None, Err(err), Framing::EventStream, None);
        let bytes = body.collect().await.unwrap().to_bytes();
        let messages = decode(&bytes);
        assert_eq!(messages.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(messages[0].payload()).unwrap();
        assert_eq!(v["ErrorCode"], "Sandbox.Timedout");
        assert_eq!(v["ErrorDetails"], "Task timed out after 1.00 seconds");
    }
}
