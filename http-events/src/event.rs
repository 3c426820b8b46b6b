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
use std::collections::BTreeMap;
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
/// comes from the request or the context escaped by serde_json. (Derived
/// serialization took a third of a web request's instructions in rapid,
/// escaping each fixed key again on every request.)
pub fn event_v2(request: &HttpRequest, context: &RequestContext<'_>) -> Bytes {
    let (headers, cookies) = headers_v2(&request.headers);
    let user_agent = headers.get("user-agent").map_or("", |agent| agent);
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
    json.string(&format!(
        "{}.lambda-url.{}.on.aws",
        context.url_id, context.region
    ));
    json.raw(r#","domainPrefix":"#);
    json.string(context.url_id);
    json.raw(r#","http":{"method":"#);
    json.string(request.method.as_str());
    json.raw(r#","path":"#);
    json.string(&request.path);
    json.raw(r#","protocol":"HTTP/1.1","sourceIp":"#);
    json.string(&request.source_ip.to_canonical().to_string());
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
    with_body(json.0, &request.headers, &request.body)
}

/// JSON text being written.
struct Json(Vec<u8>);

impl Json {
    /// Text that is already JSON (fixed keys, punctuation, a number).
    fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// A string, quoted and escaped as JSON requires.
    fn string(&mut self, text: &str) {
        self.value(text);
    }

    /// Any value serde_json writes (a string or a map of strings here).
    fn value<T: serde::Serialize + ?Sized>(&mut self, value: &T) {
        // Strings and maps of strings written into a Vec cannot fail; were
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
fn with_body(mut json: Vec<u8>, headers: &http::HeaderMap, body: &[u8]) -> Bytes {
    let text = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_text)
        .then(|| std::str::from_utf8(body).ok())
        .flatten();
    // The object's closing brace, to add the last two fields before it.
    json.pop();
    let separator = if json.len() > 1 { "," } else { "" };
    json.reserve(body.len() * 4 / 3 + 64);
    json.extend_from_slice(separator.as_bytes());
    json.extend_from_slice(b"\"body\":");
    match text {
        // Escaped as JSON requires; a string never fails to serialize.
        Some(text) => match serde_json::to_writer(&mut json, text) {
            Ok(()) => json.extend_from_slice(b",\"isBase64Encoded\":false}"),
            Err(_) => json.extend_from_slice(b"\"\",\"isBase64Encoded\":false}"),
        },
        None => {
            json.push(b'"');
            let start = json.len();
            json.resize(start + base64_len(body.len()), 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(body, &mut json[start..])
                .unwrap_or(0);
            json.truncate(start + written);
            json.extend_from_slice(b"\",\"isBase64Encoded\":true}");
        }
    }
    Bytes::from(json)
}

/// The length of `len` bytes in padded base64.
fn base64_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// The headers as one string each (repeated ones comma-joined, names lower
/// case as HTTP/2 and `http` keep them), and the cookies of every `cookie`
/// header, which format 2.0 moves out of `headers` into `cookies`.
fn headers_v2(headers: &http::HeaderMap) -> (BTreeMap<&str, Cow<'_, str>>, Vec<String>) {
    let mut joined = BTreeMap::new();
    let mut cookies = Vec::new();
    for name in headers.keys() {
        let values = headers.get_all(name).iter().map(text);
        if name == http::header::COOKIE {
            for line in values {
                cookies.extend(
                    line.split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
            continue;
        }
        let mut values = values;
        let mut value = values.next().unwrap_or_default();
        for more in values {
            let value = value.to_mut();
            value.push(',');
            value.push_str(&more);
        }
        joined.insert(name.as_str(), value);
    }
    (joined, cookies)
}

/// A header value as text; bytes that are not UTF-8 become U+FFFD.
fn text(value: &http::HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
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
    let format = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    let utc = time::OffsetDateTime::from(at);
    let epoch = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    (utc.format(&format).unwrap_or_default(), epoch)
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

    #[test]
    fn the_time_is_lambda_s_format() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_583_348_638_390);
        assert_eq!(
            times(at),
            ("04/Mar/2020:19:03:58 +0000".to_owned(), 1_583_348_638_390)
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
