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
    /// A call of the Runtime API (`runtime_api::RuntimeEngine`).
    Runtime(RuntimeMessage),
    /// A call of the Extensions API (`extensions_api::ExtensionsEngine`).
    Extension(ExtensionMessage),
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
    /// Restore the sandbox (init caching): answered with how long the
    /// runtime's after-restore hooks took.
    Restore {
        /// Boxed: messages are moved whole, and this one is rare and large.
        request: Box<RestoreRequest>,
        done: super::restore::RestoreDone,
    },
}

/// A call of the Runtime API, as `Sandbox`'s `RuntimeEngine` sends it.
pub(crate) enum RuntimeMessage {
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
    /// `GET /2021-04-23/credentials` with its `Authorization` header.
    Credentials {
        token: Option<String>,
        reply: Reply<Credentials>,
    },
}

/// A call of the Extensions API, as `Sandbox`'s `ExtensionsEngine` sends it.
pub(crate) enum ExtensionMessage {
    Register {
        request: RegistrationRequest,
        caller: Option<Caller>,
        reply: ExtReply<Registration>,
    },
    Next {
        id: uuid::Uuid,
        reply: ExtReply<ExtensionEvent>,
    },
    InitError {
        id: uuid::Uuid,
        error_type: String,
        reply: ExtReply<()>,
    },
    ExitError {
        id: uuid::Uuid,
        error_type: String,
        reply: ExtReply<()>,
    },
}

impl From<RuntimeMessage> for Message {
    fn from(message: RuntimeMessage) -> Message {
        Message::Runtime(message)
    }
}

impl From<ExtensionMessage> for Message {
    fn from(message: ExtensionMessage) -> Message {
        Message::Extension(message)
    }
}

impl Message {
    /// Its kind, as `lifecycle::on_call` takes it.
    pub(super) fn call(&self) -> Call {
        match self {
            Message::Invoke { .. } => Call::Invoke,
            Message::Init { .. } => Call::Init,
            Message::AwaitInit(_) => Call::AwaitInit,
            Message::Runtime(message) => message.call(),
            Message::Extension(message) => message.call(),
            Message::Exited(_) => Call::Exited,
            Message::Shutdown { .. } => Call::Shutdown,
            Message::InternalState(_) => Call::InternalState,
            Message::Reset { .. } => Call::Reset,
            Message::Restore { .. } => Call::Restore,
        }
    }
}

impl RuntimeMessage {
    fn call(&self) -> Call {
        match self {
            RuntimeMessage::Next { .. } => Call::RuntimeNext,
            RuntimeMessage::Response { .. }
            | RuntimeMessage::ForwardStart { .. }
            | RuntimeMessage::Forwarded { .. }
            | RuntimeMessage::StreamStart { .. }
            | RuntimeMessage::StreamEnd { .. }
            | RuntimeMessage::Error { .. } => Call::Answer,
            RuntimeMessage::InitError { .. } => Call::InitError,
            RuntimeMessage::RestoreNext { .. } | RuntimeMessage::RestoreError { .. } => {
                Call::RuntimeRestoreCall
            }
            RuntimeMessage::Credentials { .. } => Call::Credentials,
        }
    }
}

impl ExtensionMessage {
    fn call(&self) -> Call {
        match self {
            ExtensionMessage::Register { .. } => Call::Register,
            ExtensionMessage::Next { .. }
            | ExtensionMessage::InitError { .. }
            | ExtensionMessage::ExitError { .. } => Call::ExtensionCall,
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
        Message::Runtime(message) => refuse_runtime(message),
        Message::Extension(message) => refuse_extension(message),
        Message::InternalState(reply) => {
            let _ = reply.send(interop::state::InternalState::default());
        }
        Message::Reset { done, .. } => {
            let _ = done.send(Err(PhaseRefused::ShuttingDown));
        }
        Message::Restore { done, .. } => {
            let _ = done.send(Err(super::RestoreFailed::ShuttingDown));
        }
        // Never refused (`on_call`): a further shutdown waits for the end.
        Message::Shutdown { done, .. } => {
            let _ = done.send(ShutdownSuccess::default());
        }
        Message::Exited(_) => {}
    }
}

/// A Runtime API call refused: the runtime is told the environment shuts
/// down, whatever it asked.
fn refuse_runtime(message: RuntimeMessage) {
    match message {
        RuntimeMessage::Next { reply, .. } => {
            let _ = reply.send(Err(ApiError::ShuttingDown));
        }
        RuntimeMessage::StreamStart { reply, .. } | RuntimeMessage::ForwardStart { reply, .. } => {
            let _ = reply.send(Err(ApiError::ShuttingDown));
        }
        RuntimeMessage::Credentials { reply, .. } => {
            let _ = reply.send(Err(ApiError::ShuttingDown));
        }
        RuntimeMessage::Response { reply, .. }
        | RuntimeMessage::Forwarded { reply, .. }
        | RuntimeMessage::StreamEnd { reply, .. }
        | RuntimeMessage::Error { reply, .. }
        | RuntimeMessage::InitError { reply, .. }
        | RuntimeMessage::RestoreNext { reply, .. }
        | RuntimeMessage::RestoreError { reply, .. } => {
            let _ = reply.send(Err(ApiError::ShuttingDown));
        }
    }
}

/// An Extensions API call refused: the extension is told the environment
/// shuts down.
fn refuse_extension(message: ExtensionMessage) {
    match message {
        ExtensionMessage::Register { reply, .. } => {
            let _ = reply.send(Err(ExtensionApiError::ShuttingDown));
        }
        ExtensionMessage::Next { reply, .. } => {
            let _ = reply.send(Err(ExtensionApiError::ShuttingDown));
        }
        ExtensionMessage::InitError { reply, .. } | ExtensionMessage::ExitError { reply, .. } => {
            let _ = reply.send(Err(ExtensionApiError::ShuttingDown));
        }
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
