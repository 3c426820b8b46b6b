//! A SAM / CloudFormation template as rapid reads it: the YAML (or JSON)
//! turned into JSON values, CloudFormation's short-form tags (`!Ref X`,
//! `!Sub '…'`, `!GetAtt A.B`, any `!Fn`) turned into their long form
//! (`{"Ref": "X"}`, `{"Fn::Sub": …}`, `{"Fn::GetAtt": ["A", "B"]}`), then
//! the intrinsics that can be worked out on this machine resolved: a
//! parameter's `Default`, the pseudo parameters (`AWS::Region`, …), a
//! function's `Ref` (its name) and `GetAtt …Arn`, `Fn::Sub` and `Fn::Join`
//! over those. Anything else is left as given and named in
//! [`Template::unresolved`].

use super::{FunctionSpec, LoadError, Properties, ACCOUNT_ID};
use saphyr::{LoadableYamlNode, ScalarOwned, YamlOwned};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The functions a template declares, and what could not be resolved.
#[derive(Debug)]
pub struct Template {
    pub functions: Vec<FunctionSpec>,
    /// Each intrinsic left as given: where (`Resources.Fn.Properties…`) and
    /// what (`{"Ref":"Bucket"}`).
    pub unresolved: Vec<String>,
}

/// The two resource types that are functions.
const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";
const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";

/// Reads the template at `path`; code paths are relative to its directory.
pub fn load(path: &Path, region: &str) -> Result<Template, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|err| LoadError::Read {
        path: path.display().to_string(),
        err: err.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base, region)
}

/// Parses a template's text (`base`: the directory code paths are
/// relative to).
pub fn parse(text: &str, base: &Path, region: &str) -> Result<Template, LoadError> {
    let docs = YamlOwned::load_from_str(text).map_err(|err| LoadError::Yaml(err.to_string()))?;
    let Some(doc) = docs.into_iter().next() else {
        return Err(LoadError::Yaml("the template is empty".into()));
    };
    let root = to_json(doc);
    let Some(resources) = root.get("Resources").and_then(Value::as_object) else {
        return Err(LoadError::NoResources);
    };
    let mut context = Context::new(&root, region);
    let globals = root
        .pointer("/Globals/Function")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));

    // First every function's name, so that a function's Ref or GetAtt
    // resolves wherever it appears (another function's destination, an
    // environment variable).
    let mut declared = Vec::new();
    for (logical_id, resource) in resources {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        if kind != SERVERLESS_FUNCTION && kind != LAMBDA_FUNCTION {
            continue;
        }
        let mut properties = resource
            .get("Properties")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        if kind == SERVERLESS_FUNCTION {
            properties = with_globals(&globals, properties);
        }
        let at = format!("Resources.{logical_id}.Properties.FunctionName");
        let name = match properties.get("FunctionName") {
            Some(given) => match context.resolve(given.clone(), &at) {
                Value::String(name) => name,
                other => {
                    return Err(LoadError::Invalid {
                        function: logical_id.clone(),
                        message: format!("FunctionName {other} cannot be resolved locally"),
                    })
                }
            },
            // What `sam local` does: the logical id names the function.
            None => logical_id.clone(),
        };
        context.functions.insert(logical_id.clone(), name.clone());
        declared.push((logical_id.clone(), kind, name, properties));
    }

    let mut functions = Vec::new();
    for (logical_id, kind, name, properties) in declared {
        let at = format!("Resources.{logical_id}.Properties");
        let properties = context.resolve(properties, &at);
        let properties = Properties::new(&logical_id, &properties, kind == LAMBDA_FUNCTION);
        functions.push(properties.into_spec(name, base)?);
    }
    if functions.is_empty() {
        return Err(LoadError::NoFunctions);
    }
    Ok(Template {
        functions,
        unresolved: context.unresolved,
    })
}

/// A SAM function's properties over `Globals.Function`: a property the
/// function sets wins, except `Environment.Variables`, merged by name.
fn with_globals(globals: &Value, properties: Value) -> Value {
    let (Some(globals), Value::Object(mut own)) = (globals.as_object(), properties) else {
        return Value::Object(Map::new());
    };
    for (key, value) in globals {
        match own.get_mut(key) {
            None => {
                own.insert(key.clone(), value.clone());
            }
            Some(mine) if key == "Environment" => {
                let theirs = value.pointer("/Variables").and_then(Value::as_object);
                if let (Some(theirs), Some(Value::Object(vars))) =
                    (theirs, mine.pointer_mut("/Variables"))
                {
                    for (name, value) in theirs {
                        vars.entry(name.clone()).or_insert_with(|| value.clone());
                    }
                }
            }
            Some(_) => {}
        }
    }
    Value::Object(own)
}

/// YAML as JSON, CloudFormation's short-form tags in their long form.
fn to_json(node: YamlOwned) -> Value {
    match node {
        YamlOwned::Value(scalar) => match scalar {
            ScalarOwned::Null => Value::Null,
            ScalarOwned::Boolean(b) => Value::Bool(b),
            ScalarOwned::Integer(i) => Value::from(i),
            ScalarOwned::FloatingPoint(f) => Value::from(f.into_inner()),
            ScalarOwned::String(s) => Value::String(s),
        },
        YamlOwned::Representation(text, _, _) => Value::String(text),
        YamlOwned::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        YamlOwned::Mapping(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, value)| (key_text(key), to_json(value)))
                .collect(),
        ),
        YamlOwned::Tagged(tag, inner) => {
            let inner = to_json(*inner);
            if tag.handle != "!" {
                return inner;
            }
            let (key, inner) = match tag.suffix.as_str() {
                "Ref" => ("Ref".to_owned(), inner),
                "Condition" => ("Condition".to_owned(), inner),
                // `!GetAtt A.B` is `{"Fn::GetAtt": ["A", "B"]}`.
                "GetAtt" => {
                    let inner = match inner {
                        Value::String(dotted) => match dotted.split_once('.') {
                            Some((resource, attribute)) => {
                                serde_json::json!([resource, attribute])
                            }
                            None => Value::String(dotted),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_owned(), inner)
                }
                other => (format!("Fn::{other}"), inner),
            };
            Value::Object(Map::from_iter([(key, inner)]))
        }
        YamlOwned::Alias(_) | YamlOwned::BadValue => Value::Null,
    }
}

fn key_text(key: YamlOwned) -> String {
    match to_json(key) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// What intrinsics resolve to here.
struct Context {
    /// Parameters with a `Default`, and the pseudo parameters.
    refs: BTreeMap<String, String>,
    /// A function's logical id → its name.
    functions: BTreeMap<String, String>,
    region: String,
    unresolved: Vec<String>,
}

impl Context {
    fn new(root: &Value, region: &str) -> Self {
        let mut refs: BTreeMap<String, String> = [
            ("AWS::Region", region),
            ("AWS::AccountId", ACCOUNT_ID),
            ("AWS::Partition", "aws"),
            ("AWS::URLSuffix", "amazonaws.com"),
            ("AWS::StackName", "rapid"),
            (
                "AWS::StackId",
                "arn:aws:cloudformation:local:012345678912:stack/rapid/local",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if let Some(parameters) = root.get("Parameters").and_then(Value::as_object) {
            for (name, parameter) in parameters {
                if let Some(default) = parameter.get("Default").and_then(scalar_text) {
                    refs.insert(name.clone(), default);
                }
            }
        }
        Context {
            refs,
            functions: BTreeMap::new(),
            region: region.to_owned(),
            unresolved: Vec::new(),
        }
    }

    fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{ACCOUNT_ID}:function:{name}",
            self.region
        )
    }

    /// `value` with every intrinsic that resolves here resolved; `at`
    /// says where it is, for the list of those left as given.
    fn resolve(&mut self, value: Value, at: &str) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| self.resolve(item, &format!("{at}[{i}]")))
                    .collect(),
            ),
            Value::Object(map) if map.len() == 1 => {
                let Some((key, arg)) = map.into_iter().next() else {
                    return Value::Null;
                };
                let arg = self.resolve(arg, at);
                match self.intrinsic(&key, &arg) {
                    Some(Some(resolved)) => Value::String(resolved),
                    Some(None) => {
                        let given = Value::Object(Map::from_iter([(key, arg)]));
                        self.unresolved.push(format!("{at}: {given}"));
                        given
                    }
                    None => Value::Object(Map::from_iter([(key, arg)])),
                }
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(key, item)| {
                        let item = self.resolve(item, &format!("{at}.{key}"));
                        (key, item)
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    /// `None`: `key` is no intrinsic. `Some(None)`: an intrinsic that does
    /// not resolve here. `Some(Some(text))`: resolved.
    fn intrinsic(&self, key: &str, arg: &Value) -> Option<Option<String>> {
        let resolved = match key {
            "Ref" => arg.as_str().and_then(|name| self.reference(name)),
            "Fn::GetAtt" => {
                let (resource, attribute) = match arg {
                    Value::Array(parts) if parts.len() == 2 => {
                        (parts[0].as_str(), parts[1].as_str())
                    }
                    _ => (None, None),
                };
                match (resource.and_then(|r| self.functions.get(r)), attribute) {
                    (Some(name), Some("Arn")) => Some(self.arn(name)),
                    _ => None,
                }
            }
            "Fn::Sub" => match arg {
                Value::String(text) => self.substitute(text, &Map::new()),
                Value::Array(parts) if parts.len() == 2 => match (&parts[0], &parts[1]) {
                    (Value::String(text), Value::Object(vars)) => self.substitute(text, vars),
                    _ => None,
                },
                _ => None,
            },
            "Fn::Join" => match arg {
                Value::Array(parts) if parts.len() == 2 => match (&parts[0], &parts[1]) {
                    (Value::String(sep), Value::Array(items)) => items
                        .iter()
                        .map(|item| item.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .map(|items| items.join(sep)),
                    _ => None,
                },
                _ => None,
            },
            _ if key.starts_with("Fn::") => None,
            _ => return None,
        };
        Some(resolved)
    }

    fn reference(&self, name: &str) -> Option<String> {
        self.refs
            .get(name)
            .or_else(|| self.functions.get(name))
            .cloned()
    }

    /// `Fn::Sub`'s `${Name}`, `${Resource.Attribute}` and `${!Literal}`.
    fn substitute(&self, text: &str, vars: &Map<String, Value>) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = vars.get(name) {
                out.push_str(value.as_str()?);
            } else if let Some((resource, attribute)) = name.split_once('.') {
                let arg = serde_json::json!([resource, attribute]);
                out.push_str(&self.intrinsic("Fn::GetAtt", &arg)??);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

/// A scalar as the text CloudFormation would substitute.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Timeout: 7
    MemorySize: 256
    Environment:
      Variables:
        SHARED: from-globals
        STAGE: !Ref Stage
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          REGION: !Sub '${AWS::Region}-${Stage}'
          OTHER: !GetAtt Named.Arn
          BUCKET: !Ref Uploads
          LITERAL: !Sub 'x-${!Kept}'
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure:
            Type: Lambda
            Destination: !GetAtt Named.Arn
  Named:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub '${Stage}-named'
      CodeUri: ./named
      Runtime: provided.al2023
      Handler: bootstrap
      Timeout: 30
      ReservedConcurrentExecutions: 2
  Uploads:
    Type: AWS::S3::Bucket
"#;

    #[test]
    fn short_forms_resolve_where_they_can_and_are_named_where_not() {
        let template = parse(TEMPLATE, Path::new("/app"), "eu-west-1").unwrap();
        let hello = &template.functions[0];
        assert_eq!(hello.name, "Hello");
        assert_eq!(hello.code_uri, Path::new("/app/hello/"));
        assert_eq!((hello.timeout_s, hello.memory_mb), (7, 256));
        let env = &hello.environment;
        assert_eq!(env["SHARED"], "from-globals");
        assert_eq!(env["STAGE"], "dev");
        assert_eq!(env["REGION"], "eu-west-1-dev");
        assert_eq!(
            env["OTHER"],
            "arn:aws:lambda:eu-west-1:012345678912:function:dev-named"
        );
        assert_eq!(env["LITERAL"], "x-${Kept}");
        // A bucket is no function: left as given, and said.
        assert_eq!(env["BUCKET"], r#"{"Ref":"Uploads"}"#);
        assert_eq!(template.unresolved.len(), 1, "{:?}", template.unresolved);
        assert!(template.unresolved[0].contains("BUCKET"));
        assert_eq!(hello.event_invoke.max_retry_attempts, 1);
        assert_eq!(
            hello.event_invoke.on_failure.as_deref(),
            Some("arn:aws:lambda:eu-west-1:012345678912:function:dev-named")
        );
        let named = &template.functions[1];
        assert_eq!(named.name, "dev-named");
        assert_eq!(named.reserved_concurrency, Some(2));
        assert_eq!((named.timeout_s, named.memory_mb), (30, 256));
    }

    #[test]
    fn a_template_without_functions_is_refused() {
        let err = parse(
            "Resources:\n  B:\n    Type: AWS::S3::Bucket\n",
            Path::new("."),
            "r",
        );
        assert!(matches!(err, Err(LoadError::NoFunctions)), "{err:?}");
        let err = parse("Resources: [", Path::new("."), "r");
        assert!(matches!(err, Err(LoadError::Yaml(_))), "{err:?}");
    }

    #[test]
    fn a_foreign_architecture_is_refused() {
        let other = if std::env::consts::ARCH == "x86_64" {
            "arm64"
        } else {
            "x86_64"
        };
        let text = format!(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: provided.al2023\n      Architectures: [{other}]\n"
        );
        let err = parse(&text, Path::new("."), "r").unwrap_err();
        assert!(err.to_string().contains(other), "{err}");
    }
}
