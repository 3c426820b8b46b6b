//! The static rapid (`scripts/build-static`) needs nothing from its image.
//!
//! Each test lays out a root that holds only the static rapid, installed as
//! AWS's base images install their emulator (`/usr/local/bin/aws-lambda-rie`),
//! a static runtime at `/var/runtime/bootstrap` (testdata/runtimes/
//! static_echo.rs, built here with `rustc -C target-feature=+crt-static`) and
//! an empty `/var/task`: no libc, no loader, no /etc, no /dev (so no
//! /dev/urandom and no /dev/null), no /proc, no /tmp. rapid runs there as
//! PID 1 of a PID namespace (`unshare --pid --fork --root`), is invoked from
//! outside over 127.0.0.1, stopped with SIGTERM, and must exit 0 leaving no
//! process behind.
//!
//! The tests skip, saying why, where the machine does not allow them (not
//! root, no `unshare`) or when the static binary was not built. On CI
//! (`CI` set) a missing static binary is a failure: `scripts/test` (the
//! whole suite) builds it.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Where the static rapid goes inside the root: the path AWS's base images
/// give their aws-lambda-rie, and the name their entrypoint calls.
const RIE_PATH: &str = "/usr/local/bin/aws-lambda-rie";
/// Where AWS's base images keep their runtime's bootstrap.
const BOOTSTRAP_PATH: &str = "/var/runtime/bootstrap";

/// What AWS's Lambda base images set in their Dockerfiles (ENV and
/// WORKDIR /var/task); their /lambda-entrypoint.sh adds `_HANDLER` from its
/// argument and runs `aws-lambda-rie /var/runtime/bootstrap`.
const BASE_IMAGE_ENV: &[(&str, &str)] = &[
    ("LANG", "en_US.UTF-8"),
    ("TZ", ":/etc/localtime"),
    ("PATH", "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
    (
        "LD_LIBRARY_PATH",
        "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    ),
    ("LAMBDA_TASK_ROOT", "/var/task"),
    ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
];

/// The static rapid, or why the tests cannot run here.
fn static_rapid() -> Result<PathBuf, String> {
    // /proc/self belongs to the process's effective user.
    let uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if uid.ok() != Some(0) {
        return Err("needs root (unshare --pid and a change of root)".into());
    }
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "true"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(format!(
                "`unshare --pid --fork` does not work here ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
        Err(e) => return Err(format!("cannot run unshare (util-linux): {e}")),
    }
    static_parts::static_rapid_path()
}

/// Prints why a test did not run, past cargo's capture of `println!`.
fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "static_binary::{test} skipped: {reason}");
}

/// testdata/runtimes/static_echo.rs built as one static executable (once).
fn static_bootstrap() -> PathBuf {
    static_parts::static_program("runtimes/static_echo.rs")
}

/// A root with nothing but rapid as aws-lambda-rie, the bootstrap and an
/// empty /var/task; removed on drop.
struct EmptyRoot {
    dir: PathBuf,
}

impl EmptyRoot {
    fn new(rapid: &Path) -> EmptyRoot {
        let dir = unique_path("empty-root");
        let root = EmptyRoot { dir };
        for (from, to) in [
            (rapid, RIE_PATH),
            (static_bootstrap().as_path(), BOOTSTRAP_PATH),
        ] {
            let to = root.path(to);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy to {}: {e}", to.display()));
        }
        std::fs::create_dir_all(root.path("/var/task")).unwrap();
        root
    }

    /// `inside` (an absolute path in the root) as seen from outside.
    fn path(&self, inside: &str) -> PathBuf {
        self.dir.join(inside.trim_start_matches('/'))
    }

    /// Every file and directory in the root, relative to it.
    fn listing(&self) -> BTreeSet<String> {
        fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                out.insert(path.strip_prefix(base).unwrap().display().to_string());
                if path.is_dir() {
                    walk(base, &path, out);
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.dir, &self.dir, &mut out);
        out
    }

    /// `unshare` with rapid as PID 1 of a new PID namespace, rooted here,
    /// in /var/task (the base images' WORKDIR).
    fn unshare(&self) -> Vec<String> {
        ["unshare", "--pid", "--fork", "--kill-child", "--root"]
            .iter()
            .map(|s| s.to_string())
            .chain([self.dir.display().to_string(), "--wd=/var/task".into()])
            .collect()
    }

    /// The pids of processes whose root directory is this root.
    fn processes_inside(&self) -> Vec<u32> {
        let Ok(canonical) = self.dir.canonicalize() else {
            return Vec::new();
        };
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        procs
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r == canonical)
            })
            .collect()
    }
}

impl Drop for EmptyRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stops rapid with SIGTERM and checks the clean exit: status 0, no process
/// of its tree (recorded while it ran) alive, none left in the root, and no
/// file added to the root.
fn stop_and_check_clean(rapid: Rapid, root: &EmptyRoot, before: &BTreeSet<String>) {
    let mut tree = descendants(rapid.pid());
    tree.push(rapid.pid());
    assert!(
        tree.len() >= 2,
        "rapid has its runtime as a child before SIGTERM: {tree:?}"
    );
    rapid.signal(Signal::SIGTERM);
    let status = rapid.wait_exit(WAIT);
    assert_eq!(
        status.code(),
        Some(0),
        "the static rapid exits 0 on SIGTERM: {status:?}\nstderr:\n{}",
        rapid.stderr().join("\n")
    );
    let alive: Vec<u32> = tree
        .iter()
        .copied()
        .filter(|pid| !process_is_gone(*pid))
        .collect();
    assert!(
        alive.is_empty(),
        "left behind after exit: {alive:?} of {tree:?}"
    );
    assert_eq!(
        root.processes_inside(),
        Vec::<u32>::new(),
        "processes still running in the root"
    );
    assert_eq!(&root.listing(), before, "rapid added files to its image");
}

/// rapid's namespace pid (the last NSpid field), read from outside.
fn namespace_pid(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last().map(str::to_owned)
}

#[test]
fn runs_as_pid_1_in_an_empty_root_and_exits_clean() {
    let rapid_bin = match static_rapid() {
        Ok(path) => path,
        Err(reason) => return skip("runs_as_pid_1_in_an_empty_root_and_exits_clean", &reason),
    };
    let root = EmptyRoot::new(&rapid_bin);
    let before = root.listing();
    let wrapper = root.unshare();
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let rapid = Rapid::start_program(
        &wrapper,
        RIE_PATH,
        &[
            "--runtime-interface-emulator-address",
            "127.0.0.1:0",
            "--runtime-api-address",
            "127.0.0.1:0",
            BOOTSTRAP_PATH,
            "app.handler",
        ],
        &[],
    );
    assert_eq!(
        namespace_pid(rapid.pid()).as_deref(),
        Some("1"),
        "rapid is PID 1 of its namespace"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{}/root", rapid.pid())).ok(),
        root.dir.canonicalize().ok(),
        "rapid runs inside the empty root"
    );

    // The first invoke needs a request id (random bytes without
    // /dev/urandom) and a runtime started without /dev/null.
    for n in 0..3 {
        let event = format!(r#"{{"n":{n},"where":"empty root"}}"#);
        let resp = rapid.invoke(event.as_bytes(), &[]);
        let body = assert_success(&resp);
        assert!(logs::is_uuid(&request_id(&resp)), "{resp:?}");
        assert_eq!(body["event"]["n"], n, "{body}");
        assert_eq!(body["handler"], "app.handler", "{body}");
        assert_eq!(body["cwd"], "/var/task", "{body}");
        assert_eq!(
            body["argv"],
            serde_json::json!([BOOTSTRAP_PATH, "app.handler"]),
            "{body}"
        );
    }
    let report = rapid.wait_for_stdout(|l| l.starts_with("REPORT RequestId:"), WAIT);
    assert!(report.contains("Init Duration"), "{report}");

    stop_and_check_clean(rapid, &root, &before);
}

#[test]
fn starts_as_the_base_images_entrypoint_starts_aws_lambda_rie() {
    let rapid_bin = match static_rapid() {
        Ok(path) => path,
        Err(reason) => {
            return skip(
                "starts_as_the_base_images_entrypoint_starts_aws_lambda_rie",
                &reason,
            )
        }
    };
    let root = EmptyRoot::new(&rapid_bin);
    let before = root.listing();
    let wrapper = root.unshare();
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    // /lambda-entrypoint.sh: `export _HANDLER="$1"` then
    // `exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap`. The
    // addresses come from the environment so that the command line is the
    // entrypoint's; `localhost` must work without /etc/hosts or NSS.
    let mut env: Vec<(&str, &str)> = BASE_IMAGE_ENV.to_vec();
    env.extend([
        ("_HANDLER", "app.handler"),
        ("RAPID_RUNTIME_INTERFACE_EMULATOR_ADDRESS", "127.0.0.1:0"),
        ("RAPID_RUNTIME_API_ADDRESS", "localhost:0"),
    ]);
    let rapid = Rapid::start_program(&wrapper, RIE_PATH, &[BOOTSTRAP_PATH], &env);
    assert!(
        rapid.api_addr().starts_with("127.0.0.1:"),
        "localhost is 127.0.0.1: {}",
        rapid.api_addr()
    );

    let resp = rapid.invoke(br#"{"from":"curl"}"#, &[]);
    let body = assert_success(&resp);
    assert_eq!(body["event"]["from"], "curl", "{body}");
    assert_eq!(
        body["handler"], "app.handler",
        "_HANDLER reaches the runtime: {body}"
    );
    assert_eq!(body["argv"], serde_json::json!([BOOTSTRAP_PATH]), "{body}");
    assert_eq!(body["cwd"], "/var/task", "{body}");
    for (name, value) in BASE_IMAGE_ENV {
        if *name != "LD_LIBRARY_PATH" {
            assert_eq!(body["env"][name], *value, "{name} from the image: {body}");
        }
    }

    // A runtime that crashes is restarted in the empty root too.
    let crash = rapid.invoke(br#"{"action":"crash"}"#, &[]);
    assert_function_error(&crash, "Runtime.ExitError");
    assert_success(&rapid.invoke(b"{}", &[]));

    stop_and_check_clean(rapid, &root, &before);
}

#[test]
fn version_names_the_commit() {
    let version = |binary: &Path| {
        let out = Command::new(binary).arg("--version").output().unwrap();
        assert!(out.status.success(), "{}: {out:?}", binary.display());
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(repo_root())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let expected = format!(
        "rapid {} (commit {})",
        env!("CARGO_PKG_VERSION"),
        commit.as_deref().unwrap_or("unknown")
    );
    assert_eq!(version(Path::new(env!("CARGO_BIN_EXE_rapid"))), expected);
    // The static build says the same when it is up to date; a stale one
    // still names a commit.
    if let Ok(static_bin) = static_rapid() {
        let text = version(&static_bin);
        assert!(
            text.starts_with(&format!("rapid {} (commit ", env!("CARGO_PKG_VERSION")))
                && text.ends_with(')'),
            "{}: {text}",
            static_bin.display()
        );
    }
}
