//! The one place that waits for children: on every SIGCHLD, reap everything
//! that exited (our own children and, as PID 1 or subreaper, orphans).

use nix::errno::Errno;
use nix::sys::signal::Signal;
use std::fmt;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(Signal),
}

impl fmt::Display for ExitStatus {
    /// As Lambda words it: `exit status 3`, `signal: killed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit status {code}"),
            ExitStatus::Signal(signal) => {
                let name = match signal {
                    Signal::SIGKILL => "killed",
                    Signal::SIGTERM => "terminated",
                    Signal::SIGINT => "interrupt",
                    Signal::SIGSEGV => "segmentation fault",
                    Signal::SIGABRT => "aborted",
                    Signal::SIGBUS => "bus error",
                    Signal::SIGILL => "illegal instruction",
                    Signal::SIGFPE => "floating point exception",
                    Signal::SIGHUP => "hangup",
                    Signal::SIGPIPE => "broken pipe",
                    Signal::SIGQUIT => "quit",
                    other => other.as_str(),
                };
                write!(f, "signal: {name}")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    pub pid: i32,
    pub status: ExitStatus,
    /// The process's own peak resident set size, as the kernel kept it.
    pub max_rss_kb: u64,
}

/// Makes orphans of our children re-parent to rapid, so they are reaped here
/// and can be killed at exit. (As PID 1 this is already the case.)
pub(super) fn become_subreaper() {
    if let Err(err) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::debug!(%err, "could not become a child subreaper");
    }
}

/// Installs the SIGCHLD handler and starts the reaping task: every exit
/// goes to `on_exit`, and `after_pass` runs once nothing more is to be
/// reaped. Call before spawning anything.
pub(super) fn start_reaper(
    mut on_exit: impl FnMut(ProcessExit) + Send + 'static,
    after_pass: impl Fn() + Send + 'static,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut sigchld = signal(SignalKind::child())?;
    only_exits_notify();
    Ok(tokio::spawn(async move {
        loop {
            reap_all(&mut on_exit);
            after_pass();
            if sigchld.recv().await.is_none() {
                return;
            }
        }
    }))
}

/// A child stopped or continued (a sandbox frozen or thawed between two
/// invokes) has nothing to reap: SIGCHLD comes for exits only
/// (`SA_NOCLDSTOP` added to the handler tokio installed), so freezing does
/// not wake the reaper twice per invoke.
fn only_exits_notify() {
    // SAFETY: sigaction with a null new action only reads the current one
    // into a zeroed, writable local; the second call installs that same
    // action (tokio's handler, mask and flags) with one more flag.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut current) == 0 {
            current.sa_flags |= libc::SA_NOCLDSTOP;
            libc::sigaction(libc::SIGCHLD, &current, std::ptr::null_mut());
        }
    }
}

fn reap_all(on_exit: &mut impl FnMut(ProcessExit)) {
    loop {
        match wait_any() {
            Ok(Some(exit)) => on_exit(exit),
            Ok(None) | Err(Errno::ECHILD) => return,
            Err(Errno::EINTR) => continue,
            Err(err) => {
                tracing::warn!(%err, "wait4 failed");
                return;
            }
        }
    }
}

/// Reaps one exited child without blocking. `Ok(None)`: none has exited.
///
/// wait4 rather than waitpid, because only wait4 also returns the child's
/// peak RSS, which `/proc` no longer has once the child is gone.
fn wait_any() -> Result<Option<ProcessExit>, Errno> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value for this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers point to live, writable locals.
        let pid = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG, &mut usage) };
        if pid < 0 {
            return Err(Errno::last());
        }
        if pid == 0 {
            return Ok(None);
        }
        let status = if libc::WIFEXITED(status) {
            ExitStatus::Code(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            match Signal::try_from(libc::WTERMSIG(status)) {
                Ok(signal) => ExitStatus::Signal(signal),
                Err(_) => ExitStatus::Code(128 + libc::WTERMSIG(status)),
            }
        } else {
            continue; // stopped / continued: not an exit
        };
        return Ok(Some(ProcessExit {
            pid,
            status,
            max_rss_kb: usage.ru_maxrss.max(0) as u64,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_lambda_prints_them() {
        assert_eq!(ExitStatus::Code(3).to_string(), "exit status 3");
        assert_eq!(
            ExitStatus::Signal(Signal::SIGKILL).to_string(),
            "signal: killed"
        );
        assert_eq!(
            ExitStatus::Signal(Signal::SIGUSR1).to_string(),
            "signal: SIGUSR1"
        );
    }
}
