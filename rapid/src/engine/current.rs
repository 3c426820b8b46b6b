//! The invoke in progress (`Current`): who waits for its answer, its
//! deadline, its answer's place in the runtime's table, its timings, and
//! `platform.start` / `platform.runtimeDone` for it.

use super::{Done, Runtime};
use crate::lifecycle::{InvalidTransition, RuntimeInput, RuntimeState};
use bytes::Bytes;
use interop::contract::{ResponseMetrics, ResponseMode};
use interop::{ErrorType, FunctionError, InvokeOutcome, InvokeResponse};
use std::time::{Duration, Instant, SystemTime};
use telemetry::events::{RuntimeDone, RuntimeDoneMetrics, Span, Start, Status, Tracing};
use telemetry::{InvokeStatus, InvokeTimings, LogHub, PlatformEvent};
use tokio::sync::oneshot;

/// The invoke in progress.
pub(super) struct Current {
    pub(super) request_id: String,
    pub(super) reply: Option<oneshot::Sender<InvokeOutcome>>,
    /// Told when the invoke is complete.
    pub(super) done: Option<Done>,
    /// The runtime streams its response.
    pub(super) streamed: bool,
    pub(super) tail: Option<oneshot::Sender<Bytes>>,
    pub(super) tail_rx: Option<oneshot::Receiver<Bytes>>,
    pub(super) dispatched: Instant,
    pub(super) deadline: Instant,
    pub(super) init_duration: Option<Duration>,
    /// The restore this invoke waited for (init caching), if any.
    pub(super) restore_duration: Option<Duration>,
    /// When the runtime answered, how, and with which error type.
    pub(super) answered: Option<(Instant, InvokeStatus, Option<ErrorType>)>,
    /// How a streamed response ends, while it streams.
    pub(super) stream_end: Option<oneshot::Sender<Result<(), FunctionError>>>,
    pub(super) timings: InvokeTimings,
    /// When the runtime asked for its next invoke after answering.
    pub(super) runtime_done: Option<Instant>,
    /// Multi-concurrency: where the runtime's answer to this invoke is in
    /// the runtime's table (from `Running`); `None` with one invoke at a
    /// time, where the runtime's own state is.
    pub(super) answer_state: Option<RuntimeState>,
    /// Multi-concurrency: the invoke timed out while its worker is still
    /// inside it: its completion waits in `Workers.held_slots`.
    pub(super) holds_slot: bool,
}

impl Current {
    pub(super) fn new(
        queued_reply: Option<oneshot::Sender<InvokeOutcome>>,
        done: Option<Done>,
        request_id: String,
        log_tail: bool,
        deadline: Instant,
    ) -> Self {
        let (tail, tail_rx) = if log_tail {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        Current {
            request_id,
            reply: queued_reply,
            done,
            streamed: false,
            tail,
            tail_rx,
            dispatched: Instant::now(),
            deadline,
            init_duration: None,
            restore_duration: None,
            answered: None,
            stream_end: None,
            timings: InvokeTimings::default(),
            runtime_done: None,
            answer_state: None,
            holds_slot: false,
        }
    }

    /// Steps this invoke's answer through the runtime's table: its own
    /// place in it (multi-concurrency), else the runtime's state.
    pub(super) fn step_answer(
        &mut self,
        rt: &mut Runtime,
        inputs: &[RuntimeInput],
    ) -> Result<(), InvalidTransition> {
        let from = self.answer_state.unwrap_or(rt.state);
        let state = inputs
            .iter()
            .try_fold(from, |state, input| state.on(*input))?;
        match self.answer_state.as_mut() {
            Some(own) => *own = state,
            None => rt.set_state(state),
        }
        Ok(())
    }

    /// The status of its answer (success when it has none yet).
    pub(super) fn answer_status(&self) -> InvokeStatus {
        self.answered
            .as_ref()
            .map_or(InvokeStatus::Success, |(_, status, _)| *status)
    }

    /// When the runtime answered, and the answer's error type.
    pub(super) fn answered_at(&self) -> Option<(Instant, Option<ErrorType>)> {
        let (at, _, error_type) = self.answered.as_ref()?;
        Some((*at, error_type.clone()))
    }

    /// Fails the unanswered invoke at `now` with `err`: its
    /// `platform.runtimeDone`, and the error to its invoker (or to the end
    /// of a stream already under way).
    pub(super) fn fail(
        &mut self,
        err: FunctionError,
        now: Instant,
        status: InvokeStatus,
        logs: &LogHub,
    ) {
        if logs.records_events() {
            logs.emit(self.runtime_done(now, status, Some(&err.error_type)));
        }
        self.deliver(Err(err));
    }

    /// Hands the runtime's answer on: to the end of the response under way
    /// when the invoker has its headers already (a stream, a forwarded
    /// body), else to the invoker.
    pub(super) fn deliver(&mut self, result: Result<InvokeResponse, FunctionError>) {
        match self.stream_end.take() {
            Some(stream_end) => {
                let _ = stream_end.send(result.map(drop));
            }
            None => self.send_outcome(result),
        }
    }

    /// `platform.runtimeDone` for the runtime's work on this invoke ending
    /// at `end` with `status`: the spans of its response when it gave one.
    pub(super) fn runtime_done(
        &self,
        end: Instant,
        status: InvokeStatus,
        error_type: Option<&ErrorType>,
    ) -> PlatformEvent {
        let time = SystemTime::now();
        let ran = end.saturating_duration_since(self.dispatched);
        let spans = match (
            self.timings.response_latency,
            self.timings.response_duration,
        ) {
            (Some(latency), Some(duration)) => {
                // The wall-clock time of dispatch, from the event's own.
                let dispatched = time.checked_sub(end.elapsed() + ran).unwrap_or(time);
                vec![
                    Span::response_latency(dispatched, latency),
                    Span::response_duration(dispatched + latency, duration),
                ]
            }
            _ => Vec::new(),
        };
        PlatformEvent {
            time,
            record: RuntimeDone {
                request_id: self.request_id.clone(),
                status: Status::runtime_done(status, error_type),
                error_type: error_type.cloned(),
                metrics: RuntimeDoneMetrics {
                    duration: ran,
                    produced_bytes: self.timings.produced_bytes.unwrap_or(0),
                },
                spans,
                // The log hub gives it platform.start's.
                tracing: None,
            }
            .into(),
        }
    }

    pub(super) fn has_answered(&self) -> bool {
        self.answered.is_some()
    }

    /// What the runtime's answer measured, once it answered (or began to
    /// stream).
    pub(super) fn response_metrics(&self) -> Option<ResponseMetrics> {
        let latency = self.timings.response_latency?;
        Some(ResponseMetrics {
            latency,
            duration: self.timings.response_duration.unwrap_or_default(),
            produced_bytes: self.timings.produced_bytes.unwrap_or_default(),
            mode: if self.streamed {
                ResponseMode::Streaming
            } else {
                ResponseMode::Buffered
            },
        })
    }

    /// Hands the result to the invoker (once).
    pub(super) fn send_outcome(&mut self, result: Result<InvokeResponse, FunctionError>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(InvokeOutcome {
                request_id: self.request_id.clone(),
                result,
                log_tail: self.tail_rx.take(),
            });
        }
    }
}

/// `platform.start`, beside the START line.
pub(super) fn start_event(request_id: &str, version: &str, trace_id: &str) -> PlatformEvent {
    PlatformEvent::now(Start {
        request_id: request_id.to_owned(),
        version: version.to_owned(),
        tracing: (!trace_id.is_empty()).then(|| Tracing {
            value: trace_id.to_owned(),
            // The log hub gives it one.
            span_id: None,
        }),
    })
}
