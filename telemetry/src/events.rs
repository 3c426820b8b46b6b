//! The platform events of the Telemetry API (spec §6) as typed values, and
//! their JSON: `{"time": "2022-10-12T00:00:15.064Z", "type":
//! "platform.initStart", "record": {...}}`, with the field names, number
//! types and optional fields of Lambda's Telemetry API schema.
//!
//! The engine builds them where things happen (the log hub builds
//! `platform.report`, where the memory figure is measured); they stay typed
//! values until someone reads them, so emitting one costs no formatting.
//! Durations are milliseconds rounded to two decimals, the same figures as
//! the REPORT line ([`millis`]).

use crate::report::{InvokeReport, InvokeStatus};
use interop::ErrorType;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// A platform event: when it happened and what.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformEvent {
    pub time: SystemTime,
    pub record: Record,
}

impl PlatformEvent {
    /// `record`, happening now.
    pub fn now(record: impl Into<Record>) -> PlatformEvent {
        PlatformEvent {
            time: SystemTime::now(),
            record: record.into(),
        }
    }

    /// The event's `type`: `platform.initStart`, `platform.report`...
    pub fn type_name(&self) -> &'static str {
        self.record.type_name()
    }
}

impl Serialize for PlatformEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("time", &Rfc3339(self.time))?;
        map.serialize_entry("type", self.type_name())?;
        match &self.record {
            Record::InitStart(r) => map.serialize_entry("record", r)?,
            Record::InitRuntimeDone(r) => map.serialize_entry("record", r)?,
            Record::InitReport(r) => map.serialize_entry("record", r)?,
            Record::Start(r) => map.serialize_entry("record", r)?,
            Record::RuntimeDone(r) => map.serialize_entry("record", r)?,
            Record::Report(r) => map.serialize_entry("record", r)?,
            Record::Extension(r) => map.serialize_entry("record", r)?,
            Record::RestoreStart(r) => map.serialize_entry("record", r)?,
            Record::RestoreRuntimeDone(r) => map.serialize_entry("record", r)?,
            Record::RestoreReport(r) => map.serialize_entry("record", r)?,
            Record::TelemetrySubscription(r) => map.serialize_entry("record", r)?,
            Record::LogsDropped(r) => map.serialize_entry("record", r)?,
        }
        map.end()
    }
}

/// The record of each platform event type.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    InitStart(InitStart),
    InitRuntimeDone(InitRuntimeDone),
    InitReport(InitReport),
    Start(Start),
    RuntimeDone(RuntimeDone),
    Report(Report),
    Extension(ExtensionInit),
    RestoreStart(RestoreStart),
    RestoreRuntimeDone(RestoreRuntimeDone),
    RestoreReport(RestoreReport),
    TelemetrySubscription(TelemetrySubscription),
    LogsDropped(LogsDropped),
}

impl Record {
    pub fn type_name(&self) -> &'static str {
        match self {
            Record::InitStart(_) => "platform.initStart",
            Record::InitRuntimeDone(_) => "platform.initRuntimeDone",
            Record::InitReport(_) => "platform.initReport",
            Record::Start(_) => "platform.start",
            Record::RuntimeDone(_) => "platform.runtimeDone",
            Record::Report(_) => "platform.report",
            Record::Extension(_) => "platform.extension",
            Record::RestoreStart(_) => "platform.restoreStart",
            Record::RestoreRuntimeDone(_) => "platform.restoreRuntimeDone",
            Record::RestoreReport(_) => "platform.restoreReport",
            Record::TelemetrySubscription(_) => "platform.telemetrySubscription",
            Record::LogsDropped(_) => "platform.logsDropped",
        }
    }
}

macro_rules! records {
    ($($variant:ident($ty:ident)),* $(,)?) => {
        $(impl From<$ty> for Record {
            fn from(record: $ty) -> Record {
                Record::$variant(record)
            }
        })*
    };
}

records!(
    InitStart(InitStart),
    InitRuntimeDone(InitRuntimeDone),
    InitReport(InitReport),
    Start(Start),
    RuntimeDone(RuntimeDone),
    Report(Report),
    Extension(ExtensionInit),
    RestoreStart(RestoreStart),
    RestoreRuntimeDone(RestoreRuntimeDone),
    RestoreReport(RestoreReport),
    TelemetrySubscription(TelemetrySubscription),
    LogsDropped(LogsDropped),
);

/// How the environment was initialized (`initializationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitializationType {
    OnDemand,
    ProvisionedConcurrency,
    /// Init caching (`--enable-init-caching`): init runs before a snapshot.
    SnapStart,
}

impl InitializationType {
    /// The type `AWS_LAMBDA_INITIALIZATION_TYPE` names; `on-demand` when
    /// unset or not one of Lambda's values.
    pub fn from_env_value(value: Option<&str>) -> InitializationType {
        match value {
            Some("snap-start") => InitializationType::SnapStart,
            Some("provisioned-concurrency") => InitializationType::ProvisionedConcurrency,
            _ => InitializationType::OnDemand,
        }
    }
}

/// The phase an init ran in: `init`, or `invoke` for a suppressed init
/// retried inside an invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitPhase {
    Init,
    Invoke,
}

impl InitPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            InitPhase::Init => "init",
            InitPhase::Invoke => "invoke",
        }
    }
}

/// How a phase ended (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    /// The environment failed (a `Sandbox.*` error type).
    Failure,
    /// The function, the runtime or an extension failed.
    Error,
    Timeout,
}

impl Status {
    /// How Lambda words the end of a runtime's work (`runtimeDone`,
    /// `initRuntimeDone`): a timeout is `timeout`; an error of the
    /// environment itself (`Sandbox.*`, such as a shutdown) is `failure`;
    /// any other error (the runtime's, a crash, an extension's) is `error`.
    pub fn runtime_done(status: InvokeStatus, error_type: Option<&ErrorType>) -> Status {
        match status {
            InvokeStatus::Success => Status::Success,
            InvokeStatus::Timeout => Status::Timeout,
            InvokeStatus::Error
                if error_type.is_some_and(|t| t.as_str().starts_with("Sandbox.")) =>
            {
                Status::Failure
            }
            InvokeStatus::Error => Status::Error,
        }
    }
}

impl From<InvokeStatus> for Status {
    /// The status of a REPORT or INIT_REPORT line, as the report events say it.
    fn from(status: InvokeStatus) -> Status {
        match status {
            InvokeStatus::Success => Status::Success,
            InvokeStatus::Error => Status::Error,
            InvokeStatus::Timeout => Status::Timeout,
        }
    }
}

/// `platform.initStart`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitStart {
    pub initialization_type: InitializationType,
    pub phase: InitPhase,
    pub function_name: String,
    pub function_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version_arn: Option<String>,
}

/// `platform.initRuntimeDone`: the runtime finished its init (its first
/// `next`), or init failed before it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitRuntimeDone {
    pub initialization_type: InitializationType,
    pub phase: InitPhase,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "error_type")]
    pub error_type: Option<ErrorType>,
}

/// `platform.initReport`: the whole init phase (runtime and extensions).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReport {
    pub initialization_type: InitializationType,
    pub phase: InitPhase,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "error_type")]
    pub error_type: Option<ErrorType>,
    pub metrics: InitReportMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReportMetrics {
    /// The same figure as REPORT's `Init Duration` and INIT_REPORT's.
    #[serde(rename = "durationMs", serialize_with = "duration_ms")]
    pub duration: Duration,
}

/// `platform.start`: an invoke was handed to the runtime.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    pub request_id: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// The invoke's X-Ray trace header (`tracing`).
/// The invoke's trace context (`TraceContext`): its X-Ray trace header and
/// the span id Lambda gives the invoke, the same on `platform.start` and
/// `platform.runtimeDone`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    pub value: String,
    /// 16 hex digits; the log hub gives one to each traced invoke.
    pub span_id: Option<String>,
}

impl Tracing {
    /// `value` with a new random span id.
    pub fn with_new_span(value: String) -> Tracing {
        let bytes = interop::ids::random_bytes::<8>();
        let mut span_id = String::with_capacity(16);
        for byte in bytes {
            span_id.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
            span_id.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
        }
        Tracing {
            value,
            span_id: Some(span_id),
        }
    }
}

impl Serialize for Tracing {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(span_id) = &self.span_id {
            map.serialize_entry("spanId", span_id)?;
        }
        map.serialize_entry("type", "X-Amzn-Trace-Id")?;
        map.serialize_entry("value", &self.value)?;
        map.end()
    }
}

/// `platform.runtimeDone`: the runtime answered the invoke (response,
/// error, end of its stream), or the invoke ended without an answer
/// (timeout, crash).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDone {
    pub request_id: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "error_type")]
    pub error_type: Option<ErrorType>,
    pub metrics: RuntimeDoneMetrics,
    /// `responseLatency` and `responseDuration`, when there was a response.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
    /// The invoke's `platform.start` tracing, filled in by the log hub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDoneMetrics {
    /// From dispatch to the runtime's answer (REPORT's `Duration`).
    #[serde(rename = "durationMs", serialize_with = "duration_ms")]
    pub duration: Duration,
    pub produced_bytes: u64,
}

/// A named stretch of time in a record's `spans`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub name: &'static str,
    #[serde(serialize_with = "rfc3339")]
    pub start: SystemTime,
    #[serde(rename = "durationMs", serialize_with = "duration_ms")]
    pub duration: Duration,
}

impl Span {
    /// From dispatch to the response's first byte.
    pub fn response_latency(start: SystemTime, duration: Duration) -> Span {
        Span {
            name: "responseLatency",
            start,
            duration,
        }
    }

    /// From the response's first byte to its end.
    pub fn response_duration(start: SystemTime, duration: Duration) -> Span {
        Span {
            name: "responseDuration",
            start,
            duration,
        }
    }
}

/// `platform.report`: the figures of the REPORT line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub request_id: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "error_type")]
    pub error_type: Option<ErrorType>,
    pub metrics: ReportMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportMetrics {
    #[serde(rename = "durationMs", serialize_with = "duration_ms")]
    pub duration: Duration,
    #[serde(rename = "billedDurationMs")]
    pub billed_duration_ms: u64,
    #[serde(rename = "memorySizeMB")]
    pub memory_size_mb: u64,
    #[serde(rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: u64,
    #[serde(
        rename = "initDurationMs",
        skip_serializing_if = "Option::is_none",
        serialize_with = "some_duration_ms"
    )]
    pub init_duration: Option<Duration>,
    #[serde(
        rename = "restoreDurationMs",
        skip_serializing_if = "Option::is_none",
        serialize_with = "some_duration_ms"
    )]
    pub restore_duration: Option<Duration>,
}

impl Report {
    /// The event of a REPORT line, with the same figures.
    pub fn of(report: &InvokeReport) -> Report {
        Report {
            request_id: report.request_id.clone(),
            status: report.status.into(),
            error_type: report.error_type.clone(),
            metrics: ReportMetrics {
                duration: report.duration,
                billed_duration_ms: report.billed_ms(),
                memory_size_mb: report.memory_size_mb,
                max_memory_used_mb: report.max_memory_used_mb,
                init_duration: report.init_duration,
                restore_duration: report.restore_duration,
            },
        }
    }
}

/// `platform.extension`: an extension's state at the end of init.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionInit {
    pub name: String,
    /// RAPID's state name: `Ready`, `Registered`, `InitError`...
    pub state: &'static str,
    /// What it registered for: `INVOKE`, `SHUTDOWN`.
    pub events: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

/// `platform.restoreStart`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStart {
    pub function_name: String,
    pub function_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version_arn: Option<String>,
}

/// `platform.restoreRuntimeDone`: the runtime's after-restore hooks ran
/// (its `next` after `restore/next`), or the restore failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRuntimeDone {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "error_type")]
    pub error_type: Option<ErrorType>,
}

/// `platform.restoreReport`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "error_type")]
    pub error_type: Option<ErrorType>,
    pub metrics: RestoreReportMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreReportMetrics {
    /// The same figure as REPORT's `Restore Duration`.
    #[serde(rename = "durationMs", serialize_with = "duration_ms")]
    pub duration: Duration,
}

/// `platform.telemetrySubscription` (`platform.logsSubscription` for a
/// Logs API subscriber): an extension subscribed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TelemetrySubscription {
    /// The extension's registered name.
    pub name: String,
    /// `Subscribed`.
    pub state: &'static str,
    /// What it subscribed to: `platform`, `function`, `extension`.
    pub types: Vec<&'static str>,
}

/// `platform.logsDropped`: records a subscriber did not get because it
/// fell behind (its buffer was full) or refused them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsDropped {
    pub reason: String,
    pub dropped_records: u64,
    pub dropped_bytes: u64,
}

/// `duration` in milliseconds rounded to two decimals: the figure the
/// REPORT line prints (`12.34 ms`) and the events carry.
pub fn millis(duration: Duration) -> f64 {
    (duration.as_nanos() as f64 / 10_000.0).round() / 100.0
}

/// A wall-clock time as the Telemetry API writes it: RFC 3339, UTC, ms.
struct Rfc3339(SystemTime);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_millis(self.0))
    }
}

fn rfc3339<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    Rfc3339(*time).serialize(serializer)
}

fn duration_ms<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(millis(*duration))
}

fn some_duration_ms<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => duration_ms(duration, serializer),
        None => serializer.serialize_none(),
    }
}

fn error_type<S: Serializer>(
    error_type: &Option<ErrorType>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match error_type {
        Some(error_type) => serializer.serialize_str(error_type.as_str()),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests;
