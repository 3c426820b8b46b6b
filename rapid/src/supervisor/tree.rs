//! rapid's descendants as `/proc` shows them: every process below rapid,
//! including those that left the process group they were spawned in
//! (`setsid`) and orphans re-parented to rapid as child subreaper.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::HashSet;

/// The direct children of `pid` (of all its threads).
pub(super) fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
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

/// `roots` and every process below them, parents before children.
pub(super) fn tree_of(roots: &[i32]) -> Vec<i32> {
    let mut seen: HashSet<i32> = HashSet::new();
    let mut order = Vec::new();
    let mut stack: Vec<i32> = roots.iter().rev().copied().collect();
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        order.push(pid);
        stack.extend(children_of(pid).into_iter().rev());
    }
    order
}

/// Exited and waiting to be reaped (or gone already).
fn is_zombie(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces or parentheses.
    let state = stat
        .rfind(')')
        .and_then(|at| stat[at + 1..].split_whitespace().next());
    matches!(state, Some("Z" | "X"))
}

/// SIGKILLs every descendant of rapid, wherever it has moved to: the
/// spawned process groups and what escaped them.
pub(super) fn kill_descendants() {
    let me = std::process::id() as i32;
    kill_trees(|| children_of(me));
}

/// SIGKILLs the processes of the trees under `roots()`. A process that
/// forks while this runs leaves its child to rapid (the subreaper), so the
/// roots are asked again on every pass, and passes go on until one finds
/// nothing that was not killed already.
pub(super) fn kill_trees(roots: impl Fn() -> Vec<i32>) {
    const MAX_PASSES: usize = 8;
    let mut killed: HashSet<i32> = HashSet::new();
    for _ in 0..MAX_PASSES {
        let fresh: Vec<i32> = tree_of(&roots())
            .into_iter()
            .filter(|pid| !killed.contains(pid) && !is_zombie(*pid))
            .collect();
        if fresh.is_empty() {
            return;
        }
        for pid in fresh {
            // ESRCH: it exited meanwhile.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            killed.insert(pid);
        }
    }
    tracing::warn!("processes kept forking while being killed; some may be left");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_of_this_process_starts_with_it() {
        let me = std::process::id() as i32;
        let tree = tree_of(&[me]);
        assert_eq!(tree.first(), Some(&me));
    }

    #[test]
    fn a_process_that_does_not_exist_is_not_alive() {
        // Beyond the largest pid Linux hands out (4,194,304).
        assert!(is_zombie(i32::MAX));
    }
}
