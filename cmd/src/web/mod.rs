//! Web traffic: plain HTTP requests served as a function URL serves them
//! (spec §12). `handle` is the one entry point: the front door sends it
//! `/lambda-url/<function>/<path…>` (cargo-lambda's path), and the
//! `--http-address` listener every request it gets. A request becomes an
//! HTTP event (`http_events`), runs as a synchronous invoke on the same
//! sandbox (or pool) as the Invoke API's, and the outcome becomes the
//! answer (`reply.rs`). Nothing here reaches the Invoke API's handlers.

mod reply;

use crate::body::{DoorBody, FailedEnd};
use crate::front_door::{FrontDoor, InvokeError};
use crate::invoke_http::{new_request_id, REQUEST_LIMIT, SANDBOX_HEADER};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_events::{HttpRequest, InvokeMode, PayloadVersion, RequestContext};
use interop::{Invoke, InvokeOutcome};
use std::net::SocketAddr;
use std::sync::Arc;
use wire::{read_limited, LimitedBody};

/// The front door's path for function URL requests: `/lambda-url/<function>`
/// then the function URL's own path.
pub const PREFIX: &str = "/lambda-url/";

const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// What serving web traffic needs besides the front door.
pub struct Web {
    pub door: Arc<FrontDoor>,
    /// `--http-invoke-mode`.
    pub mode: InvokeMode,
    /// `--http-payload-version`: the event built and how results are read.
    pub version: PayloadVersion,
    /// The function URL's id (the first label of `domainName`), one per
    /// rapid process.
    pub url_id: String,
    pub region: String,
}

impl Web {
    pub fn new(
        door: Arc<FrontDoor>,
        mode: InvokeMode,
        version: PayloadVersion,
        region: String,
    ) -> Self {
        let id: [u8; 16] = interop::ids::random_bytes();
        let url_id = id.iter().map(|byte| format!("{byte:02x}")).collect();
        Web {
            door,
            mode,
            version,
            url_id,
            region,
        }
    }
}

/// The two ends of the connection a request came on (set by the accept
/// loop as a request extension).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub remote: SocketAddr,
    pub local: SocketAddr,
}

/// Where the function URL's path starts in a request's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mount {
    /// After `/lambda-url/<function>` (the front door).
    LambdaUrl,
    /// At `/`: the whole URL space is the function's (`--http-address`).
    Root,
}

/// Why a request got no event.
#[derive(Debug, thiserror::Error)]
enum WebError {
    #[error("Request must be smaller than {limit} bytes for the InvokeFunction operation")]
    TooLarge { limit: u64 },
    #[error("could not read the request body")]
    BodyRead,
    #[error("no function named in {path} (use /lambda-url/<function>/<path>)")]
    NoFunction { path: String },
    #[error("Rate Exceeded.")]
    Throttled,
    #[error("The execution environment has shut down")]
    Gone,
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::BodyRead => StatusCode::BAD_REQUEST,
            WebError::NoFunction { .. } => StatusCode::NOT_FOUND,
            WebError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            WebError::Gone => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn response(&self) -> Response<DoorBody> {
        let body = serde_json::json!({ "Message": self.to_string() }).to_string();
        let mut response = Response::new(DoorBody::full(Bytes::from(body)));
        *response.status_mut() = self.status();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// Serves one web request: the HTTP event, the invoke, the answer.
pub async fn handle<B>(web: Arc<Web>, req: Request<B>, mount: Mount) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    match serve(&web, req, mount).await {
        Ok(response) => response,
        Err(err) => {
            tracing::info!(%err, "web request refused");
            err.response()
        }
    }
}

async fn serve<B>(web: &Web, req: Request<B>, mount: Mount) -> Result<Response<DoorBody>, WebError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    // The time it waits for a free slot counts against its timeout.
    let accepted = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let path = function_path(parts.uri.path(), mount).ok_or_else(|| WebError::NoFunction {
        path: parts.uri.path().to_owned(),
    })?;
    // Refused before anything runs.
    let body = match read_limited(body, REQUEST_LIMIT).await {
        Ok(LimitedBody::Complete(body)) => body,
        Ok(LimitedBody::TooLarge { .. }) => {
            return Err(WebError::TooLarge {
                limit: REQUEST_LIMIT,
            })
        }
        Err(_) => return Err(WebError::BodyRead),
    };
    let peer = parts.extensions.get::<Peer>().copied();
    let failed_end = FailedEnd::for_request(&parts.headers);
    let mut headers = parts.headers;
    let trace_id = lambda_headers(&mut headers, peer);
    let request = HttpRequest {
        method: parts.method,
        path,
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        body,
        source_ip: peer.map_or(std::net::Ipv4Addr::LOCALHOST.into(), |p| p.remote.ip()),
    };
    let request_id = new_request_id();
    let payload = web.version.event(
        &request,
        &RequestContext {
            request_id: &request_id,
            url_id: &web.url_id,
            region: &web.region,
            time: std::time::SystemTime::now(),
        },
    );
    // Base64 makes a binary body a third larger: the event must fit too.
    if payload.len() as u64 > REQUEST_LIMIT {
        return Err(WebError::TooLarge {
            limit: REQUEST_LIMIT,
        });
    }
    let invoke = Invoke {
        request_id,
        payload,
        client_context: None,
        cognito_identity: None,
        trace_id,
        tenant_id: None,
        log_tail: false,
        restore_duration: None,
        accepted,
    };
    let (outcome, sandbox) = run(&web.door, invoke).await?;
    let request_id = outcome.request_id.clone();
    let mut response = reply::answer(web.mode, web.version, outcome, failed_end).await;
    let headers = response.headers_mut();
    wire::insert_named(headers, REQUEST_ID, &request_id);
    headers.insert(SANDBOX_HEADER, HeaderValue::from(sandbox));
    Ok(response)
}

/// The function URL's path of a request path: the part after
/// `/lambda-url/<function>` (`/` when nothing follows), or all of it.
fn function_path(path: &str, mount: Mount) -> Option<String> {
    match mount {
        Mount::Root => Some(path.to_owned()),
        Mount::LambdaUrl => {
            let rest = path.strip_prefix(PREFIX)?;
            let (function, path) = match rest.find('/') {
                Some(at) => rest.split_at(at),
                None => (rest, "/"),
            };
            (!function.is_empty()).then(|| path.to_owned())
        }
    }
}

/// The headers Lambda adds to a function URL request (`x-forwarded-*`, a
/// trace header when the caller sent none); returns the trace id.
fn lambda_headers(headers: &mut http::HeaderMap, peer: Option<Peer>) -> String {
    // hyper sized the map for the request's own headers: grown once for
    // the four added, not twice.
    headers.reserve(4);
    if let Some(peer) = peer {
        let ip = http_events::address_text(peer.remote.ip());
        let forwarded = match headers.get(&FORWARDED_FOR).map(|v| v.to_str()) {
            Some(Ok(earlier)) => format!("{earlier}, {ip}"),
            _ => ip,
        };
        // The string's own buffer, not a copy.
        if let Ok(forwarded) = HeaderValue::from_maybe_shared(Bytes::from(forwarded)) {
            headers.insert(FORWARDED_FOR, forwarded);
        }
        headers.insert(FORWARDED_PORT, HeaderValue::from(peer.local.port()));
    }
    // rapid serves plain HTTP: a framework that builds absolute URLs
    // (redirects) from this must say http, not Lambda's https.
    headers.insert(FORWARDED_PROTO, HeaderValue::from_static("http"));
    let given = headers
        .get(&TRACE_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .map(str::to_owned);
    let trace_id = given
        .or_else(|| crate::trace_context::from_headers(headers))
        .unwrap_or_else(crate::invoke_http::new_trace_id);
    wire::insert_named(headers, TRACE_ID, &trace_id);
    trace_id
}

/// Runs `invoke` as the front door runs a RequestResponse invoke (the
/// same queue, throttle, pool and slot rules).
async fn run(door: &FrontDoor, invoke: Invoke) -> Result<(InvokeOutcome, usize), WebError> {
    crate::run::run_sync(door, invoke)
        .await
        .map_err(|err| match err {
            InvokeError::Throttled => WebError::Throttled,
            _ => WebError::Gone,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_path_follows_the_function_name() {
        let at = |path| function_path(path, Mount::LambdaUrl);
        assert_eq!(at("/lambda-url/fn/a/b").as_deref(), Some("/a/b"));
        assert_eq!(at("/lambda-url/fn/").as_deref(), Some("/"));
        assert_eq!(at("/lambda-url/fn").as_deref(), Some("/"));
        assert_eq!(at("/lambda-url/fn/a%20b/").as_deref(), Some("/a%20b/"));
        assert_eq!(at("/lambda-url/"), None);
        assert_eq!(at("/lambda-url//x"), None);
        assert_eq!(at("/other"), None);
        assert_eq!(
            function_path("/lambda-url/fn/x", Mount::Root).as_deref(),
            Some("/lambda-url/fn/x")
        );
    }
}
