//! `bench --pool`: the pool of sandboxes (`--max-sandboxes`) under
//! concurrent clients, the cost of freezing between invokes, and rapid's
//! own memory per idle sandbox. Printed as Markdown (and written to
//! FILE-pool.md beside the main report's FILE).

use bytes::Bytes;
use std::fmt::Write as _;
use tokio::runtime::Runtime;

use crate::client::{self, Conn, INVOKE_PATH};
use crate::error::BenchError;
use crate::scratch::ScratchDir;
use crate::stats::Latency;
use crate::targets::{start_rapid_with, Function, Paths, CONCURRENCY};

const SANDBOXES: [usize; 4] = [1, 2, 4, 8];
const CLIENTS: [usize; 2] = [8, 64];

/// One row: a function, a pool size, a client count.
struct Row {
    function: String,
    sandboxes: usize,
    clients: usize,
    latency: Latency,
    rss_kib: u64,
}

/// Runs every configuration; the Markdown of the tables.
pub fn run(rt: &Runtime, paths: &Paths, quick: bool) -> Result<String, BenchError> {
    let total = if quick { 400 } else { 4000 };
    let dir = ScratchDir::create("pool").map_err(|source| {
        BenchError::Target(crate::targets::TargetError::Io {
            what: "an empty extensions directory",
            source,
        })
    })?;
    let mut rows = Vec::new();
    let concurrent = format!("Rust run_concurrent, K = {CONCURRENCY}");
    for (function, name, pools) in [
        (Function::RustEcho, "Rust echo", &SANDBOXES[..]),
        (Function::PythonEcho, "Python echo", &SANDBOXES[..]),
        // Multi-concurrency: K invokes per sandbox.
        (
            Function::RustConcurrent,
            concurrent.as_str(),
            &SANDBOXES[..2],
        ),
    ] {
        for &sandboxes in pools {
            let n = sandboxes.to_string();
            let mut rapid = start_rapid_with(
                paths,
                function,
                dir.path(),
                &[],
                &["--max-sandboxes", &n, "--max-queued", "100000"],
            )?;
            for clients in CLIENTS {
                let latency = rt.block_on(burst(rapid.invoke_addr, clients, total))?;
                let rss_kib = rapid.proc.rss_kib()?;
                rows.push(Row {
                    function: name.to_owned(),
                    sandboxes,
                    clients,
                    latency,
                    rss_kib,
                });
            }
            rapid.proc.terminate();
        }
    }
    let freeze = freeze_cost(rt, paths, dir.path(), if quick { 200 } else { 2000 })?;
    let idle = idle_rss(rt, paths, dir.path())?;
    Ok(markdown(&rows, total, &freeze, &idle))
}

/// `total` invokes from `clients` connections at once, after a warm-up
/// that starts every sandbox the clients can keep busy.
async fn burst(
    addr: std::net::SocketAddr,
    clients: usize,
    total: usize,
) -> Result<Latency, BenchError> {
    let body = Bytes::from_static(br#"{"bench":"pool"}"#);
    let expect = Conn::connect(addr, INVOKE_PATH)
        .await?
        .post(body.clone())
        .await?;
    client::concurrent(addr, INVOKE_PATH, &body, &expect, clients, clients * 4).await?;
    let run = client::concurrent(addr, INVOKE_PATH, &body, &expect, clients, total).await?;
    Ok(Latency::of(&run))
}

/// rapid's CPU per sequential warm invoke, frozen between invokes and not.
struct Freeze {
    invokes: usize,
    frozen_us: f64,
    running_us: f64,
    frozen_p50_us: f64,
    running_p50_us: f64,
}

fn freeze_cost(
    rt: &Runtime,
    paths: &Paths,
    dir: &std::path::Path,
    invokes: usize,
) -> Result<Freeze, BenchError> {
    let mut figures = Vec::new();
    for flags in [&[][..], &["--no-freeze"][..]] {
        let mut rapid = start_rapid_with(paths, Function::RustEcho, dir, &[], flags)?;
        let (cpu, p50) = rt.block_on(async {
            let body = Bytes::from_static(br#"{"bench":"freeze"}"#);
            let mut conn = Conn::connect(rapid.invoke_addr, INVOKE_PATH).await?;
            let expect = conn.post(body.clone()).await?;
            client::sequential(&mut conn, &body, &expect, 100).await?;
            let before = rapid.proc.cpu_time()?;
            let run = client::sequential(&mut conn, &body, &expect, invokes).await?;
            let cpu = rapid.proc.cpu_time()?.saturating_sub(before);
            Ok::<_, BenchError>((cpu, Latency::of(&run).p50_us))
        })?;
        rapid.proc.terminate();
        figures.push((cpu.as_secs_f64() * 1e6 / invokes as f64, p50));
    }
    Ok(Freeze {
        invokes,
        frozen_us: figures[0].0,
        running_us: figures[1].0,
        frozen_p50_us: figures[0].1,
        running_p50_us: figures[1].1,
    })
}

/// rapid's RSS with one warm sandbox, then with eight (each warmed), idle.
struct IdleRss {
    one_kib: u64,
    eight_kib: u64,
}

fn idle_rss(rt: &Runtime, paths: &Paths, dir: &std::path::Path) -> Result<IdleRss, BenchError> {
    let mut rapid = start_rapid_with(
        paths,
        Function::RustEcho,
        dir,
        &[],
        &["--max-sandboxes", "8"],
    )?;
    let addr = rapid.invoke_addr;
    let body = Bytes::from_static(br#"{"bench":"idle"}"#);
    let one = rt.block_on(async {
        let expect = Conn::connect(addr, INVOKE_PATH)
            .await?
            .post(body.clone())
            .await?;
        let one = rapid.proc.rss_kib()?;
        // Eight at once start every sandbox.
        client::concurrent(addr, INVOKE_PATH, &body, &expect, 8, 64).await?;
        Ok::<_, BenchError>(one)
    })?;
    let eight = rapid.proc.rss_kib()?;
    rapid.proc.terminate();
    Ok(IdleRss {
        one_kib: one,
        eight_kib: eight,
    })
}

fn markdown(rows: &[Row], total: usize, freeze: &Freeze, idle: &IdleRss) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## rapid's pool of sandboxes\n");
    let _ = writeln!(
        md,
        "{total} invokes per row from the given number of keep-alive connections at once, after a warm-up of 4 invokes per connection; `--max-queued 100000`.\n"
    );
    let _ = writeln!(
        md,
        "| function | sandboxes | clients | invokes/s | p50 (µs) | p99 (µs) | rapid RSS after (MiB) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.1} |",
            r.function,
            r.sandboxes,
            r.clients,
            r.latency.per_sec,
            r.latency.p50_us,
            r.latency.p99_us,
            r.rss_kib as f64 / 1024.0
        );
    }
    let _ = writeln!(md, "\n## Freezing between invokes\n");
    let _ = writeln!(
        md,
        "{} sequential warm invokes of the Rust echo, one sandbox.\n",
        freeze.invokes
    );
    let _ = writeln!(md, "| | rapid CPU per invoke (µs) | p50 (µs) |");
    let _ = writeln!(md, "|---|---:|---:|");
    let _ = writeln!(
        md,
        "| frozen between invokes (default) | {:.1} | {:.0} |",
        freeze.frozen_us, freeze.frozen_p50_us
    );
    let _ = writeln!(
        md,
        "| `--no-freeze` | {:.1} | {:.0} |",
        freeze.running_us, freeze.running_p50_us
    );
    let _ = writeln!(md, "\n## rapid's memory per idle sandbox\n");
    let per = (idle.eight_kib.saturating_sub(idle.one_kib)) as f64 / 7.0 / 1024.0;
    let _ = writeln!(
        md,
        "rapid's RSS with one warm sandbox: {:.1} MiB; with eight, idle: {:.1} MiB; per added sandbox: {:.2} MiB.",
        idle.one_kib as f64 / 1024.0,
        idle.eight_kib as f64 / 1024.0,
        per
    );
    md
}
