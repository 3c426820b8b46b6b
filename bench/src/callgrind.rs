//! `bench --callgrind`: figures that hold on a noisy machine. rapid (with
//! the Rust echo function) runs under `valgrind --tool=callgrind`, which
//! counts the instructions its process executes, and under `strace -c`,
//! which counts its system calls; each for a fixed number of round trips.
//! Two runs of one scenario differ only by their count of warm round
//! trips, so `(count(N2) - count(N1)) / (N2 - N1)` is the cost of one warm
//! round trip, without rapid's start, the cold start or the shutdown.
//! Neither tool follows rapid's children: the function's own work is not
//! counted.
//!
//! Printed as Markdown (and written to FILE-callgrind.md beside the main
//! report's FILE); `--keep-profiles DIR` keeps callgrind's profiles (for
//! `callgrind_annotate`) and strace's tables.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::runtime::Runtime;

use crate::client::{self, ClientError, Conn, INVOKE_PATH};
use crate::error::BenchError;
use crate::measure::SMALL_EVENT;
use crate::scratch::ScratchDir;
use crate::targets::{start_rapid_under, Function, Paths, TargetError};
use crate::web;

/// One payload, round-tripped N1 then N2 times.
struct Scenario {
    key: &'static str,
    label: &'static str,
    /// The payload's size; `None` for the small event of warm invokes.
    bytes: Option<usize>,
    counts: (usize, usize),
    /// Which function gets it, and through which door.
    route: Route,
}

/// How a scenario's requests reach the function.
#[derive(Clone, Copy)]
enum Route {
    /// The Invoke API, to the Rust echo function.
    Invoke,
    /// A web request through `--http-address` to `web-fn` (`lambda_http`).
    Web,
    /// The event that web request becomes, sent by the Invoke API to
    /// `web-fn`: the same function's work without the HTTP translation.
    WebEvent,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario {
        key: "small",
        label: "warm invoke (small event)",
        bytes: None,
        counts: (200, 1200),
        route: Route::Invoke,
    },
    Scenario {
        key: "1mib",
        label: "1 MiB round trip",
        bytes: Some(1 << 20),
        counts: (4, 24),
        route: Route::Invoke,
    },
    Scenario {
        key: "5.5mib",
        label: "5.5 MiB round trip",
        bytes: Some(11 << 19),
        counts: (2, 12),
        route: Route::Invoke,
    },
    Scenario {
        key: "web-event",
        label: "web-fn by Invoke of its event (small JSON)",
        bytes: None,
        counts: (200, 1200),
        route: Route::WebEvent,
    },
    Scenario {
        key: "web",
        label: "web request through --http-address (small JSON)",
        bytes: None,
        counts: (200, 1200),
        route: Route::Web,
    },
];

/// Which counter a run is under.
#[derive(Clone, Copy)]
enum Tool {
    Callgrind,
    Strace,
}

/// The figures of one scenario.
struct Row {
    scenario: &'static Scenario,
    /// Instructions of rapid's process for N1 and N2 round trips.
    instructions: (u64, u64),
    /// System calls of rapid's process for N1 and N2 round trips, by name;
    /// `None` without strace.
    syscalls: Option<(BTreeMap<String, u64>, BTreeMap<String, u64>)>,
}

impl Row {
    fn span(&self) -> f64 {
        (self.scenario.counts.1 - self.scenario.counts.0) as f64
    }

    fn instructions_per_trip(&self) -> f64 {
        (self.instructions.1 as f64 - self.instructions.0 as f64) / self.span()
    }

    /// System calls per round trip, in all and by name (most first).
    fn syscalls_per_trip(&self) -> Option<(f64, Vec<(String, f64)>)> {
        let (n1, n2) = self.syscalls.as_ref()?;
        let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>() as f64;
        let mut by_name: Vec<(String, f64)> = n2
            .iter()
            .map(|(name, calls)| {
                let before = n1.get(name).copied().unwrap_or(0) as f64;
                (name.clone(), (*calls as f64 - before) / self.span())
            })
            .filter(|(_, per)| *per >= 0.05)
            .collect();
        by_name.sort_by(|a, b| b.1.total_cmp(&a.1));
        Some(((total(n2) - total(n1)) / self.span(), by_name))
    }
}

/// Runs every scenario under callgrind (and strace, when it is installed);
/// the Markdown of the table.
pub fn run(rt: &Runtime, paths: &Paths, keep: Option<&Path>) -> Result<String, BenchError> {
    let valgrind = paths.tool(
        "valgrind",
        "install valgrind (its callgrind tool counts instructions)",
    )?;
    let strace = match paths.tool("strace", "install strace to count system calls") {
        Ok(path) => Some(path),
        Err(e) => {
            eprintln!("bench: system calls not counted: {e}");
            None
        }
    };
    let scratch =
        ScratchDir::create("callgrind").map_err(|source| io("a scratch directory", source))?;
    let out_dir = match keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| io("the profiles' directory", source))?;
            dir.to_path_buf()
        }
        None => scratch.path().to_path_buf(),
    };
    let extensions = ScratchDir::create("callgrind-ext")
        .map_err(|source| io("an empty extensions directory", source))?;
    let mut rows = Vec::new();
    for scenario in &SCENARIOS {
        let counts = |tool: Tool, program: &Path| -> Result<_, BenchError> {
            let (n1, n2) = scenario.counts;
            let first = count(
                rt,
                paths,
                extensions.path(),
                tool,
                program,
                &out_dir,
                scenario,
                n1,
            )?;
            let second = count(
                rt,
                paths,
                extensions.path(),
                tool,
                program,
                &out_dir,
                scenario,
                n2,
            )?;
            Ok((first, second))
        };
        let (i1, i2) = counts(Tool::Callgrind, &valgrind)?;
        let instructions = (total_instructions(&i1)?, total_instructions(&i2)?);
        let syscalls = match &strace {
            Some(strace) => {
                let (s1, s2) = counts(Tool::Strace, strace)?;
                Some((syscall_table(&s1)?, syscall_table(&s2)?))
            }
            None => None,
        };
        let row = Row {
            scenario,
            instructions,
            syscalls,
        };
        eprintln!(
            "bench: {}: {:.0} instructions per round trip",
            scenario.label,
            row.instructions_per_trip()
        );
        rows.push(row);
    }
    if let Some(dir) = keep {
        eprintln!("bench: profiles kept in {}", dir.display());
    }
    Ok(markdown(&rows))
}

/// Runs rapid under `tool` for `n` round trips of the scenario's payload on
/// one connection (the first is the cold start), stops it with SIGTERM and
/// returns the file the tool wrote.
#[allow(clippy::too_many_arguments)]
fn count(
    rt: &Runtime,
    paths: &Paths,
    extensions: &Path,
    tool: Tool,
    program: &Path,
    out_dir: &Path,
    scenario: &Scenario,
    n: usize,
) -> Result<PathBuf, BenchError> {
    let suffix = match tool {
        Tool::Callgrind => "callgrind",
        Tool::Strace => "strace",
    };
    let out = out_dir.join(format!("{}-{n}.{suffix}", scenario.key));
    let _ = std::fs::remove_file(&out);
    let mut wrapper: Vec<OsString> = vec![program.into()];
    match tool {
        Tool::Callgrind => {
            wrapper.push("--tool=callgrind".into());
            let mut file = OsString::from("--callgrind-out-file=");
            file.push(&out);
            wrapper.push(file);
        }
        Tool::Strace => {
            wrapper.extend(["-c", "-U", "calls,name", "-o"].map(OsString::from));
            wrapper.push(out.clone().into());
        }
    }
    let (function, flags): (_, &[&str]) = match scenario.route {
        Route::Invoke => (Function::RustEcho, &[]),
        Route::Web | Route::WebEvent => (Function::RustWeb, &["--http-address", "127.0.0.1:0"]),
    };
    let mut rapid = start_rapid_under(paths, function, extensions, &[], flags, &wrapper)?;
    let body = match (scenario.route, scenario.bytes) {
        (Route::WebEvent, _) => web::event(WEB_PATH, "application/json", SMALL_EVENT),
        (_, Some(bytes)) => client::payload_of_size(bytes),
        (_, None) => Bytes::from_static(SMALL_EVENT),
    };
    let trips = match (scenario.route, rapid.web_addr) {
        (Route::Web, Some(addr)) => rt.block_on(web_trips(addr, &body, n)),
        (Route::Web, None) => Err(ClientError::NotEcho {
            addr: rapid.invoke_addr,
            detail: "rapid did not say where it serves web traffic".to_string(),
        }),
        (Route::WebEvent, _) => rt.block_on(event_trips(rapid.invoke_addr, &body, n)),
        (Route::Invoke, _) => rt.block_on(round_trips(rapid.invoke_addr, &body, n)),
    };
    let tail = rapid.proc.tail();
    // callgrind runs rapid in its own process, strace as its child.
    match tool {
        Tool::Callgrind => rapid.proc.terminate(),
        Tool::Strace => rapid.proc.terminate_through_children(),
    };
    trips.map_err(|e| BenchError::WithOutput {
        source: Box::new(e.into()),
        name: "rapid",
        tail,
    })?;
    Ok(out)
}

/// `n` round trips of `body`, each answered with a body of the same size.
async fn round_trips(
    addr: std::net::SocketAddr,
    body: &Bytes,
    n: usize,
) -> Result<(), ClientError> {
    let mut conn = Conn::connect(addr, INVOKE_PATH).await?;
    for _ in 0..n {
        let got = conn.post(body.clone()).await?;
        if got.len() != body.len() {
            return Err(ClientError::NotEcho {
                addr,
                detail: format!("{} bytes came back for {}", got.len(), body.len()),
            });
        }
    }
    Ok(())
}

/// The path `web-fn` echoes a JSON body on.
const WEB_PATH: &str = "/echo-json";

/// `n` web requests of `body` (JSON) through `--http-address`.
async fn web_trips(addr: std::net::SocketAddr, body: &Bytes, n: usize) -> Result<(), ClientError> {
    let mut conn = Conn::connect(addr, WEB_PATH).await?;
    for _ in 0..n {
        conn.send("POST", WEB_PATH, "application/json", body.clone())
            .await?;
    }
    Ok(())
}

/// `n` invokes of `web-fn` with `event` (its answer is an HTTP response
/// object, not an echo of the event).
async fn event_trips(
    addr: std::net::SocketAddr,
    event: &Bytes,
    n: usize,
) -> Result<(), ClientError> {
    let mut conn = Conn::connect(addr, INVOKE_PATH).await?;
    for _ in 0..n {
        conn.post(event.clone()).await?;
    }
    Ok(())
}

/// The total of callgrind's `Ir` events in a profile.
fn total_instructions(profile: &Path) -> Result<u64, BenchError> {
    let text = read(profile)?;
    text.lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| unreadable(profile, "no `summary:` line"))
}

/// strace's `-c -U calls,name` table: calls by system call.
fn syscall_table(table: &Path) -> Result<BTreeMap<String, u64>, BenchError> {
    let text = read(table)?;
    let calls: BTreeMap<String, u64> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let calls = words.next()?.parse().ok()?;
            let name = words.next()?;
            (name != "total" && words.next().is_none()).then(|| (name.to_string(), calls))
        })
        .collect();
    if calls.is_empty() {
        return Err(unreadable(table, "no system call counted"));
    }
    Ok(calls)
}

fn read(path: &Path) -> Result<String, BenchError> {
    std::fs::read_to_string(path).map_err(|e| unreadable(path, &e.to_string()))
}

fn unreadable(path: &Path, detail: &str) -> BenchError {
    BenchError::Target(TargetError::Build {
        command: format!("reading {}", path.display()),
        detail: detail.to_string(),
    })
}

fn io(what: &'static str, source: std::io::Error) -> BenchError {
    BenchError::Target(TargetError::Io { what, source })
}

fn markdown(rows: &[Row]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## rapid's instructions and system calls per round trip\n\n\
         rapid + Rust echo (web rows: `web-fn`, `lambda_http`), one keep-alive connection; rapid's process only (not the \
         function's), counted by callgrind (instructions) and strace (system calls) for N1 \
         and N2 round trips: (count(N2) - count(N1)) / (N2 - N1).\n"
    );
    let _ = writeln!(
        md,
        "| | N1 → N2 | instructions per round trip | system calls per round trip | by call |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---|");
    for row in rows {
        let (calls, by_name) = match row.syscalls_per_trip() {
            Some((total, by_name)) => (
                format!("{total:.1}"),
                by_name
                    .iter()
                    .map(|(name, per)| format!("{name} {per:.1}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => ("–".to_string(), "strace not installed".to_string()),
        };
        let _ = writeln!(
            md,
            "| {} | {} → {} | {} | {calls} | {by_name} |",
            row.scenario.label,
            row.scenario.counts.0,
            row.scenario.counts.1,
            thousands(row.instructions_per_trip()),
        );
    }
    md
}

/// 99312.4 -> "99,312".
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(99312.4), "99,312");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(12.0), "12");
        assert_eq!(thousands(-1500.0), "-1,500");
    }

    #[test]
    fn strace_tables_are_read_by_call() {
        let dir = ScratchDir::create("strace-table").unwrap();
        let path = dir.path().join("t");
        std::fs::write(
            &path,
            "    calls syscall\n--------- ----------------\n     3000 writev\n       \
             12 read\n--------- ----------------\n     3012 total\n",
        )
        .unwrap();
        let table = syscall_table(&path).unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table["writev"], 3000);
        assert_eq!(table["read"], 12);
    }
}
