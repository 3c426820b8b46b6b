//! The binary's listeners: the front door (invokes, web traffic, probes,
//! the control API, each request counted by a drain), `--test-api-address`,
//! `--http-address` and `--metrics-address`, with HTTP/1.1 or h2c per
//! connection.

use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rapid::accept::Acceptor;
use rapid_cmd::address;
use rapid_cmd::drain::{self, Drain, Tracked};
use rapid_cmd::front_door::{self, FrontDoor};
use rapid_cmd::h2c::{self, Protocol};
use rapid_cmd::header_timer::HeaderTimer;
use rapid_cmd::probes;
use rapid_cmd::replica;
use rapid_cmd::web::{self, Mount, Web};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves `GET /metrics` on `--metrics-address` (a scraper's few
/// connections).
pub(crate) async fn serve_metrics(listener: TcpListener, doors: Vec<Arc<FrontDoor>>) {
    let doors: Arc<[Arc<FrontDoor>]> = doors.into();
    let mut acceptor = Acceptor::new(listener, "metrics").limited(64);
    loop {
        let (stream, _, slot) = acceptor.accept().await;
        let doors = doors.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |req: Request<Incoming>| {
                let doors = doors.clone();
                async move { Ok::<_, Infallible>(rapid_cmd::metrics::answer(&doors, &req)) }
            });
            let _ = http1::Builder::new()
                .timer(HeaderTimer::default())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Starts serving the metrics of `doors` on `listener`, saying where.
pub(crate) fn spawn_metrics(
    listener: TcpListener,
    doors: Vec<Arc<FrontDoor>>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("rapid: metrics listening on {address}");
    Ok(tokio::spawn(serve_metrics(listener, doors)))
}

/// Starts serving `serving` on `listener`, saying where (`what`: the
/// control API, web traffic).
pub(crate) fn spawn_serving(
    listener: TcpListener,
    what: &str,
    serving: Listener,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("rapid: {what} listening on {address}");
    Ok(tokio::spawn(serve_front_door(listener, serving)))
}

impl Listener {
    /// `--test-api-address`'s: the control API only, to any caller, for a
    /// test harness's few connections.
    pub(crate) fn control_api(
        door: Arc<FrontDoor>,
        web: Arc<Web>,
        header_timeout: Duration,
        functions: Option<Arc<rapid_cmd::functions::routes::Functions>>,
    ) -> Listener {
        Listener {
            door,
            web,
            max_connections: 64,
            header_timeout,
            drain: None,
            serves: Serves::ControlApi,
            functions,
        }
    }
}

pub(crate) async fn bind(address: &str, flag: &str) -> Result<TcpListener, String> {
    let bound = match address::without_lookup(address) {
        Some(addr) => TcpListener::bind(addr).await,
        None => TcpListener::bind(address).await,
    };
    bound.map_err(|err| format!("cannot listen on {address} ({flag}): {err}"))
}

/// One listener of the front door's kind: the front door itself, or the
/// control API's own address.
pub(crate) struct Listener {
    pub(crate) door: Arc<FrontDoor>,
    /// Connections held at most: the front door may listen on every
    /// interface, and a flood of connections must wait in the kernel's
    /// backlog instead of taking the descriptors the Runtime API needs.
    pub(crate) max_connections: usize,
    /// How long a caller has to send a request's headers.
    pub(crate) header_timeout: Duration,
    pub(crate) serves: Serves,
    /// Web traffic (`/lambda-url/` on the front door, all of `--http-address`).
    pub(crate) web: Arc<Web>,
    /// With a drain on SIGTERM: the requests in flight, and the refusal of
    /// new ones once it has begun.
    pub(crate) drain: Option<Arc<Drain>>,
    /// With many functions: what routes a request to its function.
    pub(crate) functions: Option<Arc<rapid_cmd::functions::routes::Functions>>,
}

/// What a listener of the front door's kind serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serves {
    /// Invokes, `/lambda-url/`, and the control API to loopback callers.
    FrontDoor,
    /// `--test-api-address`: only the control API, to any caller.
    ControlApi,
    /// `--http-address`: every request is web traffic for the function.
    Web,
    /// The front door on `$PORT` (Knative, Cloud Run): the Invoke API, and
    /// every other path as web traffic for the function.
    Replica,
}

/// Serves invokes (and the control API) on `listener`. A caller that is
/// slow to send its headers, or keeps a connection idle, is closed after
/// the header timeout; bodies are read under their limits.
pub(crate) async fn serve_front_door(listener: TcpListener, serving: Listener) {
    let name = match serving.serves {
        Serves::FrontDoor => "front door",
        Serves::ControlApi => "control API",
        Serves::Web => "web traffic",
        Serves::Replica => "front door",
    };
    let mut acceptor = Acceptor::new(listener, name).limited(serving.max_connections);
    loop {
        let (stream, peer, slot) = acceptor.accept().await;
        let _ = stream.set_nodelay(true);
        let door = serving.door.clone();
        let web = serving.web.clone();
        let serves = serving.serves;
        let functions = serving.functions.clone();
        let access = match serves {
            Serves::ControlApi => front_door::Access::CONTROL,
            _ => front_door::Access::front_door(door.test_api, peer.ip()),
        };
        let ends = stream.local_addr().ok().map(|local| web::Peer {
            remote: peer,
            local,
        });
        let header_timeout = serving.header_timeout;
        let drain = serving.drain.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |mut req: Request<Incoming>| {
                let door = door.clone();
                let web = web.clone();
                let drain = drain.clone();
                let functions = functions.clone();
                if let Some(ends) = ends {
                    req.extensions_mut().insert(ends);
                }
                async move {
                    // Web traffic never reaches the Invoke API's handlers,
                    // and invokes never reach the web's; probes reach
                    // neither.
                    let probe = match serves {
                        Serves::ControlApi => None,
                        _ => probes::probe_of(&req),
                    };
                    if let Some(probe) = probe {
                        let answer = probes::answer(probe, &door.readiness);
                        return Ok(answer.map(|body| Tracked::new(body, None)));
                    }
                    // Once a drain refuses new requests: 503. Before, each
                    // counts until its answer's body is done.
                    let in_flight = match &drain {
                        Some(drain) if drain.refusing() => {
                            return Ok(drain::refused().map(|body| Tracked::new(body, None)));
                        }
                        Some(drain) => Some(drain.enter()),
                        None => None,
                    };
                    let path = req.uri().path();
                    let response = match (serves, functions) {
                        (Serves::FrontDoor | Serves::ControlApi, Some(functions)) => {
                            rapid_cmd::functions::routes::handle(functions, req, access).await
                        }
                        (Serves::Replica, _) if replica::is_web_traffic(path, access.control) => {
                            web::handle(web, req, Mount::Root).await
                        }
                        (Serves::Web, _) => web::handle(web, req, Mount::Root).await,
                        (Serves::FrontDoor, None) if path.starts_with(web::PREFIX) => {
                            web::handle(web, req, Mount::LambdaUrl).await
                        }
                        _ => front_door::handle(door, req, access).await,
                    };
                    Ok::<_, Infallible>(response.map(|body| Tracked::new(body, in_flight)))
                }
            });
            // An orchestrator's proxy may speak HTTP/2 without asking.
            match h2c::sniff(&stream, header_timeout).await {
                Protocol::Nothing => return,
                Protocol::Http2 => {
                    if let Err(err) = http2::Builder::new(TokioExecutor::new())
                        .timer(HeaderTimer::default())
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(%err, "front door HTTP/2 connection ended");
                    }
                    return;
                }
                Protocol::Http1 => {}
            }
            // A client may shut down its write side once its request is
            // sent (`nc -N`, some proxies): a request received in full is
            // answered. A caller that went away is noticed when its answer
            // is written.
            if let Err(err) = http1::Builder::new()
                .half_close(true)
                .timer(HeaderTimer::default())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%err, "front door connection ended");
            }
        });
    }
}
