//! Answers: a JSON body with its status, the Runtime API's `202`, and a
//! header whose value may not be a valid header.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::Full;

/// `status` with `body` as `application/json`.
pub fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `202 {"status":"OK"}`, how the Runtime and Extensions APIs accept a post.
pub fn accepted() -> Response<Full<Bytes>> {
    json(
        StatusCode::ACCEPTED,
        Bytes::from_static(br#"{"status":"OK"}"#),
    )
}

/// Sets `name: value`; a value that cannot be a header (control
/// characters) is left out rather than failing the whole answer.
pub fn insert_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    insert_named(headers, HeaderName::from_static(name), value);
}

/// [`insert_header`] with a [`HeaderName`] constant, for headers set on
/// every request (the name is parsed once, not at each call).
pub fn insert_named(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_json_with_their_status() {
        let answer = accepted();
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        assert_eq!(answer.headers()[CONTENT_TYPE], "application/json");
        let mut headers = HeaderMap::new();
        insert_header(&mut headers, "x-ok", "fine");
        insert_header(&mut headers, "x-bad", "line\nbreak");
        assert_eq!(headers["x-ok"], "fine");
        assert!(!headers.contains_key("x-bad"));
    }
}
