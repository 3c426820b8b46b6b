//! Leaving an orchestrator cleanly (spec §15): on SIGTERM readiness fails
//! at once, requests that still arrive during `--drain-delay` are served
//! (the orchestrator takes a moment to stop sending), then new ones are
//! refused with 503 while those in flight finish, for at most
//! `--drain-timeout`; then Lambda's shutdown runs as before. With both at
//! 0 (the default outside `PORT`), the shutdown starts at once as it
//! always did.
//!
//! A request is in flight from the moment the front door starts serving
//! it until its answer's body is done or dropped ([`Tracked`]), so a
//! streamed answer counts until its last byte; accepted `Event` invokes
//! count until the runtime answered them (their queue's permits).

use crate::body::DoorBody;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE};
use http::{Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// `--drain-delay` when `PORT` is set and the flag is not: long enough
/// for an orchestrator's endpoints to drop the replica.
pub const REPLICA_DRAIN_DELAY: Duration = Duration::from_secs(5);

/// The requests in flight, and whether new ones are refused.
#[derive(Debug, Default)]
pub struct Drain {
    in_flight: AtomicUsize,
    refusing: AtomicBool,
    idle: Notify,
}

/// One request in flight, until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Drain>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    /// A request begins.
    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// New requests are refused (after the drain delay).
    pub fn refusing(&self) -> bool {
        self.refusing.load(Ordering::Acquire)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Waits until no request is in flight.
    async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// What a drain waits for, and how long.
pub struct Plan {
    pub delay: Duration,
    pub timeout: Duration,
    /// The accepted `Event` invokes' queue and its size: all permits back
    /// means none is waiting for the runtime.
    pub events: (Arc<Semaphore>, usize),
}

impl Plan {
    /// Both 0: no drain, the shutdown starts at once.
    pub fn is_off(&self) -> bool {
        self.delay.is_zero() && self.timeout.is_zero()
    }
}

/// Runs the drain; returns early when `cut_short` ends first (a second
/// signal).
pub async fn run(
    drain: &Drain,
    readiness: &crate::probes::Readiness,
    plan: Plan,
    cut_short: impl std::future::Future<Output = ()>,
) {
    readiness.drain();
    tokio::pin!(cut_short);
    tracing::info!(
        delay_s = plan.delay.as_secs_f64(),
        timeout_s = plan.timeout.as_secs_f64(),
        "draining: readiness fails; invokes still served until the delay ends"
    );
    tokio::select! {
        // ok: the drain delay is a span of time by definition
        _ = tokio::time::sleep(plan.delay) => {}
        _ = &mut cut_short => {
            tracing::info!("a second signal: shutting down now");
            return;
        }
    }
    drain.refusing.store(true, Ordering::Release);
    tracing::info!(
        in_flight = drain.in_flight(),
        "draining: new invokes refused with 503; waiting for those in flight"
    );
    let (events, queued) = plan.events;
    let settled = async {
        drain.idle().await;
        let mut held = Vec::new();
        let mut left = queued;
        while left > 0 {
            let take = u32::try_from(left).unwrap_or(u32::MAX);
            match events.clone().acquire_many_owned(take).await {
                Ok(permits) => held.push(permits),
                Err(_) => break,
            }
            left -= take as usize;
        }
    };
    tokio::select! {
        _ = settled => tracing::info!("drained: nothing in flight"),
        // ok: the drain timeout bounds the wait for the invokes in flight
        _ = tokio::time::sleep(plan.timeout) => tracing::warn!(
            in_flight = drain.in_flight(),
            "the drain timeout passed with invokes in flight: they end with the shutdown"
        ),
        _ = &mut cut_short => tracing::info!("a second signal: shutting down now"),
    }
}

/// The answer to a request that arrives once new ones are refused: 503,
/// Lambda's service error, and the connection closed so the caller's next
/// request goes to another replica.
pub fn refused() -> Response<DoorBody> {
    let body = serde_json::json!({
        "Type": "Service",
        "message": "The execution environment is draining (SIGTERM): no new invokes",
    })
    .to_string();
    let mut response = Response::new(DoorBody::full(Bytes::from(body)));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static("ServiceException"),
    );
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// An answer's body that keeps its request in flight until it is done or
/// dropped.
pub struct Tracked {
    body: DoorBody,
    _in_flight: Option<InFlight>,
}

impl Tracked {
    pub fn new(body: DoorBody, in_flight: Option<InFlight>) -> Self {
        Tracked {
            body,
            _in_flight: in_flight,
        }
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = <DoorBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_comes_when_the_last_request_ends() {
        let drain = Arc::new(Drain::default());
        drain.idle().await;
        let first = drain.enter();
        let second = drain.enter();
        assert_eq!(drain.in_flight(), 2);
        let waiter = {
            let drain = drain.clone();
            tokio::spawn(async move { drain.idle().await })
        };
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(second);
        tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("idle after the last request")
            .unwrap();
    }
}
