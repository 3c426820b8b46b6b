//! Peak memory of a process tree, from `/proc`.

use std::collections::HashSet;

/// Sum of the peak resident set sizes (`VmHWM`) of `roots` and all their
/// descendants, in MB rounded up. `None` when none of them could be read.
pub fn peak_rss_mb(roots: &[i32]) -> Option<u64> {
    let mut seen = HashSet::new();
    let mut stack: Vec<i32> = roots.to_vec();
    let mut total_kb = 0u64;
    let mut any = false;
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Some(kb) = vm_hwm_kb(pid) {
            total_kb += kb;
            any = true;
        }
        stack.extend(children(pid));
    }
    any.then(|| total_kb.div_ceil(1024))
}

fn vm_hwm_kb(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
        let with_child = peak_rss_mb(&[me]).unwrap();
        drop(child.stdin.take());
        child.wait().unwrap();
        assert!(with_child >= 1);
    }

    #[test]
    fn unknown_pid_is_none() {
        assert_eq!(peak_rss_mb(&[i32::MAX]), None);
    }
}
