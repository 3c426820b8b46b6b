//! Properties over any input: whatever a caller sends becomes an event
//! that is JSON and carries the body byte for byte; whatever a function
//! answers becomes an answer or a named error, never a panic; a streamed
//! prelude is found wherever the runtime's writes split it.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_events::{
    answer_v1, answer_v2, event_v1, event_v2, streamed_head, HttpRequest, PreludeScan,
    PreludeSplit, RequestContext,
};
use proptest::prelude::*;
use serde_json::Value;

const CONTENT_TYPES: [&str; 6] = [
    "application/json",
    "text/plain; charset=utf-8",
    "application/octet-stream",
    "image/png",
    "application/x-www-form-urlencoded",
    "",
];

fn request() -> impl Strategy<Value = HttpRequest> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        "(/[A-Za-z0-9%._~-]{0,8}){0,4}",
        "[ -~]{0,40}",
        prop::collection::vec(("[a-zA-Z][a-zA-Z0-9-]{0,10}", "[ -~]{0,20}"), 0..6),
        prop::sample::select(CONTENT_TYPES.to_vec()),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
    )
        .prop_map(|(method, path, query, headers, content_type, body, utf8)| {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    map.append(name, value);
                }
            }
            if !content_type.is_empty() {
                map.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type),
                );
            }
            // Half the bodies are text, to reach the text path too.
            let body = if utf8 {
                String::from_utf8_lossy(&body).into_owned().into_bytes()
            } else {
                body
            };
            HttpRequest {
                method: Method::from_bytes(method.as_bytes()).unwrap(),
                path: if path.is_empty() { "/".into() } else { path },
                query: query.replace(['#', '?'], ""),
                headers: map,
                body: Bytes::from(body),
                source_ip: "192.0.2.7".parse().unwrap(),
            }
        })
}

fn context() -> RequestContext<'static> {
    RequestContext {
        request_id: "r",
        url_id: "u",
        region: "eu-west-1",
        time: std::time::SystemTime::now(),
    }
}

/// The body an event carries, decoded.
fn carried_body(event: &Value) -> Vec<u8> {
    match (&event["body"], &event["isBase64Encoded"]) {
        (Value::Null, _) => Vec::new(),
        (Value::String(text), Value::Bool(true)) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("base64"),
        (Value::String(text), _) => text.clone().into_bytes(),
        (other, _) => panic!("body is {other}"),
    }
}

proptest! {
    #[test]
    fn every_request_is_a_json_event_with_its_body_intact(request in request()) {
        let v2: Value = serde_json::from_slice(&event_v2(&request, &context())).expect("2.0 is JSON");
        prop_assert_eq!(carried_body(&v2), request.body.to_vec());
        prop_assert_eq!(v2["rawQueryString"].as_str(), Some(request.query.as_str()));
        prop_assert_eq!(v2["rawPath"].as_str(), Some(request.path.as_str()));
        let headers = v2["headers"].as_object().expect("headers");
        prop_assert!(headers.keys().all(|name| name.to_ascii_lowercase() == *name));
        prop_assert!(!headers.contains_key("cookie"));

        let v1: Value = serde_json::from_slice(&event_v1(&request, &context())).expect("1.0 is JSON");
        prop_assert_eq!(carried_body(&v1), request.body.to_vec());
        prop_assert_eq!(v1["httpMethod"].as_str(), Some(request.method.as_str()));
        prop_assert_eq!(
            v1["queryStringParameters"].is_null(),
            v1["multiValueQueryStringParameters"].is_null()
        );
    }

    #[test]
    fn any_result_is_an_answer_or_a_502(result in prop::collection::vec(any::<u8>(), 0..200)) {
        let result = Bytes::from(result);
        for answer in [answer_v2(&result), answer_v1(&result)] {
            if let Err(err) = answer {
                prop_assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
                prop_assert!(!err.to_string().is_empty());
            }
        }
        let _ = streamed_head(&result);
    }

    #[test]
    fn any_json_result_is_an_answer_or_a_502(
        status in prop_oneof![Just(Value::Null), (0u64..700).prop_map(Value::from), "[0-9a-z]{0,3}".prop_map(Value::from)],
        headers in prop::collection::btree_map("[a-zA-Z -]{0,6}", "[ -~]{0,8}", 0..4),
        cookies in prop::collection::vec("[ -~]{0,8}", 0..3),
        body in prop::option::of("[ -~]{0,30}"),
        encoded in any::<bool>(),
    ) {
        let result = serde_json::json!({
            "statusCode": status, "headers": headers, "cookies": cookies,
            "body": body, "isBase64Encoded": encoded,
        });
        let result = Bytes::from(result.to_string());
        match answer_v2(&result) {
            Ok(answer) => {
                prop_assert!((200..=599).contains(&answer.status.as_u16()));
                prop_assert!(answer.headers.get("content-length").is_none());
            }
            Err(err) => prop_assert_eq!(err.status(), StatusCode::BAD_GATEWAY),
        }
    }

    #[test]
    fn the_prelude_is_found_wherever_the_writes_split_it(
        status in 200u16..600,
        header in "[ -~]{0,30}",
        body in prop::collection::vec(any::<u8>(), 0..200),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let prelude = serde_json::json!({"statusCode": status, "headers": {"x-h": header}}).to_string();
        let mut stream = prelude.clone().into_bytes();
        stream.extend_from_slice(&[0; 8]);
        stream.extend_from_slice(&body);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        cuts.dedup();
        let mut scan = PreludeScan::default();
        let mut found = None;
        let mut forwarded = Vec::new();
        for pair in cuts.windows(2) {
            let chunk = &stream[pair[0]..pair[1]];
            match &found {
                Some(_) => forwarded.extend_from_slice(chunk),
                None => match scan.push(chunk) {
                    PreludeSplit::More => {}
                    PreludeSplit::Found { prelude, body } => {
                        forwarded.extend_from_slice(&body);
                        found = Some(prelude);
                    }
                    PreludeSplit::TooLong => prop_assert!(false, "too long"),
                },
            }
        }
        let found = found.expect("the prelude is found");
        prop_assert_eq!(&found[..], prelude.as_bytes());
        prop_assert_eq!(forwarded, body);
        prop_assert_eq!(streamed_head(&found).expect("a valid prelude").0.as_u16(), status);
    }
}
