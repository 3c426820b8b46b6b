//! Scripted Telemetry API subscribers, in the test process: an HTTP one
//! (each `POST` is a batch, a JSON array, answered 200, or never answered
//! when the test asks) and a TCP one (records as lines of JSON). They keep
//! every batch exactly as received, for exact checks of what rapid sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

use serde_json::Value;

use super::WAIT;

/// One batch as received: its records, and the raw body.
#[derive(Debug, Clone)]
pub struct Batch {
    pub records: Vec<Value>,
    pub raw: String,
}

#[derive(Default)]
struct State {
    batches: Vec<Batch>,
    /// Requests received, answered or not.
    requests: usize,
    /// Connections accepted.
    connections: usize,
    /// Connections held open without an answer (never dropped).
    held: Vec<TcpStream>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// A subscriber listening on 127.0.0.1 (the destination
/// `sandbox.localdomain:<port>` reaches it).
pub struct Subscriber {
    port: u16,
    shared: Arc<Shared>,
}

impl Subscriber {
    /// An HTTP subscriber that answers every batch 200.
    pub fn http() -> Subscriber {
        Subscriber::http_silent_for(0)
    }

    /// An HTTP subscriber that never answers its first `silent` requests
    /// (it reads them and keeps their connections open), then answers 200.
    pub fn http_silent_for(silent: usize) -> Subscriber {
        let (listener, port, shared) = listen();
        let serving = shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serving.state.lock().unwrap().connections += 1;
                let shared = serving.clone();
                thread::spawn(move || serve_http(stream, shared, silent));
            }
        });
        Subscriber { port, shared }
    }

    /// A TCP subscriber: every line received is a record; each read of
    /// one or more whole lines is kept as a batch.
    pub fn tcp() -> Subscriber {
        let (listener, port, shared) = listen();
        let serving = shared.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serving.state.lock().unwrap().connections += 1;
                let shared = serving.clone();
                thread::spawn(move || serve_tcp(stream, shared));
            }
        });
        Subscriber { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://sandbox.localdomain:<port>/<path>`.
    pub fn http_uri(&self, path: &str) -> String {
        format!("http://sandbox.localdomain:{}/{path}", self.port)
    }

    pub fn batches(&self) -> Vec<Batch> {
        self.shared.state.lock().unwrap().batches.clone()
    }

    /// Every record received so far, in order.
    pub fn records(&self) -> Vec<Value> {
        self.batches().into_iter().flat_map(|b| b.records).collect()
    }

    pub fn requests(&self) -> usize {
        self.shared.state.lock().unwrap().requests
    }

    pub fn connections(&self) -> usize {
        self.shared.state.lock().unwrap().connections
    }

    /// Waits until the records received satisfy `done`; returns them.
    pub fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        let mut state = self.shared.state.lock().unwrap();
        loop {
            let records: Vec<Value> = state
                .batches
                .iter()
                .flat_map(|b| b.records.iter().cloned())
                .collect();
            if done(&records) {
                return records;
            }
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "the subscriber did not get {what} within {WAIT:?}; it got:\n{}",
                    records
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Waits until `n` requests (batches, answered or not) arrived.
    pub fn wait_requests(&self, n: usize) {
        let deadline = Instant::now() + WAIT;
        let mut state = self.shared.state.lock().unwrap();
        while state.requests < n {
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "the subscriber got {} of {n} requests within {WAIT:?}",
                    state.requests
                );
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Waits for the record of `kind` whose record's `requestId` is `id`.
    pub fn wait_for_event(&self, kind: &str, id: &str) -> Vec<Value> {
        self.wait_for(&format!("{kind} of {id}"), |records| {
            records
                .iter()
                .any(|r| r["type"] == kind && r["record"]["requestId"] == id)
        })
    }
}

fn listen() -> (TcpListener, u16, Arc<Shared>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a subscriber port");
    let port = listener.local_addr().expect("subscriber address").port();
    (listener, port, Arc::new(Shared::default()))
}

fn serve_http(stream: TcpStream, shared: Arc<Shared>, silent: usize) {
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let mut writer = writer;
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        // The request line, then headers up to the blank line.
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let raw = String::from_utf8_lossy(&body).into_owned();
        let mut state = shared.state.lock().unwrap();
        state.requests += 1;
        if state.requests <= silent {
            // Read, never answered: the connection stays open.
            state.held.push(writer);
            shared.changed.notify_all();
            return;
        }
        let records = match serde_json::from_str(&raw) {
            Ok(Value::Array(records)) => records,
            _ => panic!("a batch that is not a JSON array: {raw}"),
        };
        state.batches.push(Batch { records, raw });
        shared.changed.notify_all();
        drop(state);
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn serve_tcp(stream: TcpStream, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stream);
    let mut partial = String::new();
    loop {
        let available = match reader.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(bytes) => bytes.to_vec(),
        };
        reader.consume(available.len());
        partial.push_str(&String::from_utf8_lossy(&available));
        let Some(end) = partial.rfind('\n') else {
            continue;
        };
        let whole: String = partial.drain(..=end).collect();
        let records = whole
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a TCP record that is not JSON ({e}): {line}"))
            })
            .collect();
        let mut state = shared.state.lock().unwrap();
        state.requests += 1;
        state.batches.push(Batch {
            records,
            raw: whole,
        });
        shared.changed.notify_all();
    }
}
