//! rapid's metrics for an orchestrator's monitoring (spec §15), served on
//! `--metrics-address` (off by default) at `GET /metrics` in the
//! OpenMetrics text format that Prometheus scrapes, encoded by the
//! Prometheus project's own client crate. Names follow OpenTelemetry's
//! FaaS conventions (`faas.invocations` → `faas_invocations_total`,
//! seconds suffixed): invocations by outcome, cold starts, init and invoke
//! durations; rapid's own (`rapid_…`) for what they do not name.
//!
//! Counting costs an invoke one atomic add for its outcome; the durations
//! and cold starts come from the invoke's completion (the engine's own
//! figures, REPORT's `Duration` and `Init Duration`), which the front door
//! then waits for in a task of its own. Invokes in flight, the queue and
//! readiness are read when scraped, from what the front door holds anyway.
//! Synchronous invokes (Invoke API and web traffic) are counted; `Event`
//! invokes only in their outcome once a pool runs them.
//!
//! Per function: the label sets are fixed arrays today; when rapid serves
//! several functions (issue 25) a `faas_name` label goes beside `outcome`.

use crate::front_door::FrontDoor;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use interop::contract::{InvokeFailure, InvokeMetrics, InvokeSuccess};
use interop::{ErrorType, InvokeOutcome};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;

/// How an invoke ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The function answered with an error.
    FunctionError,
    Timeout,
    /// The runtime or an extension exited, ran out of memory, or the
    /// environment failed under the invoke.
    Crash,
    /// Refused at the queue's limit (429).
    Throttled,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::FunctionError,
        Outcome::Timeout,
        Outcome::Crash,
        Outcome::Throttled,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::FunctionError => "function_error",
            Outcome::Timeout => "timeout",
            Outcome::Crash => "crash",
            Outcome::Throttled => "throttled",
        }
    }

    /// The outcome of an answered invoke.
    pub fn of(outcome: &InvokeOutcome) -> Outcome {
        match &outcome.result {
            Ok(_) => Outcome::Success,
            Err(err) => Outcome::of_error(&err.error_type),
        }
    }

    fn of_error(error_type: &ErrorType) -> Outcome {
        match error_type {
            ErrorType::SandboxTimedout => Outcome::Timeout,
            ErrorType::SandboxFailure
            | ErrorType::SandboxShutdown
            | ErrorType::RuntimeExitError
            | ErrorType::RuntimeOutOfMemory
            | ErrorType::RuntimeTruncatedResponse
            | ErrorType::ExtensionCrash => Outcome::Crash,
            _ => Outcome::FunctionError,
        }
    }
}

/// The metrics of one rapid.
pub struct Metrics {
    registry: Registry,
    invocations: [Counter; 5],
    coldstarts: Counter,
    init_duration: Histogram,
    invoke_duration: Histogram,
    in_flight: Gauge,
    queued: Gauge,
    ready: Gauge,
    /// The invokes that may run at once (sandboxes × their concurrency):
    /// past them, an invoke holding a queue permit waits.
    running: usize,
    /// The queue's permits in all (running + `--max-queued`).
    permits: usize,
}

impl Metrics {
    /// `running`: invokes that may run at once; `permits`: the size of the
    /// front door's queue of synchronous invokes, those running included.
    pub fn new(running: usize, permits: usize) -> Arc<Self> {
        let mut registry = Registry::default();
        let invocations = Family::<[(&'static str, &'static str); 1], Counter>::default();
        registry.register(
            "faas_invocations",
            "Invocations answered, by outcome (success, function_error, timeout, crash, throttled)",
            invocations.clone(),
        );
        let invocations = Outcome::ALL
            .map(|outcome| invocations.get_or_create_owned(&[("outcome", outcome.label())]));
        let coldstarts = Counter::default();
        registry.register(
            "faas_coldstarts",
            "Invocations that started an execution environment (paid for an init)",
            coldstarts.clone(),
        );
        // 1 ms to about 33 s, doubling.
        let buckets = || exponential_buckets(0.001, 2.0, 16);
        let init_duration = Histogram::new(buckets());
        registry.register_with_unit(
            "faas_init_duration",
            "Init duration of the execution environments (REPORT's Init Duration)",
            Unit::Seconds,
            init_duration.clone(),
        );
        let invoke_duration = Histogram::new(buckets());
        registry.register_with_unit(
            "faas_invoke_duration",
            "Invoke duration, from dispatch to the runtime's answer (REPORT's Duration)",
            Unit::Seconds,
            invoke_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "rapid_invocations_in_flight",
            "Synchronous invocations accepted and not answered yet (running or queued)",
            in_flight.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "rapid_queue_depth",
            "Synchronous invocations waiting for an execution environment",
            queued.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "rapid_ready",
            "1 when the readiness probe answers 200, else 0",
            ready.clone(),
        );
        Arc::new(Metrics {
            registry,
            invocations,
            coldstarts,
            init_duration,
            invoke_duration,
            in_flight,
            queued,
            ready,
            running,
            permits,
        })
    }

    /// An invoke ended with `outcome`.
    pub fn count(&self, outcome: Outcome) {
        let index = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.invocations[index].inc();
    }

    /// An invoke completed (or failed) with these figures.
    pub fn completed(&self, result: &Result<InvokeSuccess, InvokeFailure>) {
        let metrics: &InvokeMetrics = match result {
            Ok(success) => &success.metrics,
            Err(failure) => &failure.metrics,
        };
        if let Some(init) = metrics.init_duration {
            self.coldstarts.inc();
            self.init_duration.observe(init.as_secs_f64());
        }
        if metrics.response.is_some() {
            self.invoke_duration.observe(metrics.duration.as_secs_f64());
        }
    }

    /// The exposition, with the gauges read from `door` now.
    fn render(&self, door: &FrontDoor) -> String {
        let taken = self
            .permits
            .saturating_sub(door.queued_invokes.available_permits());
        self.in_flight.set(taken as i64);
        self.queued.set(taken.saturating_sub(self.running) as i64);
        let ready = door.readiness.state() == crate::probes::State::Ready;
        self.ready.set(i64::from(ready));
        let mut text = String::new();
        // Writing to a String does not fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics`; anything else is 404.
pub fn answer<B>(metrics: &Metrics, door: &FrontDoor, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" || req.method() != Method::GET {
        let mut response = Response::new(Full::new(Bytes::from_static(
            b"rapid serves its metrics at GET /metrics\n",
        )));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    let mut response = Response::new(Full::new(Bytes::from(metrics.render(door))));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_map_to_outcomes() {
        assert_eq!(
            Outcome::of_error(&ErrorType::SandboxTimedout),
            Outcome::Timeout
        );
        assert_eq!(
            Outcome::of_error(&ErrorType::RuntimeExitError),
            Outcome::Crash
        );
        assert_eq!(
            Outcome::of_error(&ErrorType::Reported("Function.ValueError".into())),
            Outcome::FunctionError
        );
    }

    #[test]
    fn the_exposition_uses_the_faas_names() {
        let metrics = Metrics::new(1, 11);
        metrics.count(Outcome::Success);
        metrics.count(Outcome::Timeout);
        let mut text = String::new();
        encode(&mut text, &metrics.registry).unwrap();
        assert!(
            text.contains("faas_invocations_total{outcome=\"success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("faas_invocations_total{outcome=\"timeout\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("faas_invocations_total{outcome=\"throttled\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE faas_invoke_duration_seconds histogram"),
            "{text}"
        );
        assert!(text.contains("faas_coldstarts_total 0"), "{text}");
    }
}
