//! Everything that touches processes: spawning in process groups, signals,
//! reaping. The rest of rapid never calls fork, kill or waitpid itself.

mod limits;
mod reap;
mod spawn;

pub use limits::raise_nofile_limit;
pub use reap::{become_subreaper, start_reaper, ExitStatus, ProcessExit};
pub use spawn::{spawn, Spawned};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Sends `signal` to the whole process group led by `pid`.
pub fn signal_group(pid: i32, signal: Signal) {
    // ESRCH (the group is already gone) is the expected case after an exit.
    let _ = killpg(Pid::from_raw(pid), signal);
}

/// Kills every remaining child of rapid (and its group). Used at exit, so
/// that nothing rapid started outlives it.
pub fn kill_all_children() {
    for pid in children() {
        signal_group(pid, Signal::SIGKILL);
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// rapid still has children (running, or exited and not reaped yet).
pub fn has_children() -> bool {
    !children().is_empty()
}

fn children() -> Vec<i32> {
    let me = std::process::id();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{me}/task")) else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    pids
}
