//! `--template` and `--functions`: many functions in one rapid. Each
//! function gets what one rapid gives its function — a pool of execution
//! environments (at most its `ReservedConcurrentExecutions`, else
//! `--max-sandboxes`), each with its own Runtime API port and log hub, and
//! its own front door state (queues, throttle) — and the front door's
//! listener routes each request to its function by name
//! (`rapid_cmd::functions::routes`).

use crate::serve::{bind, serve_front_door, spawn_metrics, spawn_serving, Listener, Serves};
use crate::{
    open_timeline, otlp_endpoint, otlp_resource, start_sandbox, timeline_recorder, Observing,
};
use interop::contract::SandboxContext;
use rapid::{FunctionConfig, Sandbox, Supervisor};
use rapid_cmd::cli::Cli;
use rapid_cmd::front_door::FrontDoor;
use rapid_cmd::functions::routes::Functions;
use rapid_cmd::functions::Entry;
use rapid_cmd::functions::{self, dir, runtime, template, FunctionSpec};
use rapid_cmd::web::Web;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

/// The set of functions the command line names, checked.
fn load(cli: &Cli, region: &str) -> Result<Vec<FunctionSpec>, String> {
    let specs = match (&cli.template, &cli.functions) {
        (Some(path), _) => {
            let loaded = template::load(path, region)
                .map_err(|err| format!("{} (--template): {err}", path.display()))?;
            for left in &loaded.unresolved {
                tracing::warn!("left as given (it cannot be resolved on this machine): {left}");
            }
            loaded.functions
        }
        (None, Some(path)) => {
            dir::load(path).map_err(|err| format!("{} (--functions): {err}", path.display()))?
        }
        (None, None) => return Err("no --template or --functions".into()),
    };
    functions::checked(specs).map_err(|err| err.to_string())
}

/// The configuration of one function's environments: rapid's own
/// environment, then what the template says of the function.
fn config_of(cli: &Cli, spec: &FunctionSpec) -> Result<FunctionConfig, String> {
    let path = std::env::var_os("PATH");
    let command = runtime::command(
        &spec.name,
        &spec.runtime,
        &spec.handler,
        &spec.code_uri,
        &cli.runtime_command,
        path.as_deref(),
    )
    .map_err(|err| err.to_string())?;
    let code = spec.code_uri.display().to_string();
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.extend(
        [
            ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", spec.timeout_s.to_string()),
            ("AWS_LAMBDA_FUNCTION_HANDLER", spec.handler.clone()),
            ("_HANDLER", spec.handler.clone()),
            ("LAMBDA_TASK_ROOT", code.clone()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    vars.extend(spec.environment.clone());
    let mut config = FunctionConfig::from_env(vars, command, Duration::from_secs(cli.init_timeout))
        .map_err(|err| format!("function {}: {err}", spec.name))?;
    if let Ok(bootstrap) = config.bootstrap.as_mut() {
        bootstrap.cwd = spec.code_uri.clone();
    }
    cli.apply_to(&mut config);
    Ok(config)
}

/// Retires `function`'s environments at each change of its code.
async fn watch(function: String, mut watcher: functions::watch::Watcher, pool: rapid::Pool) {
    loop {
        match watcher.changed().await {
            Ok(path) => {
                let idle = pool.retire_all();
                tracing::info!(
                    %function,
                    changed = %path.display(),
                    idle_retired = idle,
                    "function reloaded: its code changed; the next invoke starts it anew (busy environments retire after their invoke)"
                );
            }
            Err(err) => {
                tracing::warn!(%function, %err, "--watch stopped for this function");
                return;
            }
        }
    }
}

/// Runs every function until SIGTERM / SIGINT (or the control API's
/// shutdown), then shuts every environment down.
pub async fn run(cli: Cli, max_connections: usize) -> Result<(), String> {
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".into());
    let specs = load(&cli, &region)?;
    let configs = specs
        .iter()
        .map(|spec| config_of(&cli, spec))
        .collect::<Result<Vec<_>, _>>()?;

    // Each function's spans go with its own resource (its name, ARN,
    // memory), through an exporter of its own.
    let otlp = otlp_endpoint(&cli)?;
    if let Some(endpoint) = &otlp {
        eprintln!("rapid: exporting spans to {}", endpoint.url());
    }
    let door_at = rapid_cmd::replica::front_door_address(
        cli.runtime_interface_emulator_address.as_deref(),
        std::env::var("PORT").ok().as_deref(),
    )?;
    if door_at.replica {
        return Err("PORT (the orchestrator's container contract) serves one function; it is not supported yet with --template or --functions (give --runtime-interface-emulator-address)".into());
    }
    let door_listener = bind(&door_at.address, "--runtime-interface-emulator-address").await?;
    let door_address = door_listener.local_addr().map_err(|e| e.to_string())?;
    let test_api = cli.test_api || cli.test_api_address.is_some();
    let metrics_listener = match &cli.metrics_address {
        Some(address) => Some(bind(address, "--metrics-address").await?),
        None => None,
    };
    // Every function's metrics in one exposition, each labelled with its
    // name.
    let families = metrics_listener
        .as_ref()
        .map(|_| rapid_cmd::metrics::Families::new());
    let control_listener = match &cli.test_api_address {
        Some(address) => Some(bind(address, "--test-api-address").await?),
        None => None,
    };
    let event_log = telemetry::EventLog::new(if test_api {
        telemetry::EVENT_LOG_CAPACITY
    } else {
        0
    });
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").ok();
    let format = telemetry::LogFormat::from_env_value(format.as_deref());
    let timeline = open_timeline(&cli)?;
    let supervisor =
        Supervisor::start().map_err(|e| format!("cannot install the SIGCHLD handler: {e}"))?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let cap = cli
        .max_environments
        .map(|max| rapid::pool::Cap::new(usize::try_from(max).unwrap_or(usize::MAX)));
    if let (Some(cap), true) = (&cap, cli.eager_init) {
        if specs.len() > cap.max() {
            return Err(format!(
                "--eager-init starts an environment for each of the {} functions, more than --max-environments {}",
                specs.len(),
                cap.max()
            ));
        }
    }

    let mut entries = Vec::new();
    let mut exporting = Vec::new();
    let mut pools = Vec::new();
    let mut watchers = tokio::task::JoinSet::new();
    for (number, (spec, config)) in (1..).zip(specs.into_iter().zip(configs)) {
        // Its environments are processes of their own on the timeline.
        let function = Some((number, spec.name.clone()));
        let per_sandbox = config.max_concurrency.unwrap_or(1) as usize;
        let slot_wait = config.max_concurrency.map(|_| config.timeout);
        // Reserved concurrency 0: the function is throttled, as in Lambda.
        let max = match spec.reserved_concurrency {
            Some(reserved) => reserved.max(1) as usize,
            None => cli.max_sandboxes as usize,
        };
        let running = match spec.reserved_concurrency {
            Some(0) => 0,
            _ => max.saturating_mul(per_sandbox),
        };
        // Reserved concurrency is a limit, as in Lambda: past it a
        // synchronous invoke is throttled (429), not queued.
        let queued = match spec.reserved_concurrency {
            Some(_) => running,
            None => cli.max_queued.saturating_add(running),
        };
        let metrics = families.as_ref().map(|families| {
            rapid_cmd::metrics::Metrics::of_function(
                families,
                Some(&spec.name),
                running,
                queued,
                cli.eager_init,
            )
        });
        let memory = metrics.as_ref().map(|m| m.memory_peaks());
        let spans = otlp.clone().map(|endpoint| {
            let (spans, exporter) = telemetry::otlp::Otlp::start(endpoint, otlp_resource(&config));
            exporting.push(exporter);
            spans
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1 for a Runtime API: {e}"))?;
        let api_address = listener
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        let (logs, log_task) = telemetry::LogHub::start_recording(
            std::io::stdout(),
            event_log.clone(),
            format,
            telemetry::Observers {
                timeline: timeline
                    .as_ref()
                    .map(|t| timeline_recorder(t, function.as_ref(), 0)),
                spans: spans.as_ref().map(|o| o.spans()),
                memory: memory.clone(),
            },
        );
        let (sandbox, engine_task) =
            Sandbox::start_numbered(config.clone(), api_address, logs, &supervisor, Some(0));
        let server = tokio::spawn(rapid::serve_runtime_api(listener, sandbox.clone()));
        let member = rapid::Member {
            sandbox: sandbox.clone(),
            tasks: vec![engine_task, log_task],
            server,
        };
        let start = start_sandbox(
            &cli,
            max,
            config.clone(),
            supervisor.clone(),
            event_log.clone(),
            format,
            Observing {
                timeline: timeline.clone(),
                otlp: spans,
                function,
                memory,
            },
        );
        let pool = match &cap {
            Some(cap) => {
                // Checked above: each eager init has its unit.
                let started = cli.eager_init && cap.reserve();
                rapid::Pool::with_cap(member, max, per_sandbox, start, cap.clone(), started)
            }
            None => rapid::Pool::new(member, max, per_sandbox, start),
        };
        if cli.eager_init {
            sandbox.init_now().map_err(|e| e.to_string())?;
        }
        let door = Arc::new(FrontDoor {
            sandbox,
            pool: Some(pool.clone()),
            control: Default::default(),
            function_version: config.function_version.clone(),
            queued_events: Arc::new(tokio::sync::Semaphore::new(
                cli.max_queued_events
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            queued_invokes: Arc::new(tokio::sync::Semaphore::new(
                queued.min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            test_api,
            stop: stop.clone(),
            event_log: event_log.clone(),
            bursts: Default::default(),
            slot_wait,
            // Readiness follows one function's first init (`PORT` is
            // refused with many functions): here the probes say that rapid
            // serves.
            readiness: rapid_cmd::probes::Readiness::new(false),
            metrics,
        });
        let mode = match spec.url_invoke_mode.as_deref() {
            Some("RESPONSE_STREAM") => http_events::InvokeMode::ResponseStream,
            Some(_) => http_events::InvokeMode::Buffered,
            None => cli.http_invoke_mode,
        };
        let web = Arc::new(Web::new(
            door.clone(),
            mode,
            cli.http_payload_version,
            region.clone(),
        ));
        if cli.watch {
            let watcher = functions::watch::Watcher::new(&spec.code_uri)
                .map_err(|err| format!("--watch, function {}: {err}", spec.name))?;
            watchers.spawn(watch(spec.name.clone(), watcher, pool.clone()));
        }
        pools.push(pool);
        entries.push(Entry { spec, door, web });
    }
    let names: Vec<String> = entries.iter().map(|e| e.spec.name.clone()).collect();
    let events = Arc::new(functions::events::Events::new(
        cli.async_backoff_scale,
        cli.async_destinations_file.clone(),
    )?);
    let functions = Functions::new(
        entries,
        region,
        Some(events.clone()),
        Some(supervisor.clone()),
        cap,
    )
    .ok_or("no function to run")?;
    let functions = Arc::new(functions);
    let (_, first) = functions.doors().next().ok_or("no function to run")?;
    let web = Arc::new(Web::new(
        first.clone(),
        cli.http_invoke_mode,
        cli.http_payload_version,
        String::new(),
    ));
    eprintln!("rapid: functions: {}", names.join(", "));
    eprintln!("rapid: invokes listening on {door_address}");
    let metrics_task = metrics_listener
        .map(|listener| {
            let doors = functions.doors().map(|(_, door)| door.clone()).collect();
            spawn_metrics(listener, doors)
        })
        .transpose()?;
    let header_timeout = Duration::from_secs(cli.request_header_timeout);
    let control_task = control_listener
        .map(|listener| {
            let serving = Listener::control_api(
                first.clone(),
                web.clone(),
                header_timeout,
                Some(functions.clone()),
            );
            spawn_serving(listener, "control API", serving)
        })
        .transpose()?;
    let front_door = Listener {
        door: first.clone(),
        web,
        max_connections,
        header_timeout,
        drain: None,
        serves: Serves::FrontDoor,
        functions: Some(functions.clone()),
    };
    tokio::select! {
        _ = serve_front_door(door_listener, front_door) => {}
        _ = stop.notified() => tracing::info!("the control API asked for a shutdown"),
        _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = sigint.recv() => tracing::info!("SIGINT: shutting down"),
    }
    for task in [control_task, metrics_task].into_iter().flatten() {
        task.abort();
    }
    drop(functions);
    watchers.abort_all();
    // Events still waiting or running are written out, not lost.
    events.shutdown();
    // Every function's environments at once, each with its own budget.
    let mut shutdowns = tokio::task::JoinSet::new();
    for pool in pools {
        shutdowns.spawn(async move { pool.shutdown().await });
    }
    while shutdowns.join_next().await.is_some() {}
    // The hubs have ended: each function's last spans go out, within a
    // bound.
    let mut flushes = tokio::task::JoinSet::new();
    for exporter in exporting {
        flushes.spawn(exporter.finish(Duration::from_secs(2)));
    }
    while flushes.join_next().await.is_some() {}
    supervisor.kill_all(Duration::from_secs(2)).await;
    Ok(())
}
