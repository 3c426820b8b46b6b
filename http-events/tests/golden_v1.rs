//! Golden tests of payload format 1.0 (the REST API proxy integration).

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_events::{answer_v1, event_v1, failure_v1, AnswerError, HttpRequest, RequestContext};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

fn event(method: Method, path: &str, query: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let request = HttpRequest {
        method,
        path: path.into(),
        query: query.into(),
        headers: map,
        body: Bytes::copy_from_slice(body),
        source_ip: "10.1.2.3".parse().unwrap(),
    };
    let context = RequestContext {
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        url_id: "1234567890",
        region: "us-east-1",
        time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_583_349_317_135),
    };
    serde_json::from_slice(&event_v1(&request, &context)).unwrap()
}

#[test]
fn a_get_with_repeated_headers_and_query_keys() {
    let got = event(
        Method::GET,
        "/my/path",
        "p1=v1&p1=v2&p2=a%20b",
        &[
            ("User-Agent", "agent"),
            ("Accept", "text/html"),
            ("Accept", "application/json"),
        ],
        b"",
    );
    assert_eq!(
        got,
        json!({
            "version": "1.0",
            "resource": "/{proxy+}",
            "path": "/my/path",
            "httpMethod": "GET",
            "headers": {"user-agent": "agent", "accept": "application/json"},
            "multiValueHeaders": {
                "user-agent": ["agent"],
                "accept": ["text/html", "application/json"],
            },
            "queryStringParameters": {"p1": "v2", "p2": "a b"},
            "multiValueQueryStringParameters": {"p1": ["v1", "v2"], "p2": ["a b"]},
            "requestContext": {
                "accountId": "anonymous",
                "apiId": "1234567890",
                "domainName": "1234567890.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "1234567890",
                "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "httpMethod": "GET",
                "identity": {
                    "accessKey": null,
                    "accountId": null,
                    "caller": null,
                    "cognitoAuthenticationProvider": null,
                    "cognitoAuthenticationType": null,
                    "cognitoIdentityId": null,
                    "cognitoIdentityPoolId": null,
                    "principalOrgId": null,
                    "sourceIp": "10.1.2.3",
                    "user": null,
                    "userAgent": "agent",
                    "userArn": null,
                },
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "requestTime": "04/Mar/2020:19:15:17 +0000",
                "requestTimeEpoch": 1_583_349_317_135u64,
                "resourceId": null,
                "resourcePath": "/{proxy+}",
                "stage": "$default",
            },
            "pathParameters": {"proxy": "my/path"},
            "stageVariables": null,
            "body": null,
            "isBase64Encoded": false,
        })
    );
}

/// Without a query both query maps are null (not empty objects); the
/// root has no proxy parameter.
#[test]
fn no_query_and_the_root() {
    let got = event(Method::GET, "/", "", &[], b"");
    assert_eq!(got["queryStringParameters"], Value::Null);
    assert_eq!(got["multiValueQueryStringParameters"], Value::Null);
    assert_eq!(got["pathParameters"], Value::Null);
    assert_eq!(got["resource"], json!("/"));
    assert_eq!(got["requestContext"]["identity"]["userAgent"], Value::Null);
}

#[test]
fn bodies_as_text_or_base64() {
    let form = event(
        Method::POST,
        "/form",
        "",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"a=1&b=2",
    );
    assert_eq!(form["body"], json!("a=1&b=2"));
    assert_eq!(form["isBase64Encoded"], json!(false));
    let binary = event(
        Method::POST,
        "/up",
        "",
        &[("content-type", "image/png")],
        &[0x89, b'P', b'N', b'G', 0, 0xff],
    );
    assert_eq!(binary["body"], json!("iVBORwD/"));
    assert_eq!(binary["isBase64Encoded"], json!(true));
}

#[test]
fn the_answer_merges_headers_and_multi_value_headers() {
    let result = json!({
        "statusCode": 201,
        "headers": {"content-type": "text/plain", "x-single": "s", "set-cookie": "lost=1"},
        "multiValueHeaders": {"set-cookie": ["a=1", "b=2"], "x-multi": ["m1", "m2"]},
        "body": "aGk=",
        "isBase64Encoded": true,
    });
    let answer = answer_v1(&Bytes::from(result.to_string())).unwrap();
    assert_eq!(answer.status, StatusCode::CREATED);
    let all = |name: &str| -> Vec<&str> {
        answer
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    };
    assert_eq!(all("set-cookie"), ["a=1", "b=2"]);
    assert_eq!(all("x-multi"), ["m1", "m2"]);
    assert_eq!(all("x-single"), ["s"]);
    assert_eq!(&answer.body[..], b"hi");
}

/// A REST API infers nothing: a result without statusCode is no answer.
#[test]
fn results_without_status_code_are_no_answer() {
    for result in [r#"{"message":"hi"}"#, r#""text""#, "[1]", "null"] {
        assert!(
            matches!(
                answer_v1(&Bytes::from(result)),
                Err(AnswerError::NoStatusCode { .. })
            ),
            "{result}"
        );
    }
    assert!(matches!(
        answer_v1(&Bytes::from_static(b"{")),
        Err(AnswerError::NotJson { .. })
    ));
    let failure = failure_v1();
    assert_eq!(failure.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        serde_json::from_slice::<Value>(&failure.body).unwrap(),
        json!({"message": "Internal server error"})
    );
}
