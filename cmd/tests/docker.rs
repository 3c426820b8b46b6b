//! rapid as a container's entrypoint in a real container engine (issue 26):
//! the repository's `Dockerfile` (FROM scratch: the static rapid, a static
//! std-only function and a static std-only extension, laid out by
//! `scripts/image`), run with Docker, invoked from the host over the
//! published loopback port, and stopped with `docker stop`: the extension
//! gets SHUTDOWN and rapid exits 0 within the grace period. And which
//! `docker run` flags give rapid's memory cap and cgroup freezer (README,
//! "Use it in your image").
//!
//! Skipped, saying why, where no Docker daemon answers or the static rapid
//! is not built (outside CI).

mod common;

use common::docker::{docker, stdout_of, wait_log_line};
use common::static_parts::{static_program, static_rapid_path};
use common::*;
use serde_json::Value;
use std::process::Command;

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
        if !self.image.is_empty() {
            let _ = docker(&["rmi", "-f", &self.image]);
        }
    }
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

/// Runs the image with `flags`, invokes it once within its memory size
/// (128 MB) and once past it (300 MiB), and gives back the two answers'
/// bodies and the container's log. The container is removed after.
fn run_with_memory_cap(image: &str, flags: &[&str]) -> (Value, Value, String) {
    let mut args = vec![
        "run",
        "-d",
        "-p",
        "127.0.0.1::8080",
        "-e",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
    ];
    args.extend_from_slice(flags);
    args.push(image);
    let run = docker(&args);
    assert!(run.status.success(), "docker run {flags:?}: {run:?}");
    let id = stdout_of(&run);
    let _container = Cleanup {
        image: String::new(),
        container: Some(id.clone()),
    };
    wait_log_line(&id, "listening line", WAIT, |line| {
        line.contains("invokes listening on 0.0.0.0:8080")
    });
    let address = stdout_of(&docker(&["port", &id, "8080/tcp"]));
    let address = address.lines().next().expect("a published port").to_owned();
    let invoke = |mb: u32| {
        let event = format!("{{\"alloc_mb\":{mb}}}");
        http::request(&address, "POST", INVOKE_PATH, &[], event.as_bytes()).json()
    };
    let within = invoke(50);
    let past = invoke(300);
    // The second invoke's REPORT is written just after its answer.
    wait_log_line(&id, "the second REPORT", WAIT, |line| {
        line.starts_with("REPORT") && !line.contains("Init Duration")
    });
    (within, past, logs_of(&id))
}

/// What `docker run`'s flags give rapid's memory cap and freezer on a
/// cgroup v1 host (Docker's cgroup namespace is the host's there): by
/// default neither, and rapid says so; with the host's memory hierarchy
/// bound read-write a runtime past the memory size is killed
/// (`Runtime.OutOfMemory`), and with its unified hierarchy too rapid
/// freezes with cgroup v2's freezer, saying nothing. README's "Use it in
/// your image" names these flags. Skipped on a host without cgroup v1's
/// memory hierarchy (a cgroup v2 host: not worked out there).
#[test]
fn the_memory_cap_and_the_freezer_follow_the_cgroup_mounts() {
    let name = "docker::the_memory_cap_and_the_freezer_follow_the_cgroup_mounts";
    if let Some(why) = docker_missing() {
        eprintln!("{name} skipped: {why}");
        return;
    }
    if let Err(why) = static_rapid_path() {
        eprintln!("{name} skipped: {why}");
        return;
    }
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists();
    let unified = std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists();
    if !(v1 && unified) {
        eprintln!("{name} skipped: this host is not a cgroup v1 host with a unified hierarchy (the flags are worked out for one)");
        return;
    }
    let bootstrap = static_program("runtimes/static_echo.rs");
    let image = format!("replica-test-cgroups-{}", std::process::id());
    let _cleanup = Cleanup {
        image: image.clone(),
        container: None,
    };
    let built = Command::new(repo_root().join("scripts/image"))
        .args(["--tag", &image, "--bootstrap"])
        .arg(&bootstrap)
        .output()
        .expect("scripts/image");
    assert!(
        built.status.success(),
        "scripts/image failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );

    // Docker's defaults: no cap, SIGSTOP / SIGCONT, both said at start.
    let (within, past, logs) = run_with_memory_cap(&image, &[]);
    assert_eq!(within["event"]["alloc_mb"], 50, "{within}");
    assert_eq!(past["event"]["alloc_mb"], 300, "not capped: {past}\n{logs}");
    assert!(
        logs.contains("the function's memory is not capped"),
        "{logs}"
    );
    assert!(
        logs.contains("frozen with SIGSTOP / SIGCONT to its process groups"),
        "{logs}"
    );

    // The host's memory and unified hierarchies bound read-write: capped,
    // frozen by the cgroup, nothing to say.
    let (within, past, logs) = run_with_memory_cap(
        &image,
        &[
            "-v",
            "/sys/fs/cgroup/memory:/sys/fs/cgroup/memory",
            "-v",
            "/sys/fs/cgroup/unified:/sys/fs/cgroup/unified",
        ],
    );
    assert_eq!(within["event"]["alloc_mb"], 50, "{within}");
    assert_eq!(past["errorType"], "Runtime.OutOfMemory", "{past}\n{logs}");
    assert!(
        logs.contains("Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory"),
        "{logs}"
    );
    assert!(!logs.contains("WARN the function's memory"), "{logs}");
    assert!(!logs.contains("SIGSTOP"), "{logs}");
}
