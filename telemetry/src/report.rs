//! The START / END / REPORT lines (spec §7), formatted as Lambda prints them.

use std::time::Duration;

/// How an invoke ended, as REPORT and telemetry say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeStatus {
    Success,
    Error,
    Timeout,
}

impl InvokeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvokeStatus::Success => "success",
            InvokeStatus::Error => "error",
            InvokeStatus::Timeout => "timeout",
        }
    }
}

/// Where an invoke's time went, for the telemetry spans (`responseLatency`,
/// `responseDuration`, `producedBytes`, post-runtime extension time). Not
/// part of the REPORT text line, as in Lambda.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvokeTimings {
    /// From dispatch to the response's first byte.
    pub response_latency: Option<Duration>,
    /// From the first byte to the end of the response.
    pub response_duration: Option<Duration>,
    /// Bytes of the response.
    pub produced_bytes: Option<u64>,
    /// From the runtime's answer until the last extension asked for its
    /// next event.
    pub post_runtime_extensions: Option<Duration>,
}

/// The figures of one REPORT line.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeReport {
    pub request_id: String,
    pub duration: Duration,
    pub memory_size_mb: u64,
    pub max_memory_used_mb: u64,
    /// Present on the first invoke after an init.
    pub init_duration: Option<Duration>,
    /// Present on the first invoke after a restore (init caching).
    pub restore_duration: Option<Duration>,
    pub status: InvokeStatus,
    pub error_type: Option<interop::ErrorType>,
    pub timings: InvokeTimings,
}

impl InvokeReport {
    /// Billed time in whole milliseconds, rounded up; the init is billed too.
    pub fn billed_ms(&self) -> u64 {
        let total = self.duration + self.init_duration.unwrap_or_default();
        let micros = total.as_micros() as u64;
        micros.div_ceil(1000).max(1)
    }
}

pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}")
}

pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// `<timestamp> <id> Task timed out after 3.00 seconds`
pub fn timeout_line(timestamp: &str, request_id: &str, timeout: Duration) -> String {
    format!(
        "{timestamp} {request_id} Task timed out after {:.2} seconds",
        timeout.as_secs_f64()
    )
}

/// Milliseconds with two decimals, rounded as the platform events round them.
fn ms(d: Duration) -> String {
    format!("{:.2}", crate::events::millis(d))
}

pub fn report_line(r: &InvokeReport) -> String {
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
        r.request_id,
        ms(r.duration),
        r.billed_ms(),
        r.memory_size_mb,
        r.max_memory_used_mb,
    );
    if let Some(init) = r.init_duration {
        line.push_str(&format!("\tInit Duration: {} ms", ms(init)));
    }
    // SnapStart: billed apart from Duration, on a field of its own.
    if let Some(restore) = r.restore_duration {
        line.push_str(&format!(
            "\tRestore Duration: {} ms\tBilled Restore Duration: {} ms",
            ms(restore),
            (restore.as_micros() as u64).div_ceil(1000)
        ));
    }
    if r.status != InvokeStatus::Success {
        line.push_str(&format!("\tStatus: {}", r.status.as_str()));
        // Lambda names the error type of failures, not of timeouts.
        if let Some(error_type) = r
            .error_type
            .as_ref()
            .filter(|_| r.status == InvokeStatus::Error)
        {
            line.push_str(&format!("\tError Type: {error_type}"));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> InvokeReport {
        InvokeReport {
            request_id: "id-1".into(),
            duration: Duration::from_micros(12_341),
            memory_size_mb: 128,
            max_memory_used_mb: 41,
            init_duration: None,
            restore_duration: None,
            status: InvokeStatus::Success,
            error_type: None,
            timings: InvokeTimings::default(),
        }
    }

    #[test]
    fn success_line() {
        assert_eq!(
            report_line(&report()),
            "REPORT RequestId: id-1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB"
        );
    }

    #[test]
    fn init_duration_and_status() {
        let mut r = report();
        r.init_duration = Some(Duration::from_micros(150_210));
        r.status = InvokeStatus::Error;
        r.error_type = Some(interop::ErrorType::RuntimeExitError);
        assert_eq!(
            report_line(&r),
            "REPORT RequestId: id-1\tDuration: 12.34 ms\tBilled Duration: 163 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB\tInit Duration: 150.21 ms\tStatus: error\tError Type: Runtime.ExitError"
        );
        r.status = InvokeStatus::Timeout;
        r.error_type = Some(interop::ErrorType::SandboxTimedout);
        assert!(report_line(&r).ends_with("\tStatus: timeout"));
    }

    #[test]
    fn restore_duration_is_billed_apart() {
        let mut r = report();
        r.restore_duration = Some(Duration::from_micros(268_481));
        assert_eq!(
            report_line(&r),
            "REPORT RequestId: id-1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB\tRestore Duration: 268.48 ms\tBilled Restore Duration: 269 ms"
        );
    }

    #[test]
    fn timeout_phrase() {
        assert_eq!(
            timeout_line("2026-01-01T00:00:00.000Z", "id", Duration::from_secs(3)),
            "2026-01-01T00:00:00.000Z id Task timed out after 3.00 seconds"
        );
    }
}
