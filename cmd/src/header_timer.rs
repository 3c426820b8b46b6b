//! The timer behind the front door's header timeout (`--request-header-timeout`),
//! one per connection, at the cost of a comparison per request.
//!
//! hyper arms its header read timeout for every request: it asks its timer
//! for a sleep when the connection starts waiting for a request's head and
//! drops it once the head is read. With a plain tokio timer that is a boxed
//! `Sleep` put into the timer wheel and taken out again on every invoke
//! (about 2k instructions of a warm invoke's 85k). A connection's deadlines
//! only move forward (each is "now + the timeout"), so its sleeps share one
//! tokio timer: a sleep arms it only when nothing is armed, and moves it
//! only when it fires before that sleep's own deadline, which happens once
//! per timeout at most, not once per request. A sleep is ready exactly when
//! its own deadline has passed, as before.

use hyper::rt::{Sleep, Timer};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The timer of one front door connection (give each connection its own).
#[derive(Default)]
pub struct HeaderTimer {
    armed: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl Timer for HeaderTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(rapid::lifecycle::deadlines::after(Instant::now(), duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(SharedSleep {
            deadline: tokio::time::Instant::from_std(deadline),
            armed: self.armed.clone(),
        })
    }
}

/// A sleep until `deadline` on its connection's one tokio timer.
struct SharedSleep {
    deadline: tokio::time::Instant,
    armed: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl Sleep for SharedSleep {}

impl Future for SharedSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        // Only this connection's task polls its sleeps: the lock is never
        // contended, and nothing panics while it is held.
        let mut armed = self
            .armed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let timer = armed.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        loop {
            match timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if timer.deadline() >= deadline => return Poll::Ready(()),
                // It fired for an earlier request's deadline: on to ours.
                Poll::Ready(()) => timer.as_mut().reset(deadline),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_sleep_ends_at_its_own_deadline_on_one_timer() {
        let timer = HeaderTimer::default();
        let start = Instant::now();
        let mut first = timer.sleep_until(start + Duration::from_millis(20));
        let second = timer.sleep_until(start + Duration::from_millis(60));
        // The first arms the shared timer, then is dropped unfinished (its
        // request's head arrived): the second still waits for its own
        // deadline, past the earlier one the timer was armed for.
        assert!(poll_once(&mut first).is_pending());
        drop(first);
        second.await;
        assert!(start.elapsed() >= Duration::from_millis(60));
        // A sleep whose deadline passed is ready at once.
        timer.sleep_until(Instant::now()).await;
        // An earlier deadline than the armed one moves the timer back.
        let mut late = timer.sleep_until(Instant::now() + Duration::from_secs(3600));
        assert!(poll_once(&mut late).is_pending());
        let soon = Instant::now() + Duration::from_millis(10);
        timer.sleep_until(soon).await;
        assert!(Instant::now() >= soon);
    }

    struct Nobody;

    impl std::task::Wake for Nobody {
        fn wake(self: Arc<Self>) {}
    }

    /// Polls `sleep` once with a waker that wakes nobody.
    fn poll_once(sleep: &mut Pin<Box<dyn Sleep>>) -> Poll<()> {
        let waker = std::task::Waker::from(Arc::new(Nobody));
        let mut cx = Context::from_waker(&waker);
        sleep.as_mut().poll(&mut cx)
    }
}
