//! OTLP export of the lifecycle (`--otlp-endpoint`, the OTLP variables):
//! spans decoded by a receiver built on the OpenTelemetry project's own
//! protobuf definitions (testdata/otlp/receiver.py, PyPI's
//! `opentelemetry-proto`), checked for their names, trace, parentage and
//! attributes; and a collector that never answers, which costs invokes
//! nothing.

mod common;

use common::*;
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The OTLP receiver: its port, and every span it decoded (a JSON line
/// each). Killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
    spans: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let mut child = Command::new(venv_python())
            .arg(testdata("otlp/receiver.py"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the OTLP receiver");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        // Its first line, once it listens; a receiver that dies ends it.
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let port = first
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the OTLP receiver did not start: {first:?}"));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let keep = spans.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let span: Value = serde_json::from_str(&line).expect("a JSON line");
                keep.lock().unwrap().push(span);
            }
        });
        Receiver { child, port, spans }
    }

    fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spans(&self) -> Vec<Value> {
        self.spans.lock().unwrap().clone()
    }

    /// The invoke span of `request_id`, once received.
    fn invoke(&self, request_id: &str) -> Value {
        let find = || {
            self.spans()
                .into_iter()
                .find(|s| s["attributes"]["faas.invocation_id"] == request_id)
        };
        poll_until(&format!("the span of invoke {request_id}"), WAIT, || {
            find().is_some()
        });
        find().unwrap_or_default()
    }

    fn children_of(&self, span: &Value) -> Vec<Value> {
        self.spans()
            .into_iter()
            .filter(|s| s["parentSpanId"] == span["spanId"] && s["traceId"] == span["traceId"])
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Span.kind` SERVER, `Status.code` OK and ERROR, the sampled flag.
const SERVER: i64 = 2;
const OK: i64 = 1;
const ERROR: i64 = 2;
const SAMPLED: i64 = 1;

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

/// A cold start under the caller's trace, a warm invoke under the trace
/// rapid made for it, an error and a timeout: AWS's mapping of the
/// Telemetry API's events to spans, with FaaS attributes.
#[test]
fn spans_of_a_cold_start_a_warm_invoke_an_error_and_a_timeout() {
    let receiver = Receiver::start();
    let rapid = Rapid::scripted(
        &["--test-api", "--otlp-endpoint", &receiver.base_url()],
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")],
    );
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let body = json!({"action": "echo"}).to_string();
    let cold = request_id(&rapid.invoke(body.as_bytes(), &[("X-Amzn-Trace-Id", &header)]));
    let resp = rapid.invoke_json(&json!({"action": "headers"}));
    let warm = request_id(&resp);
    let given = assert_success(&resp)["headers"]["lambda-runtime-trace-id"]
        .as_str()
        .expect("a trace header")
        .to_owned();
    let error =
        request_id(&rapid.invoke_json(&json!({"action": "error", "errorType": "Function.Boom"})));
    let timeout = request_id(&rapid.invoke_json(&json!({"action": "hang"})));

    // The cold start: in the caller's trace, under its parent, sampled,
    // with the span id the Telemetry API's platform.start carries.
    let span = receiver.invoke(&cold);
    assert_eq!(span["name"], "test_function", "{span}");
    assert_eq!(span["kind"], SERVER, "{span}");
    assert_eq!(span["traceId"], ROOT[2..].replace('-', ""), "{span}");
    assert_eq!(span["parentSpanId"], PARENT, "{span}");
    assert_eq!(span["flags"].as_i64().unwrap() & SAMPLED, SAMPLED, "{span}");
    assert_eq!(span["status"]["code"], OK, "{span}");
    assert_eq!(span["attributes"]["faas.coldstart"], true, "{span}");
    assert_eq!(span["attributes"]["faas.trigger"], "other", "{span}");
    assert_eq!(span["events"], json!(["platform.runtimeDone"]), "{span}");
    assert_eq!(span["contentType"], "application/x-protobuf");
    assert!(span["end"].as_u64() >= span["start"].as_u64(), "{span}");
    let events = rapid.request("GET", "/test/eventLog", &[], b"").json();
    let start = events
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "platform.start" && e["record"]["requestId"] == cold)
        .unwrap_or_else(|| panic!("no platform.start of {cold} in {events:#}"));
    assert_eq!(
        span["spanId"], start["record"]["tracing"]["spanId"],
        "{start}"
    );
    // The function, as the resource.
    let resource = &span["resource"];
    assert_eq!(resource["service.name"], "test_function", "{resource}");
    assert_eq!(resource["faas.name"], "test_function", "{resource}");
    assert_eq!(resource["cloud.provider"], "aws", "{resource}");
    assert_eq!(resource["cloud.platform"], "aws_lambda", "{resource}");
    // runtimeDone's spans, as its children.
    let children = receiver.children_of(&span);
    let mut names: Vec<&str> = children.iter().filter_map(|c| c["name"].as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        ["responseDuration", "responseLatency"],
        "{children:?}"
    );

    // Its init: a trace of its own, no parent.
    let init = receiver
        .spans()
        .into_iter()
        .find(|s| s["name"] == "init")
        .expect("the init span");
    assert_eq!(init["parentSpanId"], "", "{init}");
    assert_ne!(init["traceId"], span["traceId"], "{init}");
    assert_eq!(init["status"]["code"], OK, "{init}");
    assert_eq!(
        init["attributes"]["aws.lambda.initialization_type"],
        "on-demand"
    );

    // Warm, in the trace rapid made for the invoke (not sampled).
    let span = receiver.invoke(&warm);
    assert_eq!(span["attributes"]["faas.coldstart"], false, "{span}");
    let root = given
        .split(';')
        .find_map(|f| f.strip_prefix("Root=1-"))
        .unwrap();
    let parent = given
        .split(';')
        .find_map(|f| f.strip_prefix("Parent="))
        .unwrap();
    assert_eq!(span["traceId"], root.replace('-', ""), "{span} {given}");
    assert_eq!(span["parentSpanId"], parent, "{span} {given}");
    assert_eq!(span["flags"].as_i64().unwrap() & SAMPLED, 0, "{span}");
    assert_eq!(receiver.children_of(&span).len(), 2, "{span}");

    // An error and a timeout: status ERROR with the error type.
    for (id, error_type) in [(&error, "Function.Boom"), (&timeout, "Sandbox.Timedout")] {
        let span = receiver.invoke(id);
        assert_eq!(span["status"]["code"], ERROR, "{span}");
        assert_eq!(span["status"]["message"], error_type, "{span}");
        assert_eq!(span["attributes"]["error.type"], error_type, "{span}");
        assert_eq!(span["attributes"]["faas.coldstart"], false, "{span}");
    }
}

/// A collector that takes connections and never answers: invokes are
/// answered as usual, the failure is said once, the lost spans are
/// counted at shutdown, and rapid still exits at once. The endpoint comes
/// from `OTEL_EXPORTER_OTLP_ENDPOINT`, as the flag is absent.
#[test]
fn a_collector_that_never_answers_costs_invokes_nothing() {
    // Listening, never accepting: connections wait in the backlog.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", silent.local_addr().unwrap());
    let rapid = Rapid::scripted(&[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", &base)]);
    rapid.wait_for_stderr(
        |l| l.contains(&format!("exporting spans to {base}/v1/traces")),
        WAIT,
    );
    for _ in 0..3 {
        let resp = rapid.invoke_json(&json!({"action": "echo"}));
        assert_success(&resp);
    }
    rapid.wait_for_stderr(|l| l.contains("OTLP: cannot export spans"), WAIT);
    rapid.signal(Signal::SIGTERM);
    assert!(rapid.wait_exit(WAIT).success());
    let stderr = rapid.stderr();
    let said = stderr
        .iter()
        .filter(|l| l.contains("OTLP: cannot export"))
        .count();
    assert_eq!(said, 1, "{stderr:#?}");
    assert!(
        stderr.iter().any(|l| l.contains("spans were not exported")),
        "{stderr:#?}"
    );
}

/// An endpoint rapid cannot post to, named on the command line, stops it
/// at start; the same in a variable (which the function reads too) only
/// turns the export off.
#[test]
fn an_endpoint_that_cannot_be_used_is_refused_or_ignored() {
    let cmd = scripted_command();
    let mut rapid = Command::new(env!("CARGO_BIN_EXE_rapid"));
    rapid
        .args(["--otlp-endpoint", "https://collector:4318"])
        .args(&cmd)
        .env_clear();
    let output = output_within(&mut rapid, WAIT, "rapid --otlp-endpoint https://");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--otlp-endpoint=https://collector:4318: https is not supported"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");

    let rapid = Rapid::scripted(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
    );
    rapid.wait_for_stderr(
        |l| l.contains("rapid exports OTLP over http/protobuf only: no OTLP export"),
        WAIT,
    );
    assert_success(&rapid.invoke_json(&json!({"action": "echo"})));
}

#[test]
fn with_many_functions_each_function_s_spans_carry_its_own_resource() {
    let receiver = Receiver::start();
    let dir = unique_path("otlp-functions");
    for name in ["alpha", "beta"] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::os::unix::fs::symlink(rust_fn("echo-fn"), dir.join(name).join("bootstrap")).unwrap();
    }
    let rapid = Rapid::start_binary(
        &emulator::binary_under_test(),
        &[
            "--functions",
            dir.to_str().unwrap(),
            "--otlp-endpoint",
            &receiver.base_url(),
        ],
        &[],
    );
    for name in ["alpha", "beta"] {
        let path = format!("/2015-03-31/functions/{name}/invocations");
        let resp = rapid.request("POST", &path, &[], b"{}");
        assert_eq!(resp.status, 200, "{}", resp.text());
        let id = resp.header("x-amzn-requestid").expect("a request id");
        let span = receiver.invoke(id);
        let resource = &span["resource"];
        assert_eq!(resource["faas.name"], name, "{resource}");
        assert_eq!(resource["service.name"], name, "{resource}");
        let arn = resource["cloud.resource_id"].as_str().unwrap_or_default();
        assert!(arn.ends_with(&format!(":function:{name}")), "{resource}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
