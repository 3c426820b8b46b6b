//! The common answer read in place: a function's result read straight
//! into the answer's status, headers and body, without a `serde_json::Value`
//! of it. Strings without escapes (header values, cookies, a plain or
//! base64 body) are borrowed from the result and become slices of its
//! buffer, so the answer copies none of them.
//!
//! This reading only ever gives the answer that reading the result as a
//! `Value` (`answer.rs`) gives. Whatever it does not handle — any error, a
//! header repeated under two spellings, a header value that is a float or
//! an object, a field repeated — makes it give up (`None`), and the result
//! is read again as a `Value`, which also says precisely what is wrong.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{Entry, HeaderName, HeaderValue, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, StatusCode};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

use super::{Answer, CONNECTION_HEADERS};
use crate::PayloadVersion;

/// The answer for `result` under payload format `version`, when this
/// reading handles it; `None` for anything else.
pub(crate) fn answer(result: &Bytes, version: PayloadVersion) -> Option<Answer> {
    // An object only: serde would also read a struct from an array.
    if result.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    match version {
        PayloadVersion::V2 => {
            // `multiValueHeaders` is not format 2.0's: skipped unread.
            let fields: Fields<'_, IgnoredAny> = serde_json::from_slice(result).ok()?;
            let Some(Status(status)) = fields.status_code else {
                return Some(inferred(result.clone()));
            };
            let mut headers = headers(result, fields.headers)?;
            // Each cookie its own `Set-Cookie`.
            for cookie in fields.cookies.unwrap_or_default() {
                let cookie = HeaderValue::from_maybe_shared(shared(result, cookie.0)).ok()?;
                headers.append(SET_COOKIE, cookie);
            }
            Some(Answer {
                status,
                headers,
                body: body(result, fields.body, fields.is_base64_encoded)?,
            })
        }
        PayloadVersion::V1 => {
            // No cookies, no inference: format 1.0 has neither.
            let fields: Fields<'_, Named<'_, Vec<Scalar<'_>>>> =
                serde_json::from_slice(result).ok()?;
            let Status(status) = fields.status_code?;
            let mut headers = headers(result, fields.headers)?;
            let multi = fields.multi_value_headers.map(|named| named.0);
            replace_multi(&mut headers, result, multi.unwrap_or_default())?;
            Some(Answer {
                status,
                headers,
                body: body(result, fields.body, fields.is_base64_encoded)?,
            })
        }
    }
}

/// `headers`: strings, integers and booleans as text, null left out,
/// framing headers dropped.
fn headers(result: &Bytes, named: Option<Named<'_, Scalar<'_>>>) -> Option<HeaderMap> {
    let mut headers = HeaderMap::new();
    for (name, value) in named.map(|named| named.0).unwrap_or_default() {
        let Some(value) = header_value(result, value)? else {
            continue;
        };
        let name = HeaderName::try_from(&*name).ok()?;
        if CONNECTION_HEADERS.contains(&name.as_str()) {
            continue;
        }
        // Two spellings of one name: their order is the `Value`'s to decide.
        match headers.entry(name) {
            Entry::Occupied(_) => return None,
            Entry::Vacant(entry) => {
                entry.insert(value);
            }
        }
    }
    Some(headers)
}

/// `body`, base64-decoded when `isBase64Encoded` is true.
fn body(result: &Bytes, body: Option<Text<'_>>, encoded: Option<Flag>) -> Option<Bytes> {
    Some(match body {
        None => Bytes::new(),
        Some(Text(text)) if encoded == Some(Flag(true)) => {
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .ok()?
                .into()
        }
        Some(Text(text)) => shared(result, text),
    })
}

/// A result without `statusCode` (format 2.0): a 200 `application/json`
/// with the result, an object here, as its body.
fn inferred(result: Bytes) -> Answer {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Answer {
        status: StatusCode::OK,
        headers,
        body: result,
    }
}

/// `multiValueHeaders` (1.0): each name's values replace those that
/// `headers` gave it.
fn replace_multi(
    headers: &mut HeaderMap,
    result: &Bytes,
    named: Vec<(Cow<'_, str>, Vec<Scalar<'_>>)>,
) -> Option<()> {
    let mut replaced: Vec<HeaderName> = Vec::new();
    for (name, values) in named {
        let name = HeaderName::try_from(&*name).ok()?;
        // Two spellings of one name: the second would remove the first's.
        if replaced.contains(&name) {
            return None;
        }
        headers.remove(&name);
        for value in values {
            let Some(value) = header_value(result, value)? else {
                continue;
            };
            if !CONNECTION_HEADERS.contains(&name.as_str()) {
                headers.append(name.clone(), value);
            }
        }
        replaced.push(name);
    }
    Some(())
}

/// A header's value: text as it is, integers and booleans written out,
/// null none (`Some(None)`); `None` when it is not a valid header value.
fn header_value(result: &Bytes, value: Scalar<'_>) -> Option<Option<HeaderValue>> {
    let value = match value {
        Scalar::Null => return Some(None),
        Scalar::Flag(true) => HeaderValue::from_static("true"),
        Scalar::Flag(false) => HeaderValue::from_static("false"),
        Scalar::Integer(number) => HeaderValue::from(number),
        Scalar::Text(text) => HeaderValue::from_maybe_shared(shared(result, text)).ok()?,
    };
    Some(Some(value))
}

/// `text` as bytes: a slice of `result` when it was borrowed from it,
/// else its own buffer.
fn shared(result: &Bytes, text: Cow<'_, str>) -> Bytes {
    match text {
        Cow::Borrowed(text) if within(result, text.as_bytes()) => result.slice_ref(text.as_bytes()),
        Cow::Borrowed(text) => Bytes::copy_from_slice(text.as_bytes()),
        Cow::Owned(text) => Bytes::from(text),
    }
}

/// Whether `part` lies inside `whole` (so `slice_ref` takes it).
fn within(whole: &[u8], part: &[u8]) -> bool {
    let range = whole.as_ptr_range();
    let start = part.as_ptr();
    range.start <= start && start as usize + part.len() <= range.end as usize
}

/// The fields of an answer, each borrowed from the result where it can
/// be. A field of another shape fails the whole reading. `M` reads
/// `multiValueHeaders` (format 1.0), or skips it (2.0).
#[derive(Deserialize)]
#[serde(bound(deserialize = "M: Deserialize<'de>"))]
struct Fields<'a, M> {
    /// Present even as null, which is an error (absent is `None`).
    #[serde(rename = "statusCode", default, deserialize_with = "present")]
    status_code: Option<Status>,
    #[serde(default, borrow)]
    headers: Option<Named<'a, Scalar<'a>>>,
    #[serde(rename = "multiValueHeaders", default)]
    multi_value_headers: Option<M>,
    #[serde(default, borrow)]
    cookies: Option<Vec<Text<'a>>>,
    #[serde(default, borrow)]
    body: Option<Text<'a>>,
    /// Only `true` encodes the body; any other value is read as not.
    #[serde(rename = "isBase64Encoded", default)]
    is_base64_encoded: Option<Flag>,
}

/// A field that is there, even as null (absent is `None` by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `statusCode`: an integer from 200 to 599 (1xx are interim answers,
/// never a final one).
struct Status(StatusCode);

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Code;
        impl Visitor<'_> for Code {
            type Value = Status;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status code from 200 to 599")
            }

            fn visit_u64<E: de::Error>(self, code: u64) -> Result<Status, E> {
                u16::try_from(code)
                    .ok()
                    .filter(|code| (200..=599).contains(code))
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .map(Status)
                    .ok_or_else(|| E::custom("not a final status"))
            }
        }
        d.deserialize_u64(Code)
    }
}

/// `isBase64Encoded`: whether it is `true`; any other value is not.
#[derive(PartialEq)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Flag;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Flag, E> {
                Ok(Flag(flag))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Flag, E> {
                Ok(Flag(false))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Flag, E> {
                Ok(Flag(false))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Flag, E> {
                Ok(Flag(false))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Flag, E> {
                Ok(Flag(false))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flag, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Flag(false))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flag, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Flag(false))
            }
        }
        d.deserialize_any(Any)
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ScalarVisitor)
            .and_then(|scalar| match scalar {
                Scalar::Text(text) => Ok(Text(text)),
                _ => Err(de::Error::custom("not a string")),
            })
    }
}

/// A header's value as a function may give it.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Integer(i64),
    Flag(bool),
    Null,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// Reads a string, an integer, a boolean or null; anything else (a
/// float's text is the `Value`'s to write) is an error.
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, an integer, a boolean or null")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(text)))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Integer(number))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Self::Value, E> {
        i64::try_from(number)
            .map(Scalar::Integer)
            .map_err(|_| E::custom("a very large integer"))
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Flag(flag))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
}

/// An object's members in their order; a name given twice is an error
/// (the `Value` keeps the last, which is its reading's to apply).
struct Named<'a, T>(Vec<(Cow<'a, str>, T)>);

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for Named<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Members<T> {
            type Value = Named<'de, T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members: Vec<(Cow<'de, str>, T)> = Vec::with_capacity(8);
                while let Some((Text(name), value)) = map.next_entry::<Text<'de>, T>()? {
                    if members.iter().any(|(seen, _)| *seen == name) {
                        return Err(de::Error::custom("a name given twice"));
                    }
                    members.push((name, value));
                }
                Ok(Named(members))
            }
        }
        let Named(members) = d.deserialize_map(Members(std::marker::PhantomData))?;
        Ok(Named(members))
    }
}
