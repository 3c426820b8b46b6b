//! Request → event, payload format 1.0: the API Gateway REST API proxy
//! integration's event (API Gateway's "input format of a Lambda function
//! for proxy integration", and the HTTP API's format 1.0, the same shape),
//! which Flask behind apig-wsgi and many Express adapters default to.
//!
//! Single-value maps hold the last value of a repeated header or query
//! key, the `multiValue*` maps all of them; both query maps are null when
//! there is no query. The API is a `/{proxy+}` resource on stage
//! `$default`, so `pathParameters.proxy` is the path after `/`.

use crate::event::{body, decode, times, HttpRequest, RequestContext};
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// The payload format 1.0 event for `request`, as JSON.
pub fn event_v1(request: &HttpRequest, context: &RequestContext<'_>) -> Bytes {
    let (headers, multi_headers) = headers_v1(&request.headers);
    let (query, multi_query) = query_v1(&request.query);
    let user_agent = request
        .headers
        .get(http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let (time, time_epoch) = times(context.time);
    let proxy = request.path.strip_prefix('/').unwrap_or(&request.path);
    let (resource, path_parameters) = if proxy.is_empty() {
        ("/", Value::Null)
    } else {
        ("/{proxy+}", json!({ "proxy": decode(proxy) }))
    };
    let domain_name = format!(
        "{}.execute-api.{}.amazonaws.com",
        context.url_id, context.region
    );
    let (body, encoded) = if request.body.is_empty() {
        (Value::Null, false)
    } else {
        let (text, encoded) = body(&request.headers, &request.body);
        (text.into(), encoded)
    };
    let event = json!({
        "version": "1.0",
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": context.url_id,
            "domainName": domain_name,
            "domainPrefix": context.url_id,
            "extendedRequestId": context.request_id,
            "httpMethod": request.method.as_str(),
            "identity": {
                "accessKey": null,
                "accountId": null,
                "caller": null,
                "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null,
                "cognitoIdentityId": null,
                "cognitoIdentityPoolId": null,
                "principalOrgId": null,
                "sourceIp": request.source_ip.to_canonical().to_string(),
                "user": null,
                "userAgent": user_agent,
                "userArn": null,
            },
            "path": request.path,
            "protocol": "HTTP/1.1",
            "requestId": context.request_id,
            "requestTime": time,
            "requestTimeEpoch": time_epoch,
            "resourceId": null,
            "resourcePath": resource,
            "stage": "$default",
        },
        "pathParameters": path_parameters,
        "stageVariables": null,
        "body": body,
        "isBase64Encoded": encoded,
    });
    Bytes::from(event.to_string())
}

/// `headers` (each name's last value) and `multiValueHeaders` (all).
fn headers_v1(headers: &http::HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if let Some(last) = values.last() {
            single.insert(name.as_str().to_owned(), last.clone().into());
        }
        multi.insert(name.as_str().to_owned(), values.into());
    }
    (single, multi)
}

/// `queryStringParameters` (each key's last value) and
/// `multiValueQueryStringParameters` (all), percent-decoded; both null
/// without a query.
fn query_v1(query: &str) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(key), decode(value));
        single.insert(key.clone(), value.clone().into());
        match multi.get_mut(&key) {
            Some(Value::Array(values)) => values.push(value.into()),
            _ => {
                multi.insert(key, vec![Value::from(value)].into());
            }
        }
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (single.into(), multi.into())
    }
}
