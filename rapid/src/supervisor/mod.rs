//! Everything that touches processes: spawning in process groups, signals,
//! reaping. The rest of rapid never calls fork, kill or waitpid itself.

mod allocator;
mod cgroup;
mod cgroup_owner;
mod freezer;
mod limits;
mod owners;
mod peer;
mod random;
mod reap;
#[cfg(test)]
pub(crate) mod sim;
mod spawn;
mod tree;

pub use allocator::{give_back_free_memory, return_large_buffers};
pub use cgroup::CgroupError;
pub use limits::raise_nofile_limit;
pub use owners::{Processes, Supervisor};
pub use peer::{owner_in_tree, Caller, Ownership};
pub use random::kernel_random;
pub use reap::{ExitStatus, ProcessExit};
pub use spawn::Spawned;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Sends `signal` to the whole process group led by `pid`.
pub fn signal_group(pid: i32, signal: Signal) {
    // ESRCH (the group is already gone) is the expected case after an exit.
    let _ = killpg(Pid::from_raw(pid), signal);
}

/// rapid still has children (running, or exited and not reaped yet).
fn has_children() -> bool {
    !tree::children_of(std::process::id() as i32).is_empty()
}
