//! OTLP export of the lifecycle (`--otlp-endpoint URL`, or the
//! `OTEL_EXPORTER_OTLP_*` variables): each environment's platform events
//! become OpenTelemetry spans (`spans.rs`, AWS's mapping of the Telemetry
//! API), sent as OTLP/HTTP protobuf (`export.rs`, the OpenTelemetry
//! project's generated types, encoded by prost) to `URL/v1/traces`.
//!
//! Nothing here is on an invoke's path: a log hub turns the events it
//! records into spans and puts them in a bounded queue without waiting;
//! one task gathers them into batches and posts them. A collector that is
//! slow or down only fills the queue, past which spans are dropped and
//! counted (said once as it starts, and in total at the end). Without an
//! endpoint there is no queue, no task and no span.

mod endpoint;
mod export;
mod spans;

pub use endpoint::{endpoint, Endpoint, EndpointError};
pub use spans::SpanMaker;

use opentelemetry_proto::tonic::trace::v1::Span;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// Spans waiting for the exporter at most: about 680 invokes' worth (an
/// invoke is three spans). Past it, new spans are dropped.
const QUEUE: usize = 2048;

/// What the spans are about: the function, as OpenTelemetry's resource
/// attributes for FaaS name it.
#[derive(Debug, Clone)]
pub struct Resource {
    pub function_name: String,
    pub function_version: String,
    pub function_arn: String,
    pub region: String,
    pub memory_size_mb: u64,
}

/// The exporter's handle: gives each log hub its [`SpanMaker`].
#[derive(Clone)]
pub struct Otlp {
    queue: Queue,
    function_name: String,
}

/// The exporter task, to await at shutdown.
pub struct Exporting {
    task: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
    url: String,
}

/// Where spans go: the bounded queue and its drop count.
#[derive(Clone)]
pub(crate) struct Queue {
    tx: mpsc::Sender<Span>,
    shared: Arc<Shared>,
}

/// What the queue's senders and the exporter share.
#[derive(Default)]
struct Shared {
    /// Spans dropped: the queue was full, or their batch was not taken.
    dropped: AtomicU64,
    /// The first drop of each kind is said; the rest are counted.
    said_full: AtomicBool,
    said_failed: AtomicBool,
    /// Told at shutdown: send what is queued, then end.
    close: Notify,
}

impl Otlp {
    /// Starts the exporter task, posting to `endpoint` the spans of
    /// `resource`'s function.
    pub fn start(endpoint: Endpoint, resource: Resource) -> (Otlp, Exporting) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared::default());
        let url = endpoint.url().to_owned();
        let function_name = resource.function_name.clone();
        let task = tokio::spawn(export::run(rx, endpoint, resource, shared.clone()));
        let queue = Queue {
            tx,
            shared: shared.clone(),
        };
        (
            Otlp {
                queue,
                function_name,
            },
            Exporting { task, shared, url },
        )
    }

    /// The span maker of one environment's log hub.
    pub fn spans(&self) -> SpanMaker {
        SpanMaker::new(self.queue.clone(), self.function_name.clone())
    }
}

impl Exporting {
    /// Has the exporter send what is queued (call it once the log hubs
    /// ended) and waits for it at most `within`; says how many spans were
    /// lost on the way, if any.
    pub async fn finish(self, within: Duration) {
        self.shared.close.notify_one();
        let mut task = self.task;
        if tokio::time::timeout(within, &mut task).await.is_err() {
            task.abort();
            tracing::warn!(url = %self.url, "OTLP: the collector did not take the last spans within {within:?}");
        }
        let dropped = self.shared.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(url = %self.url, dropped, "OTLP: spans were not exported");
        }
    }
}

impl Queue {
    /// Queues `span` without waiting; a full queue drops it.
    fn push(&self, span: Span) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(span) {
            let shared = &self.shared;
            shared.drop_spans(1, &shared.said_full, || {
                tracing::warn!("OTLP: the span queue is full (the collector is slow or down); spans are dropped and counted");
            });
        }
    }
}

impl Shared {
    /// Counts `count` spans lost; says why (`say`) the first time `once`
    /// is seen.
    fn drop_spans(&self, count: u64, once: &AtomicBool, say: impl FnOnce()) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
        if !once.swap(true, Ordering::Relaxed) {
            say();
        }
    }
}
