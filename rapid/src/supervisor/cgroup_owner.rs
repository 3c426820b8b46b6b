//! Whose a cgroup is: the name rapid gives a sandbox's cgroups (its pid
//! and pid namespace), and the removal of the cgroups a rapid that is gone
//! left behind, with what one of this pid namespace still holds killed
//! first. Used by the memory cgroup (`cgroup.rs`) and the freezer
//! (`freezer.rs`).

use std::path::Path;

/// Removes the cgroups rapids that are no longer running left behind
/// (killed before they could remove them). What one of a gone rapid of
/// this pid namespace ([`Owner::Gone`]) still holds is killed first: a
/// process that left its runtime's tree and outlived a rapid killed
/// outright (PDEATHSIG reaches only rapid's own children), frozen if its
/// sandbox was; it belongs to no running rapid. One of another pid
/// namespace, or named by an earlier version (by pid only, which may be
/// another namespace's), is only removed if empty, never thawed nor
/// killed: its rapid may be running (and then makes it again before its
/// next spawn, `ensure`).
pub(super) fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let (own_pid, own_ns) = (std::process::id(), pid_namespace());
    let alive = |pid: u32| Path::new(&format!("/proc/{pid}")).exists();
    for entry in entries.flatten() {
        let name = entry.file_name();
        match name.to_str().map(|n| owner(n, own_pid, own_ns, alive)) {
            Some(Owner::Gone) => kill_members(&entry.path()),
            Some(Owner::Foreign) => {}
            Some(Owner::Keep) | None => continue,
        }
        // Fails while a process is in it.
        let _ = std::fs::remove_dir(entry.path());
    }
}

/// How long [`kill_members`] waits for the processes it killed to be gone,
/// so that their cgroup can be removed (they are usually gone in a few
/// milliseconds).
const KILLED_GONE: std::time::Duration = std::time::Duration::from_secs(1);

/// SIGKILLs every process in the cgroup `dir` (frozen ones too: a task
/// frozen by v2's freezer dies of a fatal signal), then thaws it, so that
/// nothing of it is left frozen even if a kill failed. `cgroup.kill` (v2,
/// kernel 5.14 on) kills them all at once, also one forking meanwhile;
/// elsewhere (v1) each pid of `cgroup.procs` is killed, again while new
/// ones appear. Waits at most [`KILLED_GONE`] for it to be empty.
fn kill_members(dir: &Path) {
    let all_at_once = write_existing(&dir.join("cgroup.kill"), "1");
    write_existing(&dir.join("cgroup.freeze"), "0");
    let started = std::time::Instant::now();
    loop {
        let members = members(dir);
        if members.is_empty() || started.elapsed() >= KILLED_GONE {
            return;
        }
        if !all_at_once {
            for pid in members {
                // The pid was in the cgroup a moment ago; ESRCH when it
                // exited since.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // ok: a killed process leaves its cgroup within milliseconds, and
        // nothing tells when (this runs only for a rapid killed outright).
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Writes `value` to the file at `path` if there is one (cgroupfs creates
/// no file, and a cgroup of v1 has neither `cgroup.kill` nor
/// `cgroup.freeze`); whether it could.
fn write_existing(path: &Path, value: &str) -> bool {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut file| file.write_all(value.as_bytes()))
        .is_ok()
}

/// The processes in the cgroup `dir` (its `cgroup.procs`).
fn members(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|text| pids(&text))
        .unwrap_or_default()
}

/// The pids of a `cgroup.procs` file, one a line.
fn pids(text: &str) -> Vec<i32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Whose a cgroup is, by its name, and so what may be done with it.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    /// Not a rapid's, this rapid's own, or a running rapid's: left alone.
    Keep,
    /// A rapid of this pid namespace that is gone.
    Gone,
    /// A rapid of another pid namespace (its pid means nothing here).
    Foreign,
}

/// The owner of the cgroup `name`: `rapid-<pid>-<pid namespace>-sandbox-<n>`
/// (`rapid-<pid>-sandbox-<n>` of earlier versions: [`Owner::Foreign`]).
fn owner(name: &str, own_pid: u32, own_ns: Option<u64>, alive: impl Fn(u32) -> bool) -> Owner {
    let mut parts = name.split('-');
    if parts.next() != Some("rapid") {
        return Owner::Keep;
    }
    let Some(pid) = parts.next().and_then(|p| p.parse::<u32>().ok()) else {
        return Owner::Keep;
    };
    match parts.next() {
        Some("sandbox") => return Owner::Foreign,
        Some(ns) if ns.parse::<u64>().ok().is_some_and(|ns| Some(ns) == own_ns) => {}
        Some(ns) if ns.parse::<u64>().is_ok() => return Owner::Foreign,
        _ => return Owner::Keep,
    }
    if pid == own_pid || alive(pid) {
        Owner::Keep
    } else {
        Owner::Gone
    }
}

/// The inode of rapid's pid namespace (`/proc/self/ns/pid`).
fn pid_namespace() -> Option<u64> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    link.to_str()?
        .strip_prefix("pid:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The name of sandbox `sandbox`'s cgroups (memory, freezer):
/// `rapid-<pid>-<pid namespace>-sandbox-<n>`. The namespace tells apart two
/// rapids with the same pid in different pid namespaces that share a
/// cgroup hierarchy (each a container's PID 1), which must never share a
/// cgroup (one would freeze the other's processes), and keeps a rapid from
/// judging the cgroups of another namespace's by a pid it cannot see.
pub(super) fn name(sandbox: u64) -> String {
    let ns = pid_namespace().unwrap_or(0);
    format!("rapid-{}-{ns}-sandbox-{sandbox}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_procs_is_read_one_pid_a_line() {
        assert_eq!(pids("12\n345\n"), [12, 345]);
        assert_eq!(pids(""), Vec::<i32>::new());
    }

    #[test]
    fn a_cgroup_is_emptied_only_when_its_rapid_is_gone_from_this_pid_namespace() {
        let alive = |pid: u32| pid == 7;
        let ns = Some(4026531836);
        let owner = |name: &str| owner(name, 1, ns, alive);
        assert_eq!(owner("rapid-9-4026531836-sandbox-1"), Owner::Gone);
        assert_eq!(owner("rapid-7-4026531836-sandbox-1"), Owner::Keep);
        assert_eq!(
            owner("rapid-1-4026531836-sandbox-2"),
            Owner::Keep,
            "its own"
        );
        assert_eq!(owner("rapid-9-4026532000-sandbox-1"), Owner::Foreign);
        assert_eq!(owner("rapid-1-4026532000-sandbox-1"), Owner::Foreign);
        assert_eq!(
            super::owner("rapid-9-0-sandbox-1", 1, None, alive),
            Owner::Foreign
        );
        assert_eq!(
            owner("rapid-9-sandbox-1"),
            Owner::Foreign,
            "an earlier version's: its pid may be another namespace's"
        );
        assert_eq!(owner("process_api"), Owner::Keep);
        assert_eq!(owner("rapid-x-1-sandbox-1"), Owner::Keep);
    }
}
