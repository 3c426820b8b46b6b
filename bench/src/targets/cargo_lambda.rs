//! cargo-lambda's emulator (`cargo lambda watch --only-lambda-apis`) in a
//! throwaway project, with testdata's echo-fn started by the bench against
//! its Runtime API.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{clean_command, Paths, TargetError, CARGO_ENV, KEPT_ENV, STARTUP_TIMEOUT};
use crate::proc::Proc;
use crate::scratch::ScratchDir;

/// cargo-lambda's emulator serving one function, and that function.
pub struct CargoLambda {
    // Dropped in declaration order: the function, then the server, then
    // the project directory.
    pub function: Proc,
    pub server: Proc,
    pub invoke_addr: SocketAddr,
    pub version: String,
    _project: ScratchDir,
}

/// Starts `cargo-lambda lambda watch --only-lambda-apis` in a throwaway
/// project whose one binary is named `function` (so the RIE-style invoke
/// URL `/2015-03-31/functions/function/invocations` is accepted), then
/// echo-fn against its Runtime API at `http://ADDR/.rt/function`.
pub fn start_cargo_lambda(paths: &Paths, exe: &Path) -> Result<CargoLambda, TargetError> {
    start_cargo_lambda_with(paths, exe, "echo-fn")
}

/// [`start_cargo_lambda`] with testdata's binary `function` instead of echo-fn.
pub fn start_cargo_lambda_with(
    paths: &Paths,
    exe: &Path,
    function: &'static str,
) -> Result<CargoLambda, TargetError> {
    let binary = paths.binary(function)?;
    let version = cargo_lambda_version(exe);
    let project = cargo_project()?;
    let port = free_port()?;
    let invoke_addr = SocketAddr::from(([127, 0, 0, 1], port));

    let mut cmd = clean_command(exe, &[KEPT_ENV, CARGO_ENV]);
    cmd.args([
        "lambda",
        "watch",
        "--only-lambda-apis",
        "-A",
        "127.0.0.1",
        "-P",
    ])
    .arg(port.to_string())
    .current_dir(project.path());
    let server = Proc::spawn("cargo-lambda", cmd)?;
    server.wait_for_line("`starting Runtime server`", STARTUP_TIMEOUT, |line| {
        line.contains("starting Runtime server").then_some(())
    })?;
    server.started();
    wait_accepting("cargo-lambda", invoke_addr)?;

    let mut cmd = clean_command(&binary, &[KEPT_ENV]);
    cmd.env(
        "AWS_LAMBDA_RUNTIME_API",
        format!("http://{invoke_addr}/.rt/function"),
    )
    .env("AWS_LAMBDA_FUNCTION_NAME", "function")
    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008");
    let function = Proc::spawn(function, cmd)?;
    function.started();
    Ok(CargoLambda {
        function,
        server,
        invoke_addr,
        version,
        _project: project,
    })
}

fn cargo_lambda_version(exe: &Path) -> String {
    let out = clean_command(exe, &[KEPT_ENV])
        .args(["lambda", "--version"])
        .output();
    match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => "cargo-lambda (version unknown)".to_string(),
    }
}

/// A port that was free a moment ago: bound on 127.0.0.1:0, then released
/// for cargo-lambda, which cannot be told to pick one itself.
fn free_port() -> Result<u16, TargetError> {
    let io = |source| TargetError::Io {
        what: "a free port for cargo-lambda",
        source,
    };
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    Ok(listener.local_addr().map_err(io)?.port())
}

/// A readiness probe: cargo-lambda logs that it starts its server, which may
/// come just before the socket listens, and echo-fn gives up at once on a
/// refused connection. Bounded in time; each refusal is immediate.
fn wait_accepting(name: &'static str, addr: SocketAddr) -> Result<(), TargetError> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(source) if Instant::now() >= deadline => {
                return Err(TargetError::NotListening { name, addr, source })
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A throwaway Cargo project (`function`, one binary) for cargo-lambda to
/// read; never built.
fn cargo_project() -> Result<ScratchDir, TargetError> {
    let io = |source| TargetError::Io {
        what: "the cargo-lambda project directory",
        source,
    };
    let dir = ScratchDir::create("cargo-lambda").map_err(io)?;
    std::fs::create_dir_all(dir.path().join("src")).map_err(io)?;
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"function\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .map_err(io)?;
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").map_err(io)?;
    Ok(dir)
}
