//! `rapid --probe [ready|health]`: a one-shot probe of a rapid running in
//! the same container, for Docker's `HEALTHCHECK` (a `FROM scratch` image
//! has no curl). It asks the front door on loopback (the port of
//! `RAPID_RUNTIME_INTERFACE_EMULATOR_ADDRESS`, else `PORT`, else 8080) for
//! `/_/ready` (the default) or `/_/health`, prints the answer's status
//! line, and exits 0 on a 200, 1 otherwise. Only when `--probe` is the
//! first argument, with at most the probe's name after it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// How long the probe waits for the connection and for the answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The probe the command line asks for, if it is `rapid --probe [kind]`.
pub fn command(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<Probe> {
    let _program = args.next();
    if args.next()? != "--probe" {
        return None;
    }
    let path = match args.next() {
        None => "/_/ready",
        Some(kind) if kind == "ready" => "/_/ready",
        Some(kind) if kind == "health" => "/_/health",
        Some(_) => return None,
    };
    args.next().is_none().then_some(Probe { path })
}

/// One probe to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    path: &'static str,
}

impl Probe {
    /// Asks the front door found in the environment.
    pub fn run(self) -> ExitCode {
        let address = std::env::var("RAPID_RUNTIME_INTERFACE_EMULATOR_ADDRESS").ok();
        let port = std::env::var("PORT").ok();
        let Some(target) = loopback_target(address.as_deref(), port.as_deref()) else {
            eprintln!("rapid --probe: no front door port in RAPID_RUNTIME_INTERFACE_EMULATOR_ADDRESS or PORT");
            return ExitCode::from(1);
        };
        match self.ask(target) {
            Ok(status_line) => {
                println!("{status_line}");
                if status_line.split(' ').nth(1) == Some("200") {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(err) => {
                eprintln!("rapid --probe: {target}{}: {err}", self.path);
                ExitCode::from(1)
            }
        }
    }

    fn ask(self, target: SocketAddr) -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&target, PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
        write!(
            stream,
            "GET {} HTTP/1.1\r\nHost: rapid\r\nConnection: close\r\n\r\n",
            self.path
        )?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n") && head.len() < 256 {
            if stream.read(&mut byte)? == 0 {
                break;
            }
            head.push(byte[0]);
        }
        Ok(String::from_utf8_lossy(&head).trim_end().to_owned())
    }
}

/// The loopback address of the front door: the port of the address rapid
/// was told, else `PORT`, else 8080.
fn loopback_target(address: Option<&str>, port: Option<&str>) -> Option<SocketAddr> {
    let port = match (address, port) {
        (Some(address), _) => address.rsplit(':').next()?.parse().ok()?,
        (None, Some(port)) => port.trim().parse().ok()?,
        (None, None) => 8080,
    };
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Option<Probe> {
        command(args.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn only_the_probe_form_is_a_probe() {
        assert_eq!(
            parse(&["rapid", "--probe"]),
            Some(Probe { path: "/_/ready" })
        );
        assert_eq!(
            parse(&["rapid", "--probe", "health"]),
            Some(Probe { path: "/_/health" })
        );
        assert_eq!(parse(&["rapid", "--probe", "other"]), None);
        assert_eq!(parse(&["rapid", "--probe", "ready", "x"]), None);
        assert_eq!(parse(&["rapid", "./bootstrap"]), None);
        assert_eq!(parse(&["rapid"]), None);
    }

    #[test]
    fn the_target_follows_the_front_door() {
        let at = |a, p| loopback_target(a, p).map(|t| t.to_string());
        assert_eq!(at(None, None).as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(at(None, Some("9000")).as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(
            at(Some("0.0.0.0:7000"), Some("9000")).as_deref(),
            Some("127.0.0.1:7000")
        );
        assert_eq!(at(None, Some("x")), None);
    }
}
