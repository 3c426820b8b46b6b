//! How much memory an invoke used, for REPORT's `Max Memory Used`.
//!
//! With a memory cgroup (the usual case) the engine reads the sandbox's
//! peak from it (`rapid/src/supervisor/cgroup.rs`) and hands the figure
//! over. Without one, the hub falls back to the process trees of the
//! runtime and the extensions: the sum of each process's peak RSS
//! (`VmHWM`), which counts a page shared between forked processes once per
//! process. Nothing is kept open between two readings: each walks the
//! trees again and reads each `status` file with open, read, close, so a
//! function with thousands of processes never holds rapid's descriptors,
//! and a process started just before the reading counts.

use std::collections::HashSet;
use std::io::Read;

/// The memory an invoke used, or what to measure it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryUse {
    /// Measured already, in MB: the sandbox's memory cgroup peak, or the
    /// trees walked before a teardown killed them.
    Measured(u64),
    /// Measured by the hub when it writes REPORT: the trees of these live
    /// processes (runtime, extensions), plus the peak RSS of those that
    /// already exited.
    Trees { live_pids: Vec<i32>, exited_kb: u64 },
}

impl MemoryUse {
    /// The figure in MB, walking the trees if it has to.
    pub fn mb(&self) -> u64 {
        match self {
            MemoryUse::Measured(mb) => *mb,
            MemoryUse::Trees {
                live_pids,
                exited_kb,
            } => peak_rss_mb(live_pids).unwrap_or(0) + exited_kb.div_ceil(1024),
        }
    }
}

/// Sum of the peak RSS of `roots` and their descendants, in MB rounded up.
/// `None` when none of them could be read.
pub fn peak_rss_mb(roots: &[i32]) -> Option<u64> {
    let mut seen = HashSet::new();
    let mut stack = roots.to_vec();
    let mut buf = Vec::with_capacity(4096);
    let mut total_kb = 0;
    let mut any = false;
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Some(kb) = read_hwm_kb(pid, &mut buf) {
            total_kb += kb;
            any = true;
        }
        children(pid, &mut stack);
    }
    any.then(|| total_kb.div_ceil(1024))
}

/// `VmHWM` of `pid`, its `status` file opened, read and closed.
fn read_hwm_kb(pid: i32, buf: &mut Vec<u8>) -> Option<u64> {
    buf.clear();
    std::fs::File::open(format!("/proc/{pid}/status"))
        .ok()?
        .read_to_end(buf)
        .ok()?;
    hwm_kb(buf)
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

/// Pushes the children of every thread of `pid` onto `out`.
fn children(pid: i32, out: &mut Vec<i32>) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
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
    fn counts_children_and_keeps_no_descriptor() {
        let spawn = || {
            std::process::Command::new("cat")
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let mut kids: Vec<_> = (0..20).map(|_| spawn()).collect();
        let me = std::process::id() as i32;
        let mut found = Vec::new();
        children(me, &mut found);
        assert!(kids.iter().all(|k| found.contains(&(k.id() as i32))));
        let alone = peak_rss_mb(&[kids[0].id() as i32]).unwrap();
        let with_children = peak_rss_mb(&[me]).unwrap();
        assert!(alone >= 1 && with_children > alone);
        // Nothing of the walk stays open. Another test's walk may be
        // reading one of these files right now, never two at once.
        let kid_status: Vec<String> = kids
            .iter()
            .map(|k| format!("/proc/{}/status", k.id()))
            .collect();
        let open = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter(|target| kid_status.iter().any(|s| target.as_os_str() == s.as_str()))
            .count();
        assert!(open <= 1, "{open} status files of the children stayed open");
        for kid in &mut kids {
            drop(kid.stdin.take());
            kid.wait().unwrap();
        }
        // The children are gone: the next reading still works.
        assert!(peak_rss_mb(&[me]).is_some());
    }

    #[test]
    fn a_measured_figure_is_taken_as_it_is() {
        assert_eq!(MemoryUse::Measured(41).mb(), 41);
        let gone = MemoryUse::Trees {
            live_pids: vec![i32::MAX],
            exited_kb: 2049,
        };
        assert_eq!(gone.mb(), 3, "2049 KB of exited processes, rounded up");
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
