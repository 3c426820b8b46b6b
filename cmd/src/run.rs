//! How an invoke gets a sandbox and runs in it: the queue's throttle, the
//! pool's lease (held until the invoke is complete, not only answered),
//! and with multi-concurrency a wait for a free slot bounded by the
//! invoke's timeout. Used by the Invoke API's RequestResponse and Event
//! invokes and by web traffic.

use crate::door::FrontDoor;
use crate::invoke_error::InvokeError;
use crate::metrics::{Metrics, Outcome};
use interop::contract::{InitContext, InvokeContext, SandboxContext};
use interop::{Invoke, InvokeOutcome};
use std::sync::Arc;

/// Runs `invoke` synchronously (Invoke's RequestResponse, and web
/// traffic): throttled past the queue, as at Lambda's concurrency limit;
/// on the pool's sandbox when there is a pool. The outcome as soon as the
/// runtime answered, and which sandbox ran it.
pub async fn run_sync(
    door: &FrontDoor,
    invoke: Invoke,
) -> Result<(InvokeOutcome, usize), InvokeError> {
    let ran = run_sync_unwatched(door, invoke).await;
    // A failed invoke may have been a failed init; one that ran while not
    // ready, a retried init that succeeded.
    let failed = !matches!(&ran, Ok((outcome, _)) if outcome.result.is_ok());
    door.readiness.after_invoke(failed);
    if let Some(metrics) = &door.metrics {
        match &ran {
            Ok((outcome, _)) => metrics.count(Outcome::of(outcome)),
            Err(InvokeError::Throttled) => metrics.count(Outcome::Throttled),
            Err(_) => {}
        }
    }
    ran
}

async fn run_sync_unwatched(
    door: &FrontDoor,
    invoke: Invoke,
) -> Result<(InvokeOutcome, usize), InvokeError> {
    // Held until the runtime answered: past the queue's length an invoke
    // is throttled.
    let _slot = door
        .queued_invokes
        .try_acquire()
        .map_err(|_| InvokeError::Throttled)?;
    let _in_flight = door.bursts.enter(invoke.payload.len());
    let request_id = invoke.request_id.clone();
    match &door.pool {
        Some(pool) => match acquire(pool, door.slot_wait, invoke.accepted).await? {
            Slot::Leased(lease) => {
                let index = lease.index();
                let metrics = door.metrics.clone();
                Ok((run_leased(lease, request_id, invoke, metrics).await?, index))
            }
            Slot::TimedOut(timeout) => {
                tracing::warn!(%request_id, timeout_s = timeout.as_secs_f64(), "invoke timed out waiting for a free slot");
                Ok((slot_wait_timed_out(request_id, timeout), 0))
            }
        },
        None => {
            let mut reservation = door.sandbox.on_demand().reserve(request_id);
            if door.metrics.is_none() {
                // Nobody waits for its completion.
                reservation = reservation.untracked();
            }
            let outcome = reservation
                .send(invoke)
                .await
                .map_err(|_| InvokeError::Gone)?;
            if let Some(metrics) = door.metrics.clone() {
                tokio::spawn(async move {
                    if let Ok(result) = reservation.wait().await {
                        metrics.completed(&result);
                    }
                });
            }
            Ok((outcome, 0))
        }
    }
}

/// What waiting for a sandbox of the pool gave.
pub(crate) enum Slot {
    Leased(rapid::Lease),
    /// Multi-concurrency: none came free within the invoke's timeout.
    TimedOut(std::time::Duration),
}

/// A sandbox from the pool; with `wait` (multi-concurrency) only until the
/// invoke accepted at `accepted` has waited that long.
pub(crate) async fn acquire(
    pool: &rapid::Pool,
    wait: Option<std::time::Duration>,
    accepted: std::time::Instant,
) -> Result<Slot, InvokeError> {
    let gone = |err: rapid::PoolError| {
        tracing::warn!(%err, "no execution environment for an invoke");
        InvokeError::Gone
    };
    let Some(timeout) = wait else {
        return pool.acquire().await.map(Slot::Leased).map_err(gone);
    };
    let deadline = accepted
        .checked_add(timeout)
        .map(tokio::time::Instant::from_std);
    let acquired = match deadline {
        Some(at) => tokio::time::timeout_at(at, pool.acquire()).await,
        None => Ok(pool.acquire().await),
    };
    match acquired {
        Ok(lease) => lease.map(Slot::Leased).map_err(gone),
        Err(_) => Ok(Slot::TimedOut(timeout)),
    }
}

/// The answer of an invoke that never found a free slot within its
/// timeout: Lambda's timeout error, as if it had run out of time.
fn slot_wait_timed_out(request_id: String, timeout: std::time::Duration) -> InvokeOutcome {
    let message = format!(
        "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
        timeout.as_secs_f64()
    );
    InvokeOutcome {
        request_id,
        result: Err(interop::FunctionError::new(
            interop::ErrorType::SandboxTimedout,
            &message,
        )),
        log_tail: None,
    }
}

/// Runs one invoke in the pool's sandbox `lease`: the outcome as soon as
/// the runtime answered; the sandbox stays taken until the invoke is
/// complete (the runtime and its extensions asked for their next event).
pub(crate) async fn run_leased(
    lease: rapid::Lease,
    request_id: String,
    invoke: Invoke,
    metrics: Option<Arc<Metrics>>,
) -> Result<InvokeOutcome, InvokeError> {
    tracing::info!(sandbox = lease.index(), %request_id, "invoke");
    let mut reservation = lease.sandbox().on_demand().reserve(request_id);
    let outcome = reservation
        .send(invoke)
        .await
        .map_err(|_| InvokeError::Gone)?;
    tokio::spawn(async move {
        let result = reservation.wait().await;
        drop(lease);
        if let (Some(metrics), Ok(result)) = (metrics, result) {
            metrics.completed(&result);
        }
    });
    Ok(outcome)
}
