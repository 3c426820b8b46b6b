//! A memory cgroup per sandbox (spec §11): its processes are placed in it
//! at spawn, it is capped at the function's memory size, and it tells when
//! the kernel killed one of them for exceeding it. cgroup v2 (`memory.max`,
//! `memory.events`) or v1's memory controller (`memory.limit_in_bytes`,
//! `memory.oom_control`), under rapid's own cgroup; when neither can be
//! created (no permission, no controller) the sandbox runs without a cap.

use std::ffi::CString;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// One sandbox's memory cgroup; removed when dropped (once empty).
#[derive(Debug)]
pub struct MemoryCgroup {
    dir: PathBuf,
    version: Version,
    /// `<dir>/cgroup.procs`, ready for the child to write itself into
    /// between fork and exec (no allocation there).
    procs: CString,
}

impl MemoryCgroup {
    /// A new cgroup named `name` under rapid's own, capped at `limit`
    /// bytes; why not, when it cannot be.
    pub fn create(name: &str, limit: u64) -> Result<MemoryCgroup, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let (version, parent) = parent_dir(&own).ok_or_else(|| {
            "rapid is in no memory cgroup it can see (no cgroup v2 memory controller, no v1 memory hierarchy)".to_owned()
        })?;
        remove_stale(&parent);
        let dir = parent.join(name);
        std::fs::create_dir(&dir)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })
            .map_err(|e| format!("cannot create the cgroup {}: {e}", dir.display()))?;
        let limit_file = match version {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        };
        if let Err(e) = std::fs::write(dir.join(limit_file), limit.to_string()) {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!("cannot cap the memory of {}: {e}", dir.display()));
        }
        if version == Version::V1 {
            // Without swap accounting this file is absent; with it, swap
            // must not extend the cap.
            let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
        }
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_encoded_bytes())
            .map_err(|_| format!("the cgroup path {} holds a NUL byte", dir.display()))?;
        Ok(MemoryCgroup {
            dir,
            version,
            procs,
        })
    }

    /// Makes the cgroup again if it is gone (another rapid, which cannot
    /// see this one's pid from its own pid namespace, took it for stale
    /// while it was empty between two generations).
    pub fn ensure(&self, limit: u64) {
        if self.dir.exists() {
            return;
        }
        let limit_file = match self.version {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        };
        if std::fs::create_dir(&self.dir).is_ok() {
            let _ = std::fs::write(self.dir.join(limit_file), limit.to_string());
        }
    }

    /// The path a child writes `0` to, to enter the cgroup.
    pub fn procs(&self) -> &CString {
        &self.procs
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many processes the kernel has killed in it for memory so far.
    pub fn oom_kills(&self) -> u64 {
        let file = match self.version {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        std::fs::read_to_string(self.dir.join(file))
            .ok()
            .and_then(|text| counter(&text, "oom_kill"))
            .unwrap_or(0)
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Fails while a process is still in it; the kernel keeps it then.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The directory of rapid's own memory cgroup, from `/proc/self/cgroup`:
/// v2 when the unified hierarchy has the memory controller, else v1's
/// memory hierarchy.
fn parent_dir(own: &str) -> Option<(Version, PathBuf)> {
    let root = Path::new("/sys/fs/cgroup");
    let mut v1 = None;
    let mut v2 = None;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            v2 = Some(path.to_owned());
        } else if controllers.split(',').any(|c| c == "memory") {
            v1 = Some(path.to_owned());
        }
    }
    if let Some(path) = v1 {
        let dir = root.join("memory").join(path);
        if dir.join("memory.limit_in_bytes").exists() {
            return Some((Version::V1, dir));
        }
    }
    let path = v2?;
    let unified = if root.join("cgroup.controllers").exists() {
        root.to_path_buf()
    } else {
        root.join("unified")
    };
    let dir = unified.join(path);
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
    controllers
        .split_whitespace()
        .any(|c| c == "memory")
        .then_some((Version::V2, dir))
}

/// Removes the empty cgroups a rapid that is no longer running left
/// behind (killed before it could remove them): `rapid-<pid>-...` whose
/// pid is gone. A cgroup still holding a process is kept by the kernel.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("rapid-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// The value of `key` in a `key value` per line file.
fn counter(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_by_name() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(counter(v1, "oom_kill"), Some(3));
        let v2 = "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(counter(v2, "oom_kill"), Some(1));
        assert_eq!(counter(v2, "absent"), None);
    }
}
