//! What one function's front door holds: its first sandbox and its pool,
//! the queues' permits, the control API's state, readiness and metrics.
//! Below the front door's request handling (`front_door.rs`) and the way an
//! invoke runs (`run.rs`), which both take it; the control API reaches it
//! through `control::Door`, metrics through `metrics::Scraped`.

use rapid::Sandbox;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// What the front door needs besides the sandbox.
pub struct FrontDoor {
    /// The first sandbox (the control API's).
    pub sandbox: Sandbox,
    /// With `--max-sandboxes` above 1: where invokes take a sandbox from.
    pub pool: Option<rapid::Pool>,
    /// What the control API holds between calls.
    pub control: crate::control::Controls,
    pub function_version: String,
    /// One permit per accepted `Event` invoke the runtime has not answered.
    pub queued_events: Arc<Semaphore>,
    /// One permit per synchronous invoke not answered yet: the one running
    /// and those waiting (`--max-queued`).
    pub queued_invokes: Arc<Semaphore>,
    /// The `/test/*` control API is served (`--test-api`).
    pub test_api: bool,
    /// Notified when the control API asked rapid to exit.
    pub stop: Arc<tokio::sync::Notify>,
    /// The platform events so far, for the control API's `eventLog`.
    pub event_log: telemetry::EventLog,
    /// The invokes in flight, to give memory back after a burst.
    pub bursts: Arc<crate::bursts::Bursts>,
    /// With multi-concurrency: how long an invoke may wait for a free slot
    /// in the pool (its timeout, counted from its acceptance); past it, it
    /// is answered as timed out. A slot stays taken while its worker is
    /// still inside a timed-out invoke, possibly for ever.
    pub slot_wait: Option<std::time::Duration>,
    /// What the readiness probe answers (`probes.rs`).
    pub readiness: Arc<crate::probes::Readiness>,
    /// With `--metrics-address`: what invokes are counted in.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl FrontDoor {
    /// The function version invokes run.
    pub fn version(&self) -> std::borrow::Cow<'_, str> {
        if self.test_api {
            self.control.version(&self.function_version).into()
        } else {
            self.function_version.as_str().into()
        }
    }
}

/// The control API reaches the front door's sandboxes and state through
/// its own trait, so that it never names the front door.
impl crate::control::Door for FrontDoor {
    fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    fn pool(&self) -> Option<&rapid::Pool> {
        self.pool.as_ref()
    }

    fn controls(&self) -> &crate::control::Controls {
        &self.control
    }

    fn version(&self) -> std::borrow::Cow<'_, str> {
        FrontDoor::version(self)
    }

    fn event_log(&self) -> &telemetry::EventLog {
        &self.event_log
    }

    fn stop(&self) {
        self.stop.notify_one();
    }
}

/// A scrape reads the gauges of the front door's queue, readiness and pool.
impl crate::metrics::Scraped for FrontDoor {
    fn metrics(&self) -> Option<&Arc<crate::metrics::Metrics>> {
        self.metrics.as_ref()
    }

    fn available_permits(&self) -> usize {
        self.queued_invokes.available_permits()
    }

    fn readiness(&self) -> crate::probes::State {
        self.readiness.state()
    }

    fn pool(&self) -> Option<&rapid::Pool> {
        self.pool.as_ref()
    }
}
