//! The harness for rapid's integration tests: start the real `rapid` binary
//! on ephemeral loopback ports, learn its addresses from its stderr, invoke it
//! over HTTP, and wait for lines on its stdout.
//!
//! Everything waits on an event (a line, a response, an exit) with a generous
//! bound that only turns a hang into a failure; nothing sleeps.

// Each test file uses a different part of the harness.
#![allow(dead_code)]

pub mod docker;
pub mod emulator;
pub mod extensions;
pub mod fixtures;
pub mod http;
pub mod invokers;
pub mod logs;
pub mod static_parts;
pub mod subscriber;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use fixtures::*;
pub use http::Resp;
pub use logs::Report;
pub use nix::sys::signal::Signal;

/// How long rapid may take to print that it accepts invokes (milliseconds
/// on a quiet machine).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// The bound on waiting for a line, a record, an exit, etc. that follows
/// within milliseconds on a quiet machine: generous for a loaded 2-core
/// machine (a Python extension's start took over 10 s once at load 12),
/// yet short enough that a hang fails in seconds, not minutes.
pub const WAIT: Duration = Duration::from_secs(30);
/// How long a "must not happen" condition is held when nothing observable
/// marks the end of the window in which it would happen if the rule broke.
pub const HOLD: Duration = Duration::from_secs(1);

/// How often [`poll_until`] and [`holds_for`] look again at a condition
/// that has no change event (a file, `/proc`).
pub const POLL: Duration = Duration::from_millis(20);

/// Waits until `ready()` holds, looking every [`POLL`]; panics naming
/// `what` after `within`.
pub fn poll_until(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        thread::sleep(POLL); // ok: a file or /proc has no change event
    }
}

/// Checks `still()` every [`POLL`] for `window` (a rule that forbids a
/// change nothing would announce); panics naming `what` when it fails.
pub fn holds_for(what: &str, window: Duration, mut still: impl FnMut() -> bool) {
    let until = Instant::now() + window;
    while Instant::now() < until {
        assert!(still(), "{what}");
        thread::sleep(POLL); // ok: the window in which a change would show
    }
}

/// The front-door path rapid (like RIE) serves invokes on.
pub const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

/// Variables of the test's own environment that reach rapid; everything else
/// is dropped so the developer's AWS_* settings cannot change a result.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "RUST_BACKTRACE",
    "RUST_LOG",
];

/// Lines of one output stream, appended by a reader thread.
#[derive(Default)]
pub struct Lines {
    state: Mutex<LinesState>,
    changed: Condvar,
}

#[derive(Default)]
struct LinesState {
    lines: Vec<String>,
    closed: bool,
}

impl Lines {
    fn push(&self, line: String) {
        self.state.lock().unwrap().lines.push(line);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.changed.notify_all();
    }

    pub fn all(&self) -> Vec<String> {
        self.state.lock().unwrap().lines.clone()
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().unwrap().closed
    }

    /// Waits until `check` finds what it wants in the lines read so far.
    /// Returns `Err(lines)` when the stream closed or `timeout` passed first.
    pub fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[String]) -> Option<T>,
    ) -> Result<T, Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(found) = check(&state.lines) {
                return Ok(found);
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return Err(state.lines.clone());
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        while !state.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
        true
    }
}

/// The exit status of the spawned process, once a waiter thread reaped it.
#[derive(Default)]
struct Exit {
    status: Mutex<Option<ExitStatus>>,
    changed: Condvar,
}

/// A running `rapid` (possibly under a wrapper such as `unshare`).
pub struct Rapid {
    /// The process spawned: rapid itself, or the wrapper.
    spawned_pid: u32,
    /// rapid's own pid (differs from `spawned_pid` under a wrapper).
    rapid_pid: u32,
    api_addr: String,
    invoke_addr: String,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
    exit: Arc<Exit>,
    threads: Vec<JoinHandle<()>>,
}

impl Rapid {
    /// Starts `rapid --runtime-interface-emulator-address 127.0.0.1:0
    /// --runtime-api-address 127.0.0.1:0 ARGS...` with `env` added to a
    /// minimal environment, and waits until it accepts invokes.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Rapid {
        Self::start_wrapped(&[], args, env)
    }

    /// Like [`Rapid::start`], with the command prefixed by `wrapper` (e.g.
    /// `unshare --pid --fork ...`), whose last process must be rapid.
    pub fn start_wrapped(wrapper: &[&str], args: &[&str], env: &[(&str, &str)]) -> Rapid {
        let mut argv = vec![
            "--runtime-interface-emulator-address",
            "127.0.0.1:0",
            "--runtime-api-address",
            "127.0.0.1:0",
        ];
        argv.extend_from_slice(args);
        Self::start_program(wrapper, env!("CARGO_BIN_EXE_rapid"), &argv, env)
    }

    /// Spawns `argv` with `env` added to a minimal environment, its output
    /// read line by line and its exit awaited by threads; the addresses are
    /// for the caller to fill in.
    fn spawn(argv: &[&str], env: &[(&str, &str)]) -> Rapid {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in KEPT_ENV {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child: Child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {argv:?}: {e}"));

        let stdout = Arc::new(Lines::default());
        let stderr = Arc::new(Lines::default());
        let exit = Arc::new(Exit::default());
        let threads = vec![
            read_lines(child.stdout.take().expect("piped stdout"), stdout.clone()),
            read_lines(child.stderr.take().expect("piped stderr"), stderr.clone()),
        ];
        let spawned_pid = child.id();
        let mut rapid = Rapid {
            spawned_pid,
            rapid_pid: spawned_pid,
            api_addr: String::new(),
            invoke_addr: String::new(),
            stdout,
            stderr,
            exit: exit.clone(),
            threads,
        };
        rapid.threads.push(thread::spawn(move || {
            let status = child.wait().expect("wait for rapid");
            *exit.status.lock().unwrap() = Some(status);
            exit.changed.notify_all();
        }));

        rapid
    }

    /// Starts `wrapper... program args...` (`program` being a rapid binary,
    /// under any name, whose address flags are in `args`) with `env` added
    /// to a minimal environment, and waits until it accepts invokes.
    pub fn start_program(
        wrapper: &[&str],
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Rapid {
        let mut argv: Vec<&str> = wrapper.to_vec();
        argv.push(program);
        argv.extend_from_slice(args);
        let mut rapid = Rapid::spawn(&argv, env);
        let addrs = rapid.stderr.wait_until(STARTUP_TIMEOUT, |lines| {
            let api = lines.iter().find_map(|l| listen_addr(l, "runtime API"))?;
            let invokes = lines.iter().find_map(|l| listen_addr(l, "invokes"))?;
            Some((api, invokes))
        });
        match addrs {
            Ok((api, invokes)) => {
                rapid.api_addr = api;
                rapid.invoke_addr = invokes;
            }
            Err(lines) => panic!(
                "rapid {argv:?} did not print its listening lines within {STARTUP_TIMEOUT:?} \
                 (exit: {:?}).\nstderr:\n{}\nstdout:\n{}",
                rapid.exit_status(),
                lines.join("\n"),
                rapid.stdout.all().join("\n")
            ),
        }
        if !wrapper.is_empty() {
            rapid.rapid_pid = last_descendant(rapid.spawned_pid)
                .unwrap_or_else(|| panic!("no rapid process under wrapper {wrapper:?}"));
        }
        rapid
    }

    /// rapid running the stdlib scripted runtime (testdata/runtimes/scripted.py).
    pub fn scripted(flags: &[&str], env: &[(&str, &str)]) -> Rapid {
        let cmd = scripted_command();
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(cmd.iter().map(String::as_str));
        Rapid::start(&args, env)
    }

    /// The front door's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.invoke_addr)
    }

    /// The front door's `host:port`.
    pub fn invoke_addr(&self) -> &str {
        &self.invoke_addr
    }

    /// The Runtime API's `host:port`.
    pub fn api_addr(&self) -> &str {
        &self.api_addr
    }

    /// rapid's pid (in the test's PID namespace).
    pub fn pid(&self) -> u32 {
        self.rapid_pid
    }

    /// Invokes the function: POST `body` to the front door with `headers`.
    pub fn invoke(&self, body: &[u8], headers: &[(&str, &str)]) -> Resp {
        self.request("POST", INVOKE_PATH, headers, body)
    }

    /// Like [`Rapid::invoke`], returning I/O failures instead of panicking.
    pub fn try_invoke(&self, body: &[u8], headers: &[(&str, &str)]) -> std::io::Result<Resp> {
        http::try_request(&self.invoke_addr, "POST", INVOKE_PATH, headers, body)
    }

    /// Invokes with a JSON event and no extra headers.
    pub fn invoke_json(&self, event: &serde_json::Value) -> Resp {
        self.invoke(event.to_string().as_bytes(), &[])
    }

    /// Any request to the front door.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        http::request(&self.invoke_addr, method, path, headers, body)
    }

    /// Any request to the Runtime API server (as a runtime would send it).
    pub fn api_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        http::request(&self.api_addr, method, path, headers, body)
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.all()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.all()
    }

    /// Waits for a stdout line matching `pred` (any line so far counts) and
    /// returns it; panics with all output after `timeout`.
    pub fn wait_for_stdout(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> String {
        self.wait_for_stdout_n(pred, 1, timeout).remove(0)
    }

    /// Waits for a stderr line (rapid's own log) matching `pred`; panics
    /// with all output after `timeout`.
    pub fn wait_for_stderr(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> String {
        self.stderr
            .wait_until(timeout, |lines| lines.iter().find(|l| pred(l)).cloned())
            .unwrap_or_else(|lines| {
                panic!(
                    "no matching stderr line within {timeout:?}.\nstderr:\n{}",
                    lines.join("\n")
                )
            })
    }

    /// The address rapid says `what` (`control API`, `metrics`, `web
    /// traffic`) listens on, once it says it.
    pub fn listening_on(&self, what: &str) -> String {
        let line = self.wait_for_stderr(|l| listen_addr(l, what).is_some(), WAIT);
        listen_addr(&line, what).unwrap_or_default()
    }

    /// Waits until `n` stdout lines match `pred`; returns the first `n`.
    pub fn wait_for_stdout_n(
        &self,
        pred: impl Fn(&str) -> bool,
        n: usize,
        timeout: Duration,
    ) -> Vec<String> {
        let found = self.stdout.wait_until(timeout, |lines| {
            let matching: Vec<String> = lines.iter().filter(|l| pred(l)).cloned().collect();
            (matching.len() >= n).then(|| matching[..n].to_vec())
        });
        found.unwrap_or_else(|lines| {
            panic!(
                "waited {timeout:?} for {n} matching stdout line(s) (stream closed: {}).\n\
                 stdout:\n{}\nstderr:\n{}",
                self.stdout.is_closed(),
                lines.join("\n"),
                self.stderr.all().join("\n")
            )
        })
    }

    /// The REPORT line of `request_id`, once printed; panics naming the
    /// request and with all output after [`WAIT`].
    pub fn wait_for_report(&self, request_id: &str) -> Report {
        let line = self
            .stdout
            .wait_until(WAIT, |lines| {
                lines
                    .iter()
                    .find(|l| logs::is_report_of(l, request_id))
                    .cloned()
            })
            .unwrap_or_else(|lines| {
                panic!(
                    "no REPORT line for request {request_id} within {WAIT:?} (stream closed: {}).\n\
                     stdout:\n{}\nstderr:\n{}",
                    self.stdout.is_closed(),
                    lines.join("\n"),
                    self.stderr.all().join("\n")
                )
            });
        Report::parse(&line).expect("REPORT line parses")
    }

    /// Asserts that no stdout line matches `pred` during `window` (nor
    /// before it): waits on new lines, so a line that breaks the rule fails
    /// the test as soon as it is printed. `what` says what must not happen.
    pub fn assert_no_stdout_during(
        &self,
        what: &str,
        window: Duration,
        pred: impl Fn(&str) -> bool,
    ) {
        if let Ok(line) = self
            .stdout
            .wait_until(window, |lines| lines.iter().find(|l| pred(l)).cloned())
        {
            panic!(
                "{what}, but rapid printed {line:?}.\nstdout:\n{}\nstderr:\n{}",
                self.stdout.all().join("\n"),
                self.stderr.all().join("\n")
            );
        }
    }

    /// Like [`Rapid::assert_no_stdout_during`], for rapid's own log.
    pub fn assert_no_stderr_during(
        &self,
        what: &str,
        window: Duration,
        pred: impl Fn(&str) -> bool,
    ) {
        if let Ok(line) = self
            .stderr
            .wait_until(window, |lines| lines.iter().find(|l| pred(l)).cloned())
        {
            panic!(
                "{what}, but rapid logged {line:?}.\nstderr:\n{}",
                self.stderr.all().join("\n")
            );
        }
    }

    /// How many stdout lines so far match `pred`.
    pub fn count_stdout(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.stdout.all().iter().filter(|l| pred(l)).count()
    }

    /// Sends `sig` to rapid itself.
    pub fn signal(&self, sig: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.rapid_pid as i32), sig)
            .unwrap_or_else(|e| panic!("kill({}, {sig}) failed: {e}", self.rapid_pid));
    }

    /// The exit status if the spawned process has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.status.lock().unwrap()
    }

    /// Waits for the spawned process to exit and for its output to be read
    /// to the end; panics with all output after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let mut status = self.exit.status.lock().unwrap();
        while status.is_none() {
            let now = Instant::now();
            if now >= deadline {
                drop(status);
                panic!(
                    "rapid did not exit within {timeout:?}.\nstdout:\n{}\nstderr:\n{}",
                    self.stdout.all().join("\n"),
                    self.stderr.all().join("\n")
                );
            }
            status = self
                .exit
                .changed
                .wait_timeout(status, deadline - now)
                .unwrap()
                .0;
        }
        let status = status.expect("checked above");
        // Output written just before the exit is still in the pipes. A
        // leaked grandchild holding the pipe open would keep it from closing,
        // which tests that care about leaks check on their own.
        let rest = deadline.saturating_duration_since(Instant::now());
        self.stdout.wait_closed(rest);
        self.stderr.wait_closed(rest);
        status
    }
}

impl Drop for Rapid {
    fn drop(&mut self) {
        // Whether rapid had ended by itself when the test failed is a
        // finding of its own.
        let ended = self.exit_status();
        if ended.is_none() {
            // Whatever rapid started must not outlive the test, even if rapid
            // itself is broken: note its process tree before killing it,
            // with each process's start time, so that a pid the kernel has
            // handed to another process meanwhile (another test's rapid:
            // pids wrap at 32,768 here) is left alone.
            let tree: Vec<(u32, Option<u64>)> = descendants(self.spawned_pid)
                .into_iter()
                .map(|pid| (pid, start_time(pid)))
                .collect();
            kill(self.spawned_pid, Signal::SIGKILL);
            let status = self.exit.status.lock().unwrap();
            let _ = self
                .exit
                .changed
                .wait_timeout_while(status, WAIT, |s| s.is_none());
            for (pid, started) in tree {
                if started.is_some() && start_time(pid) == started {
                    kill(pid, Signal::SIGKILL);
                }
            }
        }
        if thread::panicking() {
            // All rapid wrote: its pipes close once it and its children
            // are gone (a leaked process holding one open costs the wait).
            self.stdout.wait_closed(Duration::from_secs(5));
            self.stderr.wait_closed(Duration::from_secs(5));
            let end = match ended {
                Some(status) => format!("rapid had ended by itself: {status:?}"),
                None => "rapid was running; the test killed it".to_owned(),
            };
            eprintln!(
                "---- rapid stdout ----\n{}\n---- rapid stderr ----\n{}\n---- {end} ----",
                self.stdout.all().join("\n"),
                self.stderr.all().join("\n")
            );
        }
        for t in self.threads.drain(..) {
            // Reader threads end when the pipes close; a leaked process could
            // hold them open, so only join what has finished.
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn read_lines(stream: impl Read + Send + 'static, sink: Arc<Lines>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    sink.push(String::from_utf8_lossy(&buf).into_owned());
                }
            }
        }
        sink.close();
    })
}

/// The request id rapid answered an invoke with (`X-Amzn-RequestId`).
pub fn request_id(resp: &Resp) -> String {
    resp.header("x-amzn-requestid")
        .unwrap_or_else(|| panic!("no X-Amzn-RequestId in {resp:?}"))
        .to_string()
}

/// Asserts a function error answer: 200, `X-Amz-Function-Error: Unhandled`,
/// a JSON body with `errorType` == `error_type`; returns the body.
pub fn assert_function_error(resp: &Resp, error_type: &str) -> serde_json::Value {
    assert_eq!(resp.status, 200, "function errors answer 200: {resp:?}");
    assert_eq!(
        resp.header("x-amz-function-error"),
        Some("Unhandled"),
        "function error header: {resp:?}"
    );
    let body = resp.json();
    assert_eq!(body["errorType"], error_type, "error body: {body}");
    body
}

/// Asserts that an invoke cut short by rapid's shutdown ended promptly: an
/// answer (a function error) or a connection closed without one, but not a
/// read that waited out its timeout.
pub fn assert_answered_or_closed(result: &std::io::Result<Resp>, what: &str) {
    match result {
        Ok(resp) => {
            assert_eq!(resp.status, 200, "{what}: {resp:?}");
            assert_eq!(
                resp.header("x-amz-function-error"),
                Some("Unhandled"),
                "{what}: an invoke cut short is a function error: {resp:?}"
            );
        }
        Err(err) => assert!(
            !http::is_timeout(err),
            "{what}: the invoker was left waiting (no answer, connection still open)"
        ),
    }
}

/// Asserts a successful invoke (200, no function error) and returns the body
/// as JSON.
pub fn assert_success(resp: &Resp) -> serde_json::Value {
    assert_eq!(resp.status, 200, "invoke failed: {resp:?}");
    assert_eq!(
        resp.header("x-amz-function-error"),
        None,
        "unexpected function error: {}",
        resp.text()
    );
    resp.json()
}

/// The address in `rapid: <what> listening on <addr>`.
fn listen_addr(line: &str, what: &str) -> Option<String> {
    let rest = line
        .trim()
        .strip_prefix("rapid: ")?
        .strip_prefix(what)?
        .strip_prefix(" listening on ")?;
    Some(rest.trim().to_string())
}

/// Sends `sig` to `pid`; a process already gone is no error.
pub fn kill(pid: u32, sig: Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
}

/// The direct children of `pid` (from /proc, all threads). Each is noted
/// with its start time, so that [`process_is_gone`] knows it is gone even
/// once the kernel has given its pid to another process.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    let mut seen = SEEN_STARTS.lock().unwrap_or_else(|e| e.into_inner());
    for &child in &out {
        if let Some(started) = start_time(child) {
            seen.insert(child, started);
        }
    }
    out
}

/// When each process [`children`] listed started: pids wrap at 32,768
/// here, so a pid alone does not name a process for long.
static SEEN_STARTS: std::sync::LazyLock<Mutex<std::collections::HashMap<u32, u64>>> =
    std::sync::LazyLock::new(Default::default);

/// Every descendant of `pid`, parents before children.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for c in children(p) {
            out.push(c);
            queue.push(c);
        }
    }
    out
}

/// Follows the chain of only children from `pid` (wrapper → ... → rapid).
fn last_descendant(pid: u32) -> Option<u32> {
    let mut current = pid;
    let mut found = None;
    while let [only] = children(current).as_slice() {
        found = Some(*only);
        current = *only;
        if comm(current).as_deref() == Some("rapid") {
            return found;
        }
    }
    found
}

/// The command name of `pid` (`/proc/<pid>/comm`).
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The command line of `pid`, arguments joined by spaces
/// (`/proc/<pid>/cmdline`).
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(args.join(" "))
}

/// The state letter of `pid` from /proc (`R`, `S`, `Z`, ...), or None when
/// there is no such process.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.chars().next()
}

/// When `pid` started (clock ticks after boot, field 22 of
/// `/proc/<pid>/stat`): with the pid, it names one process, even after the
/// pid is reused.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name start at field 3 (the state).
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Whether `pid` no longer runs: gone, or a zombie waiting for whoever
/// inherited it (rapid is gone, so it is no longer rapid's to reap).
pub fn process_is_gone(pid: u32) -> bool {
    if matches!(proc_state(pid), None | Some('Z') | Some('X')) {
        return true;
    }
    // Alive: but is it still the process that was listed under this pid?
    let seen = SEEN_STARTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&pid)
        .copied();
    seen.is_some_and(|started| start_time(pid) != Some(started))
}

/// The resident set size of `pid` in kB (`VmRSS` of /proc/<pid>/status), or
/// None when there is no such process.
pub fn vm_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// How many descriptors `pid` holds (its `/proc/<pid>/fd`).
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |fds| fds.count())
}

/// How many sockets `pid` holds (its `/proc/<pid>/fd` links to
/// `socket:[...]`): listeners, connections, and the pipes of tokio's signal
/// handling.
pub fn socket_count(pid: u32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}
