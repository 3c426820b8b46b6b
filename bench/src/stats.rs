//! Turning raw samples into the figures the report shows.

use serde::Serialize;

use crate::client::Run;

/// Latency percentiles and throughput of one batch of round trips.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub max_us: f64,
    /// Round trips per second of wall time over the whole batch.
    pub per_sec: f64,
}

impl Latency {
    pub fn of(run: &Run) -> Latency {
        let mut sorted = run.latencies_ns.clone();
        sorted.sort_unstable();
        let count = sorted.len();
        let us = |ns: u64| ns as f64 / 1_000.0;
        let mean_ns = if count == 0 {
            0.0
        } else {
            sorted.iter().map(|&ns| ns as f64).sum::<f64>() / count as f64
        };
        let secs = run.elapsed.as_secs_f64();
        Latency {
            count,
            p50_us: us(percentile(&sorted, 50.0)),
            p99_us: us(percentile(&sorted, 99.0)),
            mean_us: mean_ns / 1_000.0,
            max_us: us(sorted.last().copied().unwrap_or(0)),
            per_sec: if secs > 0.0 { count as f64 / secs } else { 0.0 },
        }
    }
}

/// Nearest-rank percentile of sorted samples (0 when there are none).
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of a few measurements (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// `a / b`, or `None` when either side is missing or `b` is zero.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), 50);
        assert_eq!(percentile(&sorted, 99.0), 99);
        assert_eq!(percentile(&sorted, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn latency_of_a_run() {
        let run = Run {
            latencies_ns: vec![3_000, 1_000, 2_000, 4_000],
            elapsed: Duration::from_millis(2),
        };
        let l = Latency::of(&run);
        assert_eq!(l.count, 4);
        assert_eq!(l.p50_us, 2.0);
        assert_eq!(l.p99_us, 4.0);
        assert_eq!(l.mean_us, 2.5);
        assert_eq!(l.per_sec, 2_000.0);
    }

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(ratio(Some(1.0), Some(4.0)), Some(0.25));
        assert_eq!(ratio(Some(1.0), None), None);
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
    }
}
