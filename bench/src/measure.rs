//! What is measured on a running target, in which order, and how many times:
//! warm round trips (sequential and concurrent), CPU and memory of the
//! emulator process (and of an extension) around them, large payloads, and
//! cold starts. Streams are measured in `streaming`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::client::{self, Conn, INVOKE_PATH};
use crate::error::BenchError;
use crate::proc::{self as procs, Proc, ProcError};
use crate::stats::{median, Latency};
use crate::streaming::StreamPlan;
use crate::targets::{Rapid, TargetError};

/// The small event of warm invokes.
pub const SMALL_EVENT: &[u8] = br#"{"bench":"rapid","n":42,"ok":true}"#;

/// How many of everything one run does.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub warmup: usize,
    pub sequential: usize,
    pub concurrent_clients: usize,
    pub concurrent_total: usize,
    /// RSS is sampled again once a target has served this many invokes.
    pub rss_after: usize,
    pub cold_runs: usize,
    pub payloads: Vec<PayloadPlan>,
    pub stream: StreamPlan,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayloadPlan {
    pub label: &'static str,
    pub bytes: usize,
    pub runs: usize,
}

impl Plan {
    /// The full plan, or with `quick` every count divided by 10.
    pub fn new(quick: bool) -> Plan {
        let div = if quick { 10 } else { 1 };
        Plan {
            warmup: 200 / div,
            sequential: 5_000 / div,
            concurrent_clients: 8,
            concurrent_total: 5_000 / div,
            rss_after: 10_000 / div,
            cold_runs: 5,
            payloads: vec![
                PayloadPlan {
                    label: "1 MiB",
                    bytes: 1 << 20,
                    runs: 100 / div,
                },
                PayloadPlan {
                    label: "5.5 MiB",
                    bytes: 11 << 19,
                    runs: 30 / div,
                },
            ],
            stream: StreamPlan::new(div),
        }
    }
}

/// Which measurements a target gets.
#[derive(Clone, Copy)]
pub struct Parts {
    pub concurrent: bool,
    pub payloads: bool,
    pub rss_after: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        concurrent: true,
        payloads: true,
        rss_after: true,
    };
    pub const WARM: Parts = Parts {
        concurrent: true,
        payloads: false,
        rss_after: true,
    };
    pub const SEQUENTIAL: Parts = Parts {
        concurrent: false,
        payloads: false,
        rss_after: false,
    };
}

/// Everything measured on one target; `None` where it does not apply.
#[derive(Debug, Default, Serialize)]
pub struct Figures {
    pub sequential: Option<Latency>,
    pub concurrent: Option<Latency>,
    pub cold_start: Option<ColdStart>,
    /// CPU time (user + system) of the emulator process per sequential invoke.
    pub cpu_per_invoke_us: Option<f64>,
    pub rss_first_invoke_kib: Option<u64>,
    pub rss_after: Option<RssAfter>,
    pub peak_rss_kib: Option<u64>,
    /// CPU time of the external extension's own process per sequential invoke.
    pub extension_cpu_per_invoke_us: Option<f64>,
    /// The extension process's resident memory after the warm invokes.
    pub extension_rss_kib: Option<u64>,
    pub payloads: Vec<PayloadResult>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ColdStart {
    pub median_ms: f64,
    pub runs_ms: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct RssAfter {
    pub invokes: usize,
    pub kib: u64,
}

#[derive(Debug, Serialize)]
pub struct PayloadResult {
    pub label: &'static str,
    pub bytes: usize,
    pub latency: Option<Latency>,
    pub error: Option<String>,
}

/// A process, not the bench's child, whose CPU and memory are sampled too.
#[derive(Clone, Copy)]
pub struct Watched {
    pub name: &'static str,
    pub pid: u32,
}

/// Warm measurements against `addr`; `emulator` is the process whose CPU
/// and memory are sampled (none for the loopback floor), `extension` an
/// extension it started. Returns how many invokes it sent.
pub async fn warm(
    addr: SocketAddr,
    emulator: Option<&Proc>,
    extension: Option<Watched>,
    plan: &Plan,
    parts: Parts,
    figures: &mut Figures,
) -> Result<usize, BenchError> {
    let small = Bytes::from_static(SMALL_EVENT);
    let mut conn = Conn::connect(addr, INVOKE_PATH).await?;
    let expect = conn.post_echo(small.clone()).await?;
    let mut invokes = 1;
    if let Some(proc) = emulator {
        figures.rss_first_invoke_kib = Some(proc.rss_kib()?);
    }

    client::sequential(&mut conn, &small, &expect, plan.warmup).await?;
    invokes += plan.warmup;

    let cpu_before = cpu_time(emulator)?;
    let ext_before = extension_cpu_time(extension)?;
    let run = client::sequential(&mut conn, &small, &expect, plan.sequential).await?;
    let cpu_after = cpu_time(emulator)?;
    let ext_after = extension_cpu_time(extension)?;
    invokes += plan.sequential;
    figures.sequential = Some(Latency::of(&run));
    figures.cpu_per_invoke_us = per_invoke_us(cpu_before, cpu_after, plan.sequential);
    figures.extension_cpu_per_invoke_us = per_invoke_us(ext_before, ext_after, plan.sequential);

    if parts.concurrent {
        let run = client::concurrent(
            addr,
            INVOKE_PATH,
            &small,
            &expect,
            plan.concurrent_clients,
            plan.concurrent_total,
        )
        .await?;
        invokes += plan.concurrent_total;
        figures.concurrent = Some(Latency::of(&run));
    }

    if let (true, Some(proc)) = (parts.rss_after, emulator) {
        let more = plan.rss_after.saturating_sub(invokes);
        client::sequential(&mut conn, &small, &expect, more).await?;
        invokes += more;
        figures.rss_after = Some(RssAfter {
            invokes,
            kib: proc.rss_kib()?,
        });
    }
    drop(conn);

    if parts.payloads {
        for payload in &plan.payloads {
            figures
                .payloads
                .push(payload_round_trips(addr, payload).await);
        }
    }
    if let Some(proc) = emulator {
        figures.peak_rss_kib = Some(proc.peak_rss_kib()?);
    }
    if let Some(ext) = extension {
        figures.extension_rss_kib = Some(procs::rss_kib_of(ext.name, ext.pid)?);
    }
    Ok(invokes)
}

fn cpu_time(emulator: Option<&Proc>) -> Result<Option<Duration>, ProcError> {
    emulator.map(Proc::cpu_time).transpose()
}

fn extension_cpu_time(extension: Option<Watched>) -> Result<Option<Duration>, ProcError> {
    extension
        .map(|ext| procs::cpu_time_of(ext.name, ext.pid))
        .transpose()
}

/// CPU time per invoke in µs between two samples `invokes` apart.
fn per_invoke_us(before: Option<Duration>, after: Option<Duration>, invokes: usize) -> Option<f64> {
    let used = after?.saturating_sub(before?);
    Some(used.as_secs_f64() * 1e6 / invokes.max(1) as f64)
}

/// Round trips of one large payload on a fresh connection. A failure is
/// recorded, not returned: a size limit of one target is a result too.
async fn payload_round_trips(addr: SocketAddr, payload: &PayloadPlan) -> PayloadResult {
    let body = client::payload_of_size(payload.bytes);
    let result = async {
        let mut conn = Conn::connect(addr, INVOKE_PATH).await?;
        let expect = conn.post_echo(body.clone()).await?;
        client::sequential(&mut conn, &body, &expect, payload.runs).await
    }
    .await;
    let (latency, error) = match result {
        Ok(run) => (Some(Latency::of(&run)), None),
        Err(e) => (None, Some(e.to_string())),
    };
    PayloadResult {
        label: payload.label,
        bytes: payload.bytes,
        latency,
        error,
    }
}

/// Cold starts: the time from spawning rapid to the first successful invoke
/// response (rapid starts the runtime on that invoke), `plan.cold_runs` times.
pub fn cold_starts(
    rt: &Runtime,
    plan: &Plan,
    mut start: impl FnMut() -> Result<Rapid, TargetError>,
    figures: &mut Figures,
) -> Result<(), BenchError> {
    let mut runs_ms = Vec::with_capacity(plan.cold_runs);
    for _ in 0..plan.cold_runs {
        let spawned = Instant::now();
        let mut rapid = start()?;
        rt.block_on(one_invoke(rapid.invoke_addr))?;
        runs_ms.push(spawned.elapsed().as_secs_f64() * 1e3);
        check_clean_exit(&mut rapid.proc, &mut figures.notes);
    }
    figures.cold_start = Some(ColdStart {
        median_ms: median(&runs_ms),
        runs_ms,
    });
    Ok(())
}

/// One invoke of the small event on a new connection, checked to be echoed.
pub async fn one_invoke(addr: SocketAddr) -> Result<(), BenchError> {
    let mut conn = Conn::connect(addr, INVOKE_PATH).await?;
    conn.post_echo(Bytes::from_static(SMALL_EVENT)).await?;
    Ok(())
}

/// SIGTERMs `proc` and notes it when the exit was not clean.
pub fn check_clean_exit(proc: &mut Proc, notes: &mut Vec<String>) {
    match proc.terminate() {
        Some(status) if status.success() => {}
        Some(status) => notes.push(format!(
            "exited with {status} on SIGTERM; its last lines:\n{}",
            proc.tail()
        )),
        None => notes.push("was not reaped after SIGTERM and SIGKILL".to_string()),
    }
}
