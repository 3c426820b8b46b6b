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

use crate::PayloadVersion;

mod in_place;

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
    match in_place::answer(result, PayloadVersion::V2) {
        Some(answer) => Ok(answer),
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

/// The answer for a function's result `result` (payload format 1.0, the
/// REST API's): an object with `statusCode`, `headers` and
/// `multiValueHeaders` (whose values replace those of `headers` for the
/// same name), `body`, `isBase64Encoded`; anything else is no answer.
pub fn answer_v1(result: &Bytes) -> Result<Answer, AnswerError> {
    match in_place::answer(result, PayloadVersion::V1) {
        Some(answer) => Ok(answer),
        None => answer_v1_by_value(result),
    }
}

/// [`answer_v1`] for any result, read as a `Value`.
fn answer_v1_by_value(result: &Bytes) -> Result<Answer, AnswerError> {
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
pub(crate) const CONNECTION_HEADERS: [&str; 7] = [
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
    use proptest::prelude::*;

    /// Both readings of `result` under `version`: in place when it
    /// handles it, and as a `Value`.
    fn readings(
        result: &str,
        version: PayloadVersion,
    ) -> (Option<Answer>, Result<Answer, AnswerError>) {
        let bytes = Bytes::from(result.to_owned());
        let by_value = match version {
            PayloadVersion::V2 => answer_v2_by_value(&bytes),
            PayloadVersion::V1 => answer_v1_by_value(&bytes),
        };
        (in_place::answer(&bytes, version), by_value)
    }

    /// The reading in place of the common shapes answers exactly as the
    /// reading of any result does.
    #[test]
    fn both_readings_agree() {
        let results = [
            r#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#,
            r#"{"statusCode":201,"headers":{"a":"1","b":2,"c":-3,"d":false,"e":null},"cookies":["c=1","d=2"],"body":"x\"y\n"}"#,
            r#"{"statusCode":302,"headers":{"location":"/"},"body":null}"#,
            r#"{"statusCode":204}"#,
            r#"  {"statusCode":200,"headers":null,"cookies":null,"multiValueHeaders":null}"#,
            r#"{"statusCode":200,"headers":{"content-type":"application/json"},"multiValueHeaders":{"content-type":["application/json"]},"body":"{}","isBase64Encoded":false,"cookies":[]}"#,
            r#"{"statusCode":200,"headers":{"a":"1","connection":"close"},"multiValueHeaders":{"a":["2","3"],"B":[4,true,null]}}"#,
            r#"{"statusCode":200,"isBase64Encoded":"yes","body":"aGk="}"#,
            r#"{"statusCode":200,"isBase64Encoded":{"a":[1]},"body":"aGk="}"#,
            r#"{"message":"hi","headers":{}}"#,
        ];
        for result in results {
            for version in [PayloadVersion::V2, PayloadVersion::V1] {
                let (in_place, by_value) = readings(result, version);
                if version == PayloadVersion::V1 && !result.contains("statusCode") {
                    assert!(in_place.is_none(), "{result}");
                    continue;
                }
                let in_place = in_place.unwrap_or_else(|| panic!("read in place: {result}"));
                assert_eq!(Ok(in_place), by_value, "{result} ({version:?})");
            }
        }
    }

    /// What the reading in place does not handle, it leaves to the
    /// `Value`: every error, floats, two spellings of one header, a
    /// field or a header given twice.
    #[test]
    fn the_reading_in_place_gives_up_on_the_rest() {
        for result in [
            r#"[200]"#,
            r#""x""#,
            r#"{"statusCode":"204"}"#,
            r#"{"statusCode":null}"#,
            r#"{"statusCode":200.0}"#,
            r#"{"statusCode":101}"#,
            r#"{"statusCode":200,"body":{"a":1}}"#,
            r#"{"statusCode":200,"body":"***","isBase64Encoded":true}"#,
            r#"{"statusCode":200,"cookies":"a=1"}"#,
            r#"{"statusCode":200,"headers":{"a":1.5}}"#,
            r#"{"statusCode":200,"headers":{"a":{"b":1}}}"#,
            r#"{"statusCode":200,"headers":{"bad name":"x"}}"#,
            r#"{"statusCode":200,"headers":{"a":"x\u0001"}}"#,
            r#"{"statusCode":200,"headers":{"A":"1","a":"2"}}"#,
            r#"{"statusCode":200,"headers":{"a":"1","a":null}}"#,
            r#"{"statusCode":200,"statusCode":201}"#,
            r#"{"statusCode":200} x"#,
        ] {
            for version in [PayloadVersion::V2, PayloadVersion::V1] {
                let (in_place, _) = readings(result, version);
                assert!(in_place.is_none(), "{result} ({version:?})");
            }
        }
        let (in_place, _) = readings(
            r#"{"statusCode":200,"multiValueHeaders":{"A":["1"],"a":["2"]}}"#,
            PayloadVersion::V1,
        );
        assert!(in_place.is_none());
        // The answers the `Value` gives them, where the golden tests do
        // not say: the last of a name given twice, both spellings joined.
        let (_, answer) = readings(
            r#"{"statusCode":200,"headers":{"a":"1","a":null,"B":"2","b":"3"}}"#,
            PayloadVersion::V2,
        );
        let headers = answer.expect("an answer").headers;
        assert!(headers.get("a").is_none());
        assert_eq!(headers.get_all("b").iter().count(), 2);
        let (_, answer) = readings(
            r#"{"statusCode":200,"headers":{"a":1.5}}"#,
            PayloadVersion::V2,
        );
        assert_eq!(answer.expect("an answer").headers["a"], "1.5");
    }

    /// A JSON value a function might put in a header, a cookie or a body.
    fn odd_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => "[ -~]{0,8}".prop_map(Value::from),
            1 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::from),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => (-1e6f64..1e6).prop_map(Value::from),
            1 => "[ -~\\t\\u{1}é\"]{0,8}".prop_map(Value::from),
            1 => Just(serde_json::json!({"a": [1]})),
            1 => Just(serde_json::json!(["x"])),
        ]
    }

    proptest! {
        /// Any answer-shaped result, with odd values anywhere: where the
        /// reading in place gives an answer, it is the `Value`'s.
        #[test]
        fn the_reading_in_place_is_the_value_s(
            status in prop_oneof![1 => Just(None), 4 => (150u64..650).prop_map(Some)],
            headers in prop::collection::vec(("[a-cA-C-]{1,3}|a b", odd_value()), 0..5),
            multi in prop::collection::vec(("[a-cA-C]{1,2}", prop::collection::vec(odd_value(), 0..3)), 0..3),
            cookies in prop::collection::vec(odd_value(), 0..3),
            body in odd_value(),
            encoded in odd_value(),
        ) {
            let mut text = String::from("{");
            if let Some(status) = status {
                text.push_str(&format!(r#""statusCode":{status},"#));
            }
            let members = |members: Vec<(String, String)>| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(name, value)| format!("{}:{value}", Value::from(name)))
                    .collect();
                format!("{{{}}}", members.join(","))
            };
            text.push_str(r#""headers":"#);
            text.push_str(&members(headers.into_iter().map(|(n, v)| (n, v.to_string())).collect()));
            text.push_str(r#","multiValueHeaders":"#);
            text.push_str(&members(multi.into_iter().map(|(n, v)| (n, Value::from(v).to_string())).collect()));
            text.push_str(&format!(
                r#","cookies":{},"body":{body},"isBase64Encoded":{encoded}}}"#,
                Value::from(cookies)
            ));
            for version in [PayloadVersion::V2, PayloadVersion::V1] {
                let (in_place, by_value) = readings(&text, version);
                if let Some(in_place) = in_place {
                    prop_assert_eq!(Ok(in_place), by_value, "{} ({:?})", text, version);
                }
            }
        }
    }
}
