//! The lifecycle timeline: `--timeline FILE` (Chrome / Perfetto trace
//! events, valid JSON whenever it is read) and the page `rapid timeline
//! FILE -o page.html` draws from it, opened in a real browser.

mod common;

use common::emulator::binary_under_test;
use common::*;
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The timeline at `path`, which must be valid JSON at any moment.
fn read_timeline(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "the timeline is not valid JSON ({e}):\n{}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert_eq!(doc["otherData"]["producer"], "rapid", "{doc}");
    doc
}

fn spans<'a>(doc: &'a Value, name: &str) -> Vec<&'a Value> {
    doc["traceEvents"]
        .as_array()
        .expect("traceEvents")
        .iter()
        .filter(|e| e["name"] == name)
        .collect()
}

fn has_invoke(path: &Path, request_id: &str) -> bool {
    spans(&read_timeline(path), "invoke")
        .iter()
        .any(|e| e["args"]["requestId"] == request_id)
}

/// A run with a cold start, warm invokes, an error, a timeout (and the
/// reset after it) and a second cold start; then SIGTERM. Returns the
/// timeline's path and the request ids with their expected statuses.
fn record_a_run() -> (PathBuf, Vec<(String, &'static str)>) {
    let path = unique_path("timeline.json");
    let rapid = Rapid::scripted(
        &["--timeline", path.to_str().unwrap()],
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")],
    );
    let mut invokes = Vec::new();
    for (event, status) in [
        (json!({"action": "echo"}), "success"),
        (json!({"action": "echo"}), "success"),
        (
            json!({"action": "error", "errorType": "Function.Boom"}),
            "error",
        ),
        (json!({"action": "hang"}), "timeout"),
        (json!({"action": "echo"}), "success"),
    ] {
        let resp = rapid.invoke_json(&event);
        let id = request_id(&resp);
        rapid.wait_for_report(&id);
        // Written by the hub once REPORT is: valid while rapid runs.
        poll_until(&format!("invoke {id} in the timeline"), WAIT, || {
            has_invoke(&path, &id)
        });
        invokes.push((id, status));
    }
    rapid.signal(Signal::SIGTERM);
    rapid.wait_exit(WAIT);
    (path, invokes)
}

#[test]
fn the_timeline_shows_inits_invokes_freezes_and_the_reset() {
    let (path, invokes) = record_a_run();
    let doc = read_timeline(&path);
    let drawn = spans(&doc, "invoke");
    assert_eq!(drawn.len(), invokes.len(), "{doc}");
    for ((id, status), span) in invokes.iter().zip(&drawn) {
        assert_eq!(span["args"]["requestId"], *id, "{span}");
        assert_eq!(span["args"]["status"], *status, "{span}");
        assert_eq!(span["ph"], "X");
        assert_eq!(span["tid"], 1, "on the environment's track: {span}");
    }
    assert_eq!(drawn[2]["args"]["errorType"], "Function.Boom");
    // Cold starts: the first invoke, and the first after the reset.
    let cold: Vec<bool> = drawn
        .iter()
        .map(|s| s["args"]["coldStart"] == true)
        .collect();
    assert_eq!(cold, [true, false, false, false, true]);
    assert_eq!(spans(&doc, "init").len(), 2, "{doc}");
    assert_eq!(spans(&doc, "runtime init").len(), 2, "{doc}");
    // The runtime's part of each invoke, with the answered ones' spans.
    assert_eq!(spans(&doc, "runtime").len(), invokes.len(), "{doc}");
    assert!(spans(&doc, "responseLatency").len() >= 3, "{doc}");
    let resets = spans(&doc, "reset");
    assert_eq!(resets.len(), 1, "{doc}");
    assert_eq!(resets[0]["args"]["reason"], "timeout");
    let shutdowns = spans(&doc, "shutdown");
    assert_eq!(shutdowns.len(), 1, "{doc}");
    assert_eq!(shutdowns[0]["args"]["reason"], "spindown");
    // Frozen between invokes (rapid freezes by default).
    assert!(!spans(&doc, "frozen").is_empty(), "{doc}");
    let _ = std::fs::remove_file(path);
}

/// Each extension on a track of its own: its registration drawn where it
/// happened (during init, before the runtime started), and its own
/// post-invoke work, from the runtime's answer to its next `next`.
#[test]
fn each_extension_has_its_track_with_its_registration_and_post_invoke_work() {
    let dir = extensions::ExtDir::new();
    dir.add_recorder("busy").add_scripted("quick");
    let records = extensions::Records::new();
    let delay = unique_path("invoke-delay");
    let path = unique_path("timeline.json");
    let rapid = Rapid::scripted(
        &[
            "--timeline",
            path.to_str().unwrap(),
            "--extensions-dir",
            dir.as_str(),
        ],
        &[
            ("EXT_RECORD_FILE", records.as_str()),
            ("EXT_CONFIG", "{}"),
            ("EXT_INVOKE_DELAY_FILE", delay.to_str().unwrap()),
        ],
    );
    // Answered while `busy` still holds the invoke; then it lets go.
    let id = request_id(&rapid.invoke_json(&json!({"action": "echo"})));
    std::fs::write(&delay, "").unwrap();
    rapid.wait_for_report(&id);
    poll_until(&format!("invoke {id} in the timeline"), WAIT, || {
        has_invoke(&path, &id)
    });
    let doc = read_timeline(&path);
    let track = |ext: &str| {
        spans(&doc, "thread_name")
            .into_iter()
            .find(|e| e["args"]["name"] == format!("extension {ext}"))
            .unwrap_or_else(|| panic!("no track for {ext}: {doc}"))["tid"]
            .clone()
    };
    let (busy, quick) = (track("busy"), track("quick"));
    assert_ne!(busy, quick);
    let init = spans(&doc, "init")[0];
    let init_end = init["ts"].as_u64().unwrap() + init["dur"].as_u64().unwrap();
    let runtime_init = spans(&doc, "runtime init")[0];
    for (ext, tid) in [("busy", &busy), ("quick", &quick)] {
        let registered = spans(&doc, &format!("{ext} registered"));
        assert_eq!(registered.len(), 1, "{doc}");
        assert_eq!(registered[0]["tid"], *tid, "{doc}");
        // Before the runtime's init ended, not at the end of init.
        let at = registered[0]["ts"].as_u64().unwrap();
        let runtime_done =
            runtime_init["ts"].as_u64().unwrap() + runtime_init["dur"].as_u64().unwrap();
        assert!(at < runtime_done && at < init_end, "{ext} at {at}: {doc}");
    }
    let own: Vec<&Value> = spans(&doc, "post-invoke")
        .into_iter()
        .filter(|e| e["tid"] == busy)
        .collect();
    assert_eq!(own.len(), 1, "{doc}");
    assert_eq!(own[0]["args"]["requestId"], id.as_str());
    assert_eq!(own[0]["args"]["name"], "busy");
    assert!(own[0]["dur"].as_u64() > Some(0), "{doc}");
    // The extensions together, to the last one's `next`.
    let all: Vec<&Value> = spans(&doc, "post-invoke")
        .into_iter()
        .filter(|e| e["tid"] == 3)
        .collect();
    assert_eq!(all.len(), 1, "{doc}");
    assert!(all[0]["dur"].as_u64() >= own[0]["dur"].as_u64(), "{doc}");
    let _ = std::fs::remove_file(delay);
    let _ = std::fs::remove_file(path);
}

/// Where Debian's chromium is, if it is installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(|name| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
}

/// The DOM headless Chromium ends with for `url`. Chromium runs in a
/// process group of its own, killed as a whole when it is done or late.
fn dump_dom(chromium: &Path, url: &str) -> String {
    use std::os::unix::process::CommandExt;
    let profile = unique_path("chromium-profile");
    let child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let deadline = Duration::from_secs(90);
    let output = rx.recv_timeout(deadline);
    // Whatever it left running goes with it.
    let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
    let _ = std::fs::remove_dir_all(&profile);
    let output = output
        .unwrap_or_else(|_| panic!("chromium did not finish within {deadline:?} (killed)"))
        .expect("chromium's output");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_page_draws_one_bar_per_invoke_in_a_browser() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "skipped: no chromium in PATH (Debian's chromium package runs this test's browser)"
        );
        return;
    };
    let (path, invokes) = record_a_run();
    let page = unique_path("timeline-page").with_extension("html");
    let started = Instant::now();
    let out = output_within(
        Command::new(binary_under_test())
            .arg("timeline")
            .arg(&path)
            .arg("-o")
            .arg(&page),
        WAIT,
        "rapid timeline",
    );
    assert!(
        out.status.success(),
        "rapid timeline failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("page written in {:?}", started.elapsed());
    let dom = dump_dom(&chromium, &format!("file://{}", page.display()));
    // One bar per invoke, each with its request id and status.
    let bars = dom.matches(r#"class="bar invoke"#).count();
    assert_eq!(bars, invokes.len(), "{dom}");
    for (id, status) in &invokes {
        let bar = dom
            .split("<div ")
            .find(|tag| tag.contains(r#"data-name="invoke""#) && tag.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no bar for invoke {id}: {dom}"));
        assert!(
            bar.contains(&format!(r#"data-status="{status}""#)),
            "{id}: {bar}"
        );
    }
    assert!(
        dom.contains("5 invokes (1 error, 1 timeout), 2 init, 1 reset"),
        "the summary: {dom}"
    );
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(page);
}

/// A bootstrap named `timeline` still runs: after `--`, and whenever the
/// next argument is not a timeline.
#[test]
fn a_bootstrap_named_timeline_still_runs() {
    let dir = unique_path("bootstrap-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("timeline");
    let runtime = scripted_command();
    let line = runtime
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(&script, format!("#!/bin/sh\nexec {line}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    let path = format!("{}:{path}", dir.display());
    for args in [&["--", "timeline"][..], &["timeline", "handler.main"][..]] {
        let rapid = Rapid::start(args, &[("PATH", &path)]);
        let resp = rapid.invoke_json(&json!({"action": "echo"}));
        assert_success(&resp);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn with_many_functions_each_function_s_environments_are_processes_named_after_it() {
    let dir = unique_path("timeline-functions");
    for name in ["first", "second"] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::os::unix::fs::symlink(
            fixtures::rust_fn("echo-fn"),
            dir.join(name).join("bootstrap"),
        )
        .unwrap();
    }
    let path = unique_path("timeline.json");
    let rapid = Rapid::start_binary(
        &binary_under_test(),
        &[
            "--functions",
            dir.to_str().unwrap(),
            "--timeline",
            path.to_str().unwrap(),
        ],
        &[],
    );
    let mut ids = Vec::new();
    for name in ["first", "second"] {
        let resp = rapid.request(
            "POST",
            &format!("/2015-03-31/functions/{name}/invocations"),
            &[],
            b"{\"n\": 1}",
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
        let id = resp.header("x-amzn-requestid").expect("a request id");
        ids.push((name, id.to_owned()));
    }
    poll_until("both invokes on the timeline", WAIT, || {
        ids.iter().all(|(_, id)| has_invoke(&path, id))
    });
    let doc = read_timeline(&path);
    let pid_of = |process: &str| {
        let named = spans(&doc, "process_name");
        let found: Vec<_> = named
            .iter()
            .filter(|e| e["args"]["name"] == process)
            .collect();
        assert_eq!(found.len(), 1, "{process}: {named:?}");
        found[0]["pid"].clone()
    };
    let pids: Vec<Value> = ids
        .iter()
        .map(|(name, _)| pid_of(&format!("{name} · environment 0")))
        .collect();
    assert_ne!(pids[0], pids[1], "one process per function's environment");
    for ((name, id), pid) in ids.iter().zip(&pids) {
        let invoke = spans(&doc, "invoke")
            .into_iter()
            .find(|e| e["args"]["requestId"] == id.as_str())
            .expect("the invoke");
        assert_eq!(&invoke["pid"], pid, "{name}'s invoke is on its process");
    }
    let _ = std::fs::remove_dir_all(dir);
}
