//! The handle the rest of the world holds on a sandbox: the front door asks
//! it to run invokes, the Runtime API adapter reports the runtime's calls
//! through it. Every call is a message to the engine task.

use crate::config::FunctionConfig;
use crate::engine::{Engine, ExtReply, Message, Reply, ResetRefused, RestoreFailed};
use crate::supervisor::{Caller, Supervisor};
use bytes::Bytes;
use extensions_api::{
    ExtensionApiError, ExtensionEvent, ExtensionsEngine, Registration, RegistrationRequest,
};
use interop::restore::{Credentials, RestoreRequest};
use interop::{Invoke, InvokeOutcome, RuntimeEvent};
use runtime_api::{
    ApiError, RuntimeEngine, RuntimeError, RuntimeErrorReport, StreamEnd, StreamSink,
};
use std::sync::Arc;
use telemetry::LogHub;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the execution environment has shut down")]
    Gone,
}

/// A cheap, cloneable handle on one sandbox's engine.
#[derive(Clone)]
pub struct Sandbox {
    tx: mpsc::UnboundedSender<Message>,
    /// The connection this handle serves, when it serves one: the engine
    /// checks that calls which could be a stale request of a killed process
    /// come from the current generation.
    caller: Option<Caller>,
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
        let (tx, rx) = mpsc::unbounded_channel();
        let (processes, mut exit_rx) = supervisor.processes();
        let forward = tx.clone();
        tokio::spawn(async move {
            while let Some(exit) = exit_rx.recv().await {
                if forward.send(Message::Exited(exit)).is_err() {
                    return;
                }
            }
        });
        let engine = Engine::new(Arc::new(cfg), api_address, logs, processes);
        let task = tokio::spawn(engine.run(rx));
        (Sandbox { tx, caller: None }, task)
    }

    /// The handle for one connection of the loopback API server.
    pub(crate) fn for_caller(&self, caller: Caller) -> Sandbox {
        Sandbox {
            tx: self.tx.clone(),
            caller: Some(caller),
        }
    }

    /// Runs `invoke` (after those queued before it) and returns its outcome
    /// as soon as the runtime answered.
    pub async fn invoke(&self, invoke: Invoke) -> Result<InvokeOutcome, SandboxError> {
        let (reply, rx) = oneshot::channel();
        self.send(Message::Invoke {
            invoke,
            reply: Some(reply),
        })?;
        rx.await.map_err(|_| SandboxError::Gone)
    }

    /// Queues `invoke` without waiting for it (`X-Amz-Invocation-Type: Event`).
    /// The receiver resolves (or closes) once the runtime answered it, so
    /// that the caller can bound how many are queued.
    pub fn invoke_async(
        &self,
        invoke: Invoke,
    ) -> Result<oneshot::Receiver<InvokeOutcome>, SandboxError> {
        let (reply, rx) = oneshot::channel();
        self.send(Message::Invoke {
            invoke,
            reply: Some(reply),
        })?;
        Ok(rx)
    }

    /// Starts the runtime now rather than on the first invoke.
    pub fn init(&self) -> Result<(), SandboxError> {
        self.send(Message::Init)
    }

    /// Kills the runtime, waits until it is reaped, and stops the engine.
    pub async fn shutdown(&self) {
        self.shutdown_within(None).await;
    }

    /// Like [`Sandbox::shutdown`], with the shutdown's budget set by the
    /// caller (the control API's `timeoutMs`) instead of Lambda's.
    pub async fn shutdown_within(&self, budget: Option<std::time::Duration>) {
        let (done, rx) = oneshot::channel();
        if self.send(Message::Shutdown { budget, done }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Resets an idle sandbox as a timeout or a failure would (the control
    /// API's `/test/reset`); resolves once it is done, with how long the
    /// processes took to go.
    pub async fn reset(
        &self,
        reason: extensions_api::ShutdownReason,
    ) -> Result<Result<std::time::Duration, ResetRefused>, SandboxError> {
        let (done, rx) = oneshot::channel();
        self.send(Message::Reset { reason, done })?;
        rx.await.map_err(|_| SandboxError::Gone)
    }

    /// Restores the sandbox (init caching, SnapStart): the runtime waiting
    /// in `restore/next` is answered and runs its after-restore hooks;
    /// resolves with how long they took (0 when the runtime has none), or
    /// why the restore failed. A failed restore resets the sandbox. An init
    /// is started first when none ran yet.
    pub async fn restore(
        &self,
        request: RestoreRequest,
    ) -> Result<std::time::Duration, RestoreFailed> {
        let (done, rx) = oneshot::channel();
        self.send(Message::Restore { request, done })
            .map_err(|_| RestoreFailed::ShuttingDown)?;
        rx.await.map_err(|_| RestoreFailed::ShuttingDown)?
    }

    /// The runtime's and extensions' states (spec §8).
    pub async fn internal_state(&self) -> Result<interop::state::InternalState, SandboxError> {
        let (reply, rx) = oneshot::channel();
        self.send(Message::InternalState(reply))?;
        rx.await.map_err(|_| SandboxError::Gone)
    }

    fn send(&self, message: Message) -> Result<(), SandboxError> {
        self.tx.send(message).map_err(|_| SandboxError::Gone)
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Message) -> Result<T, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| ApiError::ShuttingDown)?;
        rx.await.map_err(|_| ApiError::ShuttingDown)?
    }

    async fn ask_ext<T>(
        &self,
        make: impl FnOnce(ExtReply<T>) -> Message,
    ) -> Result<T, ExtensionApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .map_err(|_| ExtensionApiError::ShuttingDown)?;
        rx.await.map_err(|_| ExtensionApiError::ShuttingDown)?
    }
}

impl ExtensionsEngine for Sandbox {
    async fn register(
        &self,
        request: RegistrationRequest,
    ) -> Result<Registration, ExtensionApiError> {
        let caller = self.caller;
        self.ask_ext(|reply| Message::Register {
            request,
            caller,
            reply,
        })
        .await
    }

    async fn next(&self, id: uuid::Uuid) -> Result<ExtensionEvent, ExtensionApiError> {
        self.ask_ext(|reply| Message::ExtensionNext { id, reply })
            .await
    }

    async fn init_error(
        &self,
        id: uuid::Uuid,
        error_type: String,
    ) -> Result<(), ExtensionApiError> {
        self.ask_ext(|reply| Message::ExtensionInitError {
            id,
            error_type,
            reply,
        })
        .await
    }

    async fn exit_error(
        &self,
        id: uuid::Uuid,
        error_type: String,
    ) -> Result<(), ExtensionApiError> {
        self.ask_ext(|reply| Message::ExtensionExitError {
            id,
            error_type,
            reply,
        })
        .await
    }
}

impl RuntimeEngine for Sandbox {
    async fn next(&self) -> Result<RuntimeEvent, ApiError> {
        let caller = self.caller;
        self.ask(|reply| Message::Next { caller, reply }).await
    }

    async fn response(
        &self,
        request_id: String,
        body: Bytes,
        content_type: Option<String>,
    ) -> Result<(), ApiError> {
        self.ask(|reply| Message::Response {
            request_id,
            body,
            content_type,
            reply,
        })
        .await
    }

    async fn start_stream(
        &self,
        request_id: String,
        content_type: Option<String>,
    ) -> Result<StreamSink, ApiError> {
        self.ask(|reply| Message::StreamStart {
            request_id,
            content_type,
            reply,
        })
        .await
    }

    async fn end_stream(&self, request_id: String, end: StreamEnd) -> Result<(), ApiError> {
        self.ask(|reply| Message::StreamEnd {
            request_id,
            end,
            reply,
        })
        .await
    }

    async fn error(&self, request_id: String, error: RuntimeError) -> Result<(), ApiError> {
        self.ask(|reply| Message::Error {
            request_id,
            error,
            reply,
        })
        .await
    }

    async fn init_error(&self, report: RuntimeErrorReport) -> Result<(), ApiError> {
        let caller = self.caller;
        self.ask(|reply| Message::InitError {
            report,
            caller,
            reply,
        })
        .await
    }

    async fn restore_next(&self) -> Result<(), ApiError> {
        let caller = self.caller;
        self.ask(|reply| Message::RestoreNext { caller, reply })
            .await
    }

    async fn restore_error(&self, report: RuntimeErrorReport) -> Result<(), ApiError> {
        self.ask(|reply| Message::RestoreError { report, reply })
            .await
    }

    async fn credentials(&self, authorization: Option<String>) -> Result<Credentials, ApiError> {
        self.ask(|reply| Message::Credentials {
            token: authorization,
            reply,
        })
        .await
    }
}
