//! The engine: the one task that owns the lifecycle of a sandbox.
//!
//! HTTP handlers and the reaper send it [`Message`]s; where an answer is due
//! the message carries a oneshot. A pending `next` (the runtime's or an
//! extension's) is such a oneshot, held here until there is an event to hand
//! out. Nothing else holds lifecycle state, and nothing here blocks on I/O
//! other than reading `/proc`.
//!
//! The topics: `init` (starting extensions and the runtime, the init gate),
//! `invoke` (dispatch, answers, completion, REPORT), `extensions` (the
//! Extensions API calls), `teardown` (reset and shutdown with their budget),
//! `restore` (init caching: restore and the credentials endpoint).

mod concurrent;
mod extensions;
mod freeze;
mod init;
mod invocations;
mod invoke;
mod message;
mod phase;
#[cfg(test)]
mod property;
mod restore;
mod teardown;

use crate::config::FunctionConfig;
use crate::generation::Generations;
use crate::lifecycle::deadlines::{self, after, Deadlines, Due, QueueClocks};
use crate::lifecycle::{
    self, AwaitInit, Disruption, InitAsked, InvalidTransition, InvokeAsked, Outcome, ResetStep,
    RuntimeInput, RuntimeState, ShutdownStep, Start, Verdict, View, WaitingExpired,
};
use crate::supervisor::{Caller, Ownership, ProcessExit, Processes};
use extensions::Extensions;
use interop::contract::{
    InitFailure, InitRequest, InitSuccess, PhaseRefused, ResetReason, ResetSuccess,
    ResponseMetrics, ShutdownReason, ShutdownSuccess,
};
use interop::{ErrorType, FunctionError, Invoke, InvokeOutcome};
use invocations::Invocations;
use message::{refuse, reply_shutdown, shutdown_failure};
pub(crate) use message::{Dispatched, Done, ExtReply, InitDone, Message, Reply};
use phase::Phase;
pub use restore::RestoreFailed;
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

struct Runtime {
    pid: i32,
    /// When `state` was entered.
    since: SystemTime,
    /// When it last answered an invoke.
    answered_at: Option<SystemTime>,
    /// The runtime's own peak RSS, known once it has exited.
    exited_max_rss_kb: Option<u64>,
    state: RuntimeState,
    /// The runtime's pending `next`, when it is waiting in one.
    next: Option<Reply<Dispatched>>,
    /// Multi-concurrency: its further pending `next` polls (one per idle
    /// worker), beside `next`.
    polls: Vec<Reply<Dispatched>>,
    /// Its pending `restore/next` (init caching), until a restore starts.
    restore_next: Option<Reply<()>>,
    /// Multi-concurrency: the latest invokes that timed out while a worker
    /// of this runtime held them, whose late answers are refused with `410`.
    timed_out: VecDeque<String>,
}

/// How many timed-out request ids are remembered for their late answers.
const TIMED_OUT_KEPT: usize = 1024;

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

impl Runtime {
    /// Moves the runtime through its state table, or says why `input` is
    /// not allowed now (`403 InvalidStateTransition`).
    fn step(&mut self, input: RuntimeInput) -> Result<(), InvalidTransition> {
        let next = self.state.on(input)?;
        self.set_state(next);
        Ok(())
    }

    /// It waits in at least one `next`.
    fn polls(&self) -> bool {
        self.next.is_some() || !self.polls.is_empty()
    }

    /// Remembers `request_id` timed out, for its late answer.
    fn timed_out(&mut self, request_id: &str) {
        if self.timed_out.len() == TIMED_OUT_KEPT {
            self.timed_out.pop_front();
        }
        self.timed_out.push_back(request_id.to_owned());
    }

    /// `request_id` timed out lately.
    fn has_timed_out(&self, request_id: &str) -> bool {
        self.timed_out.iter().any(|id| id == request_id)
    }

    fn set_state(&mut self, state: RuntimeState) {
        let changed = state != self.state;
        let answered = matches!(
            state,
            RuntimeState::RuntimeResponseSentState | RuntimeState::InvocationErrorResponse
        );
        if changed || answered {
            let now = SystemTime::now();
            if changed {
                self.since = now;
            }
            if answered {
                self.answered_at = Some(now);
            }
        }
        self.state = state;
    }
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
            if self.phase() == lifecycle::Phase::Shutdown {
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

    fn handle(&mut self, message: Message) {
        match message {
            Message::Invoke {
                invoke,
                reply,
                done,
            } => {
                if lifecycle::on_invoke_asked(self.phase()) == InvokeAsked::ShuttingDown {
                    if let Some(done) = done {
                        let _ = done.send(Err(shutdown_failure(&invoke)));
                    }
                    reply_shutdown(invoke, reply);
                    return;
                }
                let deadline = self.slot_wait_deadline(invoke.accepted);
                self.queue.push_back(Queued {
                    invoke,
                    reply,
                    done,
                    deadline,
                });
                self.drive();
            }
            Message::Init { request, reply } => {
                let started = self.init_now(request.map(|r| *r));
                if let Some(reply) = reply {
                    let _ = reply.send(started);
                }
            }
            Message::AwaitInit(reply) => match lifecycle::on_await_init(self.phase()) {
                AwaitInit::Wait => self.init_waiters.push(reply),
                AwaitInit::LastOutcome => {
                    let _ = reply.send(self.last_init.clone().ok_or(PhaseRefused::NotInitialized));
                }
            },
            Message::Next { caller, reply } => self.on_next(caller, reply),
            Message::Response {
                request_id,
                body,
                content_type,
                reply,
            } => {
                let _ = reply.send(self.on_response(&request_id, body, content_type));
            }
            Message::StreamStart {
                request_id,
                content_type,
                reply,
            } => {
                let _ = reply.send(self.start_stream(&request_id, content_type));
            }
            Message::StreamEnd {
                request_id,
                end,
                reply,
            } => {
                let _ = reply.send(self.end_stream(&request_id, end));
            }
            Message::Error {
                request_id,
                error,
                reply,
            } => {
                let _ = reply.send(self.on_error(&request_id, error.into_function_error()));
            }
            Message::InitError {
                report,
                caller,
                reply,
            } => {
                let _ = reply.send(self.on_init_error(report, caller));
            }
            Message::Register {
                request,
                caller,
                reply,
            } => {
                let _ = reply.send(self.on_register(request, caller));
            }
            Message::ExtensionNext { id, reply } => self.on_extension_next(id, reply),
            Message::ExtensionInitError {
                id,
                error_type,
                reply,
            } => {
                let _ = reply.send(self.on_extension_init_error(id, &error_type));
            }
            Message::ExtensionExitError {
                id,
                error_type,
                reply,
            } => {
                let _ = reply.send(self.on_extension_exit_error(id, &error_type));
            }
            Message::Exited(exit) => self.on_exit(exit),
            Message::Shutdown { budget, done } => self.begin_shutdown(Some(done), budget),
            Message::InternalState(reply) => {
                let _ = reply.send(self.internal_state());
            }
            Message::Reset { reason, done } => self.reset(reason, done),
            Message::RestoreNext { caller, reply } => self.on_restore_next(caller, reply),
            Message::RestoreError { report, reply } => {
                let _ = reply.send(self.on_restore_error(report));
            }
            Message::Restore { request, done } => self.on_restore_request(*request, done),
            Message::Credentials { token, reply } => {
                let _ = reply.send(self.on_credentials(token));
            }
        }
    }

    /// Starts an init now, with what `request` says about the function.
    /// Without a request (`--eager-init`) an init already done or under way
    /// is fine; with one, the caller meant a new init and is told.
    fn init_now(&mut self, request: Option<InitRequest>) -> Result<(), PhaseRefused> {
        match lifecycle::on_init_asked(self.phase(), request.is_some()) {
            InitAsked::ShuttingDown => Err(PhaseRefused::ShuttingDown),
            InitAsked::AlreadyInitialized => Err(PhaseRefused::AlreadyInitialized),
            InitAsked::Nothing => Ok(()),
            InitAsked::Start => {
                if let Some(request) = request {
                    self.cfg = Arc::new(self.cfg.with_init(&request));
                }
                self.start_init(None);
                Ok(())
            }
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
        // Every start needs a waiting invoke or a restore asked for; most
        // calls (a runtime's answer, an extension's next) find neither.
        if self.queue.is_empty() && self.restore_waiters.is_empty() {
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

    fn on_exit(&mut self, exit: ProcessExit) {
        // The kernel killed a process of the sandbox for memory since the
        // last exit: this one (a SIGKILL), as far as rapid can tell.
        let oom_kills = self.processes.oom_kills();
        let out_of_memory = oom_kills > self.oom_kills_seen
            && exit.status
                == crate::supervisor::ExitStatus::Signal(nix::sys::signal::Signal::SIGKILL);
        self.oom_kills_seen = oom_kills;
        if self.runtime.as_ref().is_some_and(|rt| rt.pid == exit.pid) {
            self.on_runtime_exit(exit, out_of_memory);
        } else if self.extensions.is_process(exit.pid) {
            self.on_extension_exit(exit);
        }
        // Anything else is an orphan (or a process of a torn-down
        // generation): reaped, nothing more to do.
        self.drive();
    }

    fn on_runtime_exit(&mut self, exit: ProcessExit, out_of_memory: bool) {
        if let Some(rt) = self.runtime.as_mut() {
            rt.exited_max_rss_kb = Some(exit.max_rss_kb);
        }
        let why = format!("Runtime exited with error: {}", exit.status);
        tracing::debug!(pid = exit.pid, reason = %why, "runtime exited");
        let verdict = self.verdict(Disruption::RuntimeExited);
        match verdict {
            Verdict::TeardownGoesOn => self.teardown_runtime_exited(),
            Verdict::ResetNow => {
                tracing::warn!(pid = exit.pid, reason = %why, "the runtime exited while idle; the next invoke starts a new one");
                self.begin_teardown(ShutdownReason::Failure);
            }
            Verdict::FailInvoke(Outcome::Answered) => {
                tracing::warn!(pid = exit.pid, reason = %why, "the runtime exited after answering; the next invoke starts a new one");
            }
            _ => {}
        }
        let error_type = if out_of_memory {
            tracing::warn!(
                pid = exit.pid,
                "the runtime was killed for using more than the function's memory"
            );
            ErrorType::RuntimeOutOfMemory
        } else {
            ErrorType::RuntimeExitError
        };
        self.cut_short(verdict, error_type, &why);
    }

    /// What `lifecycle::on_disruption` says `what` does now.
    fn verdict(&self, what: Disruption) -> Verdict {
        lifecycle::on_disruption(self.phase(), self.phase.answered(), what)
    }

    /// Carries out a verdict that fails what runs (an init, a restore, an
    /// invoke) with `error_type` and `why` (after `RequestId: <id> Error: `
    /// when an invoke is concerned); the other verdicts are the caller's.
    fn cut_short(&mut self, verdict: Verdict, error_type: ErrorType, why: &str) {
        let message = |request_id: Option<&str>| match request_id {
            Some(id) => format!("RequestId: {id} Error: {why}"),
            None => format!("Error: {why}"),
        };
        let waiting = self.queue.front().map(|q| q.invoke.request_id.as_str());
        match verdict {
            Verdict::FailInit(outcome) => {
                let err = FunctionError::new(error_type, &message(waiting));
                self.init_failed(err, invoke_status(outcome));
            }
            Verdict::FailRestore(outcome) => {
                let err = FunctionError::new(error_type, &message(waiting));
                self.restore_failed(err, invoke_status(outcome));
            }
            Verdict::FailInvoke(outcome) => self.fail_invocations(
                |id| FunctionError::new(error_type.clone(), &message(Some(id))),
                invoke_status(outcome),
            ),
            Verdict::TeardownGoesOn
            | Verdict::Refused
            | Verdict::ResetAfterInvoke
            | Verdict::ResetNow
            | Verdict::NothingRuns
            | Verdict::Abandon => {}
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

    /// A reset asked from outside (the control API, the contract): it
    /// cuts short whatever runs. An unanswered invoke fails with
    /// `Sandbox.Timedout` or `Sandbox.Failure`, an init under way fails
    /// the same way; an invoke the runtime already answered is let
    /// complete first.
    fn reset(
        &mut self,
        reason: ResetReason,
        done: oneshot::Sender<Result<ResetSuccess, PhaseRefused>>,
    ) {
        let timeout = reason == ResetReason::Timeout;
        let verdict = self.verdict(Disruption::ResetAsked { timeout });
        if verdict == Verdict::Refused {
            let _ = done.send(Err(PhaseRefused::ShuttingDown));
            return;
        }
        let shutdown_reason = ShutdownReason::from(reason);
        self.reset_waiters.push((Instant::now(), done));
        self.last_init = None;
        if let Some(current) = self.phase.invocations().and_then(Invocations::current) {
            self.reset_response = current.response_metrics();
        }
        let (error_type, why) = match reason {
            ResetReason::Timeout => (
                ErrorType::SandboxTimedout,
                "the execution environment was reset (timeout)",
            ),
            ResetReason::Failure => (
                ErrorType::SandboxFailure,
                "the execution environment was reset (failure)",
            ),
        };
        match verdict {
            // The invoke has its answer and waits only for the runtime and
            // the extensions to ask for their next event.
            Verdict::ResetAfterInvoke => {
                self.pending_reset.get_or_insert(shutdown_reason);
            }
            Verdict::ResetNow | Verdict::TeardownGoesOn => self.begin_reset(shutdown_reason),
            // No generation to tear down: a restore asked will not run in
            // it, and the reset is done.
            Verdict::NothingRuns => {
                self.abandon_restore(RestoreFailed::Reset);
                self.reset_done();
            }
            cut => self.cut_short(cut, error_type, why),
        }
    }

    /// Starts the reset asked while an invoke was completing, if any.
    fn start_pending_reset(&mut self) {
        if let Some(reason) = self.pending_reset.take() {
            self.begin_reset(reason);
        }
    }

    fn begin_reset(&mut self, reason: ShutdownReason) {
        if lifecycle::reset_step(self.phase()) == ResetStep::BeginTeardown {
            self.begin_teardown(reason);
        }
        // Nothing to wait for (no extension, or nothing running).
        if lifecycle::reset_step(self.phase()) == ResetStep::Done {
            self.reset_done();
        }
    }

    /// The reset finished: tell who asked how long it took.
    fn reset_done(&mut self) {
        // Whatever ended the sandbox (the reset, a failure, a shutdown), a
        // reset still asked for is done.
        self.pending_reset = None;
        let response = self.reset_response.take();
        for (since, done) in self.reset_waiters.drain(..) {
            let _ = done.send(Ok(ResetSuccess {
                extensions_reset: since.elapsed(),
                response,
            }));
        }
    }

    /// Remembers the first error that failed an init or an invoke.
    fn fatal(&mut self, error_type: &ErrorType) {
        self.first_fatal.get_or_insert_with(|| error_type.clone());
    }

    // ---- time -------------------------------------------------------------

    /// The deadlines the environment holds now.
    fn deadlines(&self) -> Deadlines {
        Deadlines {
            waiting: self.waiting_deadline(),
            teardown: self.phase.teardown().and_then(|t| t.next_deadline()),
            init: self.phase.init().map(|i| i.deadline),
            restore: self.phase.restore().map(|r| r.deadline),
            invoke: self
                .phase
                .invocations()
                .and_then(Invocations::earliest_deadline),
            idle: deadlines::idle_deadline(
                self.phase(),
                !self.queue.is_empty() || !self.restore_waiters.is_empty(),
                self.idle_since,
                self.cfg.idle_timeout,
            ),
        }
    }

    /// The timer fired (possibly early): handles every deadline that has
    /// passed, in `Due::ORDER`, each looked at after the one before was
    /// handled.
    fn on_deadline(&mut self) {
        let now = Instant::now();
        for due in Due::ORDER {
            if !self.deadlines().has_passed(due, now) {
                continue;
            }
            match due {
                Due::Waiting => self.waiting_timed_out(),
                Due::Teardown => self.teardown_timer(now),
                Due::Init => self.init_timed_out(),
                Due::Restore => self.restore_timed_out(),
                Due::Invoke => self.invoke_timed_out(),
                Due::Idle => self.idle_timed_out(),
            }
        }
        self.drive();
    }

    /// Idle for the idle timeout: the environment is retired as Lambda
    /// retires one (SHUTDOWN with reason spindown, the budget, SIGKILL);
    /// the next invoke starts a new one.
    fn idle_timed_out(&mut self) {
        let idle = self.idle_since.elapsed();
        tracing::info!(
            idle_s = idle.as_secs(),
            "idle for the idle timeout: shutting the execution environment down (spindown)"
        );
        self.begin_teardown(ShutdownReason::Spindown);
    }

    /// The deadline of an invoke whose clock runs while it waits for a
    /// reset (see `drive`).
    /// With multi-concurrency, the soonest deadline of the invokes that
    /// wait for a free slot of an initialized runtime.
    fn waiting_deadline(&self) -> Option<Instant> {
        match deadlines::queue_clocks(self.multi_concurrency(), self.phase()) {
            QueueClocks::Each => self.queue.iter().filter_map(|q| q.deadline).min(),
            QueueClocks::Head => self.queue.front().and_then(|q| q.deadline),
            QueueClocks::Nothing => None,
        }
    }

    fn waiting_timed_out(&mut self) {
        let now = Instant::now();
        let expired: VecDeque<Queued> =
            match lifecycle::on_waiting_deadline(self.multi_concurrency()) {
                WaitingExpired::EachPast => {
                    let (expired, waiting) = std::mem::take(&mut self.queue)
                        .into_iter()
                        .partition(|q| q.deadline.is_some_and(|at| at <= now));
                    self.queue = waiting;
                    expired
                }
                WaitingExpired::Head => self.queue.pop_front().into_iter().collect(),
            };
        for queued in expired {
            let message = format!(
                "RequestId: {} Error: Task timed out after {:.2} seconds",
                queued.invoke.request_id,
                self.cfg.timeout.as_secs_f64()
            );
            let err = FunctionError::new(ErrorType::SandboxTimedout, &message);
            self.fail_undispatched(queued, err, telemetry::InvokeStatus::Timeout);
        }
    }

    // ---- shutdown ---------------------------------------------------------

    /// Carries out what `lifecycle::on_shutdown_asked` says a shutdown
    /// does now; `done` is told when it is over.
    fn begin_shutdown(
        &mut self,
        done: Option<oneshot::Sender<ShutdownSuccess>>,
        budget: Option<Duration>,
    ) {
        let steps = lifecycle::on_shutdown_asked(self.phase(), self.phase.answered());
        // What ran before: the init, the restore or the invokes the steps
        // below end.
        let mut before = self.phase.shutdown_asked(done, budget);
        for step in steps {
            match step {
                ShutdownStep::RefuseQueued => {
                    for queued in self.queue.drain(..) {
                        if let Some(done) = queued.done {
                            let _ = done.send(Err(shutdown_failure(&queued.invoke)));
                        }
                        reply_shutdown(queued.invoke, queued.reply);
                    }
                }
                ShutdownStep::Abandon => {
                    if matches!(before, Some(Phase::Initializing(_) | Phase::Restoring(_))) {
                        before = None;
                    }
                    self.abandon_restore(RestoreFailed::ShuttingDown);
                }
                ShutdownStep::FailInvoke(outcome) => {
                    if let Some(Phase::Serving(invocations)) = before.take() {
                        let err = FunctionError::new(
                            ErrorType::SandboxShutdown,
                            "The execution environment shut down during the invocation.",
                        );
                        self.fail_taken(invocations, |_| err.clone(), invoke_status(outcome));
                    }
                }
                ShutdownStep::BeginTeardown => {
                    // The workers inside timed-out invokes go with the
                    // environment.
                    if let Some(Phase::Serving(mut invocations)) = before.take() {
                        invocations.release_held_slots();
                    }
                    self.begin_teardown(ShutdownReason::Spindown);
                }
            }
        }
    }
}

/// The status of an invoke (or init, or restore) that ended with `outcome`.
fn invoke_status(outcome: Outcome) -> telemetry::InvokeStatus {
    match outcome {
        Outcome::Error => telemetry::InvokeStatus::Error,
        Outcome::Timeout => telemetry::InvokeStatus::Timeout,
        Outcome::Answered => telemetry::InvokeStatus::Success,
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
            match rx.recv().await {
                Some(Message::Exited(_)) => {}
                Some(Message::Shutdown { done, .. }) => waiting.push(done),
                Some(other) => refuse(other),
                None => return,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
}

/// A call that only a process of the current generation may make came from
/// outside its process trees: a request a killed process sent before a
/// reset, read only now, or a process rapid did not start. A connection
/// accepted during another generation than `current` is foreign for sure;
/// otherwise the owner of its socket is looked up, and when it cannot be
/// told (no `/proc`), the call is let through.
fn is_foreign(caller: Option<Caller>, current: Option<u64>, roots: &[i32], what: &str) -> bool {
    let Some(caller) = caller else {
        return false;
    };
    if caller.generation.is_some() && caller.generation != current {
        tracing::warn!(peer = %caller.peer, "refused {what} on a connection of an ended generation (a request of a process from before a reset)");
        return true;
    }
    match crate::supervisor::owner_in_tree(caller, roots) {
        Ownership::Foreign => {
            tracing::warn!(peer = %caller.peer, "refused {what} from a process outside this execution environment (a request of a process from before a reset?)");
            true
        }
        Ownership::Owned(_) | Ownership::Unknown => false,
    }
}

const FOREIGN_RUNTIME: &str =
    "the caller is not the runtime of this execution environment (a process from before a reset?)";

/// The table's refusal, as the Runtime API answers it (`403
/// InvalidStateTransition`, in the table's words): the one place a typed
/// refusal becomes text, at the API's edge.
impl From<InvalidTransition> for ApiError {
    fn from(err: InvalidTransition) -> ApiError {
        invalid_state(&err.to_string())
    }
}

fn invalid_state(message: &str) -> ApiError {
    ApiError::InvalidStateTransition {
        message: message.to_owned(),
    }
}

fn far_future() -> Instant {
    after(Instant::now(), deadlines::FAR_FUTURE)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(generation: Option<u64>) -> Option<Caller> {
        Some(Caller {
            peer: "127.0.0.1:1".parse().expect("an address"),
            local: "127.0.0.1:2".parse().expect("an address"),
            generation,
        })
    }

    #[test]
    fn a_connection_of_another_generation_is_foreign_without_a_look_up() {
        // No process owns these addresses: only the generation can tell.
        assert!(is_foreign(caller(Some(1)), Some(2), &[], "a test call"));
        assert!(is_foreign(caller(Some(1)), None, &[], "a test call"));
        assert!(!is_foreign(None, Some(2), &[], "a call with no connection"));
    }
}
