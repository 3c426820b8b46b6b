//! Stopping the children when the bench itself is interrupted: a registry
//! of the pids not yet reaped, and a thread that turns SIGINT, SIGTERM or
//! SIGHUP into SIGTERM for each of them.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::TERM_GRACE;

/// The pids of children not yet reaped, for [`stop_children_on_signal`].
pub(super) static LIVE: Live = Live {
    pids: Mutex::new(Vec::new()),
    changed: Condvar::new(),
};

pub(super) struct Live {
    pids: Mutex<Vec<u32>>,
    changed: Condvar,
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, Vec<u32>> {
        self.pids.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn add(&self, pid: u32) {
        self.lock().push(pid);
    }

    pub(super) fn remove(&self, pid: u32) {
        self.lock().retain(|&p| p != pid);
        self.changed.notify_all();
    }
}

/// Children sit in their own process groups, so a Ctrl-C at the terminal
/// reaches only the bench, which would die without running any `Drop`.
/// This thread catches SIGINT, SIGTERM and SIGHUP instead, sends SIGTERM to
/// every child not yet reaped, waits (bounded) for them, and exits.
pub fn stop_children_on_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let spawned = thread::Builder::new()
        .name("signals".to_string())
        .spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("a tokio runtime for signal handling"); // ok: a startup invariant of the bench tool
            let caught = runtime.block_on(async {
                let mut int = signal(SignalKind::interrupt()).ok()?;
                let mut term = signal(SignalKind::terminate()).ok()?;
                let mut hup = signal(SignalKind::hangup()).ok()?;
                Some(tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                    _ = hup.recv() => "SIGHUP",
                })
            });
            let Some(caught) = caught else {
                eprintln!("bench: cannot handle signals; an interrupted run may leave children");
                return;
            };
            eprintln!("bench: {caught}: stopping the processes it started");
            let deadline = Instant::now() + TERM_GRACE;
            let mut pids = LIVE.lock();
            for &pid in pids.iter() {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            }
            while !pids.is_empty() && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                pids = LIVE
                    .changed
                    .wait_timeout(pids, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            std::process::exit(130);
        });
    if let Err(e) = spawned {
        eprintln!(
            "bench: cannot start the signal thread ({e}); an interrupted run may leave children"
        );
    }
}
