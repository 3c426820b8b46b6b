//! What the sandbox runs and with which environment (spec §1).

use interop::contract::InitRequest;
use interop::restore::Credentials;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the bootstrap is looked for when no command is given, in order.
pub const BOOTSTRAP_PATHS: [&str; 3] = [
    "/var/task/bootstrap",
    "/opt/bootstrap",
    "/var/runtime/bootstrap",
];

/// rapid's fake account id, the one aws-lambda-rie uses.
pub const ACCOUNT_ID: &str = "012345678912";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{name} must be a whole number, got {value:?}")]
    NotANumber { name: &'static str, value: String },
    #[error("{name} must be at least {min}, got {value}")]
    TooSmall {
        name: &'static str,
        value: u64,
        min: u64,
    },
    #[error("{name} must be from {min} to {max}{unit}, got {value}")]
    OutOfRange {
        name: &'static str,
        value: u64,
        min: u64,
        max: u64,
        /// What the figures are, and whose range it is.
        unit: &'static str,
    },
}

/// Lambda's function timeout: 1 to 900 seconds.
pub const FUNCTION_TIMEOUT_SECONDS: std::ops::RangeInclusive<u64> = 1..=900;

/// Lambda's function memory: 128 to 10,240 MB.
pub const FUNCTION_MEMORY_MB: std::ops::RangeInclusive<u64> = 128..=10_240;

/// The runtime's command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Bootstrap {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
}

/// No command was given and none of [`BOOTSTRAP_PATHS`] exists; the
/// message is Lambda's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Couldn't find valid bootstrap(s): [{}]", BOOTSTRAP_PATHS.join(" "))]
pub struct NoBootstrap;

/// Everything about the function that does not change while rapid runs.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub function_name: String,
    pub function_version: String,
    pub memory_size_mb: u64,
    pub timeout: Duration,
    pub init_timeout: Duration,
    pub region: String,
    /// The bootstrap, or why there is none (the init then fails with
    /// `Runtime.InvalidEntrypoint`).
    pub bootstrap: Result<Bootstrap, NoBootstrap>,
    pub handler: String,
    pub function_arn: Arc<str>,
    /// The runtime's environment, except `AWS_LAMBDA_RUNTIME_API` (set at spawn).
    pub environment: Vec<(String, String)>,
    /// Largest streamed response (200 MB, as in Lambda).
    pub max_stream_bytes: u64,
    /// Shape streamed responses like Lambda: 6 MB at full speed, then 2 MB/s.
    pub throttle_streams: bool,
    /// How long the sandbox may stay idle before it is shut down the way
    /// Lambda retires an execution environment (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Freeze the sandbox's processes between invokes, as Lambda does
    /// (`--no-freeze` turns it off).
    pub freeze: bool,
    /// Where external extensions are found (every executable file in it).
    pub extensions_dir: Option<PathBuf>,
    /// Init caching (SnapStart, `--enable-init-caching`): the credentials of
    /// the init, served on the credentials endpoint instead of being in the
    /// environment. `None` without init caching.
    pub init_caching: Option<Credentials>,
    /// `AWS_LAMBDA_MAX_CONCURRENCY` (Lambda Managed Instances, spec §9):
    /// the runtime may hold up to this many invokes at once. `None`: one
    /// invoke at a time, as in Lambda (default).
    pub max_concurrency: Option<u32>,
}

/// Where Lambda puts external extensions.
pub const DEFAULT_EXTENSIONS_DIR: &str = "/opt/extensions";

/// Lambda's streamed-response limit.
pub const DEFAULT_MAX_STREAM_BYTES: u64 = 200 * 1024 * 1024;

impl FunctionConfig {
    /// Builds the configuration from rapid's environment and its trailing
    /// command-line arguments.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
        command: Vec<String>,
        init_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let get = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();

        let function_name = get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or("test_function".into());
        let function_version = get("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or("$LATEST".into());
        let memory_size_mb = number(&get, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 3008, 1)?;
        if !FUNCTION_MEMORY_MB.contains(&memory_size_mb) {
            return Err(ConfigError::OutOfRange {
                name: "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                value: memory_size_mb,
                min: *FUNCTION_MEMORY_MB.start(),
                max: *FUNCTION_MEMORY_MB.end(),
                unit: " MB (Lambda's range)",
            });
        }
        let timeout_secs = number(&get, "AWS_LAMBDA_FUNCTION_TIMEOUT", 300, 0)?;
        if !FUNCTION_TIMEOUT_SECONDS.contains(&timeout_secs) {
            return Err(ConfigError::OutOfRange {
                name: "AWS_LAMBDA_FUNCTION_TIMEOUT",
                value: timeout_secs,
                min: *FUNCTION_TIMEOUT_SECONDS.start(),
                max: *FUNCTION_TIMEOUT_SECONDS.end(),
                unit: " seconds (Lambda's range)",
            });
        }
        let max_concurrency = get("AWS_LAMBDA_MAX_CONCURRENCY")
            .map(|_| number(&get, "AWS_LAMBDA_MAX_CONCURRENCY", 1, 1))
            .transpose()?
            .map(|k| u32::try_from(k).unwrap_or(u32::MAX));
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .unwrap_or("us-east-1".into());
        let default_region = get("AWS_DEFAULT_REGION").unwrap_or(region.clone());
        let handler = if command.len() >= 2 {
            command.last().cloned().unwrap_or_default()
        } else {
            get("AWS_LAMBDA_FUNCTION_HANDLER")
                .or_else(|| get("_HANDLER"))
                .unwrap_or_default()
        };
        let bootstrap = find_bootstrap(command);
        let function_arn: Arc<str> =
            format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}").into();

        // Defaults first, then rapid's own environment (the customer's
        // variables win), then what rapid decides.
        let mut env: BTreeMap<String, String> = [
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function_name}"),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "$LATEST".to_owned()),
            ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), function_name.clone());
        env.insert(
            "AWS_LAMBDA_FUNCTION_VERSION".into(),
            function_version.clone(),
        );
        env.insert(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            memory_size_mb.to_string(),
        );
        env.insert("AWS_REGION".into(), region.clone());
        env.insert("AWS_DEFAULT_REGION".into(), default_region);
        if !handler.is_empty() {
            env.insert("_HANDLER".into(), handler.clone());
        }
        env.remove("AWS_LAMBDA_RUNTIME_API");

        Ok(FunctionConfig {
            function_name,
            function_version,
            memory_size_mb,
            timeout: Duration::from_secs(timeout_secs),
            init_timeout,
            region,
            bootstrap,
            handler,
            function_arn,
            environment: env.into_iter().collect(),
            max_stream_bytes: DEFAULT_MAX_STREAM_BYTES,
            throttle_streams: false,
            idle_timeout: None,
            freeze: true,
            extensions_dir: Some(PathBuf::from(DEFAULT_EXTENSIONS_DIR)),
            init_caching: None,
            max_concurrency,
        })
    }

    /// Turns on init caching (SnapStart), as Lambda sets up a SnapStart
    /// function: `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`, and the static
    /// credentials leave the environment for the credentials endpoint (the
    /// engine adds `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN` at spawn).
    pub fn enable_init_caching(&mut self) {
        let mut credentials = Credentials::default();
        let mut kept = Vec::with_capacity(self.environment.len());
        for (name, value) in self.environment.drain(..) {
            match name.as_str() {
                "AWS_ACCESS_KEY_ID" => credentials.access_key_id = value,
                "AWS_SECRET_ACCESS_KEY" => credentials.secret_access_key = value,
                "AWS_SESSION_TOKEN" => credentials.session_token = value,
                "AWS_LAMBDA_INITIALIZATION_TYPE" => {}
                _ => kept.push((name, value)),
            }
        }
        kept.push((
            "AWS_LAMBDA_INITIALIZATION_TYPE".to_owned(),
            "snap-start".to_owned(),
        ));
        kept.sort();
        self.environment = kept;
        self.init_caching = Some(credentials);
    }
}

impl FunctionConfig {
    /// This configuration with what an init request (the control API's
    /// `/test/init`) says about the function: its name, version, timeout
    /// and handler, the customer's variables (added to the environment;
    /// the variables rapid decides still win) and the credentials.
    pub fn with_init(&self, request: &InitRequest) -> FunctionConfig {
        let mut cfg = self.clone();
        let mut env: BTreeMap<String, String> = self.environment.iter().cloned().collect();
        env.extend(request.environment.iter().cloned());
        if let Some(name) = &request.function_name {
            cfg.function_name = name.clone();
            cfg.function_arn =
                format!("arn:aws:lambda:{}:{ACCOUNT_ID}:function:{name}", cfg.region).into();
            env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), name.clone());
            env.insert(
                "AWS_LAMBDA_LOG_GROUP_NAME".into(),
                format!("/aws/lambda/{name}"),
            );
        }
        if let Some(version) = &request.function_version {
            cfg.function_version = version.clone();
            env.insert("AWS_LAMBDA_FUNCTION_VERSION".into(), version.clone());
        }
        if let Some(timeout) = request.invoke_timeout {
            cfg.timeout = timeout;
        }
        if let Some(handler) = request.handler.as_ref().filter(|h| !h.is_empty()) {
            cfg.handler = handler.clone();
            env.insert("_HANDLER".into(), handler.clone());
        }
        if let (Some(credentials), Some(served)) = (&request.credentials, &mut cfg.init_caching) {
            // With init caching the credentials endpoint serves them.
            *served = credentials.clone();
        } else if let Some(credentials) = &request.credentials {
            env.insert(
                "AWS_ACCESS_KEY_ID".into(),
                credentials.access_key_id.clone(),
            );
            env.insert(
                "AWS_SECRET_ACCESS_KEY".into(),
                credentials.secret_access_key.clone(),
            );
            env.insert(
                "AWS_SESSION_TOKEN".into(),
                credentials.session_token.clone(),
            );
        }
        env.remove("AWS_LAMBDA_RUNTIME_API");
        cfg.environment = env.into_iter().collect();
        cfg
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    min: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    let value: u64 = raw.trim().parse().map_err(|_| ConfigError::NotANumber {
        name,
        value: raw.clone(),
    })?;
    if value < min {
        return Err(ConfigError::TooSmall { name, value, min });
    }
    Ok(value)
}

fn find_bootstrap(mut command: Vec<String>) -> Result<Bootstrap, NoBootstrap> {
    if !command.is_empty() {
        let program = command.remove(0);
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        return Ok(Bootstrap {
            program,
            args: command,
            cwd,
        });
    }
    match BOOTSTRAP_PATHS.iter().find(|p| Path::new(p).exists()) {
        Some(path) => {
            let task = Path::new("/var/task");
            Ok(Bootstrap {
                program: (*path).to_owned(),
                args: Vec::new(),
                cwd: if task.is_dir() {
                    task.into()
                } else {
                    "/".into()
                },
            })
        }
        None => Err(NoBootstrap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn lookup<'a>(c: &'a FunctionConfig, name: &str) -> Option<&'a str> {
        c.environment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn defaults() {
        let c = FunctionConfig::from_env(vec![], vec!["/bin/fn".into()], Duration::from_secs(10))
            .unwrap();
        assert_eq!(c.function_name, "test_function");
        assert_eq!(c.memory_size_mb, 3008);
        assert_eq!(c.timeout, Duration::from_secs(300));
        assert_eq!(
            &*c.function_arn,
            "arn:aws:lambda:us-east-1:012345678912:function:test_function"
        );
        assert_eq!(lookup(&c, "AWS_REGION"), Some("us-east-1"));
        assert_eq!(lookup(&c, "AWS_DEFAULT_REGION"), Some("us-east-1"));
        assert_eq!(lookup(&c, "TZ"), Some(":UTC"));
        assert_eq!(
            lookup(&c, "AWS_LAMBDA_LOG_GROUP_NAME"),
            Some("/aws/lambda/test_function")
        );
        assert_eq!(lookup(&c, "_HANDLER"), None, "one argument is no handler");
        assert_eq!(c.max_concurrency, None);
    }

    #[test]
    fn max_concurrency_is_read_and_reaches_the_runtime() {
        let c = FunctionConfig::from_env(
            env(&[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]),
            vec!["/bin/fn".into()],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(c.max_concurrency, Some(4));
        assert_eq!(lookup(&c, "AWS_LAMBDA_MAX_CONCURRENCY"), Some("4"));
        for bad in ["0", "four", "-1"] {
            let err = FunctionConfig::from_env(
                env(&[("AWS_LAMBDA_MAX_CONCURRENCY", bad)]),
                vec!["/bin/fn".into()],
                Duration::from_secs(10),
            )
            .expect_err(bad);
            assert!(
                err.to_string().contains("AWS_LAMBDA_MAX_CONCURRENCY"),
                "{err}"
            );
        }
    }

    #[test]
    fn customer_variables_win_except_reserved() {
        let c = FunctionConfig::from_env(
            env(&[
                ("AWS_LAMBDA_FUNCTION_NAME", "f"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("TZ", "Europe/Paris"),
                ("AWS_LAMBDA_RUNTIME_API", "elsewhere:1"),
                ("_HANDLER", "from.env"),
                ("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"),
            ]),
            vec!["python3".into(), "-m".into(), "app.handler".into()],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(lookup(&c, "AWS_REGION"), Some("eu-west-1"));
        assert_eq!(lookup(&c, "TZ"), Some("Europe/Paris"));
        assert_eq!(lookup(&c, "AWS_LAMBDA_RUNTIME_API"), None);
        assert_eq!(lookup(&c, "_HANDLER"), Some("app.handler"));
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(
            &*c.function_arn,
            "arn:aws:lambda:eu-west-1:012345678912:function:f"
        );
        let b = c.bootstrap.unwrap();
        assert_eq!(b.program, "python3");
        assert_eq!(b.args, vec!["-m", "app.handler"]);
    }

    #[test]
    fn init_caching_moves_the_credentials_out_of_the_environment() {
        let mut c = FunctionConfig::from_env(
            env(&[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_SESSION_TOKEN", "session"),
                ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ]),
            vec!["x".into()],
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(lookup(&c, "AWS_ACCESS_KEY_ID"), Some("AKID"));
        assert_eq!(c.init_caching, None);
        c.enable_init_caching();
        assert_eq!(
            lookup(&c, "AWS_LAMBDA_INITIALIZATION_TYPE"),
            Some("snap-start")
        );
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            assert_eq!(lookup(&c, name), None, "{name}");
        }
        let credentials = c.init_caching.unwrap();
        assert_eq!(credentials.access_key_id, "AKID");
        assert_eq!(credentials.secret_access_key, "secret");
        assert_eq!(credentials.session_token, "session");
        assert_eq!(credentials.expiration, None);
    }

    #[test]
    fn bad_numbers_are_named() {
        let err = FunctionConfig::from_env(
            env(&[("AWS_LAMBDA_FUNCTION_TIMEOUT", "soon")]),
            vec!["x".into()],
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "AWS_LAMBDA_FUNCTION_TIMEOUT must be a whole number, got \"soon\""
        );
    }

    #[test]
    fn the_function_timeout_is_lambdas_1_to_900_seconds() {
        let timeout = |value: &str| {
            FunctionConfig::from_env(
                env(&[("AWS_LAMBDA_FUNCTION_TIMEOUT", value)]),
                vec!["x".into()],
                Duration::from_secs(10),
            )
            .map(|c| c.timeout)
        };
        assert_eq!(timeout("1"), Ok(Duration::from_secs(1)));
        assert_eq!(timeout("900"), Ok(Duration::from_secs(900)));
        // Each of these once panicked the engine (an instant past the clock).
        for value in ["0", "901", "9223372036854775807", "18446744073709551615"] {
            let err = timeout(value).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "AWS_LAMBDA_FUNCTION_TIMEOUT must be from 1 to 900 seconds (Lambda's range), got {value}"
                )
            );
        }
    }

    #[test]
    fn the_function_memory_is_lambdas_128_to_10240_mb() {
        let memory = |value: &str| {
            FunctionConfig::from_env(
                env(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", value)]),
                vec!["x".into()],
                Duration::from_secs(10),
            )
            .map(|c| c.memory_size_mb)
        };
        assert_eq!(memory("128"), Ok(128));
        assert_eq!(memory("10240"), Ok(10_240));
        for value in ["127", "10241", "18446744073709551615"] {
            assert_eq!(
                memory(value).unwrap_err().to_string(),
                format!(
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be from 128 to 10240 MB (Lambda's range), got {value}"
                )
            );
        }
    }

    #[test]
    fn an_init_request_names_the_function_and_adds_its_variables() {
        let c = FunctionConfig::from_env(
            env(&[("KEEP", "me"), ("CUSTOMER", "old")]),
            vec!["/bin/fn".into()],
            Duration::from_secs(10),
        )
        .unwrap();
        let request = InitRequest {
            function_name: Some("other".into()),
            function_version: Some("3".into()),
            invoke_timeout: Some(Duration::from_millis(2500)),
            handler: Some("mod.fn".into()),
            environment: vec![
                ("CUSTOMER".into(), "new".into()),
                ("AWS_LAMBDA_RUNTIME_API".into(), "elsewhere:1".into()),
            ],
            credentials: Some(interop::contract::Credentials {
                access_key_id: "AKID".into(),
                secret_access_key: "secret".into(),
                session_token: "token".into(),
                expiration: None,
            }),
        };
        let d = c.with_init(&request);
        assert_eq!(d.function_name, "other");
        assert_eq!(d.function_version, "3");
        assert_eq!(d.timeout, Duration::from_millis(2500));
        assert_eq!(
            &*d.function_arn,
            "arn:aws:lambda:us-east-1:012345678912:function:other"
        );
        for (name, value) in [
            ("AWS_LAMBDA_FUNCTION_NAME", Some("other")),
            ("AWS_LAMBDA_FUNCTION_VERSION", Some("3")),
            ("AWS_LAMBDA_LOG_GROUP_NAME", Some("/aws/lambda/other")),
            ("_HANDLER", Some("mod.fn")),
            ("KEEP", Some("me")),
            ("CUSTOMER", Some("new")),
            ("AWS_ACCESS_KEY_ID", Some("AKID")),
            ("AWS_SECRET_ACCESS_KEY", Some("secret")),
            ("AWS_SESSION_TOKEN", Some("token")),
            ("AWS_LAMBDA_RUNTIME_API", None),
        ] {
            assert_eq!(lookup(&d, name), value, "{name}");
        }
        // An empty request changes nothing.
        let same = c.with_init(&InitRequest::default());
        assert_eq!(same.environment, c.environment);
        assert_eq!(same.timeout, c.timeout);
    }
}
