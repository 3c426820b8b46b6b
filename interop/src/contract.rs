//! The contract every driver of a sandbox uses: the front door, the control
//! API, the tests and (later) a pool of sandboxes. It is modelled on RAPID's
//! own (`SandboxContext`, `InitContext`, `InvokeContext`): a sandbox is
//! initialized, an invoke is reserved on it, sent, and waited for; the
//! sandbox is reset, restored and shut down. The phases' inputs, results and
//! metrics are the types below; the engine (`rapid`) implements the traits.
//!
//! One difference from RAPID's model, which carries a TODO about it: a reset
//! during an invoke needs that invoke's start and response metrics, so here
//! the [`InvokeContext`] owns them and has its own [`InvokeContext::reset`].

pub use crate::restore::{Credentials, RestoreRequest};
use crate::state::InternalState;
use crate::{ErrorType, Invoke, InvokeOutcome};
use std::future::Future;
use std::time::Duration;

/// What `/test/init` (or a pool) says about the function to initialize.
/// Every field is optional: what is absent keeps the sandbox's own
/// configuration (rapid's command line and environment).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InitRequest {
    pub function_name: Option<String>,
    pub function_version: Option<String>,
    pub invoke_timeout: Option<Duration>,
    pub handler: Option<String>,
    /// The customer's environment variables, added to the function's.
    pub environment: Vec<(String, String)>,
    pub credentials: Option<Credentials>,
}

/// An init that succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct InitSuccess {
    /// From the start of init to the moment the runtime and every extension
    /// waited in `next`.
    pub init_duration: Duration,
}

/// An init that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("init failed with {error_type}: {message}")]
pub struct InitFailure {
    pub error_type: ErrorType,
    pub message: String,
    pub init_duration: Duration,
}

/// How the runtime sent its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    #[default]
    Buffered,
    Streaming,
}

impl ResponseMode {
    /// RAPID's spelling (`invokeResponseMode`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Buffered => "Buffered",
            ResponseMode::Streaming => "Streaming",
        }
    }
}

/// What the runtime's answer to an invoke measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResponseMetrics {
    /// From dispatch to the runtime's answer (to its first byte when it
    /// streamed).
    pub latency: Duration,
    /// From the first byte to the last, when it streamed.
    pub duration: Duration,
    pub produced_bytes: u64,
    pub mode: ResponseMode,
}

/// What an invoke measured, from dispatch to completion.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InvokeMetrics {
    /// REPORT's `Duration`: dispatch to the runtime's answer.
    pub duration: Duration,
    /// The init this invoke paid for, on the first invoke after an init.
    pub init_duration: Option<Duration>,
    /// None when the runtime never answered.
    pub response: Option<ResponseMetrics>,
}

/// An invoke that completed: the runtime answered (a function error is an
/// answer too) and it and every extension asked for their next event.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeSuccess {
    pub request_id: String,
    /// The function's own error, when it answered with one.
    pub function_error: Option<ErrorType>,
    pub metrics: InvokeMetrics,
}

/// An invoke that failed: it timed out, a process crashed, the init it
/// needed failed, or the sandbox was reset or shut down under it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invoke {request_id} failed with {error_type}")]
pub struct InvokeFailure {
    pub request_id: String,
    pub error_type: ErrorType,
    pub metrics: InvokeMetrics,
}

/// Why a sandbox is reset: what extensions read in SHUTDOWN's
/// `shutdownReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    Timeout,
    Failure,
}

/// Why a generation is torn down, as SHUTDOWN's `shutdownReason` says it
/// to extensions: a reset's reason, or `spindown` for a shutdown (and an
/// idle environment retired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShutdownReason {
    Spindown,
    Timeout,
    Failure,
}

impl ShutdownReason {
    /// The reason as the SHUTDOWN event spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownReason::Spindown => "spindown",
            ShutdownReason::Timeout => "timeout",
            ShutdownReason::Failure => "failure",
        }
    }
}

impl From<ResetReason> for ShutdownReason {
    fn from(reason: ResetReason) -> ShutdownReason {
        match reason {
            ResetReason::Timeout => ShutdownReason::Timeout,
            ResetReason::Failure => ShutdownReason::Failure,
        }
    }
}

impl ResetReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::Timeout => "timeout",
            ResetReason::Failure => "failure",
        }
    }
}

/// A reset that was done.
#[derive(Debug, Clone, PartialEq)]
pub struct ResetSuccess {
    /// How long the extensions and the runtime took to go.
    pub extensions_reset: Duration,
    /// The invoke the reset cut short, when it cut one.
    pub response: Option<ResponseMetrics>,
}

/// Why a phase could not be started at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhaseRefused {
    #[error("the execution environment is already initialized (or initializing); reset it first")]
    AlreadyInitialized,
    #[error("no init has been started")]
    NotInitialized,
    #[error("the execution environment is shutting down")]
    ShuttingDown,
    #[error("this invoke was already sent")]
    AlreadySent,
    #[error("this invoke has not been sent")]
    NotSent,
    #[error("this invoke was already waited for")]
    AlreadyWaited,
    #[error("this invoke was reserved without tracking its end")]
    Untracked,
}

/// A restore that was done.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreSuccess {
    /// How long the runtime's after-restore hooks took (0 without hooks).
    pub restore_duration: Duration,
}

/// Why a restore did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreFailed {
    #[error("a restore needs init caching: start rapid with --enable-init-caching")]
    NotEnabled,
    #[error("the execution environment is resetting; ask for the restore once it is done")]
    Resetting,
    #[error("the execution environment is shutting down")]
    ShuttingDown,
    #[error("the execution environment was reset before the restore could run")]
    Reset,
    #[error("the init before the restore failed: {error_type}")]
    InitFailed { error_type: ErrorType },
    #[error("the restore failed: {error_type}")]
    Failed {
        error_type: ErrorType,
        duration: Duration,
    },
}

/// A shutdown that was done.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShutdownSuccess {
    /// The first error that failed an init or an invoke of the last
    /// generation, if one did.
    pub first_fatal_error: Option<ErrorType>,
}

/// A sandbox: it is initialized, reset, shut down (and restored), and
/// says its processes' states. The front door and the control API reach a
/// sandbox through this contract only.
pub trait SandboxContext {
    type Init: InitContext;

    /// Starts an init with `request` and returns its context at once.
    fn init(
        &self,
        request: InitRequest,
    ) -> impl Future<Output = Result<Self::Init, PhaseRefused>> + Send;

    /// The init the sandbox does on its own, with its own configuration:
    /// none until the first invoke needs one (or [`SandboxContext::init_now`]
    /// started it), as `aws-lambda-rie` does. Invokes are reserved on it.
    fn on_demand(&self) -> Self::Init;

    /// Starts the sandbox's own init now rather than on the first invoke
    /// (`--eager-init`); an init done or under way already is fine.
    fn init_now(&self) -> Result<(), PhaseRefused>;

    /// The runtime's and extensions' states (spec §8), with the first
    /// fatal error so far.
    fn internal_state(&self) -> impl Future<Output = Result<InternalState, PhaseRefused>> + Send;

    /// Resets the sandbox when no invoke runs on it (an invoke's own reset
    /// is [`InvokeContext::reset`]): extensions get SHUTDOWN with `reason`,
    /// every process is killed, the next init starts a new generation.
    fn reset(
        &self,
        reason: ResetReason,
    ) -> impl Future<Output = Result<ResetSuccess, PhaseRefused>> + Send;

    /// Shuts the sandbox down within `budget` (Lambda's budget when None)
    /// and says the first error that failed an init or an invoke since
    /// the last good init. A sandbox shut down before has nothing more to
    /// report.
    fn shutdown(&self, budget: Option<Duration>) -> impl Future<Output = ShutdownSuccess> + Send;

    /// Restores the sandbox (init caching): the runtime waiting in
    /// `restore/next` runs its after-restore hooks. An init is started
    /// first when none ran; a failed restore resets the sandbox.
    fn restore(
        &self,
        request: RestoreRequest,
    ) -> impl Future<Output = Result<RestoreSuccess, RestoreFailed>> + Send;
}

/// An init under way (or done).
pub trait InitContext {
    type Invoke: InvokeContext;

    /// Resolves when the init succeeded or failed (refused when no init
    /// was started, or the sandbox shut down).
    fn wait(
        &self,
    ) -> impl Future<Output = Result<Result<InitSuccess, InitFailure>, PhaseRefused>> + Send;

    /// Reserves the next invoke on this sandbox, with its request id.
    fn reserve(&self, request_id: String) -> Self::Invoke;
}

/// One invoke: sent once, waited for once.
pub trait InvokeContext {
    /// The request id the reservation carries.
    fn request_id(&self) -> &str;

    /// The caller will not wait for the invoke's end (the front door, done
    /// once it has the outcome): nothing keeps the completion for it, and
    /// [`InvokeContext::wait`] is refused.
    fn untracked(self) -> Self
    where
        Self: Sized;

    /// Queues the invoke now, behind any sent before it, and returns what
    /// resolves to its outcome; the future borrows nothing, so the context
    /// can be put away (or the future handed to a task) meanwhile. The
    /// outcome is the response sender's end: it resolves as soon as the
    /// runtime answered, with the body still streaming if it streams.
    fn post(
        &mut self,
        invoke: Invoke,
    ) -> Result<
        impl Future<Output = Result<InvokeOutcome, PhaseRefused>> + Send + 'static,
        PhaseRefused,
    >;

    /// [`InvokeContext::post`], and waits for the outcome. Queued when
    /// called, not when the future is first polled: invokes keep the
    /// order in which they were sent.
    fn send(
        &mut self,
        invoke: Invoke,
    ) -> impl Future<Output = Result<InvokeOutcome, PhaseRefused>> + Send {
        let posted = self.post(invoke);
        async move { posted?.await }
    }

    /// Resolves when the invoke is complete, with its metrics.
    fn wait(
        &mut self,
    ) -> impl Future<Output = Result<Result<InvokeSuccess, InvokeFailure>, PhaseRefused>> + Send;

    /// Resets the sandbox under this invoke: an unanswered invoke fails
    /// with `Sandbox.Timedout` (timeout) or `Sandbox.Failure` (failure);
    /// the answer carries the invoke's response metrics.
    fn reset(
        &mut self,
        reason: ResetReason,
    ) -> impl Future<Output = Result<ResetSuccess, PhaseRefused>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_s_reason_is_the_shutdown_reason_extensions_read() {
        assert_eq!(
            ShutdownReason::from(ResetReason::Timeout),
            ShutdownReason::Timeout
        );
        assert_eq!(
            ShutdownReason::from(ResetReason::Failure),
            ShutdownReason::Failure
        );
        for (reason, text) in [
            (ShutdownReason::Spindown, "\"spindown\""),
            (ShutdownReason::Timeout, "\"timeout\""),
            (ShutdownReason::Failure, "\"failure\""),
        ] {
            assert_eq!(serde_json::to_string(&reason).expect("json"), text);
        }
    }
}
