//! `bench --http`: web traffic. The same small JSON request and the same
//! 1 MiB binary upload (answered with the same bytes) sent to testdata's
//! `web-fn` (`lambda_http`) through rapid's `--http-address` and through
//! cargo-lambda's `/lambda-url/function/`, in the same run, beside rapid's
//! plain Invoke of echo-fn with the same small event (what the HTTP
//! translation adds to an invoke). Warm p50 and p99, the emulator's CPU
//! per request, and the 1 MiB round trip's p50.
//!
//! Printed as Markdown and written to FILE-http.md.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use tokio::runtime::Runtime;

use crate::client::{Conn, Run, INVOKE_PATH};
use crate::error::BenchError;
use crate::measure::SMALL_EVENT;
use crate::proc::Proc;
use crate::scratch::ScratchDir;
use crate::stats::{median, Latency};
use crate::targets::{self, Function, Paths, TargetError};

/// The figures of one target.
struct Row {
    title: &'static str,
    small: Latency,
    /// The emulator's CPU per small request, in µs.
    cpu_us: f64,
    mib_p50_us: f64,
}

/// How many of each.
struct Counts {
    warmup: usize,
    small: usize,
    mib: usize,
}

/// One request a target is sent.
struct Ask {
    method: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: Bytes,
    /// The answer must be the same bytes (the binary echo).
    same_bytes: bool,
}

/// What one target is asked: where, a small request and a 1 MiB one.
struct Requests {
    addr: SocketAddr,
    small: Ask,
    mib: Ask,
}

const MIB: usize = 1 << 20;

/// The 1 MiB binary body: every byte value, over and over.
fn binary() -> Bytes {
    Bytes::from((0..MIB).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// The function URL event rapid builds for a POST of `body` to `path`
/// (the same fields, the same size within a few bytes), for the plain
/// Invoke baseline: the same function doing the same work, without the
/// HTTP translation.
pub(crate) fn event(path: &str, content_type: &str, body: &[u8]) -> Bytes {
    use base64::Engine as _;
    let (body, encoded) = if content_type == "application/json" {
        (String::from_utf8_lossy(body).into_owned(), false)
    } else {
        (base64::engine::general_purpose::STANDARD.encode(body), true)
    };
    let event = serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {
            "host": "127.0.0.1:9000", "content-type": content_type,
            "content-length": body.len().to_string(), "x-forwarded-for": "127.0.0.1",
            "x-forwarded-port": "9000", "x-forwarded-proto": "http",
            "x-amzn-trace-id": "Root=1-6751a2b3-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0",
        },
        "requestContext": {
            "accountId": "anonymous", "apiId": "0123456789abcdef0123456789abcdef",
            "domainName": "0123456789abcdef0123456789abcdef.lambda-url.us-east-1.on.aws",
            "domainPrefix": "0123456789abcdef0123456789abcdef",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": ""},
            "requestId": "8d6c0b5e-2f4b-4d4c-9c55-3f8e0d2a1b77", "routeKey": "$default",
            "stage": "$default", "time": "07/Dec/2026:15:00:00 +0000", "timeEpoch": 1_796_655_600_000u64,
        },
        "body": body,
        "isBase64Encoded": encoded,
    });
    Bytes::from(event.to_string())
}

pub fn run(
    rt: &Runtime,
    paths: &Paths,
    cargo_lambda: Option<&Path>,
    quick: bool,
) -> Result<String, BenchError> {
    let counts = Counts {
        warmup: if quick { 20 } else { 200 },
        small: if quick { 300 } else { 3000 },
        mib: if quick { 10 } else { 60 },
    };
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let empty = ScratchDir::create("web-bench").map_err(|source| TargetError::Io {
        what: "an empty extensions directory",
        source,
    })?;
    let small = Bytes::from_static(SMALL_EVENT);
    let web_asks = |prefix: &'static str, addr| Requests {
        addr,
        small: Ask {
            method: "POST",
            path: if prefix.is_empty() {
                "/echo-json"
            } else {
                "/lambda-url/function/echo-json"
            },
            content_type: "application/json",
            body: small.clone(),
            same_bytes: false,
        },
        mib: Ask {
            method: "POST",
            path: if prefix.is_empty() {
                "/echo-bytes"
            } else {
                "/lambda-url/function/echo-bytes"
            },
            content_type: "application/octet-stream",
            body: binary(),
            same_bytes: true,
        },
    };

    let flags = ["--http-address", "127.0.0.1:0"];
    let rapid = targets::start_rapid_with(paths, Function::RustWeb, empty.path(), &[], &flags)?;
    let invoke = Requests {
        addr: rapid.invoke_addr,
        small: Ask {
            method: "POST",
            path: INVOKE_PATH,
            content_type: "application/json",
            body: event("/echo-json", "application/json", SMALL_EVENT),
            same_bytes: false,
        },
        mib: Ask {
            method: "POST",
            path: INVOKE_PATH,
            content_type: "application/json",
            body: event("/echo-bytes", "application/octet-stream", &binary()),
            same_bytes: false,
        },
    };
    rows.push(measure(
        rt,
        "rapid Invoke (the event) + web-fn",
        &invoke,
        &rapid.proc,
        &counts,
    )?);
    let web = web_asks("", rapid.web_addr.unwrap_or(rapid.invoke_addr));
    rows.push(measure(
        rt,
        "rapid --http-address + web-fn",
        &web,
        &rapid.proc,
        &counts,
    )?);
    drop(rapid);

    match paths.cargo_lambda(cargo_lambda) {
        Ok(exe) => {
            let cl = targets::start_cargo_lambda_with(paths, &exe, "web-fn")?;
            let url = web_asks("/lambda-url/function", cl.invoke_addr);
            rows.push(measure(
                rt,
                "cargo-lambda /lambda-url/ + web-fn",
                &url,
                &cl.server,
                &counts,
            )?);
            notes.push(format!("cargo-lambda: {}", cl.version));
        }
        Err(e) => notes.push(format!("cargo-lambda not measured: {e}")),
    }
    Ok(markdown(&rows, &notes, &counts))
}

fn measure(
    rt: &Runtime,
    title: &'static str,
    requests: &Requests,
    emulator: &Proc,
    counts: &Counts,
) -> Result<Row, BenchError> {
    eprintln!("bench: {title}");
    rt.block_on(async {
        let ask = &requests.small;
        let mut conn = Conn::connect(requests.addr, ask.path).await?;
        for _ in 0..counts.warmup {
            send(&mut conn, ask).await?;
        }
        let cpu_before = emulator.cpu_time()?;
        let mut latencies_ns = Vec::with_capacity(counts.small);
        let start = Instant::now();
        for _ in 0..counts.small {
            let sent = Instant::now();
            send(&mut conn, ask).await?;
            latencies_ns.push(sent.elapsed().as_nanos() as u64);
        }
        let run = Run {
            latencies_ns,
            elapsed: start.elapsed(),
        };
        let cpu = emulator.cpu_time()?.saturating_sub(cpu_before);

        let ask = &requests.mib;
        let mut times = Vec::with_capacity(counts.mib);
        for _ in 0..counts.mib {
            let sent = Instant::now();
            let got = send(&mut conn, ask).await?;
            times.push(sent.elapsed().as_secs_f64() * 1e6);
            if ask.same_bytes && got != ask.body {
                return Err(crate::client::ClientError::NotEcho {
                    addr: requests.addr,
                    detail: format!("{} bytes came back for {}", got.len(), ask.body.len()),
                }
                .into());
            }
        }
        Ok(Row {
            title,
            small: Latency::of(&run),
            cpu_us: cpu.as_secs_f64() * 1e6 / counts.small.max(1) as f64,
            mib_p50_us: median(&times),
        })
    })
}

async fn send(conn: &mut Conn, ask: &Ask) -> Result<Bytes, crate::client::ClientError> {
    conn.send(ask.method, ask.path, ask.content_type, ask.body.clone())
        .await
}

fn markdown(rows: &[Row], notes: &[String], counts: &Counts) -> String {
    let mut md = String::from("## Web traffic\n\n");
    md.push_str(
        "| | warm p50 (µs) | warm p99 (µs) | CPU per request (µs) | 1 MiB round trip p50 (µs) |\n",
    );
    md.push_str("|---|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            row.title, row.small.p50_us, row.small.p99_us, row.cpu_us, row.mib_p50_us
        );
    }
    let p50 = |title: &str| {
        rows.iter()
            .find(|row| row.title.starts_with(title))
            .map(|row| row.small.p50_us)
    };
    md.push('\n');
    if let (Some(web), Some(invoke)) = (p50("rapid --http-address"), p50("rapid Invoke")) {
        let _ = writeln!(
            md,
            "- the HTTP translation: web p50 / Invoke of the same event p50 = {:.2} (aim: at most 1.10)",
            web / invoke
        );
    }
    if let (Some(web), Some(cl)) = (p50("rapid --http-address"), p50("cargo-lambda")) {
        let _ = writeln!(
            md,
            "- rapid / cargo-lambda p50 = {:.2} (aim: at most 0.6)",
            web / cl
        );
    }
    let _ = writeln!(
        md,
        "- {} warm-up requests, then {} small ones (`{}`) on one keep-alive connection; {} round \
         trips of 1 MiB (binary, through web-fn's /echo-bytes; the Invoke baseline sends the \
         event rapid would build, to the same function, in the same rapid); CPU: utime + stime \
         of the emulator's process over the small requests (ticks of 10 ms)",
        counts.warmup,
        counts.small,
        String::from_utf8_lossy(SMALL_EVENT),
        counts.mib
    );
    for note in notes {
        let _ = writeln!(md, "- {note}");
    }
    md
}
