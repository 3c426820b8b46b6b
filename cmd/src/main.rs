//! The `rapid` binary: reads the command line and environment, starts the
//! Runtime API and the invoke front door, and shuts everything down cleanly
//! on SIGTERM / SIGINT (also as a container's PID 1).

mod many;
mod serve;

use clap::Parser;
use interop::contract::SandboxContext;
use rapid::accept::connection_cap;
use rapid::{FunctionConfig, Sandbox, Supervisor};
use rapid_cmd::cli::{self, Cli};
use rapid_cmd::drain::{self, Drain};
use rapid_cmd::front_door::FrontDoor;
use rapid_cmd::probes::{self, Readiness};
use rapid_cmd::replica::{self, FrontDoorAddress};
use rapid_cmd::web::Web;
use serve::{bind, serve_front_door, spawn_metrics, spawn_serving, Listener, Serves};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    // Before anything is allocated: large payloads are given back.
    rapid::supervisor::return_large_buffers();
    if let Some(page) = rapid_cmd::timeline_page::command(std::env::args_os()) {
        return page.run();
    }
    if let Some(probe) = rapid_cmd::probe_command::command(std::env::args_os()) {
        return probe.run();
    }
    let cli = Cli::parse();
    if let Err(message) = cli.check() {
        return fail(&message);
    }
    let log_level_env = std::env::var("LOG_LEVEL").ok();
    let level = match cli::resolve_level(cli.log_level.as_deref(), log_level_env.as_deref()) {
        Ok(level) => level,
        Err(message) => return fail(&message),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if cli.no_timeouts {
        tracing::warn!(
            "--no-timeouts: invoke and init deadlines are suspended (a day each), for a debugger"
        );
    }
    if std::process::id() == 1 {
        // A container's PID 1: the container is the sandbox.
        let hosts = std::path::Path::new("/etc/hosts");
        match rapid_cmd::hosts::ensure_sandbox_host(hosts) {
            Ok(outcome) => tracing::debug!(?outcome, "sandbox.localdomain in /etc/hosts"),
            Err(err) => tracing::warn!(
                %err,
                "cannot add sandbox.localdomain to /etc/hosts: an extension that listens on that name will fail"
            ),
        }
    }
    // Raised before the listeners open; children get the original limit back.
    let nofile = rapid::supervisor::raise_nofile_limit();
    if let Err(err) = interop::ids::check_random_source(rapid::supervisor::kernel_random) {
        return fail(&format!(
            "cannot read random bytes from the kernel (the getrandom system call failed: {err}); request ids need them"
        ));
    }
    if cli.template.is_some() || cli.functions.is_some() {
        // Many functions: each with its own pool and front door (many.rs).
        let max_connections = connection_cap(nofile.unwrap_or(1024));
        return match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => match runtime.block_on(many::run(cli, max_connections)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => fail(&message),
            },
            Err(err) => fail(&format!("cannot start the async runtime: {err}")),
        };
    }
    // Knative's and Cloud Run's contract: PORT, K_SERVICE, K_REVISION.
    let door_at = match replica::front_door_address(
        cli.runtime_interface_emulator_address.as_deref(),
        std::env::var("PORT").ok().as_deref(),
    ) {
        Ok(door_at) => door_at,
        Err(message) => return fail(&message),
    };
    let config = match FunctionConfig::from_env(
        replica::with_knative_names(std::env::vars()),
        cli.command.clone(),
        Duration::from_secs(cli.init_timeout),
    ) {
        Ok(mut config) => {
            cli.apply_to(&mut config);
            if let Err(message) = concurrency_fits(&cli, &config) {
                return fail(&message);
            }
            config
        }
        Err(err) => return fail(&err.to_string()),
    };
    // One thread: an invoke's critical path is a few loopback round trips,
    // and cross-thread wakeups would only add to them.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    let otlp = match otlp_endpoint(&cli) {
        Ok(otlp) => otlp,
        Err(message) => return fail(&message),
    };
    let max_connections = connection_cap(nofile.unwrap_or(1024));
    match runtime.block_on(run(cli, config, door_at, max_connections, otlp)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Multi-concurrency (`AWS_LAMBDA_MAX_CONCURRENCY`) with what it cannot go
/// with: said at start, not found out at the first invoke.
fn concurrency_fits(cli: &Cli, config: &FunctionConfig) -> Result<(), String> {
    let Some(k) = config.max_concurrency else {
        return Ok(());
    };
    if cli.enable_init_caching {
        return Err(format!(
            "AWS_LAMBDA_MAX_CONCURRENCY={k} and --enable-init-caching cannot be used together: Lambda Managed Instances have no SnapStart"
        ));
    }
    Ok(())
}

/// Where the lifecycle's spans go (`--otlp-endpoint`, else the OTLP
/// variables): a bad flag stops rapid; a variable is also the function's,
/// so a bad one only turns the export off.
pub(crate) fn otlp_endpoint(cli: &Cli) -> Result<Option<telemetry::otlp::Endpoint>, String> {
    let var = |name: &str| std::env::var(name).ok();
    match telemetry::otlp::endpoint(cli.otlp_endpoint.as_deref(), var) {
        Ok(endpoint) => Ok(endpoint),
        Err(err) if err.from_flag() => Err(err.to_string()),
        Err(err) => {
            tracing::warn!("{err}: no OTLP export");
            Ok(None)
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("rapid: {message}");
    ExitCode::from(2)
}

async fn run(
    cli: Cli,
    config: FunctionConfig,
    door_at: FrontDoorAddress,
    max_connections: usize,
    otlp: Option<telemetry::otlp::Endpoint>,
) -> Result<(), String> {
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;

    // Every address is bound before anything is said to listen or starts:
    // a port that is taken fails rapid with nothing half started.
    let api_listener = bind(&cli.runtime_api_address, "--runtime-api-address").await?;
    let api_address = api_listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let door_flag = if door_at.replica {
        "PORT"
    } else {
        "--runtime-interface-emulator-address"
    };
    let door_listener = bind(&door_at.address, door_flag).await?;
    let door_address = door_listener.local_addr().map_err(|e| e.to_string())?;
    let control_listener = match &cli.test_api_address {
        Some(address) => Some(bind(address, "--test-api-address").await?),
        None => None,
    };
    let http_listener = match &cli.http_address {
        Some(address) => Some(bind(address, "--http-address").await?),
        None => None,
    };
    let metrics_listener = match &cli.metrics_address {
        Some(address) => Some(bind(address, "--metrics-address").await?),
        None => None,
    };
    // --test-api-address turns the control API on as well.
    let test_api = cli.test_api || cli.test_api_address.is_some();
    // The platform events are kept for the control API's eventLog only.
    let event_log = telemetry::EventLog::new(if test_api {
        telemetry::EVENT_LOG_CAPACITY
    } else {
        0
    });
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").ok();
    let format = telemetry::LogFormat::from_env_value(format.as_deref());
    let timeline = open_timeline(&cli)?;
    let (otlp, exporting) = match otlp {
        Some(endpoint) => {
            eprintln!("rapid: exporting spans to {}", endpoint.url());
            let (otlp, exporting) = telemetry::otlp::Otlp::start(endpoint, otlp_resource(&config));
            (Some(otlp), Some(exporting))
        }
        None => (None, None),
    };
    // What the sandboxes run at once: one invoke each, or K with
    // multi-concurrency; past it, invokes wait in the queue.
    let per_sandbox = config.max_concurrency.unwrap_or(1) as usize;
    let running = (cli.max_sandboxes as usize).saturating_mul(per_sandbox);
    let metrics = metrics_listener.as_ref().map(|_| {
        let permits = cli.max_queued.saturating_add(running);
        rapid_cmd::metrics::Metrics::new(running, permits, cli.eager_init)
    });
    let observers = telemetry::Observers {
        timeline: timeline.as_ref().map(|t| t.recorder(0)),
        spans: otlp.as_ref().map(|o| o.spans()),
        memory: metrics.as_ref().map(|m| m.memory_peaks()),
    };
    let (logs, log_task) =
        telemetry::LogHub::start_recording(std::io::stdout(), event_log.clone(), format, observers);
    let function_version = config.function_version.clone();
    let function_timeout = config.timeout;
    let region = config.region.clone();
    // With multi-concurrency a slot may stay held by a worker still inside
    // a timed-out invoke: an invoke waits for one at most its timeout.
    let slot_wait = config.max_concurrency.map(|_| config.timeout);
    let supervisor =
        Supervisor::start().map_err(|e| format!("cannot install the SIGCHLD handler: {e}"))?;
    let pool_config = config.clone();
    let (sandbox, engine_task) = Sandbox::start_numbered(
        config,
        api_address.clone(),
        logs.clone(),
        &supervisor,
        (cli.max_sandboxes > 1).then_some(0),
    );
    let api_task = tokio::spawn(rapid::serve_runtime_api(api_listener, sandbox.clone()));
    eprintln!("rapid: runtime API listening on {api_address}");
    let mut first = Some((engine_task, api_task, logs, log_task));
    let mut pool = None;
    if let (true, Some((engine_task, api_task, logs, log_task))) = (
        cli.max_sandboxes > 1,
        first.take_if(|_| cli.max_sandboxes > 1),
    ) {
        drop(logs);
        let member = rapid::Member {
            sandbox: sandbox.clone(),
            tasks: vec![engine_task, log_task],
            server: api_task,
        };
        let start = start_sandbox(
            &cli,
            cli.max_sandboxes as usize,
            pool_config,
            supervisor.clone(),
            event_log.clone(),
            format,
            Observing {
                timeline: timeline.clone(),
                otlp: otlp.clone(),
                function: None,
                memory: metrics.as_ref().map(|m| m.memory_peaks()),
            },
        );
        pool = Some(rapid::Pool::new(
            member,
            cli.max_sandboxes as usize,
            per_sandbox,
            start,
        ));
    }

    if cli.eager_init {
        sandbox.init_now().map_err(|e| e.to_string())?;
    }
    let readiness = Readiness::new(cli.eager_init);
    let readiness_task = tokio::spawn(probes::watch(readiness.clone(), sandbox.clone()));
    let stop = Arc::new(tokio::sync::Notify::new());
    let door = Arc::new(FrontDoor {
        sandbox: sandbox.clone(),
        pool: pool.clone(),
        control: Default::default(),
        function_version,
        queued_events: Arc::new(tokio::sync::Semaphore::new(
            cli.max_queued_events
                .min(tokio::sync::Semaphore::MAX_PERMITS),
        )),
        queued_invokes: Arc::new(tokio::sync::Semaphore::new(
            cli.max_queued
                .saturating_add(running)
                .min(tokio::sync::Semaphore::MAX_PERMITS),
        )),
        test_api,
        stop: stop.clone(),
        event_log,
        bursts: Default::default(),
        slot_wait,
        readiness,
        metrics: metrics.clone(),
    });
    let metrics_task = metrics_listener
        .map(|listener| spawn_metrics(listener, vec![door.clone()]))
        .transpose()?;
    let web = Arc::new(Web::new(
        door.clone(),
        cli.http_invoke_mode,
        cli.http_payload_version,
        region,
    ));
    let drain_plan = drain::Plan {
        delay: cli.drain_delay.unwrap_or(if door_at.replica {
            drain::REPLICA_DRAIN_DELAY
        } else {
            Duration::ZERO
        }),
        timeout: cli.drain_timeout.unwrap_or(if door_at.replica {
            function_timeout
        } else {
            Duration::ZERO
        }),
        events: (door.queued_events.clone(), cli.max_queued_events),
    };
    // Requests in flight are counted only when a drain waits for them.
    let drain = (!drain_plan.is_off()).then(|| Arc::new(Drain::default()));
    eprintln!("rapid: invokes listening on {door_address}");
    let header_timeout = Duration::from_secs(cli.request_header_timeout);
    let control_task = control_listener
        .map(|listener| {
            let serving = Listener::control_api(door.clone(), web.clone(), header_timeout, None);
            spawn_serving(listener, "control API", serving)
        })
        .transpose()?;
    let http_task = http_listener
        .map(|listener| {
            let serving = Listener {
                door: door.clone(),
                web: web.clone(),
                max_connections,
                header_timeout,
                drain: drain.clone(),
                serves: Serves::Web,
                functions: None,
            };
            spawn_serving(listener, "web traffic", serving)
        })
        .transpose()?;
    let readiness = door.readiness.clone();
    let front_door = Listener {
        door,
        web,
        max_connections,
        header_timeout,
        drain: drain.clone(),
        serves: if door_at.replica {
            Serves::Replica
        } else {
            Serves::FrontDoor
        },
        functions: None,
    };

    let door_task = tokio::spawn(serve_front_door(door_listener, front_door));
    let drains = tokio::select! {
        _ = stop.notified() => {
            tracing::info!("the control API asked for a shutdown");
            false
        }
        _ = sigterm.recv() => {
            tracing::info!("SIGTERM: shutting down");
            true
        }
        _ = sigint.recv() => {
            tracing::info!("SIGINT: shutting down");
            false
        }
    };
    if let (true, Some(drain)) = (drains, &drain) {
        let again = async {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = sigint.recv() => {}
            }
        };
        drain::run(drain, &readiness, drain_plan, again).await;
    }
    door_task.abort();
    readiness_task.abort();
    for task in [control_task, http_task, metrics_task]
        .into_iter()
        .flatten()
    {
        task.abort();
    }
    match (pool, first) {
        (Some(pool), _) => {
            drop(sandbox);
            pool.shutdown().await;
        }
        (None, Some((engine_task, api_task, logs, log_task))) => {
            sandbox.shutdown(None).await;
            api_task.abort();
            drop(sandbox);
            drop(logs);
            let _ = engine_task.await;
            let _ = log_task.await;
        }
        (None, None) => {}
    }
    // The hubs have ended: their last spans go out, within a bound.
    if let Some(exporting) = exporting {
        drop(otlp);
        exporting.finish(Duration::from_secs(2)).await;
    }
    // Nothing rapid started may outlive it, orphans included.
    supervisor.kill_all(Duration::from_secs(2)).await;
    Ok(())
}

/// The function the spans are about, for the OTLP resource.
pub(crate) fn otlp_resource(config: &FunctionConfig) -> telemetry::otlp::Resource {
    telemetry::otlp::Resource {
        function_name: config.function_name.clone(),
        function_version: config.function_version.clone(),
        function_arn: config.function_arn.to_string(),
        region: config.region.clone(),
        memory_size_mb: config.memory_size_mb,
    }
}

/// `--timeline FILE`, created now (a file that cannot be written stops
/// rapid at start).
pub(crate) fn open_timeline(cli: &Cli) -> Result<Option<telemetry::Timeline>, String> {
    let Some(path) = &cli.timeline else {
        return Ok(None);
    };
    telemetry::Timeline::create(path).map(Some).map_err(|err| {
        format!(
            "cannot write the timeline to {} (--timeline): {err}",
            path.display()
        )
    })
}

/// Who is told each started sandbox's lifecycle besides its log hub.
#[derive(Default)]
pub(crate) struct Observing {
    pub(crate) timeline: Option<telemetry::Timeline>,
    pub(crate) otlp: Option<telemetry::otlp::Otlp>,
    /// With many functions: the function's number and name, which its
    /// environments carry on the timeline.
    pub(crate) function: Option<(u32, String)>,
    /// Where each invoke's memory peak goes (`--metrics-address`).
    pub(crate) memory: Option<telemetry::MemoryPeaks>,
}

/// The timeline's recorder of sandbox `index` (of `function`, with many
/// functions: each function's environments are processes of their own,
/// named after it).
pub(crate) fn timeline_recorder(
    timeline: &telemetry::Timeline,
    function: Option<&(u32, String)>,
    index: usize,
) -> telemetry::Recorder {
    match function {
        None => timeline.recorder(index as u32),
        Some((number, name)) => timeline.recorder_named(
            (number << 16) | index as u32,
            format!("{name} · environment {index}"),
        ),
    }
}

/// How the pool starts its sandboxes after the first: each with its own
/// Runtime API address (an ephemeral loopback port), its own log hub (its
/// START / END / REPORT and Tail are its invokes' own), and the idle
/// timeout of its place in the pool.
fn start_sandbox(
    cli: &Cli,
    max: usize,
    config: rapid::FunctionConfig,
    supervisor: Supervisor,
    event_log: telemetry::EventLog,
    format: telemetry::LogFormat,
    observing: Observing,
) -> rapid::PoolStart {
    let Observing {
        timeline,
        otlp,
        function,
        memory,
    } = observing;
    let idle = (0..max)
        .map(|index| cli.idle_timeout_of(index))
        .collect::<Vec<_>>();
    Box::new(move |index| {
        let mut config = config.clone();
        config.idle_timeout = idle.get(index).copied().flatten();
        let supervisor = supervisor.clone();
        let event_log = event_log.clone();
        let observers = telemetry::Observers {
            timeline: timeline
                .as_ref()
                .map(|t| timeline_recorder(t, function.as_ref(), index)),
            spans: otlp.as_ref().map(|o| o.spans()),
            memory: memory.clone(),
        };
        Box::pin(async move {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("cannot listen on 127.0.0.1 for its Runtime API: {e}"))?;
            let address = listener
                .local_addr()
                .map_err(|e| e.to_string())?
                .to_string();
            let (logs, log_task) =
                telemetry::LogHub::start_recording(std::io::stdout(), event_log, format, observers);
            let (sandbox, engine_task) =
                Sandbox::start_numbered(config, address.clone(), logs, &supervisor, Some(index));
            let server = tokio::spawn(rapid::serve_runtime_api(listener, sandbox.clone()));
            tracing::info!(sandbox = index, runtime_api = %address, "execution environment started");
            Ok(rapid::Member {
                sandbox,
                tasks: vec![engine_task, log_task],
                server,
            })
        })
    })
}
