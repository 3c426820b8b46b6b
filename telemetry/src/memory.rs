//! Peak memory of process trees, from `/proc`.
//!
//! Measured on every invoke, so it is cheap: the tree is walked at most
//! once a second, and each process's `status` file stays open and is read
//! again with one `pread`.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// How often the process trees are walked again for new descendants.
const RESCAN: Duration = Duration::from_secs(1);

/// Measures the summed peak RSS (`VmHWM`) of process trees.
#[derive(Default)]
pub struct MemoryProbe {
    roots: Vec<i32>,
    status: HashMap<i32, File>,
    scanned: Option<Instant>,
    buf: Vec<u8>,
}

impl MemoryProbe {
    /// Sum of the peak RSS of `roots` and their descendants, in MB rounded
    /// up. `None` when none of them could be read.
    pub fn peak_rss_mb(&mut self, roots: &[i32]) -> Option<u64> {
        let stale = self.scanned.is_none_or(|at| at.elapsed() >= RESCAN);
        if stale || self.roots != roots {
            self.rescan(roots);
        }
        let mut total_kb = 0;
        let mut any = false;
        let mut gone = Vec::new();
        for (pid, file) in &self.status {
            match read_hwm_kb(file, &mut self.buf) {
                Some(kb) => {
                    total_kb += kb;
                    any = true;
                }
                None => gone.push(*pid),
            }
        }
        for pid in gone {
            self.status.remove(&pid);
        }
        any.then(|| total_kb.div_ceil(1024))
    }

    fn rescan(&mut self, roots: &[i32]) {
        self.roots = roots.to_vec();
        self.scanned = Some(Instant::now());
        let mut tree = Vec::new();
        let mut stack = roots.to_vec();
        while let Some(pid) = stack.pop() {
            if tree.contains(&pid) {
                continue;
            }
            tree.push(pid);
            stack.extend(children(pid));
        }
        self.status.retain(|pid, _| tree.contains(pid));
        for pid in tree {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.status.entry(pid) {
                if let Ok(file) = File::open(format!("/proc/{pid}/status")) {
                    slot.insert(file);
                }
            }
        }
    }
}

/// One-shot measurement of `roots` and their descendants.
pub fn peak_rss_mb(roots: &[i32]) -> Option<u64> {
    MemoryProbe::default().peak_rss_mb(roots)
}

fn read_hwm_kb(file: &File, buf: &mut Vec<u8>) -> Option<u64> {
    buf.resize(4096, 0);
    // procfs regenerates the file for a read at offset 0.
    let n = file.read_at(buf, 0).ok()?;
    hwm_kb(&buf[..n])
}

/// The `VmHWM:` figure of a `status` file. The key starts a line: never the
/// first (`Name:`, which the process chooses, and where procfs escapes
/// line breaks).
fn hwm_kb(status: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\nVmHWM:";
    let at = memchr::memmem::find(status, KEY)? + KEY.len();
    let rest = &status[at..];
    let digits = rest.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
    let rest = &rest[digits..];
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// Children of every thread of `pid`.
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(list) = std::fs::read_to_string(path) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_this_process() {
        let mb = peak_rss_mb(&[std::process::id() as i32]).unwrap();
        assert!(mb > 0);
    }

    #[test]
    fn counts_children() {
        let mut child = std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        assert!(children(me).contains(&(child.id() as i32)));
        let mut probe = MemoryProbe::default();
        let with_child = probe.peak_rss_mb(&[me]).unwrap();
        assert!(probe.status.contains_key(&(child.id() as i32)));
        drop(child.stdin.take());
        child.wait().unwrap();
        assert!(with_child >= 1);
        // The child is gone: the next reading drops it and still works.
        assert!(probe.peak_rss_mb(&[me]).is_some());
        assert!(!probe.status.contains_key(&(child.id() as i32)));
    }

    #[test]
    fn the_peak_is_read_from_its_line() {
        let status = b"Name:\tVmHWM: 99 kB\nVmPeak:\t  9 kB\nVmHWM:\t    4224 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(hwm_kb(status), Some(4224));
        assert_eq!(hwm_kb(b"Name:\tVmHWM:\t77 kB\n"), None);
        assert_eq!(hwm_kb(b"Name:\tx\nVmHWM:\t kB\n"), None);
        let own = std::fs::read(format!("/proc/{}/status", std::process::id())).unwrap();
        let text = String::from_utf8_lossy(&own);
        let line = text.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        let expect: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(hwm_kb(&own), Some(expect));
    }

    #[test]
    fn unknown_pid_is_none() {
        assert_eq!(peak_rss_mb(&[i32::MAX]), None);
    }
}
