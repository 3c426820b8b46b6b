//! rapid as an orchestrator's replica (issue 26, spec §15): Knative's and
//! Cloud Run's container contract (PORT, K_SERVICE / K_REVISION, the rest
//! of the port as web traffic, h2c, a W3C traceparent as the X-Ray trace
//! header) and the probes, with one rapid and the scripted runtime, called
//! by the test's HTTP client and by curl (HTTP/2 with prior knowledge).

mod common;

use common::http::{self, Resp};
use common::invokers::run_curl;
use common::*;
use serde_json::{json, Value};

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

fn json_of(resp: &Resp) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        )
    })
}

fn ready(door: &str) -> Resp {
    http::request(door, "GET", "/_/ready", &[], b"")
}

/// `rapid --probe ARGS` with `PORT=port`: its exit code and the start of
/// the status line it printed.
fn probe_command(port: &str, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rapid"))
        .arg("--probe")
        .args(args)
        .env_clear()
        .env("PORT", port)
        .output()
        .expect("rapid --probe");
    let line = String::from_utf8_lossy(&out.stdout);
    (
        out.status.code().unwrap_or(-1),
        line.chars().take(12).collect(),
    )
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn a_replica_on_port_follows_the_container_contract() {
    let port = free_port();
    let door = format!("127.0.0.1:{port}");
    let marker = unique_path("replica-init-marker");
    let mut args = vec![
        "--runtime-api-address",
        "127.0.0.1:0",
        "--eager-init",
        "--init-timeout",
        "2",
    ];
    let runtime = scripted_command();
    args.extend(runtime.iter().map(String::as_str));
    let port_text = port.to_string();
    let marker_text = marker.display().to_string();
    // The first init hangs until its timeout; the retry succeeds.
    let rapid = Rapid::start_program(
        &[],
        env!("CARGO_BIN_EXE_rapid"),
        &args,
        &[
            ("PORT", &port_text),
            ("K_SERVICE", "orders"),
            ("K_REVISION", "orders-00042"),
            ("SCRIPTED_INIT", "hang"),
            ("SCRIPTED_INIT_MARKER", &marker_text),
        ],
    );
    rapid.wait_for_stderr(
        |l| l.contains(&format!("invokes listening on 0.0.0.0:{port}")),
        WAIT,
    );

    // Readiness: 503 while the first init runs, 503 once it failed, 200
    // once the background retry succeeded. Liveness: 200 all along.
    rapid.wait_for_stdout(|l| l.contains("hanging during init"), WAIT);
    let resp = ready(&door);
    assert_eq!(
        (resp.status, json_of(&resp)),
        (503, json!({"status": "initializing"}))
    );
    let health = http::request(&door, "GET", "/_/health", &[], b"");
    assert_eq!(health.status, 200);
    // The HEALTHCHECK's one-shot probe says the same through its exit code.
    assert_eq!(probe_command(&port_text, &[]), (1, "HTTP/1.1 503".into()));
    assert_eq!(
        probe_command(&port_text, &["health"]),
        (0, "HTTP/1.1 200".into())
    );
    rapid.wait_for_stderr(|l| l.contains("the init failed: not ready"), WAIT);
    let resp = ready(&door);
    assert_eq!(
        (resp.status, json_of(&resp)),
        (503, json!({"status": "init failed"}))
    );
    poll_until("readiness after the retried init", WAIT, || {
        ready(&door).status == 200
    });
    assert_eq!(
        probe_command(&port_text, &["ready"]),
        (0, "HTTP/1.1 200".into())
    );
    // Kubelet's and Knative's probes are readiness, on any path, and never
    // reach the function (it would answer with the event).
    for header in [
        ("User-Agent", "kube-probe/1.31"),
        ("K-Kubelet-Probe", "queue"),
    ] {
        let resp = http::request(&door, "GET", "/orders", &[header], b"");
        assert_eq!(
            (resp.status, json_of(&resp)),
            (200, json!({"status": "ready"})),
            "{header:?}"
        );
    }
    let resp = http::request(&door, "GET", "/_/anything", &[], b"");
    assert_eq!(resp.status, 404);

    // The Invoke API on $PORT; K_SERVICE and K_REVISION name the function;
    // a traceparent becomes the runtime's trace id.
    let resp = http::request(
        &door,
        "POST",
        INVOKE_PATH,
        &[("traceparent", TRACEPARENT)],
        br#"{"action":"headers"}"#,
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let seen = json_of(&resp);
    assert_eq!(seen["env"]["AWS_LAMBDA_FUNCTION_NAME"], "orders");
    assert_eq!(seen["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "orders-00042");
    assert_eq!(
        seen["headers"]["lambda-runtime-trace-id"],
        "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"
    );
    // A given X-Amzn-Trace-Id wins over a traceparent.
    let resp = http::request(
        &door,
        "POST",
        INVOKE_PATH,
        &[
            ("traceparent", TRACEPARENT),
            (
                "X-Amzn-Trace-Id",
                "Root=1-00000001-000000000000000000000001",
            ),
        ],
        br#"{"action":"headers"}"#,
    );
    assert_eq!(
        json_of(&resp)["headers"]["lambda-runtime-trace-id"],
        "Root=1-00000001-000000000000000000000001"
    );

    // Any other path is a web request: the function gets its HTTP event
    // (the scripted runtime answers with the event, which becomes a 200).
    let resp = http::request(&door, "GET", "/orders/42?x=1", &[], b"");
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let event = json_of(&resp);
    assert_eq!(event["rawPath"], "/orders/42");
    assert_eq!(event["rawQueryString"], "x=1");
    assert_eq!(event["requestContext"]["http"]["method"], "GET");
    // The Invoke API's paths stay the Invoke API's, whatever the method.
    let resp = http::request(&door, "GET", INVOKE_PATH, &[], b"");
    assert_eq!(resp.status, 404);
    assert_eq!(
        json_of(&resp)["message"],
        format!("Unknown operation GET {INVOKE_PATH}")
    );

    // HTTP/2 with prior knowledge, as a proxy may speak it: an invoke, a
    // web request and a probe, each answered over HTTP/2.
    let url = format!("http://{door}");
    let cases = [
        (
            vec!["-d", r#"{"hello":"h2"}"#, "-X", "POST"],
            format!("{url}{INVOKE_PATH}"),
            "hello",
        ),
        (vec![], format!("{url}/h2/path"), "/h2/path"),
        (vec![], format!("{url}/_/ready"), "ready"),
    ];
    for (extra, target, expected) in cases {
        let mut curl_args = vec![
            "--http2-prior-knowledge",
            "-w",
            "\n%{http_version} %{http_code}",
        ];
        curl_args.extend(extra);
        curl_args.push(&target);
        let Some(run) = run_curl(&curl_args) else {
            eprintln!("skipping the HTTP/2 checks: no curl installed");
            break;
        };
        let out = String::from_utf8_lossy(&run.stdout).into_owned();
        assert_eq!(run.code, Some(0), "{target}: {}", run.stderr);
        assert!(out.ends_with("\n2 200"), "{target}: {out}");
        assert!(out.contains(expected), "{target}: {out}");
    }
    let _ = std::fs::remove_file(&marker);
}

/// SIGTERM with a drain: readiness fails at once, an invoke during the
/// delay is served, then new ones are refused with 503 while the one in
/// flight finishes; rapid exits 0 once nothing is left.
#[test]
fn sigterm_drains_before_the_shutdown() {
    let gate = gate();
    let rapid = Rapid::scripted(
        &[
            "--max-sandboxes",
            "2",
            "--drain-delay",
            "3",
            "--drain-timeout",
            "30",
        ],
        &[],
    );
    let door = rapid.invoke_addr().to_owned();
    let waiting = json!({"action": "wait_fifo", "fifo": gate}).to_string();
    std::thread::scope(|s| {
        let held = s.spawn(|| rapid.invoke(waiting.as_bytes(), &[]));
        rapid.wait_for_stdout(|l| l.contains("waiting on"), WAIT);
        rapid.signal(Signal::SIGTERM);
        rapid.wait_for_stderr(|l| l.contains("draining: readiness fails"), WAIT);
        let resp = ready(&door);
        assert_eq!(
            (resp.status, json_of(&resp)),
            (503, json!({"status": "draining"}))
        );
        // Within the delay (3 s from the line above): still served, by the
        // second environment.
        let resp = rapid.invoke(br#"{"during":"delay"}"#, &[]);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        assert_eq!(json_of(&resp)["during"], "delay");
        rapid.wait_for_stderr(|l| l.contains("new invokes refused with 503"), WAIT);
        let resp = rapid.invoke(br#"{"too":"late"}"#, &[]);
        assert_eq!(resp.status, 503);
        assert_eq!(resp.header("x-amzn-errortype"), Some("ServiceException"));
        assert_eq!(json_of(&resp)["Type"], "Service");
        // The invoke accepted before is answered, not dropped.
        open_gate(&gate);
        let resp = held.join().expect("the held invoke's thread");
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        assert!(json_of(&resp)["pid"].is_number());
    });
    assert!(rapid.wait_exit(WAIT).success());
    rapid.wait_for_stderr(|l| l.contains("drained: nothing in flight"), WAIT);
    let _ = std::fs::remove_file(&gate);
}

/// Invocations by outcome, cold starts, durations, memory peaks and the
/// environment by state, as Prometheus's parser reads them after one
/// invoke of each kind.
#[test]
fn metrics_count_invocations_by_outcome() {
    let gate = gate();
    let rapid = Rapid::scripted(
        &["--metrics-address", "127.0.0.1:0", "--max-queued", "0"],
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")],
    );
    let metrics = rapid.listening_on("metrics");
    let status = |event: Value| rapid.invoke_json(&event).status;
    assert_eq!(status(json!({})), 200);
    assert_eq!(status(json!({})), 200);
    assert_eq!(status(json!({"action": "error"})), 200);
    std::thread::scope(|s| {
        let held = s.spawn(|| status(json!({"action": "wait_fifo", "fifo": gate})));
        rapid.wait_for_stdout(|l| l.contains("waiting on"), WAIT);
        let seen = http::scrape_metrics(&metrics);
        assert_eq!(seen["rapid_invocations_in_flight{}"], 1.0, "{seen}");
        assert_eq!(seen["rapid_environments{state=busy}"], 1.0, "{seen}");
        assert_eq!(seen["rapid_environments{state=idle}"], 0.0, "{seen}");
        assert_eq!(status(json!({})), 429);
        open_gate(&gate);
        assert_eq!(held.join().expect("the held invoke"), 200);
    });
    assert_eq!(status(json!({"action": "crash"})), 200);
    assert_eq!(status(json!({"action": "hang"})), 200);
    let invocations = |seen: &Value, outcome: &str| {
        seen[format!("faas_invocations_total{{outcome={outcome}}}")].as_f64()
    };
    // The durations come with each invoke's completion, just after its
    // answer: the last one's may still be on its way.
    let mut seen = Value::Null;
    // Six invokes ran (the throttled one did not): six REPORTs, each with
    // its Max Memory Used.
    poll_until("the last invoke's completion in the metrics", WAIT, || {
        seen = http::scrape_metrics(&metrics);
        seen["faas_coldstarts_total{}"] == 2.0 && seen["faas_mem_usage_bytes_count{}"] == 6.0
    });
    let peak = seen["rapid_memory_peak_bytes{}"]
        .as_f64()
        .unwrap_or_default();
    assert!(
        peak >= 1024.0 * 1024.0
            && peak <= seen["faas_mem_usage_bytes_sum{}"].as_f64().unwrap_or(0.0),
        "{seen}"
    );
    assert_eq!(seen["rapid_environments{state=idle}"], 1.0, "{seen}");
    assert_eq!(seen["rapid_environments{state=busy}"], 0.0, "{seen}");
    assert_eq!(invocations(&seen, "success"), Some(3.0), "{seen}");
    assert_eq!(invocations(&seen, "function_error"), Some(1.0), "{seen}");
    assert_eq!(invocations(&seen, "throttled"), Some(1.0), "{seen}");
    assert_eq!(invocations(&seen, "crash"), Some(1.0), "{seen}");
    assert_eq!(invocations(&seen, "timeout"), Some(1.0), "{seen}");
    assert_eq!(seen["faas_init_duration_seconds_count{}"], 2.0, "{seen}");
    assert_eq!(seen["rapid_invocations_in_flight{}"], 0.0, "{seen}");
    assert_eq!(seen["rapid_ready{}"], 1.0, "{seen}");
    let resp = http::request(&metrics, "GET", "/other", &[], b"");
    assert_eq!(resp.status, 404);
    let _ = std::fs::remove_file(&gate);
}

/// With a pool, `rapid_environments` counts its sandboxes by state: busy
/// while each holds an invoke, idle after.
#[test]
fn metrics_count_a_pool_s_environments_by_state() {
    let gates = [gate(), gate()];
    let rapid = Rapid::scripted(
        &["--metrics-address", "127.0.0.1:0", "--max-sandboxes", "2"],
        &[],
    );
    let metrics = rapid.listening_on("metrics");
    let environments =
        |seen: &Value, state: &str| seen[format!("rapid_environments{{state={state}}}")].as_f64();
    std::thread::scope(|s| {
        let held: Vec<_> = gates
            .iter()
            .map(|gate| {
                let event = json!({"action": "wait_fifo", "fifo": gate});
                let rapid = &rapid;
                let held = s.spawn(move || rapid.invoke_json(&event).status);
                let waiting = format!("waiting on {}", gate.display());
                rapid.wait_for_stdout(|l| l.contains(&waiting), WAIT);
                held
            })
            .collect();
        let seen = http::scrape_metrics(&metrics);
        assert_eq!(environments(&seen, "busy"), Some(2.0), "{seen}");
        assert_eq!(environments(&seen, "idle"), Some(0.0), "{seen}");
        for (gate, held) in gates.iter().zip(held) {
            open_gate(gate);
            assert_eq!(held.join().expect("a held invoke"), 200);
        }
    });
    // A lease is given back just after the answer.
    let mut seen = Value::Null;
    poll_until("both environments idle in the metrics", WAIT, || {
        seen = http::scrape_metrics(&metrics);
        environments(&seen, "idle") == Some(2.0)
    });
    assert_eq!(environments(&seen, "busy"), Some(0.0), "{seen}");
    assert_eq!(environments(&seen, "starting"), Some(0.0), "{seen}");
    for gate in &gates {
        let _ = std::fs::remove_file(gate);
    }
}
