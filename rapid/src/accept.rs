//! Accepting connections without spinning when the process is out of
//! descriptors (or the kernel out of buffers).
//!
//! A failed `accept` leaves the connection in the kernel's backlog, so the
//! listener stays readable and an immediate retry fails again: without a
//! pause the event loop spins and every failure is a log line. As Go's
//! net/http does, a failure waits 5 ms, doubling up to 1 s, and the condition
//! is logged once when it starts and once when it ends.
//!
//! [`Limited`] also caps how many connections one listener may hold, so that
//! a flood on a public port cannot take the descriptors another port needs.
//! At the cap nothing is accepted: new connections wait in the kernel's
//! backlog (or are refused by the kernel when it is full).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The first pause after a failed accept.
const FIRST_DELAY: Duration = Duration::from_millis(5);
/// The longest pause between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// A listener whose `accept` backs off on failure instead of spinning.
pub struct Acceptor {
    listener: TcpListener,
    /// Names the listener in the log (`runtime API`, `front door`).
    name: &'static str,
    failing: Option<Failing>,
}

/// An episode of failed accepts.
struct Failing {
    since: Instant,
    attempts: u64,
    delay: Duration,
}

impl Acceptor {
    pub fn new(listener: TcpListener, name: &'static str) -> Self {
        Acceptor {
            listener,
            name,
            failing: None,
        }
    }

    /// Caps the connections this listener holds at `max` (at least 1).
    pub fn limited(self, max: usize) -> Limited {
        let max = max.max(1);
        Limited {
            acceptor: self,
            slots: Arc::new(Semaphore::new(max)),
            max,
            saturated: false,
        }
    }

    /// The next connection. Failures are retried (after a pause when they
    /// are about the process or the system rather than one connection).
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => {
                    if let Some(failing) = self.failing.take() {
                        tracing::info!(
                            listener = self.name,
                            failed_attempts = failing.attempts,
                            after_ms = failing.since.elapsed().as_millis() as u64,
                            "accepting connections again"
                        );
                    }
                    return accepted;
                }
                // One connection went away before it was accepted: the next
                // one is unaffected.
                Err(err) if is_per_connection(&err) => {
                    tracing::debug!(listener = self.name, %err, "accept failed");
                }
                Err(err) => {
                    let delay = self.failed(&err);
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Records a failure and returns how long to wait before the next try.
    fn failed(&mut self, err: &io::Error) -> Duration {
        match &mut self.failing {
            Some(failing) => {
                failing.attempts += 1;
                failing.delay = next_delay(failing.delay);
                failing.delay
            }
            None => {
                tracing::warn!(
                    listener = self.name,
                    %err,
                    "cannot accept connections; retrying with a growing pause (up to 1 s) \
                     until it clears"
                );
                self.failing = Some(Failing {
                    since: Instant::now(),
                    attempts: 1,
                    delay: FIRST_DELAY,
                });
                FIRST_DELAY
            }
        }
    }
}

/// The pause after `delay`: doubled, at most [`MAX_DELAY`].
fn next_delay(delay: Duration) -> Duration {
    (delay * 2).min(MAX_DELAY)
}

/// An [`Acceptor`] that holds at most a fixed number of connections.
pub struct Limited {
    acceptor: Acceptor,
    slots: Arc<Semaphore>,
    max: usize,
    /// The cap was reached and not yet relieved (logged once per episode).
    saturated: bool,
}

/// A connection's place under the cap: hold it as long as the connection
/// lives.
pub struct Slot(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Limited {
    /// The next connection, once fewer than the cap are open.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr, Slot) {
        if self.slots.available_permits() == 0 && !self.saturated {
            self.saturated = true;
            tracing::warn!(
                listener = self.acceptor.name,
                open = self.max,
                "connection limit reached (it keeps descriptors for the runtime); \
                 new connections wait until one closes"
            );
        }
        // The semaphore is never closed; should it be, accept uncapped
        // rather than stop serving.
        let permit = self.slots.clone().acquire_owned().await.ok();
        // Relieved once a quarter of the slots is free again, so that a load
        // hovering at the cap is not logged at every connection.
        if self.saturated && self.slots.available_permits() >= (self.max / 4).max(1) {
            self.saturated = false;
            tracing::info!(
                listener = self.acceptor.name,
                "below the connection limit again"
            );
        }
        let (stream, peer) = self.acceptor.accept().await;
        (stream, peer, Slot(permit))
    }
}

/// Errors that concern one connection (aborted or reset before accept, an
/// interrupted call), not the listener or the process.
fn is_per_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || err.raw_os_error() == Some(libc::EPROTO)
}

/// How many connections a public listener may hold when the process may open
/// `limit` descriptors: what is left after a reserve for everything else
/// (the runtime's and extensions' API connections, their output pipes,
/// `/proc` reads, the listeners).
pub fn connection_cap(limit: u64) -> usize {
    let reserve = (limit / 4).clamp(32, 1024);
    let cap = limit.saturating_sub(reserve).max(1);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_5_ms_to_1_s() {
        let mut delay = FIRST_DELAY;
        let mut seen = vec![delay];
        for _ in 0..10 {
            delay = next_delay(delay);
            seen.push(delay);
        }
        let ms: Vec<u128> = seen.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
    }

    #[test]
    fn the_cap_leaves_a_reserve() {
        assert_eq!(connection_cap(64), 32);
        assert_eq!(connection_cap(1024), 768);
        assert_eq!(connection_cap(1 << 20), (1 << 20) - 1024);
        assert_eq!(connection_cap(16), 1);
    }
}
