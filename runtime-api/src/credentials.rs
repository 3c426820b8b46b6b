//! The credentials endpoint of init caching (SnapStart): the runtime and
//! extensions find `AWS_CONTAINER_CREDENTIALS_FULL_URI` pointing here and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN` to send as `Authorization`, the way
//! the AWS SDKs' container credential provider reads them.

use crate::{ApiError, RuntimeEngine};
use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use interop::restore::Credentials;
use wire::json;

/// Where the credentials are served on the loopback API address.
pub const CREDENTIALS_PATH: &str = "/2021-04-23/credentials";

/// Serves one request under `/2021-04-23/`.
pub async fn handle_credentials<E, B>(engine: E, req: Request<B>) -> Response<Full<Bytes>>
where
    E: RuntimeEngine,
{
    let path = req.uri().path().to_owned();
    if path != CREDENTIALS_PATH {
        return error(&ApiError::NotFound { path });
    }
    if req.method() != Method::GET {
        return error(&ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            path,
        });
    }
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match engine.credentials(token).await {
        Ok(credentials) => json(StatusCode::OK, credentials_json(&credentials)),
        // Said the way Lambda's emulator says it: a plain-text 404.
        Err(ApiError::CredentialsNotFound) => {
            let body = format!("{}\n", ApiError::CredentialsNotFound);
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        Err(err) => error(&err),
    }
}

fn error(err: &ApiError) -> Response<Full<Bytes>> {
    json(err.status(), err.body())
}

/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`, the shape the
/// SDKs' container credential provider reads.
fn credentials_json(credentials: &Credentials) -> Bytes {
    let expiration = credentials
        .expiration
        .map(|at| humantime::format_rfc3339_seconds(at).to_string());
    let body = serde_json::json!({
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "Token": credentials.session_token,
        "Expiration": expiration,
    });
    Bytes::from(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn credentials_have_the_sdk_field_names() {
        let credentials = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: "session".into(),
            expiration: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        };
        let v: serde_json::Value = serde_json::from_slice(&credentials_json(&credentials)).unwrap();
        assert_eq!(v["AccessKeyId"], "AKID");
        assert_eq!(v["SecretAccessKey"], "secret");
        assert_eq!(v["Token"], "session");
        assert_eq!(v["Expiration"], "2027-01-15T08:00:00Z");
    }
}
