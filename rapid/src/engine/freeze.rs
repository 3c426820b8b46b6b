//! Freeze and thaw (spec §11): between invokes, once the runtime and every
//! extension have called `next`, Lambda freezes the whole execution
//! environment, so background work does not run until the next event is
//! handed out. Here the sandbox's freezer cgroup is frozen (cgroup v2,
//! everything the sandbox started, wherever it moved), or, without one,
//! every process group of the sandbox gets SIGSTOP (`Processes::freeze`);
//! it is thawed before anything is handed to it again (an invoke, a
//! restore, a SHUTDOWN). Frozen time is outside every invoke: a deadline
//! and a duration start at dispatch, after the thaw.

use super::Engine;
use crate::lifecycle;
use telemetry::Mark;

impl Engine {
    /// Freezes the environment when `lifecycle::may_freeze` says it is
    /// idle: looked at after every message.
    pub(super) fn freeze_if_idle(&mut self) {
        let freezing = lifecycle::Freezing {
            enabled: self.cfg.freeze,
            frozen: self.frozen,
            subscribers: self.logs.has_subscribers(),
            phase: self.phase(),
            waiting: !self.queue.is_empty() || !self.restore_waiters.is_empty(),
            runtime_polls: self
                .runtime
                .as_ref()
                .is_some_and(|rt| rt.next.is_some() || rt.restore_next.is_some()),
        };
        if !lifecycle::may_freeze(&freezing) {
            return;
        }
        let groups = self.process_groups();
        self.processes.freeze(&groups);
        self.frozen = true;
        self.logs.mark(Mark::Freeze);
    }

    /// Something is about to be handed to the environment: thaw it.
    pub(super) fn thaw(&mut self) {
        if !self.frozen {
            return;
        }
        let groups = self.process_groups();
        self.processes.thaw(&groups);
        self.frozen = false;
        self.logs.mark(Mark::Thaw);
    }

    /// The process groups of the runtime and the extensions still alive.
    fn process_groups(&self) -> Vec<i32> {
        let mut pids = self.extensions.live_pids();
        if let Some(rt) = self
            .runtime
            .as_ref()
            .filter(|rt| rt.exited_max_rss_kb.is_none())
        {
            pids.push(rt.pid);
        }
        pids
    }
}
