//! The processes the bench starts (rapid, cargo-lambda, a function): each in
//! its own process group, its stdout and stderr drained by threads so a full
//! pipe never stalls it, its startup lines searchable, and terminated when
//! dropped — on a panic too.
//!
//! This is the only module that sends signals or reaps children, and the
//! one place that catches the bench's own SIGINT/SIGTERM.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

mod stop;
mod usage;

pub use stop::stop_children_on_signal;
use stop::LIVE;
pub use usage::{cpu_time_of, rss_kib_of};

/// How long a process has to exit after SIGTERM before its group gets SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(10);
/// Lines kept once a process is running, for error messages.
const TAIL_LINES: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot start {name} ({program}): {source}")]
    Spawn {
        name: String,
        program: String,
        source: std::io::Error,
    },
    #[error("{name} printed no line with {what} within {waited:?}; its last lines:\n{tail}")]
    NoLine {
        name: String,
        what: String,
        waited: Duration,
        tail: String,
    },
    #[error("{name} closed its output before printing {what}; its last lines:\n{tail}")]
    Closed {
        name: String,
        what: String,
        tail: String,
    },
    #[error("cannot read /proc/{pid}/{file} of {name}: {detail}")]
    Procfs {
        name: String,
        pid: u32,
        file: &'static str,
        detail: String,
    },
}

/// The interleaved lines of a process's stdout and stderr.
#[derive(Default)]
struct Output {
    state: Mutex<OutputState>,
    changed: Condvar,
}

#[derive(Default)]
struct OutputState {
    lines: VecDeque<String>,
    /// How many lines were dropped from the front (absolute index of `lines[0]`).
    dropped: usize,
    /// Once true, only the last `TAIL_LINES` are kept.
    tail_only: bool,
    open_streams: usize,
}

impl Output {
    fn lock(&self) -> MutexGuard<'_, OutputState> {
        // A drain thread never panics while holding the lock; if one did, the
        // lines are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, line: String) {
        let mut state = self.lock();
        state.lines.push_back(line);
        if state.tail_only {
            while state.lines.len() > TAIL_LINES {
                state.lines.pop_front();
                state.dropped += 1;
            }
        }
        self.changed.notify_all();
    }

    fn close_stream(&self) {
        self.lock().open_streams -= 1;
        self.changed.notify_all();
    }

    fn tail(&self) -> String {
        let state = self.lock();
        let skip = state.lines.len().saturating_sub(TAIL_LINES);
        let tail: Vec<&str> = state.lines.iter().skip(skip).map(String::as_str).collect();
        if tail.is_empty() {
            "  (nothing)".to_string()
        } else {
            format!("  {}", tail.join("\n  "))
        }
    }
}

/// A running child process; dropping it terminates it.
pub struct Proc {
    name: String,
    pid: u32,
    output: Arc<Output>,
    exit: Receiver<ExitStatus>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` (stdin closed, stdout and stderr piped and drained) in a
    /// new process group. `name` is how errors refer to it.
    pub fn spawn(name: &str, mut cmd: Command) -> Result<Proc, ProcError> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|source| ProcError::Spawn {
            name: name.to_string(),
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })?;
        let output = Arc::new(Output::default());
        output.lock().open_streams = 2;
        if let Some(stdout) = child.stdout.take() {
            drain(name, "stdout", stdout, output.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            drain(name, "stderr", stderr, output.clone());
        }
        let pid = child.id();
        LIVE.add(pid);
        let (tx, exit) = mpsc::channel();
        thread::Builder::new()
            .name(format!("{name}-wait"))
            .spawn(move || {
                let status = child.wait();
                LIVE.remove(pid);
                if let Ok(status) = status {
                    let _ = tx.send(status);
                }
            })
            .expect("the OS lets the bench start a thread"); // ok: a startup invariant of the bench tool
        Ok(Proc {
            name: name.to_string(),
            pid,
            output,
            exit,
            status: None,
        })
    }

    /// Waits until a line (stdout or stderr) makes `find` return something.
    pub fn wait_for_line<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut find: impl FnMut(&str) -> Option<T>,
    ) -> Result<T, ProcError> {
        let deadline = Instant::now() + timeout;
        let mut next = 0;
        let mut state = self.output.lock();
        loop {
            let start = next.max(state.dropped) - state.dropped;
            for line in state.lines.iter().skip(start) {
                if let Some(found) = find(line) {
                    return Ok(found);
                }
            }
            next = state.dropped + state.lines.len();
            let now = Instant::now();
            if state.open_streams == 0 || now >= deadline {
                let closed = state.open_streams == 0;
                drop(state);
                let (name, what, tail) = (self.name.clone(), what.to_string(), self.output.tail());
                return Err(if closed {
                    ProcError::Closed { name, what, tail }
                } else {
                    ProcError::NoLine {
                        name,
                        what,
                        waited: timeout,
                        tail,
                    }
                });
            }
            state = self
                .output
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// From now on keep only the last lines: the process is running and its
    /// output is drained without being stored.
    pub fn started(&self) {
        let mut state = self.output.lock();
        state.tail_only = true;
        while state.lines.len() > TAIL_LINES {
            state.lines.pop_front();
            state.dropped += 1;
        }
    }

    /// The last lines the process printed, indented, for error messages.
    pub fn tail(&self) -> String {
        self.output.tail()
    }

    /// SIGTERM, then SIGKILL to the whole group if it has not exited within
    /// the grace period. Returns the exit status when it was reaped.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.exit.try_recv().ok();
        }
        if self.status.is_some() {
            return self.status;
        }
        let pid = Pid::from_raw(self.pid as i32);
        let _ = kill(pid, Signal::SIGTERM);
        match self.exit.recv_timeout(TERM_GRACE) {
            Ok(status) => self.status = Some(status),
            Err(RecvTimeoutError::Timeout) => {
                eprintln!(
                    "bench: {} did not exit within {TERM_GRACE:?} of SIGTERM; killing its group",
                    self.name
                );
                let _ = killpg(pid, Signal::SIGKILL);
                self.status = self.exit.recv_timeout(TERM_GRACE).ok();
            }
            Err(RecvTimeoutError::Disconnected) => {}
        }
        self.status
    }
}

impl Proc {
    /// Stops a wrapper (strace) through the program it runs: SIGTERM to
    /// the process's own children, then waits for it to exit as they do
    /// (after the grace period, [`Proc::terminate`]).
    pub fn terminate_through_children(&mut self) -> Option<ExitStatus> {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children", pid = self.pid))
                .unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            let _ = kill(Pid::from_raw(child), Signal::SIGTERM);
        }
        if self.status.is_none() {
            self.status = self.exit.recv_timeout(TERM_GRACE).ok();
        }
        self.terminate()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Reads `stream` line by line into `output` until it closes.
fn drain(name: &str, which: &str, stream: impl Read + Send + 'static, output: Arc<Output>) {
    thread::Builder::new()
        .name(format!("{name}-{which}"))
        .spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        output.push(line.trim_end().to_string());
                    }
                }
            }
            output.close_stream();
        })
        .expect("the OS lets the bench start a thread"); // ok: a startup invariant of the bench tool
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_found_and_the_process_terminated() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo ready 7 >&2; exec sleep 30"]);
        let mut proc = Proc::spawn("sh", cmd).expect("sh runs");
        let n: u32 = proc
            .wait_for_line("ready", Duration::from_secs(10), |l| {
                l.strip_prefix("ready ")?.parse().ok()
            })
            .expect("the line arrives");
        assert_eq!(n, 7);
        assert!(proc.rss_kib().expect("status is readable") > 0);
        let status = proc.terminate().expect("reaped");
        assert!(!status.success());
    }

    #[test]
    fn a_closed_output_ends_the_wait() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo bye"]);
        let proc = Proc::spawn("sh", cmd).expect("sh runs");
        let err = proc
            .wait_for_line("never", Duration::from_secs(10), |_| None::<()>)
            .expect_err("output closes first");
        assert!(err.to_string().contains("bye"), "{err}");
    }
}
