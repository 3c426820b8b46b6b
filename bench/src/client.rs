//! The load generator: hyper 1.x HTTP/1.1 client connections, each one
//! keep-alive connection sending one POST at a time, and the two ways the
//! bench drives them — one client in sequence, or N clients at once. A
//! streamed answer is read frame by frame, timing its first byte.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

/// Where rapid (like aws-lambda-rie) and cargo-lambda accept invokes.
pub const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

/// The bound on one round trip; only turns a hang into an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP exchange with {addr} failed: {source}")]
    Http {
        addr: SocketAddr,
        source: hyper::Error,
    },
    #[error("{addr} answered {status}: {body}")]
    Status {
        addr: SocketAddr,
        status: StatusCode,
        body: String,
    },
    #[error("{addr} did not answer within {REQUEST_TIMEOUT:?}")]
    Timeout { addr: SocketAddr },
    #[error("{addr} answered with something other than the echo of the request: {detail}")]
    NotEcho { addr: SocketAddr, detail: String },
    #[error("a client task failed: {0}")]
    Task(String),
    #[error(
        "{addr} answered a streamed invoke with Content-Length: it was buffered, not streamed"
    )]
    NotStreamed { addr: SocketAddr },
    #[error("{addr} streamed {got} bytes where {expected} were asked for")]
    StreamLength {
        addr: SocketAddr,
        got: u64,
        expected: u64,
    },
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    addr: SocketAddr,
    path: String,
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr, path: &str) -> Result<Conn, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        stream
            .set_nodelay(true)
            .map_err(|source| ClientError::Connect { addr, source })?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|source| ClientError::Http { addr, source })?;
        // The connection future does the actual I/O; it ends when `sender`
        // is dropped or the peer closes.
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            addr,
            path: path.to_string(),
            sender,
            driver,
        })
    }

    /// POSTs `body` and returns the response body; anything but 200 is an error.
    pub async fn post(&mut self, body: Bytes) -> Result<Bytes, ClientError> {
        let addr = self.addr;
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(body)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout { addr }),
        }
    }

    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        Request::post(self.path.as_str())
            .header(HOST, self.addr.to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .expect("a POST with a static path and headers is a valid request") // ok: built from constants
    }

    /// Sends `method path` with `body` of `content_type` (web traffic, any
    /// path) and returns the answer's body; anything but 200 is an error.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<Bytes, ClientError> {
        let addr = self.addr;
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, addr.to_string())
            .header(CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .map_err(|e| ClientError::Task(format!("cannot build {method} {path}: {e}")))?;
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange_request(req)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout { addr }),
        }
    }

    async fn exchange(&mut self, body: Bytes) -> Result<Bytes, ClientError> {
        let req = self.request(body);
        self.exchange_request(req).await
    }

    async fn exchange_request(&mut self, req: Request<Full<Bytes>>) -> Result<Bytes, ClientError> {
        let addr = self.addr;
        let http = |source| ClientError::Http { addr, source };
        self.sender.ready().await.map_err(http)?;
        let resp = self.sender.send_request(req).await.map_err(http)?;
        let status = resp.status();
        let body = resp.into_body().collect().await.map_err(http)?.to_bytes();
        if status != StatusCode::OK {
            return Err(status_error(addr, status, &body));
        }
        Ok(body)
    }

    /// POSTs `body` and reads the streamed answer frame by frame, which must
    /// be chunked (no Content-Length) and `expected` bytes long.
    pub async fn post_streamed(
        &mut self,
        body: Bytes,
        expected: u64,
    ) -> Result<StreamedAnswer, ClientError> {
        let addr = self.addr;
        match tokio::time::timeout(REQUEST_TIMEOUT, self.stream_exchange(body, expected)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout { addr }),
        }
    }

    async fn stream_exchange(
        &mut self,
        body: Bytes,
        expected: u64,
    ) -> Result<StreamedAnswer, ClientError> {
        let addr = self.addr;
        let http = |source| ClientError::Http { addr, source };
        let req = self.request(body);
        self.sender.ready().await.map_err(http)?;
        let sent = Instant::now();
        let resp = self.sender.send_request(req).await.map_err(http)?;
        let status = resp.status();
        let buffered = resp.headers().contains_key(CONTENT_LENGTH);
        let mut body = resp.into_body();
        if status != StatusCode::OK {
            let body = body.collect().await.map_err(http)?.to_bytes();
            return Err(status_error(addr, status, &body));
        }
        if buffered {
            return Err(ClientError::NotStreamed { addr });
        }
        let mut first_byte = None;
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            // Trailers (a mid-stream error) come only to clients that send
            // `TE: trailers`; a failed stream shows as a short one here.
            if let Ok(data) = frame.map_err(http)?.into_data() {
                if !data.is_empty() {
                    first_byte.get_or_insert_with(|| sent.elapsed());
                    bytes += data.len() as u64;
                }
            }
        }
        let elapsed = sent.elapsed();
        match first_byte {
            Some(first_byte) if bytes == expected => Ok(StreamedAnswer {
                first_byte,
                elapsed,
                bytes,
            }),
            _ => Err(ClientError::StreamLength {
                addr,
                got: bytes,
                expected,
            }),
        }
    }

    /// One round trip whose answer must be the same JSON value as `body`;
    /// returns the answer, whose length later answers are checked against.
    pub async fn post_echo(&mut self, body: Bytes) -> Result<Bytes, ClientError> {
        let got = self.post(body.clone()).await?;
        let addr = self.addr;
        let parse = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes);
        match (parse(&body), parse(&got)) {
            (Ok(sent), Ok(back)) if sent == back => Ok(got),
            (Ok(_), Ok(_)) => Err(ClientError::NotEcho {
                addr,
                detail: "a different JSON value came back".to_string(),
            }),
            (_, Err(e)) => Err(ClientError::NotEcho {
                addr,
                detail: format!("the answer is not JSON: {e}"),
            }),
            (Err(e), _) => Err(ClientError::NotEcho {
                addr,
                detail: format!("the bench sent invalid JSON: {e}"),
            }),
        }
    }
}

/// An answer other than 200, quoting the start of its body.
fn status_error(addr: SocketAddr, status: StatusCode, body: &Bytes) -> ClientError {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    ClientError::Status {
        addr,
        status,
        body: text,
    }
}

/// How a streamed answer arrived.
pub struct StreamedAnswer {
    /// From sending the request to the first body byte.
    pub first_byte: Duration,
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
    pub bytes: u64,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Round-trip times of a batch of requests and the wall time of the batch.
pub struct Run {
    pub latencies_ns: Vec<u64>,
    pub elapsed: Duration,
}

/// `n` round trips in sequence on `conn`, each answer checked to be as long
/// as `expect` (the echo seen before; a different answer would differ in size).
pub async fn sequential(
    conn: &mut Conn,
    body: &Bytes,
    expect: &Bytes,
    n: usize,
) -> Result<Run, ClientError> {
    let mut latencies_ns = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let sent = Instant::now();
        let got = conn.post(body.clone()).await?;
        latencies_ns.push(sent.elapsed().as_nanos() as u64);
        if got.len() != expect.len() {
            return Err(ClientError::NotEcho {
                addr: conn.addr,
                detail: format!("{} bytes came back, {} before", got.len(), expect.len()),
            });
        }
    }
    Ok(Run {
        latencies_ns,
        elapsed: start.elapsed(),
    })
}

/// `total` round trips spread over `clients` connections sending at once.
/// All connections are opened before the clock starts.
pub async fn concurrent(
    addr: SocketAddr,
    path: &str,
    body: &Bytes,
    expect: &Bytes,
    clients: usize,
    total: usize,
) -> Result<Run, ClientError> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::connect(addr, path).await?);
    }
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let share = total / clients + usize::from(i < total % clients);
        let (body, expect) = (body.clone(), expect.clone());
        tasks.spawn(async move { sequential(&mut conn, &body, &expect, share).await });
    }
    let mut latencies_ns = Vec::with_capacity(total);
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(run)) => latencies_ns.extend(run.latencies_ns),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
                tasks.abort_all();
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                first_error.get_or_insert(ClientError::Task(e.to_string()));
            }
        }
    }
    let elapsed = start.elapsed();
    match first_error {
        Some(e) => Err(e),
        None => Ok(Run {
            latencies_ns,
            elapsed,
        }),
    }
}

/// A JSON object `{"data":"aaa…"}` of exactly `size` bytes (at least 11).
pub fn payload_of_size(size: usize) -> Bytes {
    const HEAD: &[u8] = b"{\"data\":\"";
    const TAIL: &[u8] = b"\"}";
    let fill = size.saturating_sub(HEAD.len() + TAIL.len());
    let mut body = Vec::with_capacity(HEAD.len() + fill + TAIL.len());
    body.extend_from_slice(HEAD);
    body.resize(HEAD.len() + fill, b'a');
    body.extend_from_slice(TAIL);
    Bytes::from(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_has_the_asked_size_and_is_json() {
        for size in [11, 12, 1024, 1 << 20] {
            let body = payload_of_size(size);
            assert_eq!(body.len(), size);
            serde_json::from_slice::<serde_json::Value>(&body).expect("valid JSON");
        }
    }
}
