//! Driving the Docker CLI from tests (cmd/tests/docker.rs, swarm.rs).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `docker ARGS...`, waited for.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
}

/// What a command printed on stdout, trimmed.
pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Follows a container's logs (its stdout and stderr) until a line
/// satisfies `done`; panics after `within`.
pub fn wait_log_line(id: &str, what: &str, within: Duration, done: impl Fn(&str) -> bool) {
    let mut follow = Command::new("docker")
        .args(["logs", "--follow", id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker logs --follow");
    let (tx, rx) = mpsc::channel();
    let readers: Vec<Box<dyn Read + Send>> = vec![
        Box::new(follow.stdout.take().expect("piped stdout")),
        Box::new(follow.stderr.take().expect("piped stderr")),
    ];
    for reader in readers {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if done(&line) => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(found, "no {what} within {within:?}:\n{}", seen.join("\n"));
}
