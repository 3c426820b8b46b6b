//! The Telemetry API (`PUT /2022-07-01/telemetry`) and the Logs API
//! (`PUT /2020-08-15/logs`), spec §6: parsing and validation of a
//! subscription. Who may subscribe (a registered extension) is the
//! engine's business, asked through [`SubscriptionsEngine`].

use crate::ExtensionApiError;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use interop::subscription::{Api, Buffering, Destination, SchemaVersion, Subscription, Types};
use serde_json::Value;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

pub const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";
pub const LOGS_PATH: &str = "/2020-08-15/logs";
/// A subscription is a few hundred bytes; anything past this is refused.
const BODY_LIMIT: u64 = 64 * 1024;
/// The host name Lambda gives the sandbox itself.
const SANDBOX_HOST: &str = "sandbox.localdomain";

/// What the Telemetry and Logs APIs need from the engine.
pub trait SubscriptionsEngine: Clone + Send + Sync + 'static {
    /// Subscribes the registered extension `id`.
    fn subscribe(
        &self,
        id: uuid::Uuid,
        subscription: Subscription,
    ) -> impl Future<Output = Result<(), SubscribeError>> + Send;
}

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubscribeError {
    /// The body is not a valid subscription (`400 ValidationError`).
    #[error("{message}")]
    Validation { message: String },
    /// Who asked, or when (the Extensions API's errors).
    #[error(transparent)]
    Extension(#[from] ExtensionApiError),
}

impl SubscribeError {
    pub fn error_type(&self) -> &'static str {
        match self {
            SubscribeError::Validation { .. } => "ValidationError",
            SubscribeError::Extension(err) => err.error_type(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            SubscribeError::Validation { .. } => StatusCode::BAD_REQUEST,
            SubscribeError::Extension(err) => err.status(),
        }
    }

    fn body(&self) -> Bytes {
        let body = serde_json::json!({
            "errorMessage": self.to_string(),
            "errorType": self.error_type(),
        });
        Bytes::from(body.to_string())
    }
}

fn invalid(message: impl Into<String>) -> SubscribeError {
    SubscribeError::Validation {
        message: message.into(),
    }
}

/// Serves one `PUT /2022-07-01/telemetry` or `PUT /2020-08-15/logs`.
pub async fn handle_subscription<E, B>(engine: E, req: Request<B>) -> Response<Full<Bytes>>
where
    E: SubscriptionsEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match subscribe(engine, req).await {
        Ok(()) => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"\"OK\"")));
            wire::insert_header(response.headers_mut(), "content-type", "application/json");
            response
        }
        Err(err) => wire::json(err.status(), err.body()),
    }
}

async fn subscribe<E, B>(engine: E, req: Request<B>) -> Result<(), SubscribeError>
where
    E: SubscriptionsEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let telemetry = path == TELEMETRY_PATH;
    if !(telemetry || path == LOGS_PATH) || req.method() != Method::PUT {
        return Err(ExtensionApiError::NotFound {
            path: req.uri().path().to_owned(),
        }
        .into());
    }
    let id = crate::routes::identifier(&req)?;
    let body = match wire::read_limited(req.into_body(), BODY_LIMIT).await {
        Ok(wire::LimitedBody::Complete(body)) => body,
        Ok(wire::LimitedBody::TooLarge { size }) => {
            return Err(invalid(format!(
                "the subscription has {size} bytes, more than {BODY_LIMIT}"
            )))
        }
        Err(err) => {
            return Err(invalid(format!(
                "cannot read the subscription: {}",
                err.into()
            )))
        }
    };
    let subscription = parse(telemetry, &body)?;
    engine.subscribe(id, subscription).await?;
    Ok(())
}

/// Parses and validates a subscription body.
pub fn parse(telemetry: bool, body: &[u8]) -> Result<Subscription, SubscribeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| invalid(format!("the subscription is not JSON: {err}")))?;
    let Value::Object(fields) = value else {
        return Err(invalid("the subscription must be a JSON object"));
    };
    let api = if telemetry {
        let version = fields
            .get("schemaVersion")
            .ok_or_else(|| invalid("schemaVersion is required"))?;
        let parsed = version.as_str().and_then(SchemaVersion::parse);
        Api::Telemetry(parsed.ok_or_else(|| {
            invalid(format!(
                "schemaVersion {version} is not one of 2022-07-01, 2022-12-13, 2025-01-29"
            ))
        })?)
    } else {
        Api::Logs
    };
    Ok(Subscription {
        api,
        types: types(fields.get("types"))?,
        buffering: buffering(fields.get("buffering"))?,
        destination: destination(fields.get("destination"))?,
    })
}

fn types(value: Option<&Value>) -> Result<Types, SubscribeError> {
    let Some(Value::Array(names)) = value else {
        return Err(invalid(
            "types must be an array of platform, function, extension",
        ));
    };
    if names.is_empty() {
        return Err(invalid(
            "types must name at least one of platform, function, extension",
        ));
    }
    let mut types = Types::default();
    for name in names {
        match name.as_str() {
            Some("platform") => types.platform = true,
            Some("function") => types.function = true,
            Some("extension") => types.extension = true,
            _ => {
                return Err(invalid(format!(
                    "unknown type {name}: use platform, function or extension"
                )))
            }
        }
    }
    Ok(types)
}

fn buffering(value: Option<&Value>) -> Result<Buffering, SubscribeError> {
    let mut buffering = Buffering::default();
    let fields = match value {
        None | Some(Value::Null) => return Ok(buffering),
        Some(Value::Object(fields)) => fields,
        Some(other) => return Err(invalid(format!("buffering must be an object, not {other}"))),
    };
    let field = |name: &str, range: std::ops::RangeInclusive<u64>| match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(invalid(format!(
                "buffering.{name} is {value}; it must be an integer from {} to {}",
                range.start(),
                range.end()
            ))),
        },
    };
    if let Some(n) = field("maxItems", Buffering::MAX_ITEMS)? {
        buffering.max_items = n as usize;
    }
    if let Some(n) = field("maxBytes", Buffering::MAX_BYTES)? {
        buffering.max_bytes = n as usize;
    }
    if let Some(n) = field("timeoutMs", Buffering::TIMEOUT_MS)? {
        buffering.timeout = Duration::from_millis(n);
    }
    Ok(buffering)
}

fn destination(value: Option<&Value>) -> Result<Destination, SubscribeError> {
    let Some(Value::Object(fields)) = value else {
        return Err(invalid(
            "destination must be an object with protocol and URI",
        ));
    };
    let uri = fields
        .get("URI")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("destination.URI is required"))?;
    // A CR or LF (or any control character, or a space) cannot be sent in
    // a request line: such a subscription would be accepted and then never
    // delivered to.
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!(
            "destination.URI {uri:?} holds a space or control character"
        )));
    }
    match fields.get("protocol").and_then(Value::as_str) {
        Some("HTTP") => {
            let rest = uri
                .strip_prefix("http://")
                .ok_or_else(|| invalid(format!("destination.URI {uri:?} is not an http:// URI")))?;
            let (authority, path) = match rest.find('/') {
                Some(at) => (&rest[..at], &rest[at..]),
                None => (rest, "/"),
            };
            let address = local_address(authority, uri)?;
            Ok(Destination::Http {
                address,
                host: authority.to_owned(),
                path: path.to_owned(),
            })
        }
        Some("TCP") => {
            let authority = uri.strip_prefix("tcp://").unwrap_or(uri);
            let authority = authority.trim_end_matches('/');
            Ok(Destination::Tcp {
                address: local_address(authority, uri)?,
            })
        }
        _ => Err(invalid("destination.protocol must be HTTP or TCP")),
    }
}

/// `host:port` on this machine: `sandbox.localdomain` (the sandbox itself),
/// `localhost` or a loopback address. Telemetry never leaves the machine.
fn local_address(authority: &str, uri: &str) -> Result<SocketAddr, SubscribeError> {
    let bad = || {
        invalid(format!(
            "destination.URI {uri:?} must name sandbox.localdomain and a port"
        ))
    };
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.eq_ignore_ascii_case(SANDBOX_HOST) || host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        match host.parse::<IpAddr>() {
            Ok(ip) if ip.is_loopback() => ip,
            _ => return Err(bad()),
        }
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Subscription {
        parse(true, body.as_bytes()).unwrap_or_else(|err| panic!("{body}: {err}"))
    }

    fn refused(telemetry: bool, body: &str) -> String {
        match parse(telemetry, body.as_bytes()) {
            Ok(parsed) => panic!("{body} was accepted: {parsed:?}"),
            Err(err) => {
                assert_eq!(err.error_type(), "ValidationError");
                assert_eq!(err.status(), StatusCode::BAD_REQUEST);
                err.to_string()
            }
        }
    }

    #[test]
    fn a_full_subscription() {
        let sub = ok(
            r#"{"schemaVersion":"2022-12-13","types":["platform","function","extension"],
            "buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":100},
            "destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/telemetry"}}"#,
        );
        assert_eq!(sub.api, Api::Telemetry(SchemaVersion::V2022_12_13));
        assert_eq!(sub.types.names(), ["platform", "function", "extension"]);
        assert_eq!(sub.buffering.max_items, 1000);
        assert_eq!(sub.buffering.timeout, Duration::from_millis(100));
        assert_eq!(
            sub.destination,
            Destination::Http {
                address: "127.0.0.1:4243".parse().unwrap(),
                host: "sandbox.localdomain:4243".into(),
                path: "/telemetry".into(),
            }
        );
    }

    #[test]
    fn defaults_and_every_schema_version() {
        for (text, version) in [
            ("2022-07-01", SchemaVersion::V2022_07_01),
            ("2022-12-13", SchemaVersion::V2022_12_13),
            ("2025-01-29", SchemaVersion::V2025_01_29),
        ] {
            let sub = ok(&format!(
                r#"{{"schemaVersion":"{text}","types":["function"],
                "destination":{{"protocol":"TCP","URI":"tcp://sandbox.localdomain:9"}}}}"#
            ));
            assert_eq!(sub.api, Api::Telemetry(version));
            assert_eq!(sub.buffering, Buffering::default());
            assert_eq!(
                sub.destination,
                Destination::Tcp {
                    address: "127.0.0.1:9".parse().unwrap()
                }
            );
        }
        // The Logs API has no schema version of its own to check.
        let logs = parse(
            false,
            br#"{"schemaVersion":"2021-03-18","types":["platform"],
            "destination":{"protocol":"HTTP","URI":"http://127.0.0.1:80"}}"#,
        )
        .unwrap();
        assert_eq!(logs.api, Api::Logs);
    }

    /// Issue 22, item 6: answered `200 "OK"`, then nothing was delivered
    /// and nothing logged.
    #[test]
    fn a_uri_with_a_line_break_or_a_space_is_refused() {
        for uri in [
            // JSON escapes: the URI holds the characters themselves.
            r"http://sandbox.localdomain:4243/a\r\nX-Injected: 1",
            r"http://sandbox.localdomain:4243/\n",
            r"http://sandbox.localdomain:4243\r/",
            r"http://sandbox.localdomain:4243/a b",
            r"http://sandbox.localdomain:4243/\t",
            r"http://sandbox.localdomain:4243/\u0000",
            r"tcp://sandbox.localdomain:4243\n",
        ] {
            let protocol = if uri.starts_with("tcp") {
                "TCP"
            } else {
                "HTTP"
            };
            let body = format!(
                r#"{{"schemaVersion":"2022-12-13","types":["platform"],
                "destination":{{"protocol":"{protocol}","URI":"{uri}"}}}}"#
            );
            let message = refused(true, &body);
            assert!(
                message.contains("space or control character"),
                "{uri}: {message}"
            );
        }
    }

    #[test]
    fn invalid_subscriptions() {
        let dest = r#""destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:1"}"#;
        let cases = [
            "[]".to_owned(),
            "not json".to_owned(),
            format!(r#"{{"types":["platform"],{dest}}}"#),
            format!(r#"{{"schemaVersion":"2020-01-01","types":["platform"],{dest}}}"#),
            format!(r#"{{"schemaVersion":"2022-12-13","types":[],{dest}}}"#),
            format!(r#"{{"schemaVersion":"2022-12-13","types":["logs"],{dest}}}"#),
            format!(r#"{{"schemaVersion":"2022-12-13","types":"platform",{dest}}}"#),
            format!(
                r#"{{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{{"maxItems":999}},{dest}}}"#
            ),
            format!(
                r#"{{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{{"maxBytes":2000000}},{dest}}}"#
            ),
            format!(
                r#"{{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{{"timeoutMs":24}},{dest}}}"#
            ),
            format!(
                r#"{{"schemaVersion":"2022-12-13","types":["platform"],"buffering":{{"timeoutMs":"100"}},{dest}}}"#
            ),
            r#"{"schemaVersion":"2022-12-13","types":["platform"]}"#.to_owned(),
            r#"{"schemaVersion":"2022-12-13","types":["platform"],
               "destination":{"protocol":"UDP","URI":"http://sandbox.localdomain:1"}}"#
                .to_owned(),
            r#"{"schemaVersion":"2022-12-13","types":["platform"],
               "destination":{"protocol":"HTTP","URI":"http://example.com:80/"}}"#
                .to_owned(),
            r#"{"schemaVersion":"2022-12-13","types":["platform"],
               "destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain/"}}"#
                .to_owned(),
            r#"{"schemaVersion":"2022-12-13","types":["platform"],
               "destination":{"protocol":"HTTP","URI":"tcp://sandbox.localdomain:1"}}"#
                .to_owned(),
        ];
        for body in cases {
            let message = refused(true, &body);
            assert!(!message.is_empty(), "{body}");
        }
        assert!(refused(true, "[]").contains("object"));
    }
}
