//! How each column of the report is produced: start the target, check it
//! runs what it should, measure it, stop it and note an unclean exit.

use std::path::Path;

use tokio::runtime::Runtime;

use crate::client::INVOKE_PATH;
use crate::error::BenchError;
use crate::extension::{self, Extension};
use crate::loopback::{self, Loopback};
use crate::measure::{self, Figures, Parts, Plan, Watched};
use crate::proc::Proc;
use crate::scratch::ScratchDir;
use crate::streaming::{self, StreamFigures};
use crate::targets::{self, Function, Paths, TargetError};

pub fn loopback(rt: &Runtime, plan: &Plan) -> Result<Figures, BenchError> {
    eprintln!("bench: loopback floor: a bare hyper echo server in this process");
    let server = start_loopback()?;
    let mut figures = Figures::default();
    rt.block_on(measure::warm(
        server.addr(),
        None,
        None,
        plan,
        Parts::ALL,
        &mut figures,
    ))?;
    Ok(figures)
}

fn start_loopback() -> Result<Loopback, BenchError> {
    Loopback::start().map_err(|source| {
        BenchError::Target(TargetError::Io {
            what: "the loopback server",
            source,
        })
    })
}

/// An empty `--extensions-dir`, so that rapid runs no extension whatever
/// the machine has in /opt/extensions.
fn no_extensions() -> Result<ScratchDir, BenchError> {
    ScratchDir::create("no-extensions").map_err(|source| {
        BenchError::Target(TargetError::Io {
            what: "an empty extensions directory",
            source,
        })
    })
}

pub fn rapid(
    rt: &Runtime,
    plan: &Plan,
    paths: &Paths,
    function: Function,
    parts: Parts,
) -> Result<Figures, BenchError> {
    let name = match function {
        Function::RustEcho => "rapid + Rust",
        Function::PythonEcho => "rapid + Python",
        Function::PythonStreaming => "rapid + Python streaming",
        Function::RustConcurrent => "rapid + Rust run_concurrent",
        Function::RustWeb => "rapid + Rust lambda_http",
    };
    let none = no_extensions()?;
    let start = || targets::start_rapid(paths, function, none.path(), &[]);
    let mut figures = Figures::default();
    eprintln!("bench: {name}: {} cold starts", plan.cold_runs);
    measure::cold_starts(rt, plan, start, &mut figures)?;
    eprintln!("bench: {name}: warm invokes");
    let mut rapid = start()?;
    let warm = rt.block_on(measure::warm(
        rapid.invoke_addr,
        Some(&rapid.proc),
        None,
        plan,
        parts,
        &mut figures,
    ));
    if let Err(e) = warm {
        return Err(with_tail(e, "rapid", &rapid.proc));
    }
    measure::check_clean_exit(&mut rapid.proc, &mut figures.notes);
    Ok(figures)
}

/// rapid + Rust with one extension (`kind`) in its extensions directory.
/// Every start of rapid must show the extension registered, and every
/// invoke must have reached it as an INVOKE event, or the target fails; a
/// telemetry subscriber must also have received platform reports.
pub fn rapid_with_extension(
    rt: &Runtime,
    plan: &Plan,
    paths: &Paths,
    kind: extension::Kind,
) -> Result<Figures, BenchError> {
    let name = match kind.name {
        "otel" => "rapid + Rust + 1 telemetry subscriber",
        _ => "rapid + Rust + 1 extension",
    };
    let ext = Extension::prepare(paths, kind)?;
    let env = ext.env();
    let start = || targets::start_rapid(paths, Function::RustEcho, ext.dir(), &env);
    let mut figures = Figures::default();
    eprintln!("bench: {name}: {} cold starts", plan.cold_runs);
    measure::cold_starts(rt, plan, start, &mut figures)?;
    ext.take_records()?.expect_registered(plan.cold_runs)?;

    eprintln!("bench: {name}: warm invokes");
    let mut rapid = start()?;
    // The first invoke starts the extension and the runtime. The extension
    // records `registered` before its first `next`, which init waits for,
    // so the record is there once this invoke is answered.
    let primed = rt
        .block_on(measure::one_invoke(rapid.invoke_addr))
        .and_then(|()| Ok(ext.records()?))
        .and_then(|records| {
            records.expect_registered(1)?;
            Ok(records)
        });
    let records = match primed {
        Ok(records) => records,
        Err(e) => return Err(with_tail(e, "rapid", &rapid.proc)),
    };
    let watched = records.pid().map(|pid| Watched {
        name: ext.name(),
        pid,
    });
    if watched.is_none() {
        figures
            .notes
            .push("the extension's record has no pid: its CPU and memory are not measured".into());
    }
    let warm = rt.block_on(measure::warm(
        rapid.invoke_addr,
        Some(&rapid.proc),
        watched,
        plan,
        Parts::WARM,
        &mut figures,
    ));
    let invokes = match warm {
        Ok(invokes) => invokes + 1,
        Err(e) => return Err(with_tail(e, "rapid", &rapid.proc)),
    };
    // On SIGTERM rapid sends SHUTDOWN, and the extension records it and exits.
    measure::check_clean_exit(&mut rapid.proc, &mut figures.notes);
    let records = ext.take_records()?;
    records.expect_invokes(invokes)?;
    if kind.name == extension::TELEMETRY.name {
        let reports = records.telemetry_reports();
        if reports == 0 {
            return Err(BenchError::Extension(
                crate::extension::ExtensionError::MissedInvokes {
                    name: ext.name(),
                    sent: invokes,
                    seen: 0,
                    tail: "no platform.report reached the telemetry subscriber".into(),
                },
            ));
        }
        figures.notes.push(format!(
            "the subscriber received {reports} platform.report records for {invokes} invokes \
             (what was still queued when rapid stopped may be missing)"
        ));
    }
    if records.shutdowns() != 1 {
        figures.notes.push(format!(
            "the extension recorded {} SHUTDOWN events when rapid stopped, not 1",
            records.shutdowns()
        ));
    }
    Ok(figures)
}

pub fn cargo_lambda(
    rt: &Runtime,
    plan: &Plan,
    paths: &Paths,
    chosen: Option<&Path>,
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
        None,
        plan,
        Parts::ALL,
        &mut figures,
    ));
    if let Err(e) = warm {
        let e = with_tail(e, "cargo-lambda", &cl.server);
        return Err(with_tail(e, "echo-fn", &cl.function));
    }
    cl.function.terminate();
    measure::check_clean_exit(&mut cl.server, &mut figures.notes);
    Ok(figures)
}

/// The floor's streams: its [`loopback::STREAM_PATH`] answers the same
/// events with a chunked body of that size.
pub fn stream_loopback(rt: &Runtime, plan: &Plan) -> Result<StreamFigures, BenchError> {
    eprintln!("bench: streaming: loopback floor");
    let server = start_loopback()?;
    rt.block_on(streaming::measure(
        server.addr(),
        loopback::STREAM_PATH,
        None,
        &plan.stream,
    ))
}

/// rapid running testdata's streaming runtime, read through the Invoke
/// front door (the raw bytes, chunked).
pub fn stream_rapid(rt: &Runtime, plan: &Plan, paths: &Paths) -> Result<StreamFigures, BenchError> {
    eprintln!("bench: streaming: rapid + Python streaming runtime");
    let none = no_extensions()?;
    let mut rapid = targets::start_rapid(paths, Function::PythonStreaming, none.path(), &[])?;
    let measured = rt.block_on(streaming::measure(
        rapid.invoke_addr,
        INVOKE_PATH,
        Some(&rapid.proc),
        &plan.stream,
    ));
    let mut figures = match measured {
        Ok(figures) => figures,
        Err(e) => return Err(with_tail(e, "rapid", &rapid.proc)),
    };
    measure::check_clean_exit(&mut rapid.proc, &mut figures.notes);
    Ok(figures)
}

/// Adds a process's last lines to an error, where the cause usually is.
fn with_tail(e: BenchError, name: &'static str, proc: &Proc) -> BenchError {
    BenchError::WithOutput {
        source: Box::new(e),
        name,
        tail: proc.tail(),
    }
}
