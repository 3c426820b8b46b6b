//! Sandbox generations: everything from one init to the end of its teardown.
//!
//! A generation is the runtime and extension processes of one init, the
//! Runtime and Extensions API connections they opened, the long polls held
//! on them and the streamed-response pumps reading from them. The engine
//! begins one when an init starts and ends it when the teardown after it
//! finishes (or at shutdown). Ending it cancels its token: every task
//! working for it stops where it waits, its connection is dropped (which
//! closes the socket: a poll is gone, a pump stops reading), and the
//! number of its tasks drops to zero. So nothing of a reset generation can
//! touch the next one, even when the peer of a connection outlives the
//! processes rapid killed.
//!
//! The engine publishes the current generation on a `watch` channel, which
//! the loopback server reads when it accepts a connection: tagging costs no
//! message to the engine.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// One generation of a sandbox: its id, its cancellation and its tasks.
/// Cloning gives another handle on the same generation.
#[derive(Clone, Debug)]
pub(crate) struct Generation {
    id: u64,
    cancel: CancellationToken,
    tasks: TaskTracker,
    /// How to stop each of its tasks that may still run. Ending the
    /// generation aborts them: an aborted task's work is dropped where it
    /// waits, exactly as a `select!` on the token would drop it, but the
    /// task pays nothing each time it is polled (a `select!` polls the
    /// token's future, two locks, on every wake-up of every connection).
    running: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Generation {
    fn new(id: u64) -> Self {
        Generation {
            id,
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            running: Arc::default(),
        }
    }

    /// The generation's number: 1 for a sandbox's first init, never reused.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Runs `work` as one of this generation's tasks. It ends when `work`
    /// does, or when the generation ends: then `work` is dropped where it
    /// waits. Work given to a generation that already ended never runs.
    pub(crate) fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        // Under the lock `end` takes after cancelling: either this sees the
        // end, or `end` sees this task.
        if self.cancel.is_cancelled() {
            return;
        }
        // Forget the tasks that are done (a connection per call adds up).
        running.retain(|task| !task.is_finished());
        running.push(self.tasks.spawn(work).abort_handle());
    }

    /// Whether the generation has ended.
    #[cfg(test)]
    pub(crate) fn is_ended(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// How many of its tasks are still running.
    fn tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Waits until the generation has ended and every one of its tasks has
    /// stopped.
    async fn stopped(&self) {
        self.cancel.cancelled().await;
        self.tasks.wait().await;
    }

    fn end(&self) {
        self.cancel.cancel();
        self.tasks.close();
        let running =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(PoisonError::into_inner));
        for task in running {
            task.abort();
        }
    }
}

/// The engine's side: begins and ends generations and publishes the
/// current one.
pub(crate) struct Generations {
    /// The id the next generation gets.
    next_id: u64,
    current: Option<Generation>,
    /// The last generation that ended, until its tasks are known stopped.
    ended: Option<Generation>,
    publish: watch::Sender<Option<Generation>>,
}

/// Where the current generation is read (the loopback server, at accept).
#[derive(Clone)]
pub(crate) struct CurrentGeneration(watch::Receiver<Option<Generation>>);

impl CurrentGeneration {
    /// The generation running now, if any: none before the first init and
    /// between a teardown and the next init.
    pub(crate) fn get(&self) -> Option<Generation> {
        self.0.borrow().clone()
    }
}

impl Generations {
    pub(crate) fn new() -> (Generations, CurrentGeneration) {
        let (publish, current) = watch::channel(None);
        let generations = Generations {
            next_id: 1,
            current: None,
            ended: None,
            publish,
        };
        (generations, CurrentGeneration(current))
    }

    /// The id of the generation running, if one runs.
    pub(crate) fn current_id(&self) -> Option<u64> {
        self.current.as_ref().map(Generation::id)
    }

    /// Begins a new generation (ending the one before, should it still
    /// run) and publishes it; returns its id.
    pub(crate) fn begin(&mut self) -> u64 {
        self.end();
        let generation = Generation::new(self.next_id);
        self.next_id += 1;
        let id = generation.id();
        self.publish.send_replace(Some(generation.clone()));
        self.current = Some(generation);
        tracing::debug!(generation = id, "generation begins");
        id
    }

    /// Ends the current generation, if one runs: its tasks stop, and
    /// connections accepted from now on belong to no generation.
    pub(crate) fn end(&mut self) {
        let Some(generation) = self.current.take() else {
            return;
        };
        self.publish.send_replace(None);
        generation.end();
        tracing::debug!(
            generation = generation.id(),
            tasks = generation.tasks(),
            "generation ends"
        );
        self.ended = Some(generation);
    }

    /// Ends the current generation and waits (at most `within`) until the
    /// tasks of the last one have stopped: at shutdown, so that rapid
    /// reports it done with no connection of its sandbox left.
    pub(crate) async fn stop(&mut self, within: Duration) {
        self.end();
        let Some(generation) = self.ended.take() else {
            return;
        };
        if tokio::time::timeout(within, generation.stopped())
            .await
            .is_err()
        {
            tracing::warn!(
                generation = generation.id(),
                tasks = generation.tasks(),
                "tasks of the last generation did not stop in time"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::pending;
    use tokio::sync::oneshot;

    /// Tells whoever holds the receiver when it is dropped.
    struct DropSignal(Option<oneshot::Sender<()>>);

    impl Drop for DropSignal {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }

    const BOUND: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn ending_a_generation_stops_its_tasks() {
        let (mut generations, current) = Generations::new();
        assert!(current.get().is_none(), "no generation before the first");
        let id = generations.begin();
        let generation = current.get().expect("the generation is published");
        assert_eq!(generation.id(), id);

        let mut dropped = Vec::new();
        for _ in 0..3 {
            let (tx, rx) = oneshot::channel();
            let signal = DropSignal(Some(tx));
            generation.spawn(async move {
                let _signal = signal;
                pending::<()>().await;
            });
            dropped.push(rx);
        }
        tokio::task::yield_now().await;
        assert_eq!(generation.tasks(), 3);
        assert!(!generation.is_ended());

        generations.end();
        assert!(generation.is_ended());
        assert!(current.get().is_none(), "no generation after the end");
        tokio::time::timeout(BOUND, generation.stopped())
            .await
            .expect("the tasks stop once their generation ends");
        assert_eq!(generation.tasks(), 0);
        for rx in dropped {
            rx.await.expect("each task's work was dropped");
        }
    }

    #[tokio::test]
    async fn work_given_to_an_ended_generation_never_runs() {
        let (mut generations, current) = Generations::new();
        generations.begin();
        let generation = current.get().expect("published");
        generations.end();
        let (ran_tx, mut ran) = oneshot::channel::<()>();
        generation.spawn(async move {
            let _ = ran_tx.send(());
        });
        tokio::time::timeout(BOUND, generation.stopped())
            .await
            .expect("the task stops at once");
        assert!(
            ran.try_recv().is_err(),
            "the work of an ended generation ran"
        );
    }

    #[tokio::test]
    async fn work_that_finishes_leaves_the_generation() {
        let (mut generations, current) = Generations::new();
        generations.begin();
        let generation = current.get().expect("published");
        let (tx, rx) = oneshot::channel();
        generation.spawn(async move {
            let _ = tx.send(());
        });
        rx.await.expect("the work ran");
        // The task is counted until it has returned: wait for it.
        for _ in 0..100 {
            if generation.tasks() == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(generation.tasks(), 0);
        assert!(!generation.is_ended(), "the generation goes on");
    }

    #[test]
    fn ids_are_never_reused_and_a_new_generation_ends_the_one_before() {
        let (mut generations, current) = Generations::new();
        let first = generations.begin();
        let before = current.get().expect("published");
        let second = generations.begin();
        assert!(second > first, "{second} after {first}");
        assert!(
            before.is_ended(),
            "beginning a generation ends the one before"
        );
        generations.end();
        let third = generations.begin();
        assert!(third > second, "{third} after {second}");
        assert_eq!(current.get().map(|g| g.id()), Some(third));
    }
}
