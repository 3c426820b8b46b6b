//! `bench`: measures rapid, in one run, against the floor of a bare hyper
//! loopback round trip and against cargo-lambda's emulator, with and without
//! one external extension, and its streamed answers against the floor's;
//! writes the tables as Markdown and JSON.
//!
//! It only starts processes on loopback addresses and kills every one it
//! started (SIGTERM, then SIGKILL to the group), on errors and panics too.
//!
//!     cargo run --release -p rapid-bench -- [--quick] [--out FILE]

mod callgrind;
mod client;
mod error;
mod extension;
mod loopback;
mod measure;
mod pool;
mod proc;
mod replica;
mod report;
mod runs;
mod scratch;
mod stats;
mod streaming;
mod targets;
mod web;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;

use error::BenchError;
use measure::{Parts, Plan};
use report::{Machine, Outcome, Report, Target};
use targets::{Function, Paths};

#[derive(Parser)]
#[command(about = "Measure rapid against a loopback floor and cargo-lambda")]
struct Args {
    /// Divide every count by 10 (a smoke run, numbers are noisier).
    #[arg(long)]
    quick: bool,
    /// Where to write the results: FILE.md and FILE.json (an .md or .json
    /// extension is replaced).
    #[arg(long, value_name = "FILE", default_value = "bench-results.md")]
    out: PathBuf,
    /// The cargo-lambda binary [default: .venv/bin/cargo-lambda, else PATH].
    #[arg(long, value_name = "PATH")]
    cargo_lambda: Option<PathBuf>,
    /// Do not run `cargo build` for rapid, echo-fn and ext-recorder first;
    /// use the binaries already next to the bench's.
    #[arg(long)]
    no_build: bool,
    /// Measure only the pool of sandboxes (`--max-sandboxes` 1, 2, 4, 8
    /// under 8 and 64 clients), the cost of freezing and the memory per
    /// idle sandbox; written to FILE-pool.md.
    #[arg(long)]
    pool: bool,
    /// Measure only rapid's instructions (callgrind) and system calls
    /// (strace) per warm invoke and per 1 MiB and 5.5 MiB round trip;
    /// written to FILE-callgrind.md.
    #[arg(long)]
    callgrind: bool,
    /// Measure only web traffic: a request through `--http-address` to a
    /// `lambda_http` function beside the same through cargo-lambda's
    /// `/lambda-url/` and rapid's plain Invoke; written to FILE-http.md.
    #[arg(long)]
    http: bool,
    /// Measure only one replica sized to a containerConcurrency of 1, 4
    /// and 16 (invokes/s, p50, rapid's CPU per invoke); written to
    /// FILE-replica.md.
    #[arg(long)]
    replica: bool,
    /// With --callgrind: keep the profiles and tables in DIR (for
    /// `callgrind_annotate`).
    #[arg(long, value_name = "DIR", requires = "callgrind")]
    keep_profiles: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    proc::stop_children_on_signal();
    let plan = Plan::new(args.quick);
    let paths = Paths::discover();
    // Before the build below, which would raise it.
    let load_1m = load_average();
    if !args.no_build {
        if let Err(e) = targets::build_binaries(&paths) {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    }
    // One thread drives every client: the targets keep the other core.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for the bench clients"); // ok: a startup invariant of the bench tool

    if args.pool {
        return write_part(&args.out, "pool", pool::run(&rt, &paths, args.quick));
    }
    if args.replica {
        return write_part(&args.out, "replica", replica::run(&rt, &paths, args.quick));
    }
    if args.http {
        let chosen = args.cargo_lambda.as_deref();
        return write_part(&args.out, "http", web::run(&rt, &paths, chosen, args.quick));
    }
    if args.callgrind {
        let keep = args.keep_profiles.as_deref();
        return write_part(&args.out, "callgrind", callgrind::run(&rt, &paths, keep));
    }
    let machine = machine(&paths, load_1m);
    let mut setup = setup(&plan);
    let targets = vec![
        target("loopback", "loopback floor", runs::loopback(&rt, &plan)),
        target(
            "rapid_rust",
            "rapid + Rust",
            runs::rapid(&rt, &plan, &paths, Function::RustEcho, Parts::ALL),
        ),
        target(
            "rapid_rust_ext",
            "rapid + Rust + 1 ext",
            runs::rapid_with_extension(&rt, &plan, &paths, extension::RECORDER),
        ),
        target(
            "rapid_rust_otel",
            "rapid + Rust + telemetry",
            runs::rapid_with_extension(&rt, &plan, &paths, extension::TELEMETRY),
        ),
        target(
            "rapid_python",
            "rapid + Python",
            runs::rapid(&rt, &plan, &paths, Function::PythonEcho, Parts::SEQUENTIAL),
        ),
        target(
            "cargo_lambda",
            "cargo-lambda + Rust",
            runs::cargo_lambda(&rt, &plan, &paths, args.cargo_lambda.as_deref(), &mut setup),
        ),
    ];
    let streaming = vec![
        target(
            "loopback_stream",
            "loopback floor",
            runs::stream_loopback(&rt, &plan),
        ),
        target(
            "rapid_stream",
            "rapid + Python streaming",
            runs::stream_rapid(&rt, &plan, &paths),
        ),
    ];

    let mut report = Report {
        machine,
        quick: args.quick,
        plan,
        targets,
        streaming,
        ratios: vec![],
        extension_overhead: vec![],
        setup,
    };
    report.compute_ratios();
    println!("{}", report.markdown());
    match report.write(&args.out) {
        Ok((md, json)) => eprintln!("bench: wrote {} and {}", md.display(), json.display()),
        Err(e) => {
            eprintln!("bench: cannot write {}: {e}", args.out.display());
            return ExitCode::FAILURE;
        }
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints the Markdown of a part measured on its own (`--pool`,
/// `--callgrind`) and writes it to FILE-`part`.md.
fn write_part(out: &Path, part: &str, result: Result<String, BenchError>) -> ExitCode {
    let md = match result {
        Ok(md) => md,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{md}");
    let out = out.with_extension("").with_file_name(format!(
        "{}-{part}.md",
        out.file_stem()
            .map_or("bench-results".into(), |s| s.to_string_lossy())
    ));
    match std::fs::write(&out, md) {
        Ok(()) => {
            eprintln!("bench: wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: cannot write {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

/// How the targets are run and measured, for the report's last section.
fn setup(plan: &Plan) -> Vec<String> {
    let mut setup = vec![
        format!(
            "client: one tokio current-thread runtime, hyper 1.x HTTP/1.1, keep-alive, \
             TCP_NODELAY; small event `{}`; {} warmup invokes before the sequential run",
            String::from_utf8_lossy(measure::SMALL_EVENT),
            plan.warmup
        ),
        "rapid: `rapid --runtime-interface-emulator-address 127.0.0.1:0 \
         --runtime-api-address 127.0.0.1:0 --extensions-dir <empty dir> <function>` (the \
         runtime starts on the first invoke, so a cold start includes it); Rust function: \
         testdata's echo-fn (lambda_runtime); Python function: `python -m awslambdaric \
         handlers.echo` in testdata/functions/python"
            .to_string(),
        "rapid + Rust + 1 ext: the same with `--extensions-dir <dir>` holding testdata's \
         ext-recorder (lambda-extension crate) as `recorder`, registered for INVOKE and \
         SHUTDOWN, `EXT_RECORD_FILE=<temp file>`; per invoke it appends two JSON lines to \
         that file and prints them (rapid forwards them to its stdout), so it costs a little \
         more than an idle extension. Checked: it registered on every start of rapid (cold \
         starts included), before the warm run (one priming invoke); it received one INVOKE \
         event per invoke sent, counted after rapid's SIGTERM; extension CPU and RSS are \
         those of its own process (pid from its record)"
            .to_string(),
        "rapid + Rust + telemetry: the same with testdata's ext-telemetry as `otel` instead \
         (lambda-extension crate, `with_telemetry_processor`): it subscribes to the Telemetry \
         API for platform, function and extension records over HTTP (maxItems 10000, \
         maxBytes 262144, timeoutMs 25) and appends each batch it receives to its record \
         file; checked as above, and that platform.report records reached it"
            .to_string(),
        format!(
            "streams: testdata/runtimes/streaming.py (stdlib Python) as rapid's runtime, event \
             `{{\"action\":\"big\",\"size\":N}}`: N bytes in 64 KB chunks with \
             `Lambda-Runtime-Function-Response-Mode: streaming`, read through the Invoke front \
             door (raw bytes, chunked) on one keep-alive connection; the floor answers the \
             same event from the bench's loopback server with N bytes, chunked, in 64 KiB \
             frames; time to first byte: from sending the invoke to the first body byte, {} \
             streams of {} B after {} warmup streams; MB/s: 10^6 bytes / s from sending to the \
             last byte, median of {} streams of {} bytes (rapid's figure is also bounded by the \
             Python runtime producing the chunks); peak RSS: rapid's VmHWM after them",
            plan.stream.first_byte_invokes,
            plan.stream.first_byte_bytes,
            plan.stream.warmup,
            plan.stream.big_runs,
            plan.stream.big_bytes
        ),
        format!(
            "emulator CPU: utime + stime of its process (/proc/<pid>/stat, in ticks of 10 ms) \
             over the {} sequential invokes, so ±{:.0} µs per invoke; RSS: VmRSS and VmHWM \
             of /proc/<pid>/status",
            plan.sequential,
            10_000.0 / plan.sequential.max(1) as f64
        ),
    ];
    if cfg!(debug_assertions) {
        let warning = "built without --release: the client's own overhead skews every figure";
        eprintln!("bench: WARNING: {warning}");
        setup.push(format!("WARNING: {warning}"));
    }
    setup
}

fn target<F>(key: &'static str, title: &'static str, result: Result<F, BenchError>) -> Target<F> {
    let outcome = match result {
        Ok(figures) => Outcome::Measured(Box::new(figures)),
        Err(e) if e.is_missing() => {
            eprintln!("bench: {title}: NOT MEASURED: {e}");
            Outcome::NotMeasured {
                reason: e.to_string(),
            }
        }
        Err(e) => {
            eprintln!("bench: {title}: FAILED: {e}");
            Outcome::Failed {
                error: e.to_string(),
            }
        }
    };
    Target {
        key,
        title,
        outcome,
    }
}

/// The 1-minute load average: whether something else (a build) was
/// competing for the cores when the run started.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// What the run ran on.
fn machine(paths: &Paths, load_1m: Option<f64>) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let rapid = std::process::Command::new(paths.bin_dir.join("rapid"))
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rapid (version unknown)".to_string());
    let unix_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel,
        load_1m,
        rapid,
        unix_time,
        date_utc: report::utc_date(unix_time),
    }
}
