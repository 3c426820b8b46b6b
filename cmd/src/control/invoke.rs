//! `POST /test/reserve`, `POST /test/invoke` and `POST /test/waitUntilRelease`:
//! one invoke at a time, reserved, sent and waited for through the
//! contract's `InitContext` and `InvokeContext`.

use super::{error, json, phase_refused, response_metrics, Target};
use crate::body::{DoorBody, FailedEnd};
use crate::invoke_http::{new_trace_id, raw_response, REQUEST_LIMIT};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use interop::contract::{InitContext, InvokeContext, SandboxContext};
use interop::Invoke;
use rapid::{InitHandle, Reservation, Sandbox};
use std::sync::Mutex;
use wire::{read_limited, LimitedBody};

/// What the control API holds between calls for one sandbox: the init it
/// started and the one reservation.
#[derive(Default)]
pub struct Reservations {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    init: Option<InitHandle>,
    slot: Option<Reserved>,
}

struct Reserved {
    trace_id: Option<String>,
    stage: Stage,
}

enum Stage {
    /// Reserved, no invoke sent yet.
    Reserved(Reservation),
    /// Sent; its end not yet waited for.
    Sent(Reservation),
    /// `waitUntilRelease` holds it.
    Waiting,
}

impl Reservations {
    pub(super) fn set_init(&self, handle: InitHandle) {
        self.lock().init = Some(handle);
    }

    /// The init `/test/init` started, else the sandbox's own (on demand).
    pub(super) fn init_handle(&self, sandbox: &Sandbox) -> InitHandle {
        self.lock()
            .init
            .clone()
            .unwrap_or_else(|| sandbox.on_demand())
    }

    /// After a reset: a reservation whose invoke was not sent is gone
    /// with the generation. One that was sent stays until
    /// `waitUntilRelease` has told how its invoke ended.
    pub(super) fn release_unsent(&self) {
        let mut inner = self.lock();
        if inner
            .slot
            .as_ref()
            .is_some_and(|r| matches!(r.stage, Stage::Reserved(_)))
        {
            inner.slot = None;
        }
    }

    /// Takes the reservation out of its slot (which then says `Waiting`):
    /// before its invoke is sent (`sent` false, for `/test/invoke`) or
    /// after (`sent` true, for `/test/waitUntilRelease`); else why not.
    fn take(&self, sent: bool) -> Result<Reservation, &'static str> {
        let mut inner = self.lock();
        let Some(slot) = inner.slot.as_mut() else {
            return Err(if sent {
                "no invoke is reserved"
            } else {
                "no invoke is reserved; /test/reserve first"
            });
        };
        match (std::mem::replace(&mut slot.stage, Stage::Waiting), sent) {
            (Stage::Reserved(reservation), false) | (Stage::Sent(reservation), true) => {
                Ok(reservation)
            }
            (other, _) => {
                let why = match (&other, sent) {
                    (Stage::Reserved(_), true) => "the reserved invoke has not been sent",
                    (_, true) => "someone already waits for the release",
                    (_, false) => "the reserved invoke was sent already",
                };
                slot.stage = other;
                Err(why)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The data stays consistent whatever panicked while holding it
        // (every change is one assignment).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `POST /test/reserve`: reserves the next invoke. `200` with the headers
/// `Reservation-Token`, `Invoke-ID`, `Version-ID` and the internal state as
/// body; `400` when an invoke is already reserved.
pub(super) async fn reserve<B>(t: &Target<'_>, req: Request<B>) -> Response<DoorBody> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
    };
    let trace_id = header("x-amzn-trace-id");
    let request_id = interop::ids::new_uuid().to_string();
    let token = interop::ids::new_uuid().to_string();
    {
        let mut inner = t.control.lock();
        if inner.slot.is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                "Client.InvalidRequest",
                "an invoke is already reserved; /test/waitUntilRelease or /test/reset first",
            );
        }
        let init = inner.init.clone().unwrap_or_else(|| t.sandbox.on_demand());
        inner.slot = Some(Reserved {
            trace_id,
            stage: Stage::Reserved(init.reserve(request_id.clone())),
        });
    }
    let mut response = json(StatusCode::OK, t.state().await);
    let headers = response.headers_mut();
    wire::insert_header(headers, "reservation-token", &token);
    wire::insert_header(headers, "invoke-id", &request_id);
    wire::insert_header(headers, "version-id", &t.door.version());
    response
}

/// `POST /test/invoke`: sends the reserved invoke, the body being its
/// event, and answers with the function's response as the front door
/// would (streamed as it comes). `400` without a reservation (or when its
/// invoke was sent already); `502` with the internal state when the init
/// `/test/init` started failed.
pub(super) async fn invoke<B>(t: &Target<'_>, req: Request<B>) -> Response<DoorBody>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let failed_end = FailedEnd::for_request(req.headers());
    let restore_duration = match restore_duration(req.headers()) {
        Ok(duration) => duration,
        Err(message) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", &message),
    };
    let mut reservation = match t.control.take(false) {
        Ok(reservation) => reservation,
        Err(why) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", why),
    };
    let payload = match read_limited(req.into_body(), REQUEST_LIMIT).await {
        Ok(LimitedBody::Complete(body)) if body.iter().all(u8::is_ascii_whitespace) => {
            Bytes::from_static(b"{}")
        }
        Ok(LimitedBody::Complete(body)) => body,
        Ok(LimitedBody::TooLarge { .. }) | Err(_) => {
            t.control.put_back(Stage::Reserved(reservation));
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                &format!("the event must be at most {REQUEST_LIMIT} bytes"),
            );
        }
    };
    let started = t.control.lock().init.clone();
    if let Some(init) = started {
        if let Ok(Err(_failed)) = init.wait().await {
            t.control.lock().slot = None;
            return t.mark(json(StatusCode::BAD_GATEWAY, t.state().await));
        }
    }
    let trace_id = t
        .control
        .lock()
        .slot
        .as_ref()
        .and_then(|s| s.trace_id.clone())
        .unwrap_or_else(new_trace_id);
    let invoke = Invoke {
        request_id: reservation.request_id().to_owned(),
        payload,
        client_context: None,
        cognito_identity: None,
        trace_id,
        tenant_id: None,
        log_tail: false,
        restore_duration,
        accepted: std::time::Instant::now(),
    };
    let outcome = reservation.post(invoke);
    t.control.put_back(Stage::Sent(reservation));
    match outcome {
        Ok(answered) => match answered.await {
            Ok(outcome) => t.mark(raw_response(&t.door.version(), outcome, failed_end).await),
            Err(_) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sandbox.Shutdown",
                "the execution environment shut down",
            ),
        },
        Err(refused) => phase_refused(refused),
    }
}

/// The optional `restore-duration` and `restore-start-time` headers (in
/// nanoseconds): a restore the caller ran itself before this invoke, whose
/// duration the invoke's REPORT shows as `Restore Duration`. The start time
/// is checked but not used: rapid has no span it would place.
fn restore_duration(headers: &http::HeaderMap) -> Result<Option<std::time::Duration>, String> {
    let nanos = |name: &str| -> Result<Option<u64>, String> {
        match headers.get(name) {
            None => Ok(None),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| format!("{name} must be a whole number of nanoseconds")),
        }
    };
    nanos("restore-start-time")?;
    Ok(nanos("restore-duration")?.map(std::time::Duration::from_nanos))
}

/// `POST /test/waitUntilRelease`: waits until the sent invoke is complete
/// and releases the reservation. `200` with the internal state and the
/// response metrics; `502` (same body, with the error type) when the
/// invoke failed; `400` when no invoke was sent.
pub(super) async fn wait_until_release(t: &Target<'_>) -> Response<DoorBody> {
    let mut reservation = match t.control.take(true) {
        Ok(reservation) => reservation,
        Err(why) => return error(StatusCode::BAD_REQUEST, "Client.InvalidRequest", why),
    };
    let ended = reservation.wait().await;
    {
        // Released: the next reserve may come.
        let mut inner = t.control.lock();
        if inner
            .slot
            .as_ref()
            .is_some_and(|s| matches!(s.stage, Stage::Waiting))
        {
            inner.slot = None;
        }
    }
    let mut body = t.state().await;
    let (status, metrics) = match ended {
        Ok(Ok(success)) => (StatusCode::OK, success.metrics),
        Ok(Err(failure)) => {
            body["errorType"] = failure.error_type.as_str().into();
            (StatusCode::BAD_GATEWAY, failure.metrics)
        }
        Err(refused) => return phase_refused(refused),
    };
    body["responseMetrics"] = response_metrics(metrics.response);
    json(status, body)
}

impl Reservations {
    /// Puts a reservation back in its slot (the slot is still this one's:
    /// only a reset empties it meanwhile, and then the reservation is
    /// dropped).
    fn put_back(&self, stage: Stage) {
        if let Some(slot) = self.lock().slot.as_mut() {
            slot.stage = stage;
        }
    }
}
