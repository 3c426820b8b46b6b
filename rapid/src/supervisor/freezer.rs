//! Freezing a sandbox with the cgroup v2 freezer (spec §11): each
//! sandbox's processes are placed in a cgroup of the unified hierarchy at
//! spawn, and `cgroup.freeze` stops every one of them between invokes,
//! including what left the runtime's process group (a daemon that called
//! `setsid`), which the SIGSTOP fallback misses.
//!
//! v2 only. A task frozen by v2's freezer still dies of a fatal signal, so
//! a `PR_SET_PDEATHSIG` SIGKILL or rapid's own kill at exit ends it; v1's
//! freezer controller holds a frozen task even against SIGKILL until it is
//! thawed, so a rapid killed outright (nothing left to thaw) would leave
//! its whole sandbox frozen for good. Without v2 (no unified hierarchy, no
//! permission, a kernel before 5.2) the engine falls back to SIGSTOP.
//!
//! On a v2-only system the unified hierarchy is the memory cgroup's too:
//! the sandbox's one cgroup then caps and freezes it. On a hybrid system
//! (v1 controllers, v2 mounted at `/sys/fs/cgroup/unified`) it is a
//! cgroup of its own there, beside the v1 memory cgroup.

use super::cgroup::CgroupError;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// One sandbox's freezer cgroup; thawed and removed (once empty) when
/// dropped.
#[derive(Debug)]
pub struct FreezerCgroup {
    dir: PathBuf,
    /// Its path as `/proc/<pid>/cgroup` shows it (`0::<relative>`).
    relative: String,
    /// `<dir>/cgroup.procs`, for the child to write itself into between
    /// fork and exec.
    procs: CString,
    /// `<dir>/cgroup.freeze`, kept open: freezing and thawing are one
    /// write each, twice per invoke.
    freeze: Option<std::fs::File>,
}

impl FreezerCgroup {
    /// A new cgroup named `name` under rapid's own in the unified
    /// hierarchy; why not, when it cannot be.
    pub fn create(name: &str) -> Result<FreezerCgroup, CgroupError> {
        let own = std::fs::read_to_string("/proc/self/cgroup").map_err(CgroupError::ReadOwn)?;
        let own_path = own
            .lines()
            .find_map(|line| line.strip_prefix("0::"))
            .ok_or(CgroupError::NoUnifiedCgroup)?;
        let parent = unified_root()
            .ok_or(CgroupError::NoUnifiedHierarchy)?
            .join(own_path.trim_start_matches('/'));
        super::cgroup_owner::remove_stale(&parent);
        let dir = parent.join(name);
        // It exists already when it is the sandbox's memory cgroup (v2).
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(CgroupError::Create { dir, error }),
        }
        if !dir.join("cgroup.freeze").exists() {
            let _ = std::fs::remove_dir(&dir);
            return Err(CgroupError::NoFreeze { dir });
        }
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_encoded_bytes())
            .map_err(|_| CgroupError::NulInPath { dir: dir.clone() })?;
        let relative = format!("{}/{name}", own_path.trim_end_matches('/'));
        let freeze = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.freeze"))
            .ok();
        Ok(FreezerCgroup {
            dir,
            relative,
            procs,
            freeze,
        })
    }

    /// Makes the cgroup again if it is gone (see `MemoryCgroup::ensure`).
    pub fn ensure(&self) {
        if !self.dir.exists() {
            let _ = std::fs::create_dir(&self.dir);
        }
    }

    /// The path a child writes `0` to, to enter the cgroup.
    pub fn procs(&self) -> &CString {
        &self.procs
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Freezes (`true`) or thaws every process in it. The kernel stops
    /// them as each next leaves the kernel (`cgroup.events` says `frozen
    /// 1` once all are); nothing in rapid waits for that moment, and a
    /// thaw cancels a freeze still under way.
    pub fn set_frozen(&self, frozen: bool) -> std::io::Result<()> {
        use std::io::Write;
        let value: &[u8] = if frozen { b"1" } else { b"0" };
        // Each write is one command (the offset does not matter). The kept
        // file fails once the cgroup was removed and made again
        // (`ensure`): the new one is written by its path.
        match self.freeze.as_ref().map(|mut file| file.write_all(value)) {
            Some(Ok(())) => Ok(()),
            _ => std::fs::write(self.dir.join("cgroup.freeze"), value),
        }
    }

    /// Whether `pid` is in this cgroup; `None` when it cannot be told (it
    /// exited already).
    pub fn holds(&self, pid: i32) -> Option<bool> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let path = text.lines().find_map(|line| line.strip_prefix("0::"))?;
        Some(path == self.relative)
    }
}

impl Drop for FreezerCgroup {
    fn drop(&mut self) {
        // Nothing may stay frozen after its sandbox: thawed first, then
        // removed (which fails while a process is still in it).
        let _ = self.set_frozen(false);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Where the unified hierarchy is mounted: `/sys/fs/cgroup` on a v2-only
/// system, `/sys/fs/cgroup/unified` on a hybrid one.
fn unified_root() -> Option<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    [root.to_path_buf(), root.join("unified")]
        .into_iter()
        .find(|dir| dir.join("cgroup.controllers").exists())
}
