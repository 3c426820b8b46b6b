//! Many functions in one rapid (spec §14): the set of functions read from a
//! SAM / CloudFormation template (`--template`, `template.rs`) or a
//! directory of functions (`--functions`, `dir.rs`), how each runtime is
//! started (`runtime.rs`), and the Lambda API's routes that name a function
//! (`routes.rs`: Invoke by name or ARN, ListFunctions, GetFunction). Each
//! function runs in its own pool with its own front door; nothing here
//! holds lifecycle state.

pub mod dir;
pub mod events;
pub mod routes;
pub mod runtime;
pub mod template;
pub mod watch;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The account id of every ARN rapid makes (aws-lambda-rie's).
pub const ACCOUNT_ID: &str = "012345678912";

/// SAM's defaults for a function that does not say.
const DEFAULT_MEMORY_MB: u64 = 128;
const DEFAULT_TIMEOUT_S: u64 = 3;

/// One function of the set, as the template or directory declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    /// Where its code is (absolute when the template's path was): the
    /// runtime's working directory.
    pub code_uri: PathBuf,
    pub handler: String,
    /// `provided.al2023`, `python3.12`, …
    pub runtime: String,
    pub memory_mb: u64,
    pub timeout_s: u64,
    pub environment: BTreeMap<String, String>,
    /// `ReservedConcurrentExecutions`: its most environments at once.
    pub reserved_concurrency: Option<u32>,
    pub architectures: Vec<String>,
    pub event_invoke: EventInvoke,
    /// `FunctionUrlConfig.InvokeMode` when the function has a URL.
    pub url_invoke_mode: Option<String>,
}

/// One function of the set with what serves it.
pub struct Entry {
    pub spec: FunctionSpec,
    pub door: std::sync::Arc<crate::front_door::FrontDoor>,
    pub web: std::sync::Arc<crate::web::Web>,
}

/// `FunctionName` as boto3 gives it: `name`, `account:function:name` or
/// `arn:partition:lambda:region:account:function:name`, each optionally
/// `:qualifier`. The name and the qualifier.
pub fn split_function_name(given: &str) -> (&str, Option<&str>) {
    let parts: Vec<&str> = given.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, rest @ ..] => (*name, rest.first()),
        [_, "function", name, rest @ ..] => (*name, rest.first()),
        [name, rest @ ..] => (*name, rest.first()),
        [] => ("", None),
    };
    (name, qualifier.copied())
}

/// `EventInvokeConfig`: what happens to a failed `Event` invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInvoke {
    /// 0 to 2 (default 2).
    pub max_retry_attempts: u32,
    /// 60 to 21,600 seconds (default 21,600).
    pub max_event_age_s: u64,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// The template said something about it.
    pub configured: bool,
}

impl Default for EventInvoke {
    fn default() -> Self {
        EventInvoke {
            max_retry_attempts: 2,
            max_event_age_s: 21_600,
            on_success: None,
            on_failure: None,
            configured: false,
        }
    }
}

/// Why the set of functions could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {err}")]
    Read { path: String, err: String },
    #[error("the template is not valid YAML: {0}")]
    Yaml(String),
    #[error("the template has no Resources")]
    NoResources,
    #[error(
        "the template declares no function (AWS::Serverless::Function or AWS::Lambda::Function)"
    )]
    NoFunctions,
    #[error(
        "{dir} holds no function (a subdirectory with an executable bootstrap or a function.json)"
    )]
    EmptyDir { dir: String },
    #[error("function {function}: {message}")]
    Invalid { function: String, message: String },
    #[error("two functions are named {name}")]
    Duplicate { name: String },
}

/// A function's properties (the template's `Properties`, or a directory
/// function's `function.json`), read into a [`FunctionSpec`].
pub(crate) struct Properties<'a> {
    id: &'a str,
    value: &'a Value,
    /// `AWS::Lambda::Function`: code in `Code`, not `CodeUri`.
    plain_lambda: bool,
}

impl<'a> Properties<'a> {
    pub(crate) fn new(id: &'a str, value: &'a Value, plain_lambda: bool) -> Self {
        Properties {
            id,
            value,
            plain_lambda,
        }
    }

    fn invalid(&self, message: String) -> LoadError {
        LoadError::Invalid {
            function: self.id.to_owned(),
            message,
        }
    }

    fn text(&self, key: &str) -> Result<Option<String>, LoadError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => template::scalar_text(value)
                .map(Some)
                .ok_or_else(|| self.invalid(format!("{key} {value} is not a text rapid can use"))),
        }
    }

    fn number(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, LoadError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        match text.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(self.invalid(format!(
                "{key} must be a whole number from {} to {}, got {text}",
                range.start(),
                range.end()
            ))),
        }
    }

    /// The spec, named `name`, its code relative to `base`.
    pub(crate) fn into_spec(self, name: String, base: &Path) -> Result<FunctionSpec, LoadError> {
        check_name(&name).map_err(|message| self.invalid(message))?;
        if self.text("PackageType")?.as_deref() == Some("Image") {
            return Err(self.invalid(
                "PackageType Image is not supported: rapid runs code from a local directory (CodeUri)".into(),
            ));
        }
        let code_uri = if self.plain_lambda {
            match self.value.get("Code") {
                None => None,
                Some(Value::String(path)) => Some(path.clone()),
                Some(other) => {
                    return Err(self.invalid(format!(
                        "Code {other} is not supported: rapid runs code from a local directory (give Code as a path)"
                    )))
                }
            }
        } else {
            match self.value.get("CodeUri") {
                None => None,
                Some(Value::String(path)) => Some(path.clone()),
                Some(other) => {
                    return Err(self.invalid(format!(
                        "CodeUri {other} is not supported: rapid runs code from a local directory (give CodeUri as a path)"
                    )))
                }
            }
        };
        let code_uri = base.join(code_uri.unwrap_or_else(|| ".".into()));
        let architectures = match self.value.get("Architectures") {
            None => vec![],
            Some(Value::Array(items)) => items.iter().filter_map(template::scalar_text).collect(),
            Some(other) => return Err(self.invalid(format!("Architectures {other} is not a list"))),
        };
        let here = this_architecture();
        if let Some(other) = architectures.iter().find(|a| a.as_str() != here) {
            return Err(self.invalid(format!(
                "Architectures says {other}, but this machine is {here}: rapid runs the function's code natively, so it can only run {here} functions here"
            )));
        }
        let mut environment = BTreeMap::new();
        if let Some(vars) = self.value.pointer("/Environment/Variables") {
            let Some(vars) = vars.as_object() else {
                return Err(self.invalid("Environment.Variables is not a map".into()));
            };
            for (key, value) in vars {
                let text = template::scalar_text(value).unwrap_or_else(|| value.to_string());
                environment.insert(key.clone(), text);
            }
        }
        let reserved = self
            .number("ReservedConcurrentExecutions", 0..=1024)?
            .map(|n| n as u32);
        let url_invoke_mode = self.value.get("FunctionUrlConfig").map(|url| {
            url.get("InvokeMode")
                .and_then(Value::as_str)
                .unwrap_or("BUFFERED")
                .to_owned()
        });
        Ok(FunctionSpec {
            handler: self.text("Handler")?.unwrap_or_default(),
            runtime: self.text("Runtime")?.unwrap_or_default(),
            memory_mb: self
                .number("MemorySize", 128..=10_240)?
                .unwrap_or(DEFAULT_MEMORY_MB),
            timeout_s: self
                .number("Timeout", 1..=900)?
                .unwrap_or(DEFAULT_TIMEOUT_S),
            event_invoke: self.event_invoke()?,
            name,
            code_uri,
            environment,
            reserved_concurrency: reserved,
            architectures,
            url_invoke_mode,
        })
    }

    fn event_invoke(&self) -> Result<EventInvoke, LoadError> {
        let mut config = EventInvoke::default();
        let Some(given) = self.value.get("EventInvokeConfig") else {
            return Ok(config);
        };
        config.configured = true;
        let inner = Properties::new(self.id, given, false);
        if let Some(n) = inner.number("MaximumRetryAttempts", 0..=2)? {
            config.max_retry_attempts = n as u32;
        }
        if let Some(n) = inner.number("MaximumEventAgeInSeconds", 60..=21_600)? {
            config.max_event_age_s = n;
        }
        let destination = |which: &str| {
            given
                .pointer(&format!("/DestinationConfig/{which}/Destination"))
                .and_then(template::scalar_text)
        };
        config.on_success = destination("OnSuccess");
        config.on_failure = destination("OnFailure");
        Ok(config)
    }
}

/// Lambda's name for this machine's architecture.
pub fn this_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

/// Lambda's rule for a function's name: 1 to 64 letters, digits, `-`, `_`.
fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the name {name:?} is not a Lambda function name (1 to 64 letters, digits, '-' or '_')"
        ))
    }
}

/// The set's functions, checked: names unique.
pub fn checked(functions: Vec<FunctionSpec>) -> Result<Vec<FunctionSpec>, LoadError> {
    let mut seen = std::collections::BTreeSet::new();
    for function in &functions {
        if !seen.insert(function.name.as_str()) {
            return Err(LoadError::Duplicate {
                name: function.name.clone(),
            });
        }
    }
    Ok(functions)
}
