//! `bench`: measures rapid, in one run, against the floor of a bare hyper
//! loopback round trip and against cargo-lambda's emulator, and writes the
//! table as Markdown and JSON.
//!
//! It only starts processes on loopback addresses and kills every one it
//! started (SIGTERM, then SIGKILL to the group), on errors and panics too.
//!
//!     cargo run --release -p rapid-bench -- [--quick] [--out FILE]

mod client;
mod loopback;
mod measure;
mod proc;
mod report;
mod stats;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use tokio::runtime::Runtime;

use measure::{BenchError, Figures, Parts, Plan};
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
    /// Do not run `cargo build` for rapid and echo-fn first; use the
    /// binaries already next to the bench's.
    #[arg(long)]
    no_build: bool,
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
        .expect("a tokio runtime for the bench clients");

    let machine = machine(&paths, load_1m);
    let mut setup = setup(&plan);
    let targets = vec![
        target("loopback", "loopback floor", loopback(&rt, &plan)),
        target(
            "rapid_rust",
            "rapid + Rust",
            rapid(&rt, &plan, &paths, Function::RustEcho, Parts::ALL),
        ),
        target(
            "rapid_python",
            "rapid + Python",
            rapid(&rt, &plan, &paths, Function::PythonEcho, Parts::SEQUENTIAL),
        ),
        target(
            "cargo_lambda",
            "cargo-lambda + Rust",
            cargo_lambda(&rt, &plan, &paths, args.cargo_lambda.as_deref(), &mut setup),
        ),
    ];

    let mut report = Report {
        machine,
        quick: args.quick,
        plan,
        targets,
        ratios: vec![],
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
         --runtime-api-address 127.0.0.1:0 <function>` (the runtime starts on the first \
         invoke, so a cold start includes it); Rust function: testdata's echo-fn \
         (lambda_runtime); Python function: `python -m awslambdaric handlers.echo` in \
         testdata/functions/python"
            .to_string(),
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

fn target(key: &'static str, title: &'static str, result: Result<Figures, BenchError>) -> Target {
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

fn loopback(rt: &Runtime, plan: &Plan) -> Result<Figures, BenchError> {
    eprintln!("bench: loopback floor: a bare hyper echo server in this process");
    let server = loopback::Loopback::start().map_err(|source| {
        BenchError::Target(targets::TargetError::Io {
            what: "the loopback server",
            source,
        })
    })?;
    let mut figures = Figures::default();
    rt.block_on(measure::warm(
        server.addr(),
        None,
        plan,
        Parts::ALL,
        &mut figures,
    ))?;
    Ok(figures)
}

fn rapid(
    rt: &Runtime,
    plan: &Plan,
    paths: &Paths,
    function: Function,
    parts: Parts,
) -> Result<Figures, BenchError> {
    let name = match function {
        Function::RustEcho => "rapid + Rust",
        Function::PythonEcho => "rapid + Python",
    };
    let mut figures = Figures::default();
    eprintln!("bench: {name}: {} cold starts", plan.cold_runs);
    measure::cold_starts(
        rt,
        plan,
        || targets::start_rapid(paths, function),
        &mut figures,
    )?;
    eprintln!("bench: {name}: warm invokes");
    let mut rapid = targets::start_rapid(paths, function)?;
    let warm = rt.block_on(measure::warm(
        rapid.invoke_addr,
        Some(&rapid.proc),
        plan,
        parts,
        &mut figures,
    ));
    if let Err(e) = warm {
        return Err(with_tail(e, "rapid", &rapid.proc));
    }
    measure::check_clean_exit(&mut rapid.proc, &mut figures);
    Ok(figures)
}

fn cargo_lambda(
    rt: &Runtime,
    plan: &Plan,
    paths: &Paths,
    chosen: Option<&std::path::Path>,
    setup: &mut Vec<String>,
) -> Result<Figures, BenchError> {
    let exe = paths.cargo_lambda(chosen)?;
    eprintln!("bench: cargo-lambda + Rust: {}", exe.display());
    let mut cl = targets::start_cargo_lambda(paths, &exe)?;
    setup.push(format!(
        "cargo-lambda: {}, run as `cargo-lambda lambda watch --only-lambda-apis -A 127.0.0.1 \
         -P <port>` in a throwaway Cargo project whose package (and so binary) is named \
         `function`; echo-fn started by the bench with \
         `AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:<port>/.rt/function` and \
         `AWS_LAMBDA_FUNCTION_NAME=function`; invoked at the same \
         `/2015-03-31/functions/function/invocations`",
        cl.version
    ));
    let mut figures = Figures::default();
    let warm = rt.block_on(measure::warm(
        cl.invoke_addr,
        Some(&cl.server),
        plan,
        Parts::ALL,
        &mut figures,
    ));
    if let Err(e) = warm {
        let e = with_tail(e, "cargo-lambda", &cl.server);
        return Err(with_tail(e, "echo-fn", &cl.function));
    }
    cl.function.terminate();
    measure::check_clean_exit(&mut cl.server, &mut figures);
    Ok(figures)
}

/// Adds a process's last lines to an error, where the cause usually is.
fn with_tail(e: BenchError, name: &'static str, proc: &proc::Proc) -> BenchError {
    BenchError::WithOutput {
        source: Box::new(e),
        name,
        tail: proc.tail(),
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
