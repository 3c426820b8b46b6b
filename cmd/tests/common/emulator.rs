//! Starting an emulator that is not necessarily this workspace's rapid: the
//! conformance suite takes its binary from `RAPID_CONFORMANCE_BIN`, so it
//! can be pointed at any emulator with aws-lambda-rie's command line. Such a
//! binary need not print where it listens: the ports are chosen here, passed
//! with aws-lambda-rie's flags, and the front door is up once it accepts a
//! connection.

use super::{read_lines, Exit, Lines, Rapid, KEPT_ENV, STARTUP_TIMEOUT};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The emulator under test: `$RAPID_CONFORMANCE_BIN`, else this workspace's
/// `rapid`.
pub fn binary_under_test() -> PathBuf {
    match std::env::var_os("RAPID_CONFORMANCE_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_rapid")),
    }
}

/// What `binary --help` says, to tell which optional flags it has.
pub fn help_text(binary: &Path) -> String {
    let output = Command::new(binary)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --help: {e}", binary.display()));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

/// A port nobody listens on right now (the kernel picks it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

impl Rapid {
    /// Starts `binary --runtime-interface-emulator-address 127.0.0.1:P
    /// --runtime-api-address 127.0.0.1:Q ARGS...` with `env` added to a
    /// minimal environment, and waits until the front door accepts a
    /// connection.
    pub fn start_binary(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Rapid {
        let invoke_addr = format!("127.0.0.1:{}", free_port());
        let api_addr = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(binary);
        cmd.args([
            "--runtime-interface-emulator-address",
            &invoke_addr,
            "--runtime-api-address",
            &api_addr,
        ])
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        for name in KEPT_ENV {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd.envs(env.iter().copied());
        let mut child: Child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", binary.display()));
        let stdout = Arc::new(Lines::default());
        let stderr = Arc::new(Lines::default());
        let exit = Arc::new(Exit::default());
        let threads = vec![
            read_lines(child.stdout.take().expect("piped stdout"), stdout.clone()),
            read_lines(child.stderr.take().expect("piped stderr"), stderr.clone()),
        ];
        let pid = child.id();
        let mut rapid = Rapid {
            spawned_pid: pid,
            rapid_pid: pid,
            api_addr,
            invoke_addr,
            stdout,
            stderr,
            exit: exit.clone(),
            threads,
        };
        rapid.threads.push(thread::spawn(move || {
            let status = child.wait().expect("wait for the emulator");
            *exit.status.lock().unwrap() = Some(status);
            exit.changed.notify_all();
        }));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while TcpStream::connect(&rapid.invoke_addr).is_err() {
            assert!(
                rapid.exit_status().is_none() && Instant::now() < deadline,
                "{} did not accept invokes on {} within {STARTUP_TIMEOUT:?} (exit: {:?}).\nstderr:\n{}",
                binary.display(),
                rapid.invoke_addr,
                rapid.exit_status(),
                rapid.stderr().join("\n")
            );
            thread::sleep(Duration::from_millis(10)); // ok: a port has no event to wait on
        }
        rapid
    }
}
