//! W3C Trace Context as X-Ray's trace header (spec §15): a caller behind
//! an orchestrator's proxy (Knative, a service mesh) sends `traceparent`,
//! not `X-Amzn-Trace-Id`; its trace then continues in the function instead
//! of a new one being started. Pure: a header value in, a header value out.

use http::header::{HeaderMap, HeaderName};

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The X-Ray trace header a request's `traceparent` stands for, when it
/// carries a valid one.
pub fn from_headers(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(&TRACEPARENT)?.to_str().ok()?;
    xray_from_traceparent(value)
}

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>` as
/// `Root=1-<first 8 hex>-<last 24 hex>;Parent=<16 hex>;Sampled=<flag bit>`.
/// None for what the W3C recommendation says to ignore: a field of the
/// wrong length or with upper-case or non-hex digits, version `ff`, an
/// all-zero trace or parent id, or a version-00 value with anything after
/// the flags (later versions may append fields, which are ignored).
pub fn xray_from_traceparent(value: &str) -> Option<String> {
    let value = value.trim();
    let mut fields = value.splitn(5, '-');
    let version = fields.next()?;
    let trace_id = fields.next()?;
    let parent = fields.next()?;
    let flags = fields.next()?;
    let rest = fields.next();
    let hex = |field: &str, len: usize| {
        field.len() == len
            && field
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let zero = |field: &str| field.bytes().all(|b| b == b'0');
    if !hex(version, 2) || version == "ff" || (version == "00" && rest.is_some()) {
        return None;
    }
    if !hex(trace_id, 32) || zero(trace_id) || !hex(parent, 16) || zero(parent) {
        return None;
    }
    if !hex(flags, 2) {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1;
    Some(format!(
        "Root=1-{}-{};Parent={parent};Sampled={sampled}",
        &trace_id[..8],
        &trace_id[8..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_becomes_the_xray_header() {
        assert_eq!(
            xray_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .as_deref(),
            Some("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1")
        );
        assert_eq!(
            xray_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .as_deref(),
            Some("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=0")
        );
        // Only the sampled bit counts; a later version may append fields.
        assert_eq!(
            xray_from_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-xyz")
                .as_deref(),
            Some("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1")
        );
    }

    #[test]
    fn what_the_recommendation_ignores_is_no_trace() {
        for value in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
        ] {
            assert_eq!(xray_from_traceparent(value), None, "{value:?}");
        }
    }
}
