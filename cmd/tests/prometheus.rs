//! A real Prometheus (Debian's `prometheus`) scrapes rapid's
//! `--metrics-address` during a burst of invokes, and PromQL over its HTTP
//! API gives back the invocations, the errors, the cold start and the
//! memory peaks the test caused (issue 26). Skipped, saying why, where no
//! `prometheus` binary is installed (scripts/test installs it when it runs
//! as root).

mod common;

use common::http;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long Prometheus may take to start and to scrape what happened: its
/// scrape interval is 1 s, and a loaded machine slows its start.
const PROMETHEUS_WAIT: Duration = Duration::from_secs(60);

/// A Prometheus process, killed (by its pid) when dropped.
struct Prometheus {
    child: Child,
    address: String,
    _dir: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// Starts Prometheus scraping `target` every second; waits until it says
/// it is ready.
fn start_prometheus(binary: &str, target: &str) -> Prometheus {
    let dir = unique_path("prometheus");
    std::fs::create_dir_all(&dir).expect("a directory for Prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: rapid\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let address = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={address}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let prometheus = Prometheus {
        child,
        address,
        _dir: dir,
    };
    let deadline = Instant::now() + PROMETHEUS_WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("Server is ready to receive web requests") => break,
            Ok(line) => seen.push(line),
            Err(_) => panic!(
                "Prometheus did not say it is ready within {PROMETHEUS_WAIT:?}:\n{}",
                seen.join("\n")
            ),
        }
    }
    // Its log goes on; nobody reads it (the reader thread drops it).
    prometheus
}

/// `query` over Prometheus's HTTP API: the value of its one sample, if any.
fn query(prometheus: &Prometheus, query: &str) -> Option<f64> {
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let resp = http::request(
        &prometheus.address,
        "GET",
        &format!("/api/v1/query?query={encoded}"),
        &[],
        b"",
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let answer: Value = serde_json::from_slice(&resp.body).expect("Prometheus's JSON");
    assert_eq!(answer["status"], "success", "{answer}");
    let value = answer["data"]["result"].get(0)?["value"][1].as_str()?;
    value.parse().ok()
}

#[test]
fn prometheus_scrapes_the_invocations_of_a_burst() {
    let Some(binary) = ["prometheus", "/usr/bin/prometheus"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
    else {
        eprintln!("prometheus::prometheus_scrapes_the_invocations_of_a_burst skipped: no prometheus installed (Debian's package)");
        return;
    };
    let rapid = Rapid::scripted(&["--metrics-address", "127.0.0.1:0"], &[]);
    let metrics = rapid.listening_on("metrics");
    let prometheus = start_prometheus(binary, &metrics);

    // The burst: 20 invokes from 4 callers, 3 of them function errors.
    std::thread::scope(|s| {
        for caller in 0..4 {
            let rapid = &rapid;
            s.spawn(move || {
                for i in 0..5 {
                    let event = if caller == 0 && i < 3 {
                        json!({"action": "error"})
                    } else {
                        json!({"caller": caller, "i": i})
                    };
                    assert_eq!(rapid.invoke_json(&event).status, 200);
                }
            });
        }
    });
    // Prometheus scrapes every second: wait until it has seen all 20.
    let total = "sum(faas_invocations_total)";
    poll_until("Prometheus to scrape the burst", PROMETHEUS_WAIT, || {
        query(&prometheus, total) == Some(20.0)
    });
    assert_eq!(
        query(&prometheus, r#"faas_invocations_total{outcome="success"}"#),
        Some(17.0)
    );
    assert_eq!(
        query(
            &prometheus,
            r#"faas_invocations_total{outcome="function_error"}"#
        ),
        Some(3.0)
    );
    assert_eq!(query(&prometheus, "faas_coldstarts_total"), Some(1.0));
    // Each invoke's REPORT told its memory peak (written just after the
    // answer: the last ones may come with the next scrape).
    poll_until(
        "Prometheus to scrape 20 memory peaks",
        PROMETHEUS_WAIT,
        || query(&prometheus, "faas_mem_usage_bytes_count") == Some(20.0),
    );
    let peak = query(&prometheus, "rapid_memory_peak_bytes").unwrap_or_default();
    assert!(peak >= 1024.0 * 1024.0, "rapid_memory_peak_bytes {peak}");
    assert_eq!(
        query(&prometheus, r#"rapid_environments{state="idle"}"#),
        Some(1.0)
    );
    assert_eq!(
        query(&prometheus, r#"up{job="rapid"}"#),
        Some(1.0),
        "the target is up"
    );
}
