//! The results of one run: two tables (warm invokes, streams; printed, and
//! written as Markdown), rapid's figures as ratios to the floor, to
//! cargo-lambda and to itself without an extension, what one extension
//! adds, and the same data as JSON.

mod ratios;
mod table;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::measure::{Figures, Plan};
use crate::streaming::StreamFigures;

pub use ratios::{Overhead, Ratio};

/// What became of one target; `F` is what was measured on it.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome<F> {
    Measured(Box<F>),
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
pub struct Target<F> {
    pub key: &'static str,
    pub title: &'static str,
    pub outcome: Outcome<F>,
}

impl<F> Target<F> {
    fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }

    fn figures(&self) -> Option<&F> {
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
pub struct Report {
    pub machine: Machine,
    pub quick: bool,
    pub plan: Plan,
    /// Warm invokes.
    pub targets: Vec<Target<Figures>>,
    /// Streamed answers.
    pub streaming: Vec<Target<StreamFigures>>,
    pub ratios: Vec<Ratio>,
    pub extension_overhead: Vec<Overhead>,
    /// How the targets were run (commands, versions), for the README.
    pub setup: Vec<String>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.targets.iter().any(Target::failed) || self.streaming.iter().any(Target::failed)
    }

    fn figures(&self, key: &str) -> Option<&Figures> {
        self.targets.iter().find(|t| t.key == key)?.figures()
    }

    fn stream_figures(&self, key: &str) -> Option<&StreamFigures> {
        self.streaming.iter().find(|t| t.key == key)?.figures()
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
        let _ = writeln!(out, "\n## Streamed answers\n");
        out.push_str(&self.stream_table());
        out.push_str("\n## rapid as ratios\n\n| ratio | value |\n|---|---:|\n");
        for r in &self.ratios {
            let value = r.value.map_or_else(table::dash, |v| format!("{v:.2}×"));
            let _ = writeln!(out, "| {} | {value} |", r.what);
        }
        out.push_str("\n## One external extension\n\n| what | value |\n|---|---:|\n");
        for o in &self.extension_overhead {
            let value = o.value.map_or_else(table::dash, |v| {
                // A difference that rounds to zero reads as 0.0, not -0.0.
                let v = format!("{v:.1}");
                let v = if v == "-0.0" { "0.0" } else { v.as_str() };
                format!("{v} {}", o.unit)
            });
            let _ = writeln!(out, "| {} | {value} |", o.what);
        }
        let mut missing = outcomes(&self.targets);
        missing.extend(outcomes(&self.streaming));
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
        for (t, f) in self
            .streaming
            .iter()
            .filter_map(|t| Some((t, t.figures()?)))
        {
            for note in &f.notes {
                let _ = writeln!(out, "- {} (streaming): {note}", t.title);
            }
        }
        out
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

/// A line for each target that was not measured or failed.
fn outcomes<F>(targets: &[Target<F>]) -> Vec<String> {
    targets
        .iter()
        .filter_map(|t| match &t.outcome {
            Outcome::Measured(_) => None,
            Outcome::NotMeasured { reason } => {
                Some(format!("- **{}: not measured.** {reason}", t.title))
            }
            Outcome::Failed { error } => Some(format!("- **{}: FAILED.** {error}", t.title)),
        })
        .collect()
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
}
