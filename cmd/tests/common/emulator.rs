//! Starting an emulator that is not necessarily this workspace's rapid: the
//! conformance suite takes its binary from `RAPID_CONFORMANCE_BIN`, so it
//! can be pointed at any emulator with aws-lambda-rie's command line. Such a
//! binary need not print where it listens: the ports are chosen here, passed
//! with aws-lambda-rie's flags, and the front door is up once it accepts a
//! connection.

use super::{Rapid, STARTUP_TIMEOUT, WAIT};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

/// Two distinct ports nobody listens on right now (the kernel picks them;
/// both are held until both are known, so they differ).
fn free_ports() -> (u16, u16) {
    let bind = || {
        TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
    };
    let (a, b) = (bind(), bind());
    let port = |l: &TcpListener| l.local_addr().map(|addr| addr.port()).unwrap_or(0);
    (port(&a), port(&b))
}

impl Rapid {
    /// Starts `binary --runtime-interface-emulator-address 127.0.0.1:P
    /// --runtime-api-address 127.0.0.1:Q ARGS...` with `env` added to a
    /// minimal environment, and waits until the front door accepts a
    /// connection.
    pub fn start_binary(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Rapid {
        // The ports were free when picked, but another test may take one
        // before the binary binds it: then it exits at once saying so, and
        // is started again on other ports.
        for _ in 0..5 {
            if let Some(rapid) = Self::try_start_binary(binary, args, env) {
                return rapid;
            }
        }
        panic!(
            "{} could not bind its ports in 5 attempts (taken by others each time)",
            binary.display()
        )
    }

    /// One attempt of [`Rapid::start_binary`]; `None` when a port was taken
    /// meanwhile.
    fn try_start_binary(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Option<Rapid> {
        let (invoke_port, api_port) = free_ports();
        let invoke_addr = format!("127.0.0.1:{invoke_port}");
        let api_addr = format!("127.0.0.1:{api_port}");
        let program = binary.to_str().expect("a UTF-8 path to the binary");
        let mut argv = vec![
            program,
            "--runtime-interface-emulator-address",
            &invoke_addr,
            "--runtime-api-address",
            &api_addr,
        ];
        argv.extend_from_slice(args);
        let mut rapid = Rapid::spawn(&argv, env);
        rapid.api_addr = api_addr.clone();
        rapid.invoke_addr = invoke_addr.clone();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            // A connection to a port nobody listens on may connect to itself
            // when the kernel picks that very port as its source: that is
            // not the binary answering.
            let answered = TcpStream::connect(&rapid.invoke_addr)
                .ok()
                .and_then(|s| s.local_addr().ok())
                .is_some_and(|local| local.port() != invoke_port);
            if answered {
                return Some(rapid);
            }
            if rapid.exit_status().is_some() {
                // Its last words first.
                super::poll_until("the binary's stderr to close", WAIT, || {
                    rapid.stderr.is_closed()
                });
                if rapid
                    .stderr()
                    .iter()
                    .any(|l| l.contains("Address already in use"))
                {
                    return None;
                }
            }
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
    }
}
