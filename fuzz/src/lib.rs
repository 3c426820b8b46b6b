//! What the fuzz targets share: a readable input format for an HTTP request
//! (so the seed corpus can be written by hand), a body that yields the
//! request's frames as a chunked upload does, and a runtime to drive the
//! async handlers.
//!
//! An input is the request's head, a blank line, then its body:
//!
//! ```text
//! POST /2018-06-01/runtime/invocation/abc/response
//! Lambda-Runtime-Function-Response-Mode: streaming
//!
//! {"a":1}<0xFF>more<0xFF>!trailers
//! Lambda-Runtime-Function-Error-Type: Function.Boom
//! ```
//!
//! The body is split into frames at each `0xFF` byte (never part of UTF-8
//! text). A frame starting with `!trailers\n` is a trailers frame (header
//! lines); a frame that is exactly `!cut` is a read error (the peer went
//! away). Header lines that are not valid header names or values are skipped.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use hyper::body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// One request read from a fuzz input.
#[derive(Debug, Clone)]
pub struct Input {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub frames: Vec<Part>,
}

/// One frame of a request body.
#[derive(Debug, Clone)]
pub enum Part {
    Data(Bytes),
    Trailers(HeaderMap),
    /// The connection broke.
    Cut,
}

impl Input {
    pub fn parse(data: &[u8]) -> Input {
        let (head, body) = match find(data, b"\n\n") {
            Some(at) => (&data[..at], &data[at + 2..]),
            None => (data, &data[data.len()..]),
        };
        let mut lines = head.split(|b| *b == b'\n');
        let first = lines.next().unwrap_or_default();
        let mut words = first.splitn(2, |b| *b == b' ');
        let method = words
            .next()
            .and_then(|m| Method::from_bytes(m).ok())
            .unwrap_or(Method::POST);
        let path = String::from_utf8_lossy(words.next().unwrap_or_default()).into_owned();
        let headers = header_lines(lines);
        let frames = body
            .split(|b| *b == 0xFF)
            .map(|frame| {
                if frame == b"!cut" {
                    Part::Cut
                } else if let Some(rest) = frame.strip_prefix(b"!trailers\n") {
                    Part::Trailers(header_lines(rest.split(|b| *b == b'\n')))
                } else {
                    Part::Data(Bytes::copy_from_slice(frame))
                }
            })
            .collect();
        Input {
            method,
            path,
            headers,
            frames,
        }
    }

    /// The body's data, concatenated, up to the first cut.
    pub fn data(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &self.frames {
            match part {
                Part::Data(data) => out.extend_from_slice(data),
                Part::Trailers(_) => {}
                Part::Cut => break,
            }
        }
        out
    }

    /// The body was cut before its end.
    pub fn is_cut(&self) -> bool {
        self.frames.iter().any(|p| matches!(p, Part::Cut))
    }

    pub fn body(&self) -> Frames {
        Frames(self.frames.iter().cloned().collect())
    }

    pub fn request(&self) -> http::Request<Frames> {
        let mut req = http::Request::new(self.body());
        *req.method_mut() = self.method.clone();
        if let Ok(uri) = self.path.parse() {
            *req.uri_mut() = uri;
        }
        *req.headers_mut() = self.headers.clone();
        req
    }
}

fn header_lines<'a>(lines: impl Iterator<Item = &'a [u8]>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let value = &line[colon + 1..];
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A request body that yields its parts one frame at a time.
pub struct Frames(VecDeque<Part>);

/// The error a cut body yields.
#[derive(Debug)]
pub struct Cut;

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection cut")
    }
}

impl std::error::Error for Cut {}

impl Body for Frames {
    type Data = Bytes;
    type Error = Cut;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Cut>>> {
        Poll::Ready(match self.0.pop_front() {
            None => None,
            Some(Part::Data(data)) => Some(Ok(Frame::data(data))),
            Some(Part::Trailers(trailers)) => Some(Ok(Frame::trailers(trailers))),
            Some(Part::Cut) => {
                self.0.clear();
                Some(Err(Cut))
            }
        })
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Runs `future` to its end on a single-threaded runtime (tasks it spawns
/// run too). A future that never ends is a hang, which libFuzzer reports.
pub fn block_on<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime without I/O always builds");
    }
    RUNTIME.with(|rt| rt.block_on(future))
}

/// A string from fuzz bytes: split `data` at `0xFE` into at most `n` fields
/// (lossily decoded), padding with empty ones.
pub fn fields(data: &[u8], n: usize) -> Vec<String> {
    let mut out: Vec<String> = data
        .splitn(n, |b| *b == 0xFE)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    out.resize(n, String::new());
    out
}
