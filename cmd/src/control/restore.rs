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
//! A restore with nothing to restore (a second one, one after an invoke)
//! is `200 {"restoreMs": "0"}` at once, RAPID's answer
//! (`lifecycle::on_restore_asked`).

use super::{error, json, read_json, Target};
use crate::body::DoorBody;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use interop::contract::{Credentials, RestoreFailed, RestoreRequest, SandboxContext};
use std::time::Duration;

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

pub(super) async fn restore<B>(t: &Target<'_>, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let request = match read_request(req).await {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    match t.sandbox.restore(request).await {
        Ok(done) => answer(StatusCode::OK, done.restore_duration, None),
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
    let body = serde_json::from_value::<Body>(read_json(req).await?)
        .map_err(|err| format!("Invalid restore request: {err}"))?;
    parse(body)
}

fn parse(body: Body) -> Result<RestoreRequest, String> {
    let credentials = credentials(
        body.awskey,
        body.awssecret,
        body.awssession,
        body.credentials_expiry.as_deref(),
    )?;
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

/// The credentials `awskey`, `awssecret`, `awssession` and
/// `credentialsExpiry` give (`/test/init` and `/test/restore` name them
/// alike); None when none of the three is there.
pub(super) fn credentials(
    key: Option<String>,
    secret: Option<String>,
    session: Option<String>,
    expiry: Option<&str>,
) -> Result<Option<Credentials>, String> {
    let expiration = match expiry {
        None | Some("") => None,
        Some(text) => Some(humantime::parse_rfc3339_weak(text).map_err(|err| {
            format!("credentialsExpiry must be an RFC 3339 time such as 2030-01-01T00:00:00Z, not {text:?}: {err}")
        })?),
    };
    if key.is_none() && secret.is_none() && session.is_none() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        access_key_id: key.unwrap_or_default(),
        secret_access_key: secret.unwrap_or_default(),
        session_token: session.unwrap_or_default(),
        expiration,
    }))
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
