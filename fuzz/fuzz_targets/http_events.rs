//! Web traffic's translation (spec §12): any request becomes an event that
//! is JSON and says what the request said (path, query, headers, cookies,
//! the body byte for byte), any function result becomes an answer or a
//! refusal (never a panic, never a status outside 200–599), and a streamed
//! prelude is found the same wherever the runtime's writes split it.
//!
//! The input is the shared request format (`rapid_fuzz::Input`): the head's
//! path may carry a query after `?`; the body (its data frames joined) is
//! the request body; the same bytes are also read as a function's result,
//! and the data frames as the chunks of a streamed answer.

#![no_main]

use base64::Engine as _;
use bytes::Bytes;
use http_events::{
    HttpRequest, PayloadVersion, PreludeScan, PreludeSplit, RequestContext, MAX_PRELUDE,
    PRELUDE_DELIMITER,
};
use libfuzzer_sys::fuzz_target;
use rapid_fuzz::{Input, Part};
use serde_json::Value;
use std::time::{Duration, SystemTime};

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let body = Bytes::from(input.data());
    let (path, query) = match input.path.split_once('?') {
        Some((path, query)) => (path.to_owned(), query.to_owned()),
        None => (input.path.clone(), String::new()),
    };
    let request = HttpRequest {
        method: input.method.clone(),
        path,
        query,
        headers: input.headers.clone(),
        body: body.clone(),
        source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
    };
    let context = RequestContext {
        request_id: "0f1e2d3c-0000-4000-8000-000000000000",
        url_id: "fuzz",
        region: "us-east-1",
        time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000),
    };
    event_says_the_request(&request, &context);

    for version in [PayloadVersion::V1, PayloadVersion::V2] {
        if let Ok(answer) = version.answer(&body) {
            assert!((200..=599).contains(&answer.status.as_u16()));
        }
    }
    if let Ok((status, _)) = http_events::streamed_head(&body) {
        assert!((200..=599).contains(&status.as_u16()));
    }

    prelude_split_anywhere(&input);
});

/// Both payload formats are JSON objects carrying the request's body
/// exactly; 2.0 also its raw path and query, its cookies apart from the
/// other headers, and header names in lower case.
fn event_says_the_request(request: &HttpRequest, context: &RequestContext<'_>) {
    for version in [PayloadVersion::V1, PayloadVersion::V2] {
        let event: Value =
            serde_json::from_slice(&version.event(request, context)).expect("every event is JSON");
        let body = match (&event["body"], event["isBase64Encoded"].as_bool()) {
            (Value::Null, _) => Vec::new(),
            (Value::String(text), Some(true)) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("a base64 body decodes"),
            (Value::String(text), _) => text.as_bytes().to_vec(),
            (other, _) => panic!("body is {other}"),
        };
        assert_eq!(body, request.body, "{version:?} body");

        if version == PayloadVersion::V2 {
            assert_eq!(event["rawPath"], request.path.as_str());
            assert_eq!(event["rawQueryString"], request.query.as_str());
            let headers = event["headers"].as_object().expect("headers is an object");
            for name in headers.keys() {
                assert_eq!(name, &name.to_ascii_lowercase());
                assert_ne!(name, "cookie", "cookies go to `cookies`");
            }
            let has_cookie = request
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .any(|v| {
                    v.as_bytes()
                        .split(|b| *b == b';')
                        .any(|c| !c.trim_ascii().is_empty())
                });
            assert_eq!(event["cookies"].is_array(), has_cookie);
        }
    }
}

/// The prelude and the body's first bytes do not depend on how the stream
/// was cut into chunks (within the prelude's limit, where one push of
/// everything and many pushes see the same bytes).
fn prelude_split_anywhere(input: &Input) {
    let chunks: Vec<&Bytes> = input
        .frames
        .iter()
        .filter_map(|part| match part {
            Part::Data(data) => Some(data),
            _ => None,
        })
        .collect();
    let whole: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
    if whole.len() > MAX_PRELUDE {
        return;
    }
    let at_once = PreludeScan::default().push(&whole);

    let mut scan = PreludeScan::default();
    let mut pieces = chunks.iter();
    let mut split = PreludeSplit::More;
    let mut rest = Vec::new();
    for chunk in pieces.by_ref() {
        split = scan.push(chunk);
        if split != PreludeSplit::More {
            break;
        }
    }
    for chunk in pieces {
        rest.extend_from_slice(chunk);
    }
    match (&at_once, &split) {
        (
            PreludeSplit::Found { prelude, body },
            PreludeSplit::Found {
                prelude: piecewise,
                body: first,
            },
        ) => {
            assert_eq!(prelude, piecewise);
            let mut joined = first.to_vec();
            joined.extend_from_slice(&rest);
            assert_eq!(body.as_ref(), &joined[..]);
            assert_eq!(
                &whole[prelude.len()..][..PRELUDE_DELIMITER.len()],
                PRELUDE_DELIMITER
            );
        }
        (PreludeSplit::More, PreludeSplit::More) => {}
        (a, b) => panic!("one push gave {a:?}, chunk by chunk {b:?}"),
    }
}
