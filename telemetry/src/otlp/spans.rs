//! One environment's platform events as OpenTelemetry spans, the way AWS
//! maps the Telemetry API's events (its "child spans" mapping): a phase's
//! three events (`*Start`, `*RuntimeDone`, `*Report`) are one span of kind
//! Server, from the start event's time to the report's, in the trace of
//! the invoke's X-Ray header (its `Root` the trace id, its `Parent` the
//! parent span, its `Sampled` the trace flags), with the span id of
//! `platform.start`'s `tracing`; its status is Error unless the runtime's
//! status was `success`. The `spans` of `*RuntimeDone` (`responseLatency`,
//! `responseDuration`) are its children, of the same kind and status.
//!
//! Attributes follow OpenTelemetry's FaaS conventions: `faas.trigger`,
//! `faas.invocation_id` and `faas.coldstart` on each invoke, `error.type`
//! when a phase failed; the function itself is the resource
//! (`super::Resource`).

use super::Queue;
use crate::events::{InitPhase, InitializationType, PlatformEvent, Record, RuntimeDone, Status};
use interop::ErrorType;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status as SpanStatus};
use std::time::{SystemTime, UNIX_EPOCH};

/// The most invokes kept open at once (a multi-concurrent runtime holds a
/// few); past it the oldest is forgotten.
const MAX_OPEN: usize = 1024;
/// `Span.flags`: the W3C trace flag "sampled".
const SAMPLED: u32 = 0x01;
/// `Span.flags`: whether the parent is remote is known, and it is.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// Where a span belongs: its trace, its parent, its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceContext {
    pub trace_id: [u8; 16],
    /// The caller's span (the header's `Parent`), remote.
    pub parent: Option<[u8; 8]>,
    pub sampled: bool,
}

impl TraceContext {
    /// A trace of its own, for a phase no caller traced (an init).
    fn new_root() -> TraceContext {
        TraceContext {
            trace_id: interop::ids::random_bytes(),
            parent: None,
            sampled: true,
        }
    }

    /// Reads an `X-Amzn-Trace-Id` value:
    /// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
    /// The root's two hex parts are the 16 bytes of the trace id. `None`
    /// when it has no valid root.
    pub fn from_xray(value: &str) -> Option<TraceContext> {
        let mut trace_id = None;
        let mut parent = None;
        let mut sampled = false;
        for field in value.split(';') {
            let Some((key, value)) = field.trim().split_once('=') else {
                continue;
            };
            match key.trim() {
                "Root" => {
                    let mut parts = value.trim().split('-');
                    let (Some("1"), Some(time), Some(random), None) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        return None;
                    };
                    if time.len() != 8 || random.len() != 24 {
                        return None;
                    }
                    let mut id = [0u8; 16];
                    hex_into(&mut id[..4], time)?;
                    hex_into(&mut id[4..], random)?;
                    trace_id = Some(id);
                }
                "Parent" => {
                    let mut id = [0u8; 8];
                    parent = hex_into(&mut id, value.trim()).map(|()| id);
                }
                "Sampled" => sampled = value.trim() == "1",
                _ => {}
            }
        }
        let trace_id = trace_id.filter(|id| *id != [0; 16])?;
        Some(TraceContext {
            trace_id,
            parent: parent.filter(|id| *id != [0; 8]),
            sampled,
        })
    }

    fn flags(&self) -> u32 {
        let sampled = if self.sampled { SAMPLED } else { 0 };
        let remote = if self.parent.is_some() { IS_REMOTE } else { 0 };
        sampled | HAS_IS_REMOTE | remote
    }
}

/// Decodes `hex` (exactly two digits per byte of `out`).
fn hex_into(out: &mut [u8], hex: &str) -> Option<()> {
    let hex = hex.as_bytes();
    if hex.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |d: u8| char::from(d).to_digit(16);
        *byte = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(())
}

/// A phase begun and not yet reported.
struct Open {
    span: Span,
    /// The runtime's status, and the children it brought.
    runtime: Option<Status>,
    children: Vec<Span>,
}

/// One environment's span maker, fed by its log hub.
pub struct SpanMaker {
    queue: Queue,
    function_name: String,
    init: Option<Open>,
    restore: Option<Open>,
    invokes: Vec<(String, Open)>,
    /// The next invoke is the first of its environment.
    cold: bool,
}

impl SpanMaker {
    pub(crate) fn new(queue: Queue, function_name: String) -> SpanMaker {
        SpanMaker {
            queue,
            function_name,
            init: None,
            restore: None,
            invokes: Vec::new(),
            cold: true,
        }
    }

    pub fn event(&mut self, event: &PlatformEvent) {
        let time = event.time;
        match &event.record {
            Record::InitStart(r) => {
                self.function_name.clone_from(&r.function_name);
                self.cold = true;
                self.init = Some(self.open("init", TraceContext::new_root(), None, time));
                if let Some(open) = &mut self.init {
                    push_init_attributes(&mut open.span, r.initialization_type, r.phase);
                }
            }
            Record::InitRuntimeDone(r) => {
                if let Some(open) = &mut self.init {
                    open.runtime = Some(r.status);
                }
            }
            Record::InitReport(r) => {
                if let Some(open) = self.init.take() {
                    self.close(open, r.status, r.error_type.as_ref(), time);
                }
            }
            Record::RestoreStart(_) => {
                self.cold = true;
                self.restore = Some(self.open("restore", TraceContext::new_root(), None, time));
            }
            Record::RestoreRuntimeDone(r) => {
                if let Some(open) = &mut self.restore {
                    open.runtime = Some(r.status);
                }
            }
            Record::RestoreReport(r) => {
                if let Some(open) = self.restore.take() {
                    self.close(open, r.status, r.error_type.as_ref(), time);
                }
            }
            Record::Start(r) => {
                let tracing = r.tracing.as_ref();
                let context = tracing
                    .and_then(|t| TraceContext::from_xray(&t.value))
                    .unwrap_or_else(TraceContext::new_root);
                let span_id = tracing.and_then(|t| t.span_id.as_deref()).and_then(|hex| {
                    let mut id = [0u8; 8];
                    hex_into(&mut id, hex).map(|()| id)
                });
                let name = self.function_name.clone();
                let mut open = self.open(name, context, span_id, time);
                let cold = std::mem::replace(&mut self.cold, false);
                open.span.attributes.extend([
                    string("faas.trigger", "other"),
                    string("faas.invocation_id", &r.request_id),
                    boolean("faas.coldstart", cold),
                ]);
                self.invokes.retain(|(id, _)| *id != r.request_id);
                if self.invokes.len() >= MAX_OPEN {
                    self.invokes.remove(0);
                }
                self.invokes.push((r.request_id.clone(), open));
            }
            Record::RuntimeDone(r) => {
                if let Some((_, open)) = self.invokes.iter_mut().find(|(id, _)| *id == r.request_id)
                {
                    runtime_done(open, r, time);
                }
            }
            Record::Report(r) => {
                let at = self.invokes.iter().position(|(id, _)| *id == r.request_id);
                if let Some(at) = at {
                    let (_, open) = self.invokes.remove(at);
                    self.close(open, r.status, r.error_type.as_ref(), time);
                }
            }
            Record::Extension(_) | Record::TelemetrySubscription(_) | Record::LogsDropped(_) => {}
        }
    }

    /// A phase's span from `time`, with `span_id` (else a new one).
    fn open(
        &self,
        name: impl Into<String>,
        context: TraceContext,
        span_id: Option<[u8; 8]>,
        time: SystemTime,
    ) -> Open {
        let span_id = span_id.unwrap_or_else(interop::ids::random_bytes);
        Open {
            span: Span {
                trace_id: context.trace_id.to_vec(),
                span_id: span_id.to_vec(),
                parent_span_id: context.parent.map(|p| p.to_vec()).unwrap_or_default(),
                flags: context.flags(),
                name: name.into(),
                kind: SpanKind::Server as i32,
                start_time_unix_nano: nanos(time),
                ..Span::default()
            },
            runtime: None,
            children: Vec::new(),
        }
    }

    /// Ends `open` at `time` (its report) and hands it and its children
    /// to the exporter. The status is the runtime's, unless the report
    /// says the phase failed after it (an extension's error).
    fn close(
        &self,
        mut open: Open,
        reported: Status,
        error_type: Option<&ErrorType>,
        time: SystemTime,
    ) {
        let status = match (open.runtime, reported) {
            (Some(runtime), Status::Success) => runtime,
            (_, reported) => reported,
        };
        open.span.end_time_unix_nano = nanos(time).max(open.span.start_time_unix_nano);
        open.span.status = Some(span_status(status, error_type));
        if let Some(error_type) = error_type {
            open.span
                .attributes
                .push(string("error.type", error_type.as_str()));
        }
        self.queue.push(open.span);
        for child in open.children {
            self.queue.push(child);
        }
    }
}

/// What `*RuntimeDone` adds to its phase's span: the runtime's status,
/// the moment it answered (an event), and its `spans` as children.
fn runtime_done(open: &mut Open, r: &RuntimeDone, time: SystemTime) {
    open.runtime = Some(r.status);
    open.span.events.push(Event {
        time_unix_nano: nanos(time),
        name: "platform.runtimeDone".into(),
        attributes: vec![
            string("status", status_name(r.status)),
            int("producedBytes", r.metrics.produced_bytes),
        ],
        ..Event::default()
    });
    let status = span_status(r.status, r.error_type.as_ref());
    for span in &r.spans {
        let start = nanos(span.start);
        open.children.push(Span {
            trace_id: open.span.trace_id.clone(),
            span_id: interop::ids::random_bytes::<8>().to_vec(),
            parent_span_id: open.span.span_id.clone(),
            // Its parent is in this process.
            flags: (open.span.flags & SAMPLED) | HAS_IS_REMOTE,
            name: span.name.into(),
            kind: open.span.kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(span.duration.as_nanos() as u64),
            status: Some(status.clone()),
            ..Span::default()
        });
    }
}

fn push_init_attributes(span: &mut Span, kind: InitializationType, phase: InitPhase) {
    let kind = match kind {
        InitializationType::OnDemand => "on-demand",
        InitializationType::ProvisionedConcurrency => "provisioned-concurrency",
        InitializationType::SnapStart => "snap-start",
    };
    span.attributes.extend([
        string("aws.lambda.initialization_type", kind),
        string("aws.lambda.init_phase", phase.as_str()),
    ]);
}

fn span_status(status: Status, error_type: Option<&ErrorType>) -> SpanStatus {
    match status {
        Status::Success => SpanStatus {
            code: StatusCode::Ok as i32,
            ..SpanStatus::default()
        },
        _ => SpanStatus {
            code: StatusCode::Error as i32,
            message: error_type
                .map(ErrorType::as_str)
                .unwrap_or(status_name(status))
                .to_owned(),
        },
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Failure => "failure",
        Status::Error => "error",
        Status::Timeout => "timeout",
    }
}

pub(crate) fn string(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_owned()))
}

fn boolean(key: &str, value: bool) -> KeyValue {
    attribute(key, any_value::Value::BoolValue(value))
}

pub(crate) fn int(key: &str, value: u64) -> KeyValue {
    attribute(
        key,
        any_value::Value::IntValue(i64::try_from(value).unwrap_or(i64::MAX)),
    )
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{InitReport, InitReportMetrics, InitRuntimeDone, InitStart, Start};
    use std::time::Duration;
    use tokio::sync::mpsc;

    fn maker() -> (SpanMaker, mpsc::Receiver<Span>) {
        let (tx, rx) = mpsc::channel(64);
        let queue = Queue {
            tx,
            shared: Default::default(),
        };
        (SpanMaker::new(queue, "f".into()), rx)
    }

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    fn init(maker: &mut SpanMaker, runtime: Status, reported: Status, error: Option<ErrorType>) {
        let (kind, phase) = (InitializationType::OnDemand, InitPhase::Init);
        let events: [(u64, Record); 3] = [
            (
                0,
                InitStart {
                    initialization_type: kind,
                    phase,
                    function_name: "g".into(),
                    function_version: "1".into(),
                    runtime_version: None,
                    runtime_version_arn: None,
                }
                .into(),
            ),
            (
                5,
                InitRuntimeDone {
                    initialization_type: kind,
                    phase,
                    status: runtime,
                    error_type: None,
                }
                .into(),
            ),
            (
                9,
                InitReport {
                    initialization_type: kind,
                    phase,
                    status: reported,
                    error_type: error,
                    metrics: InitReportMetrics {
                        duration: Duration::from_millis(9),
                    },
                }
                .into(),
            ),
        ];
        for (ms, record) in events {
            maker.event(&PlatformEvent {
                time: at(ms),
                record,
            });
        }
    }

    fn start(maker: &mut SpanMaker, id: &str) {
        maker.event(&PlatformEvent {
            time: at(20),
            record: Start {
                request_id: id.into(),
                version: "1".into(),
                tracing: None,
            }
            .into(),
        });
    }

    #[test]
    fn an_init_that_failed_after_its_runtime_is_an_error_and_the_next_invoke_is_cold() {
        let (mut maker, mut rx) = maker();
        // An extension failed the init after the runtime's was done.
        init(
            &mut maker,
            Status::Success,
            Status::Error,
            Some(ErrorType::ExtensionCrash),
        );
        let span = rx.try_recv().expect("the init span");
        assert_eq!(span.name, "init");
        assert_eq!(
            (span.start_time_unix_nano, span.end_time_unix_nano),
            (nanos(at(0)), nanos(at(9)))
        );
        let status = span.status.expect("a status");
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "Extension.Crash");
        assert!(span.parent_span_id.is_empty());
        // The next init succeeds: its first invoke is cold and named after
        // the function init named; the second is warm.
        init(&mut maker, Status::Success, Status::Success, None);
        let span = rx.try_recv().expect("the init span");
        assert_eq!(span.status.map(|s| s.code), Some(StatusCode::Ok as i32));
        start(&mut maker, "a");
        start(&mut maker, "b");
        let cold = |id: &str| {
            let (_, open) = maker.invokes.iter().find(|(open, _)| open == id).unwrap();
            assert_eq!(open.span.name, "g");
            open.span
                .attributes
                .iter()
                .find(|kv| kv.key == "faas.coldstart")
                .and_then(|kv| kv.value.clone())
                .and_then(|v| v.value)
        };
        assert_eq!(cold("a"), Some(any_value::Value::BoolValue(true)));
        assert_eq!(cold("b"), Some(any_value::Value::BoolValue(false)));
    }

    #[test]
    fn an_xray_header_gives_the_trace_its_parent_and_flags() {
        let context = TraceContext::from_xray(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        assert_eq!(
            context.trace_id,
            [
                0x57, 0x59, 0xe9, 0x88, 0xbd, 0x86, 0x2e, 0x3f, 0xe1, 0xbe, 0x46, 0xa9, 0x94, 0x27,
                0x27, 0x93
            ]
        );
        assert_eq!(
            context.parent,
            Some([0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8])
        );
        assert!(context.sampled);
        assert_eq!(context.flags(), SAMPLED | HAS_IS_REMOTE | IS_REMOTE);
        // Spaces, another order, no parent, not sampled, extra fields.
        let context = TraceContext::from_xray(
            " Sampled=0; Lineage=a:1 ;Root=1-5759e988-bd862e3fe1be46a994272793",
        )
        .unwrap();
        assert_eq!(context.parent, None);
        assert!(!context.sampled);
        assert_eq!(context.flags(), HAS_IS_REMOTE);
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=1-5759e98g-bd862e3fe1be46a994272793",
            "Root=1-00000000-000000000000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a994272793-1",
        ] {
            assert_eq!(TraceContext::from_xray(bad), None, "{bad}");
        }
    }
}
