//! What rapid refuses at start: a configuration it cannot run is said
//! at once, on stderr, with exit status 2, before anything listens or
//! runs, instead of being found out at the first invoke.

mod common;

use common::*;
use std::process::{Command, Output};

/// rapid with `args` (loopback addresses on ephemeral ports first) and
/// `env`, run to its exit; the scripted runtime is its command unless
/// `args` gives one.
fn start(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rapid"));
    cmd.args([
        "--runtime-interface-emulator-address",
        "127.0.0.1:0",
        "--runtime-api-address",
        "127.0.0.1:0",
    ])
    .args(args)
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, value) in env {
        cmd.env(name, value);
    }
    output_within(&mut cmd, WAIT, &format!("rapid {args:?} {env:?}"))
}

/// rapid exited 2 at start, its stderr saying `says`, having listened on
/// nothing.
fn assert_refused(output: &Output, says: &str, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
    assert!(
        stderr.contains(says),
        "{what}: expected {says:?} in\n{stderr}"
    );
    assert!(
        !stderr.contains("listening"),
        "{what}: nothing listens before the refusal:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    stderr
}

/// Issue 22, item 5: each of these panicked the event loop at the first
/// deadline, and rapid stayed up answering 503.
#[test]
fn timeouts_and_memory_out_of_range_are_refused_naming_the_setting_and_its_range() {
    let cmd = scripted_command();
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    for value in ["0", "901", "9223372036854775807", "18446744073709551615"] {
        let output = start(&cmd, &[("AWS_LAMBDA_FUNCTION_TIMEOUT", value)]);
        assert_refused(
            &output,
            &format!(
                "AWS_LAMBDA_FUNCTION_TIMEOUT must be from 1 to 900 seconds (Lambda's range), got {value}"
            ),
            value,
        );
    }
    for value in ["64", "10241"] {
        let output = start(&cmd, &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", value)]);
        assert_refused(
            &output,
            &format!(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be from 128 to 10240 MB (Lambda's range), got {value}"
            ),
            value,
        );
    }
    for flag in [
        "--idle-timeout",
        "--init-timeout",
        "--request-header-timeout",
    ] {
        for value in ["86401", "9223372036854775807", "18446744073709551615"] {
            let mut args = vec![flag, value];
            args.extend(&cmd);
            let stderr = assert_refused(&start(&args, &[]), flag, &format!("{flag} {value}"));
            assert!(stderr.contains("86400"), "{flag} {value}: {stderr}");
        }
    }
}

/// Issue 22, item 6: a mistyped flag before the command became the
/// command (`--max-sandbox` ran as the bootstrap, and every invoke
/// failed).
#[test]
fn an_unknown_flag_before_the_command_is_refused() {
    let output = start(&["--max-sandbox", "4", "./bootstrap"], &[]);
    let stderr = assert_refused(
        &output,
        "unexpected argument '--max-sandbox' found",
        "a typo",
    );
    assert!(
        stderr.contains("'--max-sandboxes'"),
        "the tip names the flag: {stderr}"
    );
    assert!(stderr.contains("use '-- --max-sandbox'"), "{stderr}");
    let cmd = scripted_command();
    let mut args = vec!["--no-such-flag"];
    args.extend(cmd.iter().map(String::as_str));
    assert_refused(
        &start(&args, &[]),
        "unexpected argument '--no-such-flag'",
        "unknown",
    );
}

/// Issue 22, item 6: accepted silently before.
#[test]
fn more_kept_sandboxes_than_may_run_is_refused() {
    let cmd = scripted_command();
    let mut args = vec!["--min-sandboxes", "3", "--max-sandboxes", "2"];
    args.extend(cmd.iter().map(String::as_str));
    assert_refused(
        &start(&args, &[]),
        "--min-sandboxes 3 is more than --max-sandboxes 2",
        "min > max",
    );
}

/// Issue 22, item 7: with the invoke port taken, rapid printed `runtime
/// API listening on …` before its error. Every address is bound before
/// anything is said to listen.
#[test]
fn a_taken_port_fails_before_anything_is_said_to_listen() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let taken = taken.local_addr().expect("its address").to_string();
    let cmd = scripted_command();
    for flag in ["--runtime-interface-emulator-address", "--test-api-address"] {
        let mut args = vec!["--runtime-api-address", "127.0.0.1:0"];
        if flag == "--test-api-address" {
            args.extend(["--runtime-interface-emulator-address", "127.0.0.1:0"]);
        }
        args.extend([flag, taken.as_str()]);
        args.extend(cmd.iter().map(String::as_str));
        let output = output_within(
            Command::new(env!("CARGO_BIN_EXE_rapid"))
                .args(&args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default()),
            WAIT,
            &format!("rapid with {flag} {taken} taken"),
        );
        assert_refused(
            &output,
            &format!("rapid: cannot listen on {taken} ({flag})"),
            flag,
        );
    }
}

/// Issue 22, item 7: `--help` pointed to "spec §8", which users do not
/// have.
#[test]
fn help_points_to_the_readme_not_the_spec() {
    let output = output_within(
        Command::new(env!("CARGO_BIN_EXE_rapid")).arg("--help"),
        WAIT,
        "rapid --help",
    );
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(!help.contains("spec"), "{help}");
    assert!(help.contains("README"), "{help}");
}
