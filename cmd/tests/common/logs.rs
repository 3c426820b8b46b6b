//! Reading the START / END / REPORT lines rapid prints around each invoke
//! (spec §7), so tests can find "the REPORT line of request X" and its fields.

/// Of two invokes on one runtime, only the first REPORT carries a positive
/// `Init Duration`.
pub fn assert_init_duration_only_on_the_first(first: &Report, second: &Report) {
    assert!(
        first.number("Init Duration", "ms") > 0.0,
        "the first invoke carries Init Duration: {}",
        first.line
    );
    assert_eq!(
        second.get("Init Duration"),
        None,
        "only the first invoke carries Init Duration: {}",
        second.line
    );
}

/// The request id of a `START RequestId: <id> Version: <v>` line.
pub fn start_id(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("START RequestId: ")?;
    Some(rest.split_whitespace().next().unwrap_or(""))
}

/// The request id of an `END RequestId: <id>` line.
pub fn end_id(line: &str) -> Option<&str> {
    Some(line.strip_prefix("END RequestId: ")?.trim())
}

/// A parsed REPORT line: `REPORT RequestId: <id>\tKey: value\t...`.
#[derive(Debug, Clone)]
pub struct Report {
    pub line: String,
    pub request_id: String,
    /// The tab-separated `Key: value` fields after the request id, in order.
    pub fields: Vec<(String, String)>,
}

impl Report {
    pub fn parse(line: &str) -> Option<Report> {
        let rest = line.strip_prefix("REPORT RequestId: ")?;
        let mut parts = rest.split('\t');
        let request_id = parts.next()?.trim().to_string();
        let fields = parts
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once(": ") {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        Some(Report {
            line: line.to_string(),
            request_id,
            fields,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The number in a field such as `Duration: 12.34 ms` or `Memory Size:
    /// 128 MB`; panics (naming the line) when the field is missing or has
    /// another unit.
    pub fn number(&self, key: &str, unit: &str) -> f64 {
        let value = self
            .get(key)
            .unwrap_or_else(|| panic!("REPORT has no {key:?}: {:?}", self.line));
        let number = value
            .strip_suffix(unit)
            .map(str::trim)
            .unwrap_or_else(|| panic!("{key:?} is not in {unit}: {:?}", self.line));
        number
            .parse()
            .unwrap_or_else(|_| panic!("{key:?} is not a number: {:?}", self.line))
    }
}

/// Whether `line` is the REPORT line of `request_id`.
pub fn is_report_of(line: &str, request_id: &str) -> bool {
    Report::parse(line).is_some_and(|r| r.request_id == request_id)
}

/// Checks the generated X-Ray header format
/// `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub fn is_generated_trace_id(value: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let parts: Vec<&str> = value.split(';').collect();
    let [root, parent, sampled] = parts.as_slice() else {
        return false;
    };
    let Some(root) = root.strip_prefix("Root=1-") else {
        return false;
    };
    let Some((epoch, random)) = root.split_once('-') else {
        return false;
    };
    hex(epoch, 8)
        && hex(random, 24)
        && parent.strip_prefix("Parent=").is_some_and(|p| hex(p, 16))
        && *sampled == "Sampled=0"
}

/// Checks the textual UUID form `8-4-4-4-12` hex digits.
pub fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}
