//! Readiness and liveness for an orchestrator (spec §15): `/_/ready` and
//! `/_/health` (the reserved prefix of OpenFaaS's watchdog), and any
//! request carrying `K-Kubelet-Probe` or a `User-Agent` of `kube-probe/…`
//! as readiness. No probe ever reaches the function.
//!
//! Readiness follows the first execution environment's init: ready once
//! it finished (or at once when inits happen on demand: rapid can start
//! one), not while an eager init runs, not after an init failed until an
//! init succeeds again, and never again once draining. Its state is one
//! atomic, read by probes and kept by [`watch`], a task that asks the
//! sandbox how its last init ended (`InitContext::wait`) whenever that may
//! have changed: after an init rapid started, and after an invoke that
//! failed or ran while not ready. A steady stream of successful invokes
//! costs one atomic load each.

use crate::body::DoorBody;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use http::{Request, Response, StatusCode};
use interop::contract::{InitContext, PhaseRefused, SandboxContext};
use rapid::Sandbox;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The reserved path prefix: nothing under it reaches the function.
pub const PREFIX: &str = "/_/";

// Parsed once: looking a request up by a static name skips the parse.
const KUBELET_PROBE: http::HeaderName = http::HeaderName::from_static("k-kubelet-probe");

/// What a probe asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Ready,
    Health,
    /// Another path under [`PREFIX`].
    Unknown,
}

/// The probe a request is, if it is one.
pub fn probe_of<B>(req: &Request<B>) -> Option<Probe> {
    let path = req.uri().path();
    if path == "/_/ready" {
        return Some(Probe::Ready);
    }
    if path == "/_/health" {
        return Some(Probe::Health);
    }
    let headers = req.headers();
    let kube_probe = headers.contains_key(&KUBELET_PROBE)
        || headers
            .get(USER_AGENT)
            .is_some_and(|agent| agent.as_bytes().starts_with(b"kube-probe/"));
    if kube_probe {
        return Some(Probe::Ready);
    }
    path.starts_with(PREFIX).then_some(Probe::Unknown)
}

/// Where readiness stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// The first init has not ended yet.
    Initializing = 0,
    Ready = 1,
    /// The last init failed; an init must succeed again.
    InitFailed = 2,
    /// SIGTERM: the replica is leaving (for good).
    Draining = 3,
}

impl State {
    fn from_u8(value: u8) -> State {
        match value {
            0 => State::Initializing,
            1 => State::Ready,
            2 => State::InitFailed,
            _ => State::Draining,
        }
    }

    fn word(self) -> &'static str {
        match self {
            State::Initializing => "initializing",
            State::Ready => "ready",
            State::InitFailed => "init failed",
            State::Draining => "draining",
        }
    }
}

/// The replica's readiness, shared by the front door and [`watch`].
#[derive(Debug)]
pub struct Readiness {
    state: AtomicU8,
    recheck: Notify,
}

impl Readiness {
    /// Not ready until the first init ends when one starts at once
    /// (`eager`); otherwise ready, since rapid can start one.
    pub fn new(eager: bool) -> Arc<Self> {
        let state = if eager {
            State::Initializing
        } else {
            State::Ready
        };
        Arc::new(Readiness {
            state: AtomicU8::new(state as u8),
            recheck: Notify::new(),
        })
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// From now on never ready again.
    pub fn drain(&self) {
        self.state.store(State::Draining as u8, Ordering::Release);
    }

    /// An invoke ended: when it failed, or ran while not ready, its init
    /// may have failed or succeeded; the watcher looks again.
    pub fn after_invoke(&self, failed: bool) {
        if failed || self.state() != State::Ready {
            self.recheck.notify_one();
        }
    }

    /// Sets `state` unless draining, which is final.
    fn set(&self, state: State) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                (now != State::Draining as u8).then_some(state as u8)
            });
    }
}

/// The first retry of an init that failed with no invoke to retry it, and
/// the longest wait between retries.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// Keeps `readiness` in step with how `sandbox`'s inits end. After a
/// failed init it starts another itself (1 s, doubling up to 30 s between
/// attempts), since an unready replica gets no invoke that would retry it.
pub async fn watch(readiness: Arc<Readiness>, sandbox: Sandbox) {
    let mut retry = FIRST_RETRY;
    let mut failed_before = false;
    loop {
        match sandbox.on_demand().wait().await {
            // No init has run yet: nothing to say.
            Err(PhaseRefused::NotInitialized) => {}
            Err(_) => return,
            Ok(Ok(_)) => {
                readiness.set(State::Ready);
                if failed_before {
                    tracing::info!("an init succeeded again: ready");
                }
                failed_before = false;
                retry = FIRST_RETRY;
            }
            Ok(Err(failure)) => {
                // Set before it is said: a reader of the log sees it.
                readiness.set(State::InitFailed);
                if !failed_before {
                    tracing::warn!(
                        error_type = %failure.error_type,
                        "the init failed: not ready until an init succeeds (retried in the background)"
                    );
                }
                failed_before = true;
                tokio::select! {
                    // ok: a backoff between init attempts, not a wait for an event
                    _ = tokio::time::sleep(retry) => {
                        retry = (retry * 2).min(LONGEST_RETRY);
                        if sandbox.init_now().is_err() {
                            return;
                        }
                    }
                    _ = readiness.recheck.notified() => {}
                }
                continue;
            }
        }
        readiness.recheck.notified().await;
    }
}

/// The answer to `probe`: liveness is 200 whenever rapid answers;
/// readiness 200 or 503 as [`Readiness`] stands.
pub fn answer(probe: Probe, readiness: &Readiness) -> Response<DoorBody> {
    let (status, body) = match probe {
        Probe::Health => (StatusCode::OK, "alive".to_owned()),
        Probe::Ready => {
            let state = readiness.state();
            let status = if state == State::Ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, state.word().to_owned())
        }
        Probe::Unknown => (
            StatusCode::NOT_FOUND,
            "not a probe: /_/ready and /_/health are".to_owned(),
        ),
    };
    let body = serde_json::json!({ "status": body }).to_string();
    let mut response = Response::new(DoorBody::full(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::get(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn probes_are_known_by_path_or_by_kubelet() {
        assert_eq!(probe_of(&request("/_/ready", &[])), Some(Probe::Ready));
        assert_eq!(probe_of(&request("/_/health", &[])), Some(Probe::Health));
        assert_eq!(probe_of(&request("/_/other", &[])), Some(Probe::Unknown));
        assert_eq!(
            probe_of(&request("/", &[("User-Agent", "kube-probe/1.29")])),
            Some(Probe::Ready)
        );
        assert_eq!(
            probe_of(&request("/x", &[("K-Kubelet-Probe", "queue")])),
            Some(Probe::Ready)
        );
        assert_eq!(probe_of(&request("/", &[("User-Agent", "curl/8")])), None);
        assert_eq!(probe_of(&request("/_ready", &[])), None);
    }

    #[test]
    fn draining_is_final() {
        let readiness = Readiness::new(true);
        assert_eq!(readiness.state(), State::Initializing);
        readiness.set(State::Ready);
        assert_eq!(answer(Probe::Ready, &readiness).status(), StatusCode::OK);
        readiness.set(State::InitFailed);
        assert_eq!(
            answer(Probe::Ready, &readiness).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.drain();
        readiness.set(State::Ready);
        assert_eq!(readiness.state(), State::Draining);
        assert_eq!(answer(Probe::Health, &readiness).status(), StatusCode::OK);
        assert_eq!(Readiness::new(false).state(), State::Ready);
    }
}
