//! The process-wide half of supervision and the per-sandbox half.
//!
//! There is one [`Supervisor`] per rapid process, owned by the binary: it
//! makes rapid the child subreaper, runs the one task that reaps every
//! child (`wait4(-1)`), and at exit kills and reaps whatever is left. Each
//! sandbox spawns through its own [`Processes`] and is told of the exits of
//! its own processes only; exits of processes nobody spawned (orphans) are
//! reaped and dropped.

use super::cgroup::CgroupError;
use super::reap::{self, ProcessExit};
use super::spawn::{spawn, Spawned};
use super::tree;
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// Who spawned which live process.
#[derive(Default)]
struct Owners {
    next_sandbox: u64,
    by_pid: HashMap<i32, (u64, mpsc::UnboundedSender<ProcessExit>)>,
}

struct Shared {
    owners: Mutex<Owners>,
    /// Notified after every reaping pass.
    reaped: Notify,
}

impl Shared {
    fn owners(&self) -> MutexGuard<'_, Owners> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every update is one insert or remove), so a poisoned lock is fine.
        self.owners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The one supervisor of a rapid process.
#[derive(Clone)]
pub struct Supervisor {
    shared: Arc<Shared>,
}

impl Supervisor {
    /// Becomes the child subreaper and starts the reaper. Call once, inside
    /// the async runtime, before anything is spawned.
    pub fn start() -> std::io::Result<Supervisor> {
        reap::become_subreaper();
        let shared = Arc::new(Shared {
            owners: Mutex::new(Owners::default()),
            reaped: Notify::new(),
        });
        let route = shared.clone();
        reap::start_reaper(
            move |exit| {
                let owner = route.owners().by_pid.remove(&exit.pid);
                match owner {
                    Some((_, exits)) => {
                        let _ = exits.send(exit);
                    }
                    None => {
                        tracing::debug!(pid = exit.pid, status = %exit.status, "reaped an orphan")
                    }
                }
            },
            {
                let shared = shared.clone();
                move || shared.reaped.notify_waiters()
            },
        )?;
        Ok(Supervisor { shared })
    }

    /// The spawning handle of a new sandbox, and where its processes' exits
    /// arrive.
    pub fn processes(&self) -> (Processes, mpsc::UnboundedReceiver<ProcessExit>) {
        let (exits, rx) = mpsc::unbounded_channel();
        let sandbox = {
            let mut owners = self.shared.owners();
            owners.next_sandbox += 1;
            owners.next_sandbox
        };
        let processes = Processes {
            shared: self.shared.clone(),
            sandbox,
            exits,
            memory: None,
            freezer: None,
            frozen: None,
            #[cfg(test)]
            simulated: None,
        };
        (processes, rx)
    }

    /// The live processes of the sandbox whose [`Processes::owner`] is
    /// `owner`, in pid order.
    pub fn pids_of(&self, owner: u64) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .shared
            .owners()
            .by_pid
            .iter()
            .filter(|(_, (sandbox, _))| *sandbox == owner)
            .map(|(pid, _)| *pid)
            .collect();
        pids.sort_unstable();
        pids
    }

    /// At exit: kills every descendant of rapid and reaps them, for at most
    /// `limit` (a process in uninterruptible sleep may take its time).
    pub async fn kill_all(&self, limit: Duration) {
        let reaped = async {
            loop {
                let notified = self.shared.reaped.notified();
                tree::kill_descendants();
                if !super::has_children() {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(limit, reaped).await.is_err() {
            tracing::warn!("some processes were not reaped before exit");
        }
    }
}

/// How a sandbox's processes were frozen.
#[derive(Debug)]
enum Frozen {
    /// Its freezer cgroup: everything in it.
    Cgroup,
    /// Its process groups, with SIGSTOP.
    Signals,
}

/// One sandbox's way to spawn, signal and kill what it spawned.
pub struct Processes {
    shared: Arc<Shared>,
    sandbox: u64,
    exits: mpsc::UnboundedSender<ProcessExit>,
    /// The sandbox's memory cgroup and its cap, when one could be made.
    memory: Option<(super::cgroup::MemoryCgroup, u64)>,
    /// The sandbox's freezer cgroup (v2), when one could be made; without
    /// it, freezing signals the process groups.
    freezer: Option<super::freezer::FreezerCgroup>,
    /// How the processes were frozen, while they are.
    frozen: Option<Frozen>,
    /// In the engine's property test: processes that are only pids.
    #[cfg(test)]
    simulated: Option<super::sim::Simulated>,
}

impl Processes {
    /// Which sandbox of the supervisor these are ([`Supervisor::pids_of`]).
    pub fn owner(&self) -> u64 {
        self.sandbox
    }

    /// Starts a child (see [`spawn`]); its exit will come to this sandbox.
    pub fn spawn(
        &mut self,
        program: &str,
        args: &[String],
        cwd: &Path,
        env: &[(String, String)],
    ) -> std::io::Result<Spawned> {
        #[cfg(test)]
        if let Some(sim) = &self.simulated {
            return sim.spawn(program);
        }
        let mut procs = Vec::with_capacity(2);
        if let Some((cgroup, limit)) = &mut self.memory {
            cgroup.ensure(*limit);
            procs.push(cgroup.procs().clone());
        }
        if let Some(freezer) = &self.freezer {
            freezer.ensure();
            if !procs.contains(freezer.procs()) {
                procs.push(freezer.procs().clone());
            }
        }
        let spawned = {
            // Held across the spawn, so the reaper cannot take the exit of
            // a child that dies at once before it is known to be ours.
            let mut owners = self.shared.owners();
            let spawned = spawn(program, args, cwd, env, procs)?;
            owners
                .by_pid
                .insert(spawned.pid, (self.sandbox, self.exits.clone()));
            spawned
        };
        // The child entered the freezer cgroup before exec, which is
        // done: if it could not, freezing the cgroup would miss it, so
        // this sandbox freezes with signals from now on.
        if let Some(false) = self.freezer.as_ref().and_then(|f| f.holds(spawned.pid)) {
            tracing::warn!(
                pid = spawned.pid,
                "a process could not enter the sandbox's freezer cgroup; freezing with SIGSTOP / SIGCONT instead"
            );
            self.freezer = None;
        }
        Ok(spawned)
    }

    /// Caps what this sandbox's processes spawned from now on may use at
    /// `limit` bytes, in a memory cgroup of its own; why not, when rapid
    /// cannot make one.
    pub fn cap_memory(&mut self, limit: u64) -> Result<(), CgroupError> {
        let name = super::cgroup_owner::name(self.sandbox);
        let cgroup = super::cgroup::MemoryCgroup::create(&name, limit)?;
        tracing::debug!(cgroup = %cgroup.dir().display(), limit, "memory capped");
        self.memory = Some((cgroup, limit));
        Ok(())
    }

    /// Freezes this sandbox's processes spawned from now on, and all they
    /// start, with the cgroup v2 freezer (`freezer.rs`); why not, when
    /// rapid cannot make a freezer cgroup (the sandbox is then frozen with
    /// SIGSTOP / SIGCONT to its process groups).
    pub fn freeze_by_cgroup(&mut self) -> Result<(), CgroupError> {
        let cgroup =
            super::freezer::FreezerCgroup::create(&super::cgroup_owner::name(self.sandbox))?;
        tracing::debug!(cgroup = %cgroup.dir().display(), "frozen by cgroup");
        self.freezer = Some(cgroup);
        Ok(())
    }

    /// Freezes the sandbox: its freezer cgroup, else each of `groups` (the
    /// process groups of its runtime and extensions) with SIGSTOP.
    pub fn freeze(&mut self, groups: &[i32]) {
        if self.frozen.is_some() {
            return;
        }
        #[cfg(test)]
        if let Some(sim) = &self.simulated {
            groups
                .iter()
                .for_each(|&pid| sim.signal(pid, Signal::SIGSTOP));
            self.frozen = Some(Frozen::Signals);
            return;
        }
        if let Some(freezer) = &self.freezer {
            match freezer.set_frozen(true) {
                Ok(()) => {
                    self.frozen = Some(Frozen::Cgroup);
                    return;
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot freeze the sandbox's cgroup; freezing with SIGSTOP / SIGCONT instead");
                    self.freezer = None;
                }
            }
        }
        for &pid in groups {
            super::signal_group(pid, Signal::SIGSTOP);
        }
        self.frozen = Some(Frozen::Signals);
    }

    /// Thaws what [`Processes::freeze`] froze, the way it froze it
    /// (`groups`: the process groups still alive).
    pub fn thaw(&mut self, groups: &[i32]) {
        match self.frozen.take() {
            None => {}
            Some(Frozen::Cgroup) => {
                if let Some(Err(err)) = self.freezer.as_ref().map(|f| f.set_frozen(false)) {
                    tracing::warn!(%err, "cannot thaw the sandbox's cgroup");
                }
            }
            Some(Frozen::Signals) => {
                for &pid in groups {
                    self.signal_group(pid, Signal::SIGCONT);
                }
            }
        }
    }

    /// How many of its processes the kernel killed for memory so far (0
    /// without a cap).
    pub fn oom_kills(&self) -> u64 {
        self.memory
            .as_ref()
            .map_or(0, |(cgroup, _)| cgroup.oom_kills())
    }

    /// The peak of the sandbox's memory since the last
    /// [`reset_memory_peak`], in MB rounded up: its memory cgroup's
    /// (`cgroup.rs`); `None` without one.
    ///
    /// [`reset_memory_peak`]: Processes::reset_memory_peak
    pub fn memory_peak_mb(&self) -> Option<u64> {
        self.memory.as_ref()?.0.peak_mb()
    }

    /// Starts the sandbox's memory peak again from what it uses now.
    pub fn reset_memory_peak(&self) {
        if let Some((cgroup, _)) = &self.memory {
            cgroup.reset_peak();
        }
    }

    /// Sends `signal` to the process group of `pid`, one of this sandbox's.
    pub fn signal_group(&self, pid: i32, signal: Signal) {
        #[cfg(test)]
        if let Some(sim) = &self.simulated {
            return sim.signal(pid, signal);
        }
        super::signal_group(pid, signal);
    }

    /// Processes of this sandbox not reaped yet.
    pub fn any_alive(&self) -> bool {
        #[cfg(test)]
        if let Some(sim) = &self.simulated {
            return sim.any_alive();
        }
        self.shared
            .owners()
            .by_pid
            .values()
            .any(|(sandbox, _)| *sandbox == self.sandbox)
    }

    /// SIGKILLs everything this sandbox started, their descendants wherever
    /// they moved, and the orphans no sandbox owns (a process that escaped
    /// its group and whose parent died is re-parented to rapid and can no
    /// longer be told apart; with one sandbox it is always this one's).
    pub fn kill_all(&self) {
        #[cfg(test)]
        if let Some(sim) = &self.simulated {
            return sim.kill_all();
        }
        let me = std::process::id() as i32;
        tree::kill_trees(|| {
            let owners = self.shared.owners();
            let owned_by = |pid: &i32| owners.by_pid.get(pid).map(|(sandbox, _)| *sandbox);
            let mut roots: Vec<i32> = owners
                .by_pid
                .iter()
                .filter(|(_, (sandbox, _))| *sandbox == self.sandbox)
                .map(|(pid, _)| *pid)
                .collect();
            roots.extend(
                tree::children_of(me)
                    .into_iter()
                    .filter(|pid| owned_by(pid).is_none()),
            );
            roots
        });
    }
}

#[cfg(test)]
impl Processes {
    /// Processes that exist only as pids in `sim`, whose exits arrive on
    /// the returned receiver (the engine's property test).
    pub(crate) fn simulated(
        sim: super::sim::Simulated,
    ) -> (Processes, mpsc::UnboundedReceiver<ProcessExit>) {
        let (exits, rx) = mpsc::unbounded_channel();
        sim.set_exits(exits.clone());
        let shared = Arc::new(Shared {
            owners: Mutex::new(Owners::default()),
            reaped: Notify::new(),
        });
        let processes = Processes {
            shared,
            sandbox: 0,
            exits,
            memory: None,
            freezer: None,
            frozen: None,
            simulated: Some(sim),
        };
        (processes, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::ExitStatus;

    /// Each test's supervisor reaps any child of this test process
    /// (`wait4(-1)`), so two at once would take each other's exits: the
    /// tests that start one take turns.
    static ONE_REAPER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// The next exit on `exits`, failing the test after a generous wait
    /// instead of hanging it.
    async fn next_exit(
        exits: &mut mpsc::UnboundedReceiver<ProcessExit>,
        what: &str,
    ) -> ProcessExit {
        tokio::time::timeout(Duration::from_secs(30), exits.recv())
            .await
            .unwrap_or_else(|_| panic!("no exit of {what} within 30 s"))
            .unwrap_or_else(|| panic!("the exits of {what} ended"))
    }

    fn sh(processes: &mut Processes, script: &str) -> i32 {
        let args = vec!["-c".to_owned(), script.to_owned()];
        let env = vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        processes
            .spawn("/bin/sh", &args, Path::new("/"), &env)
            .expect("spawn /bin/sh")
            .pid
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_sandbox_hears_of_its_own_processes_only() {
        let _turn = ONE_REAPER.lock().await;
        let supervisor = Supervisor::start().expect("supervisor");
        let (mut a, mut a_exits) = supervisor.processes();
        let (mut b, mut b_exits) = supervisor.processes();
        let a_pid = sh(&mut a, "exit 3");
        let b_pid = sh(&mut b, "exit 4");
        let a_exit = next_exit(&mut a_exits, "a's process").await;
        let b_exit = next_exit(&mut b_exits, "b's process").await;
        assert_eq!((a_exit.pid, a_exit.status), (a_pid, ExitStatus::Code(3)));
        assert_eq!((b_exit.pid, b_exit.status), (b_pid, ExitStatus::Code(4)));
        assert!(!a.any_alive() && !b.any_alive());

        // Killing one sandbox's processes leaves the other's alone.
        let a_sleeper = sh(&mut a, "exec sleep 600");
        let b_sleeper = sh(&mut b, "exec sleep 600");
        a.kill_all();
        let gone = next_exit(&mut a_exits, "a's sleeper").await;
        assert_eq!(gone.pid, a_sleeper);
        assert!(b.any_alive(), "b's sleeper {b_sleeper} was killed with a's");
        b.kill_all();
        assert_eq!(next_exit(&mut b_exits, "b's sleeper").await.pid, b_sleeper);
    }

    /// The hazard of v1's freezer, which rapid does not use: a frozen
    /// process that cannot be killed. A sandbox frozen by its v2 cgroup is
    /// killed without a thaw, and its cgroup goes with it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_sandbox_frozen_by_its_cgroup_can_be_killed_without_a_thaw() {
        let _turn = ONE_REAPER.lock().await;
        let supervisor = Supervisor::start().expect("supervisor");
        let (mut processes, mut exits) = supervisor.processes();
        if let Err(why) = processes.freeze_by_cgroup() {
            eprintln!("skipped: rapid cannot make a freezer cgroup here: {why}");
            return;
        }
        let pid = sh(&mut processes, "exec sleep 600");
        let freezer = processes.freezer.as_ref().expect("the freezer cgroup");
        assert_eq!(freezer.holds(pid), Some(true), "{pid} is in its cgroup");
        let dir = freezer.dir().to_path_buf();
        processes.freeze(&[pid]);
        let events = dir.join("cgroup.events");
        let frozen = async {
            while !std::fs::read_to_string(&events).is_ok_and(|e| e.contains("frozen 1")) {
                tokio::time::sleep(Duration::from_millis(20)).await; // ok: cgroup.events is a file, looked at again
            }
        };
        tokio::time::timeout(Duration::from_secs(10), frozen)
            .await
            .expect("cgroup.events says frozen 1");
        processes.kill_all();
        let exit = tokio::time::timeout(Duration::from_secs(10), exits.recv())
            .await
            .expect("the frozen process was killed");
        assert_eq!(exit.map(|e| e.pid), Some(pid));
        drop(processes);
        assert!(!dir.exists(), "{} was removed", dir.display());
    }
}
