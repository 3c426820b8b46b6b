//! The results of one run: one table (printed, and written as Markdown),
//! rapid's figures as ratios to the floor and to cargo-lambda, and the same
//! data as JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::measure::{Figures, Plan};
use crate::stats::ratio;

/// How one row of the table reads a target's figures.
type Cell = fn(&Figures) -> Option<String>;

/// What became of one target.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Measured(Box<Figures>),
    /// A prerequisite is not installed; says which and how to get it.
    NotMeasured {
        reason: String,
    },
    /// It was started and something went wrong.
    Failed {
        error: String,
    },
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub key: &'static str,
    pub title: &'static str,
    pub outcome: Outcome,
}

impl Target {
    fn figures(&self) -> Option<&Figures> {
        match &self.outcome {
            Outcome::Measured(figures) => Some(figures),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    /// The 1-minute load average when the run started.
    pub load_1m: Option<f64>,
    pub rapid: String,
    pub unix_time: u64,
    pub date_utc: String,
}

#[derive(Debug, Serialize)]
pub struct Ratio {
    pub what: &'static str,
    pub value: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub quick: bool,
    pub plan: Plan,
    pub targets: Vec<Target>,
    pub ratios: Vec<Ratio>,
    /// How the targets were run (commands, versions), for the README.
    pub setup: Vec<String>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t.outcome, Outcome::Failed { .. }))
    }

    fn figures(&self, key: &str) -> Option<&Figures> {
        self.targets.iter().find(|t| t.key == key)?.figures()
    }

    /// Fills `ratios` from the targets' figures.
    pub fn compute_ratios(&mut self) {
        let get = |key: &str, pick: fn(&Figures) -> Option<f64>| self.figures(key).and_then(pick);
        let p50 = |f: &Figures| f.sequential.as_ref().map(|l| l.p50_us);
        let rate = |f: &Figures| f.sequential.as_ref().map(|l| l.per_sec);
        let rate8 = |f: &Figures| f.concurrent.as_ref().map(|l| l.per_sec);
        let cpu = |f: &Figures| f.cpu_per_invoke_us;
        let rss = |f: &Figures| f.rss_after.as_ref().map(|r| r.kib as f64);
        let rows: [(&'static str, Option<f64>, Option<f64>); 6] = [
            (
                "rapid + Rust warm p50 / loopback p50",
                get("rapid_rust", p50),
                get("loopback", p50),
            ),
            (
                "rapid + Rust warm p50 / cargo-lambda warm p50",
                get("rapid_rust", p50),
                get("cargo_lambda", p50),
            ),
            (
                "rapid + Rust invokes/s / cargo-lambda invokes/s (sequential)",
                get("rapid_rust", rate),
                get("cargo_lambda", rate),
            ),
            (
                "rapid + Rust invokes/s / cargo-lambda invokes/s (8 clients)",
                get("rapid_rust", rate8),
                get("cargo_lambda", rate8),
            ),
            (
                "rapid CPU per invoke / cargo-lambda CPU per invoke",
                get("rapid_rust", cpu),
                get("cargo_lambda", cpu),
            ),
            (
                "rapid RSS / cargo-lambda RSS (after the same invokes)",
                get("rapid_rust", rss),
                get("cargo_lambda", rss),
            ),
        ];
        self.ratios = rows
            .into_iter()
            .map(|(what, a, b)| Ratio {
                what,
                value: ratio(a, b),
            })
            .collect();
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let mode = if self.quick {
            "quick run (counts / 10)"
        } else {
            "full run"
        };
        let _ = writeln!(out, "# rapid benchmark\n");
        let load = m.load_1m.map_or("?".to_string(), |l| format!("{l:.2}"));
        let _ = writeln!(
            out,
            "{} · {} cores · Linux {} · load {load} at start · {} · {mode} · {}\n",
            m.cpu, m.cores, m.kernel, m.rapid, m.date_utc
        );
        out.push_str(&self.table());
        out.push_str("\n## rapid as ratios\n\n| ratio | value |\n|---|---:|\n");
        for r in &self.ratios {
            let value = r.value.map_or("–".to_string(), |v| format!("{v:.2}×"));
            let _ = writeln!(out, "| {} | {value} |", r.what);
        }
        let missing: Vec<String> = self
            .targets
            .iter()
            .filter_map(|t| match &t.outcome {
                Outcome::Measured(_) => None,
                Outcome::NotMeasured { reason } => {
                    Some(format!("- **{}: not measured.** {reason}", t.title))
                }
                Outcome::Failed { error } => Some(format!("- **{}: FAILED.** {error}", t.title)),
            })
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(out, "\n## Not measured\n\n{}", missing.join("\n"));
        }
        let _ = writeln!(out, "\n## How it was run\n");
        for line in &self.setup {
            let _ = writeln!(out, "- {line}");
        }
        for (t, f) in self.targets.iter().filter_map(|t| Some((t, t.figures()?))) {
            for note in &f.notes {
                let _ = writeln!(out, "- {}: {note}", t.title);
            }
            for p in &f.payloads {
                if let Some(error) = &p.error {
                    let _ = writeln!(
                        out,
                        "- {}: the {} payload failed: {error}",
                        t.title, p.label
                    );
                }
            }
        }
        out
    }

    fn table(&self) -> String {
        let p = &self.plan;
        // What the targets actually served by then (the plan's count, or a
        // little more when the runs before it added up to more).
        let rss_after = self
            .targets
            .iter()
            .filter_map(|t| t.figures()?.rss_after.as_ref().map(|r| r.invokes))
            .max()
            .unwrap_or(p.rss_after);
        let rows: Vec<(String, Cell)> = vec![
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
        ];
        let mut header = vec![String::new()];
        header.extend(self.targets.iter().map(|t| t.title.to_string()));
        let mut lines = vec![header];
        for (label, cell) in rows {
            let mut line = vec![label];
            line.extend(
                self.targets
                    .iter()
                    .map(|t| t.figures().and_then(cell).unwrap_or_else(dash)),
            );
            lines.push(line);
        }
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

    /// Writes `<base>.md` and `<base>.json`; returns their paths.
    pub fn write(&self, base: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        let md = base.with_extension("md");
        let json = base.with_extension("json");
        std::fs::write(&md, self.markdown())?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&json, text + "\n")?;
        Ok((md, json))
    }
}

fn dash() -> String {
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

/// `YYYY-MM-DD HH:MM UTC` for a Unix time (proleptic Gregorian calendar).
pub fn utc_date(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3_600,
        secs % 3_600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14 22:13 UTC");
    }

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
