//! The loopback API server the runtime and the extensions talk to: the
//! Runtime API and the Extensions API on one address (and, with init
//! caching, the credentials endpoint).

use crate::sandbox::Sandbox;
use crate::supervisor::Caller;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::net::TcpListener;

/// Serves the APIs on `listener` until the task is dropped. Each connection
/// gets its own task; a long poll holds only its own connection.
pub async fn serve_runtime_api(listener: TcpListener, sandbox: Sandbox) {
    let mut acceptor = crate::accept::Acceptor::new(listener, "runtime API");
    loop {
        let (stream, _) = acceptor.accept().await;
        let _ = stream.set_nodelay(true);
        let sandbox = match (stream.peer_addr(), stream.local_addr()) {
            (Ok(peer), Ok(local)) => sandbox.for_caller(Caller { peer, local }),
            _ => sandbox.clone(),
        };
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let sandbox = sandbox.clone();
                async move {
                    let path = req.uri().path();
                    let extension = path.starts_with("/2020-01-01/extension/");
                    let credentials = path.starts_with("/2021-04-23/");
                    let response = if extension {
                        extensions_api::handle(sandbox, req).await
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
        });
    }
}
