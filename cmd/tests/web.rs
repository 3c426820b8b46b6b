//! Web traffic (spec §12): real web frameworks no one here wrote (FastAPI
//! behind Mangum, Flask behind apig-wsgi, Rust `lambda_http`, buffered and
//! streaming) served through `--http-address` and the front door's
//! `/lambda-url/<function>/…`, called with real HTTP clients (the test
//! client, and curl for redirects and a cookie jar). No event here is made
//! by hand: rapid builds every one from the request.

mod common;

use common::fixtures::{rust_fn, testdata, unique_path, venv_python};
use common::http::{self, Resp};
use common::invokers::run_curl;
use common::{Rapid, WAIT};
use serde_json::{json, Value};

/// rapid serving `runtime` with `--http-address` (and `flags`); the web
/// address it listens on.
fn serve(flags: &[&str], runtime: &[String], env: &[(&str, &str)]) -> (Rapid, String) {
    let mut args = vec!["--http-address", "127.0.0.1:0"];
    args.extend_from_slice(flags);
    args.extend(runtime.iter().map(String::as_str));
    let rapid = Rapid::start(&args, env);
    let address = rapid.listening_on("web traffic");
    (rapid, address)
}

/// An awslambdaric handler of testdata/functions/web.
fn python_app(handler: &str) -> Vec<String> {
    vec![
        venv_python().display().to_string(),
        "-m".into(),
        "awslambdaric".into(),
        handler.into(),
    ]
}

fn web_env() -> String {
    testdata("functions/web").display().to_string()
}

fn get(address: &str, path: &str) -> Resp {
    http::request(address, "GET", path, &[], b"")
}

fn set_cookies(resp: &Resp) -> Vec<&str> {
    resp.headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.as_str())
        .collect()
}

/// Every byte value, `times` times.
fn all_bytes(times: usize) -> Vec<u8> {
    (0..times).flat_map(|_| 0..=255u8).collect()
}

/// The body of the 502 that answers a function error: a function URL's
/// (payload 2.0) or a REST API's (1.0).
const FAILED_V2: &str = "Internal Server Error";
const FAILED_V1: &str = r#"{"message": "Internal server error"}"#;

/// What the FastAPI and Flask apps (the same routes) answer, through
/// `prefix` on `address`.
fn python_framework_answers(address: &str, prefix: &str, failed: &str) {
    let at = |path: &str| format!("{prefix}{path}");

    // Routing, a path parameter (percent-encoded) and the query.
    let item = get(address, &at("/items/a%20b?q=x%20y&other=1"));
    assert_eq!(item.status, 200, "{}", item.text());
    assert_eq!(item.json(), json!({"item_id": "a b", "q": "x y"}));
    assert!(item.header("x-amzn-requestid").is_some());

    // A JSON body.
    let echoed = http::request(
        address,
        "POST",
        &at("/echo-json"),
        &[("content-type", "application/json")],
        br#"{"list":[1,2],"text":"caf\u00e9"}"#,
    );
    assert_eq!(echoed.status, 200, "{}", echoed.text());
    assert_eq!(
        echoed.json(),
        json!({"got": {"list": [1, 2], "text": "café"}})
    );

    // A form post.
    let form = http::request(
        address,
        "POST",
        &at("/form"),
        &[("content-type", "application/x-www-form-urlencoded")],
        b"name=Ann+Lee&city=Oslo%2FNorway",
    );
    assert_eq!(form.status, 200, "{}", form.text());
    assert_eq!(
        form.json(),
        json!({"name": "Ann Lee", "city": "Oslo/Norway"})
    );

    // A binary upload answered with the same bytes: exact both ways.
    let bytes = all_bytes(16);
    let round_trip = http::request(
        address,
        "POST",
        &at("/echo-bytes"),
        &[("content-type", "application/octet-stream")],
        &bytes,
    );
    assert_eq!(round_trip.status, 200);
    assert_eq!(round_trip.body, bytes, "the binary body came back changed");
    let download = get(address, &at("/download?n=8"));
    assert_eq!(
        download.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(download.body, all_bytes(8));

    // A redirect setting two cookies, each its own Set-Cookie.
    let login = get(address, &at("/login"));
    assert_eq!(login.status, 302);
    assert_eq!(login.header("location"), Some("/whoami"));
    let cookies = set_cookies(&login);
    assert_eq!(cookies.len(), 2, "{:?}", login.headers);
    assert!(cookies[0].starts_with("session=abc123"), "{cookies:?}");
    assert!(cookies[1].starts_with("theme=dark"), "{cookies:?}");

    // Cookies sent back reach the app.
    let whoami = http::request(
        address,
        "GET",
        &at("/whoami"),
        &[("cookie", "session=abc123; theme=dark")],
        b"",
    );
    assert_eq!(
        whoami.json(),
        json!({"cookies": {"session": "abc123", "theme": "dark"}})
    );

    // An error status the app chose, and an exception the app raised
    // (the framework answers it 500).
    let teapot = get(address, &at("/teapot"));
    assert_eq!(teapot.status, 418);
    assert_eq!(teapot.json(), json!({"detail": "short and stout"}));
    assert_eq!(get(address, &at("/boom")).status, 500);

    // An exception out of the handler is a function error: 502, never 200.
    let crash = get(address, &at("/crash"));
    assert_eq!(crash.status, 502, "{}", crash.text());
    assert_eq!(crash.text(), failed);
}

/// curl follows the redirect with its cookie jar: the cookies set by the
/// answer come back on the next request.
fn curl_session(base: &str) {
    let jar = unique_path("cookies");
    let jar = jar.display().to_string();
    let url = format!("{base}/login");
    let Some(run) = run_curl(&["-L", "-c", &jar, "-b", &jar, &url]) else {
        eprintln!("curl is not installed: the cookie-jar session is not checked");
        return;
    };
    assert_eq!(run.code, Some(0), "curl: {run:?}");
    let seen: Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("curl printed no JSON ({e}): {run:?}"));
    assert_eq!(
        seen["cookies"],
        json!({"session": "abc123", "theme": "dark"}),
        "{seen}"
    );
}

#[test]
fn fastapi_behind_mangum() {
    let web = web_env();
    let (rapid, address) = serve(
        &[],
        &python_app("fastapi_app.handler"),
        &[("PYTHONPATH", &web)],
    );
    python_framework_answers(&address, "", FAILED_V2);
    curl_session(&format!("http://{address}"));
    // The front door's function URL path reaches the same function.
    // (Not followed by curl there: the app's redirect to `/whoami` leaves
    // the `/lambda-url/` prefix, which the app knows nothing of.)
    python_framework_answers(rapid.invoke_addr(), "/lambda-url/my-function", FAILED_V2);
}

#[test]
fn flask_behind_apig_wsgi() {
    let web = web_env();
    let (_rapid, address) = serve(
        &[],
        &python_app("flask_app.handler"),
        &[("PYTHONPATH", &web)],
    );
    python_framework_answers(&address, "", FAILED_V2);
    curl_session(&format!("http://{address}"));
}

#[test]
fn lambda_http_buffered() {
    let runtime = vec![rust_fn("web-fn").display().to_string()];
    let (rapid, address) = serve(&[], &runtime, &[]);
    lambda_http_answers(&address, "");
    lambda_http_answers(rapid.invoke_addr(), "/lambda-url/web-fn");
}

/// What the `lambda_http` handler (testdata/rust-fns web-fn) answers.
fn lambda_http_answers(address: &str, prefix: &str) {
    let at = |path: &str| format!("{prefix}{path}");
    let item = get(address, &at("/items/7?q=x%20y"));
    assert_eq!(item.json(), json!({"item_id": "7", "q": "x y"}));
    let echoed = http::request(
        address,
        "POST",
        &at("/echo-json"),
        &[("content-type", "application/json")],
        br#"{"a":[1,{"b":null}]}"#,
    );
    assert_eq!(echoed.json(), json!({"got": {"a": [1, {"b": null}]}}));
    let bytes = all_bytes(64);
    let round_trip = http::request(
        address,
        "POST",
        &at("/echo-bytes"),
        &[("content-type", "application/octet-stream")],
        &bytes,
    );
    assert_eq!(round_trip.body, bytes, "the binary body came back changed");
    let login = get(address, &at("/login"));
    assert_eq!(login.status, 302);
    assert_eq!(
        set_cookies(&login),
        ["session=abc123; Path=/", "theme=dark; Path=/"]
    );
    let whoami = http::request(
        address,
        "GET",
        &at("/whoami"),
        &[("cookie", "session=abc123; theme=dark")],
        b"",
    );
    let cookie = whoami.json()["cookie"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.contains("session=abc123") && cookie.contains("theme=dark"),
        "{cookie}"
    );
    assert_eq!(get(address, &at("/teapot")).status, 418);
    let failed = get(address, &at("/boom"));
    assert_eq!(failed.status, 502, "a function error is never a 200");
}

/// Powertools for AWS Lambda (Python)'s function URL and HTTP API
/// resolvers: the same routes through each.
#[test]
fn powertools_resolvers() {
    let web = web_env();
    for handler in [
        "powertools_app.url_handler",
        "powertools_app.http_api_handler",
    ] {
        let (_rapid, address) = serve(&[], &python_app(handler), &[("PYTHONPATH", &web)]);
        let item = get(&address, "/items/7?q=x%20y&q=z");
        assert_eq!(item.status, 200, "{handler}: {}", item.text());
        // Repeated query keys arrive comma-joined, as from Lambda.
        assert_eq!(
            item.json(),
            json!({"item_id": "7", "q": "x y,z"}),
            "{handler}"
        );
        let echoed = http::request(
            &address,
            "POST",
            "/echo-json",
            &[("content-type", "application/json")],
            br#"{"a":[1,2]}"#,
        );
        assert_eq!(echoed.json(), json!({"got": {"a": [1, 2]}}), "{handler}");
        let bytes = all_bytes(16);
        let round_trip = http::request(
            &address,
            "POST",
            "/echo-bytes",
            &[("content-type", "application/octet-stream")],
            &bytes,
        );
        assert_eq!(round_trip.body, bytes, "{handler}: the binary body changed");
        let login = get(&address, "/login");
        assert_eq!(login.status, 302, "{handler}");
        assert_eq!(
            set_cookies(&login),
            ["session=abc123; Path=/", "theme=dark; Path=/"],
            "{handler}"
        );
        curl_session(&format!("http://{address}"));
        assert_eq!(get(&address, "/teapot").status, 418, "{handler}");
        let crash = get(&address, "/crash");
        assert_eq!(crash.status, 502, "{handler}: {}", crash.text());
    }
}

/// `--http-payload-version 1.0`: the REST API event, which apig-wsgi,
/// Mangum and `lambda_http` each read their own way.
#[test]
fn payload_1_0_with_flask_fastapi_and_lambda_http() {
    let web = web_env();
    let v1 = ["--http-payload-version", "1.0"];
    for app in ["flask_app.handler", "fastapi_app.handler"] {
        let (_rapid, address) = serve(&v1, &python_app(app), &[("PYTHONPATH", &web)]);
        python_framework_answers(&address, "", FAILED_V1);
        curl_session(&format!("http://{address}"));
    }
    let runtime = vec![rust_fn("web-fn").display().to_string()];
    let (_rapid, address) = serve(&v1, &runtime, &[]);
    lambda_http_answers(&address, "");
}

#[test]
fn lambda_http_streaming_forwards_chunks_as_they_come() {
    let runtime = vec![rust_fn("web-stream-fn").display().to_string()];
    let (_rapid, address) = serve(&["--http-invoke-mode", "RESPONSE_STREAM"], &runtime, &[]);

    let gate = unique_path("web-gate");
    let path = format!("/stream?chunks=3&gate={}", gate.display());
    let mut stream = http::open(&address, "GET", &path, &[], b"").expect("the answer's head");
    assert_eq!(stream.status, 201, "the prelude's status");
    assert_eq!(stream.header("content-type"), Some("text/plain"));
    assert_eq!(stream.header("set-cookie"), Some("streamed=yes; Path=/"));
    // The first two chunks arrive while the handler still waits on its gate.
    let mut first = Vec::new();
    stream
        .read_until(&mut first, |body| body.ends_with(b"chunk 1\n"))
        .expect("the first chunks before the handler ended");
    assert_eq!(first, b"chunk 0\nchunk 1\n");
    std::fs::write(&gate, b"open").expect("open the gate");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("the rest of the body");
    assert_eq!(rest, b"chunk 2\n");

    let binary = get(&address, "/bytes?n=32");
    assert_eq!(binary.status, 201);
    assert_eq!(
        binary.body,
        all_bytes(32),
        "streamed bytes came out changed"
    );
}

/// With a pool of sandboxes a web request leases one like an invoke: a
/// request held open by a streaming handler keeps sandbox 0 busy, so the
/// next one is answered by sandbox 1.
#[test]
fn web_requests_take_sandboxes_from_the_pool() {
    let runtime = vec![rust_fn("web-stream-fn").display().to_string()];
    let (_rapid, address) = serve(
        &[
            "--max-sandboxes",
            "2",
            "--http-invoke-mode",
            "RESPONSE_STREAM",
        ],
        &runtime,
        &[],
    );
    let gate = unique_path("web-pool-gate");
    let path = format!("/stream?chunks=2&gate={}", gate.display());
    let mut held = http::open(&address, "GET", &path, &[], b"").expect("the first answer's head");
    let mut first = Vec::new();
    held.read_until(&mut first, |body| body.ends_with(b"chunk 0\n"))
        .expect("the first chunk");
    let other = get(&address, "/stream?chunks=1");
    assert_eq!(other.status, 201);
    assert_eq!(other.body, b"chunk 0\n");
    let sandboxes = [
        held.header("x-rapid-sandbox"),
        other.header("x-rapid-sandbox"),
    ];
    assert_eq!(sandboxes, [Some("0"), Some("1")]);
    std::fs::write(&gate, b"open").expect("open the gate");
    let mut rest = Vec::new();
    held.read_to_end(&mut rest).expect("the rest");
    assert_eq!(rest, b"chunk 1\n");
}

/// A streamed answer that fails after its first bytes (here the function
/// times out while its last chunk waits) is cut short: the caller sees an
/// incomplete transfer, never a complete answer, and REPORT says timeout.
#[test]
fn a_streamed_answer_that_fails_midway_is_cut_short() {
    let runtime = vec![rust_fn("web-stream-fn").display().to_string()];
    let (rapid, address) = serve(
        &["--http-invoke-mode", "RESPONSE_STREAM"],
        &runtime,
        &[("AWS_LAMBDA_FUNCTION_TIMEOUT", "1")],
    );
    // A gate no one opens: the last chunk never comes.
    let gate = unique_path("web-gate-never");
    let path = format!("/stream?chunks=3&gate={}", gate.display());
    let mut stream = http::open(&address, "GET", &path, &[], b"").expect("the answer's head");
    assert_eq!(stream.status, 201);
    let id = stream
        .header("x-amzn-requestid")
        .unwrap_or_default()
        .to_owned();
    let mut body = Vec::new();
    stream
        .read_until(&mut body, |body| body.ends_with(b"chunk 1\n"))
        .expect("the first chunks");
    let end = stream.read_to_end(&mut body);
    assert!(end.is_err(), "the cut stream read as complete: {body:?}");
    assert_eq!(body, b"chunk 0\nchunk 1\n");
    assert_eq!(rapid.wait_for_report(&id).get("Status"), Some("timeout"));
}

/// The invoke mode decides how a result is read, as a function URL's does:
/// a streamed HTTP answer under BUFFERED is a 502 that says which mode to
/// use; a buffered result under RESPONSE_STREAM is not read as an HTTP
/// answer but passed through as the body of a 200.
#[test]
fn a_result_that_does_not_fit_the_invoke_mode() {
    let streaming = vec![rust_fn("web-stream-fn").display().to_string()];
    let (rapid, address) = serve(&[], &streaming, &[]);
    let buffered = get(&address, "/stream?chunks=2");
    assert_eq!(buffered.status, 502, "{}", buffered.text());
    rapid.wait_for_stderr(|l| l.contains("--http-invoke-mode RESPONSE_STREAM"), WAIT);
    drop(rapid);

    let buffered_fn = vec![rust_fn("web-fn").display().to_string()];
    let flags = ["--http-invoke-mode", "RESPONSE_STREAM"];
    let (_rapid, address) = serve(&flags, &buffered_fn, &[]);
    let passed = get(&address, "/teapot");
    assert_eq!(passed.status, 200, "{}", passed.text());
    let result = passed.json();
    assert_eq!(result["statusCode"], json!(418), "the raw result: {result}");
}

#[test]
fn failures_are_502_and_rapid_says_why() {
    let web = web_env();
    let (rapid, address) = serve(
        &[],
        &python_app("fastapi_app.handler"),
        &[("PYTHONPATH", &web), ("AWS_LAMBDA_FUNCTION_TIMEOUT", "2")],
    );
    let bad = get(&address, "/bad-answer");
    assert_eq!(bad.status, 502, "{}", bad.text());
    rapid.wait_for_stderr(
        |l| l.contains("502") && l.contains("statusCode \"teapot\" is not a final HTTP status"),
        WAIT,
    );
    let crash = get(&address, "/crash");
    assert_eq!(crash.status, 502);
    let id = crash
        .header("x-amzn-requestid")
        .unwrap_or_default()
        .to_owned();
    assert_eq!(rapid.wait_for_report(&id).get("Status"), Some("error"));

    let timed_out = get(&address, "/sleep");
    assert_eq!(timed_out.status, 502, "{}", timed_out.text());
    rapid.wait_for_stderr(
        |l| l.contains("502") && l.contains("Sandbox.Timedout"),
        WAIT,
    );
    // The next request gets a fresh runtime and an answer.
    assert_eq!(get(&address, "/items/1").status, 200);
}

#[test]
fn a_request_over_the_limit_is_refused_before_anything_runs() {
    let web = web_env();
    let (rapid, address) = serve(
        &[],
        &python_app("fastapi_app.handler"),
        &[("PYTHONPATH", &web)],
    );
    let body = vec![b'x'; 6 * 1024 * 1024 + 1];
    let refused = http::request(
        &address,
        "POST",
        "/echo-bytes",
        &[("content-type", "application/octet-stream")],
        &body,
    );
    assert_eq!(refused.status, 413, "{}", refused.text());
    // Under the limit as a body but over it as an event (base64): refused too.
    let encoded = vec![b'x'; 5 * 1024 * 1024];
    let refused = http::request(
        &address,
        "POST",
        "/echo-bytes",
        &[("content-type", "application/octet-stream")],
        &encoded,
    );
    assert_eq!(refused.status, 413, "{}", refused.text());
    assert_eq!(
        rapid.count_stdout(|l| l.starts_with("START")),
        0,
        "nothing ran"
    );
}

/// The two APIs never meet: on `--http-address` the Invoke API's path is
/// the function's own path; on the front door invokes still work beside
/// `/lambda-url/`.
#[test]
fn web_traffic_and_invokes_stay_apart() {
    let web = web_env();
    let (rapid, address) = serve(
        &[],
        &python_app("fastapi_app.handler"),
        &[("PYTHONPATH", &web)],
    );
    let invoke_path = "/2015-03-31/functions/function/invocations";
    let through_web = http::request(&address, "POST", invoke_path, &[], b"{}");
    assert_eq!(
        through_web.json(),
        json!({"detail": "Not Found"}),
        "FastAPI answered: it has no such route"
    );
    assert_eq!(through_web.header("x-amz-executed-version"), None);

    let no_function = get(rapid.invoke_addr(), "/lambda-url/");
    assert_eq!(no_function.status, 404);
    // An invoke on the front door is an invoke: its payload as sent (no
    // HTTP event, so Mangum fails it), answered as Invoke answers a
    // function error, not as a function URL.
    let invoked = rapid.invoke(br#"{"not":"an http event"}"#, &[]);
    assert_eq!(invoked.status, 200);
    assert_eq!(invoked.header("x-amz-function-error"), Some("Unhandled"));
}

/// A real browser: headless Chromium (Debian's `chromium`) opens a page of
/// the FastAPI app on `--http-address`, follows its redirect, keeps the
/// cookie the redirect set and sends it back (the page shows it), and
/// loads a PNG the function answered as base64 (the page shows its size).
#[test]
fn a_browser_follows_a_redirect_keeps_the_cookie_and_shows_the_image() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(in_path)
    else {
        eprintln!(
            "skipped: no chromium in PATH (scripts/test installs Debian's chromium when it runs as root)"
        );
        return;
    };
    let web = web_env();
    let (rapid, address) = serve(
        &[],
        &python_app("fastapi_app.handler"),
        &[("PYTHONPATH", &web)],
    );
    let profile = unique_path("chromium-profile");
    let url = format!("http://{address}/browse");
    let mut cmd = std::process::Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(["--dump-dom", &url]);
    let dom = browser_output(cmd);
    assert!(
        dom.contains(r#"<p id="session">browser42</p>"#),
        "the cookie set with the redirect did not come back: {dom}"
    );
    assert!(
        dom.contains(r#"<p id="img">1x1</p>"#),
        "the base64 PNG was not shown: {dom}"
    );
    // The redirect, the page and the image each ran as an invoke.
    assert!(rapid.count_stdout(|l| l.starts_with("REPORT")) >= 3);
    let _ = std::fs::remove_dir_all(&profile);
}

fn in_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// Runs the browser in a process group of its own and returns what it
/// printed; past the deadline (or once done) the whole group is killed,
/// so none of its helper processes outlives the test.
fn browser_output(mut cmd: std::process::Command) -> String {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    let (done, result) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    // Generous: a browser's start on a loaded machine.
    let deadline = std::time::Duration::from_secs(90);
    let output = result.recv_timeout(deadline);
    let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
    let output = match output {
        Ok(output) => output.expect("chromium's output"),
        Err(_) => {
            let _ = waiter.join();
            panic!("chromium did not finish within {deadline:?} (killed)")
        }
    };
    let _ = waiter.join();
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
