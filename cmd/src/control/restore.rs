//! `POST /test/restore` (spec §8): restores the sandbox (init caching,
//! SnapStart) with the credentials it is given, and answers how long the
//! runtime's after-restore hooks took.
//!
//! Body: `{awskey, awssecret, awssession, credentialsExpiry,
//! restoreHookTimeoutMs}`, every field optional (no credentials keeps those
//! of the init; no timeout, or 0, is Lambda's 10 seconds). Answers:
//! `200 {"restoreMs": "N"}`; `502 {"restoreMs": "N", "restoreError": T}`
//! when the restore failed (T: the runtime's scrubbed `Runtime.*` type,
//! `Runtime.RestoreHookUserTimeout`, `Runtime.ExitError`...; the sandbox is
//! then reset); `400` without `--enable-init-caching`; `409` during a reset.

use crate::body::DoorBody;
use crate::front_door::FrontDoor;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use interop::restore::{Credentials, RestoreRequest};
use rapid::RestoreFailed;
use std::time::Duration;
use wire::{read_limited, LimitedBody};

/// Largest body read.
const BODY_LIMIT: u64 = 64 * 1024;

/// The body's fields, with RAPID's standalone names.
#[derive(Debug, Default, serde::Deserialize)]
struct Body {
    awskey: Option<String>,
    awssecret: Option<String>,
    awssession: Option<String>,
    #[serde(rename = "credentialsExpiry")]
    credentials_expiry: Option<String>,
    #[serde(rename = "restoreHookTimeoutMs")]
    restore_hook_timeout_ms: Option<u64>,
}

pub async fn restore<B>(door: &FrontDoor, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let request = match read_request(req).await {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    match door.sandbox.restore(request).await {
        Ok(took) => answer(StatusCode::OK, took, None),
        Err(RestoreFailed::Failed {
            error_type,
            duration,
        }) => answer(StatusCode::BAD_GATEWAY, duration, Some(error_type.as_str())),
        Err(RestoreFailed::InitFailed { error_type }) => answer(
            StatusCode::BAD_GATEWAY,
            Duration::ZERO,
            Some(error_type.as_str()),
        ),
        Err(err @ RestoreFailed::Reset) => answer(
            StatusCode::BAD_GATEWAY,
            Duration::ZERO,
            Some(&err.to_string()),
        ),
        Err(err @ RestoreFailed::NotEnabled) => error(
            StatusCode::BAD_REQUEST,
            "Client.InvalidRequest",
            &err.to_string(),
        ),
        Err(err @ RestoreFailed::Resetting) => error(
            StatusCode::CONFLICT,
            "Client.InvalidRequest",
            &err.to_string(),
        ),
        Err(err @ RestoreFailed::ShuttingDown) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sandbox.Gone",
            &err.to_string(),
        ),
    }
}

async fn read_request<B>(req: Request<B>) -> Result<RestoreRequest, String>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let raw = match read_limited(req.into_body(), BODY_LIMIT).await {
        Ok(LimitedBody::Complete(raw)) => raw,
        Ok(LimitedBody::TooLarge { size }) => {
            return Err(format!("the body has {size} bytes, more than {BODY_LIMIT}"))
        }
        Err(_) => return Err("could not read the request body".to_owned()),
    };
    let body: Body = if raw.iter().all(u8::is_ascii_whitespace) {
        Body::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|err| format!("Invalid json {}: {err}", String::from_utf8_lossy(&raw)))?
    };
    parse(body)
}

fn parse(body: Body) -> Result<RestoreRequest, String> {
    let expiration = match body.credentials_expiry.as_deref() {
        None | Some("") => None,
        Some(text) => Some(humantime::parse_rfc3339_weak(text).map_err(|err| {
            format!("credentialsExpiry must be an RFC 3339 time such as 2030-01-01T00:00:00Z, not {text:?}: {err}")
        })?),
    };
    let given = body.awskey.is_some() || body.awssecret.is_some() || body.awssession.is_some();
    let credentials = given.then(|| Credentials {
        access_key_id: body.awskey.unwrap_or_default(),
        secret_access_key: body.awssecret.unwrap_or_default(),
        session_token: body.awssession.unwrap_or_default(),
        expiration,
    });
    Ok(RestoreRequest {
        credentials,
        hook_timeout: body
            .restore_hook_timeout_ms
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis),
    })
}

/// `{"restoreMs": "N"}`, with `restoreError` on failure (RAPID's shape: the
/// milliseconds as a string).
fn answer(status: StatusCode, took: Duration, restore_error: Option<&str>) -> Response<DoorBody> {
    let mut body = serde_json::json!({ "restoreMs": took.as_millis().to_string() });
    if let Some(restore_error) = restore_error {
        body["restoreError"] = restore_error.into();
    }
    json(status, body)
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<DoorBody> {
    let mut response = Response::new(DoorBody::full(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response<DoorBody> {
    json(
        status,
        serde_json::json!({ "errorType": error_type, "errorMessage": message }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_a_restore_request() {
        let body: Body = serde_json::from_str(
            r#"{"awskey":"AKID","awssecret":"s","awssession":"t","credentialsExpiry":"2030-01-01T00:00:00Z","restoreHookTimeoutMs":2500}"#,
        )
        .unwrap();
        let request = parse(body).unwrap();
        let credentials = request.credentials.unwrap();
        assert_eq!(credentials.access_key_id, "AKID");
        assert_eq!(credentials.secret_access_key, "s");
        assert_eq!(credentials.session_token, "t");
        assert_eq!(
            credentials.expiration,
            Some(humantime::parse_rfc3339("2030-01-01T00:00:00Z").unwrap())
        );
        assert_eq!(request.hook_timeout, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn an_empty_body_keeps_the_init_credentials_and_lambda_timeout() {
        let request = parse(Body::default()).unwrap();
        assert_eq!(request, RestoreRequest::default());
        let zero: Body = serde_json::from_str(r#"{"restoreHookTimeoutMs":0}"#).unwrap();
        assert_eq!(parse(zero).unwrap().hook_timeout, None);
    }

    #[test]
    fn a_bad_expiry_is_named() {
        let body: Body =
            serde_json::from_str(r#"{"awskey":"k","credentialsExpiry":"soon"}"#).unwrap();
        let err = parse(body).unwrap_err();
        assert!(err.contains("credentialsExpiry"), "{err}");
    }
}
