//! Result → answer: how Lambda turns a function's result into the HTTP
//! answer of a function URL (and of an HTTP API, payload format 2.0).
//!
//! Follows the response payload format of Lambda's developer guide
//! ("Invoking Lambda function URLs") and API Gateway's "format of the
//! response, version 2.0": an object with `statusCode` is the whole
//! answer (`headers`, `cookies` each as its own `Set-Cookie`, `body`,
//! decoded when `isBase64Encoded`); any other valid JSON is the body of a
//! 200 `application/json` answer (a JSON string as its text). What cannot
//! be read is a 502 with a generic body, as a function error is.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The body of the answer to a failed invoke (a function error, a timeout,
/// a crash, a result that is not a valid answer).
pub const INTERNAL_SERVER_ERROR: &str = "Internal Server Error";

/// An HTTP answer for the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a result is not an answer. Each is answered as [`failure`] (502);
/// the message is for rapid's log, never for the caller.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AnswerError {
    #[error("the result is not JSON: {reason}")]
    NotJson { reason: String },
    #[error("the result must be an object with statusCode, not {value}")]
    NoStatusCode { value: String },
    #[error("statusCode {value} is not a final HTTP status (a number from 200 to 599)")]
    StatusCode { value: String },
    #[error("headers must be an object of strings; {name:?} is {value}")]
    Header { name: String, value: String },
    #[error("headers must be an object, not {value}")]
    Headers { value: String },
    #[error("cookies must be an array of strings, not {value}")]
    Cookies { value: String },
    #[error("body must be a string, not {value}")]
    Body { value: String },
    #[error("isBase64Encoded is true but the body is not base64: {reason}")]
    Base64 { reason: String },
    #[error("the streamed prelude is not a JSON object: {reason}")]
    Prelude { reason: String },
}

impl AnswerError {
    /// The status every unreadable result is answered with.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_GATEWAY
    }
}

/// The answer to an invoke that failed, or whose result is not an answer:
/// `502 Internal Server Error`, as a function URL answers it.
pub fn failure() -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Answer {
        status: StatusCode::BAD_GATEWAY,
        headers,
        body: Bytes::from_static(INTERNAL_SERVER_ERROR.as_bytes()),
    }
}

/// The answer for a function's result `result` (payload format 2.0).
pub fn answer_v2(result: &Bytes) -> Result<Answer, AnswerError> {
    match common_answer(result) {
        Some(answer) => answer,
        None => answer_v2_by_value(result),
    }
}

/// [`answer_v2`] for any result, read as a `Value`.
fn answer_v2_by_value(result: &Bytes) -> Result<Answer, AnswerError> {
    let fields = match json(result)? {
        Value::Object(fields) if fields.contains_key("statusCode") => fields,
        inferred => return Ok(inferred_answer(inferred, result)),
    };
    let (status, headers) = head(&fields)?;
    Ok(Answer {
        status,
        headers,
        body: body_of(&fields)?,
    })
}

/// A full answer's fields, read without copying its body: a body without
/// escapes (base64 has none) is borrowed from the result, then decoded
/// once. Any field of another shape fails this reading, and the result is
/// read again as a `Value`, which says precisely what is wrong.
#[derive(serde::Deserialize)]
struct Fields<'a> {
    #[serde(rename = "statusCode", default, deserialize_with = "present")]
    status_code: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    headers: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    cookies: Option<Value>,
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    body: Option<Cow<'a, str>>,
    #[serde(rename = "isBase64Encoded", default)]
    is_base64_encoded: Option<Value>,
}

/// A string or null, borrowed from the input when it has no escapes
/// (serde borrows a `Cow` field, but not one inside an `Option`).
fn borrowed_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Text;
    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = Option<Cow<'de, str>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or null")
        }

        fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(text)))
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(text.to_owned())))
        }

        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(text)))
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Text)
}

/// A field that is there, even as null (absent is `None` by `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

/// The answer for the common result, an object with `statusCode` and a
/// string body; `None` for anything else.
fn common_answer(result: &[u8]) -> Option<Result<Answer, AnswerError>> {
    // An object only: serde would also read a struct from an array.
    if result.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let fields: Fields<'_> = serde_json::from_slice(result).ok()?;
    let status = fields.status_code?;
    let mut head_fields = Map::new();
    head_fields.insert("statusCode".into(), status);
    for (name, value) in [("headers", fields.headers), ("cookies", fields.cookies)] {
        if let Some(value) = value {
            head_fields.insert(name.into(), value);
        }
    }
    let encoded = fields.is_base64_encoded == Some(Value::Bool(true));
    Some(head(&head_fields).and_then(|(status, headers)| {
        let body = match fields.body {
            None => Bytes::new(),
            Some(text) if encoded => base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map(Bytes::from)
                .map_err(|err| AnswerError::Base64 {
                    reason: err.to_string(),
                })?,
            Some(text) => Bytes::from(text.into_owned()),
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }))
}

/// The answer for a function's result `result` (payload format 1.0, the
/// REST API's): an object with `statusCode`, `headers` and
/// `multiValueHeaders` (whose values replace those of `headers` for the
/// same name), `body`, `isBase64Encoded`; anything else is no answer.
pub fn answer_v1(result: &Bytes) -> Result<Answer, AnswerError> {
    let fields = match json(result)? {
        Value::Object(fields) if fields.contains_key("statusCode") => fields,
        other => {
            return Err(AnswerError::NoStatusCode {
                value: kind(&other),
            })
        }
    };
    let status = status_of(&fields)?;
    let mut headers = headers_of(&fields)?;
    match fields.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(named)) => {
            for (name, values) in named {
                let Value::Array(values) = values else {
                    return Err(AnswerError::Header {
                        name: name.clone(),
                        value: format!("{} in multiValueHeaders, not an array", kind(values)),
                    });
                };
                if let Ok(header) = HeaderName::try_from(name.as_str()) {
                    headers.remove(header);
                }
                for value in values {
                    if let Some(value) = header_value(name, value)? {
                        insert(&mut headers, name, &value)?;
                    }
                }
            }
        }
        Some(other) => return Err(AnswerError::Headers { value: kind(other) }),
    }
    Ok(Answer {
        status,
        headers,
        body: body_of(&fields)?,
    })
}

/// The answer of a REST API to a failed invoke or a result that is no
/// answer: `502 {"message": "Internal server error"}`.
pub fn failure_v1() -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Answer {
        status: StatusCode::BAD_GATEWAY,
        headers,
        body: Bytes::from_static(br#"{"message": "Internal server error"}"#),
    }
}

/// The head of a streamed answer from its prelude (`statusCode`, 200 when
/// absent, `headers`, `cookies`), the JSON before the eight NUL bytes.
pub fn streamed_head(prelude: &[u8]) -> Result<(StatusCode, HeaderMap), AnswerError> {
    match serde_json::from_slice::<Value>(prelude) {
        Ok(Value::Object(fields)) => head(&fields),
        Ok(other) => Err(AnswerError::Prelude {
            reason: format!("it is {}", kind(&other)),
        }),
        Err(err) => Err(AnswerError::Prelude {
            reason: err.to_string(),
        }),
    }
}

fn json(result: &Bytes) -> Result<Value, AnswerError> {
    serde_json::from_slice(result).map_err(|err| AnswerError::NotJson {
        reason: err.to_string(),
    })
}

/// A result without `statusCode`: 200, `application/json`, the result as
/// the body (a JSON string's text, any other value as the function sent it).
fn inferred_answer(value: Value, result: &Bytes) -> Answer {
    let body = match value {
        Value::String(text) => Bytes::from(text),
        _ => result.clone(),
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Answer {
        status: StatusCode::OK,
        headers,
        body,
    }
}

/// `body`, base64-decoded when `isBase64Encoded` is true.
fn body_of(fields: &Map<String, Value>) -> Result<Bytes, AnswerError> {
    match fields.get("body") {
        None | Some(Value::Null) => Ok(Bytes::new()),
        Some(Value::String(text)) if encoded(fields) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(|err| AnswerError::Base64 {
                reason: err.to_string(),
            }),
        Some(Value::String(text)) => Ok(Bytes::from(text.clone())),
        Some(other) => Err(AnswerError::Body { value: kind(other) }),
    }
}

/// `statusCode` (200 when absent), `headers` and `cookies` (2.0).
fn head(fields: &Map<String, Value>) -> Result<(StatusCode, HeaderMap), AnswerError> {
    let status = status_of(fields)?;
    let mut headers = headers_of(fields)?;
    match fields.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cookies)) => {
            for cookie in cookies {
                let Value::String(cookie) = cookie else {
                    return Err(AnswerError::Cookies {
                        value: format!("an array holding {}", kind(cookie)),
                    });
                };
                insert(&mut headers, SET_COOKIE.as_str(), cookie)?;
            }
        }
        Some(other) => return Err(AnswerError::Cookies { value: kind(other) }),
    }
    Ok((status, headers))
}

/// `statusCode`, 200 when absent.
fn status_of(fields: &Map<String, Value>) -> Result<StatusCode, AnswerError> {
    match fields.get("statusCode") {
        None => Ok(StatusCode::OK),
        Some(value) => value
            .as_u64()
            .and_then(|code| u16::try_from(code).ok())
            // 1xx are interim answers, never a final one (101 would
            // switch the caller's connection to another protocol).
            .filter(|code| (200..=599).contains(code))
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| AnswerError::StatusCode {
                value: value.to_string(),
            }),
    }
}

/// `headers`: an object of strings (numbers and booleans written out).
fn headers_of(fields: &Map<String, Value>) -> Result<HeaderMap, AnswerError> {
    let mut headers = HeaderMap::new();
    match fields.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(named)) => {
            for (name, value) in named {
                if let Some(value) = header_value(name, value)? {
                    insert(&mut headers, name, &value)?;
                }
            }
        }
        Some(other) => return Err(AnswerError::Headers { value: kind(other) }),
    }
    Ok(headers)
}

/// A header's value as text: strings as they are, numbers and booleans
/// written out, null left out.
fn header_value(name: &str, value: &Value) -> Result<Option<String>, AnswerError> {
    match value {
        Value::String(text) => Ok(Some(text.clone())),
        Value::Number(number) => Ok(Some(number.to_string())),
        Value::Bool(flag) => Ok(Some(flag.to_string())),
        Value::Null => Ok(None),
        other => Err(AnswerError::Header {
            name: name.to_owned(),
            value: kind(other),
        }),
    }
}

/// Headers about the connection and the body's framing: rapid frames the
/// answer itself (as Lambda's front end does), so a function's
/// `content-length` that disagrees with its body, or a `transfer-encoding`,
/// can never corrupt the HTTP stream.
const CONNECTION_HEADERS: [&str; 7] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
];

fn insert(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), AnswerError> {
    let invalid = || AnswerError::Header {
        name: name.to_owned(),
        value: format!("{value:?}, not a valid header"),
    };
    let name = HeaderName::try_from(name).map_err(|_| invalid())?;
    if CONNECTION_HEADERS.contains(&name.as_str()) {
        return Ok(());
    }
    let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
    headers.append(name, value);
    Ok(())
}

fn encoded(fields: &Map<String, Value>) -> bool {
    fields.get("isBase64Encoded") == Some(&Value::Bool(true))
}

/// What a JSON value is, for an error message.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(number) => format!("the number {number}"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast reading of the common shape answers exactly as the
    /// reading of any result does.
    #[test]
    fn both_readings_agree() {
        let results = [
            r#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#,
            r#"{"statusCode":201,"headers":{"a":"1","b":2},"cookies":["c=1","d=2"],"body":"x\"y\n"}"#,
            r#"{"statusCode":302,"headers":{"location":"/"},"body":null}"#,
            r#"{"statusCode":204}"#,
            r#"{"statusCode":"204"}"#,
            r#"{"statusCode":null}"#,
            r#"{"statusCode":200,"body":"***","isBase64Encoded":true}"#,
            r#"{"statusCode":200,"cookies":"a=1"}"#,
            r#"{"statusCode":200,"isBase64Encoded":"yes","body":"aGk="}"#,
            r#"  {"statusCode":200,"headers":null,"cookies":null}"#,
        ];
        for result in results {
            let bytes = Bytes::from(result);
            let fast = common_answer(&bytes).expect("the common shape");
            assert_eq!(fast, answer_v2_by_value(&bytes), "{result}");
        }
        for other in [r#"[200]"#, r#""x""#, r#"{"body":{"a":1},"statusCode":200}"#] {
            assert!(common_answer(other.as_bytes()).is_none(), "{other}");
        }
    }
}
