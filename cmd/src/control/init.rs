//! `POST /test/init` and `POST /test/waitUntilInitialized`.

use super::{error, json, phase_refused, read_json, Target};
use crate::body::DoorBody;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use interop::contract::{InitContext, InitRequest, SandboxContext};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The body of `/test/init`, as RAPID's standalone mode reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct InitBody {
    handler: String,
    function_name: String,
    function_version: String,
    invoke_timeout_ms: u64,
    customer: Customer,
    #[serde(rename = "awskey")]
    aws_key: Option<String>,
    #[serde(rename = "awssecret")]
    aws_secret: Option<String>,
    #[serde(rename = "awssession")]
    aws_session: Option<String>,
    credentials_expiry: Option<String>,
    // `runtimeInfo` and `throttled` change nothing in what rapid runs; they
    // are accepted (and ignored) so that existing harnesses work.
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Customer {
    environment: BTreeMap<String, String>,
}

impl InitBody {
    /// The request, or the message naming what is missing.
    fn into_request(self) -> Result<InitRequest, String> {
        if self.function_name.is_empty() {
            return Err("functionName missing".to_owned());
        }
        if self.function_version.is_empty() {
            return Err("functionVersion missing".to_owned());
        }
        if self.invoke_timeout_ms == 0 {
            return Err("invokeTimeoutMs missing".to_owned());
        }
        let credentials = super::restore::credentials(
            self.aws_key,
            self.aws_secret,
            self.aws_session,
            self.credentials_expiry.as_deref(),
        )?;
        Ok(InitRequest {
            function_name: Some(self.function_name),
            function_version: Some(self.function_version),
            invoke_timeout: Some(Duration::from_millis(self.invoke_timeout_ms)),
            handler: Some(self.handler).filter(|h| !h.is_empty()),
            environment: self.customer.environment.into_iter().collect(),
            credentials,
        })
    }
}

/// `POST /test/init`: starts an init with what the body says about the
/// function and answers `200` at once (the init runs in the background;
/// `waitUntilInitialized` waits for it). `400` names a missing field, or
/// says the sandbox is already initialized.
pub(super) async fn init<B>(t: &Target<'_>, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let body = match read_json(req).await {
        Ok(body) => body,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    let request = match serde_json::from_value::<InitBody>(body)
        .map_err(|err| format!("Invalid init request: {err}"))
        .and_then(InitBody::into_request)
    {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    let version = request.function_version.clone();
    match SandboxContext::init(&t.sandbox, request).await {
        Ok(handle) => {
            t.control.set_init(handle);
            if let Some(version) = version {
                t.door.controls().set_version(version);
            }
            json(StatusCode::OK, serde_json::json!({}))
        }
        Err(refused) => phase_refused(refused),
    }
}

/// `POST /test/waitUntilInitialized`: `200` with the internal state once
/// the init succeeded, `502` with the init's error once it failed, `400`
/// when no init was started.
pub(super) async fn wait_until_initialized(t: &Target<'_>) -> Response<DoorBody> {
    let handle = t.control.init_handle(&t.sandbox);
    match handle.wait().await {
        Ok(Ok(_)) => json(StatusCode::OK, t.state().await),
        Ok(Err(failure)) => error(
            StatusCode::BAD_GATEWAY,
            failure.error_type.as_str(),
            &failure.message,
        ),
        Err(refused) => phase_refused(refused),
    }
}
