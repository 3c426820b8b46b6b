//! The report's tables: warm invokes (one column per target) and streams
//! (the floor and rapid), as Markdown whose padded columns read as printed
//! text too.

use std::fmt::Write as _;

use super::{Report, Target};
use crate::measure::Figures;
use crate::streaming::StreamFigures;

/// How one row of a table reads a target's figures.
type Cell<F> = fn(&F) -> Option<String>;

impl Report {
    pub(super) fn table(&self) -> String {
        let p = &self.plan;
        // What the targets actually served by then (the plan's count, or a
        // little more when the runs before it added up to more).
        let rss_after = self
            .targets
            .iter()
            .filter_map(|t| t.figures()?.rss_after.as_ref().map(|r| r.invokes))
            .max()
            .unwrap_or(p.rss_after);
        let rows: Vec<(String, Cell<Figures>)> = vec![
            (
                format!("warm p50 (µs), {} sequential", p.sequential),
                |f| f.sequential.as_ref().map(|l| us(l.p50_us)),
            ),
            ("warm p99 (µs)".into(), |f| {
                f.sequential.as_ref().map(|l| us(l.p99_us))
            }),
            ("invokes/s, 1 client".into(), |f| {
                f.sequential.as_ref().map(|l| format!("{:.0}", l.per_sec))
            }),
            (
                format!("invokes/s, {} clients", p.concurrent_clients),
                |f| f.concurrent.as_ref().map(|l| format!("{:.0}", l.per_sec)),
            ),
            (
                format!("p50 (µs), {} clients", p.concurrent_clients),
                |f| f.concurrent.as_ref().map(|l| us(l.p50_us)),
            ),
            (format!("cold start (ms), median of {}", p.cold_runs), |f| {
                f.cold_start.as_ref().map(|c| format!("{:.1}", c.median_ms))
            }),
            ("emulator CPU per invoke (µs)".into(), |f| {
                f.cpu_per_invoke_us.map(us)
            }),
            ("extension process CPU per invoke (µs)".into(), |f| {
                f.extension_cpu_per_invoke_us.map(us)
            }),
            ("emulator RSS after 1st invoke (MiB)".into(), |f| {
                f.rss_first_invoke_kib.map(mib)
            }),
            (
                format!("emulator RSS after {rss_after} invokes (MiB)"),
                |f| f.rss_after.as_ref().map(|r| mib(r.kib)),
            ),
            ("emulator peak RSS (MiB)".into(), |f| {
                f.peak_rss_kib.map(mib)
            }),
            ("extension process RSS (MiB)".into(), |f| {
                f.extension_rss_kib.map(mib)
            }),
        ];
        let mut lines = cells(&self.targets, rows);
        for (i, payload) in p.payloads.iter().enumerate() {
            let mut line = vec![format!("{} round trip p50 (ms)", payload.label)];
            line.extend(self.targets.iter().map(|t| {
                let result = t.figures().and_then(|f| f.payloads.get(i));
                match result {
                    Some(r) if r.error.is_some() => "failed".to_string(),
                    Some(r) => r
                        .latency
                        .as_ref()
                        .map_or_else(dash, |l| format!("{:.2}", l.p50_us / 1e3)),
                    None => dash(),
                }
            }));
            lines.push(line);
        }
        render_table(&lines)
    }

    pub(super) fn stream_table(&self) -> String {
        let s = &self.plan.stream;
        let big_mb = s.big_bytes as f64 / 1e6;
        let rows: Vec<(String, Cell<StreamFigures>)> = vec![
            (
                format!(
                    "time to first byte p50 (µs), {} streams of {} B",
                    s.first_byte_invokes, s.first_byte_bytes
                ),
                |f| f.first_byte.as_ref().map(|l| us(l.p50_us)),
            ),
            ("time to first byte p99 (µs)".into(), |f| {
                f.first_byte.as_ref().map(|l| us(l.p99_us))
            }),
            (
                format!("MB/s, {big_mb:.0} MB stream, median of {}", s.big_runs),
                |f| f.big.as_ref().map(|t| format!("{:.0}", t.median_mb_per_s)),
            ),
            (
                format!("emulator CPU per {big_mb:.0} MB stream (ms)"),
                |f| f.cpu_per_big_ms.map(|ms| format!("{ms:.0}")),
            ),
            (
                format!("emulator RSS before the {big_mb:.0} MB streams (MiB)"),
                |f| f.rss_before_big_kib.map(mib),
            ),
            ("emulator peak RSS, after them (MiB)".into(), |f| {
                f.peak_rss_kib.map(mib)
            }),
        ];
        render_table(&cells(&self.streaming, rows))
    }
}

/// A header line of target titles, then one line per row.
fn cells<F>(targets: &[Target<F>], rows: Vec<(String, Cell<F>)>) -> Vec<Vec<String>> {
    let mut header = vec![String::new()];
    header.extend(targets.iter().map(|t| t.title.to_string()));
    let mut lines = vec![header];
    for (label, cell) in rows {
        let mut line = vec![label];
        line.extend(
            targets
                .iter()
                .map(|t| t.figures().and_then(cell).unwrap_or_else(dash)),
        );
        lines.push(line);
    }
    lines
}

pub(super) fn dash() -> String {
    "–".to_string()
}

fn us(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// A Markdown table with padded columns (readable as printed text too); the
/// first column is left-aligned, the others right-aligned.
fn render_table(lines: &[Vec<String>]) -> String {
    let cols = lines.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| {
        lines
            .iter()
            .filter_map(|l| l.get(c))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
            .max(3)
    };
    let widths: Vec<usize> = (0..cols).map(width).collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push('|');
        for (c, w) in widths.iter().enumerate() {
            let cell = line.get(c).map_or("", String::as_str);
            let pad = w - cell.chars().count();
            if c == 0 {
                let _ = write!(out, " {cell}{} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {}{cell} |", " ".repeat(pad));
            }
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for (c, w) in widths.iter().enumerate() {
                let rule = "-".repeat(w + 1);
                if c == 0 {
                    let _ = write!(out, "{rule}-|");
                } else {
                    let _ = write!(out, "{rule}:|");
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned_markdown() {
        let lines = vec![
            vec!["".to_string(), "a".to_string()],
            vec!["row".to_string(), "12345".to_string()],
        ];
        let text = render_table(&lines);
        let widths: Vec<usize> = text.lines().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert!(text.lines().nth(1).unwrap().ends_with(":|"), "{text}");
    }
}
