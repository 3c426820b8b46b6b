//! Restore (init caching, SnapStart; `--enable-init-caching`).
//!
//! With init caching the runtime ends its init by calling `restore/next`
//! (`Started → RestoreReady`); init is done once it waits there and every
//! extension waits in `event/next`. A restore answers that poll (`RestoreReady
//! → Restoring`); the runtime runs its after-restore hooks and calls
//! `invocation/next`, which completes the restore (`Restoring → Ready`). It
//! fails on `restore/error` (or `/init/error` while restoring), a runtime or
//! extension exit, or the hook timeout; a failed restore resets the sandbox
//! like a failed init, and the next invoke starts a new one.
//!
//! A restore is asked by the caller of the sandbox (`Sandbox::restore`, the
//! control API's `/test/restore`) or, when nobody did, by the first invoke.
//! A runtime that calls `invocation/next` straight away has no after-restore
//! hooks: a restore then has nothing to wait for and takes 0 ms, as in
//! Lambda's own emulator.
//!
//! The credentials endpoint serves the credentials of the init (rapid's
//! environment), then those of the last restore, to whoever sends the token
//! this generation's processes got.

use super::phase::{Phase, RestorePhase};
use super::{invalid_state, is_foreign, Engine, FOREIGN_RUNTIME};
use crate::lifecycle::deadlines::after;
use crate::lifecycle::teardown;
use crate::lifecycle::{
    self, CallerCheck, CredentialsCall, RestoreAsked, RestoreCall, RestorePath, RuntimeCall,
    RuntimeInput, RuntimeState,
};
use crate::supervisor::Caller;
use interop::restore::{Credentials, RestoreRequest};
use interop::{ErrorType, FunctionError};
use runtime_api::{ApiError, RuntimeErrorReport, CREDENTIALS_PATH};
use std::time::{Duration, Instant, SystemTime};
use telemetry::events::{
    RestoreReport, RestoreReportMetrics, RestoreRuntimeDone, RestoreStart, Status,
};
use telemetry::{InvokeStatus, PlatformEvent};
use tokio::sync::oneshot;

/// How long the after-restore hooks may take when the caller sets no limit:
/// Lambda's 10 seconds.
pub(crate) const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long credentials that do not expire (the environment's static keys)
/// are said to be valid from the moment they are served: an SDK asks again
/// after that.
const STATIC_CREDENTIALS_VALIDITY: Duration = Duration::from_secs(3600);

pub use interop::contract::RestoreFailed;

pub(super) type RestoreDone = oneshot::Sender<Result<Duration, RestoreFailed>>;

/// The credentials served to this generation's processes, and their token.
pub(super) struct CredentialStore {
    token: String,
    credentials: Credentials,
}

impl Engine {
    pub(super) fn init_caching(&self) -> bool {
        self.cfg.init_caching.is_some()
    }

    /// A new generation's credentials and token; the variables that point
    /// its processes at them (none without init caching).
    pub(super) fn new_credentials(&mut self) {
        self.credentials = self
            .cfg
            .init_caching
            .as_ref()
            .map(|credentials| CredentialStore {
                token: interop::ids::new_uuid().to_string(),
                credentials: credentials.clone(),
            });
    }

    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`, for the runtime and extensions.
    pub(super) fn credentials_environment(&self) -> Vec<(String, String)> {
        let Some(store) = &self.credentials else {
            return Vec::new();
        };
        vec![
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_owned(),
                format!("http://{}{CREDENTIALS_PATH}", self.api_address),
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN".to_owned(),
                store.token.clone(),
            ),
        ]
    }

    /// What `lifecycle::on_restore_call` says the runtime's `path` does:
    /// whether it is its first call, or why it is refused.
    fn restore_call(&self, path: RestorePath) -> Result<bool, ApiError> {
        let runtime = self.runtime.as_ref().map(|rt| rt.state);
        let resetting = self.phase.teardown().is_some();
        match lifecycle::on_restore_call(path, self.init_caching(), resetting, runtime) {
            RestoreCall::NotEnabled => Err(ApiError::InitCachingDisabled {
                path: match path {
                    RestorePath::Next => "/2018-06-01/runtime/restore/next",
                    RestorePath::Error => "/2018-06-01/runtime/restore/error",
                }
                .to_owned(),
            }),
            RestoreCall::Refused(why) => Err(invalid_state(why)),
            RestoreCall::Steps { first } => Ok(first),
        }
    }

    /// `GET /2021-04-23/credentials`.
    pub(super) fn on_credentials(&self, token: Option<String>) -> Result<Credentials, ApiError> {
        let matches = self
            .credentials
            .as_ref()
            .map(|store| token.as_deref() == Some(store.token.as_str()));
        match lifecycle::on_credentials(self.init_caching(), matches) {
            CredentialsCall::Disabled => Err(ApiError::InitCachingDisabled {
                path: CREDENTIALS_PATH.to_owned(),
            }),
            CredentialsCall::NotFound => Err(ApiError::CredentialsNotFound),
            CredentialsCall::Give => {
                let Some(store) = &self.credentials else {
                    return Err(ApiError::CredentialsNotFound);
                };
                let mut credentials = store.credentials.clone();
                credentials
                    .expiration
                    .get_or_insert_with(|| SystemTime::now() + STATIC_CREDENTIALS_VALIDITY);
                Ok(credentials)
            }
        }
    }

    /// The runtime's `GET /restore/next`: init is done (once the extensions
    /// are ready too), and the poll is held until a restore.
    pub(super) fn on_restore_next(&mut self, caller: Option<Caller>, reply: super::Reply<()>) {
        let first = match self.restore_call(RestorePath::Next) {
            Ok(first) => first,
            Err(err) => {
                let _ = reply.send(Err(err));
                return;
            }
        };
        let Some(rt) = self.runtime.as_mut() else {
            let _ = reply.send(Err(invalid_state("no runtime is running")));
            return;
        };
        let current = self.generations.current_id();
        let foreign = || is_foreign(caller, current, &[rt.pid], "a runtime's restore/next");
        let call = RuntimeCall::RestoreNext { first };
        if lifecycle::on_runtime_caller(call, foreign) == CallerCheck::Foreign {
            let _ = reply.send(Err(invalid_state(FOREIGN_RUNTIME)));
            return;
        }
        match rt.step(RuntimeInput::RestoreNext) {
            Ok(()) => {
                rt.restore_next = Some(reply);
                self.runtime_ready();
            }
            Err(err) => {
                let _ = reply.send(Err(err.into()));
            }
        }
    }

    /// The runtime's `POST /restore/error` (or `/init/error` while it
    /// restores): the restore fails with the runtime's (scrubbed) type.
    pub(super) fn on_restore_error(&mut self, report: RuntimeErrorReport) -> Result<(), ApiError> {
        self.restore_call(RestorePath::Error)?;
        let Some(rt) = self.runtime.as_mut() else {
            return Err(invalid_state("no runtime is running"));
        };
        rt.step(RuntimeInput::RestoreError)?;
        let err = FunctionError::from_runtime(report.error_type, report.body);
        self.restore_failed(err, InvokeStatus::Error);
        Ok(())
    }

    /// A restore asked by the caller of the sandbox. It runs once init is
    /// done (an init is started for it if none ran yet), and is answered
    /// when the runtime has run its after-restore hooks.
    pub(super) fn on_restore_request(&mut self, request: RestoreRequest, done: RestoreDone) {
        let runtime = self.runtime.as_ref().map(|rt| rt.state);
        let asked = lifecycle::on_restore_asked(self.init_caching(), self.phase(), runtime);
        let refused = match asked {
            RestoreAsked::NotEnabled => Some(RestoreFailed::NotEnabled),
            RestoreAsked::ShuttingDown => Some(RestoreFailed::ShuttingDown),
            RestoreAsked::Resetting => Some(RestoreFailed::Resetting),
            RestoreAsked::InitFirst => {
                self.start_init(None);
                None
            }
            RestoreAsked::Wait | RestoreAsked::NothingToRestore => None,
        };
        if let Some(refused) = refused {
            let _ = done.send(Err(refused));
            return;
        }
        // The credentials are the restore's in every case, as in RAPID.
        if let (Some(store), Some(credentials)) = (self.credentials.as_mut(), request.credentials) {
            store.credentials = credentials;
        }
        if asked == RestoreAsked::NothingToRestore {
            tracing::info!(
                runtime = runtime.map(RuntimeState::name).unwrap_or_default(),
                "restore asked with nothing to restore (the runtime was restored already or never waited in restore/next): answered at once, 0 ms, as RAPID does"
            );
            let _ = done.send(Ok(Duration::ZERO));
            return;
        }
        if let Some(timeout) = request.hook_timeout {
            self.restore_timeout = Some(timeout);
        }
        // `drive`, after every message, starts it once it may start.
        self.restore_waiters.push(done);
    }

    /// Starts the restore someone waits for (a caller, or the invoke at the
    /// head of the queue) once init is done; answers at once when there is
    /// nothing to restore.
    /// Answers the runtime waiting in `restore/next`: the restore starts
    /// (`lifecycle::next_start` decided it may).
    pub(super) fn start_restore(&mut self) {
        self.thaw();
        let Some(rt) = self.runtime.as_mut() else {
            return;
        };
        let Ok(restoring) = rt.state.on(RuntimeInput::Restore) else {
            return;
        };
        rt.set_state(restoring);
        if let Some(poll) = rt.restore_next.take() {
            // A poll whose connection closed is not answered; the restore
            // then times out, or the runtime's exit fails it.
            let _ = poll.send(Ok(()));
        }
        let timeout = self.restore_timeout.take().unwrap_or(DEFAULT_HOOK_TIMEOUT);
        let now = Instant::now();
        self.logs.emit(PlatformEvent::now(RestoreStart {
            function_name: self.cfg.function_name.clone(),
            function_version: self.cfg.function_version.clone(),
            runtime_version: None,
            runtime_version_arn: None,
        }));
        let before = std::mem::replace(
            &mut self.phase,
            Phase::Restoring(RestorePhase {
                started: now,
                deadline: after(now, timeout),
                timeout,
            }),
        );
        // From `Ready`, where nothing is in flight (no slot is held before
        // the first invoke).
        if let Phase::Serving(mut invocations) = before {
            invocations.release_held_slots();
        }
    }

    /// A restore asked of a runtime with no after-restore hooks (it went to
    /// `invocation/next` at once, or was restored already): done, in no
    /// time.
    pub(super) fn restored_without_hooks(&mut self) {
        for done in self.restore_waiters.drain(..) {
            let _ = done.send(Ok(Duration::ZERO));
        }
    }

    /// The runtime called `invocation/next` after its hooks: restored.
    pub(super) fn restore_done(&mut self) {
        let serving = self.serving();
        let Some(phase) = self.phase.end_restore(serving) else {
            return;
        };
        let duration = phase.started.elapsed();
        self.restore_duration = Some(duration);
        self.idle_since = Instant::now();
        self.report_restore(InvokeStatus::Success, None, duration);
        for done in self.restore_waiters.drain(..) {
            let _ = done.send(Ok(duration));
        }
    }

    /// `platform.restoreRuntimeDone` and `platform.restoreReport`, with the
    /// figure of `Restore Duration` (or of the `RESTORE_REPORT` line).
    fn report_restore(
        &self,
        status: InvokeStatus,
        error_type: Option<&ErrorType>,
        duration: Duration,
    ) {
        self.logs.emit(PlatformEvent::now(RestoreRuntimeDone {
            status: Status::runtime_done(status, error_type),
            error_type: error_type.cloned(),
        }));
        self.logs.emit(PlatformEvent::now(RestoreReport {
            status: status.into(),
            error_type: error_type.cloned(),
            metrics: RestoreReportMetrics { duration },
        }));
    }

    /// The restore failed: tell who asked (and the invoke waiting for it),
    /// and reset like a failed init; the next invoke starts a new sandbox.
    pub(super) fn restore_failed(&mut self, err: FunctionError, status: InvokeStatus) {
        // Initialized, until the teardown below begins.
        let serving = self.serving();
        let Some(phase) = self.phase.end_restore(serving) else {
            return;
        };
        let duration = phase.started.elapsed();
        self.fatal(&err.error_type);
        self.report_restore(status, Some(&err.error_type), duration);
        self.logs.line(format!(
            "RESTORE_REPORT Restore Duration: {:.2} ms\tStatus: {}\tError Type: {}",
            telemetry::events::millis(duration),
            status.as_str(),
            err.error_type
        ));
        for done in self.restore_waiters.drain(..) {
            let _ = done.send(Err(RestoreFailed::Failed {
                error_type: err.error_type.clone(),
                duration,
            }));
        }
        let step = teardown::on_start_failed(
            self.phase.is_shutdown(),
            status == InvokeStatus::Timeout,
            !self.queue.is_empty(),
        );
        self.retry_init = step.retry_init;
        if step.fail_head {
            if let Some(queued) = self.queue.pop_front() {
                self.fail_undispatched(queued, err, status);
            }
        }
        self.begin_teardown(step.teardown);
    }

    pub(super) fn restore_timed_out(&mut self) {
        let Some(phase) = self.phase.restore() else {
            return;
        };
        let message = format!(
            "Error: the runtime's after-restore hooks did not finish within {:.2} seconds",
            phase.timeout.as_secs_f64()
        );
        let err = FunctionError::new(ErrorType::RuntimeRestoreHookUserTimeout, &message);
        self.restore_failed(err, InvokeStatus::Timeout);
    }

    /// Answers whoever still waits for a restore that will not run in this
    /// generation (the phase that held a restore under way has ended).
    pub(super) fn abandon_restore(&mut self, why: RestoreFailed) {
        for done in self.restore_waiters.drain(..) {
            let _ = done.send(Err(why.clone()));
        }
    }
}
