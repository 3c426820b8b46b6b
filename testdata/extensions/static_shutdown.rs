//! An external Lambda extension with nothing but Rust's std, so that it can
//! be built as one static file (`rustc -C target-feature=+crt-static`) and
//! run in a `FROM scratch` image next to a static rapid: cmd/tests/docker.rs
//! does that.
//!
//! It registers for INVOKE and SHUTDOWN under its file name, then asks for
//! its next event again and again, printing one line per event:
//! `static extension: INVOKE <request id>` and, at the end,
//! `static extension: SHUTDOWN <reason>`, after which it exits 0.
//!
//! One connection per request (`Connection: close`), so a response is read
//! to its end without parsing chunked framing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

const BASE: &str = "/2020-01-01/extension";

/// One HTTP/1.1 request; the answer's status line, headers and body.
fn request(api: &str, method: &str, path: &str, headers: &str, body: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(api).map_err(|e| format!("connect {api}: {e}"))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("write {path}: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("read {path}: {e}"))?;
    Ok(answer)
}

/// The value of header `name` in a raw answer.
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The string value of `"key":"..."` in a small JSON body (the events
/// rapid sends hold no escaped quotes in these fields).
fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let start = body.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = body[start..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next()
}

fn run() -> Result<(), String> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| "no AWS_LAMBDA_RUNTIME_API")?;
    let name = std::env::args()
        .next()
        .and_then(|p| p.rsplit('/').next().map(str::to_owned))
        .unwrap_or_else(|| "static_shutdown".into());
    let registered = request(
        &api,
        "POST",
        &format!("{BASE}/register"),
        &format!("Lambda-Extension-Name: {name}\r\nContent-Type: application/json\r\n"),
        r#"{"events":["INVOKE","SHUTDOWN"]}"#,
    )?;
    let id = header(&registered, "Lambda-Extension-Identifier")
        .ok_or_else(|| format!("no identifier in {registered:?}"))?
        .to_owned();
    loop {
        let event = request(
            &api,
            "GET",
            &format!("{BASE}/event/next"),
            &format!("Lambda-Extension-Identifier: {id}\r\n"),
            "",
        )?;
        let body = event.split("\r\n\r\n").nth(1).unwrap_or("");
        match field(body, "eventType") {
            Some("INVOKE") => {
                println!(
                    "static extension: INVOKE {}",
                    field(body, "requestId").unwrap_or("?")
                );
            }
            Some("SHUTDOWN") => {
                println!(
                    "static extension: SHUTDOWN {}",
                    field(body, "shutdownReason").unwrap_or("?")
                );
                return Ok(());
            }
            _ => return Err(format!("unexpected event {event:?}")),
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("static extension: {err}");
            ExitCode::from(1)
        }
    }
}
