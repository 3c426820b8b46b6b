//! Spawning a child in its own process group with captured output.

use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// A started child: its pid (also its process group id) and the read end
/// of its output pipe.
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    /// stdout and stderr share one pipe, as in Lambda, where both are the
    /// function's log: lines keep the order they were written in.
    pub output: OwnedFd,
}

/// Starts `program args` in `cwd` with exactly `env`, in a new process group,
/// killed by the kernel should rapid die first.
pub fn spawn(
    program: &str,
    args: &[String],
    cwd: &Path,
    env: &[(String, String)],
    cgroup_procs: Vec<std::ffi::CString>,
) -> std::io::Result<Spawned> {
    let (output, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(empty_stdin()?)
        .stdout(Stdio::from(write_end.try_clone()?))
        .stderr(Stdio::from(write_end))
        .process_group(0);
    // rapid raised its own descriptor limit; the child gets the original.
    let nofile = super::limits::original_nofile_limit();
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (prctl, open/write/close, setrlimit),
    // without allocating (the cgroup paths were built before the fork).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)?;
            for procs in &cgroup_procs {
                // Into the sandbox's cgroups (memory, freezer) before exec,
                // so all it allocates counts and all it forks is frozen
                // with it; "0" is the writer. A failure leaves it where
                // rapid is: uncapped (rapid said so at start), unfrozen
                // (the engine checks, and freezes with signals).
                let fd =
                    nix::libc::open(procs.as_ptr(), nix::libc::O_WRONLY | nix::libc::O_CLOEXEC);
                if fd >= 0 {
                    nix::libc::write(fd, b"0".as_ptr().cast(), 1);
                    nix::libc::close(fd);
                }
            }
            match nofile {
                Some(limits) => super::limits::restore_nofile_limit(limits),
                None => Ok(()),
            }
        });
    }
    let child = command.spawn()?;
    // Our copies of the write end go with the command, so the pipe reports
    // end of file once the child's family has closed it.
    drop(command);
    let pid = child.id() as i32;
    // Dropping the handle neither waits nor kills: the reaper owns the exit.
    drop(child);
    Ok(Spawned { pid, output })
}

/// `/dev/null`, as in Lambda; in a root without `/dev` (a `FROM scratch`
/// image run without a container engine's /dev), a pipe whose write end is
/// closed: reads see end of file at once, as they would from /dev/null.
fn empty_stdin() -> std::io::Result<Stdio> {
    match std::fs::File::open("/dev/null") {
        Ok(null) => Ok(Stdio::from(null)),
        Err(_) => {
            let (read_end, _write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            Ok(Stdio::from(read_end))
        }
    }
}
