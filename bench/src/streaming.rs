//! Streamed answers through a front door: the time to the first body byte
//! of small streamed invokes, and the throughput of a large stream, with the
//! emulator's memory and CPU around it. The event is streaming.py's
//! `{"action":"big","size":N}`: N bytes of `x` in 64 KB chunks.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::client::{Conn, Run};
use crate::error::BenchError;
use crate::proc::Proc;
use crate::stats::{median, Latency};

/// How many streams one run reads, and how big.
#[derive(Debug, Clone, Serialize)]
pub struct StreamPlan {
    /// Streamed invokes before the timed ones (the first starts the runtime).
    pub warmup: usize,
    pub first_byte_invokes: usize,
    /// The size of those small streams: one chunk.
    pub first_byte_bytes: u64,
    pub big_runs: usize,
    /// The size of the large stream, in bytes (MB = 10^6 bytes).
    pub big_bytes: u64,
}

impl StreamPlan {
    pub fn new(div: usize) -> StreamPlan {
        StreamPlan {
            warmup: 5,
            first_byte_invokes: 50 / div,
            first_byte_bytes: 1_000,
            big_runs: 3,
            big_bytes: 100_000_000,
        }
    }
}

/// Everything measured on one streaming target.
#[derive(Debug, Default, Serialize)]
pub struct StreamFigures {
    /// Time to the first body byte of the small streams.
    pub first_byte: Option<Latency>,
    pub big: Option<Throughput>,
    /// The emulator's resident memory (VmRSS) just before the large streams.
    pub rss_before_big_kib: Option<u64>,
    /// Its most resident memory (VmHWM) since it started, read after the
    /// large streams: the peak they caused, if they raised it.
    pub peak_rss_kib: Option<u64>,
    /// The emulator's CPU time (user + system) per large stream.
    pub cpu_per_big_ms: Option<f64>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub bytes: u64,
    /// Bytes / 10^6 / seconds from sending the invoke to the last byte.
    pub runs_mb_per_s: Vec<f64>,
    pub median_mb_per_s: f64,
    /// From sending the invoke to the last byte.
    pub runs_ms: Vec<f64>,
    pub median_ms: f64,
    pub runs_first_byte_ms: Vec<f64>,
}

/// The event that asks for `size` streamed bytes.
fn event(size: u64) -> Bytes {
    Bytes::from(format!(r#"{{"action":"big","size":{size}}}"#))
}

/// Streams from `addr` at `path`; `emulator` is the process whose memory and
/// CPU are sampled (none for the loopback floor).
pub async fn measure(
    addr: SocketAddr,
    path: &str,
    emulator: Option<&Proc>,
    plan: &StreamPlan,
) -> Result<StreamFigures, BenchError> {
    let mut figures = StreamFigures::default();
    let mut conn = Conn::connect(addr, path).await?;
    let small = event(plan.first_byte_bytes);
    for _ in 0..plan.warmup {
        conn.post_streamed(small.clone(), plan.first_byte_bytes)
            .await?;
    }
    let mut latencies_ns = Vec::with_capacity(plan.first_byte_invokes);
    let start = Instant::now();
    for _ in 0..plan.first_byte_invokes {
        let answer = conn
            .post_streamed(small.clone(), plan.first_byte_bytes)
            .await?;
        latencies_ns.push(answer.first_byte.as_nanos() as u64);
    }
    figures.first_byte = Some(Latency::of(&Run {
        latencies_ns,
        elapsed: start.elapsed(),
    }));

    if let Some(proc) = emulator {
        figures.rss_before_big_kib = Some(proc.rss_kib()?);
    }
    let cpu_before = emulator.map(Proc::cpu_time).transpose()?;
    let big = event(plan.big_bytes);
    let mut runs_mb_per_s = Vec::with_capacity(plan.big_runs);
    let mut runs_ms = Vec::with_capacity(plan.big_runs);
    let mut runs_first_byte_ms = Vec::with_capacity(plan.big_runs);
    for _ in 0..plan.big_runs {
        let answer = conn.post_streamed(big.clone(), plan.big_bytes).await?;
        runs_mb_per_s.push(mb_per_s(answer.bytes, answer.elapsed));
        runs_ms.push(answer.elapsed.as_secs_f64() * 1e3);
        runs_first_byte_ms.push(answer.first_byte.as_secs_f64() * 1e3);
    }
    if let (Some(proc), Some(before)) = (emulator, cpu_before) {
        let used = proc.cpu_time()?.saturating_sub(before);
        figures.cpu_per_big_ms = Some(used.as_secs_f64() * 1e3 / plan.big_runs.max(1) as f64);
        figures.peak_rss_kib = Some(proc.peak_rss_kib()?);
    }
    figures.big = Some(Throughput {
        bytes: plan.big_bytes,
        median_mb_per_s: median(&runs_mb_per_s),
        runs_mb_per_s,
        median_ms: median(&runs_ms),
        runs_ms,
        runs_first_byte_ms,
    });
    Ok(figures)
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        bytes as f64 / 1e6 / secs
    } else {
        0.0
    }
}
