//! rapid's figures next to the others': ratios (to the floor, to
//! cargo-lambda, to itself without an extension, its streams to the floor's)
//! and what one external extension adds, in the figures' own units.

use serde::Serialize;

use super::Report;
use crate::measure::Figures;
use crate::stats::ratio;
use crate::streaming::StreamFigures;

#[derive(Debug, Serialize)]
pub struct Ratio {
    pub what: &'static str,
    pub value: Option<f64>,
}

/// A difference or an absolute figure, with its unit.
#[derive(Debug, Serialize)]
pub struct Overhead {
    pub what: &'static str,
    pub value: Option<f64>,
    pub unit: &'static str,
}

type Pick = fn(&Figures) -> Option<f64>;

fn p50(f: &Figures) -> Option<f64> {
    f.sequential.as_ref().map(|l| l.p50_us)
}
fn p99(f: &Figures) -> Option<f64> {
    f.sequential.as_ref().map(|l| l.p99_us)
}
fn rate(f: &Figures) -> Option<f64> {
    f.sequential.as_ref().map(|l| l.per_sec)
}
fn rate8(f: &Figures) -> Option<f64> {
    f.concurrent.as_ref().map(|l| l.per_sec)
}
fn cpu(f: &Figures) -> Option<f64> {
    f.cpu_per_invoke_us
}
fn rss(f: &Figures) -> Option<f64> {
    f.rss_after.as_ref().map(|r| r.kib as f64)
}
fn stream_mb_per_s(f: &StreamFigures) -> Option<f64> {
    f.big.as_ref().map(|t| t.median_mb_per_s)
}

impl Report {
    fn get(&self, key: &str, pick: Pick) -> Option<f64> {
        self.figures(key).and_then(pick)
    }

    /// Fills `ratios` and `extension_overhead` from the targets' figures.
    pub fn compute_ratios(&mut self) {
        let rows: [(&'static str, &str, &str, Pick); 8] = [
            (
                "rapid + Rust warm p50 / loopback p50",
                "rapid_rust",
                "loopback",
                p50,
            ),
            (
                "rapid + Rust warm p50 / cargo-lambda warm p50",
                "rapid_rust",
                "cargo_lambda",
                p50,
            ),
            (
                "rapid + Rust invokes/s / cargo-lambda invokes/s (sequential)",
                "rapid_rust",
                "cargo_lambda",
                rate,
            ),
            (
                "rapid + Rust invokes/s / cargo-lambda invokes/s (8 clients)",
                "rapid_rust",
                "cargo_lambda",
                rate8,
            ),
            (
                "rapid CPU per invoke / cargo-lambda CPU per invoke",
                "rapid_rust",
                "cargo_lambda",
                cpu,
            ),
            (
                "rapid RSS / cargo-lambda RSS (after the same invokes)",
                "rapid_rust",
                "cargo_lambda",
                rss,
            ),
            (
                "rapid + Rust + 1 extension warm p50 / rapid + Rust warm p50",
                "rapid_rust_ext",
                "rapid_rust",
                p50,
            ),
            (
                "rapid + Rust + 1 extension invokes/s / rapid + Rust invokes/s (sequential)",
                "rapid_rust_ext",
                "rapid_rust",
                rate,
            ),
        ];
        let mut ratios: Vec<Ratio> = rows
            .into_iter()
            .map(|(what, a, b, pick)| Ratio {
                what,
                value: ratio(self.get(a, pick), self.get(b, pick)),
            })
            .collect();
        let stream = |key: &str| self.stream_figures(key).and_then(stream_mb_per_s);
        ratios.push(Ratio {
            what: "rapid streaming MB/s / loopback streaming MB/s (100 MB)",
            value: ratio(stream("rapid_stream"), stream("loopback_stream")),
        });
        self.ratios = ratios;
        self.extension_overhead = self.overhead();
    }

    fn overhead(&self) -> Vec<Overhead> {
        let added = |pick: Pick| {
            let (with, without) = (
                self.get("rapid_rust_ext", pick)?,
                self.get("rapid_rust", pick)?,
            );
            Some(with - without)
        };
        let ext = |pick: Pick| self.get("rapid_rust_ext", pick);
        vec![
            Overhead {
                what: "warm p50 added by one extension (rapid + Rust + 1 extension − rapid + Rust)",
                value: added(p50),
                unit: "µs",
            },
            Overhead {
                what: "warm p99 added by one extension",
                value: added(p99),
                unit: "µs",
            },
            Overhead {
                what: "rapid CPU per invoke added by one extension",
                value: added(cpu),
                unit: "µs",
            },
            Overhead {
                what: "the extension process's own CPU per invoke",
                value: ext(|f| f.extension_cpu_per_invoke_us),
                unit: "µs",
            },
            Overhead {
                what: "rapid RSS added by one extension (after the same invokes)",
                value: added(rss).map(|kib| kib / 1024.0),
                unit: "MiB",
            },
        ]
    }
}
