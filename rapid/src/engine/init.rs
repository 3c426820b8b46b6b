//! Init: start the extensions, then (once every one has registered) the
//! runtime; init is done when the runtime and every registered extension
//! have called `next`. A failed init fails the invoke waiting for it, tears
//! the sandbox down, and is retried on the next invoke.

use super::phase::{InitPhase, Phase as EnginePhase};
use super::{invalid_state, is_foreign, Engine, Runtime, FOREIGN_RUNTIME};
use crate::lifecycle::deadlines::after;
use crate::lifecycle::teardown;
use crate::lifecycle::{self, CallerCheck, InitErrorCall, RuntimeCall, RuntimeInput, RuntimeState};
use crate::supervisor::Caller;
use interop::contract::{InitFailure, InitSuccess};
use interop::{ErrorType, FunctionError};
use runtime_api::{ApiError, RuntimeErrorReport};
use std::time::{Duration, Instant};
use telemetry::events::{
    InitPhase as Phase, InitReport, InitReportMetrics, InitRuntimeDone, InitStart,
    InitializationType, Status,
};
use telemetry::{InvokeStatus, PlatformEvent};

impl Engine {
    /// Starts the extensions and, when none has to register first, the runtime.
    pub(super) fn start_init(&mut self, invoke_deadline: Option<Instant>) {
        // Before any process of it exists, so each of their connections
        // is accepted into it.
        self.generations.begin();
        // The first invoke's peak counts the init, not the generation
        // before it (whose processes are gone: killed in the teardown).
        self.processes.reset_memory_peak();
        let now = Instant::now();
        let phase = if invoke_deadline.is_some() {
            Phase::Invoke
        } else {
            Phase::Init
        };
        let deadline = invoke_deadline.unwrap_or(after(now, self.cfg.init_timeout));
        let kind = InitializationType::from_env_value(
            self.cfg
                .environment
                .iter()
                .find(|(name, _)| name == "AWS_LAMBDA_INITIALIZATION_TYPE")
                .map(|(_, value)| value.as_str()),
        );
        self.phase = EnginePhase::Initializing(InitPhase {
            deadline,
            started: now,
            phase,
            kind,
            runtime_done: false,
        });
        self.logs.emit(PlatformEvent::now(InitStart {
            initialization_type: kind,
            phase,
            function_name: self.cfg.function_name.clone(),
            function_version: self.cfg.function_version.clone(),
            runtime_version: None,
            runtime_version_arn: None,
        }));
        self.extensions.open_registration();
        self.new_credentials();
        let files = match super::extensions::discover(self.cfg.extensions_dir.as_deref()) {
            Ok(files) => files,
            Err(err) => {
                tracing::warn!(%err, "cannot read the extensions directory");
                Vec::new()
            }
        };
        let mut env = self.extension_environment();
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), self.api_address.clone()));
        env.extend(self.credentials_environment());
        for (name, path) in files {
            let cwd = self
                .cfg
                .bootstrap
                .as_ref()
                .map_or_else(|_| std::path::PathBuf::from("/"), |b| b.cwd.clone());
            match self
                .processes
                .spawn(&path.to_string_lossy(), &[], &cwd, &env)
            {
                Ok(spawned) => {
                    self.capture(spawned.output, telemetry::Origin::Extension);
                    tracing::debug!(pid = spawned.pid, %name, "extension started");
                    self.extensions.launched(name, spawned.pid);
                }
                Err(err) => {
                    let message = format!("fork/exec {}: {}", path.display(), io_reason(&err));
                    let err = FunctionError::new(ErrorType::ExtensionLaunchError, &message);
                    self.init_failed(err, InvokeStatus::Error);
                    return;
                }
            }
        }
        self.start_runtime_if_due();
    }

    /// The environment of extensions: the runtime's, minus `_*` variables.
    fn extension_environment(&self) -> Vec<(String, String)> {
        self.cfg
            .environment
            .iter()
            .filter(|(name, _)| !name.starts_with('_'))
            .cloned()
            .collect()
    }

    fn capture(&self, output: std::os::fd::OwnedFd, origin: telemetry::Origin) {
        if let Err(err) = self.logs.add_source(output, origin) {
            tracing::warn!(%err, "cannot capture a child's output");
        }
    }

    /// Starts the runtime when `lifecycle::runtime_may_start` says it is
    /// time (every launched extension registered, during an init).
    pub(super) fn start_runtime_if_due(&mut self) {
        let registered = self.extensions.all_launched_registered();
        if lifecycle::runtime_may_start(self.phase(), self.runtime.is_some(), registered) {
            self.start_runtime();
        }
    }

    fn start_runtime(&mut self) {
        let bootstrap = match &self.cfg.bootstrap {
            Ok(bootstrap) => bootstrap,
            Err(missing) => {
                let err =
                    FunctionError::new(ErrorType::RuntimeInvalidEntrypoint, &missing.to_string());
                self.init_failed(err, InvokeStatus::Error);
                return;
            }
        };
        let mut env = self.cfg.environment.clone();
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), self.api_address.clone()));
        env.extend(self.credentials_environment());
        match self
            .processes
            .spawn(&bootstrap.program, &bootstrap.args, &bootstrap.cwd, &env)
        {
            Ok(spawned) => {
                self.capture(spawned.output, telemetry::Origin::Function);
                tracing::debug!(pid = spawned.pid, "runtime started");
                self.runtime = Some(Runtime {
                    pid: spawned.pid,
                    exited_max_rss_kb: None,
                    state: RuntimeState::Started,
                    since: std::time::SystemTime::now(),
                    answered_at: None,
                    next: None,
                    polls: Vec::new(),
                    restore_next: None,
                    timed_out: std::collections::VecDeque::new(),
                });
            }
            Err(err) => {
                let message = format!("fork/exec {}: {}", bootstrap.program, io_reason(&err));
                let err = FunctionError::new(ErrorType::RuntimeInvalidEntrypoint, &message);
                self.init_failed(err, InvokeStatus::Error);
            }
        }
    }

    /// The runtime's first `next`: registration closes; init may be done.
    pub(super) fn runtime_ready(&mut self) {
        self.extensions.close_registration();
        if let Some(init) = self.phase.init_mut() {
            init.runtime_done = true;
            self.logs.emit(PlatformEvent::now(InitRuntimeDone {
                initialization_type: init.kind,
                phase: init.phase,
                status: Status::Success,
                error_type: None,
            }));
        }
        self.maybe_finish_init();
    }

    /// Init is done once the runtime and every registered extension wait in
    /// `next` (with init caching, the runtime may wait in `restore/next`).
    pub(super) fn maybe_finish_init(&mut self) {
        let Some(init) = self.phase.init() else {
            return;
        };
        let runtime = self.runtime.as_ref().map(|rt| rt.state);
        if !lifecycle::init_complete(runtime, self.extensions.all_ready()) {
            return;
        }
        // Init Duration: from starting the first process to ready. With init
        // caching Lambda prints it on INIT_REPORT, not on the invoke's REPORT.
        let init_duration = init.started.elapsed();
        self.report_init(init, InvokeStatus::Success, None, init_duration);
        if self.init_caching() {
            self.logs.line(format!(
                "INIT_REPORT Init Duration: {:.2} ms",
                telemetry::events::millis(init_duration)
            ));
        } else {
            self.init_duration = Some(init_duration);
        }
        self.init_ended(Ok(InitSuccess { init_duration }));
        self.idle_since = Instant::now();
        let serving = self.serving();
        self.phase.end_init(serving);
        self.start_slot_waits();
        self.retry_init = false;
        self.first_fatal = None;
        self.drive();
    }

    pub(super) fn on_init_error(
        &mut self,
        report: RuntimeErrorReport,
        caller: Option<Caller>,
    ) -> Result<(), ApiError> {
        match lifecycle::on_init_error(self.runtime.as_ref().map(|rt| rt.state)) {
            InitErrorCall::NoRuntime => return Err(invalid_state("no runtime is initializing")),
            InitErrorCall::RestoreError => return self.on_restore_error(report),
            InitErrorCall::Steps => {}
        }
        let Some(rt) = self.runtime.as_mut() else {
            return Err(invalid_state("no runtime is initializing"));
        };
        let current = self.generations.current_id();
        let foreign = || is_foreign(caller, current, &[rt.pid], "an init/error");
        if lifecycle::on_runtime_caller(RuntimeCall::InitError, foreign) == CallerCheck::Foreign {
            return Err(invalid_state(FOREIGN_RUNTIME));
        }
        rt.step(RuntimeInput::InitError)?;
        let err = FunctionError::from_runtime(report.error_type, report.body);
        self.init_failed(err, InvokeStatus::Error);
        Ok(())
    }

    /// Init failed: fail the invoke waiting for it, tear down, and try again
    /// on the next invoke.
    pub(super) fn init_failed(&mut self, err: FunctionError, status: InvokeStatus) {
        // Until the teardown below begins.
        let Some(init) = self.phase.end_init(EnginePhase::Uninitialized) else {
            return;
        };
        self.fatal(&err.error_type);
        let duration = init.started.elapsed();
        self.init_ended(Err(InitFailure {
            error_type: err.error_type.clone(),
            message: err.message(),
            init_duration: duration,
        }));
        if !init.runtime_done && self.runtime.is_some() {
            self.logs.emit(PlatformEvent::now(InitRuntimeDone {
                initialization_type: init.kind,
                phase: init.phase,
                status: Status::runtime_done(status, Some(&err.error_type)),
                error_type: Some(err.error_type.clone()),
            }));
        }
        self.report_init(&init, status, Some(&err.error_type), duration);
        self.logs.line(format!(
            "INIT_REPORT Init Duration: {:.2} ms\tPhase: {}\tStatus: {}\tError Type: {}",
            telemetry::events::millis(duration),
            init.phase.as_str(),
            status.as_str(),
            err.error_type
        ));
        let step = teardown::on_start_failed(
            self.phase.is_shutdown(),
            status == InvokeStatus::Timeout,
            !self.queue.is_empty(),
        );
        self.retry_init = step.retry_init;
        self.abandon_restore(super::RestoreFailed::InitFailed {
            error_type: err.error_type.clone(),
        });
        if step.fail_head {
            if let Some(queued) = self.queue.pop_front() {
                self.fail_undispatched(queued, err, status);
            }
        }
        self.begin_teardown(step.teardown);
    }

    /// Remembers how the init ended and tells who waits for it.
    fn init_ended(&mut self, result: Result<InitSuccess, InitFailure>) {
        for waiter in self.init_waiters.drain(..) {
            let _ = waiter.send(Ok(result.clone()));
        }
        self.last_init = Some(result);
    }

    pub(super) fn init_timed_out(&mut self) {
        let Some(init) = self.phase.init() else {
            return;
        };
        let err = match self.queue.front() {
            Some(q) if init.phase == Phase::Invoke => FunctionError::new(
                ErrorType::SandboxTimedout,
                &format!(
                    "RequestId: {} Error: Task timed out after {:.2} seconds",
                    q.invoke.request_id,
                    self.cfg.timeout.as_secs_f64()
                ),
            ),
            _ => FunctionError::new(
                ErrorType::SandboxTimedout,
                &format!(
                    "Init timed out after {:.2} seconds",
                    self.cfg.init_timeout.as_secs_f64()
                ),
            ),
        };
        self.init_failed(err, InvokeStatus::Timeout);
    }

    /// The end of init as the platform events say it: each registered
    /// extension's state (`platform.extension`), then `platform.initReport`
    /// with `duration`, the figure of REPORT's `Init Duration` (or of the
    /// INIT_REPORT line).
    fn report_init(
        &self,
        init: &InitPhase,
        status: InvokeStatus,
        error_type: Option<&ErrorType>,
        duration: Duration,
    ) {
        for extension in self.extensions.init_records() {
            self.logs.emit(PlatformEvent::now(extension));
        }
        self.logs.emit(PlatformEvent::now(InitReport {
            initialization_type: init.kind,
            phase: init.phase,
            status: status.into(),
            error_type: error_type.cloned(),
            metrics: InitReportMetrics { duration },
        }));
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}
