//! Simulated processes for the engine's property test: a spawn gives a pid
//! that no real process has (above any `pid_max`) and an output pipe with
//! nothing written to it; SIGTERM and SIGKILL end the process at once (its
//! exit arrives like a reaped child's); the test ends processes itself too.

use super::reap::{ExitStatus, ProcessExit};
use super::spawn::Spawned;
use nix::sys::signal::Signal;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Above Linux's largest `pid_max` (2^22): never a real process.
const FIRST_PID: i32 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimProcess {
    pub(crate) pid: i32,
    pub(crate) program: String,
    pub(crate) alive: bool,
    /// Stopped (SIGSTOP) and not continued since.
    pub(crate) stopped: bool,
    /// The spawn's place among everything the simulation recorded.
    pub(crate) spawned_at: u64,
}

#[derive(Default)]
struct World {
    processes: Vec<SimProcess>,
    /// A counter of what happened (spawns, signals, exits), for ordering.
    clock: u64,
    exits: Option<mpsc::UnboundedSender<ProcessExit>>,
}

/// The simulated processes of one sandbox; clones share them.
#[derive(Clone, Default)]
pub(crate) struct Simulated {
    world: Arc<Mutex<World>>,
}

impl Simulated {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_exits(&self, exits: mpsc::UnboundedSender<ProcessExit>) {
        self.world().exits = Some(exits);
    }

    pub(crate) fn spawn(&self, program: &str) -> std::io::Result<Spawned> {
        let (output, _write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let mut world = self.world();
        world.clock += 1;
        let pid = FIRST_PID + world.processes.len() as i32;
        let spawned_at = world.clock;
        world.processes.push(SimProcess {
            pid,
            program: program.to_owned(),
            alive: true,
            stopped: false,
            spawned_at,
        });
        Ok(Spawned { pid, output })
    }

    pub(crate) fn signal(&self, pid: i32, signal: Signal) {
        match signal {
            // A stopped process does not act on SIGTERM until continued.
            Signal::SIGTERM if self.is_stopped(pid) => {}
            Signal::SIGTERM | Signal::SIGKILL => self.exit(pid, ExitStatus::Signal(signal)),
            Signal::SIGSTOP | Signal::SIGCONT => {
                let mut world = self.world();
                world.clock += 1;
                if let Some(p) = world.processes.iter_mut().find(|p| p.pid == pid && p.alive) {
                    p.stopped = signal == Signal::SIGSTOP;
                }
            }
            _ => {}
        }
    }

    pub(crate) fn is_stopped(&self, pid: i32) -> bool {
        self.world()
            .processes
            .iter()
            .any(|p| p.pid == pid && p.alive && p.stopped)
    }

    /// Ends `pid` (if alive); its exit goes to the engine.
    pub(crate) fn exit(&self, pid: i32, status: ExitStatus) {
        let mut world = self.world();
        world.clock += 1;
        let Some(process) = world.processes.iter_mut().find(|p| p.pid == pid && p.alive) else {
            return;
        };
        process.alive = false;
        if let Some(exits) = &world.exits {
            let _ = exits.send(ProcessExit {
                pid,
                status,
                max_rss_kb: 1024,
            });
        }
    }

    pub(crate) fn kill_all(&self) {
        let alive: Vec<i32> = self.alive().into_iter().map(|p| p.pid).collect();
        for pid in alive {
            self.exit(pid, ExitStatus::Signal(Signal::SIGKILL));
        }
    }

    pub(crate) fn any_alive(&self) -> bool {
        self.world().processes.iter().any(|p| p.alive)
    }

    pub(crate) fn alive(&self) -> Vec<SimProcess> {
        self.world()
            .processes
            .iter()
            .filter(|p| p.alive)
            .cloned()
            .collect()
    }

    pub(crate) fn all(&self) -> Vec<SimProcess> {
        self.world().processes.clone()
    }

    /// The counter now: what happens later has a larger one.
    pub(crate) fn now(&self) -> u64 {
        self.world().clock
    }
}
