//! A pool of sandboxes (spec §11): each runs one invoke at a time (K with
//! multi-concurrency, spec §9); an invoke goes to the one with room
//! released last (the warmest, as Lambda prefers), a new one is started
//! while fewer than the limit run, and past the limit invokes wait in
//! arrival order for the first room released. How
//! a sandbox is started (its Runtime API listener, its log hub) is the
//! binary's business: the pool is given a `Start`.
//!
//! The pool knows a sandbox only through [`Pooled`] (a clone of the handle,
//! a shutdown): it sits above the sandbox it holds, and its tests run on a
//! simulated one.

mod cap;
mod capped;
mod release;
mod slot;

pub use cap::Cap;
use cap::Capped;
use release::{release, release_as, retire, Waiting, Warmth};
pub use slot::SlotView;
use slot::{Slot, State};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the pool needs of a sandbox: a handle it can clone (for each
/// lease) and a shutdown that returns once the sandbox is down.
/// `Sandbox` implements it through its contract
/// (`SandboxContext::shutdown`).
pub trait Pooled: Clone + Send + Sync + 'static {
    fn shut_down(&self) -> impl Future<Output = ()> + Send;

    /// Which of the supervisor's process owners its processes belong to
    /// ([`crate::Supervisor::pids_of`]); none known by default.
    fn processes_owner(&self) -> Option<u64> {
        None
    }
}

/// One sandbox of the pool and the tasks that serve it: `tasks` (its
/// engine, its log hub) end on their own once it has shut down; `server`
/// (its Runtime API) is stopped then.
pub struct Member<S> {
    pub sandbox: S,
    pub tasks: Vec<JoinHandle<()>>,
    pub server: JoinHandle<()>,
}

/// Starts the sandbox of slot `index` (1, 2, ...: slot 0 is given).
pub type Start<S> = Box<
    dyn Fn(usize) -> Pin<Box<dyn Future<Output = Result<Member<S>, String>> + Send>> + Send + Sync,
>;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("cannot start another execution environment: {0}")]
    Start(String),
    #[error("the pool has shut down")]
    Gone,
    #[error("there is no sandbox {index}: --max-sandboxes is {max}, the first is 0")]
    NoSuchSandbox { index: usize, max: usize },
    #[error("sandbox {index} is being started")]
    Starting { index: usize },
}

enum Choice<S: Pooled> {
    Idle(Result<Lease<S>, PoolError>),
    Start(usize),
    Wait(Waiting<S>),
}

struct Shared<S> {
    state: Mutex<State<S>>,
    max: usize,
    /// Invokes a sandbox runs at once (`AWS_LAMBDA_MAX_CONCURRENCY`, else 1).
    per_sandbox: usize,
    start: Start<S>,
    /// The cap this pool shares with others (`--max-environments`).
    cap: Option<Cap>,
}

/// The pool; clones share it.
pub struct Pool<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Pool<S> {
    fn clone(&self) -> Self {
        Pool {
            shared: self.shared.clone(),
        }
    }
}

/// A sandbox held for one invoke: released (to the next waiter, or as
/// room) when dropped.
pub struct Lease<S: Pooled> {
    shared: Arc<Shared<S>>,
    index: usize,
    sandbox: S,
}

impl<S: Pooled> Lease<S> {
    pub fn sandbox(&self) -> &S {
        &self.sandbox
    }

    /// Which sandbox of the pool (0 is the first).
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<S: Pooled> Drop for Lease<S> {
    fn drop(&mut self) {
        release(&self.shared, self.index);
    }
}

impl<S> Shared<S> {
    fn state(&self) -> MutexGuard<'_, State<S>> {
        // Every update is a few assignments: a panic cannot leave it half
        // done, so a poisoned lock is fine.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<S: Pooled> Pool<S> {
    /// A pool of at most `max` sandboxes whose first is `first`, each
    /// running up to `per_sandbox` invokes at once.
    pub fn new(first: Member<S>, max: usize, per_sandbox: usize, start: Start<S>) -> Pool<S> {
        Self::build(first, max, per_sandbox, start, None, false)
    }

    /// [`Pool::new`] for a pool whose environments count against `cap`
    /// together with other pools'. `first` holds a unit from now on when
    /// `first_started` (its init was started eagerly: the caller counted
    /// it with [`Cap::reserve`]), else from its first invoke.
    pub fn with_cap(
        first: Member<S>,
        max: usize,
        per_sandbox: usize,
        start: Start<S>,
        cap: Cap,
        first_started: bool,
    ) -> Pool<S> {
        let pool = Self::build(
            first,
            max,
            per_sandbox,
            start,
            Some(cap.clone()),
            first_started,
        );
        let shared: Arc<dyn Capped> = pool.shared.clone();
        cap.register(Arc::downgrade(&shared));
        pool
    }

    fn build(
        first: Member<S>,
        max: usize,
        per_sandbox: usize,
        start: Start<S>,
        cap: Option<Cap>,
        first_counted: bool,
    ) -> Pool<S> {
        let mut slot = Slot::empty();
        slot.member = Some(first);
        slot.counted = first_counted;
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    slots: vec![slot],
                    waiters: VecDeque::new(),
                    releases: 0,
                    closed: false,
                    retiring: Vec::new(),
                }),
                max: max.max(1),
                per_sandbox: per_sandbox.max(1),
                start,
                cap,
            }),
        }
    }

    /// A sandbox for one invoke: the idle one released last, else a new
    /// one while fewer than the limit run, else the first released (in
    /// arrival order).
    pub async fn acquire(&self) -> Result<Lease<S>, PoolError> {
        match self.choose() {
            Choice::Idle(lease) => lease,
            Choice::Start(index) => self.start(index).await,
            Choice::Wait(waiting) => {
                let index = waiting.wait().await?;
                let state = self.shared.state();
                self.lease(&state, index)
            }
        }
    }

    fn choose(&self) -> Choice<S> {
        // The cap's lock before the pool's (cap.rs).
        let mut cap = self.shared.cap.as_ref().map(Cap::lock);
        let mut state = self.shared.state();
        if state.closed {
            return Choice::Idle(Err(PoolError::Gone));
        }
        let me = || self.shared.clone() as Arc<dyn Capped>;
        if let Some(index) = state.warmest_with_room(self.shared.per_sandbox) {
            let counted = state.slots[index].counted;
            // The first sandbox, given uncounted, takes a unit at its
            // first invoke.
            if counted || cap.as_mut().is_none_or(|cap| cap.take_unit(&me())) {
                let slot = &mut state.slots[index];
                slot.counted = cap.is_some();
                slot.leases += 1;
                return Choice::Idle(self.lease(&state, index));
            }
        } else {
            // A slot whose start failed is tried again before a new one.
            let free = state
                .slots
                .iter()
                .position(|s| s.member.is_none() && s.leases == 0);
            let room = free.is_some() || state.slots.len() < self.shared.max;
            if room && cap.as_mut().is_none_or(|cap| cap.take_unit(&me())) {
                let index = free.unwrap_or(state.slots.len());
                if index == state.slots.len() {
                    state.slots.push(Slot::empty());
                }
                let slot = &mut state.slots[index];
                slot.leases = 1;
                slot.counted = cap.is_some();
                return Choice::Start(index);
            }
            if !room {
                // Its own limit: it waits for one of its own sandboxes.
                cap = None;
            }
        }
        let (tx, rx) = oneshot::channel();
        state.waiters.push_back(tx);
        if let Some(cap) = cap.as_mut() {
            // Every environment is busy: the first unit or room released.
            let shared: Arc<dyn Capped> = self.shared.clone();
            cap.wait_for_unit(Arc::downgrade(&shared));
        }
        Choice::Wait(Waiting {
            shared: self.shared.clone(),
            rx: Some(rx),
        })
    }

    async fn start(&self, index: usize) -> Result<Lease<S>, PoolError> {
        match (self.shared.start)(index).await {
            Ok(member) => {
                let mut state = self.shared.state();
                let sandbox = member.sandbox.clone();
                state.slots[index].member = Some(member);
                if state.closed {
                    drop(state);
                    release(&self.shared, index);
                    return Err(PoolError::Gone);
                }
                tracing::info!(sandbox = index, "started another execution environment");
                Ok(Lease {
                    shared: self.shared.clone(),
                    index,
                    sandbox,
                })
            }
            Err(err) => {
                tracing::warn!(sandbox = index, %err, "cannot start another execution environment");
                release(&self.shared, index);
                Err(PoolError::Start(err))
            }
        }
    }

    /// Sandbox `index` (0 is the first), started now if it has not been:
    /// the control API addresses sandboxes by index. It is not taken from
    /// the pool: invokes may still be given it. Started this way it is
    /// idle and the coldest, so invokes keep going to the warm ones.
    pub async fn sandbox_at(&self, index: usize) -> Result<S, PoolError> {
        {
            let mut cap = self.shared.cap.as_ref().map(Cap::lock);
            let mut state = self.shared.state();
            if state.closed {
                return Err(PoolError::Gone);
            }
            if index >= self.shared.max {
                return Err(PoolError::NoSuchSandbox {
                    index,
                    max: self.shared.max,
                });
            }
            while state.slots.len() <= index {
                // An empty slot, as one whose start failed: filled by the
                // next invoke that needs a new sandbox, or below.
                state.slots.push(Slot::empty());
            }
            let slot = &mut state.slots[index];
            if let Some(member) = &slot.member {
                return Ok(member.sandbox.clone());
            }
            if slot.leases > 0 {
                return Err(PoolError::Starting { index });
            }
            slot.leases = 1;
            if let Some(cap) = cap.as_mut() {
                // Asked for by index, it starts even past the cap.
                cap.force();
                slot.counted = true;
            }
        }
        match (self.shared.start)(index).await {
            Ok(member) => {
                let sandbox = member.sandbox.clone();
                self.shared.state().slots[index].member = Some(member);
                tracing::info!(
                    sandbox = index,
                    "started an execution environment for the control API"
                );
                release_as(&self.shared, index, Warmth::Cold);
                Ok(sandbox)
            }
            Err(err) => {
                tracing::warn!(sandbox = index, %err, "cannot start another execution environment");
                release(&self.shared, index);
                Err(PoolError::Start(err))
            }
        }
    }

    /// The lease of slot `index`, which the caller has counted. Only
    /// slots with a sandbox are handed out; should one have none (the pool
    /// shut down meanwhile), the slot is released again.
    fn lease(&self, state: &State<S>, index: usize) -> Result<Lease<S>, PoolError> {
        match state.slots.get(index).and_then(|s| s.member.as_ref()) {
            Some(member) => Ok(Lease {
                shared: self.shared.clone(),
                index,
                sandbox: member.sandbox.clone(),
            }),
            None => Err(PoolError::Gone),
        }
    }

    /// The slots that hold a sandbox or are starting one, in index order.
    /// With a cap, a given sandbox never invoked is left out: it holds no
    /// unit and runs nothing.
    pub fn slots(&self) -> Vec<SlotView> {
        let capped = self.shared.cap.is_some();
        let state = self.shared.state();
        state
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| !(capped && slot.uncounted_idle()))
            .filter_map(|(index, slot)| {
                let view = match (&slot.member, slot.leases) {
                    (Some(_), 0) => "idle",
                    (Some(_), _) => "busy",
                    (None, 0) => return None,
                    (None, _) => "starting",
                };
                Some(SlotView {
                    index,
                    state: view,
                    invokes_served: slot.served,
                    last_used: slot.last_used,
                    processes_owner: slot
                        .member
                        .as_ref()
                        .and_then(|m| m.sandbox.processes_owner()),
                })
            })
            .collect()
    }

    /// Retires every sandbox (a code change, `--watch`): the idle ones
    /// now, the busy ones once their invokes are done, each shut down as
    /// Lambda retires an environment (SHUTDOWN `spindown`). The next invoke
    /// starts a new one. A busy sandbox with invokes waiting for it serves
    /// them first. How many were idle.
    pub fn retire_all(&self) -> usize {
        let mut state = self.shared.state();
        if state.closed {
            return 0;
        }
        let mut idle = Vec::new();
        let mut units = 0;
        for slot in state.slots.iter_mut() {
            match (&slot.member, slot.leases) {
                (Some(_), 0) => {
                    idle.extend(slot.member.take());
                    (slot.served, slot.last_used) = (0, None);
                    units += usize::from(std::mem::take(&mut slot.counted));
                }
                (Some(_), _) => slot.stale = true,
                (None, _) => {}
            }
        }
        let count = idle.len();
        for member in idle {
            state.retiring.push(tokio::spawn(retire(member)));
        }
        drop(state);
        if let Some(cap) = &self.shared.cap {
            cap.free(units);
        }
        count
    }

    /// Shuts every sandbox down (at once, each with its budget) and waits
    /// for their tasks; invokes still waiting are refused.
    pub async fn shutdown(&self) {
        let (members, retiring): (Vec<Member<S>>, Vec<JoinHandle<()>>) = {
            let mut state = self.shared.state();
            state.closed = true;
            state.waiters.clear();
            let units = state
                .slots
                .iter_mut()
                .map(|s| usize::from(std::mem::take(&mut s.counted)))
                .sum();
            let members = state
                .slots
                .iter_mut()
                .filter_map(|s| s.member.take())
                .collect();
            let retiring = std::mem::take(&mut state.retiring);
            drop(state);
            if let Some(cap) = &self.shared.cap {
                cap.free(units);
            }
            (members, retiring)
        };
        for task in retiring {
            let _ = task.await;
        }
        // At once: each takes up to its shutdown budget.
        let shutdowns: Vec<JoinHandle<()>> = members
            .iter()
            .map(|m| {
                let sandbox = m.sandbox.clone();
                tokio::spawn(async move { sandbox.shut_down().await })
            })
            .collect();
        for shutdown in shutdowns {
            let _ = shutdown.await;
        }
        for member in members {
            member.server.abort();
            drop(member.sandbox);
            for task in member.tasks {
                let _ = task.await;
            }
        }
    }
}

#[cfg(test)]
mod tests;
