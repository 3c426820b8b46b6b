//! Golden tests: whole events and answers, and the mistakes other local
//! emulators' users reported (query string null instead of "", protocol
//! `http`, header names not lower case, repeated headers lost, cookies
//! dropped, binary bodies corrupted).

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_events::{answer_v2, event_v2, streamed_head, AnswerError, HttpRequest, RequestContext};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

fn request(method: Method, path: &str, query: &str, headers: &[(&str, &str)]) -> HttpRequest {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    HttpRequest {
        method,
        path: path.into(),
        query: query.into(),
        headers: map,
        body: Bytes::new(),
        source_ip: "::ffff:127.0.0.1".parse().unwrap(),
    }
}

fn event(request: &HttpRequest) -> Value {
    let context = RequestContext {
        request_id: "8d6c0b5e-2f4b-4d4c-9c55-3f8e0d2a1b77",
        url_id: "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
        region: "eu-west-1",
        time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_583_348_638_390),
    };
    serde_json::from_slice(&event_v2(request, &context)).unwrap()
}

#[test]
fn a_post_with_a_json_body_query_and_cookies() {
    let mut post = request(
        Method::POST,
        "/my/path",
        "p1=v1&p1=v2&p2=",
        &[
            ("Host", "127.0.0.1:9000"),
            ("User-Agent", "agent"),
            ("Content-Type", "application/json"),
            ("X-Repeated", "value1"),
            ("x-repeated", "value2"),
            ("Cookie", "c1=v1; c2=v2"),
        ],
    );
    post.body = Bytes::from_static(br#"{"hello":"from client"}"#);
    assert_eq!(
        event(&post),
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/my/path",
            "rawQueryString": "p1=v1&p1=v2&p2=",
            "cookies": ["c1=v1", "c2=v2"],
            "headers": {
                "host": "127.0.0.1:9000",
                "user-agent": "agent",
                "content-type": "application/json",
                "x-repeated": "value1,value2",
            },
            "queryStringParameters": {"p1": "v1,v2", "p2": ""},
            "requestContext": {
                "accountId": "anonymous",
                "apiId": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
                "domainName": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.eu-west-1.on.aws",
                "domainPrefix": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
                "http": {
                    "method": "POST",
                    "path": "/my/path",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "agent",
                },
                "requestId": "8d6c0b5e-2f4b-4d4c-9c55-3f8e0d2a1b77",
                "routeKey": "$default",
                "stage": "$default",
                "time": "04/Mar/2020:19:03:58 +0000",
                "timeEpoch": 1_583_348_638_390u64,
            },
            "body": "{\"hello\":\"from client\"}",
            "isBase64Encoded": false,
        })
    );
}

/// cargo-lambda #863: `rawQueryString` was null without a query, and the
/// protocol `http`; Lambda sends "" and `HTTP/1.1`.
#[test]
fn no_query_is_an_empty_raw_query_string() {
    let get = event(&request(Method::GET, "/", "", &[]));
    assert_eq!(get["rawQueryString"], json!(""));
    assert_eq!(get["requestContext"]["http"]["protocol"], json!("HTTP/1.1"));
    // Absent when empty, as Lambda leaves them out.
    for absent in ["queryStringParameters", "cookies", "body"] {
        assert!(get.get(absent).is_none(), "{absent}: {get}");
    }
    assert_eq!(get["isBase64Encoded"], json!(false));
    assert_eq!(get["requestContext"]["http"]["userAgent"], json!(""));
}

/// SAM #3034, #2726, #2814: header names kept as the client wrote them, and
/// repeated headers reduced to one value.
#[test]
fn header_names_lower_case_and_repeated_headers_joined() {
    let get = event(&request(
        Method::GET,
        "/",
        "",
        &[
            ("X-API-Key", "k"),
            ("Accept", "text/html"),
            ("ACCEPT", "application/json"),
        ],
    ));
    assert_eq!(
        get["headers"],
        json!({"x-api-key": "k", "accept": "text/html,application/json"})
    );
}

/// LocalStack, Floci: binary bodies corrupted on the way in and out.
#[test]
fn binary_bodies_are_base64_both_ways_byte_exact() {
    let bytes: Vec<u8> = (0..=255u8).chain([0xff, 0x00, 0xfe]).collect();
    let mut upload = request(
        Method::PUT,
        "/upload",
        "",
        &[("content-type", "application/octet-stream")],
    );
    upload.body = Bytes::from(bytes.clone());
    let put = event(&upload);
    assert_eq!(put["isBase64Encoded"], json!(true));
    use base64::Engine as _;
    let sent = base64::engine::general_purpose::STANDARD
        .decode(put["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(sent, bytes);

    // A text type whose bytes are not UTF-8 cannot travel as a JSON
    // string: base64 keeps it exact.
    let mut latin1 = request(Method::POST, "/", "", &[("content-type", "text/plain")]);
    latin1.body = Bytes::from_static(b"caf\xe9");
    let post = event(&latin1);
    assert_eq!(post["isBase64Encoded"], json!(true));
    assert_eq!(post["body"], json!("Y2Fm6Q=="));

    let result = json!({
        "statusCode": 200,
        "headers": {"content-type": "application/octet-stream"},
        "body": put["body"],
        "isBase64Encoded": true,
    });
    let answer = answer_v2(&Bytes::from(result.to_string())).unwrap();
    assert_eq!(&answer.body[..], &bytes[..]);
}

/// LocalStack: cookies of the answer dropped. Each is its own Set-Cookie.
#[test]
fn each_cookie_of_the_answer_is_its_own_set_cookie() {
    let result = json!({
        "statusCode": 302,
        "headers": {"Location": "/next", "X-Count": 3, "X-Flag": true, "X-Null": null},
        "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
    });
    let answer = answer_v2(&Bytes::from(result.to_string())).unwrap();
    assert_eq!(answer.status, StatusCode::FOUND);
    let cookies: Vec<_> = answer.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly"]);
    assert_eq!(answer.headers["location"], "/next");
    assert_eq!(answer.headers["x-count"], "3");
    assert_eq!(answer.headers["x-flag"], "true");
    assert!(answer.headers.get("x-null").is_none());
    assert!(answer.body.is_empty());
}

/// Any valid JSON without `statusCode` is a 200 `application/json` answer.
#[test]
fn results_without_status_code_are_inferred() {
    for (result, body) in [
        (r#"{"message":"hi"}"#, r#"{"message":"hi"}"#),
        (r#""Hello (world)""#, "Hello (world)"),
        ("[1, 2]", "[1, 2]"),
        ("42", "42"),
        ("null", "null"),
        (
            r#"{"body":"x","headers":{}}"#,
            r#"{"body":"x","headers":{}}"#,
        ),
    ] {
        let answer = answer_v2(&Bytes::from(result)).unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{result}");
        assert_eq!(answer.headers["content-type"], "application/json");
        assert_eq!(&answer.body[..], body.as_bytes(), "{result}");
    }
}

/// What is not an answer is an error (answered 502), never a 200.
#[test]
fn results_that_are_not_answers() {
    let error = |result: &str| answer_v2(&Bytes::from(result.to_owned())).unwrap_err();
    assert!(matches!(error("not json"), AnswerError::NotJson { .. }));
    assert!(matches!(error(""), AnswerError::NotJson { .. }));
    for status in [r#""200""#, "99", "100", "101", "600", "-1", "200.5", "null"] {
        let result = format!(r#"{{"statusCode": {status}}}"#);
        assert!(
            matches!(error(&result), AnswerError::StatusCode { .. }),
            "{result}"
        );
    }
    assert!(matches!(
        error(r#"{"statusCode":200,"headers":[]}"#),
        AnswerError::Headers { .. }
    ));
    assert!(matches!(
        error(r#"{"statusCode":200,"headers":{"a":{"b":1}}}"#),
        AnswerError::Header { .. }
    ));
    assert!(matches!(
        error(r#"{"statusCode":200,"headers":{"bad name":"x"}}"#),
        AnswerError::Header { .. }
    ));
    assert!(matches!(
        error(r#"{"statusCode":200,"cookies":"a=1"}"#),
        AnswerError::Cookies { .. }
    ));
    assert!(matches!(
        error(r#"{"statusCode":200,"body":{"a":1}}"#),
        AnswerError::Body { .. }
    ));
    assert!(matches!(
        error(r#"{"statusCode":200,"body":"***","isBase64Encoded":true}"#),
        AnswerError::Base64 { .. }
    ));
    assert_eq!(error("x").status(), StatusCode::BAD_GATEWAY);
}

#[test]
fn the_streamed_prelude_gives_status_headers_and_cookies() {
    let (status, headers) = streamed_head(
        br#"{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":["s=1"]}"#,
    )
    .unwrap();
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(headers["set-cookie"], "s=1");
    assert_eq!(streamed_head(b"{}").unwrap().0, StatusCode::OK);
    assert!(streamed_head(b"[1]").is_err());
    assert!(streamed_head(b"{").is_err());
}

/// A function's `content-length` that disagrees with its body (or a
/// `transfer-encoding`) would corrupt the answer's framing: rapid frames
/// the answer itself and drops them.
#[test]
fn framing_headers_of_the_function_are_dropped() {
    let result = json!({
        "statusCode": 200,
        "headers": {
            "Content-Length": "70",
            "transfer-encoding": "chunked",
            "connection": "close",
            "content-type": "text/plain",
        },
        "body": "short",
    });
    let answer = answer_v2(&Bytes::from(result.to_string())).unwrap();
    for dropped in ["content-length", "transfer-encoding", "connection"] {
        assert!(answer.headers.get(dropped).is_none(), "{dropped}");
    }
    assert_eq!(answer.headers["content-type"], "text/plain");
    let (_, headers) =
        streamed_head(br#"{"statusCode":200,"headers":{"content-length":"9"}}"#).unwrap();
    assert!(headers.get("content-length").is_none());
}
