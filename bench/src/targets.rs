//! How each system under test is started and where it listens: rapid running
//! the Rust (`lambda_runtime`) or Python (`awslambdaric`) echo function, and
//! cargo-lambda's emulator (`cargo lambda watch --only-lambda-apis`) with the
//! same Rust function started by the bench.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::proc::{Proc, ProcError};

/// How long a server may take to say it listens.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Variables of the bench's environment that reach what it starts; the rest
/// (AWS_* settings in particular) could change a result.
const KEPT_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"];
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
            .expect("the bench crate sits inside the workspace")
            .to_path_buf();
        let bin_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| root.join("target/release"));
        Paths { root, bin_dir }
    }

    fn binary(&self, name: &'static str) -> Result<PathBuf, TargetError> {
        let path = self.bin_dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(TargetError::Missing {
                what: name,
                path: path.display().to_string(),
                hint: "build it with `cargo build --release -p rapid-cmd -p rapid-testdata`",
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

/// Builds `rapid` and `echo-fn` with the bench's own profile, so the run
/// measures the tree as it is (cargo finds nothing to do when they are fresh).
pub fn build_binaries(paths: &Paths) -> Result<(), TargetError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut args = vec!["build", "-p", "rapid-cmd", "-p", "rapid-testdata"];
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
}

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
}

/// Starts rapid on ephemeral loopback ports with `function` and waits until
/// it says where it accepts invokes (its runtime starts on the first invoke).
pub fn start_rapid(paths: &Paths, function: Function) -> Result<Rapid, TargetError> {
    let function = function_command(paths, function)?;
    let mut cmd = clean_command(&paths.binary("rapid")?, &[KEPT_ENV]);
    cmd.args([
        "--runtime-interface-emulator-address",
        "127.0.0.1:0",
        "--runtime-api-address",
        "127.0.0.1:0",
    ])
    .args(&function.argv)
    .envs(function.env);
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
    proc.started();
    Ok(Rapid { proc, invoke_addr })
}

/// cargo-lambda's emulator serving one function, and that function.
pub struct CargoLambda {
    // Dropped in declaration order: the function, then the server, then
    // the project directory.
    pub function: Proc,
    pub server: Proc,
    pub invoke_addr: SocketAddr,
    pub version: String,
    _project: ProjectDir,
}

/// Starts `cargo-lambda lambda watch --only-lambda-apis` in a throwaway
/// project whose one binary is named `function` (so the RIE-style invoke
/// URL `/2015-03-31/functions/function/invocations` is accepted), then
/// echo-fn against its Runtime API at `http://ADDR/.rt/function`.
pub fn start_cargo_lambda(paths: &Paths, exe: &Path) -> Result<CargoLambda, TargetError> {
    let echo_fn = paths.binary("echo-fn")?;
    let version = cargo_lambda_version(exe);
    let project = ProjectDir::create()?;
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
    .current_dir(&project.path);
    let server = Proc::spawn("cargo-lambda", cmd)?;
    server.wait_for_line("`starting Runtime server`", STARTUP_TIMEOUT, |line| {
        line.contains("starting Runtime server").then_some(())
    })?;
    server.started();
    wait_accepting("cargo-lambda", invoke_addr)?;

    let mut cmd = clean_command(&echo_fn, &[KEPT_ENV]);
    cmd.env(
        "AWS_LAMBDA_RUNTIME_API",
        format!("http://{invoke_addr}/.rt/function"),
    )
    .env("AWS_LAMBDA_FUNCTION_NAME", "function")
    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008");
    let function = Proc::spawn("echo-fn", cmd)?;
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
struct ProjectDir {
    path: PathBuf,
}

impl ProjectDir {
    fn create() -> Result<ProjectDir, TargetError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "rapid-bench-cargo-lambda-{}-{nanos}",
            std::process::id()
        ));
        let dir = ProjectDir { path };
        let io = |source| TargetError::Io {
            what: "the cargo-lambda project directory",
            source,
        };
        std::fs::create_dir_all(dir.path.join("src")).map_err(io)?;
        std::fs::write(
            dir.path.join("Cargo.toml"),
            "[package]\nname = \"function\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
        )
        .map_err(io)?;
        std::fs::write(dir.path.join("src/main.rs"), "fn main() {}\n").map_err(io)?;
        Ok(dir)
    }
}

impl Drop for ProjectDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
