//! The loopback API server the runtime and the extensions talk to: the
//! Runtime API, the Extensions API and the Telemetry and Logs APIs'
//! subscriptions on one address (and, with init caching, the credentials
//! endpoint).
//!
//! Each connection belongs to the generation of the sandbox running when it
//! was accepted (`crate::generation`): its task is one of that generation's,
//! and when the generation ends the connection is dropped, so a poll held
//! on it is gone and a streamed response read from it stops. A connection
//! accepted while no generation runs (before the first init, between a
//! teardown and the next init) belongs to none and lives until its peer
//! closes it.

use crate::sandbox::Sandbox;
use crate::supervisor::Caller;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::net::{TcpListener, TcpStream};

/// Serves the APIs on `listener` until the task is dropped. Each connection
/// gets its own task; a long poll holds only its own connection.
pub async fn serve_runtime_api(listener: TcpListener, sandbox: Sandbox) {
    let current = sandbox.current_generation();
    let mut acceptor = crate::accept::Acceptor::new(listener, "runtime API");
    loop {
        let (stream, _) = acceptor.accept().await;
        let _ = stream.set_nodelay(true);
        let generation = current.as_ref().and_then(|current| current.get());
        let sandbox = match (stream.peer_addr(), stream.local_addr()) {
            (Ok(peer), Ok(local)) => sandbox.for_caller(Caller {
                peer,
                local,
                generation: generation.as_ref().map(|g| g.id()),
            }),
            _ => sandbox.clone(),
        };
        let connection = serve_connection(stream, sandbox);
        match generation {
            Some(generation) => generation.spawn(connection),
            None => {
                tokio::spawn(connection);
            }
        }
    }
}

/// Serves one connection until its peer closes it (or its task is dropped).
async fn serve_connection(stream: TcpStream, sandbox: Sandbox) {
    let service = service_fn(move |req| {
        let sandbox = sandbox.clone();
        async move {
            let path = req.uri().path();
            let extension = path.starts_with("/2020-01-01/extension/");
            let credentials = path.starts_with("/2021-04-23/");
            let subscription = path.starts_with(extensions_api::TELEMETRY_PATH)
                || path.starts_with(extensions_api::LOGS_PATH);
            let response = if extension {
                extensions_api::handle(sandbox, req).await
            } else if subscription {
                extensions_api::handle_subscription(sandbox, req).await
            } else if credentials {
                runtime_api::handle_credentials(sandbox, req).await
            } else {
                runtime_api::handle(sandbox, req).await
            };
            Ok::<_, Infallible>(response)
        }
    });
    if let Err(err) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%err, "runtime API connection ended");
    }
}
