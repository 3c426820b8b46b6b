//! Routing and parsing of the Extensions API requests.

use crate::{EventKind, ExtensionApiError, ExtensionsEngine};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use uuid::Uuid;

const PREFIX: &str = "/2020-01-01/extension/";
const NAME_HEADER: &str = "lambda-extension-name";
const ID_HEADER: &str = "lambda-extension-identifier";
const FEATURE_HEADER: &str = "lambda-extension-accept-feature";
const ERROR_TYPE_HEADER: &str = "lambda-extension-function-error-type";
const EVENT_ID_HEADER: &str = "lambda-extension-event-identifier";
/// Registration and error bodies are small; anything bigger is refused.
const BODY_LIMIT: u64 = 1024 * 1024;

/// A parsed `register` call.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationRequest {
    pub name: String,
    pub events: Vec<EventKind>,
    /// `Lambda-Extension-Accept-Feature: accountId`.
    pub accept_account_id: bool,
}

/// What `register` answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub id: Uuid,
    pub function_name: String,
    pub function_version: String,
    pub handler: String,
    /// Present when the extension accepted the `accountId` feature.
    pub account_id: Option<String>,
}

#[derive(serde::Deserialize)]
struct RegisterBody {
    #[serde(default)]
    events: Vec<String>,
}

/// Serves one Extensions API request.
pub async fn handle<E, B>(engine: E, req: Request<B>) -> Response<Full<Bytes>>
where
    E: ExtensionsEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match route(engine, req).await {
        Ok(response) => response,
        Err(err) => wire::json(err.status(), err.body()),
    }
}

async fn route<E, B>(engine: E, req: Request<B>) -> Result<Response<Full<Bytes>>, ExtensionApiError>
where
    E: ExtensionsEngine,
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    match (rest, req.method()) {
        ("register", &Method::POST) => {
            let request = parse_registration(req).await?;
            let registration = engine.register(request).await?;
            Ok(registered(registration))
        }
        ("event/next", &Method::GET) => {
            let id = identifier(&req)?;
            let event = engine.next(id).await?;
            let body = serde_json::to_vec(&event).unwrap_or_default();
            let mut response = wire::json(StatusCode::OK, Bytes::from(body));
            wire::insert_header(
                response.headers_mut(),
                EVENT_ID_HEADER,
                &interop::ids::new_uuid().to_string(),
            );
            Ok(response)
        }
        ("init/error" | "exit/error", &Method::POST) => {
            let id = identifier(&req)?;
            let error_type = extension_error_type(req.headers());
            // The body (error JSON) is only logged by Lambda; read and drop it.
            let _ = wire::read_limited(req.into_body(), BODY_LIMIT).await;
            if rest == "init/error" {
                engine.init_error(id, error_type).await?;
            } else {
                engine.exit_error(id, error_type).await?;
            }
            Ok(wire::accepted())
        }
        _ => Err(ExtensionApiError::NotFound { path }),
    }
}

async fn parse_registration<B>(req: Request<B>) -> Result<RegistrationRequest, ExtensionApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // A nameless registration is refused before its body is read.
    extension_name(req.headers())?;
    let (parts, body) = req.into_parts();
    let body = match wire::read_limited(body, BODY_LIMIT).await {
        Ok(wire::LimitedBody::Complete(body)) => body,
        Ok(wire::LimitedBody::TooLarge { size }) => {
            return Err(ExtensionApiError::InvalidRequestFormat {
                message: format!("the registration body has {size} bytes, more than {BODY_LIMIT}"),
            })
        }
        Err(err) => {
            return Err(ExtensionApiError::InvalidRequestFormat {
                message: format!("cannot read the registration body: {}", err.into()),
            })
        }
    };
    registration(&parts.headers, &body)
}

/// `Lambda-Extension-Name`, trimmed; absent or blank is refused.
fn extension_name(headers: &http::HeaderMap) -> Result<String, ExtensionApiError> {
    let name = headers
        .get(NAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if name.is_empty() {
        return Err(ExtensionApiError::InvalidExtensionName);
    }
    Ok(name.to_owned())
}

/// A `register` call from its headers and its whole body: a pure function,
/// shared by the handler and its fuzz target.
pub fn registration(
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<RegistrationRequest, ExtensionApiError> {
    let name = extension_name(headers)?;
    let accept_account_id = headers
        .get_all(FEATURE_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|feature| feature.trim() == "accountId");
    let parsed: RegisterBody =
        serde_json::from_slice(body).map_err(|err| ExtensionApiError::InvalidRequestFormat {
            message: format!("invalid registration body: {err}"),
        })?;
    let mut events = Vec::new();
    for event in parsed.events {
        let kind = match event.as_str() {
            "INVOKE" => EventKind::Invoke,
            "SHUTDOWN" => EventKind::Shutdown,
            other => {
                return Err(ExtensionApiError::InvalidEventType {
                    message: format!("Unknown event type {other:?}: use INVOKE or SHUTDOWN"),
                })
            }
        };
        if !events.contains(&kind) {
            events.push(kind);
        }
    }
    Ok(RegistrationRequest {
        name,
        events,
        accept_account_id,
    })
}

pub(crate) fn identifier<B>(req: &Request<B>) -> Result<Uuid, ExtensionApiError> {
    extension_identifier(req.headers())
}

/// `Lambda-Extension-Identifier` as a UUID.
pub fn extension_identifier(headers: &http::HeaderMap) -> Result<Uuid, ExtensionApiError> {
    let value = headers
        .get(ID_HEADER)
        .ok_or(ExtensionApiError::MissingIdentifier)?;
    let text = value.to_str().unwrap_or_default();
    Uuid::parse_str(text.trim()).map_err(|_| ExtensionApiError::InvalidIdentifier {
        value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
    })
}

/// `Lambda-Extension-Function-Error-Type` of an init or exit error, empty
/// when absent or not text.
pub fn extension_error_type(headers: &http::HeaderMap) -> String {
    headers
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn registered(r: Registration) -> Response<Full<Bytes>> {
    let mut body = serde_json::json!({
        "functionName": r.function_name,
        "functionVersion": r.function_version,
        "handler": r.handler,
    });
    if let Some(account_id) = r.account_id {
        body["accountId"] = account_id.into();
    }
    let mut response = wire::json(StatusCode::OK, Bytes::from(body.to_string()));
    wire::insert_header(response.headers_mut(), ID_HEADER, &r.id.to_string());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], body: &'static str) -> Request<Full<Bytes>> {
        let mut builder = Request::post("/2020-01-01/extension/register");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    }

    #[tokio::test]
    async fn parses_a_registration() {
        let req = request(
            &[(NAME_HEADER, "agent"), (FEATURE_HEADER, "accountId")],
            r#"{"events":["INVOKE","SHUTDOWN","INVOKE"]}"#,
        );
        let parsed = parse_registration(req).await.unwrap();
        assert_eq!(parsed.name, "agent");
        assert_eq!(parsed.events, vec![EventKind::Invoke, EventKind::Shutdown]);
        assert!(parsed.accept_account_id);
    }

    #[tokio::test]
    async fn registration_errors() {
        let err = parse_registration(request(&[], "{}")).await.unwrap_err();
        assert_eq!(err.error_type(), "Extension.InvalidExtensionName");
        let err = parse_registration(request(&[(NAME_HEADER, "a")], "{not json"))
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "InvalidRequestFormat");
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        let err = parse_registration(request(&[(NAME_HEADER, "a")], r#"{"events":["BOOT"]}"#))
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "Extension.InvalidEventType");
    }

    #[test]
    fn identifiers() {
        let missing = Request::get("/").body(()).unwrap();
        assert_eq!(
            identifier(&missing),
            Err(ExtensionApiError::MissingIdentifier)
        );
        let bad = Request::get("/")
            .header(ID_HEADER, "nope")
            .body(())
            .unwrap();
        assert_eq!(
            identifier(&bad).unwrap_err().error_type(),
            "Extension.InvalidExtensionIdentifier"
        );
        let id = interop::ids::new_uuid();
        let good = Request::get("/")
            .header(ID_HEADER, id.to_string())
            .body(())
            .unwrap();
        assert_eq!(identifier(&good), Ok(id));
    }
}
