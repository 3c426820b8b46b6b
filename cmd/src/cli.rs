//! The command line, compatible with aws-lambda-rie's.

use crate::durations::{parse_drain_flag, parse_idle_timeout, MAX_SECONDS};
use clap::Parser;

/// rapid: runs a Lambda function's runtime the way Lambda does, and serves
/// the Invoke API for it. A drop-in replacement for aws-lambda-rie.
///
/// Example: rapid python3 -m awslambdaric app.handler
#[derive(Debug, Parser)]
#[command(
    name = "rapid",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("RAPID_COMMIT"), ")"),
    about,
    long_about = None
)]
pub struct Cli {
    /// Address of the invoke API (POST /2015-03-31/functions/function/invocations).
    /// Default 0.0.0.0:8080, or 0.0.0.0:$PORT when PORT is set (Knative's
    /// and Cloud Run's contract: then every other path on it is web
    /// traffic for the function).
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "RAPID_RUNTIME_INTERFACE_EMULATOR_ADDRESS"
    )]
    pub runtime_interface_emulator_address: Option<String>,

    /// Address of the Runtime API the function's runtime talks to (its
    /// AWS_LAMBDA_RUNTIME_API).
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:9001",
        env = "RAPID_RUNTIME_API_ADDRESS"
    )]
    pub runtime_api_address: String,

    /// rapid's own log level on stderr: trace, debug, info, warn, error
    /// (default info). Like aws-lambda-rie, LOG_LEVEL is read when neither
    /// the flag nor RAPID_LOG_LEVEL is given.
    #[arg(long, value_name = "LEVEL", env = "RAPID_LOG_LEVEL")]
    pub log_level: Option<String>,

    /// Init caching (SnapStart): the runtime gets
    /// AWS_LAMBDA_INITIALIZATION_TYPE=snap-start and may end its init in
    /// `restore/next`; a restore (/test/restore, else the first invoke)
    /// runs its after-restore hooks. Credentials are served on the
    /// AWS_CONTAINER_CREDENTIALS_FULL_URI endpoint instead of the
    /// environment.
    #[arg(long, env = "RAPID_ENABLE_INIT_CACHING")]
    pub enable_init_caching: bool,

    /// Serve the `/test/*` control API beside the front door (README,
    /// "The control API"), to
    /// callers on this machine (a loopback address) only: it lets a caller
    /// shut rapid down.
    #[arg(long, env = "RAPID_TEST_API")]
    pub test_api: bool,

    /// Also serve the control API on this address, to any caller who can
    /// reach it (implies --test-api).
    #[arg(long, value_name = "HOST:PORT", env = "RAPID_TEST_API_ADDRESS")]
    pub test_api_address: Option<String>,

    /// Seconds a caller of the front door has to send a request's headers
    /// (an idle keep-alive connection gets as long for its next request);
    /// then the connection is closed, so that a slow or silent caller holds
    /// no connection for long. 1 to 86400 (a day).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=MAX_SECONDS),
        env = "RAPID_REQUEST_HEADER_TIMEOUT"
    )]
    pub request_header_timeout: u64,

    /// Also serve web traffic on this address: every request, at any path,
    /// becomes a function URL event for the function, and its result the
    /// HTTP answer (the front door serves the same at
    /// /lambda-url/<function>/<path>).
    #[arg(long, value_name = "HOST:PORT", env = "RAPID_HTTP_ADDRESS")]
    pub http_address: Option<String>,

    /// How web requests invoke the function, as a function URL's invoke
    /// mode: BUFFERED (the result read whole, then mapped to an answer) or
    /// RESPONSE_STREAM (the answer goes out as the function streams it).
    #[arg(
        long,
        value_name = "MODE",
        default_value = "BUFFERED",
        env = "RAPID_HTTP_INVOKE_MODE"
    )]
    pub http_invoke_mode: http_events::InvokeMode,

    /// The event web requests become: 2.0 (function URLs, HTTP APIs) or
    /// 1.0 (API Gateway REST APIs, the default of apig-wsgi and many
    /// Express adapters).
    #[arg(
        long,
        value_name = "VERSION",
        default_value = "2.0",
        env = "RAPID_HTTP_PAYLOAD_VERSION"
    )]
    pub http_payload_version: http_events::PayloadVersion,

    /// Start the runtime at once instead of on the first invoke.
    #[arg(long, env = "RAPID_EAGER_INIT")]
    pub eager_init: bool,

    /// Seconds the runtime has to become ready (its first `next`), 1 to
    /// 86400 (a day).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=MAX_SECONDS),
        env = "RAPID_INIT_TIMEOUT"
    )]
    pub init_timeout: u64,

    /// Largest streamed response in bytes (Lambda's limit: 200 MB).
    #[arg(long, value_name = "BYTES", default_value_t = rapid::config::DEFAULT_MAX_STREAM_BYTES, env = "RAPID_MAX_STREAM_BYTES")]
    pub max_stream_bytes: u64,

    /// Shape streamed responses as Lambda does: the first 6 MB at full
    /// speed, then 2 MB/s.
    #[arg(long, env = "RAPID_RESPONSE_BANDWIDTH")]
    pub response_bandwidth: bool,

    /// How many accepted `Event` (asynchronous) invokes may wait for the
    /// runtime; past it an Event invoke is refused with 429.
    #[arg(long, value_name = "N", default_value_t = crate::front_door::DEFAULT_MAX_QUEUED_EVENTS, env = "RAPID_MAX_QUEUED_EVENTS")]
    pub max_queued_events: usize,

    /// How long an execution environment may stay idle before it is shut
    /// down as Lambda retires one (SHUTDOWN with reason spindown to
    /// extensions, then the shutdown budget); the next invoke starts a new
    /// one. Seconds, or a duration like 90s, 10m, 500ms, up to a day
    /// (86400 s); 0 = never.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_idle_timeout, env = "RAPID_IDLE_TIMEOUT")]
    pub idle_timeout: std::time::Duration,

    /// How many execution environments may run at once, each with its own
    /// runtime, extensions and Runtime API address, one invoke at a time
    /// each: an invoke goes to an idle one, another is started while fewer
    /// run, and past the limit invokes wait (up to --max-queued).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1024), env = "RAPID_MAX_SANDBOXES")]
    pub max_sandboxes: u64,

    /// Do not freeze the execution environment between invokes. By default,
    /// as in Lambda, once the runtime and every extension wait for their
    /// next event their processes are frozen (the environment's cgroup v2
    /// freezer where rapid can make one, else SIGSTOP to their process
    /// groups), and thawed before the next event is handed out, so
    /// background work does not run between invokes.
    #[arg(long, env = "RAPID_NO_FREEZE")]
    pub no_freeze: bool,

    /// How many execution environments are kept however long they are idle
    /// (default 0, or 1 with --eager-init).
    #[arg(long, value_name = "N", env = "RAPID_MIN_SANDBOXES")]
    pub min_sandboxes: Option<usize>,

    /// How many synchronous invokes may wait for the execution environment
    /// beside the one running; past it an invoke is refused with 429
    /// TooManyRequestsException (Reason ConcurrentInvocationLimitExceeded),
    /// as Lambda does at its concurrency limit.
    #[arg(long, value_name = "N", default_value_t = crate::front_door::DEFAULT_MAX_QUEUED, env = "RAPID_MAX_QUEUED")]
    pub max_queued: usize,

    /// Directory of external extensions: every executable file in it is
    /// started before the runtime.
    #[arg(long, value_name = "DIR", default_value = rapid::config::DEFAULT_EXTENSIONS_DIR, env = "RAPID_EXTENSIONS_DIR")]
    pub extensions_dir: std::path::PathBuf,

    /// Write every execution environment's lifecycle (init, invokes,
    /// freezes, resets, shutdown) to FILE as it happens, in the Chrome /
    /// Perfetto trace event format; `rapid timeline FILE -o page.html`
    /// draws it.
    #[arg(long, value_name = "FILE", env = "RAPID_TIMELINE")]
    pub timeline: Option<std::path::PathBuf>,

    /// Export every execution environment's lifecycle (init, invokes with
    /// their response spans) as OpenTelemetry spans, OTLP/HTTP protobuf,
    /// to URL/v1/traces (URL a base, as OTEL_EXPORTER_OTLP_ENDPOINT is).
    /// Without it, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
    /// OTEL_EXPORTER_OTLP_ENDPOINT is used when set.
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// On SIGTERM, how long invokes are still served after readiness
    /// starts failing, for the orchestrator to stop sending them; then new
    /// ones are refused with 503 (seconds or a duration; default 5s when
    /// PORT is set, else 0).
    #[arg(long, value_name = "DURATION", value_parser = parse_drain_flag, env = "RAPID_DRAIN_DELAY")]
    pub drain_delay: Option<std::time::Duration>,

    /// On SIGTERM, how long invokes in flight may take to finish once new
    /// ones are refused, before Lambda's shutdown (default: the function
    /// timeout when PORT is set, else 0). Both drain flags 0: the shutdown
    /// starts at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_drain_flag, env = "RAPID_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<std::time::Duration>,

    /// Serve rapid's metrics (Prometheus / OpenMetrics text, GET /metrics)
    /// on this address: invocations by outcome, cold starts, init and
    /// invoke durations, invokes in flight, queue depth. Off by default.
    #[arg(long, value_name = "HOST:PORT", env = "RAPID_METRICS_ADDRESS")]
    pub metrics_address: Option<String>,

    // Many functions (README, "Many functions").
    /// Run every function of this SAM / CloudFormation template
    /// (AWS::Serverless::Function, AWS::Lambda::Function), each invoked by
    /// its name: POST /2015-03-31/functions/NAME/invocations.
    #[arg(long, value_name = "FILE", env = "RAPID_TEMPLATE", conflicts_with_all = ["functions", "command"])]
    pub template: Option<std::path::PathBuf>,

    /// Run every function in DIR: each subdirectory is one, named after it,
    /// with its executable bootstrap or a function.json of the template's
    /// properties (Runtime, Handler, Timeout, ...).
    #[arg(
        long,
        value_name = "DIR",
        env = "RAPID_FUNCTIONS",
        conflicts_with = "command"
    )]
    pub functions: Option<std::path::PathBuf>,

    /// With --template or --functions: how to start RUNTIME (exact, or a
    /// prefix ending in '*'), e.g. 'python3.*=/opt/py/bin/python -m
    /// awslambdaric'; the handler replaces {handler}, else is appended.
    /// May be given more than once.
    #[arg(long, value_name = "RUNTIME=COMMAND")]
    pub runtime_command: Vec<crate::functions::runtime::RuntimeCommand>,

    /// With --template or --functions: when a file under a function's
    /// CodeUri changes, retire its environments (idle ones at once, busy
    /// ones after their invoke), so the next invoke runs the new code.
    #[arg(long, env = "RAPID_WATCH")]
    pub watch: bool,

    /// For stepping through a handler in a debugger: the invoke and init
    /// deadlines are suspended (each becomes a day), said once in the log.
    #[arg(long, env = "RAPID_NO_TIMEOUTS")]
    pub no_timeouts: bool,

    /// With --template or --functions: at most N execution environments
    /// for all functions together. When an invoke needs a new one and N
    /// run, the idle environment of another function used least recently
    /// is retired for it; when none is idle, the invoke waits.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), env = "RAPID_MAX_ENVIRONMENTS")]
    pub max_environments: Option<u64>,

    /// With --template or --functions: Event invokes' retry delays (1 and
    /// 2 minutes, as Lambda) and maximum event age are multiplied by this
    /// (e.g. 0.01 for tests).
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0, value_parser = parse_scale, env = "RAPID_ASYNC_BACKOFF_SCALE")]
    pub async_backoff_scale: f64,

    /// With --template or --functions: where Event invokes' records go
    /// when their destination is not a function of this rapid (one JSON
    /// line each), and the events not delivered at shutdown.
    #[arg(long, value_name = "FILE", env = "RAPID_ASYNC_DESTINATIONS_FILE")]
    pub async_destinations_file: Option<std::path::PathBuf>,

    /// The runtime's command and arguments; the last of two or more is the
    /// handler. Without it, /var/task/bootstrap, /opt/bootstrap or
    /// /var/runtime/bootstrap is run. A flag rapid does not know is refused,
    /// not taken for the command: a command that starts with '-' goes after
    /// `--`.
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// What `--no-timeouts` makes the invoke and init deadlines: a day, long
/// past any debugging session, and within every clock rapid keeps.
pub const SUSPENDED_DEADLINE: std::time::Duration = std::time::Duration::from_secs(86_400);

/// `--async-backoff-scale`: a factor from 0.0001 to 1000.
fn parse_scale(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(f) if (0.0001..=1000.0).contains(&f) => Ok(f),
        _ => Err(format!("{value:?} is not a factor from 0.0001 to 1000")),
    }
}

impl Cli {
    /// What clap cannot check alone: the flags that contradict each other.
    pub fn check(&self) -> Result<(), String> {
        let many = self.template.is_some() || self.functions.is_some();
        if many && self.http_address.is_some() {
            return Err("--http-address serves one function; it is not supported with --template or --functions (use /lambda-url/<function>/ for web traffic)".into());
        }
        if many && (self.drain_delay.is_some() || self.drain_timeout.is_some()) {
            return Err("--drain-delay and --drain-timeout serve one function (a replica's); they are not supported with --template or --functions".into());
        }
        if !many && !self.runtime_command.is_empty() {
            return Err("--runtime-command goes with --template or --functions".into());
        }
        if !many && self.max_environments.is_some() {
            return Err("--max-environments goes with --template or --functions (with one function, --max-sandboxes caps its environments)".into());
        }
        if !many && self.watch {
            return Err(
                "--watch goes with --template or --functions (it watches each function's CodeUri)"
                    .into(),
            );
        }
        if let Some(min) = self
            .min_sandboxes
            .filter(|min| *min as u64 > self.max_sandboxes)
        {
            return Err(format!(
                "--min-sandboxes {min} is more than --max-sandboxes {}: rapid cannot keep more execution environments than may run at once",
                self.max_sandboxes
            ));
        }
        Ok(())
    }

    /// What the command line sets in every function's configuration: the
    /// stream limits, idle timeout, `--no-timeouts`, freezing (never with
    /// multi-concurrency: Lambda Managed Instances run continuously), the
    /// extensions directory and init caching.
    pub fn apply_to(&self, config: &mut rapid::FunctionConfig) {
        config.max_stream_bytes = self.max_stream_bytes;
        config.throttle_streams = self.response_bandwidth;
        config.idle_timeout = self.idle_timeout();
        self.apply_no_timeouts(config);
        config.freeze = !self.no_freeze && config.max_concurrency.is_none();
        config.extensions_dir = Some(self.extensions_dir.clone());
        if self.enable_init_caching {
            config.enable_init_caching();
        }
    }

    /// `--no-timeouts` applied to a function's configuration.
    pub fn apply_no_timeouts(&self, config: &mut rapid::FunctionConfig) {
        if self.no_timeouts {
            config.timeout = SUSPENDED_DEADLINE;
            config.init_timeout = SUSPENDED_DEADLINE;
        }
    }

    /// The idle timeout of the execution environment `index` (0 is the
    /// first): none for the first `--min-sandboxes` (1 with `--eager-init`),
    /// which are kept, or when 0.
    pub fn idle_timeout_of(&self, index: usize) -> Option<std::time::Duration> {
        let min = self.min_sandboxes.unwrap_or(usize::from(self.eager_init));
        (index >= min && !self.idle_timeout.is_zero()).then_some(self.idle_timeout)
    }

    /// The idle timeout of the first execution environment.
    pub fn idle_timeout(&self) -> Option<std::time::Duration> {
        self.idle_timeout_of(0)
    }
}

/// The log level: the flag (or RAPID_LOG_LEVEL), else a valid LOG_LEVEL,
/// else info. A LOG_LEVEL rapid cannot read is the function's business
/// (it is passed on to the runtime) and is not an error here.
pub fn resolve_level(flag: Option<&str>, env: Option<&str>) -> Result<tracing::Level, String> {
    match (flag, env) {
        (Some(flag), _) => tracing_level(flag),
        (None, Some(env)) => Ok(tracing_level(env).unwrap_or(tracing::Level::INFO)),
        (None, None) => Ok(tracing::Level::INFO),
    }
}

/// Maps aws-lambda-rie's level names onto tracing's.
pub fn tracing_level(level: &str) -> Result<tracing::Level, String> {
    match level.to_ascii_lowercase().as_str() {
        "trace" => Ok(tracing::Level::TRACE),
        "debug" => Ok(tracing::Level::DEBUG),
        "info" => Ok(tracing::Level::INFO),
        "warn" | "warning" => Ok(tracing::Level::WARN),
        "error" | "fatal" | "panic" => Ok(tracing::Level::ERROR),
        other => Err(format!(
            "invalid --log-level {other:?}: use trace, debug, info, warn or error"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rapid ARGS...` parsed.
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut all = vec!["rapid"];
        all.extend(args);
        Cli::try_parse_from(all)
    }

    #[test]
    fn command_keeps_its_own_flags() {
        let cli = Cli::try_parse_from([
            "rapid",
            "--runtime-api-address",
            "127.0.0.1:0",
            "python3",
            "-m",
            "awslambdaric",
            "app.handler",
        ])
        .unwrap();
        assert_eq!(cli.runtime_api_address, "127.0.0.1:0");
        assert_eq!(
            cli.command,
            ["python3", "-m", "awslambdaric", "app.handler"]
        );
        assert_eq!(cli.runtime_interface_emulator_address, None);
        assert_eq!(cli.test_api_address, None, "the control API is off");
        assert!(!cli.test_api);
        assert_eq!(cli.request_header_timeout, 30);
        assert!(Cli::try_parse_from(["rapid", "--request-header-timeout", "0"]).is_err());
    }

    #[test]
    fn an_unknown_flag_is_not_the_command() {
        // A mistyped flag ran as the function's bootstrap.
        for args in [
            &["rapid", "--max-sandbox", "4", "./bootstrap"][..],
            &[
                "rapid",
                "--bogus",
                "python3",
                "-m",
                "awslambdaric",
                "app.handler",
            ],
            &["rapid", "--bogus"],
        ] {
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{args:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&format!("unexpected argument '{}'", args[1])),
                "{text}"
            );
            assert!(text.contains(&format!("use '-- {}'", args[1])), "{text}");
        }
        // After the command, or after `--`, everything is the command's.
        let cli = Cli::try_parse_from(["rapid", "python3", "app.py", "--bogus", "-x"]).unwrap();
        assert_eq!(cli.command, ["python3", "app.py", "--bogus", "-x"]);
        let cli = Cli::try_parse_from(["rapid", "--", "--odd-name", "-x"]).unwrap();
        assert_eq!(cli.command, ["--odd-name", "-x"]);
    }

    #[test]
    fn more_kept_sandboxes_than_may_run_is_refused() {
        let check = |args: &[&str]| {
            let mut all = vec!["rapid"];
            all.extend(args);
            Cli::try_parse_from(all).unwrap().check()
        };
        assert_eq!(
            check(&["--min-sandboxes", "3", "--max-sandboxes", "2"]),
            Err("--min-sandboxes 3 is more than --max-sandboxes 2: rapid cannot keep more execution environments than may run at once".to_owned())
        );
        assert!(
            check(&["--min-sandboxes", "2"]).is_err(),
            "the default max is 1"
        );
        assert_eq!(
            check(&["--min-sandboxes", "2", "--max-sandboxes", "2"]),
            Ok(())
        );
        assert_eq!(check(&["--min-sandboxes", "1"]), Ok(()));
        assert_eq!(check(&["--eager-init"]), Ok(()));
        assert_eq!(check(&[]), Ok(()));
    }

    #[test]
    fn level_sources() {
        assert_eq!(resolve_level(None, None), Ok(tracing::Level::INFO));
        assert_eq!(
            resolve_level(None, Some("debug")),
            Ok(tracing::Level::DEBUG)
        );
        assert_eq!(
            resolve_level(None, Some("chatty")),
            Ok(tracing::Level::INFO)
        );
        assert_eq!(
            resolve_level(Some("error"), Some("debug")),
            Ok(tracing::Level::ERROR)
        );
        assert!(resolve_level(Some("chatty"), None).is_err());
    }

    #[test]
    fn idle_timeouts() {
        let parse = |args: &[&str]| {
            let mut all = vec!["rapid"];
            all.extend(args);
            Cli::try_parse_from(all).map(|cli| cli.idle_timeout())
        };
        use std::time::Duration;
        assert_eq!(parse(&[]).unwrap(), Some(Duration::from_secs(600)));
        assert_eq!(
            parse(&["--idle-timeout", "90"]).unwrap(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse(&["--idle-timeout", "500ms"]).unwrap(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse(&["--idle-timeout", "0"]).unwrap(), None);
        assert_eq!(parse(&["--eager-init"]).unwrap(), None);
        assert_eq!(
            parse(&["--eager-init", "--min-sandboxes", "0"]).unwrap(),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse(&["--min-sandboxes", "1"]).unwrap(), None);
        assert!(parse(&["--idle-timeout", "soon"]).is_err());
        let cli =
            Cli::try_parse_from(["rapid", "--min-sandboxes", "2", "--max-sandboxes", "4"]).unwrap();
        assert_eq!(cli.idle_timeout_of(1), None);
        assert_eq!(cli.idle_timeout_of(2), Some(Duration::from_secs(600)));
        assert!(Cli::try_parse_from(["rapid", "--max-sandboxes", "0"]).is_err());
    }

    #[test]
    fn timeouts_past_a_day_are_refused() {
        for flag in [
            "--init-timeout",
            "--request-header-timeout",
            "--idle-timeout",
        ] {
            let cli = parse(&[flag, "86400"]).unwrap_or_else(|e| panic!("{flag}: {e}"));
            assert_eq!(
                (
                    cli.init_timeout,
                    cli.request_header_timeout,
                    cli.idle_timeout
                ),
                match flag {
                    "--init-timeout" => (86400, 30, std::time::Duration::from_secs(600)),
                    "--request-header-timeout" => (10, 86400, std::time::Duration::from_secs(600)),
                    _ => (10, 30, std::time::Duration::from_secs(86400)),
                }
            );
            // Each of these once panicked rapid (an instant past the clock).
            for value in ["86401", "9223372036854775807", "18446744073709551615"] {
                let err = parse(&[flag, value]).unwrap_err().to_string();
                assert!(
                    err.contains(flag) && err.contains(value),
                    "{flag} {value}: {err}"
                );
                assert!(err.contains("86400"), "the range is named: {err}");
            }
        }
        assert!(parse(&["--init-timeout", "0"]).is_err());
        assert!(parse(&["--idle-timeout", "2d"]).is_err());
        assert!(parse(&["--idle-timeout", "0"]).is_ok());
    }

    #[test]
    fn max_environments_goes_with_many_functions_and_is_at_least_one() {
        let one = parse(&["--max-environments", "3", "./bootstrap"]).expect("parses");
        let err = one.check().unwrap_err();
        assert!(
            err.contains("--max-environments goes with --template"),
            "{err}"
        );
        let many = parse(&["--max-environments", "3", "--functions", "fns"]).expect("parses");
        assert_eq!(many.max_environments, Some(3));
        many.check().expect("with --functions");
        assert!(parse(&["--max-environments", "0", "--functions", "fns"]).is_err());
    }

    #[test]
    fn levels() {
        assert_eq!(tracing_level("DEBUG"), Ok(tracing::Level::DEBUG));
        assert!(tracing_level("loud").is_err());
    }
}
