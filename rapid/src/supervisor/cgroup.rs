//! A memory cgroup per sandbox (spec §11): its processes are placed in it
//! at spawn, it is capped at the function's memory size, and it tells when
//! the kernel killed one of them for exceeding it. cgroup v2 (`memory.max`,
//! `memory.events`) or v1's memory controller (`memory.limit_in_bytes`,
//! `memory.oom_control`), under rapid's own cgroup; when neither can be
//! created (no permission, no controller) the sandbox runs without a cap.
//!
//! Its peak is REPORT's `Max Memory Used`: v2's `memory.peak` or v1's
//! `memory.max_usage_in_bytes`, kept open and read with one `pread`.
//! A write starts the peak again from the memory in use: v1's for the
//! cgroup, v2's (kernel 6.12 on) for reads through the same open file; an
//! older v2 kernel cannot, and its figure is the sandbox's peak since its
//! cgroup was made.

use std::ffi::CString;
use std::fs::File;
use std::os::unix::fs::FileExt;
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
    /// Its memory peak, when the kernel has the file (v2 since 5.19).
    peak: Option<Peak>,
}

/// Why a sandbox has no cgroup of its own (a memory cgroup, or a v2
/// freezer cgroup): rapid then says so once and goes on without it.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read /proc/self/cgroup: {0}")]
    ReadOwn(std::io::Error),
    #[error("rapid is in no memory cgroup it can see (no cgroup v2 memory controller, no v1 memory hierarchy)")]
    NoMemoryCgroup,
    #[error("rapid is in no cgroup v2 (no unified hierarchy)")]
    NoUnifiedCgroup,
    #[error("no cgroup v2 hierarchy is mounted")]
    NoUnifiedHierarchy,
    #[error("cannot create the cgroup {}: {error}", dir.display())]
    Create { dir: PathBuf, error: std::io::Error },
    #[error("cannot cap the memory of {}: {error}", dir.display())]
    Cap { dir: PathBuf, error: std::io::Error },
    #[error("{} has no cgroup.freeze (a kernel before 5.2)", dir.display())]
    NoFreeze { dir: PathBuf },
    #[error("the cgroup path {} holds a NUL byte", dir.display())]
    NulInPath { dir: PathBuf },
}

impl MemoryCgroup {
    /// A new cgroup named `name` under rapid's own, capped at `limit`
    /// bytes; why not, when it cannot be.
    pub fn create(name: &str, limit: u64) -> Result<MemoryCgroup, CgroupError> {
        let own = std::fs::read_to_string("/proc/self/cgroup").map_err(CgroupError::ReadOwn)?;
        let (version, parent) =
            parent_dir(&own, Path::new("/sys/fs/cgroup")).ok_or(CgroupError::NoMemoryCgroup)?;
        super::cgroup_owner::remove_stale(&parent);
        let dir = parent.join(name);
        std::fs::create_dir(&dir)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })
            .map_err(|error| CgroupError::Create {
                dir: dir.clone(),
                error,
            })?;
        let limit_file = match version {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        };
        if let Err(error) = std::fs::write(dir.join(limit_file), limit.to_string()) {
            let _ = std::fs::remove_dir(&dir);
            return Err(CgroupError::Cap { dir, error });
        }
        if version == Version::V1 {
            // Without swap accounting this file is absent; with it, swap
            // must not extend the cap.
            let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
        }
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_encoded_bytes())
            .map_err(|_| CgroupError::NulInPath { dir: dir.clone() })?;
        let peak = Peak::open(&dir, version);
        Ok(MemoryCgroup {
            dir,
            version,
            procs,
            peak,
        })
    }

    /// Makes the cgroup again if it is gone (another rapid, which cannot
    /// see this one's pid from its own pid namespace, took it for stale
    /// while it was empty between two generations).
    pub fn ensure(&mut self, limit: u64) {
        if self.dir.exists() {
            return;
        }
        let limit_file = match self.version {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        };
        if std::fs::create_dir(&self.dir).is_ok() {
            let _ = std::fs::write(self.dir.join(limit_file), limit.to_string());
            // The kept file was the removed cgroup's.
            self.peak = Peak::open(&self.dir, self.version);
        }
    }

    /// The peak of its memory use since the last [`reset_peak`], in MB
    /// rounded up; `None` when the kernel does not say.
    ///
    /// [`reset_peak`]: MemoryCgroup::reset_peak
    pub fn peak_mb(&self) -> Option<u64> {
        self.peak.as_ref()?.read_mb()
    }

    /// Starts the peak again from the memory in use now, where the kernel
    /// can (see the module's comment).
    pub fn reset_peak(&self) {
        if let Some(peak) = &self.peak {
            peak.reset();
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

/// A cgroup's memory peak file, kept open.
#[derive(Debug)]
struct Peak {
    file: File,
    /// A write to it starts the peak again (see the module's comment).
    resettable: bool,
}

impl Peak {
    /// Opens `dir`'s peak file; `None` when there is none (v2 before 5.19).
    fn open(dir: &Path, version: Version) -> Option<Peak> {
        let path = dir.join(peak_file(version));
        // v2 before 6.12 refuses to open it for writing; v1 refuses a
        // write to a process that may not change the cgroup.
        let writable = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .ok()
            .filter(|file| file.write_at(b"0", 0).is_ok());
        match writable {
            Some(file) => Some(Peak {
                file,
                resettable: true,
            }),
            None => File::open(&path).ok().map(|file| Peak {
                file,
                resettable: false,
            }),
        }
    }

    fn read_mb(&self) -> Option<u64> {
        let mut buf = [0u8; 32];
        // cgroupfs regenerates the file for a read at offset 0.
        let n = self.file.read_at(&mut buf, 0).ok()?;
        bytes_to_mb(&buf[..n])
    }

    fn reset(&self) {
        if self.resettable {
            let _ = self.file.write_at(b"0", 0);
        }
    }
}

/// The file that holds a cgroup's memory peak, in bytes.
fn peak_file(version: Version) -> &'static str {
    match version {
        Version::V1 => "memory.max_usage_in_bytes",
        Version::V2 => "memory.peak",
    }
}

/// A peak file's figure (bytes and a line break) in MB rounded up.
fn bytes_to_mb(text: &[u8]) -> Option<u64> {
    let bytes: u64 = std::str::from_utf8(text).ok()?.trim_end().parse().ok()?;
    Some(bytes.div_ceil(1024 * 1024))
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Fails while a process is still in it; the kernel keeps it then.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The directory of rapid's own memory cgroup, from `/proc/self/cgroup`
/// (`own`) and the hierarchies mounted at `root`: v1's memory hierarchy
/// when rapid is in one (a hybrid system), else the unified hierarchy
/// when it has the memory controller (at `root` on a v2-only system, at
/// `root/unified` on a hybrid one).
fn parent_dir(own: &str, root: &Path) -> Option<(Version, PathBuf)> {
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

    #[test]
    fn the_peak_is_read_in_bytes_and_reported_in_mb_rounded_up() {
        assert_eq!(peak_file(Version::V1), "memory.max_usage_in_bytes");
        assert_eq!(peak_file(Version::V2), "memory.peak");
        assert_eq!(bytes_to_mb(b"134217728\n"), Some(128));
        assert_eq!(bytes_to_mb(b"134217729\n"), Some(129));
        assert_eq!(bytes_to_mb(b"0\n"), Some(0));
        assert_eq!(bytes_to_mb(b"max\n"), None);
        assert_eq!(bytes_to_mb(b""), None);
    }

    /// A fake `/sys/fs/cgroup` under the temporary directory, removed
    /// when dropped.
    struct FakeRoot(PathBuf);

    impl FakeRoot {
        fn new(name: &str) -> FakeRoot {
            let dir = std::env::temp_dir().join(format!("rapid-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            FakeRoot(dir)
        }

        fn file(&self, path: &str, text: &str) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    impl Drop for FakeRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_memory_cgroup_is_v1_on_a_hybrid_system_and_v2_on_a_unified_one() {
        let hybrid = FakeRoot::new("hybrid");
        hybrid.file("unified/cgroup.controllers", "");
        hybrid.file("memory/box/memory.limit_in_bytes", "9223372036854771712\n");
        let own = "5:memory:/box\n1:cpu:/\n0::/box\n";
        assert_eq!(
            parent_dir(own, &hybrid.0),
            Some((Version::V1, hybrid.0.join("memory/box")))
        );
        let unified = FakeRoot::new("unified");
        unified.file("cgroup.controllers", "cpu io memory pids\n");
        unified.file("box/cgroup.controllers", "cpu memory\n");
        assert_eq!(
            parent_dir("0::/box\n", &unified.0),
            Some((Version::V2, unified.0.join("box")))
        );
        // Without the memory controller there, no memory cgroup.
        unified.file("box/cgroup.controllers", "cpu pids\n");
        assert_eq!(parent_dir("0::/box\n", &unified.0), None);
    }
}
