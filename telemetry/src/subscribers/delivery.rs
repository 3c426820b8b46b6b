//! One subscriber's delivery task: it waits for records, gathers a batch
//! (at most `maxItems` records and `maxBytes` bytes, or whatever arrived
//! within `timeoutMs` of the batch's first record), sends it, and only then
//! takes the next one: one batch in flight, in order.
//!
//! HTTP: a `POST` of a JSON array on a kept-alive connection, done when the
//! subscriber answers 2xx. TCP: the records as lines of JSON on one
//! connection, done when written. A batch that fails is sent again after a
//! backoff; one that the subscriber refused or never answered
//! [`MAX_ATTEMPTS`] times is dropped and counted. Records dropped (a full
//! queue, a refused batch) are told to the subscriber in a
//! `platform.logsDropped` at the head of its next batch.

use super::{render::render, Item, Shared};
use crate::events::LogsDropped;
use crate::PlatformEvent;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use interop::subscription::{Destination, Subscription};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{sleep, timeout, Instant};

/// How long a subscriber has to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a subscriber has to answer a batch (or to take it, over TCP).
const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// Sends of one batch that got an answer other than 2xx, or none in time,
/// before the batch is dropped. A subscriber not listening (connection
/// refused) is retried until its queue overflows instead.
const MAX_ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Lambda's words for records a subscriber did not take.
const DROPPED_REASON: &str =
    "Consumer seems to have fallen behind as it has not acknowledged receipt of logs.";

#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("no answer within {SEND_TIMEOUT:?}")]
    Timeout,
    #[error("answered {0}")]
    Status(http::StatusCode),
    #[error("{0}")]
    Http(#[from] hyper::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A batch ready to send.
struct Batch {
    body: Bytes,
    records: u64,
}

pub(super) async fn run(shared: Arc<Shared>, subscription: Subscription) {
    let mut transport = Transport::new(&subscription.destination);
    while let Some(batch) = next_batch(&shared, &subscription).await {
        if send(&shared, &mut transport, batch).await == Sent::Gone {
            return;
        }
    }
}

#[derive(PartialEq)]
enum Sent {
    /// Taken, or dropped after its attempts.
    Done,
    /// Nobody listens any more and the subscription is closing: what is
    /// left can never be delivered.
    Gone,
}

/// Waits for a batch's worth of records (or `timeoutMs`); None once the
/// subscription is closing and nothing is left.
async fn next_batch(shared: &Shared, subscription: &Subscription) -> Option<Batch> {
    let buffering = subscription.buffering;
    loop {
        {
            let queue = shared.lock();
            if !queue.items.is_empty() || queue.dropped_records > 0 {
                break;
            }
            if queue.closing {
                return None;
            }
        }
        shared.wake.notified().await;
    }
    let flush_at = Instant::now() + buffering.timeout;
    loop {
        {
            let queue = shared.lock();
            if queue.closing
                || queue.items.len() >= buffering.max_items
                || queue.bytes >= buffering.max_bytes
            {
                break;
            }
        }
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep_until(flush_at) => break,
        }
    }
    Some(take_batch(shared, subscription))
}

/// Takes the next batch off the queue, rendered for the subscriber.
fn take_batch(shared: &Shared, subscription: &Subscription) -> Batch {
    let http = matches!(subscription.destination, Destination::Http { .. });
    let (open, separator, close): (&[u8], &[u8], &[u8]) = match http {
        true => (b"[", b",", b"]"),
        false => (b"", b"\n", b""),
    };
    let max_items = subscription.buffering.max_items as u64;
    let max_bytes = subscription.buffering.max_bytes;
    let mut body = Vec::with_capacity(4096);
    body.extend_from_slice(open);
    let mut records = 0;
    let mut scratch = Vec::new();
    let mut queue = shared.lock();
    if queue.dropped_records > 0 {
        let dropped = Item::Event(PlatformEvent::now(LogsDropped {
            reason: DROPPED_REASON.to_owned(),
            dropped_records: queue.dropped_records,
            dropped_bytes: queue.dropped_bytes,
        }));
        queue.dropped_records = 0;
        queue.dropped_bytes = 0;
        if subscription.types.platform {
            records += render(&dropped, subscription.api, &mut body, separator) as u64;
        }
    }
    while records < max_items {
        let Some(item) = queue.pop() else {
            break;
        };
        scratch.clear();
        let count = render(&item, subscription.api, &mut scratch, separator) as u64;
        let fits = body.len() + scratch.len() + close.len() <= max_bytes;
        if records > 0 && (!fits || records + count > max_items) {
            queue.push_front(item);
            break;
        }
        body.extend_from_slice(&scratch);
        records += count;
    }
    drop(queue);
    if http && body.len() > open.len() {
        // The separator after the last record.
        body.pop();
    }
    body.extend_from_slice(close);
    Batch {
        body: Bytes::from(body),
        records,
    }
}

/// Sends `batch` until it is taken, or drops it (counted) after
/// [`MAX_ATTEMPTS`] refusals.
async fn send(shared: &Shared, transport: &mut Transport, batch: Batch) -> Sent {
    if batch.records == 0 {
        return Sent::Done;
    }
    let mut attempts = 0;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let err = match transport.send(batch.body.clone()).await {
            Ok(()) => return Sent::Done,
            Err(err) => err,
        };
        transport.reset();
        if !matches!(err, SendError::Connect(_)) {
            attempts += 1;
        } else if shared.lock().closing {
            // At the end (the sandbox's processes are gone by then): do
            // not hold rapid's exit for a listener that cannot come back.
            return Sent::Gone;
        }
        tracing::debug!(%err, attempts, "telemetry batch not delivered");
        if attempts >= MAX_ATTEMPTS {
            let mut queue = shared.lock();
            queue.dropped_records += batch.records;
            queue.dropped_bytes += batch.body.len() as u64;
            return Sent::Done;
        }
        sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The connection to one subscriber, made when first needed and again
/// after a failure.
enum Transport {
    Http {
        address: std::net::SocketAddr,
        host: String,
        path: String,
        connection: Option<HttpConnection>,
    },
    Tcp {
        address: std::net::SocketAddr,
        stream: Option<TcpStream>,
    },
}

pub(crate) struct HttpConnection {
    sender: SendRequest<Full<Bytes>>,
    /// Dropping it ends the task that drives the connection (and closes it).
    _stop: oneshot::Sender<()>,
}

impl Transport {
    fn new(destination: &Destination) -> Transport {
        match destination.clone() {
            Destination::Http {
                address,
                host,
                path,
            } => Transport::Http {
                address,
                host,
                path,
                connection: None,
            },
            Destination::Tcp { address } => Transport::Tcp {
                address,
                stream: None,
            },
        }
    }

    fn reset(&mut self) {
        match self {
            Transport::Http { connection, .. } => *connection = None,
            Transport::Tcp { stream, .. } => *stream = None,
        }
    }

    async fn send(&mut self, body: Bytes) -> Result<(), SendError> {
        match self {
            Transport::Http {
                address,
                host,
                path,
                connection,
            } => http_post(connection, *address, host, path, "application/json", body).await,
            Transport::Tcp { address, stream } => {
                if stream.is_none() {
                    *stream = Some(connect(*address).await?);
                }
                let Some(stream) = stream.as_mut() else {
                    return Err(SendError::Timeout);
                };
                timeout(SEND_TIMEOUT, stream.write_all(&body))
                    .await
                    .map_err(|_| SendError::Timeout)??;
                Ok(())
            }
        }
    }
}

/// Posts `body` on `connection` (made first when there is none, or it
/// closed), done when the answer is 2xx; the answer's body is read so the
/// connection can be kept. Also the OTLP exporter's (`crate::otlp`).
pub(crate) async fn http_post(
    connection: &mut Option<HttpConnection>,
    address: std::net::SocketAddr,
    host: &str,
    path: &str,
    content_type: &'static str,
    body: Bytes,
) -> Result<(), SendError> {
    let usable = matches!(connection, Some(c) if !c.sender.is_closed());
    if !usable {
        *connection = Some(http_connect(address).await?);
    }
    let Some(connection) = connection.as_mut() else {
        return Err(SendError::Timeout);
    };
    let request = http::Request::post(path)
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(body))
        .map_err(|_| SendError::Status(http::StatusCode::BAD_REQUEST))?;
    let answer = timeout(SEND_TIMEOUT, async {
        connection.sender.ready().await?;
        let response = connection.sender.send_request(request).await?;
        // Read the answer's body, so the connection can be reused.
        let status = response.status();
        let _ = http_body_util::BodyExt::collect(response.into_body()).await;
        Ok::<_, hyper::Error>(status)
    })
    .await
    .map_err(|_| SendError::Timeout)??;
    match answer.is_success() {
        true => Ok(()),
        false => Err(SendError::Status(answer)),
    }
}

async fn connect(address: std::net::SocketAddr) -> Result<TcpStream, SendError> {
    let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| SendError::Connect(std::io::Error::from(std::io::ErrorKind::TimedOut)))?
        .map_err(SendError::Connect)?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn http_connect(address: std::net::SocketAddr) -> Result<HttpConnection, SendError> {
    let stream = connect(address).await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        tokio::select! {
            _ = connection => {}
            _ = stopped => {}
        }
    });
    Ok(HttpConnection {
        sender,
        _stop: stop,
    })
}
