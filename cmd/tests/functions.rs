//! Many functions in one rapid (`--template`, `--functions`): invoked by
//! name, full and partial ARN and qualifier through boto3 and the AWS CLI,
//! ListFunctions / GetFunction in Lambda's shapes, the unknown function's
//! 404, reserved concurrency 0 throttling, a template's short-form tags,
//! and the refusals at start. One rapid serves most checks.

mod common;

use common::emulator::binary_under_test;
use common::fixtures::{
    boto_functions, output_within, rust_fn, testdata, unique_path, venv_python,
};
use common::{Rapid, WAIT};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:012345678912:function:";

/// A directory holding `template` as template.yaml and `rust-echo/bootstrap`
/// (the lambda_runtime echo function).
fn template_dir(template: &str) -> PathBuf {
    let dir = unique_path("functions");
    std::fs::create_dir_all(dir.join("rust-echo")).unwrap();
    std::os::unix::fs::symlink(rust_fn("echo-fn"), dir.join("rust-echo/bootstrap")).unwrap();
    std::fs::write(dir.join("template.yaml"), template).unwrap();
    dir
}

/// rapid on `dir`'s template.yaml, Python through the venv's
/// awslambdaric, with `args` besides.
fn start_template(dir: &std::path::Path, args: &[&str]) -> Rapid {
    let template = dir.join("template.yaml");
    let mut all = vec![
        "--template".to_owned(),
        template.to_str().unwrap().to_owned(),
        "--runtime-command".to_owned(),
        python_override(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    Rapid::start_binary(&binary_under_test(), &all, &[])
}

fn python_override() -> String {
    format!("python3.*={} -m awslambdaric", venv_python().display())
}

/// Four functions in Python and Rust; the template uses the short forms.
fn four_functions() -> String {
    let python = testdata("functions/python");
    format!(
        r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        GREETING: !Ref Greeting
Resources:
  PyDescribe:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub '${{Greeting}}-py'
      CodeUri: {python}
      Handler: handlers.describe
      Runtime: python3.12
      MemorySize: 256
      Environment:
        Variables:
          WHERE: !Sub '${{AWS::Region}}/${{AWS::AccountId}}'
          BUCKET: !Ref Uploads
  RustEcho:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: rust-echo
      Runtime: provided.al2023
      Handler: bootstrap
      ReservedConcurrentExecutions: 1
      Environment:
        Variables:
          PEER: !GetAtt PyDescribe.Arn
  Held:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {python}
      Handler: handlers.hold
      Runtime: python3.12
      ReservedConcurrentExecutions: 1
  Closed:
    Type: AWS::Lambda::Function
    Properties:
      Code: rust-echo
      Runtime: provided.al2023
      Handler: bootstrap
      ReservedConcurrentExecutions: 0
  Uploads:
    Type: AWS::S3::Bucket
"#,
        python = python.display()
    )
}

#[test]
fn a_template_of_functions_in_python_and_rust_invoked_by_name_through_boto3_and_the_cli() {
    let dir = template_dir(&four_functions());
    let rapid = start_template(&dir, &["--test-api"]);
    // The one intrinsic that cannot be resolved here is said.
    rapid.wait_for_stderr(
        |l| l.contains("left as given") && l.contains("BUCKET") && l.contains("Uploads"),
        WAIT,
    );
    let endpoint = rapid.url();
    let steps = json!([
        ["list"],
        ["get", "RustEcho"],
        ["config", "hello-py", "$LATEST"],
        [
            "invoke",
            "hello-py",
            r#"{"names": ["GREETING", "WHERE", "BUCKET", "LAMBDA_TASK_ROOT"]}"#,
            null
        ],
        [
            "invoke",
            format!("{ARN_PREFIX}RustEcho"),
            r#"{"by": "arn"}"#,
            null
        ],
        [
            "invoke",
            "012345678912:function:RustEcho:$LATEST",
            r#"{"by": "partial"}"#,
            null
        ],
        ["invoke", "RustEcho", r#"{"by": "qualifier"}"#, "$LATEST"],
        ["invoke", "nope", "{}", null],
        ["invoke", "function", "{}", null],
        ["invoke", "Closed", "{}", null],
        ["config", "hello-py", "7"],
    ]);
    let out = boto_functions(&endpoint, &steps);
    assert_eq!(out.len(), 11, "{out:#?}");
    assert_eq!(
        out[0]["Names"],
        json!(["Closed", "Held", "RustEcho", "hello-py"])
    );
    let first = &out[0]["First"];
    assert_eq!(first["FunctionArn"], format!("{ARN_PREFIX}Closed"));
    assert_eq!(first["Version"], "$LATEST");
    assert_eq!(first["State"], "Active");
    assert_eq!(first["PackageType"], "Zip");
    assert_eq!(
        out[1]["Concurrency"],
        json!({"ReservedConcurrentExecutions": 1})
    );
    let rust = &out[1]["Configuration"];
    assert_eq!(rust["Runtime"], "provided.al2023");
    assert_eq!(rust["Timeout"], 10, "Globals' Timeout");
    assert_eq!(rust["MemorySize"], 128, "SAM's default");
    assert_eq!(
        rust["Environment"]["Variables"]["PEER"],
        format!("{ARN_PREFIX}hello-py"),
        "!GetAtt of a function is its ARN"
    );
    assert_eq!(out[2]["Handler"], "handlers.describe");
    assert_eq!(out[2]["MemorySize"], 256);

    // Python: its name, memory, environment (Globals merged, !Sub and !Ref
    // resolved), its code directory as working directory.
    assert_eq!(out[3]["StatusCode"], 200, "{:?}", out[3]);
    assert_eq!(out[3]["FunctionError"], Value::Null, "{:?}", out[3]);
    let described: Value = serde_json::from_str(out[3]["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(described["function_name"], "hello-py");
    assert_eq!(
        described["invoked_function_arn"],
        format!("{ARN_PREFIX}hello-py")
    );
    assert_eq!(described["memory_limit_in_mb"], "256");
    assert_eq!(described["env"]["GREETING"], "hello");
    assert_eq!(described["env"]["WHERE"], "us-east-1/012345678912");
    assert_eq!(described["env"]["BUCKET"], r#"{"Ref":"Uploads"}"#);
    let python = testdata("functions/python");
    assert_eq!(
        described["env"]["LAMBDA_TASK_ROOT"],
        python.display().to_string()
    );
    assert_eq!(described["cwd"], python.display().to_string());

    // Rust, by full ARN, partial ARN with :$LATEST, and Qualifier.
    for (i, by) in [(4, "arn"), (5, "partial"), (6, "qualifier")] {
        assert_eq!(out[i]["StatusCode"], 200, "{:?}", out[i]);
        assert_eq!(out[i]["Payload"], json!({ "by": by }).to_string());
    }
    // Unknown names, aws-lambda-rie's `function` among three, a version
    // that does not exist: Lambda's ResourceNotFoundException.
    for i in [7, 8, 10] {
        assert_eq!(out[i]["Error"], "ResourceNotFoundException", "{:?}", out[i]);
        assert_eq!(out[i]["HTTPStatusCode"], 404);
    }
    assert_eq!(
        out[7]["Message"],
        format!("Function not found: {ARN_PREFIX}nope")
    );
    assert_eq!(
        out[10]["Message"],
        format!("Function not found: {ARN_PREFIX}hello-py:7")
    );
    // Reserved concurrency 0: always throttled.
    assert_eq!(out[9]["Error"], "TooManyRequestsException", "{:?}", out[9]);
    assert_eq!(out[9]["HTTPStatusCode"], 429);

    // The raw answer for an unknown function is Lambda's body.
    let resp = rapid.request("POST", "/2015-03-31/functions/nope/invocations", &[], b"{}");
    assert_eq!(resp.status, 404);
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        resp.json(),
        json!({"Type": "User", "Message": format!("Function not found: {ARN_PREFIX}nope")})
    );

    // Reserved concurrency 1: a second invoke while one runs is throttled.
    let meet = unique_path("held");
    std::fs::create_dir_all(&meet).unwrap();
    let release = meet.with_extension("release");
    let event = json!({"dir": meet, "release": release}).to_string();
    let held = {
        let addr = rapid.invoke_addr().to_owned();
        let event = event.clone();
        std::thread::spawn(move || {
            common::http::request(
                &addr,
                "POST",
                "/2015-03-31/functions/Held/invocations",
                &[],
                event.as_bytes(),
            )
        })
    };
    common::poll_until("the held invoke to run", WAIT, || {
        std::fs::read_dir(&meet).is_ok_and(|mut d| d.next().is_some())
    });
    let resp = rapid.request(
        "POST",
        "/2015-03-31/functions/Held/invocations",
        &[],
        event.as_bytes(),
    );
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("TooManyRequestsException")
    );
    std::fs::write(&release, "").unwrap();
    assert_eq!(held.join().unwrap().status, 200);

    // The control API lists every function's environments and evicts a
    // function's: RustEcho served the three invokes above in sandbox 0.
    let rust_envs = || {
        let list = rapid.request("GET", "/test/environments", &[], b"").json();
        list["Environments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["function"] == "RustEcho")
            .cloned()
            .collect::<Vec<_>>()
    };
    common::poll_until("RustEcho's environment to be idle", WAIT, || {
        rust_envs().first().is_some_and(|e| e["state"] == "idle")
    });
    let envs = rust_envs();
    assert_eq!(envs.len(), 1, "{envs:?}");
    assert_eq!(envs[0]["sandbox"], 0);
    assert_eq!(envs[0]["invokesServed"], 3);
    assert!(envs[0]["lastUsedSecondsAgo"].as_f64().is_some());
    let evicted = rapid
        .request("POST", "/test/evict?function=RustEcho", &[], b"")
        .json();
    assert_eq!(evicted, json!({"function": "RustEcho", "idleRetired": 1}));
    assert!(rust_envs().is_empty(), "evicted");
    let resp = rapid.request(
        "POST",
        "/2015-03-31/functions/RustEcho/invocations",
        &[],
        b"[2]",
    );
    assert_eq!(
        (resp.status, resp.text()),
        (200, "[2]".into()),
        "a new environment"
    );
    let resp = rapid.request("POST", "/test/evict?function=nope", &[], b"");
    assert_eq!(resp.status, 404);

    // The AWS CLI.
    let aws = venv_python().with_file_name("aws");
    let mut cmd = Command::new(&aws);
    cmd.args([
        "lambda",
        "list-functions",
        "--endpoint-url",
        &endpoint,
        "--output",
        "json",
    ])
    .env("AWS_ACCESS_KEY_ID", "test")
    .env("AWS_SECRET_ACCESS_KEY", "test")
    .env("AWS_DEFAULT_REGION", "us-east-1")
    .env("AWS_EC2_METADATA_DISABLED", "true")
    .env_remove("AWS_PROFILE")
    .env_remove("AWS_CONFIG_FILE");
    let out = output_within(
        &mut cmd,
        Duration::from_secs(60),
        "aws lambda list-functions",
    );
    assert!(
        out.status.success(),
        "aws: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = listed["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Closed", "Held", "RustEcho", "hello-py"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_of_one_function_answers_to_its_name_and_to_function() {
    let dir = unique_path("functions-dir");
    std::fs::create_dir_all(dir.join("solo")).unwrap();
    std::os::unix::fs::symlink(rust_fn("echo-fn"), dir.join("solo/bootstrap")).unwrap();
    let rapid = Rapid::start_binary(
        &binary_under_test(),
        &["--functions", dir.to_str().unwrap()],
        &[],
    );
    let resp = rapid.request("POST", common::INVOKE_PATH, &[], br#"{"via":"function"}"#);
    assert_eq!(
        (resp.status, resp.text()),
        (200, r#"{"via":"function"}"#.into())
    );
    let resp = rapid.request(
        "POST",
        "/2015-03-31/functions/solo/invocations",
        &[],
        b"[1]",
    );
    assert_eq!((resp.status, resp.text()), (200, "[1]".into()));
    let resp = rapid.request("GET", "/2015-03-31/functions/solo", &[], b"");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["Configuration"]["Runtime"], "provided.al2023");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// rapid's exit status and stderr for a set of functions it must refuse.
/// Three Python functions whose invokes hold until a file exists.
fn three_held_functions() -> String {
    let python = testdata("functions/python");
    let one = |name: &str| {
        format!(
            "  {name}:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: {}\n      Handler: handlers.hold\n      Runtime: python3.12\n",
            python.display()
        )
    };
    format!(
        "Globals:\n  Function:\n    Timeout: 60\nResources:\n{}{}{}",
        one("Alpha"),
        one("Bravo"),
        one("Charlie")
    )
}

/// The control API's list: (function, state, pids) of each environment.
fn environments(rapid: &Rapid) -> (Vec<(String, String, Vec<u32>)>, Value) {
    let list = rapid.request("GET", "/test/environments", &[], b"").json();
    let envs = list["Environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let pids = e["pids"].as_array().unwrap();
            (
                e["function"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
                pids.iter().map(|p| p.as_u64().unwrap() as u32).collect(),
            )
        })
        .collect();
    (envs, list["MaxEnvironments"].clone())
}

#[test]
fn past_max_environments_the_least_recently_used_idle_environment_of_another_function_is_retired() {
    let dir = template_dir(&three_held_functions());
    let rapid = start_template(
        &dir,
        &[
            "--max-environments",
            "2",
            "--max-sandboxes",
            "2",
            "--test-api-address",
            "127.0.0.1:0",
        ],
    );
    let endpoint = rapid.url();
    let control = rapid.listening_on("control API");
    let arrivals = unique_path("arrivals");
    std::fs::create_dir_all(&arrivals).unwrap();
    let release = arrivals.with_extension("release");
    std::fs::write(&release, "").unwrap();
    let event = json!({"dir": arrivals, "release": release}).to_string();
    let invoke = |name: &str| json!(["invoke", name, event, null]);

    // Alpha, then Bravo: two environments, idle.
    let out = boto_functions(&endpoint, &json!([invoke("Alpha"), invoke("Bravo")]));
    assert!(out.iter().all(|o| o["StatusCode"] == 200), "{out:?}");
    let (envs, cap) = environments(&rapid);
    assert_eq!(cap, json!({"Max": 2, "Used": 2}));
    let names: Vec<_> = envs.iter().map(|e| (e.0.as_str(), e.1.as_str())).collect();
    assert_eq!(names, [("Alpha", "idle"), ("Bravo", "idle")]);
    let alpha_pids = envs[0].2.clone();
    assert!(
        !alpha_pids.is_empty(),
        "the runtime's pid is listed: {envs:?}"
    );
    // The control API's own address lists them too, and takes no invoke.
    let listed = common::http::request(&control, "GET", "/test/environments", &[], b"").json();
    assert_eq!(listed["Environments"].as_array().map(Vec::len), Some(2));
    for event in [false, true] {
        let kind = [(
            "X-Amz-Invocation-Type",
            if event { "Event" } else { "RequestResponse" },
        )];
        let path = "/2015-03-31/functions/Alpha/invocations";
        let resp =
            common::http::request(&control, "POST", path, &kind, event.to_string().as_bytes());
        assert_eq!(resp.status, 404, "{}", resp.text());
    }
    // The rest of the control API acts on the function it names.
    let state = |name: &str| {
        let path = format!("/test/internalState?function={name}");
        common::http::request(&control, "GET", &path, &[], b"")
    };
    let bravo = state("Bravo");
    assert_eq!(bravo.status, 200, "{}", bravo.text());
    assert!(
        bravo.json()["runtime"]["state"]["name"].is_string(),
        "Bravo's runtime ran: {}",
        bravo.text()
    );
    let nope = state("Nope");
    assert_eq!(nope.status, 404, "{}", nope.text());

    // Charlie: Alpha's environment, used least recently, is retired for it.
    let out = boto_functions(&endpoint, &json!([invoke("Charlie")]));
    assert_eq!(out[0]["StatusCode"], 200, "{out:?}");
    let (envs, cap) = environments(&rapid);
    let names: Vec<_> = envs.iter().map(|e| (e.0.as_str(), e.1.as_str())).collect();
    assert_eq!(names, [("Bravo", "idle"), ("Charlie", "idle")]);
    assert_eq!(cap, json!({"Max": 2, "Used": 2}));
    rapid.wait_for_stderr(
        |l| l.contains("retired the least recently used idle execution environment"),
        WAIT,
    );
    common::poll_until("Alpha's runtime to have exited", WAIT, || {
        alpha_pids
            .iter()
            .all(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    });

    // A burst of six across the three: never more than two environments,
    // every invoke answered.
    std::fs::remove_file(&release).unwrap();
    let burst_arrivals = unique_path("burst");
    std::fs::create_dir_all(&burst_arrivals).unwrap();
    let event = json!({"dir": burst_arrivals, "release": release}).to_string();
    let calls: Vec<_> = ["Alpha", "Bravo", "Charlie", "Alpha", "Bravo", "Charlie"]
        .iter()
        .map(|name| json!([name, event]))
        .collect();
    let burst = {
        let endpoint = endpoint.clone();
        std::thread::spawn(move || boto_functions(&endpoint, &json!([["burst", calls]])))
    };
    common::poll_until("two held invokes to run", WAIT, || {
        std::fs::read_dir(&burst_arrivals).is_ok_and(|d| d.count() == 2)
    });
    let (envs, cap) = environments(&rapid);
    assert_eq!(cap, json!({"Max": 2, "Used": 2}), "{envs:?}");
    assert!(envs.len() <= 2, "{envs:?}");
    assert!(envs.iter().all(|e| e.1 == "busy"), "{envs:?}");
    std::fs::write(&release, "").unwrap();
    let out = burst.join().expect("the burst's thread");
    let answers = out[0]["Answers"].as_array().unwrap();
    assert_eq!(answers.len(), 6);
    for answer in answers {
        assert_eq!(answer["StatusCode"], 200, "{answers:?}");
        assert_eq!(answer["FunctionError"], Value::Null, "{answers:?}");
    }
    let (envs, _) = environments(&rapid);
    assert!(envs.len() <= 2, "{envs:?}");
    assert_eq!(
        std::fs::read_dir(&burst_arrivals).unwrap().count(),
        6,
        "each ran once"
    );
}

#[test]
fn each_function_s_metrics_carry_its_name() {
    let dir = unique_path("functions-metrics");
    for name in ["left", "right"] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::os::unix::fs::symlink(rust_fn("echo-fn"), dir.join(name).join("bootstrap")).unwrap();
    }
    let rapid = Rapid::start_binary(
        &binary_under_test(),
        &[
            "--functions",
            dir.to_str().unwrap(),
            "--metrics-address",
            "127.0.0.1:0",
        ],
        &[],
    );
    let metrics = rapid.listening_on("metrics");
    for name in ["left", "left", "right"] {
        let path = format!("/2015-03-31/functions/{name}/invocations");
        let resp = rapid.request("POST", &path, &[], b"{}");
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    let sample = |seen: &Value, key: &str| seen[key].as_f64().unwrap_or(-1.0);
    let mut seen = Value::Null;
    common::poll_until("both functions' completions in the metrics", WAIT, || {
        seen = common::http::scrape_metrics(&metrics);
        sample(&seen, "faas_invoke_duration_seconds_count{faas_name=right}") == 1.0
            && sample(&seen, "faas_invoke_duration_seconds_count{faas_name=left}") == 2.0
    });
    for (key, value) in [
        (
            "faas_invocations_total{faas_name=left,outcome=success}",
            2.0,
        ),
        (
            "faas_invocations_total{faas_name=right,outcome=success}",
            1.0,
        ),
        (
            "faas_invocations_total{faas_name=right,outcome=timeout}",
            0.0,
        ),
        ("faas_coldstarts_total{faas_name=left}", 1.0),
        ("faas_coldstarts_total{faas_name=right}", 1.0),
        ("rapid_environments{faas_name=left,state=idle}", 1.0),
        ("rapid_environments{faas_name=right,state=idle}", 1.0),
        ("rapid_invocations_in_flight{faas_name=left}", 0.0),
    ] {
        assert_eq!(sample(&seen, key), value, "{key}: {seen:#}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn refused(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(binary_under_test());
    // A PATH without aws-lambda-ric, wherever the test runs.
    cmd.args(["--runtime-interface-emulator-address", "127.0.0.1:0"])
        .args(args)
        .env("PATH", "/nonexistent");
    let out = output_within(&mut cmd, WAIT, "rapid refusing its functions");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn what_cannot_run_here_is_refused_at_start() {
    let foreign = match std::env::consts::ARCH {
        "x86_64" => "arm64",
        _ => "x86_64",
    };
    let cases = [
        ("Runtime: java21", "--runtime-command 'java21=COMMAND'"),
        (
            &format!("Runtime: provided.al2023\n      Architectures: [{foreign}]") as &str,
            foreign,
        ),
        (
            "Runtime: nodejs22.x\n      Handler: index.handler",
            "aws-lambda-ric",
        ),
        ("Runtime: provided.al2023\n      Timeout: 901", "Timeout"),
    ];
    for (properties, said) in cases {
        let dir = template_dir(&format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: rust-echo\n      {properties}\n"
        ));
        let template = dir.join("template.yaml");
        let (code, stderr) = refused(&["--template", template.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{properties}: {stderr}");
        assert!(
            stderr.contains(said),
            "{properties}: expected {said:?} in {stderr}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let (code, stderr) = refused(&["--functions", "/nonexistent-functions-dir"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--functions"), "{stderr}");

    // What serves one function is refused with many, never ignored.
    for flag in [["--drain-delay", "1"], ["--drain-timeout", "1"]] {
        let (code, stderr) = refused(&[
            flag[0],
            flag[1],
            "--functions",
            "/nonexistent-functions-dir",
        ]);
        assert_eq!(code, Some(2), "{flag:?}: {stderr}");
        assert!(
            stderr.contains(flag[0]) && stderr.contains("not supported"),
            "{flag:?}: {stderr}"
        );
    }
    let dir = template_dir(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: rust-echo\n      Runtime: provided.al2023\n",
    );
    let mut cmd = Command::new(binary_under_test());
    cmd.args(["--template", dir.join("template.yaml").to_str().unwrap()])
        .env("PORT", "8080");
    let out = output_within(&mut cmd, WAIT, "rapid refusing PORT with many functions");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("PORT"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_dev_loop_an_edited_handler_answers_the_next_invoke_and_no_timeouts() {
    let dir = unique_path("functions-watch");
    std::fs::create_dir_all(dir.join("code")).unwrap();
    let handler = dir.join("code/app.py");
    std::fs::write(
        &handler,
        "def handler(event, context):\n    return {'version': 1}\n",
    )
    .unwrap();
    let template = format!(
        "Resources:\n  Edited:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: code\n      Handler: app.handler\n      Runtime: python3.12\n  \
         Remaining:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: {}\n      Handler: handlers.context_info\n      Runtime: python3.12\n      Timeout: 3\n",
        testdata("functions/python").display()
    );
    std::fs::write(dir.join("template.yaml"), template).unwrap();
    let rapid = Rapid::start_binary(
        &binary_under_test(),
        &[
            "--template",
            dir.join("template.yaml").to_str().unwrap(),
            "--runtime-command",
            &python_override(),
            "--watch",
            "--no-timeouts",
        ],
        &[],
    );
    // --no-timeouts: said once; a 3 s function has a day to run.
    rapid.wait_for_stderr(|l| l.contains("--no-timeouts"), WAIT);
    let resp = rapid.request(
        "POST",
        "/2015-03-31/functions/Remaining/invocations",
        &[],
        b"{}",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let remaining = resp.json()["remaining_time_in_millis"].as_u64().unwrap();
    assert!(
        remaining > 3_600_000,
        "remaining {remaining} ms with --no-timeouts"
    );
    let said = rapid
        .stderr()
        .iter()
        .filter(|l| l.contains("--no-timeouts"))
        .count();
    assert_eq!(said, 1, "said once");
    let path = "/2015-03-31/functions/Edited/invocations";
    let resp = rapid.request("POST", path, &[], b"{}");
    assert_eq!(
        (resp.status, resp.text()),
        (200, r#"{"version": 1}"#.into())
    );
    // Saved as editors do: a new file renamed over the old one.
    let saved = std::time::Instant::now();
    let fresh = dir.join("code/.app.py.new");
    std::fs::write(
        &fresh,
        "def handler(event, context):\n    return {'version': 22}\n",
    )
    .unwrap();
    std::fs::rename(&fresh, &handler).unwrap();
    rapid.wait_for_stderr(
        |l| l.contains("function reloaded") && l.contains("Edited"),
        WAIT,
    );
    let resp = rapid.request("POST", path, &[], b"{}");
    assert_eq!(
        (resp.status, resp.text()),
        (200, r#"{"version": 22}"#.into())
    );
    eprintln!("save to the new code's answer: {:?}", saved.elapsed());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The JSON lines of `path` so far (none when it does not exist yet).
fn json_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn event_invokes_are_retried_and_their_records_reach_their_destinations() {
    let python = testdata("functions/python");
    let scratch = unique_path("events");
    std::fs::create_dir_all(scratch.join("flaky")).unwrap();
    let records = scratch.join("records.jsonl");
    let destinations = scratch.join("destinations.jsonl");
    let dir = template_dir(&format!(
        r#"
Globals:
  Function:
    CodeUri: {python}
    Runtime: python3.12
Resources:
  Flaky:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.flaky
      EventInvokeConfig:
        MaximumRetryAttempts: 2
        DestinationConfig:
          OnSuccess:
            Type: Lambda
            Destination: !GetAtt Recorder.Arn
  Broken:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.fail
      EventInvokeConfig:
        DestinationConfig:
          OnFailure:
            Type: Lambda
            Destination: !GetAtt Recorder.Arn
  Expiring:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.fail
      EventInvokeConfig:
        MaximumEventAgeInSeconds: 60
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: arn:aws:sqs:us-east-1:012345678912:dlq
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.record
      Environment:
        Variables:
          RECORD_FILE: {records}
  Closed:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: rust-echo
      Runtime: provided.al2023
      ReservedConcurrentExecutions: 0
"#,
        python = python.display(),
        records = records.display()
    ));
    let rapid = Rapid::start_binary(
        &binary_under_test(),
        &[
            "--template",
            dir.join("template.yaml").to_str().unwrap(),
            "--runtime-command",
            &python_override(),
            // Lambda's 1 and 2 minutes become 0.6 and 1.2 s; 60 s of age 0.6 s.
            "--async-backoff-scale",
            "0.01",
            "--async-destinations-file",
            destinations.to_str().unwrap(),
        ],
        &[],
    );
    let flaky_event = json!({"dir": scratch.join("flaky")}).to_string();
    let sent = common::fixtures::boto_invoke(
        &rapid.url(),
        &[
            "--function-name",
            "Flaky",
            "--invocation-type",
            "Event",
            "--payload",
            &flaky_event,
        ],
    );
    assert_eq!(sent[0]["StatusCode"], 202, "{sent:?}");
    let event = [("X-Amz-Invocation-Type", "Event")];
    for name in ["Broken", "Expiring", "Closed"] {
        let path = format!("/2015-03-31/functions/{name}/invocations");
        let resp = rapid.request("POST", &path, &event, br#"{"to": "fail"}"#);
        assert_eq!(resp.status, 202, "{name}: {}", resp.text());
        assert!(resp.header("x-amzn-requestid").is_some());
    }
    let generous = Duration::from_secs(60);
    common::poll_until("the Success and RetriesExhausted records", generous, || {
        json_lines(&records).len() >= 2
    });
    common::poll_until("the EventAgeExceeded record", generous, || {
        !json_lines(&destinations).is_empty()
    });
    let recorded = json_lines(&records);
    let of = |condition: &str| {
        recorded
            .iter()
            .find(|r| r["requestContext"]["condition"] == condition)
            .unwrap_or_else(|| panic!("no {condition} record in {recorded:#?}"))
            .clone()
    };
    let success = of("Success");
    assert_eq!(success["version"], "1.0");
    assert_eq!(
        success["requestContext"]["functionArn"],
        format!("{ARN_PREFIX}Flaky:$LATEST")
    );
    assert_eq!(
        success["requestContext"]["approximateInvokeCount"], 3,
        "failed twice, then succeeded"
    );
    assert_eq!(
        success["requestPayload"],
        serde_json::from_str::<Value>(&flaky_event).unwrap()
    );
    assert_eq!(
        success["responseContext"],
        json!({"statusCode": 200, "executedVersion": "$LATEST"})
    );
    assert_eq!(success["responsePayload"], json!({"tries": 3}));
    let exhausted = of("RetriesExhausted");
    assert_eq!(
        exhausted["requestContext"]["functionArn"],
        format!("{ARN_PREFIX}Broken:$LATEST")
    );
    assert_eq!(
        exhausted["requestContext"]["approximateInvokeCount"], 3,
        "two retries by default"
    );
    assert_eq!(exhausted["responseContext"]["functionError"], "Unhandled");
    assert_eq!(exhausted["responsePayload"]["errorType"], "ValueError");
    assert_eq!(exhausted["requestPayload"], json!({"to": "fail"}));

    let expired = &json_lines(&destinations)[0];
    assert_eq!(
        expired["destination"],
        "arn:aws:sqs:us-east-1:012345678912:dlq"
    );
    assert_eq!(
        expired["record"]["requestContext"]["condition"],
        "EventAgeExceeded"
    );
    assert_eq!(
        expired["record"]["requestContext"]["approximateInvokeCount"],
        1
    );

    // The throttled event of Closed is still waiting: written out at
    // shutdown, not lost.
    rapid.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(rapid.wait_exit(generous).success());
    let lines = json_lines(&destinations);
    let undelivered: Vec<_> = lines
        .iter()
        .filter(|l| l.get("undelivered").is_some())
        .collect();
    assert_eq!(undelivered.len(), 1, "{lines:#?}");
    assert_eq!(undelivered[0]["undelivered"]["function"], "Closed");
    assert_eq!(
        undelivered[0]["undelivered"]["requestPayload"],
        json!({"to": "fail"})
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&scratch).unwrap();
}
