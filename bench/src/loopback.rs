//! The floor: a bare hyper HTTP/1.1 server that answers every POST with its
//! body. It runs on its own thread and runtime, so a round trip crosses
//! threads and the loopback socket the way a round trip to rapid does, but
//! nothing else happens in between. On [`STREAM_PATH`] it streams instead:
//! the event `{"size": N}` (streaming.py's `big` event) is answered with N
//! bytes, chunked, in frames of 64 KiB as streaming.py sends them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Where the floor streams instead of echoing.
pub const STREAM_PATH: &str = "/stream";
/// The frames of a streamed answer, as big as streaming.py's chunks.
const STREAM_FRAME: usize = 64 * 1024;

/// The echo server; dropping it stops the server and joins its thread.
pub struct Loopback {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Loopback {
    /// Binds 127.0.0.1:0 and serves on a new thread.
    pub fn start() -> std::io::Result<Loopback> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let thread = thread::Builder::new()
            .name("loopback".to_string())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the loopback server"); // ok: a startup invariant of the bench tool
                runtime.block_on(serve(listener, stopped));
            })?;
        Ok(Loopback {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: std::net::TcpListener, mut stopped: oneshot::Receiver<()>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("bench: loopback server cannot use its socket: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                // Connection tasks die with the runtime when the server stops.
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(answer))
                        .await;
                });
            }
        }
    }
}

type Answer = Response<Either<Full<Bytes>, Repeat>>;

/// The body back, or on [`STREAM_PATH`] the bytes the event asks for.
async fn answer(req: Request<Incoming>) -> Result<Answer, hyper::Error> {
    let stream = req.uri().path() == STREAM_PATH;
    let body = req.into_body().collect().await?.to_bytes();
    if !stream {
        return Ok(Response::new(Either::Left(Full::new(body))));
    }
    let size = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|event| event.get("size")?.as_u64());
    Ok(match size {
        Some(size) => Response::new(Either::Right(Repeat::new(size))),
        None => {
            let mut bad = Response::new(Either::Left(Full::new(Bytes::from_static(
                b"expected an event {\"size\": N}",
            ))));
            *bad.status_mut() = StatusCode::BAD_REQUEST;
            bad
        }
    })
}

/// `left` bytes of `x` in frames of [`STREAM_FRAME`] bytes, of unknown size
/// to hyper (so sent chunked, like rapid's streamed answers); every frame
/// is a slice of one block, nothing is copied.
struct Repeat {
    block: Bytes,
    left: u64,
}

impl Repeat {
    fn new(size: u64) -> Repeat {
        Repeat {
            block: Bytes::from(vec![b'x'; STREAM_FRAME]),
            left: size,
        }
    }
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(self.block.len() as u64);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(self.block.slice(..n as usize)))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }
}
