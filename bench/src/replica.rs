//! `bench --replica`: one rapid as an orchestrator's replica, sized to a
//! `containerConcurrency` of 1, 4 and 16 (Knative's limit of invokes one
//! replica runs at once), driven by that many keep-alive clients: invokes/s,
//! p50 and p99 per replica and rapid's CPU per invoke. The Rust echo with
//! one invoke per sandbox (`--max-sandboxes` = the concurrency), and the
//! Rust `run_concurrent` function with one sandbox of that many invokes
//! (multi-concurrency) where it applies (above 1). Each rapid runs as a
//! monitored replica does: metrics on and a drain configured. Printed as
//! Markdown (and written to FILE-replica.md).

use bytes::Bytes;
use std::ffi::OsStr;
use std::fmt::Write as _;
use tokio::runtime::Runtime;

use crate::client::{self, Conn, INVOKE_PATH};
use crate::error::BenchError;
use crate::scratch::ScratchDir;
use crate::stats::Latency;
use crate::targets::{start_rapid_with, Function, Paths};

const CONCURRENCY: [usize; 3] = [1, 4, 16];

/// What every replica runs with besides its sizing.
const REPLICA_FLAGS: [&str; 6] = [
    "--metrics-address",
    "127.0.0.1:0",
    "--drain-delay",
    "5s",
    "--drain-timeout",
    "30s",
];

struct Row {
    function: &'static str,
    concurrency: usize,
    sizing: String,
    latency: Latency,
    cpu_us: f64,
}

/// Runs every configuration; the Markdown of the table.
pub fn run(rt: &Runtime, paths: &Paths, quick: bool) -> Result<String, BenchError> {
    let total = if quick { 400 } else { 4000 };
    let dir = ScratchDir::create("replica").map_err(|source| {
        BenchError::Target(crate::targets::TargetError::Io {
            what: "an empty extensions directory",
            source,
        })
    })?;
    let mut rows = Vec::new();
    for concurrency in CONCURRENCY {
        let n = concurrency.to_string();
        let mut configs = vec![(
            "Rust echo",
            Function::RustEcho,
            vec!["--max-sandboxes", n.as_str()],
            None,
            match concurrency {
                1 => "1 sandbox × 1".to_owned(),
                n => format!("{n} sandboxes × 1"),
            },
        )];
        if concurrency > 1 {
            configs.push((
                "Rust run_concurrent",
                Function::RustConcurrent,
                vec!["--max-sandboxes", "1"],
                Some(n.as_str()),
                format!("1 sandbox × {concurrency}"),
            ));
        }
        for (function_name, function, sizing, max_concurrency, said) in configs {
            let mut flags: Vec<&str> = REPLICA_FLAGS.to_vec();
            flags.extend(sizing);
            let env: Vec<(&'static str, &OsStr)> = max_concurrency
                .map(|k| vec![("AWS_LAMBDA_MAX_CONCURRENCY", OsStr::new(k))])
                .unwrap_or_default();
            let mut rapid = start_rapid_with(paths, function, dir.path(), &env, &flags)?;
            let addr = rapid.invoke_addr;
            let body = Bytes::from_static(br#"{"bench":"replica"}"#);
            let (latency, cpu) = rt.block_on(async {
                let expect = Conn::connect(addr, INVOKE_PATH)
                    .await?
                    .post(body.clone())
                    .await?;
                // Warm-up: every environment the clients keep busy starts.
                let warm = concurrency * 8;
                client::concurrent(addr, INVOKE_PATH, &body, &expect, concurrency, warm).await?;
                let before = rapid.proc.cpu_time()?;
                let run = client::concurrent(addr, INVOKE_PATH, &body, &expect, concurrency, total)
                    .await?;
                let cpu = rapid.proc.cpu_time()?.saturating_sub(before);
                Ok::<_, BenchError>((Latency::of(&run), cpu))
            })?;
            rapid.proc.terminate();
            rows.push(Row {
                function: function_name,
                concurrency,
                sizing: said,
                latency,
                cpu_us: cpu.as_secs_f64() * 1e6 / total as f64,
            });
        }
    }
    Ok(markdown(&rows, total))
}

fn markdown(rows: &[Row], total: usize) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## One replica at containerConcurrency 1, 4, 16\n");
    let _ = writeln!(
        md,
        "{total} invokes per row from as many keep-alive connections as the concurrency, after a warm-up of 8 per connection; rapid with `{}`.\n",
        REPLICA_FLAGS.join(" ")
    );
    let _ = writeln!(
        md,
        "| function | containerConcurrency | sizing | invokes/s | p50 (µs) | p99 (µs) | rapid CPU per invoke (µs) |"
    );
    let _ = writeln!(md, "|---|---:|---|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.1} |",
            r.function,
            r.concurrency,
            r.sizing,
            r.latency.per_sec,
            r.latency.p50_us,
            r.latency.p99_us,
            r.cpu_us
        );
    }
    md
}
