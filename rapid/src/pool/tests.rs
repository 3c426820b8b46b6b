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

/// A lease of `pool`, which must come within 10 s: a cap that lost track
/// of a unit would otherwise hang the test instead of failing it.
async fn leased(pool: &Pool<Sim>, what: &str) -> Lease<Sim> {
    tokio::time::timeout(std::time::Duration::from_secs(10), pool.acquire())
        .await
        .unwrap_or_else(|_| panic!("{what}: no sandbox within 10 s"))
        .unwrap_or_else(|err| panic!("{what}: {err}"))
}

/// A pool of at most `max` simulated sandboxes counted against `cap`.
fn capped(sim: &Sim, max: usize, cap: &Cap) -> Pool<Sim> {
    let sim_start = sim.clone();
    let start: Start<Sim> = Box::new(move |_| {
        let member = member(&sim_start);
        Box::pin(async move { Ok(member) })
    });
    Pool::with_cap(member(sim), max, 1, start, cap.clone(), false)
}

fn shutdowns(sim: &Sim) -> usize {
    sim.shutdowns.load(Ordering::SeqCst)
}

/// Lets spawned retirements and starts run (the runtime is
/// single-threaded: each yield runs what is ready).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn at_the_cap_the_least_recently_used_idle_environment_of_another_pool_is_retired() {
    let cap = Cap::new(2);
    let (a, b, c) = (Sim::default(), Sim::default(), Sim::default());
    let (pa, pb, pc) = (
        capped(&a, 2, &cap),
        capped(&b, 2, &cap),
        capped(&c, 2, &cap),
    );
    assert_eq!(
        cap.used(),
        0,
        "given sandboxes hold no unit before an invoke"
    );
    drop(leased(&pa, "a's first").await);
    drop(leased(&pb, "b's first").await);
    assert_eq!(cap.used(), 2);
    // c needs one: a's, released longest ago, is retired for it.
    let lease = leased(&pc, "c's first, in a's place").await;
    settle().await;
    assert_eq!((shutdowns(&a), shutdowns(&b)), (1, 0));
    assert_eq!(cap.used(), 2);
    assert!(pa.slots().is_empty(), "a has no environment left");
    // a again: b's is now the least recently used idle one (c's is busy).
    let again = leased(&pa, "a, started anew").await;
    settle().await;
    assert_eq!(shutdowns(&b), 1);
    assert_eq!(again.index(), 0, "a's emptied slot is used again");
    drop((lease, again));
    for pool in [pa, pb, pc] {
        pool.shutdown().await;
    }
    assert_eq!(cap.used(), 0);
}

/// Two pools under a cap of 2, each with its one environment busy, and an
/// invoke of the first waiting.
struct Busy {
    cap: Cap,
    sims: (Sim, Sim),
    pools: (Pool<Sim>, Pool<Sim>),
    leases: (Lease<Sim>, Lease<Sim>),
    waiting: JoinHandle<Result<usize, PoolError>>,
}

async fn both_busy_and_a_waits() -> Busy {
    let cap = Cap::new(2);
    let (a, b) = (Sim::default(), Sim::default());
    let (pa, pb) = (capped(&a, 3, &cap), capped(&b, 3, &cap));
    let a0 = leased(&pa, "a's first").await;
    let b0 = leased(&pb, "b's first").await;
    let waiting = {
        let pa = pa.clone();
        tokio::spawn(async move { pa.acquire().await.map(|l| l.index()) })
    };
    settle().await;
    Busy {
        cap,
        sims: (a, b),
        pools: (pa, pb),
        leases: (a0, b0),
        waiting,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn with_every_environment_busy_an_invoke_waits_for_the_first_released() {
    let Busy {
        cap,
        sims: (_, b),
        pools: (pa, pb),
        leases: (a0, b0),
        waiting,
    } = both_busy_and_a_waits().await;
    assert!(!waiting.is_finished(), "both environments are busy");
    // b's is released: retired for a's waiting invoke, which gets a new one.
    drop(b0);
    let index = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .expect("served once b's environment was released")
        .expect("joined")
        .expect("a sandbox");
    assert_eq!(index, 1, "a new sandbox beside a's busy one");
    assert_eq!(shutdowns(&b), 1, "b's idle environment was retired");
    assert_eq!(cap.used(), 2);
    drop(a0);
    pa.shutdown().await;
    pb.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_invoke_waiting_for_a_unit_takes_its_own_pool_s_environment_when_released() {
    let Busy {
        cap: _,
        sims: (a, b),
        pools: (pa, pb),
        leases: (a0, b0),
        waiting,
    } = both_busy_and_a_waits().await;
    drop(a0);
    let index = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("served once a's environment was released")
        .expect("joined")
        .expect("a's own, warm");
    assert_eq!(index, 0);
    // b was left alone, and the stale wish of a is no reason to retire b's.
    drop(b0);
    settle().await;
    assert_eq!((shutdowns(&a), shutdowns(&b)), (0, 0));
    assert_eq!(pb.slots().len(), 1);
    pa.shutdown().await;
    pb.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_invoke_whose_environment_cannot_start_is_refused_not_left_waiting() {
    let cap = Cap::new(1);
    let (a, b) = (Sim::default(), Sim::default());
    let pa = capped(&a, 2, &cap);
    let failing: Start<Sim> = Box::new(|_| Box::pin(async { Err("no port left".to_owned()) }));
    let pb = Pool::with_cap(member(&b), 2, 1, failing, cap.clone(), false);
    drop(
        pb.acquire()
            .await
            .expect("b's given sandbox, with the only unit"),
    );
    // a's first retires b's idle one.
    let a0 = leased(&pa, "a's first").await;
    settle().await;
    assert_eq!(shutdowns(&b), 1);
    let waiting = {
        let pb = pb.clone();
        tokio::spawn(async move { pb.acquire().await.map(|l| l.index()) })
    };
    settle().await;
    assert!(!waiting.is_finished(), "the only unit is busy in a");
    // Released, a's is retired for b, whose new sandbox cannot start.
    drop(a0);
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .expect("answered, not left waiting")
        .expect("joined");
    assert!(matches!(answer, Err(PoolError::Gone)), "{answer:?}");
    assert_eq!(cap.used(), 0, "the unit came back");
    pa.shutdown().await;
    pb.shutdown().await;
}
