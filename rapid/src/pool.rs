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

struct Slot<S> {
    member: Option<Member<S>>,
    /// The invokes it holds (a start under way counts as one): at most one,
    /// or K with multi-concurrency.
    leases: usize,
    /// When it was last released idle, on the pool's own count of
    /// releases (0: never).
    released: u64,
    /// Retire it once its invokes are done (`Pool::retire_all` found it
    /// busy).
    stale: bool,
    /// Invokes its sandbox served (releases after use).
    served: u64,
    /// When its sandbox was last released after an invoke.
    last_used: Option<std::time::Instant>,
}

/// What the control API shows of one slot of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotView {
    pub index: usize,
    /// `busy`, `idle` or `starting`.
    pub state: &'static str,
    pub invokes_served: u64,
    pub last_used: Option<std::time::Instant>,
}

struct State<S> {
    slots: Vec<Slot<S>>,
    /// Invokes waiting for a sandbox, first come first served.
    waiters: VecDeque<oneshot::Sender<usize>>,
    /// Releases so far: the clock of `Slot::released`.
    releases: u64,
    closed: bool,
    /// Sandboxes retired while the pool runs, shutting down: awaited by
    /// `shutdown`.
    retiring: Vec<JoinHandle<()>>,
}

impl<S> State<S> {
    /// The sandbox with room for one more invoke released last: the
    /// warmest, as Lambda prefers the most recently used environment; the
    /// others then stay idle long enough for `--idle-timeout` to retire
    /// them. With multi-concurrency the fullest one with room comes first,
    /// so another starts only when every one holds K.
    fn warmest_with_room(&self, per_sandbox: usize) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.leases < per_sandbox && s.member.is_some())
            // Among never used ones, the lowest index.
            .max_by_key(|(index, s)| (s.leases, s.released, std::cmp::Reverse(*index)))
            .map(|(index, _)| index)
    }
}

struct Shared<S> {
    state: Mutex<State<S>>,
    max: usize,
    /// Invokes a sandbox runs at once (`AWS_LAMBDA_MAX_CONCURRENCY`, else 1).
    per_sandbox: usize,
    start: Start<S>,
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
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    slots: vec![Slot {
                        member: Some(first),
                        leases: 0,
                        released: 0,
                        stale: false,
                        served: 0,
                        last_used: None,
                    }],
                    waiters: VecDeque::new(),
                    releases: 0,
                    closed: false,
                    retiring: Vec::new(),
                }),
                max: max.max(1),
                per_sandbox: per_sandbox.max(1),
                start,
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
        let mut state = self.shared.state();
        if state.closed {
            return Choice::Idle(Err(PoolError::Gone));
        }
        if let Some(index) = state.warmest_with_room(self.shared.per_sandbox) {
            state.slots[index].leases += 1;
            return Choice::Idle(self.lease(&state, index));
        }
        // A slot whose start failed is tried again before a new one.
        let free = state
            .slots
            .iter()
            .position(|s| s.member.is_none() && s.leases == 0);
        if free.is_some() || state.slots.len() < self.shared.max {
            let index = free.unwrap_or(state.slots.len());
            if index == state.slots.len() {
                state.slots.push(Slot {
                    member: None,
                    leases: 1,
                    released: 0,
                    stale: false,
                    served: 0,
                    last_used: None,
                });
            } else {
                state.slots[index].leases = 1;
            }
            return Choice::Start(index);
        }
        let (tx, rx) = oneshot::channel();
        state.waiters.push_back(tx);
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
                state.slots.push(Slot {
                    member: None,
                    leases: 0,
                    released: 0,
                    stale: false,
                    served: 0,
                    last_used: None,
                });
            }
            let slot = &mut state.slots[index];
            if let Some(member) = &slot.member {
                return Ok(member.sandbox.clone());
            }
            if slot.leases > 0 {
                return Err(PoolError::Starting { index });
            }
            slot.leases = 1;
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
    pub fn slots(&self) -> Vec<SlotView> {
        let state = self.shared.state();
        state
            .slots
            .iter()
            .enumerate()
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
        for slot in state.slots.iter_mut() {
            match (&slot.member, slot.leases) {
                (Some(_), 0) => {
                    idle.extend(slot.member.take());
                    (slot.served, slot.last_used) = (0, None);
                }
                (Some(_), _) => slot.stale = true,
                (None, _) => {}
            }
        }
        let count = idle.len();
        for member in idle {
            state.retiring.push(tokio::spawn(retire(member)));
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
            let members = state
                .slots
                .iter_mut()
                .filter_map(|s| s.member.take())
                .collect();
            (members, std::mem::take(&mut state.retiring))
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

/// Shuts a retired sandbox down and waits for its tasks.
async fn retire<S: Pooled>(member: Member<S>) {
    member.sandbox.shut_down().await;
    member.server.abort();
    drop(member.sandbox);
    for task in member.tasks {
        let _ = task.await;
    }
}

/// Whether a sandbox marked idle has just been used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Warmth {
    /// It just ran an invoke: the warmest now.
    Used,
    /// Started and never used: the coldest.
    Cold,
}

/// Hands slot `index` to the first waiter still waiting, or marks it idle.
/// A slot without a sandbox (its start failed) is never handed out.
fn release<S: Pooled>(shared: &Arc<Shared<S>>, index: usize) {
    release_as(shared, index, Warmth::Used)
}

fn release_as<S: Pooled>(shared: &Arc<Shared<S>>, index: usize, warmth: Warmth) {
    let mut state = shared.state();
    if let (Warmth::Used, Some(slot)) = (warmth, state.slots.get_mut(index)) {
        slot.served += 1;
        slot.last_used = Some(std::time::Instant::now());
    }
    let Some(slot) = state.slots.get(index) else {
        return;
    };
    // A retired sandbox whose last invoke this was is not handed on.
    let retiring = slot.stale && slot.leases <= 1;
    if slot.member.is_some() && !retiring {
        while let Some(waiter) = state.waiters.pop_front() {
            if waiter.send(index).is_ok() {
                return;
            }
        }
    }
    state.releases += 1;
    let now = match warmth {
        Warmth::Used => state.releases,
        Warmth::Cold => 0,
    };
    let mut retired = None;
    if let Some(slot) = state.slots.get_mut(index) {
        slot.leases = slot.leases.saturating_sub(1);
        slot.released = now;
        if slot.stale && slot.leases == 0 {
            slot.stale = false;
            retired = slot.member.take();
            (slot.served, slot.last_used) = (0, None);
        }
    }
    let Some(member) = retired else {
        return;
    };
    state.retiring.retain(|task| !task.is_finished());
    state.retiring.push(tokio::spawn(retire(member)));
    if state.waiters.is_empty() || state.closed {
        return;
    }
    // Invokes wait for this slot: they get a new sandbox in it, never the
    // retired one.
    if let Some(slot) = state.slots.get_mut(index) {
        slot.leases = 1;
    }
    let shared_again = shared.clone();
    state.retiring.push(tokio::spawn(async move {
        let started = (shared_again.start)(index).await;
        let shut = match started {
            Ok(member) => {
                let mut state = shared_again.state();
                if state.closed {
                    Some(member)
                } else {
                    state.slots[index].member = Some(member);
                    None
                }
            }
            Err(err) => {
                tracing::warn!(sandbox = index, %err, "cannot start another execution environment");
                None
            }
        };
        match shut {
            // The pool shut down meanwhile.
            Some(member) => retire(member).await,
            // Started for a waiter: handed to it, or idle and cold.
            None => release_as(&shared_again, index, Warmth::Cold),
        }
    }));
}

/// An invoke waiting for a sandbox. Dropped before it read the slot it
/// was handed (its caller went away), it hands the slot on.
struct Waiting<S: Pooled> {
    shared: Arc<Shared<S>>,
    rx: Option<oneshot::Receiver<usize>>,
}

impl<S: Pooled> Waiting<S> {
    async fn wait(mut self) -> Result<usize, PoolError> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(PoolError::Gone);
        };
        let index = rx.await.map_err(|_| PoolError::Gone);
        self.rx = None;
        index
    }
}

impl<S: Pooled> Drop for Waiting<S> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(index) = rx.try_recv() {
                release(&self.shared, index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A simulated sandbox: it only counts its shutdowns. The pool is
    /// about choosing one, so no engine and no process is needed.
    #[derive(Clone, Default)]
    struct Sim {
        shutdowns: Arc<AtomicUsize>,
    }

    impl Pooled for Sim {
        async fn shut_down(&self) {
            self.shutdowns.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn member(sim: &Sim) -> Member<Sim> {
        Member {
            sandbox: sim.clone(),
            tasks: Vec::new(),
            server: tokio::spawn(async {}),
        }
    }

    /// A pool of simulated sandboxes, all counting their shutdowns on
    /// `sim`'s counter.
    fn pool_of(sim: &Sim, max: usize, per_sandbox: usize) -> Pool<Sim> {
        let first = member(sim);
        let sim = sim.clone();
        let start: Start<Sim> = Box::new(move |_| {
            let member = member(&sim);
            Box::pin(async move { Ok(member) })
        });
        Pool::new(first, max, per_sandbox, start)
    }

    fn pool(sim: &Sim, max: usize) -> Pool<Sim> {
        pool_of(sim, max, 1)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn with_multi_concurrency_a_sandbox_takes_k_invokes_before_another_starts() {
        let sim = Sim::default();
        let pool = pool_of(&sim, 2, 2);
        let a = pool.acquire().await.expect("room in sandbox 0");
        let b = pool.acquire().await.expect("more room in sandbox 0");
        assert_eq!((a.index(), b.index()), (0, 0));
        let c = pool.acquire().await.expect("a new sandbox");
        let d = pool.acquire().await.expect("room in it");
        assert_eq!((c.index(), d.index()), (1, 1));
        // Both full: the next waits for the first room released.
        let waiting = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire().await.map(|l| l.index()) })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "no room anywhere");
        drop(c);
        assert_eq!(waiting.await.expect("joined").expect("the room of c"), 1);
        // One invoke in each: the one released last.
        drop(a);
        let e = pool.acquire().await.expect("room");
        assert_eq!(e.index(), 0, "sandbox 0 was released last");
        // Room in both, 0 full now and 1 with one: the one with room.
        let f = pool.acquire().await.expect("room in 1");
        assert_eq!(f.index(), 1);
        drop((b, d, e, f));
        pool.shutdown().await;
        assert_eq!(sim.shutdowns.load(Ordering::SeqCst), 2, "both sandboxes");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retired_sandboxes_go_now_when_idle_and_after_their_invoke_when_busy() {
        let sim = Sim::default();
        let pool = pool(&sim, 2);
        let busy = pool.acquire().await.expect("sandbox 0");
        let idle = pool.acquire().await.expect("sandbox 1");
        assert_eq!((busy.index(), idle.index()), (0, 1));
        drop(idle);
        assert_eq!(pool.retire_all(), 1, "sandbox 1 was idle");
        // The busy one stays until its invoke is done; a new invoke gets a
        // new sandbox in the idle one's place.
        let fresh = pool.acquire().await.expect("a new sandbox 1");
        assert_eq!(fresh.index(), 1);
        drop(busy);
        // Released, the stale sandbox 0 is retired, not handed out again.
        let next = pool.acquire().await.expect("a new sandbox 0");
        assert_eq!(next.index(), 0);
        drop((fresh, next));
        pool.shutdown().await;
        // Two retired, then the two new ones at shutdown.
        assert_eq!(sim.shutdowns.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_invoke_waiting_for_a_retired_sandbox_gets_a_new_one() {
        let sim = Sim::default();
        let starts = Arc::new(AtomicUsize::new(0));
        let start: Start<Sim> = {
            let (sim, starts) = (sim.clone(), starts.clone());
            Box::new(move |_| {
                starts.fetch_add(1, Ordering::SeqCst);
                let member = member(&sim);
                Box::pin(async move { Ok(member) })
            })
        };
        let pool = Pool::new(member(&sim), 1, 1, start);
        let busy = pool.acquire().await.expect("sandbox 0");
        assert_eq!(pool.retire_all(), 0, "the only sandbox is busy");
        let waiting = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire().await.map(|l| l.index()) })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the busy sandbox is the only one");
        drop(busy);
        assert_eq!(waiting.await.expect("joined").expect("a sandbox"), 0);
        assert_eq!(
            starts.load(Ordering::SeqCst),
            1,
            "a new sandbox, not the retired one"
        );
        pool.shutdown().await;
        assert_eq!(sim.shutdowns.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_slots_say_their_state_and_the_invokes_they_served() {
        let sim = Sim::default();
        let pool = pool(&sim, 2);
        let a = pool.acquire().await.expect("sandbox 0");
        drop(a);
        let a = pool.acquire().await.expect("sandbox 0 again");
        let b = pool.acquire().await.expect("sandbox 1");
        drop(b);
        let views = pool.slots();
        let seen: Vec<_> = views
            .iter()
            .map(|v| (v.index, v.state, v.invokes_served, v.last_used.is_some()))
            .collect();
        assert_eq!(seen, [(0, "busy", 1, true), (1, "idle", 1, true)]);
        drop(a);
        pool.shutdown().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_invoke_goes_to_the_idle_sandbox_released_last() {
        let sim = Sim::default();
        let pool = pool(&sim, 3);
        // Three at once: three sandboxes.
        let a = pool.acquire().await.expect("a sandbox");
        let b = pool.acquire().await.expect("a second sandbox");
        let c = pool.acquire().await.expect("a third sandbox");
        assert_eq!((a.index(), b.index(), c.index()), (0, 1, 2));
        // Released 0, 2, 1: the warmest is 1, then (it is taken) 2.
        drop(a);
        drop(c);
        drop(b);
        let warmest = pool.acquire().await.expect("an idle sandbox");
        assert_eq!(warmest.index(), 1);
        let next = pool.acquire().await.expect("another idle sandbox");
        assert_eq!(next.index(), 2);
        // One at a time, invokes keep landing on the same one.
        drop(next);
        for _ in 0..3 {
            let again = pool.acquire().await.expect("an idle sandbox");
            assert_eq!(again.index(), 2, "the sandbox just released is the warmest");
        }
        drop(warmest);
        assert_eq!(pool.acquire().await.expect("idle").index(), 1);
        pool.shutdown().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_sandbox_can_be_addressed_by_index_and_is_started_cold() {
        let sim = Sim::default();
        let pool = pool(&sim, 3);
        assert!(matches!(
            pool.sandbox_at(3).await,
            Err(PoolError::NoSuchSandbox { index: 3, max: 3 })
        ));
        pool.sandbox_at(2).await.expect("sandbox 2, started");
        pool.sandbox_at(2).await.expect("sandbox 2, again");
        // Sandbox 0 was used; 2, started for the control API, is colder.
        drop(pool.acquire().await.expect("sandbox 0"));
        let lease = pool.acquire().await.expect("the warmest");
        assert_eq!(lease.index(), 0);
        // Busy 0: the idle 2 before a new one in the empty slot 1.
        let other = pool.acquire().await.expect("an idle one");
        assert_eq!(other.index(), 2);
        let third = pool.acquire().await.expect("a new one");
        assert_eq!(third.index(), 1);
        pool.shutdown().await;
        assert_eq!(sim.shutdowns.load(Ordering::SeqCst), 3, "all three");
        assert!(matches!(pool.acquire().await, Err(PoolError::Gone)));
    }
}
