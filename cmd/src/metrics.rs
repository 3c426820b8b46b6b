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
//! then waits for in a task of its own; the memory peak from REPORT's
//! `Max Memory Used`, which the log hub tells as it writes the REPORT.
//! Invokes in flight, the queue, the environments by state and readiness
//! are read when scraped, from what the front door holds anyway.
//! Synchronous invokes (Invoke API and web traffic) are counted; `Event`
//! invokes only in their outcome once a pool runs them.
//!
//! Per function: with `--template` / `--functions` every series carries
//! the function's name as `faas_name` (OpenTelemetry's `faas.name`), all
//! in one registry ([`Families`]), one exposition.

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
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicU64, Ordering};
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

/// What an execution environment is doing, as `rapid_environments`'
/// `state` label says it.
const ENVIRONMENT_STATES: [&str; 4] = ["starting", "idle", "busy", "failed"];

/// A metric's labels: with many functions `faas_name` first.
type Labels = Vec<(&'static str, String)>;

/// A histogram family's constructor.
type Buckets = fn() -> Histogram;

/// The metric families of one rapid, in one registry: every function's
/// [`Metrics`] is a label set of each (`faas_name`, with many functions).
pub struct Families {
    registry: Registry,
    invocations: Family<Labels, Counter>,
    coldstarts: Family<Labels, Counter>,
    init_duration: Family<Labels, Histogram, Buckets>,
    invoke_duration: Family<Labels, Histogram, Buckets>,
    memory_use: Family<Labels, Histogram, Buckets>,
    memory_peak: Family<Labels, Gauge>,
    environments: Family<Labels, Gauge>,
    in_flight: Family<Labels, Gauge>,
    queued: Family<Labels, Gauge>,
    ready: Family<Labels, Gauge>,
}

/// 1 ms to about 33 s, doubling.
fn duration_buckets() -> Histogram {
    Histogram::new(doubling(0.001, 16))
}

/// 16 MiB to 16 GiB, doubling (Lambda's memory sizes are 128 MB to
/// 10,240 MB).
fn memory_buckets() -> Histogram {
    Histogram::new(doubling(16.0 * MIB, 11))
}

/// `count` bucket bounds from `first`, each twice the last: multiplied,
/// not `powf` (prometheus-client's `exponential_buckets` is the one use of
/// libm in rapid, which would map it for nothing).
fn doubling(first: f64, count: usize) -> impl Iterator<Item = f64> {
    std::iter::successors(Some(first), |bound| Some(bound * 2.0)).take(count)
}

impl Families {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let invocations = Family::default();
        registry.register(
            "faas_invocations",
            "Invocations answered, by outcome (success, function_error, timeout, crash, throttled)",
            invocations.clone(),
        );
        let coldstarts = Family::default();
        registry.register(
            "faas_coldstarts",
            "Invocations that started an execution environment (paid for an init)",
            coldstarts.clone(),
        );
        let init_duration = Family::new_with_constructor(duration_buckets as Buckets);
        registry.register_with_unit(
            "faas_init_duration",
            "Init duration of the execution environments (REPORT's Init Duration)",
            Unit::Seconds,
            init_duration.clone(),
        );
        let invoke_duration = Family::new_with_constructor(duration_buckets as Buckets);
        registry.register_with_unit(
            "faas_invoke_duration",
            "Invoke duration, from dispatch to the runtime's answer (REPORT's Duration)",
            Unit::Seconds,
            invoke_duration.clone(),
        );
        let memory_use = Family::new_with_constructor(memory_buckets as Buckets);
        registry.register_with_unit(
            "faas_mem_usage",
            "Memory peak of each invocation's execution environment (REPORT's Max Memory Used)",
            Unit::Bytes,
            memory_use.clone(),
        );
        let memory_peak = Family::default();
        registry.register_with_unit(
            "rapid_memory_peak",
            "The largest memory peak of an invocation so far (REPORT's Max Memory Used)",
            Unit::Bytes,
            memory_peak.clone(),
        );
        let environments = Family::default();
        registry.register(
            "rapid_environments",
            "Execution environments by state (starting: its init runs; idle: ready for an invoke; busy: running invokes; failed: its last init failed)",
            environments.clone(),
        );
        let in_flight = Family::default();
        registry.register(
            "rapid_invocations_in_flight",
            "Synchronous invocations accepted and not answered yet (running or queued)",
            in_flight.clone(),
        );
        let queued = Family::default();
        registry.register(
            "rapid_queue_depth",
            "Synchronous invocations waiting for an execution environment",
            queued.clone(),
        );
        let ready = Family::default();
        registry.register(
            "rapid_ready",
            "1 when the readiness probe answers 200, else 0",
            ready.clone(),
        );
        Arc::new(Families {
            registry,
            invocations,
            coldstarts,
            init_duration,
            invoke_duration,
            memory_use,
            memory_peak,
            environments,
            in_flight,
            queued,
            ready,
        })
    }

    /// The exposition of every function's metrics, their gauges read from
    /// their front doors now.
    fn render<'a, D: Scraped + 'a>(&self, doors: impl Iterator<Item = &'a D>) -> String {
        for door in doors {
            if let Some(metrics) = door.metrics() {
                metrics.update(door);
            }
        }
        let mut text = String::new();
        // Writing to a String does not fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// What a scrape reads of one function's front door now (the front door
/// implements it, so that metrics never names the front door, which
/// counts its invokes here).
pub trait Scraped {
    /// Its metrics, when they are on.
    fn metrics(&self) -> Option<&Arc<Metrics>>;
    /// The synchronous invokes' permits not taken.
    fn available_permits(&self) -> usize;
    /// What its readiness probe answers.
    fn readiness(&self) -> crate::probes::State;
    /// With `--max-sandboxes` above 1: its pool.
    fn pool(&self) -> Option<&rapid::Pool>;
}

/// The metrics of one function.
pub struct Metrics {
    families: Arc<Families>,
    invocations: [Counter; 5],
    coldstarts: Counter,
    init_duration: Histogram,
    invoke_duration: Histogram,
    /// Each invoke's `Max Memory Used`, in bytes.
    memory_use: Histogram,
    /// The largest of them so far, in MB.
    memory_peak_mb: AtomicU64,
    memory_peak: Gauge,
    /// By [`ENVIRONMENT_STATES`].
    environments: [Gauge; 4],
    in_flight: Gauge,
    queued: Gauge,
    ready: Gauge,
    /// The invokes that may run at once (sandboxes × their concurrency):
    /// past them, an invoke holding a queue permit waits.
    running: usize,
    /// The queue's permits in all (running + `--max-queued`).
    permits: usize,
    /// `--eager-init`: the environment is there once readiness is.
    eager: bool,
}

impl Metrics {
    /// The metrics of rapid's one function. `running`: invokes that may
    /// run at once; `permits`: the size of the front door's queue of
    /// synchronous invokes, those running included; `eager`:
    /// `--eager-init`.
    pub fn new(running: usize, permits: usize, eager: bool) -> Arc<Self> {
        Self::of_function(&Families::new(), None, running, permits, eager)
    }

    /// The metrics of function `name` (with many functions: labelled
    /// `faas_name`) in `families`.
    pub fn of_function(
        families: &Arc<Families>,
        name: Option<&str>,
        running: usize,
        permits: usize,
        eager: bool,
    ) -> Arc<Self> {
        let labels = |more: &[(&'static str, &str)]| -> Labels {
            name.map(|name| ("faas_name", name.to_owned()))
                .into_iter()
                .chain(more.iter().map(|(k, v)| (*k, (*v).to_owned())))
                .collect()
        };
        let none = labels(&[]);
        Arc::new(Metrics {
            families: families.clone(),
            invocations: Outcome::ALL.map(|outcome| {
                families
                    .invocations
                    .get_or_create_owned(&labels(&[("outcome", outcome.label())]))
            }),
            coldstarts: families.coldstarts.get_or_create_owned(&none),
            init_duration: families.init_duration.get_or_create_owned(&none),
            invoke_duration: families.invoke_duration.get_or_create_owned(&none),
            memory_use: families.memory_use.get_or_create_owned(&none),
            memory_peak_mb: AtomicU64::new(0),
            memory_peak: families.memory_peak.get_or_create_owned(&none),
            environments: ENVIRONMENT_STATES.map(|state| {
                families
                    .environments
                    .get_or_create_owned(&labels(&[("state", state)]))
            }),
            in_flight: families.in_flight.get_or_create_owned(&none),
            queued: families.queued.get_or_create_owned(&none),
            ready: families.ready.get_or_create_owned(&none),
            running,
            permits,
            eager,
        })
    }

    /// The families these are in (to add another function's).
    pub fn families(&self) -> &Arc<Families> {
        &self.families
    }

    /// What the log hubs tell each invoke's `Max Memory Used` to.
    pub fn memory_peaks(self: &Arc<Self>) -> telemetry::MemoryPeaks {
        let metrics = self.clone();
        Arc::new(move |mb| metrics.memory_used(mb))
    }

    /// An invoke's execution environment used at most `mb` MB.
    fn memory_used(&self, mb: u64) {
        self.memory_use.observe(mb as f64 * MIB);
        self.memory_peak_mb.fetch_max(mb, Ordering::Relaxed);
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

    /// Its gauges, read from `door` now.
    fn update(&self, door: &impl Scraped) {
        let taken = self.permits.saturating_sub(door.available_permits());
        self.in_flight.set(taken as i64);
        self.queued.set(taken.saturating_sub(self.running) as i64);
        let readiness = door.readiness();
        self.ready
            .set(i64::from(readiness == crate::probes::State::Ready));
        let running = taken.min(self.running);
        let counts = match door.pool() {
            Some(pool) => {
                let mut counts = [0; 4];
                for slot in pool.slots() {
                    if let Some(at) = ENVIRONMENT_STATES.iter().position(|s| *s == slot.state) {
                        counts[at] += 1;
                    }
                }
                counts
            }
            None => one_environment(readiness, running, self.eager || self.coldstarts.get() > 0),
        };
        for (gauge, count) in self.environments.iter().zip(counts) {
            gauge.set(count);
        }
        let peak = self.memory_peak_mb.load(Ordering::Relaxed) as f64 * MIB;
        self.memory_peak.set(peak as i64);
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// `rapid_environments` by state when rapid runs one execution
/// environment (no pool): what readiness says of its init, busy while
/// invokes run in it; none before the first init started (an invoke
/// starts it, or `--eager-init`).
fn one_environment(readiness: crate::probes::State, running: usize, initialized: bool) -> [i64; 4] {
    use crate::probes::State;
    let at = match readiness {
        State::Initializing => Some(0),
        State::InitFailed => Some(3),
        _ if running > 0 => Some(2),
        State::Ready if initialized => Some(1),
        // Ready on demand: nothing started yet.
        State::Ready => None,
        // Draining and idle: there if it ever started.
        State::Draining => initialized.then_some(1),
    };
    let mut counts = [0; 4];
    if let Some(at) = at {
        counts[at] = 1;
    }
    counts
}

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics` for the functions of `doors` (one, or each of
/// many with its `faas_name`); anything else is 404.
pub fn answer<B, D: Scraped>(doors: &[Arc<D>], req: &Request<B>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" || req.method() != Method::GET {
        let mut response = Response::new(Full::new(Bytes::from_static(
            b"rapid serves its metrics at GET /metrics\n",
        )));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    let Some(families) = doors
        .iter()
        .find_map(|door| door.metrics().map(|m| m.families().clone()))
    else {
        return Response::new(Full::default());
    };
    let text = families.render(doors.iter().map(|door| &**door));
    let mut response = Response::new(Full::new(Bytes::from(text)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buckets_double() {
        let bounds: Vec<f64> = doubling(0.001, 4).collect();
        assert_eq!(bounds, [0.001, 0.002, 0.004, 0.008]);
        let last = doubling(16.0 * MIB, 11).last();
        assert_eq!(last, Some(16.0 * 1024.0 * MIB), "16 GiB");
    }

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
    fn one_environment_s_state() {
        use crate::probes::State;
        // starting, idle, busy, failed
        let cases = [
            ((State::Initializing, 0, false), [1, 0, 0, 0]),
            ((State::Ready, 0, false), [0, 0, 0, 0]),
            ((State::Ready, 0, true), [0, 1, 0, 0]),
            ((State::Ready, 1, true), [0, 0, 1, 0]),
            ((State::InitFailed, 0, true), [0, 0, 0, 1]),
            ((State::Draining, 2, true), [0, 0, 1, 0]),
            ((State::Draining, 0, true), [0, 1, 0, 0]),
            ((State::Draining, 0, false), [0, 0, 0, 0]),
        ];
        for ((readiness, running, initialized), counts) in cases {
            assert_eq!(
                one_environment(readiness, running, initialized),
                counts,
                "{readiness:?} {running} {initialized}"
            );
        }
    }

    #[test]
    fn memory_peaks_fill_the_histogram_and_the_largest() {
        let metrics = Metrics::new(1, 1, false);
        let tell = metrics.memory_peaks();
        tell(40);
        tell(90);
        tell(60);
        let mut text = String::new();
        encode(&mut text, &metrics.families.registry).unwrap();
        // With one function its series have no label: `{}` (valid
        // OpenMetrics, the same series as none).
        assert!(text.contains("faas_mem_usage_bytes_count{} 3"), "{text}");
        assert_eq!(metrics.memory_peak_mb.load(Ordering::Relaxed), 90);
    }

    #[test]
    fn the_exposition_uses_the_faas_names() {
        let metrics = Metrics::new(1, 11, false);
        metrics.count(Outcome::Success);
        metrics.count(Outcome::Timeout);
        let mut text = String::new();
        encode(&mut text, &metrics.families.registry).unwrap();
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
        assert!(text.contains("faas_coldstarts_total{} 0"), "{text}");
    }
}
