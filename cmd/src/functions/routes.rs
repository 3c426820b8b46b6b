//! The Lambda API's routes that name a function, for a rapid running many
//! (spec §14): Invoke and InvokeWithResponseStream by name, partial or full
//! ARN (with `:$LATEST` or `?Qualifier=$LATEST`), ListFunctions,
//! GetFunction and GetFunctionConfiguration, and `/lambda-url/<function>/`.
//! A request is sent on to its function's own front door; an unknown
//! function is Lambda's `404 ResourceNotFoundException`.

use super::events::{Events, Targets};
use super::{split_function_name, Entry, FunctionSpec, ACCOUNT_ID};
use crate::body::DoorBody;
use crate::front_door::{self, Access, FrontDoor};
use crate::web::{self, Mount};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const FUNCTIONS: &str = "/2015-03-31/functions";
const STREAM_FUNCTIONS: &str = "/2021-11-15/functions/";
const LATEST: &str = "$LATEST";

/// Every function of the set, by name.
pub struct Functions {
    entries: BTreeMap<String, Entry>,
    /// The first by name: the control API's.
    first: Arc<FrontDoor>,
    region: String,
    /// When the set was read (every function's `LastModified`).
    loaded: String,
    /// Asynchronous invocation as Lambda does it (retries, destinations).
    events: Option<Arc<Events>>,
    /// Who knows every environment's processes (their pids in the
    /// control API's list).
    supervisor: Option<rapid::Supervisor>,
    /// `--max-environments`.
    cap: Option<rapid::pool::Cap>,
}

impl Functions {
    /// The set; `None` when it is empty.
    pub fn new(
        entries: Vec<Entry>,
        region: String,
        events: Option<Arc<Events>>,
        supervisor: Option<rapid::Supervisor>,
        cap: Option<rapid::pool::Cap>,
    ) -> Option<Functions> {
        let entries: BTreeMap<String, Entry> = entries
            .into_iter()
            .map(|entry| (entry.spec.name.clone(), entry))
            .collect();
        let first = entries.values().next()?.door.clone();
        Some(Functions {
            entries,
            first,
            region,
            loaded: lambda_timestamp(std::time::SystemTime::now()),
            events,
            supervisor,
            cap,
        })
    }

    /// Every function's front door, by name.
    pub fn doors(&self) -> impl Iterator<Item = (&str, &Arc<FrontDoor>)> {
        self.entries
            .iter()
            .map(|(name, e)| (name.as_str(), &e.door))
    }

    fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{ACCOUNT_ID}:function:{name}",
            self.region
        )
    }

    /// The function a request's `FunctionName` names: a name, a partial or
    /// full ARN, with an optional qualifier (only `$LATEST` exists here).
    /// `function` (aws-lambda-rie's name) names the only function of a set
    /// of one. `Err`: the ARN Lambda's 404 names.
    fn find(&self, given: &str, query_qualifier: Option<&str>) -> Result<&Entry, String> {
        let (name, qualifier) = split_function_name(given);
        let qualifier = qualifier.or(query_qualifier);
        let not_found = || match qualifier {
            Some(q) => format!("{}:{q}", self.arn(name)),
            None => self.arn(name),
        };
        if qualifier.is_some_and(|q| q != LATEST) {
            return Err(not_found());
        }
        match self.entries.get(name) {
            Some(entry) => Ok(entry),
            None if name == "function" && self.entries.len() == 1 => {
                self.entries.values().next().ok_or_else(not_found)
            }
            None => Err(not_found()),
        }
    }

    /// A FunctionConfiguration in Lambda's shape.
    fn configuration(&self, spec: &FunctionSpec) -> Value {
        let architectures = match spec.architectures.is_empty() {
            true => vec![super::this_architecture().to_owned()],
            false => spec.architectures.clone(),
        };
        let mut config = json!({
            "FunctionName": spec.name,
            "FunctionArn": self.arn(&spec.name),
            "Runtime": spec.runtime,
            "Role": format!("arn:aws:iam::{ACCOUNT_ID}:role/rapid"),
            "Handler": spec.handler,
            "CodeSize": 0,
            "Description": "",
            "Timeout": spec.timeout_s,
            "MemorySize": spec.memory_mb,
            "LastModified": self.loaded,
            "CodeSha256": "",
            "Version": LATEST,
            "Environment": { "Variables": spec.environment },
            "TracingConfig": { "Mode": "PassThrough" },
            "PackageType": "Zip",
            "Architectures": architectures,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "EphemeralStorage": { "Size": 512 },
        });
        if spec.runtime.is_empty() {
            config["Runtime"] = "provided.al2023".into();
        }
        config
    }
}

/// Events run in the functions of the set, and name them as destinations.
impl Targets for Functions {
    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    fn arn_of(&self, name: &str) -> String {
        self.arn(name)
    }

    fn events(&self) -> Option<&Arc<Events>> {
        self.events.as_ref()
    }
}

/// Serves one request of the front door's listener for a set of functions.
pub async fn handle<B>(
    functions: Arc<Functions>,
    req: Request<B>,
    access: Access,
) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let qualifier = query_value(&query, "Qualifier");
    if access.invokes {
        if let Some(rest) = path.strip_prefix(web::PREFIX) {
            let name = rest.split('/').next().unwrap_or("");
            return match functions.find(&percent_decode(name), None) {
                Ok(entry) => web::handle(entry.web.clone(), req, Mount::LambdaUrl).await,
                Err(arn) => not_found(&arn),
            };
        }
        let named = path
            .strip_prefix(FUNCTIONS)
            .map(|rest| rest.trim_start_matches('/'))
            .map(|rest| (rest.split('/').collect::<Vec<_>>(), false))
            .or_else(|| {
                path.strip_prefix(STREAM_FUNCTIONS)
                    .map(|rest| (rest.split('/').collect(), true))
            });
        if let Some((parts, streaming)) = named {
            let method = req.method().clone();
            let name = percent_decode(parts[0]);
            match (&method, parts.as_slice(), streaming) {
                (&Method::GET, [""], false) => return list(&functions),
                (&Method::GET, [_], false) | (&Method::GET, [_, "configuration"], false) => {
                    return match functions.find(&name, qualifier.as_deref()) {
                        Ok(entry) => get(&functions, entry, parts.len() == 1),
                        Err(arn) => not_found(&arn),
                    };
                }
                (&Method::POST, [_, "invocations"], false)
                | (&Method::POST, [_, "response-streaming-invocations"], true) => {
                    let entry = match functions.find(&name, qualifier.as_deref()) {
                        Ok(entry) => entry,
                        Err(arn) => return not_found(&arn),
                    };
                    let event = req
                        .headers()
                        .get("x-amz-invocation-type")
                        .is_some_and(|v| v.as_bytes() == b"Event");
                    return match (&functions.events, event && !streaming) {
                        (Some(events), true) => {
                            let name = entry.spec.name.clone();
                            let door = entry.door.clone();
                            event_invoke(&functions, events, name, &door, req).await
                        }
                        _ => front_door::handle(entry.door.clone(), req, access).await,
                    };
                }
                _ => {}
            }
        }
    }
    if access.control {
        match (req.method(), path.as_str()) {
            (&Method::GET, "/test/environments") => return environments(&functions),
            (&Method::POST, "/test/evict") => {
                let name = query_value(&query, "function").unwrap_or_default();
                return evict(&functions, &name);
            }
            _ => {}
        }
    }
    // The rest of the control API acts on the function its `function`
    // parameter names (else the first by name), and the front door's own
    // answer to anything else.
    if access.control && path.starts_with("/test/") {
        if let Some(name) = query_value(&query, "function") {
            return match functions.find(&name, None) {
                Ok(entry) => front_door::handle(entry.door.clone(), req, access).await,
                Err(arn) => not_found(&arn),
            };
        }
    }
    front_door::handle(functions.first.clone(), req, access).await
}

/// An `Event` invoke: read and checked as the front door does, counted
/// against the function's queue of events (429 past it), answered 202,
/// then run by [`Events`].
async fn event_invoke<B>(
    functions: &Arc<Functions>,
    events: &Arc<Events>,
    name: String,
    door: &FrontDoor,
    req: Request<B>,
) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let payload =
        match front_door::read_payload(req.into_body(), crate::invoke_http::EVENT_REQUEST_LIMIT)
            .await
        {
            Ok(payload) => payload,
            Err(err) => return err.response(),
        };
    let Ok(permit) = door.queued_events.clone().try_acquire_owned() else {
        return front_door::InvokeError::Throttled.response();
    };
    let request_id = interop::ids::new_uuid().hyphenated().to_string();
    events.accept(functions, name, request_id.clone(), payload, permit);
    let mut response = Response::new(DoorBody::full(Bytes::new()));
    *response.status_mut() = StatusCode::ACCEPTED;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), value);
    }
    response
}

/// The control API's list of every function's environments.
fn environments(functions: &Functions) -> Response<DoorBody> {
    let now = std::time::Instant::now();
    let mut all = Vec::new();
    for (name, entry) in &functions.entries {
        let Some(pool) = &entry.door.pool else {
            continue;
        };
        for slot in pool.slots() {
            let pids = match (&functions.supervisor, slot.processes_owner) {
                (Some(supervisor), Some(owner)) => supervisor.pids_of(owner),
                _ => Vec::new(),
            };
            all.push(json!({
                "function": name,
                "sandbox": slot.index,
                "state": slot.state,
                "pids": pids,
                "invokesServed": slot.invokes_served,
                "lastUsedSecondsAgo": slot.last_used.map(|at| now.duration_since(at).as_secs_f64()),
            }));
        }
    }
    let cap = functions
        .cap
        .as_ref()
        .map(|cap| json!({ "Max": cap.max(), "Used": cap.used() }));
    json_response(
        StatusCode::OK,
        &json!({ "Environments": all, "MaxEnvironments": cap }),
    )
}

/// The control API's eviction of a function's environments: the idle
/// ones now, the busy ones after their invoke.
fn evict(functions: &Functions, name: &str) -> Response<DoorBody> {
    let Ok(entry) = functions.find(name, None) else {
        return not_found(&functions.arn(name));
    };
    let retired = entry.door.pool.as_ref().map_or(0, |pool| pool.retire_all());
    json_response(
        StatusCode::OK,
        &json!({ "function": entry.spec.name, "idleRetired": retired }),
    )
}

fn list(functions: &Functions) -> Response<DoorBody> {
    let all: Vec<Value> = functions
        .entries
        .values()
        .map(|entry| functions.configuration(&entry.spec))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "Functions": all, "NextMarker": null }),
    )
}

fn get(functions: &Functions, entry: &Entry, whole: bool) -> Response<DoorBody> {
    let configuration = functions.configuration(&entry.spec);
    if !whole {
        return json_response(StatusCode::OK, &configuration);
    }
    let mut body = json!({
        "Configuration": configuration,
        "Code": {
            "RepositoryType": "Local",
            "Location": format!("file://{}", entry.spec.code_uri.display()),
        },
    });
    if let Some(reserved) = entry.spec.reserved_concurrency {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": reserved });
    }
    json_response(StatusCode::OK, &body)
}

/// Lambda's answer for a function that does not exist.
fn not_found(arn: &str) -> Response<DoorBody> {
    let body = json!({ "Type": "User", "Message": format!("Function not found: {arn}") });
    let mut response = json_response(StatusCode::NOT_FOUND, &body);
    response.headers_mut().insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static("ResourceNotFoundException"),
    );
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response<DoorBody> {
    let mut response = Response::new(DoorBody::full(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The value of `key` in a query string, percent-decoded.
fn query_value(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

/// `%XX` decoded (boto3 encodes a path label's `:` and `$`); anything not
/// a valid escape is kept as it is.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lambda's `LastModified`: `2019-11-14T18:16:05.568+0000`.
fn lambda_timestamp(at: std::time::SystemTime) -> String {
    let text = humantime::format_rfc3339_millis(at).to_string();
    match text.strip_suffix('Z') {
        Some(stem) => format!("{stem}+0000"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_as_boto3_gives_them() {
        assert_eq!(split_function_name("hello"), ("hello", None));
        assert_eq!(
            split_function_name("hello:$LATEST"),
            ("hello", Some("$LATEST"))
        );
        assert_eq!(
            split_function_name("arn:aws:lambda:us-east-1:012345678912:function:hello"),
            ("hello", None)
        );
        assert_eq!(
            split_function_name("arn:aws-cn:lambda:cn-north-1:1:function:hello:7"),
            ("hello", Some("7"))
        );
        assert_eq!(
            split_function_name("012345678912:function:hello"),
            ("hello", None)
        );
        assert_eq!(
            percent_decode("arn%3Aaws%3A%24LATEST%zz"),
            "arn:aws:$LATEST%zz"
        );
        assert_eq!(
            query_value("a=1&Qualifier=%24LATEST", "Qualifier").as_deref(),
            Some("$LATEST")
        );
        assert!(lambda_timestamp(std::time::UNIX_EPOCH).ends_with("00.000+0000"));
    }
}
