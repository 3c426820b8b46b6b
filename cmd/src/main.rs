//! The `rapid` binary: reads the command line and environment, starts the
//! Runtime API and the invoke front door, and shuts everything down cleanly
//! on SIGTERM / SIGINT (also as a container's PID 1).

mod address;
mod body;
mod cli;
mod control;
mod front_door;

use clap::Parser;
use cli::Cli;
use front_door::FrontDoor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rapid::accept::{connection_cap, Acceptor};
use rapid::{FunctionConfig, Sandbox, Supervisor};
use std::convert::Infallible;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    // Raised before the listeners open; children get the original limit back.
    let nofile = rapid::supervisor::raise_nofile_limit();
    if let Err(err) = interop::ids::check_random_source() {
        return fail(&format!(
            "cannot read random bytes from the kernel (the getrandom system call failed: {err}); request ids need them"
        ));
    }
    let config = match FunctionConfig::from_env(
        std::env::vars(),
        cli.command.clone(),
        Duration::from_secs(cli.init_timeout),
    ) {
        Ok(mut config) => {
            config.max_stream_bytes = cli.max_stream_bytes;
            config.throttle_streams = cli.response_bandwidth;
            config.extensions_dir = Some(cli.extensions_dir.clone());
            if cli.enable_init_caching {
                config.enable_init_caching();
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
    let max_connections = connection_cap(nofile.unwrap_or(1024));
    match runtime.block_on(run(cli, config, max_connections)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("rapid: {message}");
    ExitCode::from(2)
}

async fn run(cli: Cli, config: FunctionConfig, max_connections: usize) -> Result<(), String> {
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;

    let api_listener = bind(&cli.runtime_api_address, "--runtime-api-address").await?;
    let api_address = api_listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    // The platform events are kept for the control API's eventLog only.
    let event_log = telemetry::EventLog::new(if cli.test_api {
        telemetry::EVENT_LOG_CAPACITY
    } else {
        0
    });
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").ok();
    let format = telemetry::LogFormat::from_env_value(format.as_deref());
    let (logs, log_task) =
        telemetry::LogHub::start_with(std::io::stdout(), event_log.clone(), format);
    let function_version = config.function_version.clone();
    let supervisor =
        Supervisor::start().map_err(|e| format!("cannot install the SIGCHLD handler: {e}"))?;
    let (sandbox, engine_task) =
        Sandbox::start(config, api_address.clone(), logs.clone(), &supervisor);
    let api_task = tokio::spawn(rapid::serve_runtime_api(api_listener, sandbox.clone()));
    eprintln!("rapid: runtime API listening on {api_address}");

    let door_listener = bind(
        &cli.runtime_interface_emulator_address,
        "--runtime-interface-emulator-address",
    )
    .await?;
    let door_address = door_listener.local_addr().map_err(|e| e.to_string())?;
    if cli.eager_init {
        sandbox.init_now().map_err(|e| e.to_string())?;
    }
    let stop = Arc::new(tokio::sync::Notify::new());
    let door = Arc::new(FrontDoor {
        sandbox: sandbox.clone(),
        control: Default::default(),
        function_version,
        queued_events: Arc::new(tokio::sync::Semaphore::new(
            cli.max_queued_events
                .min(tokio::sync::Semaphore::MAX_PERMITS),
        )),
        test_api: cli.test_api,
        stop: stop.clone(),
        event_log,
    });
    eprintln!("rapid: invokes listening on {door_address}");

    tokio::select! {
        _ = serve_front_door(door_listener, door, max_connections) => {}
        _ = stop.notified() => tracing::info!("the control API asked for a shutdown"),
        _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = sigint.recv() => tracing::info!("SIGINT: shutting down"),
    }
    sandbox.shutdown().await;
    api_task.abort();
    drop(sandbox);
    drop(logs);
    let _ = engine_task.await;
    // Nothing rapid started may outlive it, orphans included.
    supervisor.kill_all(Duration::from_secs(2)).await;
    let _ = log_task.await;
    Ok(())
}

async fn bind(address: &str, flag: &str) -> Result<TcpListener, String> {
    let bound = match address::without_lookup(address) {
        Some(addr) => TcpListener::bind(addr).await,
        None => TcpListener::bind(address).await,
    };
    bound.map_err(|err| format!("cannot listen on {address} ({flag}): {err}"))
}

/// Serves invokes. The front door may listen on every interface, so it holds
/// at most `max_connections`: a flood of connections waits in the kernel's
/// backlog instead of taking the descriptors the Runtime API needs.
async fn serve_front_door(listener: TcpListener, door: Arc<FrontDoor>, max_connections: usize) {
    let mut acceptor = Acceptor::new(listener, "front door").limited(max_connections);
    loop {
        let (stream, _, slot) = acceptor.accept().await;
        let _ = stream.set_nodelay(true);
        let door = door.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |req| {
                let door = door.clone();
                async move { Ok::<_, Infallible>(front_door::handle(door, req).await) }
            });
            // A client may shut down its write side once its request is
            // sent (`nc -N`, some proxies): a request received in full is
            // answered. A caller that went away is noticed when its answer
            // is written.
            if let Err(err) = http1::Builder::new()
                .half_close(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%err, "front door connection ended");
            }
        });
    }
}
