//! The handle the rest of the world holds on a sandbox: the front door asks
//! it to run invokes through the contract (here), the Runtime API and
//! Extensions API adapters report their calls through it (`apis.rs`).
//! Every call is a message to the engine task.

mod apis;

use crate::config::FunctionConfig;
use crate::engine::{
    Engine, ExtReply, ExtensionMessage, Message, Reply, RestoreFailed, RuntimeMessage,
};
use crate::generation::{CurrentGeneration, Generations};
use crate::supervisor::{Caller, Supervisor};
use extensions_api::ExtensionApiError;
use interop::contract::{
    InitContext, InitFailure, InitRequest, InitSuccess, InvokeContext, InvokeFailure,
    InvokeSuccess, PhaseRefused, ResetReason, ResetSuccess, RestoreSuccess, SandboxContext,
    ShutdownSuccess,
};
use interop::restore::RestoreRequest;
use interop::state::InternalState;
use interop::{Invoke, InvokeOutcome};
use runtime_api::ApiError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use telemetry::{LogHub, Subscriptions};
use tokio::sync::{mpsc, oneshot};

/// A cheap, cloneable handle on one sandbox's engine.
#[derive(Clone)]
pub struct Sandbox {
    tx: mpsc::UnboundedSender<Message>,
    /// The connection this handle serves, when it serves one: the engine
    /// checks that calls which could be a stale request of a killed process
    /// come from the current generation.
    caller: Option<Caller>,
    /// Where the engine publishes the generation running, for the loopback
    /// server to tag the connections it accepts (none on a connection's
    /// own handle, which is cloned for every request).
    current: Option<CurrentGeneration>,
    /// Where Telemetry and Logs API subscriptions go (a handle that does
    /// not keep the log hub running).
    subscriptions: Subscriptions,
    /// Multi-concurrency is on (`AWS_LAMBDA_MAX_CONCURRENCY`).
    concurrent: bool,
    /// Its processes' owner at the supervisor ([`Supervisor::pids_of`]).
    owner: u64,
}

impl Sandbox {
    /// Starts the engine, which spawns through `supervisor` and is told of
    /// its own processes' exits. `api_address` is what the runtime finds in
    /// `AWS_LAMBDA_RUNTIME_API`.
    pub fn start(
        cfg: FunctionConfig,
        api_address: String,
        logs: LogHub,
        supervisor: &Supervisor,
    ) -> (Sandbox, tokio::task::JoinHandle<()>) {
        Self::start_numbered(cfg, api_address, logs, supervisor, None)
    }

    /// [`Sandbox::start`] for sandbox `number` of a pool: what its engine
    /// logs says `sandbox=<number>`.
    pub fn start_numbered(
        cfg: FunctionConfig,
        api_address: String,
        logs: LogHub,
        supervisor: &Supervisor,
        number: Option<usize>,
    ) -> (Sandbox, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (mut processes, mut exit_rx) = supervisor.processes();
        if let Err(why) = processes.cap_memory(cfg.memory_size_mb.saturating_mul(1024 * 1024)) {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                tracing::warn!("the function's memory is not capped ({why}); its peak is still measured and reported");
            });
        }
        if cfg.freeze {
            if let Err(why) = processes.freeze_by_cgroup() {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    tracing::warn!("between invokes the function is frozen with SIGSTOP / SIGCONT to its process groups, not with a cgroup ({why}): a process that left its process group is not frozen");
                });
            }
        }
        let forward = tx.clone();
        tokio::spawn(async move {
            while let Some(exit) = exit_rx.recv().await {
                if forward.send(Message::Exited(exit)).is_err() {
                    return;
                }
            }
        });
        let owner = processes.owner();
        let (generations, current) = Generations::new();
        let subscriptions = logs.subscriptions();
        let concurrent = cfg.max_concurrency.is_some();
        let engine = Engine::new(Arc::new(cfg), api_address, logs, processes, generations);
        let task = match number {
            Some(number) => {
                use tracing::Instrument;
                let span = tracing::info_span!("sandbox", sandbox = number);
                tokio::spawn(engine.run(rx).instrument(span))
            }
            None => tokio::spawn(engine.run(rx)),
        };
        let sandbox = Sandbox {
            tx,
            caller: None,
            current: Some(current),
            subscriptions,
            concurrent,
            owner,
        };
        (sandbox, task)
    }

    /// The handle for one connection of the loopback API server.
    pub(crate) fn for_caller(&self, caller: Caller) -> Sandbox {
        Sandbox {
            tx: self.tx.clone(),
            caller: Some(caller),
            current: None,
            subscriptions: self.subscriptions.clone(),
            concurrent: self.concurrent,
            owner: self.owner,
        }
    }

    /// Where the generation running is published.
    pub(crate) fn current_generation(&self) -> Option<CurrentGeneration> {
        self.current.clone()
    }

    /// Sends `message` and waits for its answer; a sandbox gone is one
    /// shutting down.
    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, PhaseRefused>>) -> Message,
    ) -> Result<T, PhaseRefused> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| PhaseRefused::ShuttingDown)?;
        rx.await.map_err(|_| PhaseRefused::ShuttingDown)?
    }

    fn send(&self, message: Message) -> Result<(), PhaseRefused> {
        self.tx
            .send(message)
            .map_err(|_| PhaseRefused::ShuttingDown)
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> RuntimeMessage) -> Result<T, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Message::Runtime(make(reply)))
            .map_err(|_| ApiError::ShuttingDown)?;
        rx.await.map_err(|_| ApiError::ShuttingDown)?
    }

    async fn ask_ext<T>(
        &self,
        make: impl FnOnce(ExtReply<T>) -> ExtensionMessage,
    ) -> Result<T, ExtensionApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Message::Extension(make(reply)))
            .map_err(|_| ExtensionApiError::ShuttingDown)?;
        rx.await.map_err(|_| ExtensionApiError::ShuttingDown)?
    }
}

/// The pool shuts a sandbox down through its contract.
impl crate::pool::Pooled for Sandbox {
    async fn shut_down(&self) {
        SandboxContext::shutdown(self, None).await;
    }

    fn processes_owner(&self) -> Option<u64> {
        Some(self.owner)
    }
}

impl SandboxContext for Sandbox {
    type Init = InitHandle;

    async fn init(&self, request: InitRequest) -> Result<InitHandle, PhaseRefused> {
        self.request(|reply| Message::Init {
            request: Some(Box::new(request)),
            reply: Some(reply),
        })
        .await?;
        Ok(self.on_demand())
    }

    fn on_demand(&self) -> InitHandle {
        InitHandle {
            sandbox: self.clone(),
        }
    }

    fn init_now(&self) -> Result<(), PhaseRefused> {
        self.send(Message::Init {
            request: None,
            reply: None,
        })
    }

    async fn internal_state(&self) -> Result<InternalState, PhaseRefused> {
        let (reply, rx) = oneshot::channel();
        self.send(Message::InternalState(reply))?;
        rx.await.map_err(|_| PhaseRefused::ShuttingDown)
    }

    async fn reset(&self, reason: ResetReason) -> Result<ResetSuccess, PhaseRefused> {
        self.request(|done| Message::Reset { reason, done }).await
    }

    /// Over when the engine has stopped; a sandbox whose engine is gone
    /// already was shut down before, and has nothing more to report.
    async fn shutdown(&self, budget: Option<Duration>) -> ShutdownSuccess {
        let (done, rx) = oneshot::channel();
        if self.send(Message::Shutdown { budget, done }).is_err() {
            return ShutdownSuccess::default();
        }
        rx.await.unwrap_or_default()
    }

    async fn restore(&self, request: RestoreRequest) -> Result<RestoreSuccess, RestoreFailed> {
        let (done, rx) = oneshot::channel();
        self.send(Message::Restore {
            request: Box::new(request),
            done,
        })
        .map_err(|_| RestoreFailed::ShuttingDown)?;
        let restore_duration = rx.await.map_err(|_| RestoreFailed::ShuttingDown)??;
        Ok(RestoreSuccess { restore_duration })
    }
}

/// The init of one sandbox (see [`InitContext`]).
#[derive(Clone)]
pub struct InitHandle {
    sandbox: Sandbox,
}

impl InitContext for InitHandle {
    type Invoke = Reservation;

    async fn wait(&self) -> Result<Result<InitSuccess, InitFailure>, PhaseRefused> {
        self.sandbox.request(Message::AwaitInit).await
    }

    fn reserve(&self, request_id: String) -> Reservation {
        Reservation {
            sandbox: self.sandbox.clone(),
            request_id,
            sent: false,
            tracked: true,
            done: None,
        }
    }
}

/// One reserved invoke (see [`InvokeContext`]).
pub struct Reservation {
    sandbox: Sandbox,
    request_id: String,
    sent: bool,
    /// Whoever holds it may wait for the invoke's end.
    tracked: bool,
    /// Where the invoke's end is told, once it was sent (until waited for).
    done: Option<oneshot::Receiver<Result<InvokeSuccess, InvokeFailure>>>,
}

impl InvokeContext for Reservation {
    fn request_id(&self) -> &str {
        &self.request_id
    }

    fn untracked(mut self) -> Self {
        self.tracked = false;
        self
    }

    /// Closed when the sandbox gave the invoke up.
    fn post(
        &mut self,
        invoke: Invoke,
    ) -> Result<
        impl Future<Output = Result<InvokeOutcome, PhaseRefused>> + Send + 'static,
        PhaseRefused,
    > {
        if self.sent {
            return Err(PhaseRefused::AlreadySent);
        }
        let (reply, outcome) = oneshot::channel();
        let (done, done_rx) = match self.tracked {
            true => {
                let (done, done_rx) = oneshot::channel();
                (Some(done), Some(done_rx))
            }
            false => (None, None),
        };
        self.sandbox.send(Message::Invoke {
            invoke,
            reply: Some(reply),
            done,
        })?;
        self.sent = true;
        self.done = done_rx;
        Ok(async move { outcome.await.map_err(|_| PhaseRefused::ShuttingDown) })
    }

    async fn wait(&mut self) -> Result<Result<InvokeSuccess, InvokeFailure>, PhaseRefused> {
        let Some(done) = self.done.take() else {
            return Err(match (self.sent, self.tracked) {
                (false, _) => PhaseRefused::NotSent,
                (true, false) => PhaseRefused::Untracked,
                (true, true) => PhaseRefused::AlreadyWaited,
            });
        };
        done.await.map_err(|_| PhaseRefused::ShuttingDown)
    }

    async fn reset(&mut self, reason: ResetReason) -> Result<ResetSuccess, PhaseRefused> {
        SandboxContext::reset(&self.sandbox, reason).await
    }
}
