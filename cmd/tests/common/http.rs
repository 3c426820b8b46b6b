//! A small blocking HTTP/1.1 client for driving rapid's front door.
//!
//! Deliberately not a library: the tests must see exactly what rapid put on
//! the wire (status, every header, chunked bodies and their trailers), and an
//! early answer (413 before the body was read) must not turn into a broken
//! pipe. So the request is written by one thread while this one reads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

/// How long a test waits for rapid to send anything (the head, the next
/// bytes of a body) on a request's connection. Answers that take longer are
/// scenarios with timers of their own, which stay well below this.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Trailers of a chunked body (empty otherwise).
    pub trailers: Vec<(String, String)>,
}

impl Resp {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {:?}", self.text()))
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads
/// the whole response. Panics when the server does not answer in time.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    try_request(addr, method, path, headers, body).unwrap_or_else(|e| {
        if is_timeout(&e) {
            panic!("{method} {path} on {addr}: rapid sent nothing for {RESPONSE_TIMEOUT:?} (hung?)")
        }
        panic!("{method} {path} on {addr}: no valid response: {e}")
    })
}

/// Whether `err` is a read that waited out its timeout.
pub fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Like [`request`], but an I/O failure (refused, reset, closed before a
/// complete response, no answer within [`RESPONSE_TIMEOUT`]) is returned.
pub fn try_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    try_request_within(addr, method, path, headers, body, RESPONSE_TIMEOUT)
}

/// Like [`try_request`], waiting at most `timeout` for each read.
pub fn try_request_within(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Resp> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;

    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let mut has_content_type = false;
    for (name, value) in headers {
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !has_content_type && !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));

    let mut writer = stream.try_clone()?;
    let payload = [head.into_bytes(), body.to_vec()].concat();
    let write_thread = thread::spawn(move || {
        // An error here means the server answered early and closed the
        // connection; the response (if any) is what the test checks.
        let _ = writer.write_all(&payload).and_then(|()| writer.flush());
    });

    let resp = read_response(&stream, method);
    // Unblocks the writer if the server stopped reading.
    let _ = stream.shutdown(Shutdown::Both);
    write_thread.join().expect("request writer panicked");
    resp
}

fn read_response(stream: &TcpStream, method: &str) -> std::io::Result<Resp> {
    let mut reader = BufReader::new(stream);
    loop {
        let status_line = read_line(&mut reader)?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        let headers = read_headers(&mut reader)?;
        if (100..200).contains(&status) {
            continue; // 100 Continue and friends: the real answer follows
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
            trailers: Vec::new(),
        };
        if method == "HEAD" || status == 204 || status == 304 {
            return Ok(resp);
        }
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            read_chunked(&mut reader, &mut resp)?;
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| invalid(format!("bad content-length {len:?}")))?;
            resp.body = vec![0; len];
            reader.read_exact(&mut resp.body)?;
        } else {
            reader.read_to_end(&mut resp.body)?;
        }
        return Ok(resp);
    }
}

fn read_chunked(reader: &mut impl BufRead, resp: &mut Resp) -> std::io::Result<()> {
    loop {
        let size_line = read_line(reader)?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            resp.trailers = read_headers(reader)?;
            return Ok(());
        }
        let start = resp.body.len();
        resp.body.resize(start + size, 0);
        reader.read_exact(&mut resp.body[start..])?;
        let end = read_line(reader)?;
        if !end.is_empty() {
            return Err(invalid(format!("chunk not followed by CRLF: {end:?}")));
        }
    }
}

fn read_headers(reader: &mut impl BufRead) -> std::io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

/// One line without its CRLF; EOF before the line ends is an error.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "connection closed mid-line after {:?}",
                String::from_utf8_lossy(&line)
            ),
        ));
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    String::from_utf8(line).map_err(|e| invalid(format!("non-UTF-8 line: {e}")))
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

/// A response read as it arrives: the head at once, then the body piece by
/// piece, so a test can watch a streamed body (and its trailers) come in.
pub struct Streamed {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Trailers of a chunked body, once the body has been read to its end.
    pub trailers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    framing: Framing,
}

enum Framing {
    /// `left` bytes remain in the current chunk; `first` until one was read.
    Chunked {
        left: usize,
        first: bool,
    },
    Length(usize),
    UntilClose,
    Done,
}

/// Sends one request (`Connection: close`) and returns once the response's
/// head is read; the body is read with [`Streamed::read_data`] and friends.
/// Each read waits at most [`RESPONSE_TIMEOUT`].
pub fn open(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Streamed> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(&[head.into_bytes(), body.to_vec()].concat())?;
    stream.flush()?;

    // Small reads on purpose: what a test sees is close to what arrived.
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let (status, headers) = loop {
        let status_line = read_line(&mut reader)?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        let headers = read_headers(&mut reader)?;
        if !(100..200).contains(&status) {
            break (status, headers);
        }
    };
    let value = |name: &str| lookup(&headers, name).map(str::to_ascii_lowercase);
    let framing = if method == "HEAD" || status == 204 || status == 304 {
        Framing::Done
    } else if value("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        Framing::Chunked {
            left: 0,
            first: true,
        }
    } else if let Some(len) = value("content-length") {
        let len = len
            .trim()
            .parse()
            .map_err(|_| invalid(format!("bad content-length {len:?}")))?;
        Framing::Length(len)
    } else {
        Framing::UntilClose
    };
    Ok(Streamed {
        status,
        headers,
        trailers: Vec::new(),
        reader,
        framing,
    })
}

impl Streamed {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(&self.headers, name)
    }

    /// The first value of trailer `name` (case-insensitive).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        lookup(&self.trailers, name)
    }

    /// Reads the next body bytes into `buf` (at most its length, at most
    /// one chunk); 0 at the end of the body. A body cut short is an error.
    pub fn read_data(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match &mut self.framing {
                Framing::Done => return Ok(0),
                Framing::Length(0) => {
                    self.framing = Framing::Done;
                    return Ok(0);
                }
                Framing::Length(left) => {
                    let want = buf.len().min(*left);
                    let n = self.reader.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(eof("the body ended before its Content-Length"));
                    }
                    *left -= n;
                    return Ok(n);
                }
                Framing::UntilClose => return self.reader.read(buf),
                Framing::Chunked { left: 0, first } => {
                    if !*first && !read_line(&mut self.reader)?.is_empty() {
                        return Err(invalid("chunk not followed by CRLF".into()));
                    }
                    let size_line = read_line(&mut self.reader)?;
                    let size_hex = size_line.split(';').next().unwrap_or("").trim();
                    let size = usize::from_str_radix(size_hex, 16)
                        .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
                    if size == 0 {
                        self.trailers = read_headers(&mut self.reader)?;
                        self.framing = Framing::Done;
                        return Ok(0);
                    }
                    self.framing = Framing::Chunked {
                        left: size,
                        first: false,
                    };
                }
                Framing::Chunked { left, .. } => {
                    let want = buf.len().min(*left);
                    let n = self.reader.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(eof("the connection closed inside a chunk"));
                    }
                    *left -= n;
                    return Ok(n);
                }
            }
        }
    }

    /// Reads body bytes onto `body` until `done(body)` holds; reaching the
    /// end of the body first is an error.
    pub fn read_until(
        &mut self,
        body: &mut Vec<u8>,
        done: impl Fn(&[u8]) -> bool,
    ) -> std::io::Result<()> {
        let mut buf = [0; 16 * 1024];
        while !done(body) {
            let n = self.read_data(&mut buf)?;
            if n == 0 {
                return Err(eof(&format!(
                    "the body ended before the awaited bytes: {:?}",
                    String::from_utf8_lossy(body)
                )));
            }
            body.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }

    /// Reads the rest of the body (and the trailers) onto `body`.
    pub fn read_to_end(&mut self, body: &mut Vec<u8>) -> std::io::Result<()> {
        let mut buf = [0; 16 * 1024];
        loop {
            let n = self.read_data(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            body.extend_from_slice(&buf[..n]);
        }
    }
}

fn eof(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, msg.to_string())
}

/// The first value of `name` (case-insensitive) among header-like pairs.
fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A connection the test keeps open, as a runtime keeps its keep-alive
/// connections and polls, to see whether rapid closes it.
pub struct Kept {
    stream: TcpStream,
}

impl Kept {
    /// Opens a connection to `addr`.
    pub fn open(addr: &str) -> std::io::Result<Kept> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
        Ok(Kept { stream })
    }

    /// Sends one request (keep-alive) and reads its whole response; the
    /// connection stays open. Once it is answered, the server has accepted
    /// the connection.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Resp> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: rapid\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.send(&[head.into_bytes(), body.to_vec()].concat())?;
        read_response(&self.stream, method)
    }

    /// POSTs a chunked body to `path`, each of `chunks` written on its own
    /// as one HTTP chunk (so the server reads it as many frames), and
    /// reads the whole response.
    pub fn post_chunked<'a>(
        &mut self,
        path: &str,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> std::io::Result<Resp> {
        let head =
            format!("POST {path} HTTP/1.1\r\nHost: rapid\r\nTransfer-Encoding: chunked\r\n\r\n");
        self.send(head.as_bytes())?;
        for chunk in chunks {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
            self.send(&framed)?;
        }
        self.send(b"0\r\n\r\n")?;
        read_response(&self.stream, "POST")
    }

    /// Writes `bytes` as they are (a request head, part of a body, a chunk).
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Waits at most `within` for the server to close the connection (a
    /// read sees the end of the stream, or a reset). Otherwise says what
    /// was seen instead: the connection still open, or bytes.
    pub fn wait_closed(&mut self, within: Duration) -> Result<(), String> {
        self.stream
            .set_read_timeout(Some(within))
            .map_err(|e| format!("cannot set a read timeout: {e}"))?;
        let mut buf = [0; 4096];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(()),
            Ok(n) => Err(format!(
                "the server sent {n} bytes instead of closing: {:?}",
                String::from_utf8_lossy(&buf[..n])
            )),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) if is_timeout(&e) => Err(format!("still open after {within:?}")),
            Err(e) => Err(format!("read failed: {e}")),
        }
    }
}

/// Scrapes `--metrics-address` and parses it with Prometheus's own parser.
pub fn scrape_metrics(address: &str) -> serde_json::Value {
    let resp = request(address, "GET", "/metrics", &[], b"");
    assert_eq!(resp.status, 200);
    assert!(
        resp.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        resp.headers
    );
    let mut parser = std::process::Command::new(super::fixtures::venv_python())
        .arg(super::fixtures::testdata("metrics/parse.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python for the metrics parser");
    use std::io::Write;
    parser
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(&resp.body)
        .expect("write the exposition");
    let out = parser.wait_with_output().expect("the parser's output");
    assert!(
        out.status.success(),
        "the exposition does not parse: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&resp.body)
    );
    serde_json::from_slice(&out.stdout).expect("the parser's JSON")
}
