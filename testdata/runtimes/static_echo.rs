//! A Lambda runtime with nothing but Rust's std, so that it can be built as
//! one static file (`rustc -C target-feature=+crt-static`) and run in an
//! empty root next to a static rapid: cmd/tests/static_binary.rs does that.
//!
//! For each event it answers a JSON object that shows what it was started
//! with: `{"event": <the event>, "handler": _HANDLER, "pid": ..., "cwd": ...,
//! "argv": [...], "env": {LAMBDA_TASK_ROOT, TZ, ...}, "hostname": ...}`
//! (the hostname tells a container's replicas apart). An event
//! `{"action":"crash"}` makes it exit 3 instead; one with `"sleep_ms": N`
//! is answered after N milliseconds (an invoke held in flight, for the
//! tests that stop or kill a replica under it); one with `"alloc_mb": N`
//! first fills N MiB of memory (to meet a memory cap).
//!
//! One connection per request (`Connection: close`), so a response is read
//! to its end without parsing chunked framing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

const SHOWN_ENV: &[&str] = &[
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
    "LANG",
    "PATH",
    "AWS_LAMBDA_FUNCTION_NAME",
];

fn main() -> ExitCode {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        eprintln!("static_echo: AWS_LAMBDA_RUNTIME_API is not set");
        return ExitCode::from(2);
    };
    println!("static_echo: started, handler {:?}", handler());
    loop {
        let next = match call(&api, "GET", "/2018-06-01/runtime/invocation/next", b"") {
            Ok(next) => next,
            Err(err) => {
                eprintln!("static_echo: next failed: {err}");
                return ExitCode::from(1);
            }
        };
        let Some(request_id) = header(&next.head, "lambda-runtime-aws-request-id") else {
            eprintln!("static_echo: no request id in {:?}", next.head);
            return ExitCode::from(1);
        };
        if next.body.windows(7).any(|w| w == b"\"crash\"") {
            println!("static_echo: crashing as asked");
            return ExitCode::from(3);
        }
        if let Some(mb) = number_after(&next.body, "\"alloc_mb\"") {
            println!("static_echo: {request_id} fills {mb} MiB");
            let filled = vec![1u8; (mb as usize) << 20];
            std::hint::black_box(&filled);
        }
        if let Some(ms) = number_after(&next.body, "\"sleep_ms\"") {
            println!("static_echo: {request_id} sleeps {ms} ms");
            std::thread::sleep(std::time::Duration::from_millis(ms)); // ok: the event asks to be held in flight this long
        }
        let answer = describe(&next.body);
        let path = format!("/2018-06-01/runtime/invocation/{request_id}/response");
        if let Err(err) = call(&api, "POST", &path, answer.as_bytes()) {
            eprintln!("static_echo: response failed: {err}");
            return ExitCode::from(1);
        }
    }
}

/// N of a `"key": N` in the event (no JSON parser in a std-only program:
/// the digits after the key).
fn number_after(event: &[u8], key: &str) -> Option<u64> {
    let text = std::str::from_utf8(event).ok()?;
    let after = text.split_once(key)?.1.trim_start();
    let digits = after.strip_prefix(':')?.trim_start();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

fn handler() -> String {
    std::env::var("_HANDLER").unwrap_or_default()
}

fn describe(event: &[u8]) -> String {
    let event = String::from_utf8_lossy(event);
    let event = if event.trim().is_empty() {
        "null".into()
    } else {
        event
    };
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let argv: Vec<String> = std::env::args().map(|a| quote(&a)).collect();
    let env: Vec<String> = SHOWN_ENV
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok()?;
            Some(format!("{}:{}", quote(name), quote(&value)))
        })
        .collect();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!(
        "{{\"event\":{event},\"handler\":{},\"pid\":{},\"cwd\":{},\"argv\":[{}],\"env\":{{{}}},\"hostname\":{}}}",
        quote(&handler()),
        std::process::id(),
        quote(&cwd),
        argv.join(","),
        env.join(","),
        quote(hostname.trim())
    )
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Answer {
    head: String,
    body: Vec<u8>,
}

fn call(api: &str, method: &str, path: &str, body: &[u8]) -> std::io::Result<Answer> {
    let mut conn = TcpStream::connect(api)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers in the answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status_ok = head
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'));
    if !status_ok {
        return Err(std::io::Error::other(format!(
            "{method} {path}: {}",
            head.lines().next().unwrap_or_default()
        )));
    }
    Ok(Answer {
        head,
        body: raw[split + 4..].to_vec(),
    })
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}
