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

/// How long a test waits for rapid to answer one request.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

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
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: no valid response: {e}"))
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
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(RESPONSE_TIMEOUT))?;

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
