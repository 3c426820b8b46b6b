//! The messages the engine takes, their kind (`Message::call`, what
//! `lifecycle::on_call` decides on), and how each is told it was refused.

use crate::lifecycle::Call;
use crate::supervisor::{Caller, ProcessExit};
use bytes::Bytes;
use extensions_api::{ExtensionApiError, ExtensionEvent, Registration, RegistrationRequest};
use interop::contract::{
    InitFailure, InitRequest, InitSuccess, InvokeFailure, InvokeSuccess, PhaseRefused, ResetReason,
    ResetSuccess, ShutdownSuccess,
};
use interop::restore::{Credentials, RestoreRequest};
use interop::{ErrorType, FunctionError, Invoke, InvokeOutcome, RuntimeEvent};
use runtime_api::{ApiError, RuntimeError, RuntimeErrorReport, StreamEnd, StreamSink};
use tokio::sync::oneshot;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// An invoke handed to the runtime's `next`: its event (the log hub has
/// its START already, so none of the runtime's lines for it can come
/// before START).
pub(crate) struct Dispatched {
    pub(crate) event: RuntimeEvent,
}
pub(crate) type ExtReply<T> = oneshot::Sender<Result<T, ExtensionApiError>>;
/// Where an invoke's completion (or failure) is told.
pub(crate) type Done = oneshot::Sender<Result<InvokeSuccess, InvokeFailure>>;
/// Where an init's end is told.
pub(crate) type InitDone = oneshot::Sender<Result<Result<InitSuccess, InitFailure>, PhaseRefused>>;

/// Everything that can happen to a sandbox.
pub(crate) enum Message {
    Invoke {
        invoke: Invoke,
        reply: Option<oneshot::Sender<InvokeOutcome>>,
        /// Told when the invoke is complete, with its metrics.
        done: Option<Done>,
    },
    /// Start an init now (`--eager-init`, or the contract's `init` with
    /// what it says about the function, answered once it started).
    Init {
        /// Boxed: messages are moved whole, and this one is rare and large.
        request: Option<Box<InitRequest>>,
        reply: Option<oneshot::Sender<Result<(), PhaseRefused>>>,
    },
    /// Tell `reply` how the init under way (or the last one) ended.
    AwaitInit(InitDone),
    Next {
        /// Who asked: only the runtime of this generation may end its init.
        caller: Option<Caller>,
        reply: Reply<Dispatched>,
    },
    Response {
        request_id: String,
        body: Bytes,
        content_type: Option<String>,
        reply: Reply<()>,
    },
    /// A buffered response with a `Content-Length` starts: its bytes go
    /// to the invoker as they arrive (refused: it is read whole instead).
    ForwardStart {
        request_id: String,
        content_type: Option<String>,
        length: u64,
        reply: Reply<StreamSink>,
    },
    /// Every byte of a forwarded response arrived: the runtime's answer.
    Forwarded {
        request_id: String,
        size: u64,
        reply: Reply<()>,
    },
    StreamStart {
        request_id: String,
        content_type: Option<String>,
        reply: Reply<StreamSink>,
    },
    StreamEnd {
        request_id: String,
        end: StreamEnd,
        reply: Reply<()>,
    },
    Error {
        request_id: String,
        error: RuntimeError,
        reply: Reply<()>,
    },
    InitError {
        report: RuntimeErrorReport,
        caller: Option<Caller>,
        reply: Reply<()>,
    },
    Register {
        request: RegistrationRequest,
        caller: Option<Caller>,
        reply: ExtReply<Registration>,
    },
    ExtensionNext {
        id: uuid::Uuid,
        reply: ExtReply<ExtensionEvent>,
    },
    ExtensionInitError {
        id: uuid::Uuid,
        error_type: String,
        reply: ExtReply<()>,
    },
    ExtensionExitError {
        id: uuid::Uuid,
        error_type: String,
        reply: ExtReply<()>,
    },
    Exited(ProcessExit),
    Shutdown {
        /// The budget of the shutdown, when the caller sets one (else
        /// Lambda's, spec §4).
        budget: Option<std::time::Duration>,
        /// Told when the shutdown is over, with the first fatal error.
        done: oneshot::Sender<ShutdownSuccess>,
    },
    InternalState(oneshot::Sender<interop::state::InternalState>),
    /// Reset the sandbox (the control API): extensions get SHUTDOWN with
    /// `reason`, every process is killed, the next invoke starts a new one.
    /// An invoke or an init under way is cut short by it.
    Reset {
        reason: ResetReason,
        done: oneshot::Sender<Result<ResetSuccess, PhaseRefused>>,
    },
    /// The runtime's `restore/next` (init caching).
    RestoreNext {
        caller: Option<Caller>,
        reply: Reply<()>,
    },
    /// The runtime's `restore/error`.
    RestoreError {
        report: RuntimeErrorReport,
        reply: Reply<()>,
    },
    /// Restore the sandbox (init caching): answered with how long the
    /// runtime's after-restore hooks took.
    Restore {
        /// Boxed: messages are moved whole, and this one is rare and large.
        request: Box<RestoreRequest>,
        done: super::restore::RestoreDone,
    },
    /// `GET /2021-04-23/credentials` with its `Authorization` header.
    Credentials {
        token: Option<String>,
        reply: Reply<Credentials>,
    },
}

impl Message {
    /// Its kind, as `lifecycle::on_call` takes it.
    pub(super) fn call(&self) -> Call {
        match self {
            Message::Invoke { .. } => Call::Invoke,
            Message::Init { .. } => Call::Init,
            Message::AwaitInit(_) => Call::AwaitInit,
            Message::Next { .. } => Call::RuntimeNext,
            Message::Response { .. }
            | Message::ForwardStart { .. }
            | Message::Forwarded { .. }
            | Message::StreamStart { .. }
            | Message::StreamEnd { .. }
            | Message::Error { .. } => Call::Answer,
            Message::InitError { .. } => Call::InitError,
            Message::Register { .. } => Call::Register,
            Message::ExtensionNext { .. }
            | Message::ExtensionInitError { .. }
            | Message::ExtensionExitError { .. } => Call::ExtensionCall,
            Message::Exited(_) => Call::Exited,
            Message::Shutdown { .. } => Call::Shutdown,
            Message::InternalState(_) => Call::InternalState,
            Message::Reset { .. } => Call::Reset,
            Message::RestoreNext { .. } | Message::RestoreError { .. } => Call::RuntimeRestoreCall,
            Message::Restore { .. } => Call::Restore,
            Message::Credentials { .. } => Call::Credentials,
        }
    }
}

/// Answers a message `lifecycle::on_call` refused because the environment
/// shuts down, in the words of its reply: this decides nothing, it only
/// says the refusal to each kind of caller.
pub(super) fn refuse(message: Message) {
    match message {
        Message::Invoke {
            invoke,
            reply,
            done,
        } => {
            if let Some(done) = done {
                let _ = done.send(Err(shutdown_failure(&invoke)));
            }
            reply_shutdown(invoke, reply)
        }
        Message::Init { reply, .. } => {
            if let Some(reply) = reply {
                let _ = reply.send(Err(PhaseRefused::ShuttingDown));
            }
        }
        Message::AwaitInit(reply) => {
            let _ = reply.send(Err(PhaseRefused::ShuttingDown));
        }
        Message::Next { reply, .. } => {
            let _ = reply.send(Err(ApiError::ShuttingDown));
        }
        Message::StreamStart { reply, .. } | Message::ForwardStart { reply, .. } => {
            let _ = reply.send(Err(ApiError::ShuttingDown));
        }
        Message::Response { reply, .. }
        | Message::Forwarded { reply, .. }
        | Message::StreamEnd { reply, .. }
        | Message::Error { reply, .. }
        | Message::InitError { reply, .. }
        | Message::RestoreNext { reply, .. }
        | Message::RestoreError { reply, .. } => {
            let _ = reply.send(Err(ApiError::ShuttingDown));
        }
        Message::Register { reply, .. } => {
            let _ = reply.send(Err(ExtensionApiError::ShuttingDown));
        }
        Message::ExtensionNext { reply, .. } => {
            let _ = reply.send(Err(ExtensionApiError::ShuttingDown));
        }
        Message::ExtensionInitError { reply, .. } | Message::ExtensionExitError { reply, .. } => {
            let _ = reply.send(Err(ExtensionApiError::ShuttingDown));
        }
        Message::InternalState(reply) => {
            let _ = reply.send(interop::state::InternalState::default());
        }
        Message::Reset { done, .. } => {
            let _ = done.send(Err(PhaseRefused::ShuttingDown));
        }
        Message::Restore { done, .. } => {
            let _ = done.send(Err(super::RestoreFailed::ShuttingDown));
        }
        Message::Credentials { reply, .. } => {
            let _ = reply.send(Err(ApiError::ShuttingDown));
        }
        // Never refused (`on_call`): a further shutdown waits for the end.
        Message::Shutdown { done, .. } => {
            let _ = done.send(ShutdownSuccess::default());
        }
        Message::Exited(_) => {}
    }
}

/// The failure of an invoke refused because the sandbox shut down.
pub(super) fn shutdown_failure(invoke: &Invoke) -> InvokeFailure {
    InvokeFailure {
        request_id: invoke.request_id.clone(),
        error_type: ErrorType::SandboxShutdown,
        metrics: Default::default(),
    }
}

pub(super) fn reply_shutdown(invoke: Invoke, reply: Option<oneshot::Sender<InvokeOutcome>>) {
    if let Some(reply) = reply {
        let _ = reply.send(InvokeOutcome {
            request_id: invoke.request_id,
            result: Err(FunctionError::new(
                ErrorType::SandboxShutdown,
                "The execution environment is shutting down.",
            )),
            log_tail: None,
        });
    }
}
