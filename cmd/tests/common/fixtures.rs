//! Where the test fixtures live and how to run them: the scripted runtime,
//! the awslambdaric handlers, the lambda_runtime binaries and the boto3
//! invoker.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The workspace root (the parent of the `cmd` crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cmd has a parent directory")
        .to_path_buf()
}

pub fn testdata(rel: &str) -> PathBuf {
    repo_root().join("testdata").join(rel)
}

/// The venv Python with awslambdaric and boto3: `$RAPID_TEST_PYTHON`, else
/// `<root>/.venv/bin/python`. Panics with directions when neither exists.
pub fn venv_python() -> PathBuf {
    let path = match std::env::var_os("RAPID_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join(".venv/bin/python"),
    };
    if !path.exists() {
        panic!(
            "no test Python at {}: run scripts/test (it creates .venv with \
             testdata/requirements.txt and sets RAPID_TEST_PYTHON)",
            path.display()
        );
    }
    path
}

/// A Python for the stdlib-only scripted runtime: the venv's when there is
/// one, else `python3` from PATH.
pub fn plain_python() -> String {
    match std::env::var("RAPID_TEST_PYTHON") {
        Ok(p) => p,
        Err(_) => {
            let venv = repo_root().join(".venv/bin/python");
            if venv.exists() {
                venv.display().to_string()
            } else {
                "python3".to_string()
            }
        }
    }
}

/// The runtime command for testdata/runtimes/scripted.py.
pub fn scripted_command() -> Vec<String> {
    vec![
        plain_python(),
        testdata("runtimes/scripted.py").display().to_string(),
    ]
}

/// The runtime command for testdata/runtimes/streaming.py, the stdlib
/// runtime that streams its responses as the event scripts it.
pub fn streaming_command() -> Vec<String> {
    vec![
        plain_python(),
        testdata("runtimes/streaming.py").display().to_string(),
    ]
}

/// The runtime command and environment for an awslambdaric handler in
/// testdata/functions/python/handlers.py (e.g. `handlers.echo`).
pub fn awslambdaric_command(handler: &str) -> (Vec<String>, Vec<(String, String)>) {
    let cmd = vec![
        venv_python().display().to_string(),
        "-m".to_string(),
        "awslambdaric".to_string(),
        handler.to_string(),
    ];
    let env = vec![(
        "PYTHONPATH".to_string(),
        testdata("functions/python").display().to_string(),
    )];
    (cmd, env)
}

/// A binary of the `rapid-testdata` crate (`echo-fn`, `fail-fn`), built in
/// the same target directory as this test.
pub fn rust_fn(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // <target>/debug/deps/<test>-<hash> → <target>/debug/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps");
    let path = profile_dir.join(name);
    if !path.exists() {
        panic!(
            "{} is missing: build it with `cargo build --workspace --all-targets` \
             (scripts/test does)",
            path.display()
        );
    }
    path
}

/// A fresh path under Cargo's per-test temporary directory (not created).
pub fn unique_path(stem: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{stem}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// A named pipe (FIFO) a runtime waits on, by opening it for reading,
/// until the test opens it with [`open_gate`].
pub fn gate() -> PathBuf {
    let path = unique_path("gate");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU)
        .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
    path
}

/// Lets the runtime waiting on `gate` go on: opened for writing once the
/// runtime has it open for reading (never blocking, so a runtime that is
/// gone fails the test instead of hanging it); closing it at once gives
/// the runtime its end of file.
pub fn open_gate(gate: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    super::poll_until("the runtime to wait on its gate", super::WAIT, || {
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(gate)
            .is_ok()
    });
}

/// How long a boto3 invoker process may run: starting Python and importing
/// boto3 takes a second or two on a loaded machine, the invokes milliseconds.
/// The SDK's own read timeout (15 s) is shorter, so a rapid that hangs
/// usually shows up as the SDK's error first.
pub const INVOKER_DEADLINE: Duration = Duration::from_secs(25);

/// Runs testdata/invoker/boto_invoke.py against `endpoint` with `args` and
/// returns its JSON lines (one per invoke). Panics when it fails or runs
/// past [`INVOKER_DEADLINE`].
pub fn boto_invoke(endpoint: &str, args: &[&str]) -> Vec<serde_json::Value> {
    run_invoker("boto_invoke.py", endpoint, args)
}

/// Runs testdata/invoker/boto_stream.py (boto3's `invoke_with_response_stream`)
/// against `endpoint` with `args` and returns the JSON object it prints.
pub fn boto_stream(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut lines = run_invoker("boto_stream.py", endpoint, args);
    assert_eq!(lines.len(), 1, "boto_stream.py prints one line: {lines:?}");
    lines.remove(0)
}

/// Runs testdata/invoker/boto_functions.py (boto3's ListFunctions,
/// GetFunction, Invoke by name) with `steps` and returns its JSON lines,
/// one per step.
pub fn boto_functions(endpoint: &str, steps: &serde_json::Value) -> Vec<serde_json::Value> {
    run_invoker(
        "boto_functions.py",
        endpoint,
        &["--steps", &steps.to_string()],
    )
}

/// Runs the Python invoker `script` (in testdata/invoker) with `--endpoint
/// endpoint args...` and parses every non-empty stdout line as JSON.
fn run_invoker(script: &str, endpoint: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut cmd = Command::new(venv_python());
    cmd.arg(testdata("invoker").join(script))
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_CONFIG_FILE");
    let what = format!("{script} {args:?}");
    let out = output_within(&mut cmd, INVOKER_DEADLINE, &what);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{script} printed non-JSON {l:?}: {e}"))
        })
        .collect()
}

/// Runs `cmd` (stdin closed, stdout and stderr captured) and returns its
/// output; kills it by its pid and panics naming `what` and the output so
/// far when it runs past `deadline`.
pub fn output_within(cmd: &mut Command, deadline: Duration, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let pid = child.id();
    let (done, result) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match result.recv_timeout(deadline) {
        Ok(out) => {
            let _ = waiter.join();
            out.unwrap_or_else(|e| panic!("{what}: {e}"))
        }
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            // The waiter reaps it and hands over what it printed.
            let out = result.recv_timeout(deadline).ok().and_then(Result::ok);
            let (stdout, stderr) = out
                .map(|o| {
                    (
                        String::from_utf8_lossy(&o.stdout).into_owned(),
                        String::from_utf8_lossy(&o.stderr).into_owned(),
                    )
                })
                .unwrap_or_default();
            panic!(
                "{what} did not finish within {deadline:?} (killed; rapid did not answer?).\n\
                 stdout:\n{stdout}\nstderr:\n{stderr}"
            )
        }
    }
}

/// A JSON string of exactly `len` bytes (`len` at least 2), for payloads at
/// a size limit.
pub fn json_string_of_len(len: usize) -> Vec<u8> {
    let mut body = vec![b'a'; len];
    body[0] = b'"';
    body[len - 1] = b'"';
    body
}
