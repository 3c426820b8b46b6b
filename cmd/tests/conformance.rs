//! Conformance: the lifecycle of spec §4 as a table, one row per scenario,
//! in the table-driven style of Go's tests. A row says how the scripted
//! runtime behaves, which scripted extensions start, and the steps in order
//! (invokes, control-API calls, a SIGTERM, lines and extension events to
//! see, internal states, the event log) with what each must give. Every row
//! is its own test (`rows!` below).
//!
//! The binary under test is `$RAPID_CONFORMANCE_BIN`, by default this
//! workspace's `rapid`; any emulator with aws-lambda-rie's command line can
//! be checked (`RAPID_CONFORMANCE_BIN=/path/to/aws-lambda-rie cargo test
//! --test conformance`). Rows that need what such a binary lacks (an
//! extensions directory of the test's choosing, the control API, init
//! caching) are skipped with a message.

mod common;

use common::emulator::{binary_under_test, help_text};
use common::extensions::{ExtDir, Records};
use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::thread;

/// One scenario.
struct Row {
    name: &'static str,
    /// Environment of the scripted runtime (`SCRIPTED_INIT`...); `{once}` in
    /// a value becomes a fresh marker path, so a misbehaviour happens once.
    runtime_env: Vec<(&'static str, &'static str)>,
    /// Scripted extensions: file name and configuration (`{once}` and
    /// `{never}`, a path nobody creates, are replaced likewise).
    extensions: Vec<(&'static str, Value)>,
    flags: Vec<&'static str>,
    /// The row drives the `/test/*` control API (`--test-api`).
    control_api: bool,
    steps: Vec<Step>,
}

enum Step {
    /// One invoke: its answer, and its REPORT line.
    Invoke {
        event: Value,
        answer: Answer,
        report: ReportCheck,
    },
    /// Several invokes at once (they queue): each gets `answer`.
    Concurrent { events: Vec<Value>, answer: Answer },
    /// A line the runtime printed.
    Stdout(&'static str),
    /// An event an extension received (`SHUTDOWN` with its reason).
    Shutdown {
        ext: &'static str,
        reason: &'static str,
    },
    /// SIGTERM: exit 0, and nothing the emulator started is left.
    Sigterm,
    /// `POST /test/reset {"reason": ...}` on the idle sandbox: 200.
    Reset(&'static str),
    /// `POST /test/restore {}`: the answer's status, and its `restoreError`
    /// (None: absent).
    Restore {
        status: u16,
        restore_error: Option<&'static str>,
    },
    /// `POST /test/init` (function `conformance`, version `1`) and
    /// `POST /test/waitUntilInitialized`: its status (200, or 502 with this
    /// error type).
    ControlInit { fails_with: Option<&'static str> },
    /// `POST /test/reserve`, `POST /test/invoke` with `event`, and
    /// `POST /test/waitUntilRelease`: the invoke's answer (None: `502`, the
    /// init failed) and the release's status.
    ControlInvoke {
        event: Value,
        answer: Option<Answer>,
        release: u16,
    },
    /// An invoke that hangs, cut short by `POST /test/reset {reason}`: its
    /// invoker gets `error_type`.
    ResetDuringInvoke {
        reason: &'static str,
        error_type: &'static str,
    },
    /// `GET /test/eventLog`: the types of every platform event so far, in
    /// order (`platform.` left out).
    EventLog(Vec<&'static str>),
    /// `GET /test/internalState`: the runtime's state name (None: no
    /// runtime) and each extension's, in order.
    InternalState {
        runtime: Option<&'static str>,
        extensions: Vec<(&'static str, &'static str)>,
    },
}

enum Answer {
    /// 200 without a function error; the body has these fields.
    Success(Value),
    /// A function error of this type whose message contains this.
    Error {
        error_type: &'static str,
        message: &'static str,
    },
}

/// What the REPORT line of an invoke says.
#[derive(Clone, Copy)]
struct ReportCheck {
    /// `Status:` (absent on success).
    status: Option<&'static str>,
    /// `Error Type:`.
    error_type: Option<&'static str>,
    /// Whether `Init Duration` is there (the first invoke after an init).
    init_duration: bool,
    /// Whether `Restore Duration` is there (init caching: the first invoke
    /// after a restore, which has no `Init Duration`).
    restore_duration: bool,
}

const OK_AFTER_INIT: ReportCheck = ReportCheck {
    status: None,
    error_type: None,
    init_duration: true,
    restore_duration: false,
};
/// Lambda prints `Status: timeout` and no error type for a timeout.
const TIMED_OUT: ReportCheck = ReportCheck {
    status: Some("timeout"),
    error_type: None,
    init_duration: false,
    restore_duration: false,
};
const OK_WARM: ReportCheck = ReportCheck {
    status: None,
    error_type: None,
    init_duration: false,
    restore_duration: false,
};
/// SnapStart: the first invoke after a restore.
const OK_AFTER_RESTORE: ReportCheck = ReportCheck {
    status: None,
    error_type: None,
    init_duration: false,
    restore_duration: true,
};

fn echo(answer: Value, report: ReportCheck) -> Step {
    Step::Invoke {
        event: answer.clone(),
        answer: Answer::Success(answer),
        report,
    }
}

fn fails(
    event: Value,
    error_type: &'static str,
    message: &'static str,
    report: ReportCheck,
) -> Step {
    Step::Invoke {
        event,
        answer: Answer::Error {
            error_type,
            message,
        },
        report,
    }
}

fn failed(status: &'static str, error_type: &'static str) -> ReportCheck {
    ReportCheck {
        status: Some(status),
        error_type: Some(error_type),
        init_duration: false,
        restore_duration: false,
    }
}

/// The platform events of an init, of one with an extension, of a restore,
/// of an invoke.
const INIT_EVENTS: [&str; 3] = ["initStart", "initRuntimeDone", "initReport"];
const INIT_EVENTS_WITH_AN_EXTENSION: [&str; 4] =
    ["initStart", "initRuntimeDone", "extension", "initReport"];
const RESTORE_EVENTS: [&str; 3] = ["restoreStart", "restoreRuntimeDone", "restoreReport"];
const INVOKE_EVENTS: [&str; 3] = ["start", "runtimeDone", "report"];

fn table() -> Vec<Row> {
    let row = |name, steps| Row {
        name,
        runtime_env: vec![],
        extensions: vec![],
        flags: vec![],
        control_api: false,
        steps,
    };
    vec![
        row(
            "happy_path",
            vec![
                echo(json!({"hello": "world"}), OK_AFTER_INIT),
                echo(json!({"again": true}), OK_WARM),
            ],
        ),
        Row {
            runtime_env: vec![
                ("SCRIPTED_INIT", "init_error"),
                ("SCRIPTED_INIT_MARKER", "{once}"),
            ],
            ..row(
                "init_error_then_suppressed_init",
                vec![
                    fails(
                        json!({}),
                        "Runtime.ImportModuleError",
                        "scripted init failure",
                        failed("error", "Runtime.ImportModuleError"),
                    ),
                    echo(json!({"retried": true}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            runtime_env: vec![
                ("SCRIPTED_INIT", "hang"),
                ("SCRIPTED_INIT_MARKER", "{once}"),
            ],
            flags: vec!["--init-timeout", "2"],
            ..row(
                "init_timeout_then_retry",
                vec![
                    fails(json!({}), "Sandbox.Timedout", "timed out", TIMED_OUT),
                    echo(json!({"retried": true}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            runtime_env: vec![
                ("SCRIPTED_INIT", "exit"),
                ("SCRIPTED_INIT_MARKER", "{once}"),
            ],
            ..row(
                "runtime_exit_in_init_then_retry",
                vec![
                    fails(
                        json!({}),
                        "Runtime.ExitError",
                        "Runtime exited with error: exit status 2",
                        failed("error", "Runtime.ExitError"),
                    ),
                    echo(json!({"retried": true}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            flags: vec![],
            ..row(
                "invoke_timeout_resets",
                vec![
                    echo(json!({"warm": true}), OK_AFTER_INIT),
                    fails(
                        json!({"action": "hang"}),
                        "Sandbox.Timedout",
                        "Task timed out after 3.00 seconds",
                        TIMED_OUT,
                    ),
                    echo(json!({"after": "reset"}), OK_AFTER_INIT),
                ],
            )
        },
        row(
            "runtime_crash_during_invoke",
            vec![
                fails(
                    json!({"action": "crash", "code": 3}),
                    "Runtime.ExitError",
                    "Runtime exited with error: exit status 3",
                    ReportCheck {
                        init_duration: true,
                        ..failed("error", "Runtime.ExitError")
                    },
                ),
                echo(json!({"after": "crash"}), OK_AFTER_INIT),
            ],
        ),
        row(
            "runtime_exit_while_idle",
            vec![
                Step::Invoke {
                    event: json!({"action": "exit_after_response"}),
                    answer: Answer::Success(json!({"exiting": true})),
                    report: OK_AFTER_INIT,
                },
                Step::Stdout("exiting after response"),
                echo(json!({"after": "exit"}), OK_AFTER_INIT),
            ],
        ),
        Row {
            extensions: vec![("crashy", json!({"init": "crash", "once": "{once}"}))],
            ..row(
                "extension_crash_in_init",
                vec![
                    fails(
                        json!({}),
                        "Extension.Crash",
                        "exit status 5",
                        failed("error", "Extension.Crash"),
                    ),
                    echo(json!({"retried": true}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            extensions: vec![("picky", json!({"init": "init_error", "once": "{once}"}))],
            // The retried init runs inside the next invoke's time, after a
            // reset in which the extension (which stays alive after its
            // init/error) uses the whole 2 s shutdown budget: 3 s would
            // leave a busy machine too little for the Python processes.
            runtime_env: vec![("AWS_LAMBDA_FUNCTION_TIMEOUT", "30")],
            ..row(
                "extension_init_error",
                vec![
                    fails(
                        json!({}),
                        "Extension.InitError",
                        "Extension.ScriptedInitError",
                        failed("error", "Extension.InitError"),
                    ),
                    echo(json!({"retried": true}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            extensions: vec![("crashy", json!({"onInvoke": "crash", "once": "{once}"}))],
            ..row(
                "extension_crash_during_invoke",
                vec![
                    // The runtime never answers, so only the crash can end it.
                    fails(
                        json!({"action": "hang"}),
                        "Extension.Crash",
                        "Extension crashy exited: exit status 6",
                        ReportCheck {
                            init_duration: true,
                            ..failed("error", "Extension.Crash")
                        },
                    ),
                    echo(json!({"after": "crash"}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            extensions: vec![("stalled", json!({"gate": "{never}"}))],
            flags: vec!["--init-timeout", "2"],
            ..row(
                "extension_that_never_calls_next_times_init_out",
                vec![
                    fails(json!({}), "Sandbox.Timedout", "timed out", TIMED_OUT),
                    Step::Sigterm,
                ],
            )
        },
        Row {
            extensions: vec![("watch", json!({}))],
            ..row(
                "shutdown_with_an_extension_inside_the_deadline",
                vec![
                    echo(json!({"hello": "world"}), OK_AFTER_INIT),
                    Step::Sigterm,
                    Step::Shutdown {
                        ext: "watch",
                        reason: "spindown",
                    },
                ],
            )
        },
        Row {
            extensions: vec![("stubborn", json!({"onShutdown": "ignore"}))],
            ..row(
                "shutdown_with_an_extension_past_the_deadline",
                vec![
                    echo(json!({"hello": "world"}), OK_AFTER_INIT),
                    Step::Sigterm,
                    Step::Shutdown {
                        ext: "stubborn",
                        reason: "spindown",
                    },
                ],
            )
        },
        row(
            "response_to_a_wrong_request_id",
            vec![Step::Invoke {
                event: json!({"action": "wrong_id"}),
                answer: Answer::Success(json!({"wrong_id_status": 400})),
                report: OK_AFTER_INIT,
            }],
        ),
        row(
            "double_response",
            vec![
                Step::Invoke {
                    event: json!({"action": "twice"}),
                    answer: Answer::Success(json!({"first": true})),
                    report: OK_AFTER_INIT,
                },
                Step::Stdout("second response status: 403"),
            ],
        ),
        Row {
            extensions: vec![("watch", json!({}))],
            control_api: true,
            ..row(
                "internal_states_follow_the_lifecycle",
                vec![
                    Step::InternalState {
                        runtime: None,
                        extensions: vec![],
                    },
                    echo(json!({"hello": "world"}), OK_AFTER_INIT),
                    Step::InternalState {
                        runtime: Some("Ready"),
                        extensions: vec![("watch", "Ready")],
                    },
                    fails(
                        json!({"action": "crash", "code": 3}),
                        "Runtime.ExitError",
                        "exit status 3",
                        failed("error", "Runtime.ExitError"),
                    ),
                    echo(json!({"after": "crash"}), OK_AFTER_INIT),
                    Step::InternalState {
                        runtime: Some("Ready"),
                        extensions: vec![("watch", "Ready")],
                    },
                    Step::EventLog(
                        [
                            &INIT_EVENTS_WITH_AN_EXTENSION[..],
                            &INVOKE_EVENTS,
                            &INVOKE_EVENTS,
                            &INIT_EVENTS_WITH_AN_EXTENSION,
                            &INVOKE_EVENTS,
                        ]
                        .concat(),
                    ),
                ],
            )
        },
        Row {
            extensions: vec![("watch", json!({}))],
            control_api: true,
            ..row(
                "reset_with_reason_timeout",
                vec![
                    echo(json!({"hello": "world"}), OK_AFTER_INIT),
                    Step::Reset("timeout"),
                    Step::Shutdown {
                        ext: "watch",
                        reason: "timeout",
                    },
                    Step::InternalState {
                        runtime: None,
                        extensions: vec![],
                    },
                    echo(json!({"after": "reset"}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            extensions: vec![("watch", json!({}))],
            control_api: true,
            ..row(
                "reset_with_reason_failure",
                vec![
                    echo(json!({"hello": "world"}), OK_AFTER_INIT),
                    Step::Reset("failure"),
                    Step::Shutdown {
                        ext: "watch",
                        reason: "failure",
                    },
                    echo(json!({"after": "reset"}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            control_api: true,
            ..row(
                "control_api_drives_init_and_invokes",
                vec![
                    Step::ControlInit { fails_with: None },
                    Step::InternalState {
                        runtime: Some("Ready"),
                        extensions: vec![],
                    },
                    Step::ControlInvoke {
                        event: json!({"hello": "control"}),
                        answer: Some(Answer::Success(json!({"hello": "control"}))),
                        release: 200,
                    },
                    Step::ControlInvoke {
                        event: json!({"action": "crash", "code": 4}),
                        answer: Some(Answer::Error {
                            error_type: "Runtime.ExitError",
                            message: "exit status 4",
                        }),
                        release: 502,
                    },
                    // The front door still serves invokes beside it.
                    echo(json!({"after": "crash"}), OK_AFTER_INIT),
                    Step::EventLog(
                        [
                            &INIT_EVENTS[..],
                            &INVOKE_EVENTS,
                            &INVOKE_EVENTS,
                            &INIT_EVENTS,
                            &INVOKE_EVENTS,
                        ]
                        .concat(),
                    ),
                ],
            )
        },
        Row {
            control_api: true,
            runtime_env: vec![("SCRIPTED_INIT", "init_error")],
            ..row(
                "control_api_init_error",
                vec![
                    Step::ControlInit {
                        fails_with: Some("Runtime.ImportModuleError"),
                    },
                    Step::ControlInvoke {
                        event: json!({}),
                        answer: None,
                        release: 400,
                    },
                ],
            )
        },
        Row {
            extensions: vec![("watch", json!({}))],
            control_api: true,
            ..row(
                "reset_during_an_invoke",
                vec![
                    echo(json!({"hello": "world"}), OK_AFTER_INIT),
                    Step::ResetDuringInvoke {
                        reason: "timeout",
                        error_type: "Sandbox.Timedout",
                    },
                    Step::Shutdown {
                        ext: "watch",
                        reason: "timeout",
                    },
                    echo(json!({"after": "reset"}), OK_AFTER_INIT),
                    Step::ResetDuringInvoke {
                        reason: "failure",
                        error_type: "Sandbox.Failure",
                    },
                    echo(json!({"after": "reset"}), OK_AFTER_INIT),
                ],
            )
        },
        Row {
            runtime_env: vec![("SCRIPTED_RESTORE", "hooks")],
            flags: vec!["--enable-init-caching"],
            control_api: true,
            ..row(
                "restore_success",
                vec![
                    Step::Restore {
                        status: 200,
                        restore_error: None,
                    },
                    Step::Stdout("after-restore hook ran"),
                    Step::InternalState {
                        runtime: Some("Ready"),
                        extensions: vec![],
                    },
                    echo(json!({"restored": true}), OK_AFTER_RESTORE),
                    echo(json!({"again": true}), OK_WARM),
                    Step::EventLog(
                        [
                            &INIT_EVENTS[..],
                            &RESTORE_EVENTS,
                            &INVOKE_EVENTS,
                            &INVOKE_EVENTS,
                        ]
                        .concat(),
                    ),
                ],
            )
        },
        Row {
            runtime_env: vec![
                ("SCRIPTED_RESTORE", "error"),
                ("SCRIPTED_RESTORE_MARKER", "{once}"),
            ],
            flags: vec!["--enable-init-caching"],
            control_api: true,
            ..row(
                "restore_error",
                vec![
                    Step::Restore {
                        status: 502,
                        restore_error: Some("Runtime.AfterRestoreError"),
                    },
                    // Reset like a failed init: the next invoke starts a new
                    // runtime, whose restore runs inside that invoke.
                    echo(json!({"after": "restore error"}), OK_AFTER_RESTORE),
                ],
            )
        },
        Row {
            control_api: true,
            ..row(
                "restore_without_init_caching",
                vec![
                    Step::Restore {
                        status: 400,
                        restore_error: None,
                    },
                    echo(json!({"hello": "world"}), OK_AFTER_INIT),
                ],
            )
        },
        row(
            "queued_invokes_all_run",
            vec![Step::Concurrent {
                events: (0..4).map(|i| json!({ "n": i })).collect(),
                answer: Answer::Success(json!({})),
            }],
        ),
    ]
}

/// Everything one row needs while it runs.
struct Run {
    rapid: Rapid,
    records: Records,
    _dir: ExtDir,
    temp: Vec<PathBuf>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for path in &self.temp {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn run_row(name: &str) {
    let row = table()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name} in the table"));
    let binary = binary_under_test();
    let help = help_text(&binary);
    if !row.extensions.is_empty() && !help.contains("--extensions-dir") {
        eprintln!(
            "conformance row {name} skipped: {} has no --extensions-dir, and the row starts extensions",
            binary.display()
        );
        return;
    }
    if row.control_api && !help.contains("--test-api") {
        eprintln!(
            "conformance row {name} skipped: {} has no --test-api, and the row drives the /test/* control API",
            binary.display()
        );
        return;
    }
    if row.flags.contains(&"--enable-init-caching") && !help.contains("--enable-init-caching") {
        eprintln!(
            "conformance row {name} skipped: {} has no --enable-init-caching, and the row restores",
            binary.display()
        );
        return;
    }
    let once = unique_path(&format!("{name}-once"));
    let never = unique_path(&format!("{name}-never"));
    let fill = |value: &str| {
        value
            .replace("{once}", once.to_str().unwrap_or_default())
            .replace("{never}", never.to_str().unwrap_or_default())
    };
    let dir = ExtDir::new();
    let mut config = serde_json::Map::new();
    for (ext, ext_config) in &row.extensions {
        dir.add_scripted(ext);
        let filled: Value =
            serde_json::from_str(&fill(&ext_config.to_string())).expect("a filled configuration");
        config.insert(ext.to_string(), filled);
    }
    let records = Records::new();
    let config = Value::Object(config).to_string();
    let runtime_env: Vec<(&str, String)> = row
        .runtime_env
        .iter()
        .map(|(name, value)| (*name, fill(value)))
        .collect();
    let mut env: Vec<(&str, &str)> = vec![
        ("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"),
        ("EXT_RECORD_FILE", records.as_str()),
        ("EXT_CONFIG", &config),
    ];
    env.extend(runtime_env.iter().map(|(n, v)| (*n, v.as_str())));
    let mut args: Vec<&str> = Vec::new();
    if !row.extensions.is_empty() {
        args.extend(["--extensions-dir", dir.as_str()]);
    }
    if row.control_api {
        args.push("--test-api");
    }
    args.extend(row.flags.iter().copied());
    let command = scripted_command();
    args.extend(command.iter().map(String::as_str));
    let run = Run {
        rapid: Rapid::start_binary(&binary, &args, &env),
        records,
        _dir: dir,
        temp: vec![once, never],
    };
    for (index, step) in row.steps.iter().enumerate() {
        let at = format!("{name}, step {}", index + 1);
        run_step(&run, step, &at);
    }
}

fn run_step(run: &Run, step: &Step, at: &str) {
    let rapid = &run.rapid;
    match step {
        Step::Invoke {
            event,
            answer,
            report,
        } => {
            let resp = rapid.invoke_json(event);
            check_answer(&resp, answer, at);
            check_report(rapid, &request_id(&resp), report, at);
        }
        Step::Concurrent { events, answer } => {
            let invokers: Vec<_> = events
                .iter()
                .map(|event| {
                    let addr = rapid.invoke_addr().to_owned();
                    let body = event.to_string();
                    thread::spawn(move || {
                        common::http::request(&addr, "POST", INVOKE_PATH, &[], body.as_bytes())
                    })
                })
                .collect();
            for (invoker, event) in invokers.into_iter().zip(events) {
                let resp = invoker.join().expect("an invoker thread");
                check_answer(&resp, answer, at);
                let body = resp.json();
                for (key, value) in event.as_object().into_iter().flatten() {
                    assert_eq!(&body[key], value, "{at}: the answer to {event}: {body}");
                }
            }
        }
        Step::Stdout(line) => {
            rapid.wait_for_stdout(|l| l.contains(line), WAIT);
        }
        Step::Shutdown { ext, reason } => {
            let event = run
                .records
                .wait_event(ext, "SHUTDOWN", "shutdownReason", reason);
            assert!(event["deadlineMs"].is_u64(), "{at}: {event}");
        }
        Step::Reset(reason) => {
            let body = json!({ "reason": reason }).to_string();
            let resp = rapid.request("POST", "/test/reset", &[], body.as_bytes());
            assert_eq!(resp.status, 200, "{at}: {resp:?}");
        }
        Step::Restore {
            status,
            restore_error,
        } => {
            let resp = rapid.request("POST", "/test/restore", &[], b"{}");
            assert_eq!(resp.status, *status, "{at}: {resp:?}");
            let body = resp.json();
            assert_eq!(
                body["restoreError"].as_str(),
                *restore_error,
                "{at}: restoreError in {body}"
            );
        }
        Step::ControlInit { fails_with } => {
            let body = json!({
                "functionName": "conformance",
                "functionVersion": "1",
                "invokeTimeoutMs": 3000,
            })
            .to_string();
            let resp = rapid.request("POST", "/test/init", &[], body.as_bytes());
            assert_eq!(resp.status, 200, "{at}: init: {resp:?}");
            let resp = rapid.request("POST", "/test/waitUntilInitialized", &[], b"");
            match fails_with {
                None => assert_eq!(resp.status, 200, "{at}: waitUntilInitialized: {resp:?}"),
                Some(error_type) => {
                    assert_eq!(resp.status, 502, "{at}: waitUntilInitialized: {resp:?}");
                    assert_eq!(resp.json()["errorType"], *error_type, "{at}: {resp:?}");
                }
            }
        }
        Step::ControlInvoke {
            event,
            answer,
            release,
        } => {
            let reserved = rapid.request("POST", "/test/reserve", &[], b"");
            assert_eq!(reserved.status, 200, "{at}: reserve: {reserved:?}");
            let invoke_id = reserved.header("invoke-id").unwrap_or_default().to_owned();
            let resp = rapid.request("POST", "/test/invoke", &[], event.to_string().as_bytes());
            match answer {
                Some(answer) => {
                    check_answer(&resp, answer, at);
                    assert_eq!(request_id(&resp), invoke_id, "{at}: the reserved id");
                }
                None => assert_eq!(
                    resp.status, 502,
                    "{at}: invoke after a failed init: {resp:?}"
                ),
            }
            let released = rapid.request("POST", "/test/waitUntilRelease", &[], b"");
            assert_eq!(
                released.status, *release,
                "{at}: waitUntilRelease: {released:?}"
            );
        }
        Step::ResetDuringInvoke { reason, error_type } => {
            let addr = rapid.invoke_addr().to_owned();
            let hung = thread::spawn(move || {
                common::http::request(&addr, "POST", INVOKE_PATH, &[], br#"{"action":"hang"}"#)
            });
            let seen = rapid.count_stdout(|l| l.starts_with("hanging on"));
            rapid.wait_for_stdout_n(|l| l.starts_with("hanging on"), seen + 1, WAIT);
            let body = json!({ "reason": reason }).to_string();
            let resp = rapid.request("POST", "/test/reset", &[], body.as_bytes());
            assert_eq!(resp.status, 200, "{at}: reset: {resp:?}");
            let answer = hung.join().expect("the invoker");
            assert_function_error(&answer, error_type);
        }
        Step::EventLog(want) => {
            // The invoke before this step has its REPORT line, and the log
            // hub records an event before it writes the line that goes
            // with it.
            let resp = rapid.request("GET", "/test/eventLog", &[], b"");
            assert_eq!(resp.status, 200, "{at}: {resp:?}");
            let events = resp.json();
            let got: Vec<String> = events
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    let kind = e["type"].as_str().unwrap_or("?");
                    kind.strip_prefix("platform.").unwrap_or(kind).to_owned()
                })
                .collect();
            assert_eq!(got, *want, "{at}: the event log {events:#}");
        }
        Step::InternalState {
            runtime,
            extensions,
        } => {
            // The invoke before this step has its REPORT line, so the
            // runtime and the extensions already wait in next.
            let resp = rapid.request("GET", "/test/internalState", &[], b"");
            assert_eq!(resp.status, 200, "{at}: {resp:?}");
            let state = resp.json();
            let got_runtime = state["runtime"]["state"]["name"].as_str();
            assert_eq!(got_runtime, *runtime, "{at}: runtime state in {state}");
            let got: Vec<(String, String)> = state["extensions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| {
                    (
                        e["name"].as_str().unwrap_or_default().to_owned(),
                        e["state"]["name"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let want: Vec<(String, String)> = extensions
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect();
            assert_eq!(got, want, "{at}: extension states in {state}");
        }
        Step::Sigterm => {
            let tree = descendants(rapid.pid());
            rapid.signal(Signal::SIGTERM);
            let status = rapid.wait_exit(WAIT);
            assert_eq!(status.code(), Some(0), "{at}: exit status");
            for pid in tree {
                assert!(
                    process_is_gone(pid),
                    "{at}: process {pid} ({:?}) outlived the emulator",
                    cmdline(pid)
                );
            }
        }
    }
}

fn check_answer(resp: &Resp, answer: &Answer, at: &str) {
    match answer {
        Answer::Success(fields) => {
            let body = assert_success(resp);
            for (key, value) in fields.as_object().into_iter().flatten() {
                assert_eq!(&body[key], value, "{at}: field {key} of {body}");
            }
        }
        Answer::Error {
            error_type,
            message,
        } => {
            let body = assert_function_error(resp, error_type);
            let text = body["errorMessage"].as_str().unwrap_or_default();
            assert!(
                text.contains(message),
                "{at}: errorMessage {text:?} does not say {message:?}: {body}"
            );
        }
    }
}

fn check_report(rapid: &Rapid, request_id: &str, want: &ReportCheck, at: &str) {
    let report = rapid.wait_for_report(request_id);
    assert_eq!(report.get("Status"), want.status, "{at}: {}", report.line);
    assert_eq!(
        report.get("Error Type"),
        want.error_type,
        "{at}: {}",
        report.line
    );
    assert_eq!(
        report.get("Init Duration").is_some(),
        want.init_duration,
        "{at}: Init Duration in {}",
        report.line
    );
    assert_eq!(
        report.get("Restore Duration").is_some(),
        want.restore_duration,
        "{at}: Restore Duration in {}",
        report.line
    );
}

/// One test per row, so a failure names its scenario and rows run in
/// parallel.
macro_rules! rows {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_row(stringify!($name));
            }
        )*

        #[test]
        fn every_row_of_the_table_has_its_test() {
            let tested = [$(stringify!($name)),*];
            for row in table() {
                assert!(tested.contains(&row.name), "row {} has no test in rows!", row.name);
            }
        }
    };
}

rows!(
    happy_path,
    init_error_then_suppressed_init,
    init_timeout_then_retry,
    runtime_exit_in_init_then_retry,
    invoke_timeout_resets,
    runtime_crash_during_invoke,
    runtime_exit_while_idle,
    extension_crash_in_init,
    extension_init_error,
    extension_crash_during_invoke,
    extension_that_never_calls_next_times_init_out,
    shutdown_with_an_extension_inside_the_deadline,
    shutdown_with_an_extension_past_the_deadline,
    response_to_a_wrong_request_id,
    double_response,
    internal_states_follow_the_lifecycle,
    reset_with_reason_timeout,
    reset_with_reason_failure,
    control_api_drives_init_and_invokes,
    control_api_init_error,
    reset_during_an_invoke,
    restore_success,
    restore_error,
    restore_without_init_caching,
    queued_invokes_all_run,
);
