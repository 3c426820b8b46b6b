//! The invokers people really use, driven from the tests: the `curl`
//! binary and small Python scripts in testdata/invoker (urllib,
//! http.client, boto3) whose outcome, success or exception, is printed as
//! one JSON object.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::fixtures::{plain_python, testdata, venv_python};

/// What one run of `curl` did.
#[derive(Debug)]
pub struct CurlRun {
    /// curl's exit code (0 = transfer complete; 18 = partial file).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl CurlRun {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// The `curl` binary on PATH, if there is one.
pub fn curl_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("curl"))
        .find(|candidate| candidate.is_file())
}

/// Runs `curl -sS ARGS...`; `None` when there is no curl on PATH.
pub fn run_curl(args: &[&str]) -> Option<CurlRun> {
    let curl = curl_binary()?;
    let out = Command::new(&curl)
        .args(["-sS", "--max-time", "300"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", curl.display()));
    Some(CurlRun {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// The headers `curl -d` sends (curl 7 and 8): what the front door sees
/// from curl when the binary is not installed.
pub const CURL_D_HEADERS: &[(&str, &str)] = &[
    ("User-Agent", "curl/8.5.0"),
    ("Accept", "*/*"),
    ("Content-Type", "application/x-www-form-urlencoded"),
];

/// Runs testdata/invoker/`script` with `python` and `--endpoint endpoint
/// args...`, and parses the one JSON object it prints. Panics when it does
/// not print one.
pub fn run_python_invoker(
    python: PathBuf,
    script: &str,
    endpoint: &str,
    args: &[&str],
) -> serde_json::Value {
    let out = Command::new(python)
        .arg(testdata("invoker").join(script))
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_CONFIG_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().find(|l| !l.trim().is_empty());
    line.and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "{script} {args:?} printed no JSON object ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
                out.status
            )
        })
}

/// `urllib.request.urlopen(url, data=payload)` with no headers of its own
/// (testdata/invoker/urllib_invoke.py): `{status, headers, body}`.
pub fn urllib_invoke(endpoint: &str, payload: &str) -> serde_json::Value {
    run_python_invoker(
        PathBuf::from(plain_python()),
        "urllib_invoke.py",
        endpoint,
        &["--payload", payload],
    )
}

/// boto3's `invoke` (testdata/invoker/boto_invoke_outcome.py): the
/// response's fields, or the exception boto3 raised.
pub fn boto_invoke_outcome(endpoint: &str, payload: &str) -> serde_json::Value {
    run_python_invoker(
        venv_python(),
        "boto_invoke_outcome.py",
        endpoint,
        &["--payload", payload],
    )
}

/// Python's http.client, `resp.read()` of one invoke
/// (testdata/invoker/http_client_invoke.py): `{status, headers}` and `body`,
/// or `raised` / `message` / `partial` when the read failed.
pub fn http_client_invoke(endpoint: &str, payload: &str, te_trailers: bool) -> serde_json::Value {
    let mut args = vec!["--payload", payload];
    if te_trailers {
        args.push("--te-trailers");
    }
    run_python_invoker(
        PathBuf::from(plain_python()),
        "http_client_invoke.py",
        endpoint,
        &args,
    )
}
