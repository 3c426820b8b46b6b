//! Restore / init caching (SnapStart, `--enable-init-caching`): the
//! runtime's `restore/next` and `restore/error`, `/test/restore`, the first
//! invoke performing the restore, the hook timeout, the credentials
//! endpoint, and what a sandbox without init caching answers.

mod common;

use common::*;
use serde_json::json;

const CACHING: &[&str] = &["--enable-init-caching", "--test-api"];

fn restore(rapid: &Rapid, body: &serde_json::Value) -> Resp {
    rapid.request("POST", "/test/restore", &[], body.to_string().as_bytes())
}

/// The `restoreMs` of a `/test/restore` answer (a string, as RAPID says it).
fn restore_ms(resp: &Resp) -> u64 {
    let body = resp.json();
    body["restoreMs"]
        .as_str()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("restoreMs is not a number in a string: {body}"))
}

fn runtime_state(rapid: &Rapid) -> String {
    let state = rapid.request("GET", "/test/internalState", &[], b"").json();
    state["runtime"]["state"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_restore_runs_the_after_restore_hooks_then_invokes_are_served() {
    let rapid = Rapid::scripted(CACHING, &[("SCRIPTED_RESTORE", "hooks")]);
    // No init ran yet: the restore starts one and waits for restore/next.
    let resp = restore(&rapid, &json!({ "restoreHookTimeoutMs": 5000 }));
    assert_eq!(resp.status, 200, "{resp:?}");
    restore_ms(&resp);
    assert!(resp.json().get("restoreError").is_none(), "{}", resp.text());
    rapid.wait_for_stdout(|l| l.starts_with("restore/next answered: 200 ''"), WAIT);
    rapid.wait_for_stdout(|l| l == "after-restore hook ran", WAIT);
    // With init caching, Init Duration is on INIT_REPORT, not on REPORT.
    rapid.wait_for_stdout(|l| l.starts_with("INIT_REPORT Init Duration: "), WAIT);
    assert_eq!(runtime_state(&rapid), "Ready");

    let first = rapid.invoke(b"{}", &[]);
    assert_success(&first);
    let report = rapid.wait_for_report(&request_id(&first));
    assert!(report.get("Init Duration").is_none(), "{}", report.line);
    report.number("Restore Duration", "ms");
    report.number("Billed Restore Duration", "ms");

    // Restored already: a second restore has nothing to wait for.
    let again = restore(&rapid, &json!({}));
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(restore_ms(&again), 0, "{}", again.text());
    let second = rapid.invoke(b"{}", &[]);
    assert_success(&second);
    let report = rapid.wait_for_report(&request_id(&second));
    assert!(report.get("Restore Duration").is_none(), "{}", report.line);
}

#[test]
fn the_first_invoke_performs_the_restore_nobody_asked_for() {
    let rapid = Rapid::scripted(CACHING, &[("SCRIPTED_RESTORE", "hooks")]);
    let resp = rapid.invoke_json(&json!({ "action": "headers" }));
    let body = assert_success(&resp);
    assert_eq!(
        body["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"], "snap-start",
        "{body}"
    );
    rapid.wait_for_stdout(|l| l == "after-restore hook ran", WAIT);
    let report = rapid.wait_for_report(&request_id(&resp));
    let restore = report.number("Restore Duration", "ms");
    let billed = report.number("Billed Restore Duration", "ms");
    assert!(billed >= restore.floor(), "{}", report.line);
    assert!(report.get("Init Duration").is_none(), "{}", report.line);
}

#[test]
fn a_restore_error_is_scrubbed_and_the_next_invoke_starts_a_new_sandbox() {
    for (reported, scrubbed) in [
        ("Runtime.AfterRestoreError", "Runtime.AfterRestoreError"),
        ("HookBroke", "Runtime.Unknown"),
    ] {
        let marker = unique_path("restore-error");
        let marker_text = marker.display().to_string();
        let rapid = Rapid::scripted(
            CACHING,
            &[
                ("SCRIPTED_RESTORE", "error"),
                ("SCRIPTED_RESTORE_MARKER", &marker_text),
                ("SCRIPTED_RESTORE_ERROR_TYPE", reported),
            ],
        );
        let resp = restore(&rapid, &json!({}));
        assert_eq!(resp.status, 502, "{resp:?}");
        assert_eq!(resp.json()["restoreError"], scrubbed, "{}", resp.text());
        restore_ms(&resp);
        let line = rapid.wait_for_stdout(|l| l.starts_with("RESTORE_REPORT "), WAIT);
        assert!(line.contains("\tStatus: error"), "{line}");
        assert!(
            line.contains(&format!("\tError Type: {scrubbed}")),
            "{line}"
        );

        // The sandbox was reset like a failed init: the next invoke starts a
        // new runtime, which restores well this time.
        let resp = rapid.invoke(b"{}", &[]);
        assert_success(&resp);
        let report = rapid.wait_for_report(&request_id(&resp));
        report.number("Restore Duration", "ms");
        rapid.wait_for_stdout_n(|l| l == "scripted runtime ready", 2, WAIT);
        assert_eq!(
            rapid.count_stdout(|l| l == "scripted runtime ready"),
            2,
            "a second runtime served the invoke"
        );
        let _ = std::fs::remove_file(&marker);
    }
}

#[test]
fn a_restore_that_fails_inside_the_first_invoke_fails_that_invoke() {
    let marker = unique_path("restore-invoke-error");
    let marker_text = marker.display().to_string();
    let rapid = Rapid::scripted(
        CACHING,
        &[
            ("SCRIPTED_RESTORE", "error"),
            ("SCRIPTED_RESTORE_MARKER", &marker_text),
        ],
    );
    let resp = rapid.invoke(b"{}", &[]);
    assert_function_error(&resp, "Runtime.AfterRestoreError");
    let report = rapid.wait_for_report(&request_id(&resp));
    assert_eq!(report.get("Status"), Some("error"), "{}", report.line);
    // The next invoke re-inits, and its runtime restores well.
    let resp = rapid.invoke(b"{}", &[]);
    assert_success(&resp);
    rapid
        .wait_for_report(&request_id(&resp))
        .number("Restore Duration", "ms");
    let _ = std::fs::remove_file(&marker);
}

#[test]
fn after_restore_hooks_past_the_timeout_fail_the_restore() {
    let marker = unique_path("restore-hang");
    let marker_text = marker.display().to_string();
    let rapid = Rapid::scripted(
        CACHING,
        &[
            ("SCRIPTED_RESTORE", "hang"),
            ("SCRIPTED_RESTORE_MARKER", &marker_text),
        ],
    );
    let resp = restore(&rapid, &json!({ "restoreHookTimeoutMs": 300 }));
    assert_eq!(resp.status, 502, "{resp:?}");
    assert_eq!(
        resp.json()["restoreError"],
        "Runtime.RestoreHookUserTimeout",
        "{}",
        resp.text()
    );
    let line = rapid.wait_for_stdout(|l| l.starts_with("RESTORE_REPORT "), WAIT);
    assert!(line.contains("\tStatus: timeout"), "{line}");
    // The hung runtime is gone; the next invoke gets a new one.
    assert_success(&rapid.invoke(b"{}", &[]));
    let _ = std::fs::remove_file(&marker);
}

#[test]
fn without_init_caching_the_restore_calls_are_refused() {
    let rapid = Rapid::scripted(&["--test-api"], &[]);
    assert_success(&rapid.invoke(b"{}", &[]));

    let next = rapid.api_request("GET", "/2018-06-01/runtime/restore/next", &[], b"");
    assert_eq!(next.status, 404, "{next:?}");
    let body = next.json();
    assert_eq!(body["errorType"], "NotFound", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("--enable-init-caching")),
        "{body}"
    );
    let error = rapid.api_request(
        "POST",
        "/2018-06-01/runtime/restore/error",
        &[(
            "Lambda-Runtime-Function-Error-Type",
            "Runtime.AfterRestoreError",
        )],
        b"{}",
    );
    assert_eq!(error.status, 404, "{error:?}");
    let credentials = rapid.api_request("GET", "/2021-04-23/credentials", &[], b"");
    assert_eq!(credentials.status, 404, "{credentials:?}");

    let resp = restore(&rapid, &json!({}));
    assert_eq!(resp.status, 400, "{resp:?}");
    let body = resp.json();
    assert_eq!(body["errorType"], "Client.InvalidRequest", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("--enable-init-caching")),
        "{body}"
    );
    // Nothing was disturbed.
    assert_success(&rapid.invoke(b"{}", &[]));
}

/// Issue 22, item 6: a second restore, or one after an invoke, has
/// nothing to restore. RAPID's answer is `200 {"restoreMs":"0"}` at once
/// (with the credentials updated), and so is rapid's, which now says in
/// its log that nothing was restored instead of answering silently.
#[test]
fn a_restore_with_nothing_to_restore_is_answered_as_rapid_does_and_logged() {
    let rapid = Rapid::scripted(CACHING, &[("SCRIPTED_RESTORE", "hooks")]);
    // The first invoke performs the restore nobody asked for.
    let first = rapid.invoke(b"{}", &[]);
    assert_success(&first);
    rapid.wait_for_report(&request_id(&first));
    let logged = |rapid: &Rapid| {
        rapid
            .stderr()
            .iter()
            .filter(|l| {
                l.contains("restore asked with nothing to restore")
                    && l.contains(r#"runtime="Ready""#)
            })
            .count()
    };
    assert_eq!(logged(&rapid), 0, "a restore that ran is not 'nothing'");
    for (n, key) in [(1, "AKIDSECOND"), (2, "AKIDTHIRD")] {
        let resp = restore(
            &rapid,
            &json!({"awskey": key, "awssecret": "s", "awssession": "t"}),
        );
        assert_eq!(resp.status, 200, "{resp:?}");
        assert_eq!(resp.json(), json!({"restoreMs": "0"}), "{}", resp.text());
        poll_until("rapid to log the restore it did not run", WAIT, || {
            logged(&rapid) == n
        });
        // The credentials are the restore's, as in RAPID.
        let resp = rapid.invoke_json(&json!({ "action": "credentials" }));
        let body = assert_success(&resp);
        let served: serde_json::Value =
            serde_json::from_str(body["body"].as_str().unwrap_or_default()).unwrap();
        assert_eq!(served["AccessKeyId"], key, "{served}");
        // Complete (the runtime back in `next`) before the next restore.
        rapid.wait_for_report(&request_id(&resp));
    }
}

#[test]
fn the_credentials_endpoint_serves_the_restore_credentials_to_the_token_holder() {
    let rapid = Rapid::scripted(
        CACHING,
        &[
            ("SCRIPTED_RESTORE", "hooks"),
            ("AWS_ACCESS_KEY_ID", "AKIDINIT"),
            ("AWS_SECRET_ACCESS_KEY", "init-secret"),
            ("AWS_SESSION_TOKEN", "init-session"),
        ],
    );
    let resp = restore(
        &rapid,
        &json!({
            "awskey": "AKIDRESTORE",
            "awssecret": "restore-secret",
            "awssession": "restore-session",
            "credentialsExpiry": "2030-01-02T03:04:05Z",
        }),
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    let body = assert_success(&rapid.invoke_json(&json!({ "action": "credentials" })));

    let env = &body["env"];
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        assert!(env[name].is_null(), "{name} left in the environment: {env}");
    }
    assert_eq!(
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
        format!("http://{}/2021-04-23/credentials", rapid.api_addr()),
        "{env}"
    );
    assert!(
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{env}"
    );

    assert_eq!(body["status"], 200, "{body}");
    let served: serde_json::Value =
        serde_json::from_str(body["body"].as_str().unwrap_or_default()).expect("credentials JSON");
    assert_eq!(served["AccessKeyId"], "AKIDRESTORE", "{served}");
    assert_eq!(served["SecretAccessKey"], "restore-secret", "{served}");
    assert_eq!(served["Token"], "restore-session", "{served}");
    assert_eq!(served["Expiration"], "2030-01-02T03:04:05Z", "{served}");

    assert_eq!(body["wrong_status"], 404, "{body}");
    assert_eq!(
        body["wrong_body"], "cannot get credentials for the provided token\n",
        "{body}"
    );
    assert_eq!(body["none_status"], 404, "{body}");
}

#[test]
fn a_runtime_without_restore_hooks_gets_the_init_credentials_and_a_0_ms_restore() {
    // The runtime goes to invocation/next at once: nothing to restore.
    let rapid = Rapid::scripted(
        &["--enable-init-caching", "--test-api", "--eager-init"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDINIT"),
            ("AWS_SECRET_ACCESS_KEY", "init-secret"),
            ("AWS_SESSION_TOKEN", "init-session"),
        ],
    );
    let resp = restore(&rapid, &json!({}));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(restore_ms(&resp), 0, "{}", resp.text());

    let resp = rapid.invoke_json(&json!({ "action": "credentials" }));
    let body = assert_success(&resp);
    assert_eq!(body["status"], 200, "{body}");
    let served: serde_json::Value =
        serde_json::from_str(body["body"].as_str().unwrap_or_default()).expect("credentials JSON");
    assert_eq!(served["AccessKeyId"], "AKIDINIT", "{served}");
    assert_eq!(served["SecretAccessKey"], "init-secret", "{served}");
    assert_eq!(served["Token"], "init-session", "{served}");
    assert!(served["Expiration"].is_string(), "{served}");
    let report = rapid.wait_for_report(&request_id(&resp));
    assert!(report.get("Restore Duration").is_none(), "{}", report.line);
}

#[test]
fn awslambdaric_runs_its_after_restore_hooks_on_a_restore() {
    let (cmd, env) = awslambdaric_command("snapstart.handler");
    let mut args: Vec<&str> = CACHING.to_vec();
    args.extend(cmd.iter().map(String::as_str));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let rapid = Rapid::start(&args, &env);

    let resp = restore(&rapid, &json!({}));
    assert_eq!(resp.status, 200, "{resp:?}");
    rapid.wait_for_stdout(|l| l.contains("snapstart: before snapshot"), WAIT);
    rapid.wait_for_stdout(|l| l.contains("snapstart: after restore"), WAIT);
    let resp = rapid.invoke(b"{}", &[]);
    let body = assert_success(&resp);
    assert_eq!(body["restored"], true, "{body}");
    let report = rapid.wait_for_report(&request_id(&resp));
    report.number("Restore Duration", "ms");
}
