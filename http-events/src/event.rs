//! Request → event: the function URL event (payload format 2.0).
//!
//! Field by field it follows the function URL request payload of Lambda's
//! developer guide ("Invoking Lambda function URLs", request payload
//! format) and, where that page is silent, the API Gateway HTTP API
//! payload format 2.0 (the same shape): header names lower case, repeated
//! headers and query keys comma-joined, cookies out of `headers` into
//! `cookies`, `rawQueryString` always a string, the body as text for text
//! types and base64 for anything else.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::time::SystemTime;

/// An HTTP request as received, before it is an event.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: http::Method,
    /// The path as the client sent it (percent-encoding kept), from `/`.
    pub path: String,
    /// The query string as sent, without the `?`; empty when there is none.
    pub query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// The caller's address.
    pub source_ip: std::net::IpAddr,
}

/// What Lambda knows of a request besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    pub request_id: &'a str,
    /// The function URL's id: the first label of its domain name.
    pub url_id: &'a str,
    pub region: &'a str,
    /// When the request arrived.
    pub time: SystemTime,
}

/// The payload format 2.0 event for `request`, as JSON.
///
/// Its fields, in the order Lambda's examples give them, are written as
/// text: the fixed keys and punctuation as they are, every string that
/// comes from the request or the context escaped as serde_json escapes
/// it (`Json::escaped`). (Derived
/// serialization took a third of a web request's instructions in rapid,
/// escaping each fixed key again on every request.)
pub fn event_v2(request: &HttpRequest, context: &RequestContext<'_>) -> Bytes {
    let (headers, cookies) = headers_v2(&request.headers);
    let user_agent = headers
        .iter()
        .find(|(name, _)| *name == "user-agent")
        .map_or("", |(_, agent)| agent);
    let parameters = query_parameters(&request.query);
    // Room for every field, the body as base64 (a third larger) included,
    // so the text is never copied to grow.
    let room = 768
        + 2 * request.path.len()
        + request.query.len()
        + base64_len(request.body.len())
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 6)
            .sum::<usize>();
    let mut json = Json(Vec::with_capacity(room));
    json.raw(r#"{"version":"2.0","routeKey":"$default","rawPath":"#);
    json.string(&request.path);
    json.raw(r#","rawQueryString":"#);
    json.string(&request.query);
    if !cookies.is_empty() {
        json.raw(r#","cookies":["#);
        for (i, cookie) in cookies.iter().enumerate() {
            json.comma(i);
            json.string(cookie);
        }
        json.raw("]");
    }
    json.raw(r#","headers":{"#);
    for (i, (name, value)) in headers.iter().enumerate() {
        json.comma(i);
        json.string(name);
        json.raw(":");
        json.string(value);
    }
    json.raw("}");
    if !parameters.is_empty() {
        json.raw(r#","queryStringParameters":"#);
        json.value(&parameters);
    }
    json.raw(r#","requestContext":{"accountId":"anonymous","apiId":"#);
    json.string(context.url_id);
    json.raw(r#","domainName":"#);
    json.string(&[context.url_id, ".lambda-url.", context.region, ".on.aws"].concat());
    json.raw(r#","domainPrefix":"#);
    json.string(context.url_id);
    json.raw(r#","http":{"method":"#);
    json.string(request.method.as_str());
    json.raw(r#","path":"#);
    json.string(&request.path);
    json.raw(r#","protocol":"HTTP/1.1","sourceIp":"#);
    json.string(&address_text(request.source_ip));
    json.raw(r#","userAgent":"#);
    json.string(user_agent);
    json.raw(r#"},"requestId":"#);
    json.string(context.request_id);
    let (time, time_epoch) = times(context.time);
    json.raw(r#","routeKey":"$default","stage":"$default","time":"#);
    json.string(&time);
    json.raw(r#","timeEpoch":"#);
    json.value(&time_epoch);
    json.raw("}");
    if request.body.is_empty() {
        json.raw(r#","isBase64Encoded":false}"#);
        return Bytes::from(json.0);
    }
    json.raw("}");
    with_body(json, &request.headers, &request.body)
}

/// The caller's address as Lambda writes it (`sourceIp`,
/// `X-Forwarded-For`): an IPv4-mapped IPv6 address as IPv4.
pub fn address_text(ip: std::net::IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// JSON text being written.
struct Json(Vec<u8>);

impl Json {
    /// Text that is already JSON (fixed keys, punctuation, a number).
    fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// A string, quoted and escaped as JSON requires (by serde_json).
    fn string(&mut self, text: &str) {
        self.value(text);
    }

    /// Any value serde_json writes (a map of strings, a number here).
    fn value<T: serde::Serialize + ?Sized>(&mut self, value: &T) {
        // Maps of strings and numbers written into a Vec cannot fail; were
        // one to, the event would not be JSON and the runtime would say so.
        if let Err(err) = serde_json::to_writer(&mut self.0, value) {
            debug_assert!(false, "{err}");
        }
    }

    /// The comma before the `i`th element of an array or object.
    fn comma(&mut self, i: usize) {
        if i > 0 {
            self.0.push(b',');
        }
    }
}

/// The event's JSON (`json`, an object) with `body` and `isBase64Encoded` written after its
/// other fields, straight into the text: a base64 body needs no escaping,
/// so a large binary body is encoded once and never copied again.
fn with_body(mut json: Json, headers: &http::HeaderMap, body: &[u8]) -> Bytes {
    let text = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_text)
        .then(|| std::str::from_utf8(body).ok())
        .flatten();
    // The object's closing brace, to add the last two fields before it.
    json.0.pop();
    let separator = if json.0.len() > 1 { "," } else { "" };
    json.0.reserve(body.len() * 4 / 3 + 64);
    json.raw(separator);
    json.raw("\"body\":");
    match text {
        Some(text) => {
            json.string(text);
            json.raw(",\"isBase64Encoded\":false}");
        }
        None => {
            let mut json = json.0;
            json.push(b'"');
            let start = json.len();
            json.resize(start + base64_len(body.len()), 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(body, &mut json[start..])
                .unwrap_or(0);
            json.truncate(start + written);
            json.extend_from_slice(b"\",\"isBase64Encoded\":true}");
            return Bytes::from(json);
        }
    }
    Bytes::from(json.0)
}

/// The length of `len` bytes in padded base64.
fn base64_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// The headers as one string each in their order (repeated ones
/// comma-joined, names lower case as HTTP/2 and `http` keep them), and the
/// cookies of every `cookie` header, which format 2.0 moves out of
/// `headers` into `cookies`.
fn headers_v2(headers: &http::HeaderMap) -> (Vec<(&str, Cow<'_, str>)>, Vec<String>) {
    let mut joined: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(headers.keys_len());
    let mut cookies = Vec::new();
    // A name's values come one after the other.
    for (name, value) in headers {
        let value = text(value);
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        match joined.last_mut() {
            Some((last, joined)) if *last == name.as_str() => {
                let joined = joined.to_mut();
                joined.push(',');
                joined.push_str(&value);
            }
            _ => joined.push((name.as_str(), value)),
        }
    }
    (joined, cookies)
}

/// A header value as text; bytes that are not UTF-8 become U+FFFD.
fn text(value: &http::HeaderValue) -> Cow<'_, str> {
    let bytes = value.as_bytes();
    // Checked at memory speed first: most are.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// `queryStringParameters`: each key and value percent-decoded (`+` is
/// kept, as Lambda keeps it), repeated keys comma-joined in their order.
fn query_parameters(query: &str) -> Map<String, Value> {
    let mut parameters: Map<String, Value> = Map::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key);
        let value = decode(value);
        match parameters.get_mut(&key) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                parameters.insert(key, value.into());
            }
        }
    }
    parameters
}

pub(crate) fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The body as the event carries it: text for a text content type whose
/// bytes are UTF-8, base64 for anything else (binary bodies stay exact).
pub(crate) fn body(headers: &http::HeaderMap, body: &[u8]) -> (String, bool) {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    if content_type.is_some_and(is_text) {
        if let Ok(text) = std::str::from_utf8(body) {
            return (text.to_owned(), false);
        }
    }
    (base64::engine::general_purpose::STANDARD.encode(body), true)
}

/// Whether a body of `content_type` travels as text: `text/*`, JSON, XML,
/// JavaScript and form-encoded bodies, any `+json` or `+xml` type (with or without parameters such as
/// `charset`, any case); everything else is base64.
pub fn is_text(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    // Compared as bytes in any case, without a lower-cased copy.
    let subtype = subtype.as_bytes();
    let ends_with = |suffix: &[u8]| {
        subtype.len() >= suffix.len()
            && subtype[subtype.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    kind.eq_ignore_ascii_case("text")
        || ends_with(b"+json")
        || ends_with(b"+xml")
        || (kind.eq_ignore_ascii_case("application")
            && [
                &b"json"[..],
                b"xml",
                b"javascript",
                b"x-javascript",
                b"ecmascript",
                b"x-www-form-urlencoded",
            ]
            .iter()
            .any(|text| subtype.eq_ignore_ascii_case(text)))
}

/// `time` (`12/Mar/2020:19:03:58 +0000`) and `timeEpoch` (milliseconds).
pub(crate) fn times(at: SystemTime) -> (String, u64) {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
    (lambda_time(at, since.as_secs()), epoch)
}

/// `at` as `time` gives it, formatted by the time crate once per second:
/// the requests of one second share the text.
fn lambda_time(at: SystemTime, second: u64) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(u64, String)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((cached, text)) if *cached == second => text.clone(),
        _ => {
            let format = time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            );
            let text = time::OffsetDateTime::from(at)
                .format(&format)
                .unwrap_or_default();
            *last = Some((second, text.clone()));
            text
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types() {
        for text in [
            "text/plain",
            "text/html; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
            "application/xml",
            "image/svg+xml",
            "application/javascript",
            "application/x-www-form-urlencoded",
        ] {
            assert!(is_text(text), "{text}");
        }
        for binary in [
            "image/png",
            "application/octet-stream",
            "multipart/form-data; boundary=x",
            "application/pdf",
            "json",
            "",
        ] {
            assert!(!is_text(binary), "{binary}");
        }
    }

    proptest::proptest! {
        /// The time of each request is its own, whatever time came before
        /// it (the text is kept for a second).
        #[test]
        fn each_time_is_its_own(millis in proptest::collection::vec(0u64..253_402_300_799_000, 1..8)) {
            let format = time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            );
            for millis in millis.iter().flat_map(|m| [*m, m + 1, m + 999]) {
                let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(millis);
                let expected = time::OffsetDateTime::from(at).format(&format).expect("a time");
                proptest::prop_assert_eq!(times(at), (expected, millis));
            }
        }
    }

    #[test]
    fn the_time_is_lambda_s_format() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_583_348_638_390);
        assert_eq!(
            times(at),
            ("04/Mar/2020:19:03:58 +0000".to_owned(), 1_583_348_638_390)
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut json = Json(Vec::new());
        json.string("a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é/");
        assert_eq!(
            String::from_utf8(json.0).expect("UTF-8"),
            "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}é/\""
        );
        assert_eq!(
            address_text("::ffff:10.0.200.9".parse().expect("an address")),
            "10.0.200.9"
        );
    }

    #[test]
    fn query_parameters_are_decoded_and_joined() {
        let parameters = query_parameters("p1=v1&p1=v2&p2=&p3&a%20b=c%2Fd+e&&");
        assert_eq!(
            Value::Object(parameters),
            serde_json::json!({"p1": "v1,v2", "p2": "", "p3": "", "a b": "c/d+e"})
        );
        assert!(query_parameters("").is_empty());
    }
}
