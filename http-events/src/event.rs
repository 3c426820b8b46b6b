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
pub fn event_v2(request: &HttpRequest, context: &RequestContext<'_>) -> Bytes {
    let (headers, cookies) = headers_v2(&request.headers);
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    // Room for every field, the body as base64 (a third larger) included,
    // so the text is never copied to grow.
    let room = 640
        + base64_len(request.body.len())
        + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 6)
            .sum::<usize>();
    let (time, time_epoch) = times(context.time);
    let event = EventV2 {
        version: "2.0",
        route_key: "$default",
        raw_path: &request.path,
        raw_query_string: &request.query,
        cookies,
        headers,
        query_string_parameters: query_parameters(&request.query),
        request_context: ContextV2 {
            account_id: "anonymous",
            api_id: context.url_id,
            domain_name: format!("{}.lambda-url.{}.on.aws", context.url_id, context.region),
            domain_prefix: context.url_id,
            http: HttpV2 {
                method: request.method.as_str(),
                path: &request.path,
                protocol: "HTTP/1.1",
                source_ip: request.source_ip.to_canonical().to_string(),
                user_agent,
            },
            request_id: context.request_id,
            route_key: "$default",
            stage: "$default",
            time,
            time_epoch,
        },
        // With a body, written after the other fields by `with_body`.
        is_base64_encoded: request.body.is_empty().then_some(false),
    };
    let mut json = Vec::with_capacity(room);
    // Serializing borrowed strings and maps into a Vec cannot fail.
    if serde_json::to_writer(&mut json, &event).is_err() {
        json.clear();
    }
    if request.body.is_empty() {
        return Bytes::from(json);
    }
    with_body(json, &request.headers, &request.body)
}

/// The 2.0 event's fields, in the order Lambda's examples give them.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EventV2<'a> {
    version: &'static str,
    route_key: &'static str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<String>,
    headers: BTreeMap<&'a str, Cow<'a, str>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    query_string_parameters: Map<String, Value>,
    request_context: ContextV2<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_base64_encoded: Option<bool>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextV2<'a> {
    account_id: &'static str,
    api_id: &'a str,
    domain_name: String,
    domain_prefix: &'a str,
    http: HttpV2<'a>,
    request_id: &'a str,
    route_key: &'static str,
    stage: &'static str,
    time: String,
    time_epoch: u64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpV2<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    source_ip: String,
    user_agent: Cow<'a, str>,
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
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind == "text"
        || subtype.ends_with("+json")
        || subtype.ends_with("+xml")
        || (kind == "application"
            && matches!(
                subtype,
                "json"
                    | "xml"
                    | "javascript"
                    | "x-javascript"
                    | "ecmascript"
                    | "x-www-form-urlencoded"
            ))
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
