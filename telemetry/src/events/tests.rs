//! The JSON of each platform event: exact keys, number types, time format.

use super::*;
use crate::report::InvokeTimings;
use serde_json::{json, Value};
use std::time::UNIX_EPOCH;

/// 2022-10-12T00:00:15.064Z
fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_665_532_815_064_321)
}

fn json_of(record: impl Into<Record>) -> Value {
    let event = PlatformEvent {
        time: at(),
        record: record.into(),
    };
    serde_json::to_value(&event).unwrap()
}

/// The keys of an object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn every_event_is_time_type_and_record() {
    let event = json_of(Start {
        request_id: "id".into(),
        version: "$LATEST".into(),
        tracing: None,
    });
    assert_eq!(keys(&event), ["record", "time", "type"]);
    assert_eq!(event["time"], "2022-10-12T00:00:15.064Z");
    assert_eq!(event["type"], "platform.start");
}

#[test]
fn init_start() {
    let event = json_of(InitStart {
        initialization_type: InitializationType::OnDemand,
        phase: InitPhase::Init,
        function_name: "f".into(),
        function_version: "$LATEST".into(),
        runtime_version: None,
        runtime_version_arn: None,
    });
    assert_eq!(event["type"], "platform.initStart");
    assert_eq!(
        event["record"],
        json!({
            "initializationType": "on-demand",
            "phase": "init",
            "functionName": "f",
            "functionVersion": "$LATEST",
        })
    );
    let snap = json_of(InitStart {
        initialization_type: InitializationType::SnapStart,
        phase: InitPhase::Invoke,
        function_name: "f".into(),
        function_version: "1".into(),
        runtime_version: Some("python:3.12.v1".into()),
        runtime_version_arn: Some("arn:aws:lambda:::runtime:abc".into()),
    });
    assert_eq!(snap["record"]["initializationType"], "snap-start");
    assert_eq!(snap["record"]["phase"], "invoke");
    assert_eq!(snap["record"]["runtimeVersion"], "python:3.12.v1");
    assert_eq!(
        snap["record"]["runtimeVersionArn"],
        "arn:aws:lambda:::runtime:abc"
    );
}

#[test]
fn initialization_type_from_the_environment() {
    use InitializationType::*;
    for (value, kind) in [
        (None, OnDemand),
        (Some("on-demand"), OnDemand),
        (Some("snap-start"), SnapStart),
        (Some("provisioned-concurrency"), ProvisionedConcurrency),
        (Some("something-else"), OnDemand),
    ] {
        assert_eq!(InitializationType::from_env_value(value), kind, "{value:?}");
    }
}

#[test]
fn init_runtime_done_and_init_report() {
    let done = json_of(InitRuntimeDone {
        initialization_type: InitializationType::OnDemand,
        phase: InitPhase::Init,
        status: Status::Success,
        error_type: None,
    });
    assert_eq!(done["type"], "platform.initRuntimeDone");
    assert_eq!(
        done["record"],
        json!({"initializationType": "on-demand", "phase": "init", "status": "success"})
    );
    let failed = json_of(InitRuntimeDone {
        initialization_type: InitializationType::OnDemand,
        phase: InitPhase::Invoke,
        status: Status::Error,
        error_type: Some(ErrorType::Reported("Runtime.ImportModuleError".into())),
    });
    assert_eq!(failed["record"]["status"], "error");
    assert_eq!(failed["record"]["errorType"], "Runtime.ImportModuleError");

    let report = json_of(InitReport {
        initialization_type: InitializationType::OnDemand,
        phase: InitPhase::Init,
        status: Status::Timeout,
        error_type: Some(ErrorType::SandboxTimedout),
        metrics: InitReportMetrics {
            duration: Duration::from_micros(150_214),
        },
    });
    assert_eq!(report["type"], "platform.initReport");
    assert_eq!(
        report["record"],
        json!({
            "initializationType": "on-demand",
            "phase": "init",
            "status": "timeout",
            "errorType": "Sandbox.Timedout",
            "metrics": {"durationMs": 150.21},
        })
    );
    assert!(report["record"]["metrics"]["durationMs"].is_f64());
}

#[test]
fn start_with_and_without_tracing() {
    let plain = json_of(Start {
        request_id: "id-1".into(),
        version: "$LATEST".into(),
        tracing: None,
    });
    assert_eq!(
        plain["record"],
        json!({"requestId": "id-1", "version": "$LATEST"})
    );
    let traced = json_of(Start {
        request_id: "id-1".into(),
        version: "$LATEST".into(),
        tracing: Some(Tracing {
            value: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                .into(),
            span_id: Some("54565fb41ac79632".into()),
        }),
    });
    assert_eq!(
        traced["record"]["tracing"],
        json!({
            "spanId": "54565fb41ac79632",
            "type": "X-Amzn-Trace-Id",
            "value": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        })
    );
}

#[test]
fn runtime_done_with_spans() {
    let latency = Duration::from_micros(23_024);
    let event = json_of(RuntimeDone {
        request_id: "id-1".into(),
        status: Status::Success,
        error_type: None,
        metrics: RuntimeDoneMetrics {
            duration: Duration::from_micros(25_000),
            produced_bytes: 16,
        },
        spans: vec![
            Span::response_latency(at(), latency),
            Span::response_duration(at() + latency, Duration::from_micros(1_976)),
        ],
        tracing: None,
    });
    assert_eq!(event["type"], "platform.runtimeDone");
    assert_eq!(
        event["record"],
        json!({
            "requestId": "id-1",
            "status": "success",
            "metrics": {"durationMs": 25.0, "producedBytes": 16},
            "spans": [
                {"name": "responseLatency", "start": "2022-10-12T00:00:15.064Z", "durationMs": 23.02},
                {"name": "responseDuration", "start": "2022-10-12T00:00:15.087Z", "durationMs": 1.98},
            ],
        })
    );
    let metrics = &event["record"]["metrics"];
    assert!(metrics["durationMs"].is_f64(), "{metrics}");
    assert!(metrics["producedBytes"].is_u64(), "{metrics}");
}

#[test]
fn runtime_done_without_an_answer() {
    let event = json_of(RuntimeDone {
        request_id: "id-1".into(),
        status: Status::Timeout,
        error_type: Some(ErrorType::SandboxTimedout),
        metrics: RuntimeDoneMetrics {
            duration: Duration::from_secs(3),
            produced_bytes: 0,
        },
        spans: Vec::new(),
        tracing: None,
    });
    assert_eq!(
        event["record"],
        json!({
            "requestId": "id-1",
            "status": "timeout",
            "errorType": "Sandbox.Timedout",
            "metrics": {"durationMs": 3000.0, "producedBytes": 0},
        })
    );
}

#[test]
fn how_a_runtime_done_status_is_worded() {
    let exit = ErrorType::RuntimeExitError;
    let shutdown = ErrorType::SandboxShutdown;
    let reported = ErrorType::Reported("Function.ValueError".into());
    for (status, error_type, expected) in [
        (InvokeStatus::Success, None, Status::Success),
        (
            InvokeStatus::Timeout,
            Some(&ErrorType::SandboxTimedout),
            Status::Timeout,
        ),
        (InvokeStatus::Error, Some(&reported), Status::Error),
        (InvokeStatus::Error, Some(&exit), Status::Error),
        (InvokeStatus::Error, Some(&shutdown), Status::Failure),
        (InvokeStatus::Error, None, Status::Error),
    ] {
        assert_eq!(
            Status::runtime_done(status, error_type),
            expected,
            "{status:?} {error_type:?}"
        );
    }
}

fn invoke_report() -> InvokeReport {
    InvokeReport {
        request_id: "id-1".into(),
        duration: Duration::from_micros(693_921),
        memory_size_mb: 128,
        max_memory_used_mb: 84,
        init_duration: Some(Duration::from_micros(397_684)),
        restore_duration: None,
        status: InvokeStatus::Success,
        error_type: None,
        timings: InvokeTimings::default(),
    }
}

#[test]
fn report_has_the_figures_of_the_report_line() {
    let report = invoke_report();
    let event = json_of(Report::of(&report));
    assert_eq!(event["type"], "platform.report");
    assert_eq!(
        event["record"],
        json!({
            "requestId": "id-1",
            "status": "success",
            "metrics": {
                "durationMs": 693.92,
                "billedDurationMs": 1092,
                "memorySizeMB": 128,
                "maxMemoryUsedMB": 84,
                "initDurationMs": 397.68,
            },
        })
    );
    let metrics = &event["record"]["metrics"];
    for integer in ["billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"] {
        assert!(metrics[integer].is_u64(), "{integer}: {metrics}");
    }
    for float in ["durationMs", "initDurationMs"] {
        assert!(metrics[float].is_f64(), "{float}: {metrics}");
    }
    // The same text as the REPORT line's.
    let line = crate::report_line(&report);
    assert!(
        line.contains("\tDuration: 693.92 ms\tBilled Duration: 1092 ms\t"),
        "{line}"
    );
    assert!(line.contains("\tInit Duration: 397.68 ms"), "{line}");
}

#[test]
fn report_of_a_failed_invoke() {
    let mut report = invoke_report();
    report.init_duration = None;
    report.status = InvokeStatus::Timeout;
    report.error_type = Some(ErrorType::SandboxTimedout);
    let event = json_of(Report::of(&report));
    assert_eq!(event["record"]["status"], "timeout");
    assert_eq!(event["record"]["errorType"], "Sandbox.Timedout");
    assert_eq!(
        keys(&event["record"]["metrics"]),
        [
            "billedDurationMs",
            "durationMs",
            "maxMemoryUsedMB",
            "memorySizeMB"
        ]
    );
    report.status = InvokeStatus::Error;
    report.error_type = Some(ErrorType::RuntimeExitError);
    let event = json_of(Report::of(&report));
    assert_eq!(event["record"]["status"], "error");
    assert_eq!(event["record"]["errorType"], "Runtime.ExitError");
}

#[test]
fn restore_duration_in_the_report_metrics() {
    let mut report = Report::of(&invoke_report());
    report.metrics.restore_duration = Some(Duration::from_micros(1_234_567));
    let event = json_of(report);
    assert_eq!(event["record"]["metrics"]["restoreDurationMs"], 1234.57);
}

#[test]
fn extension() {
    let event = json_of(ExtensionInit {
        name: "my-telemetry-extension".into(),
        state: "Ready",
        events: vec!["INVOKE", "SHUTDOWN"],
        error_type: None,
    });
    assert_eq!(event["type"], "platform.extension");
    assert_eq!(
        event["record"],
        json!({"name": "my-telemetry-extension", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]})
    );
    let failed = json_of(ExtensionInit {
        name: "bad".into(),
        state: "InitError",
        events: vec![],
        error_type: Some("Extension.Broken".into()),
    });
    assert_eq!(
        failed["record"],
        json!({"name": "bad", "state": "InitError", "events": [], "errorType": "Extension.Broken"})
    );
}

#[test]
fn restore_events() {
    let start = json_of(RestoreStart {
        function_name: "f".into(),
        function_version: "$LATEST".into(),
        runtime_version: None,
        runtime_version_arn: None,
    });
    assert_eq!(start["type"], "platform.restoreStart");
    assert_eq!(
        start["record"],
        json!({"functionName": "f", "functionVersion": "$LATEST"})
    );
    let done = json_of(RestoreRuntimeDone {
        status: Status::Error,
        error_type: Some(ErrorType::Reported("Runtime.RestoreHookError".into())),
    });
    assert_eq!(done["type"], "platform.restoreRuntimeDone");
    assert_eq!(
        done["record"],
        json!({"status": "error", "errorType": "Runtime.RestoreHookError"})
    );
    let report = json_of(RestoreReport {
        status: Status::Success,
        error_type: None,
        metrics: RestoreReportMetrics {
            duration: Duration::from_micros(47_509),
        },
    });
    assert_eq!(report["type"], "platform.restoreReport");
    assert_eq!(
        report["record"],
        json!({"status": "success", "metrics": {"durationMs": 47.51}})
    );
}

#[test]
fn milliseconds_round_to_two_decimals() {
    assert_eq!(millis(Duration::from_micros(12_341)), 12.34);
    assert_eq!(millis(Duration::from_micros(12_345)), 12.35);
    assert_eq!(millis(Duration::ZERO), 0.0);
    assert_eq!(millis(Duration::from_nanos(4_999)), 0.0);
    assert_eq!(millis(Duration::from_secs(3)), 3000.0);
}
