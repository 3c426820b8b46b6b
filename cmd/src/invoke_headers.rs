//! What an invoke's request headers say (spec §2): the invocation type,
//! the client context (base64 JSON, at most Lambda's 3,583 bytes), the log
//! type, the trace and tenant ids, each refused with Lambda's error when
//! it is not valid. Pure functions of the headers (but for a new trace
//! id), shared by the front door and its fuzz target.

use crate::body::{FailedEnd, Framing};
use crate::invoke_error::InvokeError;
use crate::invoke_http::{new_trace_id, CLIENT_CONTEXT_LIMIT, EVENT_REQUEST_LIMIT, REQUEST_LIMIT};
use base64::Engine as _;
use http::HeaderName;

pub(crate) const TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
const INVOCATION_TYPE: HeaderName = HeaderName::from_static("x-amz-invocation-type");
const CLIENT_CONTEXT: HeaderName = HeaderName::from_static("x-amz-client-context");
const LOG_TYPE: HeaderName = HeaderName::from_static("x-amz-log-type");
const TENANT_ID: HeaderName = HeaderName::from_static("x-amz-tenant-id");

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

impl InvocationType {
    /// The largest payload an invoke of this type may carry.
    pub fn body_limit(self) -> u64 {
        match self {
            InvocationType::Event => EVENT_REQUEST_LIMIT,
            _ => REQUEST_LIMIT,
        }
    }
}

/// What an invoke's request headers say (spec §2).
#[derive(Debug)]
pub struct InvokeHeaders {
    pub invocation_type: InvocationType,
    /// The decoded client context, compact JSON (always a valid header value).
    pub client_context: Option<String>,
    /// `X-Amz-Log-Type: Tail` on a synchronous invoke.
    pub log_tail: bool,
    /// The caller's trace header, or a new trace id.
    pub trace_id: String,
    pub tenant_id: Option<String>,
    /// How a raw stream that fails midway ends for this caller.
    pub failed_end: FailedEnd,
}

/// Reads an invoke's headers for the operation `framing` names. A pure
/// function of the headers (but for a new trace id), shared by the front
/// door and its fuzz target.
pub fn parse_headers(
    framing: Framing,
    headers: &http::HeaderMap,
) -> Result<InvokeHeaders, InvokeError> {
    let header = |name: &HeaderName, spelled| lambda_header(headers, name, spelled);
    let invocation_type = match header(&INVOCATION_TYPE, "X-Amz-Invocation-Type")?.as_deref() {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        // InvokeWithResponseStream has no asynchronous form.
        Some("Event") if framing == Framing::Raw => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(InvokeError::InvocationType {
                value: other.to_owned(),
                allowed: match framing {
                    Framing::Raw => "Event, RequestResponse, DryRun",
                    Framing::EventStream => "RequestResponse, DryRun",
                },
            })
        }
    };
    let client_context = header(&CLIENT_CONTEXT, "X-Amz-Client-Context")?
        .map(|encoded| decode_client_context(&encoded))
        .transpose()?;
    let log_tail = match header(&LOG_TYPE, "X-Amz-Log-Type")?.as_deref() {
        None | Some("None") => false,
        // The log tail is for synchronous invokes only.
        Some("Tail") => !matches!(invocation_type, InvocationType::Event),
        Some(other) => {
            return Err(InvokeError::LogType {
                value: other.to_owned(),
            })
        }
    };
    // An empty trace header carries no trace: a W3C traceparent's, else a
    // new one.
    let trace_id = header(&TRACE_ID, "X-Amzn-Trace-Id")?
        .filter(|v| !v.trim().is_empty())
        .or_else(|| crate::trace_context::from_headers(headers))
        .unwrap_or_else(new_trace_id);
    let tenant_id = header(&TENANT_ID, "X-Amz-Tenant-Id")?;
    Ok(InvokeHeaders {
        invocation_type,
        client_context,
        log_tail,
        trace_id,
        tenant_id,
        failed_end: FailedEnd::for_request(headers),
    })
}

/// A Lambda request header as text: absent is `None`; a value that is not
/// UTF-8 is refused (naming the header as Lambda spells it, `spelled`)
/// rather than taken for absent.
fn lambda_header(
    headers: &http::HeaderMap,
    name: &HeaderName,
    spelled: &'static str,
) -> Result<Option<String>, InvokeError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => Ok(Some(text.to_owned())),
        Err(_) => Err(InvokeError::HeaderNotUtf8 { name: spelled }),
    }
}

/// Decodes `X-Amz-Client-Context`: base64 of a JSON object, at most
/// [`CLIENT_CONTEXT_LIMIT`] bytes of it (a larger one would reach the
/// runtime as a header its client may refuse to read).
pub fn decode_client_context(encoded: &str) -> Result<String, InvokeError> {
    if encoded.len() > CLIENT_CONTEXT_LIMIT {
        return Err(InvokeError::ClientContextTooLarge {
            size: encoded.len(),
            limit: CLIENT_CONTEXT_LIMIT,
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| InvokeError::ClientContext)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| InvokeError::ClientContext)?;
    if !value.is_object() {
        return Err(InvokeError::ClientContext);
    }
    // Compact, so that it has no line breaks, and with DEL escaped: JSON
    // escapes the other control characters itself, and a header value may
    // hold none of them (the runtime's `next` would leave the header out).
    // A DEL can only be inside a string, where `\u007f` means the same.
    Ok(value.to_string().replace('\u{7f}', "\\u007f"))
}
