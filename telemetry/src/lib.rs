//! What rapid says about the functions it runs: the captured log lines of the
//! runtime (echoed, framed, kept for `X-Amz-Log-Type: Tail`), the START / END /
//! REPORT lines, the measurements behind them (durations, peak memory), and
//! the platform events of the Telemetry API (`events`) with their bounded
//! log (`event_log`), their delivery with the captured lines to Telemetry
//! and Logs API subscribers (`subscribers`), and the JSON log format
//! (`log_format`), the lifecycle timeline of `--timeline` (`timeline`), and
//! the same lifecycle as OpenTelemetry spans exported over OTLP (`otlp`).
//!
//! This crate never decides anything about the lifecycle; the engine tells it
//! what happened and it records and prints.

mod event_log;
pub mod events;
mod log_format;
mod logs;
mod memory;
pub mod otlp;
mod report;
mod subscribers;
pub mod timeline;

pub use event_log::{EventLog, EVENT_LOG_CAPACITY};
pub use events::PlatformEvent;
pub use log_format::LogFormat;
pub use logs::{LogHub, MemoryPeaks, Observers, ReportRequest, Subscriptions, TAIL_BYTES};
pub use memory::{peak_rss_mb, MemoryUse};
pub use report::{
    end_line, report_line, start_line, timeout_line, InvokeReport, InvokeStatus, InvokeTimings,
};
pub use subscribers::Origin;
pub use timeline::{Mark, Recorder, Timeline};
