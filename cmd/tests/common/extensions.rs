//! External extensions for the tests: a temporary extensions directory filled
//! with the scripted extension (testdata/extensions/scripted.py) and the
//! `ext-recorder` and `ext-telemetry` binaries (testdata/rust-ext), and the record file where they
//! write one JSON line per step (`kind`: start, registered, api, event,
//! released, ...; `ext`: the extension's name).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{process_is_gone, rust_fn, testdata, unique_path, WAIT};

/// A fresh extensions directory, removed when dropped.
pub struct ExtDir {
    path: PathBuf,
}

impl ExtDir {
    pub fn new() -> ExtDir {
        let path = unique_path("extensions");
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        ExtDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn as_str(&self) -> &str {
        self.path.to_str().expect("temporary paths are UTF-8")
    }

    /// Adds the scripted extension as `name` (a copy, so it is a regular
    /// file that registers under that name).
    pub fn add_scripted(&self, name: &str) -> &ExtDir {
        let dest = self.path.join(name);
        std::fs::copy(testdata("extensions/scripted.py"), &dest)
            .unwrap_or_else(|e| panic!("copy the scripted extension to {}: {e}", dest.display()));
        set_mode(&dest, 0o755);
        self
    }

    /// Adds the `ext-recorder` binary as `name` (the lambda-extension crate
    /// registers under the file name of `argv[0]`).
    pub fn add_recorder(&self, name: &str) -> &ExtDir {
        let src = rust_fn("ext-recorder");
        let dest = self.path.join(name);
        if std::fs::hard_link(&src, &dest).is_err() {
            std::fs::copy(&src, &dest)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dest.display()));
        }
        set_mode(&dest, 0o755);
        self
    }

    /// Adds the `ext-telemetry` binary (a Telemetry API subscriber on the
    /// lambda-extension crate) as `name`.
    pub fn add_telemetry(&self, name: &str) -> &ExtDir {
        let src = rust_fn("ext-telemetry");
        let dest = self.path.join(name);
        if std::fs::hard_link(&src, &dest).is_err() {
            std::fs::copy(&src, &dest)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dest.display()));
        }
        set_mode(&dest, 0o755);
        self
    }

    /// Adds a file with `contents` and permission bits `mode`.
    pub fn add_file(&self, name: &str, contents: &str, mode: u32) -> &ExtDir {
        let dest = self.path.join(name);
        std::fs::write(&dest, contents).unwrap_or_else(|e| panic!("write {}: {e}", dest.display()));
        set_mode(&dest, mode);
        self
    }
}

impl Default for ExtDir {
    fn default() -> Self {
        ExtDir::new()
    }
}

impl Drop for ExtDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// How often the record file is read while waiting for a line.
const RECORD_POLL: Duration = Duration::from_millis(20);

/// The file the extensions append their records to (`EXT_RECORD_FILE`).
pub struct Records {
    path: PathBuf,
}

impl Records {
    pub fn new() -> Records {
        Records {
            path: unique_path("ext-records"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn as_str(&self) -> &str {
        self.path.to_str().expect("temporary paths are UTF-8")
    }

    /// Every complete record so far, in the order they were written.
    pub fn all(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The records of extension `ext` with `kind`.
    pub fn of(&self, ext: &str, kind: &str) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|r| r["ext"] == ext && r["kind"] == kind)
            .collect()
    }

    /// Waits until `n` records match `pred` and returns the first `n`;
    /// panics with every record after [`WAIT`].
    pub fn wait_n(&self, what: &str, n: usize, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let all = self.all();
            let found: Vec<Value> = all.iter().filter(|r| pred(r)).cloned().collect();
            if found.len() >= n {
                return found[..n].to_vec();
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {WAIT:?} for {n} record(s) of {what}, found {}. Records:\n{}",
                    found.len(),
                    all.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            // A bounded poll of a file the extensions append to: files have
            // no change event to wait on.
            std::thread::sleep(RECORD_POLL); // ok: bounded poll of a file
        }
    }

    /// Waits for the first record matching `pred`.
    pub fn wait(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_n(what, 1, pred).remove(0)
    }

    /// Waits for the `n`-th (1-based) record of `ext` with `kind`.
    pub fn wait_kind(&self, ext: &str, kind: &str, n: usize) -> Value {
        let what = format!("{ext} {kind} #{n}");
        self.wait_n(&what, n, |r| r["ext"] == ext && r["kind"] == kind)
            .pop()
            .expect("wait_n returns n records")
    }

    /// Waits for the event `event_type` of `ext` whose `key` is `value`
    /// (e.g. INVOKE with requestId, SHUTDOWN with shutdownReason).
    pub fn wait_event(&self, ext: &str, event_type: &str, key: &str, value: &str) -> Value {
        let what = format!("{ext} {event_type} with {key} {value}");
        self.wait(&what, |r| {
            r["ext"] == ext
                && r["kind"] == "event"
                && r["eventType"] == event_type
                && r[key] == value
        })
    }

    /// Waits for the answer `ext` recorded for its API call `call`.
    pub fn wait_api(&self, ext: &str, call: &str) -> Value {
        let what = format!("{ext} answer to {call}");
        self.wait(&what, |r| {
            r["ext"] == ext && r["kind"] == "api" && r["call"] == call
        })
    }

    /// The events of type `event_type` that `ext` received so far.
    pub fn events(&self, ext: &str, event_type: &str) -> Vec<Value> {
        self.of(ext, "event")
            .into_iter()
            .filter(|r| r["eventType"] == event_type)
            .collect()
    }

    /// The pids of every extension process that started (`start` records).
    pub fn pids(&self) -> Vec<u32> {
        self.all()
            .iter()
            .filter(|r| r["kind"] == "start")
            .filter_map(|r| r["pid"].as_u64())
            .map(|p| p as u32)
            .collect()
    }

    /// The pid of the `n`-th (1-based) process of extension `ext`.
    pub fn wait_pid(&self, ext: &str, n: usize) -> u32 {
        let start = self.wait_kind(ext, "start", n);
        start["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("no pid in {start}")) as u32
    }

    /// Panics naming every extension process that still runs.
    pub fn assert_all_gone(&self) {
        let left: Vec<u32> = self
            .pids()
            .into_iter()
            .filter(|p| !process_is_gone(*p))
            .collect();
        assert!(
            left.is_empty(),
            "extension processes left behind: {left:?} (records: {:#?})",
            self.all()
        );
    }
}

impl Default for Records {
    fn default() -> Self {
        Records::new()
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Asserts an Extensions API error answer as recorded by the scripted
/// extension: `status`, a JSON body with `errorType` == `error_type` and an
/// `errorMessage`.
pub fn assert_api_error(answer: &Value, status: u16, error_type: &str) {
    assert_eq!(answer["status"], status, "status of {answer}");
    assert_eq!(answer["errorType"], error_type, "error type of {answer}");
    assert!(
        answer["body"]["errorMessage"].is_string(),
        "error body has an errorMessage: {answer}"
    );
}
