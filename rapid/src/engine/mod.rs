//! The engine: the one task that owns the lifecycle of a sandbox.
//!
//! HTTP handlers and the reaper send it [`Message`]s; where an answer is due
//! the message carries a oneshot. A pending `next` (the runtime's or an
//! extension's) is such a oneshot, held here until there is an event to hand
//! out. Nothing else holds lifecycle state, and nothing here blocks on I/O
//! other than reading `/proc`.
//!
//! Here: the engine's state, its loop and `drive` (whatever may start
//! now). `dispatch` has `handle` (each message to its method); the stored
//! phase with its data is `phase`; the topics: `init` (starting extensions and the runtime, the
//! init gate), `invoke` (dispatch, the runtime's `next` and answers,
//! completion), `current` (the invoke in progress), `report` (END / REPORT
//! and the failures that end invokes), `concurrent` (multi-concurrency),
//! `extensions` (the Extensions API calls), `disruption` (exits, resets and
//! shutdowns asked), `teardown` (their budget), `clock` (the deadlines),
//! `restore` (init caching: restore and the credentials endpoint),
//! `runtime` (the runtime process as held here).

mod clock;
mod concurrent;
mod current;
mod dispatch;
mod disruption;
mod extensions;
mod freeze;
mod init;
mod invocations;
mod invoke;
mod message;
mod phase;
#[cfg(test)]
mod property;
mod report;
mod restore;
mod runtime;
mod teardown;

use crate::config::FunctionConfig;
use crate::generation::Generations;
use crate::lifecycle::deadlines::{self, after};
use crate::lifecycle::{self, Admit, Start, View};
use crate::supervisor::Processes;
use clock::far_future;
use extensions::Extensions;
use interop::contract::{
    InitFailure, InitSuccess, PhaseRefused, ResetSuccess, ResponseMetrics, ShutdownReason,
    ShutdownSuccess,
};
use interop::{ErrorType, Invoke, InvokeOutcome};
use invocations::Invocations;
use message::{refuse, reply_shutdown, shutdown_failure};
pub(crate) use message::{
    Dispatched, Done, ExtReply, ExtensionMessage, InitDone, Message, Reply, RuntimeMessage,
};
use phase::Phase;
pub use restore::RestoreFailed;
use runtime::{is_foreign, Runtime, FOREIGN_RUNTIME};
use runtime_api::ApiError;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use telemetry::LogHub;
use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep_until;

struct Queued {
    invoke: Invoke,
    reply: Option<oneshot::Sender<InvokeOutcome>>,
    /// Told when the invoke is complete.
    done: Option<Done>,
    /// Set when the invoke's clock already runs (an init retried for it).
    deadline: Option<Instant>,
}

pub(crate) struct Engine {
    cfg: Arc<FunctionConfig>,
    api_address: String,
    logs: LogHub,
    queue: VecDeque<Queued>,
    runtime: Option<Runtime>,
    extensions: Extensions,
    /// What the environment is doing, with what that holds: the init or
    /// the restore under way, the invokes in flight, a teardown, a
    /// shutdown asked.
    phase: Phase,
    /// Init duration waiting for the next REPORT line.
    init_duration: Option<Duration>,
    /// The last init failed: the next one runs inside the invoke's time.
    retry_init: bool,
    /// Spawns this sandbox's processes and kills them.
    processes: Processes,
    /// The first error that failed an init or an invoke since the sandbox
    /// last initialized well.
    first_fatal: Option<ErrorType>,
    /// Who asked for the reset under way, and since when.
    reset_waiters: Vec<(Instant, oneshot::Sender<Result<ResetSuccess, PhaseRefused>>)>,
    /// The response metrics of the invoke the reset under way cut short.
    reset_response: Option<ResponseMetrics>,
    /// A reset asked once the runtime had answered: it starts as soon as
    /// the invoke is complete.
    pending_reset: Option<ShutdownReason>,
    /// Who waits for the init under way to end.
    init_waiters: Vec<InitDone>,
    /// How the last init ended, until a reset forgets it.
    last_init: Option<Result<InitSuccess, InitFailure>>,
    /// Who waits for a restore to be done.
    restore_waiters: Vec<restore::RestoreDone>,
    /// The hook timeout the caller of the next restore asked for.
    restore_timeout: Option<Duration>,
    /// Restore duration waiting for the next REPORT line.
    restore_duration: Option<Duration>,
    /// The credentials this generation is served (init caching).
    credentials: Option<restore::CredentialStore>,
    /// The generation running (its cancellation and tasks), published to
    /// the loopback server.
    generations: Generations,
    /// When the environment last became idle (an init, an invoke or a
    /// restore ended), for the idle timeout.
    idle_since: Instant,
    /// Its processes are frozen between invokes (`Processes::freeze`).
    frozen: bool,
    /// The memory cgroup's OOM kills already accounted for.
    oom_kills_seen: u64,
}

impl Engine {
    pub(crate) fn new(
        cfg: Arc<FunctionConfig>,
        api_address: String,
        logs: LogHub,
        processes: Processes,
        generations: Generations,
    ) -> Self {
        Engine {
            cfg,
            api_address,
            logs,
            queue: VecDeque::new(),
            runtime: None,
            extensions: Extensions::default(),
            phase: Phase::Uninitialized,
            init_duration: None,
            retry_init: false,
            processes,
            first_fatal: None,
            reset_waiters: Vec::new(),
            reset_response: None,
            pending_reset: None,
            init_waiters: Vec::new(),
            last_init: None,
            restore_waiters: Vec::new(),
            restore_timeout: None,
            restore_duration: None,
            credentials: None,
            generations,
            idle_since: Instant::now(),
            frozen: false,
            oom_kills_seen: 0,
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Message>) {
        // One timer; `deadlines::rearm` says when it has to move.
        let timer = sleep_until(far_future().into());
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        loop {
            if !lifecycle::takes_messages(self.phase()) {
                break;
            }
            if let Some(at) = deadlines::rearm(armed, self.deadlines().earliest()) {
                timer.as_mut().reset(at.into());
                armed = Some(at);
            }
            let message = tokio::select! {
                message = rx.recv() => message,
                _ = timer.as_mut(), if armed.is_some() => {
                    // Possibly early (the deadline it was armed for has
                    // moved): on_deadline looks at the real ones.
                    armed = None;
                    self.on_deadline();
                    self.drive();
                    continue;
                }
            };
            match message {
                Some(message) => self.handle(message),
                None => self.begin_shutdown(None, None),
            }
            #[cfg(test)]
            self.check_phase();
            // Whatever happened may let a queued invoke start (an init that
            // failed at once, a teardown that finished on the spot...), or
            // leave the environment idle.
            self.drive();
            self.freeze_if_idle();
        }
        // The teardown ended the generation; its tasks stop before rapid
        // says it is done.
        self.generations.stop(Duration::from_secs(1)).await;
        self.processes.kill_all();
        let mut waiting = self.phase.take_waiting();
        wait_for_children(&self.processes, &mut rx, &mut waiting).await;
        self.logs.flush().await;
        // The generation's first fatal error, as the contract promises.
        let done = ShutdownSuccess {
            first_fatal_error: self.first_fatal.clone(),
        };
        for waiter in waiting {
            let _ = waiter.send(done.clone());
        }
    }

    /// The environment's phase, as the lifecycle's tables take it.
    fn phase(&self) -> lifecycle::Phase {
        self.phase.name()
    }

    /// Multi-concurrency is on (`AWS_LAMBDA_MAX_CONCURRENCY`): an input of
    /// the tables; the engine itself matches on `Invocations`.
    fn multi_concurrency(&self) -> bool {
        self.cfg.max_concurrency.is_some()
    }

    /// The invokes in flight of a runtime that has just initialized.
    fn serving(&self) -> Phase {
        Phase::Serving(Invocations::new(self.cfg.max_concurrency))
    }

    /// What the phase promises of the rest of the state, checked after
    /// every message in the crate's tests (the property test drives the
    /// engine through random sequences, and reports a panic as broken):
    /// in `Ready` every extension is settled, which is why freezing looks
    /// at the phase only (`lifecycle::may_freeze`).
    #[cfg(test)]
    fn check_phase(&self) {
        if self.phase() == lifecycle::Phase::Ready {
            assert!(
                self.extensions.all_ready(),
                "Ready with an extension that is not waiting in next"
            );
        }
    }

    /// What `lifecycle::next_start` decides on.
    fn view(&self) -> View {
        View {
            phase: self.phase(),
            runtime: self.runtime.as_ref().map(|rt| rt.state),
            runtime_polls: self.runtime.as_ref().is_some_and(Runtime::polls),
            extensions_settled: self.extensions.all_ready(),
            queued: !self.queue.is_empty(),
            restore_asked: !self.restore_waiters.is_empty(),
            init_caching: self.init_caching(),
            retry_init: self.retry_init,
            concurrent: self.multi_concurrency(),
        }
    }

    /// Starts whatever the environment may start now (an init, a restore,
    /// the next invoke), as `lifecycle::next_start` decides, until nothing
    /// more may start.
    fn drive(&mut self) {
        if deadlines::head_clock_runs(self.phase(), self.retry_init) {
            let timeout = self.cfg.timeout;
            if let Some(head) = self.queue.front_mut() {
                head.deadline
                    .get_or_insert_with(|| after(Instant::now(), timeout));
            }
        }
        // Most calls find nothing to start: no view is built for them.
        if !lifecycle::anything_to_start(!self.queue.is_empty(), !self.restore_waiters.is_empty()) {
            return;
        }
        loop {
            match lifecycle::next_start(&self.view()) {
                Start::Nothing => return,
                Start::Init { suppressed } => {
                    let timeout = self.cfg.timeout;
                    // Suppressed init: the retry counts against the invoke.
                    let deadline = self.queue.front_mut().filter(|_| suppressed).map(|head| {
                        *head
                            .deadline
                            .get_or_insert_with(|| after(Instant::now(), timeout))
                    });
                    // A start that fails at once fails the head invoke and
                    // tears down; the loop then goes round again.
                    self.start_init(deadline);
                }
                Start::Restore => self.start_restore(),
                Start::RestoreWithoutHooks => self.restored_without_hooks(),
                Start::Dispatch => {
                    if !self.dispatch() {
                        return;
                    }
                }
            }
        }
    }

    /// The runtime's and extensions' states, for the control API.
    fn internal_state(&self) -> interop::state::InternalState {
        interop::state::InternalState {
            runtime: self
                .runtime
                .as_ref()
                .map(|rt| interop::state::StateDescription {
                    name: rt.state.name(),
                    last_modified_ms: epoch_ms(rt.since),
                    response_time_ns: rt.answered_at.map_or(0, epoch_ns),
                }),
            extensions: self.extensions.describe(),
            first_fatal_error: self.first_fatal.as_ref().map(ToString::to_string),
        }
    }

    /// Remembers the first error that failed an init or an invoke.
    fn fatal(&mut self, error_type: &ErrorType) {
        self.first_fatal.get_or_insert_with(|| error_type.clone());
    }
}

/// Reaps what was killed at shutdown, so no zombie outlives rapid; bounded,
/// because a process in uninterruptible sleep may take its time. A
/// shutdown asked meanwhile joins `waiting`.
async fn wait_for_children(
    processes: &Processes,
    rx: &mut mpsc::UnboundedReceiver<Message>,
    waiting: &mut Vec<oneshot::Sender<ShutdownSuccess>>,
) {
    let wait = async {
        while processes.any_alive() {
            let Some(message) = rx.recv().await else {
                return;
            };
            match lifecycle::on_call(lifecycle::Phase::Shutdown, message.call()) {
                Admit::ShuttingDown => refuse(message),
                // An exit is reaped; a further shutdown waits for the end.
                Admit::Handle => {
                    if let Message::Shutdown { done, .. } = message {
                        waiting.push(done);
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
}

fn invalid_state(message: &str) -> ApiError {
    ApiError::InvalidStateTransition {
        message: message.to_owned(),
    }
}

/// The Unix epoch milliseconds of an instant.
fn epoch_ms_at(at: Instant) -> u64 {
    let now_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now = Instant::now();
    let epoch = if at >= now {
        now_epoch.saturating_add(at - now)
    } else {
        now_epoch.saturating_sub(now - at)
    };
    u64::try_from(epoch.as_millis()).unwrap_or(u64::MAX)
}

/// Unix epoch milliseconds of a wall-clock time.
fn epoch_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Unix epoch nanoseconds of a wall-clock time.
fn epoch_ns(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64
}

fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
