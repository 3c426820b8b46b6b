//! rapid as a container's entrypoint in a real container engine (issue 26):
//! the repository's `Dockerfile` (FROM scratch: the static rapid, a static
//! std-only function and a static std-only extension, laid out by
//! `scripts/image`), run with Docker, invoked from the host over the
//! published loopback port, and stopped with `docker stop`: the extension
//! gets SHUTDOWN and rapid exits 0 within the grace period.
//!
//! Skipped, saying why, where no Docker daemon answers or the static rapid
//! is not built (outside CI).

mod common;

use common::static_parts::{static_program, static_rapid_path};
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Instant;

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Why Docker cannot be used here, if it cannot.
fn docker_missing() -> Option<String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "no Docker daemon answers: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("no docker command: {e}")),
    }
}

/// Removes the container and the image made by a test, however it ends.
struct Cleanup {
    image: String,
    container: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(id) = &self.container {
            let _ = docker(&["rm", "-f", id]);
        }
        let _ = docker(&["rmi", "-f", &self.image]);
    }
}

/// Follows the container's logs (rapid's stdout and stderr) until a line
/// satisfies `done`; panics after `within`.
fn wait_log_line(id: &str, what: &str, within: std::time::Duration, done: impl Fn(&str) -> bool) {
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

/// The logs of a container that has exited (all of them, at once).
fn logs_of(id: &str) -> String {
    let out = docker(&["logs", id]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_scratch_image_serves_invokes_and_stops_cleanly() {
    if let Some(why) = docker_missing() {
        eprintln!("docker::the_scratch_image_serves_invokes_and_stops_cleanly skipped: {why}");
        return;
    }
    if let Err(why) = static_rapid_path() {
        eprintln!("docker::the_scratch_image_serves_invokes_and_stops_cleanly skipped: {why}");
        return;
    }
    let bootstrap = static_program("runtimes/static_echo.rs");
    let extension = static_program("extensions/static_shutdown.rs");
    let image = format!("rapid-test-echo-{}", std::process::id());
    let mut cleanup = Cleanup {
        image: image.clone(),
        container: None,
    };
    let built = Command::new(repo_root().join("scripts/image"))
        .args(["--tag", &image, "--bootstrap"])
        .arg(&bootstrap)
        .arg("--extension")
        .arg(&extension)
        .output()
        .expect("scripts/image");
    assert!(
        built.status.success(),
        "scripts/image failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );

    // The image's HEALTHCHECK (rapid --probe ready), every second here.
    let run = docker(&[
        "run",
        "-d",
        "--health-interval",
        "1s",
        "-p",
        "127.0.0.1::8080",
        &image,
    ]);
    assert!(run.status.success(), "docker run: {run:?}");
    let id = stdout_of(&run);
    cleanup.container = Some(id.clone());
    wait_log_line(&id, "listening line", WAIT, |line| {
        line.contains("invokes listening on 0.0.0.0:8080")
    });
    let address = stdout_of(&docker(&["port", &id, "8080/tcp"]));
    let address = address.lines().next().expect("a published port").to_owned();

    let resp = http::request(
        &address,
        "POST",
        "/2015-03-31/functions/function/invocations",
        &[],
        br#"{"from":"the host"}"#,
    );
    let body = assert_success(&resp);
    assert_eq!(body["event"]["from"], "the host", "{body}");
    assert_eq!(body["env"]["LAMBDA_TASK_ROOT"], "/var/task", "{body}");
    let request_id = request_id(&resp);
    // After that invoke the environment is initialized: Docker sees the
    // container healthy through rapid's own probe.
    poll_until("Docker to report the container healthy", WAIT, || {
        stdout_of(&docker(&[
            "inspect",
            "--format",
            "{{.State.Health.Status}}",
            &id,
        ])) == "healthy"
    });
    let invoked = format!("static extension: INVOKE {request_id}");
    wait_log_line(&id, "INVOKE at the extension", WAIT, |line| line == invoked);

    let stop = docker(&["stop", "--time", "10", &id]);
    assert!(stop.status.success(), "docker stop: {stop:?}");
    let code = stdout_of(&docker(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &id,
    ]));
    let logs = logs_of(&id);
    assert_eq!(code, "0", "rapid's exit code after docker stop:\n{logs}");
    assert!(
        logs.contains("static extension: SHUTDOWN spindown"),
        "the extension got no SHUTDOWN:\n{logs}"
    );
}
