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

// The lines are built by pushing their pieces: one allocation each, and
// none of the formatting machinery (they are written on every invoke).

pub fn start_line(request_id: &str, version: &str) -> String {
    let mut line = String::with_capacity(64 + request_id.len() + version.len());
    line.push_str("START RequestId: ");
    line.push_str(request_id);
    line.push_str(" Version: ");
    line.push_str(version);
    line
}

pub fn end_line(request_id: &str) -> String {
    let mut line = String::with_capacity(16 + request_id.len());
    line.push_str("END RequestId: ");
    line.push_str(request_id);
    line
}

/// `<timestamp> <id> Task timed out after 3.00 seconds`
pub fn timeout_line(timestamp: &str, request_id: &str, timeout: Duration) -> String {
    format!(
        "{timestamp} {request_id} Task timed out after {:.2} seconds",
        timeout.as_secs_f64()
    )
}

/// Pushes `n` in decimal.
fn push_u64(line: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        line.push(char::from(digit));
    }
}

/// Pushes milliseconds with two decimals, rounded as the platform events
/// round them ([`crate::events::millis`]: to the nearest hundredth, halves
/// away from zero), in integers.
fn push_ms(line: &mut String, d: Duration) {
    let nanos = d.as_nanos();
    let hundredths = nanos / 10_000 + u128::from(nanos % 10_000 >= 5_000);
    push_u64(line, u64::try_from(hundredths / 100).unwrap_or(u64::MAX));
    line.push('.');
    let fraction = (hundredths % 100) as u8;
    line.push(char::from(b'0' + fraction / 10));
    line.push(char::from(b'0' + fraction % 10));
}

pub fn report_line(r: &InvokeReport) -> String {
    let mut line = String::with_capacity(192 + r.request_id.len());
    line.push_str("REPORT RequestId: ");
    line.push_str(&r.request_id);
    line.push_str("\tDuration: ");
    push_ms(&mut line, r.duration);
    line.push_str(" ms\tBilled Duration: ");
    push_u64(&mut line, r.billed_ms());
    line.push_str(" ms\tMemory Size: ");
    push_u64(&mut line, r.memory_size_mb);
    line.push_str(" MB\tMax Memory Used: ");
    push_u64(&mut line, r.max_memory_used_mb);
    line.push_str(" MB");
    if let Some(init) = r.init_duration {
        line.push_str("\tInit Duration: ");
        push_ms(&mut line, init);
        line.push_str(" ms");
    }
    // SnapStart: billed apart from Duration, on a field of its own.
    if let Some(restore) = r.restore_duration {
        line.push_str("\tRestore Duration: ");
        push_ms(&mut line, restore);
        line.push_str(" ms\tBilled Restore Duration: ");
        push_u64(&mut line, (restore.as_micros() as u64).div_ceil(1000));
        line.push_str(" ms");
    }
    if r.status != InvokeStatus::Success {
        line.push_str("\tStatus: ");
        line.push_str(r.status.as_str());
        // Lambda names the error type of failures, not of timeouts.
        if let Some(error_type) = r
            .error_type
            .as_ref()
            .filter(|_| r.status == InvokeStatus::Error)
        {
            line.push_str("\tError Type: ");
            line.push_str(&error_type.to_string());
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

    /// The lines as they were written with `format!` and f64 milliseconds.
    fn formatted(r: &InvokeReport) -> String {
        let ms = |d: Duration| format!("{:.2}", crate::events::millis(d));
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
        line
    }

    #[test]
    fn milliseconds_are_those_of_the_events() {
        let mut r = report();
        let mut nanos: u64 = 1;
        let mut cases = vec![
            0, 4_999, 5_000, 5_001, 9_999, 10_000, 14_999, 15_000, 995_000,
        ];
        while nanos < 1 << 50 {
            cases.extend([nanos, nanos * 7 + 4_999, nanos * 3 + 5_000, nanos + 12_345]);
            nanos = nanos * 5 + 3;
        }
        for n in cases {
            r.duration = Duration::from_nanos(n);
            r.init_duration = Some(Duration::from_nanos(n / 3));
            r.memory_size_mb = n % 10_241;
            assert_eq!(report_line(&r), formatted(&r), "{n} ns");
        }
        assert_eq!(
            start_line("id", "$LATEST"),
            "START RequestId: id Version: $LATEST"
        );
        assert_eq!(end_line("id"), "END RequestId: id");
    }
}
