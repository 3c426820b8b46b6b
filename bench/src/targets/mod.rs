//! How each system under test is started and where it listens: rapid running
//! the Rust (`lambda_runtime`) or Python (`awslambdaric`) echo function or
//! testdata's streaming runtime, and cargo-lambda's emulator
//! (`cargo lambda watch --only-lambda-apis`) with the same Rust function
//! started by the bench.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::proc::{Proc, ProcError};

mod cargo_lambda;

pub use cargo_lambda::{start_cargo_lambda, start_cargo_lambda_with};

/// How long a server may take to say it listens.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Variables of the bench's environment that reach what it starts; the rest
/// (AWS_* settings in particular) could change a result. The timeline's and
/// the OTLP endpoint's are kept, so their cost can be measured.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "RAPID_TIMELINE",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];
/// What cargo-lambda also needs: it runs `cargo metadata` on its project.
const CARGO_ENV: &[&str] = &["CARGO", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"];

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{what} not found at {path}: {hint}")]
    Missing {
        what: &'static str,
        path: String,
        hint: &'static str,
    },
    #[error(transparent)]
    Proc(#[from] ProcError),
    #[error("cannot prepare {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("`{command}` failed: {detail}")]
    Build { command: String, detail: String },
    #[error("{name} does not accept connections on {addr} within {STARTUP_TIMEOUT:?}: {source}")]
    NotListening {
        name: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl TargetError {
    /// A prerequisite is not installed: the target is reported as not
    /// measured rather than failed.
    pub fn is_missing(&self) -> bool {
        matches!(self, TargetError::Missing { .. })
    }
}

/// Where the bench finds the binaries and fixtures.
pub struct Paths {
    /// The workspace root.
    pub root: PathBuf,
    /// The directory of the bench binary, where cargo also put `rapid` and
    /// `echo-fn` (same profile, same target directory).
    pub bin_dir: PathBuf,
}

impl Paths {
    pub fn discover() -> Paths {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the bench crate sits inside the workspace") // ok: a startup invariant of the bench tool
            .to_path_buf();
        let bin_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| root.join("target/release"));
        Paths { root, bin_dir }
    }

    pub fn binary(&self, name: &'static str) -> Result<PathBuf, TargetError> {
        let path = self.bin_dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(TargetError::Missing {
                what: name,
                path: path.display().to_string(),
                hint: "build them with `cargo build --release -p rapid-cmd`, then \
                       `cargo build --release -p rapid-testdata -p rapid-testdata-ext`",
            })
        }
    }

    /// The venv Python with awslambdaric: `$RAPID_TEST_PYTHON`, else
    /// `<root>/.venv/bin/python` (what scripts/test creates).
    fn python(&self) -> Result<PathBuf, TargetError> {
        let path = std::env::var_os("RAPID_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join(".venv/bin/python"));
        let has_ric = path
            .parent()
            .and_then(Path::parent)
            .map(|venv| venv_has(venv, "awslambdaric"))
            .unwrap_or(false);
        if path.is_file() && has_ric {
            Ok(path)
        } else {
            Err(TargetError::Missing {
                what: "a Python venv with awslambdaric",
                path: path.display().to_string(),
                hint: "run scripts/test once (it creates .venv from testdata/requirements.txt)",
            })
        }
    }

    /// A Python 3 for stdlib-only runtimes: the venv's when there is one,
    /// else `python3` on PATH.
    fn python3(&self) -> Result<PathBuf, TargetError> {
        let venv = self.root.join(".venv/bin/python");
        let found = if venv.is_file() {
            Some(venv)
        } else {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("python3"))
                    .find(|p| p.is_file())
            })
        };
        found.ok_or_else(|| TargetError::Missing {
            what: "python3",
            path: ".venv/bin/python or PATH".to_string(),
            hint: "install Python 3 (the streaming runtime needs only its standard library)",
        })
    }

    /// A tool found on PATH (`valgrind`, `strace`).
    pub fn tool(&self, name: &'static str, hint: &'static str) -> Result<PathBuf, TargetError> {
        std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
            .ok_or(TargetError::Missing {
                what: name,
                path: "PATH".to_string(),
                hint,
            })
    }

    /// `--cargo-lambda PATH`, else `<root>/.venv/bin/cargo-lambda`, else
    /// `cargo-lambda` on PATH.
    pub fn cargo_lambda(&self, chosen: Option<&Path>) -> Result<PathBuf, TargetError> {
        let venv = self.root.join(".venv/bin/cargo-lambda");
        let found = match chosen {
            Some(path) => Some(path.to_path_buf()).filter(|p| p.is_file()),
            None if venv.is_file() => Some(venv),
            None => std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("cargo-lambda"))
                    .find(|p| p.is_file())
            }),
        };
        found.ok_or_else(|| TargetError::Missing {
            what: "cargo-lambda",
            path: chosen.map_or_else(
                || ".venv/bin/cargo-lambda or PATH".to_string(),
                |p| p.display().to_string(),
            ),
            hint: "install it with `.venv/bin/pip install cargo-lambda`",
        })
    }
}

/// Builds `rapid`, `echo-fn`, `concurrent-fn` and `ext-recorder` with the bench's own
/// profile, so the run measures the tree as it is (cargo finds nothing to do
/// when they are fresh). rapid is built on its own: built with the test
/// functions, it would get their dependencies' features (tokio's
/// multi-threaded scheduler, which lambda_runtime asks for), which a user's
/// `cargo build --bin rapid` does not have.
pub fn build_binaries(paths: &Paths) -> Result<(), TargetError> {
    cargo_build(paths, &["-p", "rapid-cmd"])?;
    cargo_build(paths, &["-p", "rapid-testdata", "-p", "rapid-testdata-ext"])
}

fn cargo_build(paths: &Paths, packages: &[&str]) -> Result<(), TargetError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut args = vec!["build"];
    args.extend(packages);
    if !cfg!(debug_assertions) {
        args.push("--release");
    }
    let command = format!("cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(&args)
        .current_dir(&paths.root)
        .status()
        .map_err(|e| TargetError::Build {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(TargetError::Build {
            command,
            detail: status.to_string(),
        })
    }
}

/// Whether a venv's site-packages holds `package`.
fn venv_has(venv: &Path, package: &str) -> bool {
    let Ok(libs) = std::fs::read_dir(venv.join("lib")) else {
        return false;
    };
    libs.flatten()
        .any(|lib| lib.path().join("site-packages").join(package).is_dir())
}

/// The echo function a target runs.
#[derive(Clone, Copy)]
pub enum Function {
    /// testdata's `echo-fn`, on the `lambda_runtime` crate.
    RustEcho,
    /// testdata/functions/python `handlers.echo`, on `awslambdaric`.
    PythonEcho,
    /// testdata/runtimes/streaming.py: a stdlib Python runtime that streams
    /// its answers (`Lambda-Runtime-Function-Response-Mode: streaming`).
    PythonStreaming,
    /// testdata's `concurrent-fn` (`lambda_runtime::run_concurrent`) with
    /// `AWS_LAMBDA_MAX_CONCURRENCY` = [`CONCURRENCY`]: one runtime holds
    /// that many invokes at once.
    RustConcurrent,
    /// testdata's `web-fn`, a web handler on the `lambda_http` crate.
    RustWeb,
}

/// The multi-concurrency of [`Function::RustConcurrent`].
pub const CONCURRENCY: usize = 8;

/// The runtime command rapid runs, and what it adds to rapid's environment.
struct FunctionCommand {
    argv: Vec<OsString>,
    env: Vec<(&'static str, OsString)>,
}

/// How rapid runs `function`.
fn function_command(paths: &Paths, function: Function) -> Result<FunctionCommand, TargetError> {
    match function {
        Function::RustEcho => Ok(FunctionCommand {
            argv: vec![paths.binary("echo-fn")?.into()],
            env: vec![],
        }),
        Function::PythonEcho => {
            let python = paths.python()?;
            let task_root = paths.root.join("testdata/functions/python");
            let cmd = ["-m", "awslambdaric", "handlers.echo"];
            let mut argv = vec![python.into_os_string()];
            argv.extend(cmd.iter().map(OsString::from));
            let env = vec![
                ("PYTHONPATH", task_root.clone().into_os_string()),
                ("LAMBDA_TASK_ROOT", task_root.into_os_string()),
            ];
            Ok(FunctionCommand { argv, env })
        }
        Function::RustWeb => Ok(FunctionCommand {
            argv: vec![paths.binary("web-fn")?.into()],
            env: vec![],
        }),
        Function::RustConcurrent => Ok(FunctionCommand {
            argv: vec![paths.binary("concurrent-fn")?.into()],
            env: vec![("AWS_LAMBDA_MAX_CONCURRENCY", CONCURRENCY.to_string().into())],
        }),
        Function::PythonStreaming => {
            let script = paths.root.join("testdata/runtimes/streaming.py");
            Ok(FunctionCommand {
                argv: vec![paths.python3()?.into_os_string(), script.into_os_string()],
                env: vec![],
            })
        }
    }
}

fn clean_command(program: &Path, kept: &[&[&str]]) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    for name in kept.iter().flat_map(|names| names.iter()) {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd
}

/// A running rapid.
pub struct Rapid {
    pub proc: Proc,
    pub invoke_addr: SocketAddr,
    /// Where it serves web traffic, when started with `--http-address`.
    pub web_addr: Option<SocketAddr>,
}

/// Starts rapid on ephemeral loopback ports with `function` and the external
/// extensions in `extensions_dir` (`extension_env` added to rapid's
/// environment, which they inherit), and waits until it says where it
/// accepts invokes (its runtime starts on the first invoke).
pub fn start_rapid(
    paths: &Paths,
    function: Function,
    extensions_dir: &Path,
    extension_env: &[(&'static str, &OsStr)],
) -> Result<Rapid, TargetError> {
    start_rapid_with(paths, function, extensions_dir, extension_env, &[])
}

/// [`start_rapid`] with rapid's own `flags` added (`--max-sandboxes 4`...).
pub fn start_rapid_with(
    paths: &Paths,
    function: Function,
    extensions_dir: &Path,
    extension_env: &[(&'static str, &OsStr)],
    flags: &[&str],
) -> Result<Rapid, TargetError> {
    start_rapid_under(paths, function, extensions_dir, extension_env, flags, &[])
}

/// [`start_rapid_with`] with rapid started by `wrapper` (a program and its
/// arguments, such as `valgrind --tool=callgrind`), which runs it in the
/// same process and passes its output through.
pub fn start_rapid_under(
    paths: &Paths,
    function: Function,
    extensions_dir: &Path,
    extension_env: &[(&'static str, &OsStr)],
    flags: &[&str],
    wrapper: &[OsString],
) -> Result<Rapid, TargetError> {
    let function = function_command(paths, function)?;
    let rapid = paths.binary("rapid")?;
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut cmd = clean_command(Path::new(program), &[KEPT_ENV]);
            cmd.args(args).arg(rapid);
            cmd
        }
        None => clean_command(&rapid, &[KEPT_ENV]),
    };
    cmd.args([
        "--runtime-interface-emulator-address",
        "127.0.0.1:0",
        "--runtime-api-address",
        "127.0.0.1:0",
    ])
    .args(flags)
    .arg("--extensions-dir")
    .arg(extensions_dir)
    .args(&function.argv)
    .envs(function.env)
    .envs(extension_env.iter().copied());
    let proc = Proc::spawn("rapid", cmd)?;
    let invoke_addr = proc.wait_for_line(
        "`rapid: invokes listening on HOST:PORT`",
        STARTUP_TIMEOUT,
        |line| {
            line.strip_prefix("rapid: invokes listening on ")?
                .trim()
                .parse()
                .ok()
        },
    )?;
    let web_addr = if flags.contains(&"--http-address") {
        Some(proc.wait_for_line(
            "`rapid: web traffic listening on HOST:PORT`",
            STARTUP_TIMEOUT,
            |line| {
                line.strip_prefix("rapid: web traffic listening on ")?
                    .trim()
                    .parse()
                    .ok()
            },
        )?)
    } else {
        None
    };
    proc.started();
    Ok(Rapid {
        proc,
        invoke_addr,
        web_addr,
    })
}
