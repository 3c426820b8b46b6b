//! Extensions: discovery, registration, their `next` and error calls, and
//! the bookkeeping of their processes (spec §5). How they are found in the
//! extensions directory is `discover.rs`; how they are described to the
//! control API and telemetry, `describe.rs`.

mod describe;
mod discover;

pub(super) use discover::discover;

use super::{is_foreign, Engine, ExtReply};
use crate::config::ACCOUNT_ID;
use crate::lifecycle::{
    self, Disruption, ExtensionInput, ExtensionNext, ExtensionNextEnds, ExtensionState, Poll,
    RegisterRefused, Registering, Verdict,
};
use crate::supervisor::{Caller, ProcessExit};
use extensions_api::{
    EventKind, ExtensionApiError, ExtensionEvent, Registration, RegistrationRequest,
};
use interop::contract::ShutdownReason;
use interop::{ErrorType, FunctionError};
use std::time::SystemTime;
use telemetry::InvokeStatus;
use uuid::Uuid;

struct Extension {
    id: Uuid,
    name: String,
    invoke: bool,
    shutdown: bool,
    state: ExtensionState,
    /// When `state` was entered.
    since: SystemTime,
    next: Option<ExtReply<ExtensionEvent>>,
    /// An event handed out while the extension was not waiting in `next`.
    pending: Option<ExtensionEvent>,
    exit_error: Option<String>,
    /// The type of its init/error, if it posted one.
    init_error: Option<String>,
}

struct Process {
    name: String,
    pid: i32,
    /// When it was started.
    started: SystemTime,
    /// Peak RSS once it has exited.
    exited_max_rss_kb: Option<u64>,
}

/// The extensions of the current generation of the sandbox.
#[derive(Default)]
pub(super) struct Extensions {
    registered: Vec<Extension>,
    processes: Vec<Process>,
    registration_open: bool,
}

impl Extensions {
    pub(super) fn open_registration(&mut self) {
        self.registration_open = true;
    }

    pub(super) fn close_registration(&mut self) {
        self.registration_open = false;
    }

    pub(super) fn launched(&mut self, name: String, pid: i32) {
        self.processes.push(Process {
            name,
            pid,
            started: SystemTime::now(),
            exited_max_rss_kb: None,
        });
    }

    pub(super) fn is_process(&self, pid: i32) -> bool {
        self.processes.iter().any(|p| p.pid == pid)
    }

    fn is_registered(&self, name: &str) -> bool {
        self.registered.iter().any(|e| e.name == name)
    }

    pub(super) fn all_launched_registered(&self) -> bool {
        self.processes.iter().all(|p| self.is_registered(&p.name))
    }

    /// Every registered extension waits in `next` (or has nothing to do).
    pub(super) fn all_ready(&self) -> bool {
        self.registered
            .iter()
            .all(|e| e.state.is_settled() && e.pending.is_none())
    }

    pub(super) fn any_registered(&self) -> bool {
        !self.registered.is_empty()
    }

    pub(super) fn any_external_registered(&self) -> bool {
        self.registered.iter().any(|e| self.is_external(&e.name))
    }

    fn is_external(&self, name: &str) -> bool {
        self.processes.iter().any(|p| p.name == name)
    }

    pub(super) fn send_invoke(
        &mut self,
        deadline_ms: u64,
        request_id: &str,
        arn: &str,
        trace_id: &str,
    ) {
        // An extension whose process is gone hears nothing more (the
        // table refuses it an event).
        for ext in self
            .registered
            .iter_mut()
            .filter(|e| e.invoke && e.hears_events())
        {
            let event = ExtensionEvent::invoke(
                deadline_ms,
                request_id.to_owned(),
                arn,
                trace_id.to_owned(),
            );
            ext.apply(ExtensionInput::Event);
            deliver(ext, event);
        }
    }

    /// Sends SHUTDOWN to the extensions registered for it; returns the pids
    /// of the processes to kill at once (not registered for SHUTDOWN).
    pub(super) fn send_shutdown(&mut self, reason: ShutdownReason, deadline_ms: u64) -> Vec<i32> {
        for ext in self
            .registered
            .iter_mut()
            .filter(|e| e.shutdown && e.hears_events())
        {
            ext.apply(ExtensionInput::Event);
            deliver(
                ext,
                ExtensionEvent::Shutdown {
                    shutdown_reason: reason,
                    deadline_ms,
                },
            );
        }
        let waits_for_shutdown =
            |name: &str| self.registered.iter().any(|e| e.name == name && e.shutdown);
        self.processes
            .iter()
            .filter(|p| p.exited_max_rss_kb.is_none() && !waits_for_shutdown(&p.name))
            .map(|p| p.pid)
            .collect()
    }

    /// Records an extension process's exit; returns its name.
    fn exited(&mut self, exit: &ProcessExit) -> Option<String> {
        let process = self.processes.iter_mut().find(|p| p.pid == exit.pid)?;
        process.exited_max_rss_kb = Some(exit.max_rss_kb);
        let name = process.name.clone();
        if let Some(ext) = self.registered.iter_mut().find(|e| e.name == name) {
            ext.apply(ExtensionInput::Exited);
        }
        Some(name)
    }

    /// The shutdown deadline passed: those still running failed to shut down.
    pub(super) fn shutdown_deadline_passed(&mut self) {
        let alive = self.still_running();
        for ext in self
            .registered
            .iter_mut()
            .filter(|e| alive.contains(&e.name))
        {
            ext.apply(ExtensionInput::ShutdownDeadline);
        }
    }

    pub(super) fn all_processes_exited(&self) -> bool {
        self.processes.iter().all(|p| p.exited_max_rss_kb.is_some())
    }

    pub(super) fn live_pids(&self) -> Vec<i32> {
        self.processes
            .iter()
            .filter(|p| p.exited_max_rss_kb.is_none())
            .map(|p| p.pid)
            .collect()
    }

    pub(super) fn still_running(&self) -> Vec<String> {
        self.processes
            .iter()
            .filter(|p| p.exited_max_rss_kb.is_none())
            .map(|p| p.name.clone())
            .collect()
    }

    /// Live extension pids, and the peak RSS (KB) of those gone.
    pub(super) fn memory_roots(&self) -> (Vec<i32>, u64) {
        let gone = self
            .processes
            .iter()
            .filter_map(|p| p.exited_max_rss_kb)
            .sum();
        (self.live_pids(), gone)
    }

    pub(super) fn reset(&mut self) {
        *self = Extensions::default();
    }

    fn find(&mut self, id: Uuid) -> Result<&mut Extension, ExtensionApiError> {
        self.registered
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| ExtensionApiError::UnknownIdentifier { id: id.to_string() })
    }
}

impl Extension {
    /// Its state table lets it be handed an event.
    fn hears_events(&self) -> bool {
        self.state.on(ExtensionInput::Event).is_ok()
    }

    fn set_state(&mut self, state: ExtensionState) {
        if state != self.state {
            self.since = SystemTime::now();
        }
        self.state = state;
    }

    /// Moves to the state after the extension's own call `input`, or says
    /// (as the Extensions API's error) why the call is not allowed now.
    fn step(&mut self, input: ExtensionInput) -> Result<(), ExtensionApiError> {
        let state = self
            .state
            .on(input)
            .map_err(|err| ExtensionApiError::InvalidState {
                message: err.to_string(),
            })?;
        self.set_state(state);
        Ok(())
    }

    /// Moves to the state after `input`. The engine only applies inputs it
    /// has checked (or that are allowed in every state they can come in); an
    /// illegal one would be a bug of rapid's, logged and otherwise ignored
    /// rather than taking the sandbox down.
    fn apply(&mut self, input: ExtensionInput) {
        match self.state.on(input) {
            Ok(state) => self.set_state(state),
            Err(err) => tracing::warn!(extension = %self.name, %err, "ignored"),
        }
    }
}

/// Hands `event` to the extension's waiting `next`, or keeps it for the next call.
fn deliver(ext: &mut Extension, event: ExtensionEvent) {
    match ext.next.take() {
        Some(next) => {
            if let Err(Ok(event)) = next.send(Ok(event)) {
                ext.pending = Some(event);
            }
        }
        None => ext.pending = Some(event),
    }
}

impl Engine {
    pub(super) fn on_register(
        &mut self,
        request: RegistrationRequest,
        caller: Option<Caller>,
    ) -> Result<Registration, ExtensionApiError> {
        // The foreign check first (`lifecycle::on_register`): a stale
        // process learns nothing more.
        // External extensions register from their own process, internal
        // ones from the runtime's.
        let mut roots = self.extensions.live_pids();
        roots.extend(self.runtime.as_ref().map(|rt| rt.pid));
        let current = self.generations.current_id();
        let shutdown = request.events.contains(&EventKind::Shutdown);
        let registering = Registering {
            open: self.extensions.registration_open,
            phase: self.phase(),
            name_taken: self.extensions.is_registered(&request.name),
            registered: self.extensions.registered.len(),
            wants_shutdown: shutdown,
            external: self.extensions.is_external(&request.name),
        };
        let foreign = || is_foreign(caller, current, &roots, "an extension's register");
        let state = match lifecycle::on_register(&registering, foreign) {
            Ok(state) => state,
            Err(RegisterRefused::Closed) => return Err(ExtensionApiError::RegistrationClosed),
            Err(RegisterRefused::Foreign) => {
                return Err(ExtensionApiError::InvalidState {
                    message: format!(
                        "{} cannot register: the caller is not a process of this execution environment (a process from before a reset?)",
                        request.name
                    ),
                })
            }
            Err(RegisterRefused::AlreadyRegistered) => {
                return Err(ExtensionApiError::AlreadyRegistered { name: request.name })
            }
            Err(RegisterRefused::TooMany) => {
                return Err(ExtensionApiError::TooManyExtensions {
                    limit: lifecycle::MAX_EXTENSIONS,
                })
            }
            Err(RegisterRefused::ShutdownForInternal) => {
                return Err(ExtensionApiError::InvalidEventType {
                    message: format!(
                        "{} is an internal extension (no such file in the extensions directory): it cannot register for SHUTDOWN",
                        request.name
                    ),
                })
            }
        };
        let id = interop::ids::new_uuid();
        self.logs.mark_with(|| telemetry::Mark::Registered {
            name: request.name.clone(),
        });
        self.extensions.registered.push(Extension {
            id,
            name: request.name,
            invoke: request.events.contains(&EventKind::Invoke),
            shutdown,
            state,
            since: SystemTime::now(),
            next: None,
            pending: None,
            exit_error: None,
            init_error: None,
        });
        self.start_runtime_if_due();
        Ok(Registration {
            id,
            function_name: self.cfg.function_name.clone(),
            function_version: self.cfg.function_version.clone(),
            handler: self.cfg.handler.clone(),
            account_id: request.accept_account_id.then(|| ACCOUNT_ID.to_owned()),
        })
    }

    pub(super) fn on_extension_next(&mut self, id: Uuid, reply: ExtReply<ExtensionEvent>) {
        let ext = match self.extensions.find(id) {
            Ok(ext) => ext,
            Err(err) => {
                let _ = reply.send(Err(err));
                return;
            }
        };
        let poll = match &ext.next {
            None => Poll::None,
            Some(next) if next.is_closed() => Poll::Closed,
            Some(_) => Poll::Open,
        };
        let ends = match lifecycle::extension_next(ext.state, ext.pending.is_some(), poll) {
            ExtensionNext::TakesPending => {
                // Its state moved when the event was handed out.
                if let Some(event) = ext.pending.take() {
                    let _ = reply.send(Ok(event));
                }
                return;
            }
            ExtensionNext::AlreadyWaiting => {
                let _ = reply.send(Err(ExtensionApiError::InvalidState {
                    message: format!(
                        "extension {} is already waiting for its next event",
                        ext.name
                    ),
                }));
                return;
            }
            ExtensionNext::Waits => {
                ext.next = Some(reply);
                return;
            }
            ExtensionNext::Steps(ends) => ends,
        };
        if let Err(err) = ext.step(ExtensionInput::Next) {
            let _ = reply.send(Err(err));
            return;
        }
        ext.next = Some(reply);
        if let ExtensionNextEnds::Invoke = ends {
            self.logs.mark_with(|| telemetry::Mark::ExtensionDone {
                name: ext.name.clone(),
            });
        }
        match ends {
            ExtensionNextEnds::Init => self.maybe_finish_init(),
            ExtensionNextEnds::Invoke => self.maybe_finish_invoke(),
            ExtensionNextEnds::Nothing => {}
        }
        self.drive();
    }

    pub(super) fn on_extension_init_error(
        &mut self,
        id: Uuid,
        error_type: &str,
    ) -> Result<(), ExtensionApiError> {
        let error_type = interop::bounded_error_type(error_type, "an extension's");
        let in_init = lifecycle::may_post_init_error(self.phase());
        let ext = self.extensions.find(id)?;
        if !in_init {
            return Err(ExtensionApiError::InvalidState {
                message: "init/error is only allowed during init".to_owned(),
            });
        }
        ext.step(ExtensionInput::InitError)?;
        ext.init_error = Some(error_type.to_owned());
        let message = format!("Extension {} failed to initialize: {error_type}", ext.name);
        let err = FunctionError::new(ErrorType::ExtensionInitError, &message);
        self.init_failed(err, InvokeStatus::Error);
        Ok(())
    }

    pub(super) fn on_extension_exit_error(
        &mut self,
        id: Uuid,
        error_type: &str,
    ) -> Result<(), ExtensionApiError> {
        let error_type = interop::bounded_error_type(error_type, "an extension's");
        let ext = self.extensions.find(id)?;
        ext.step(ExtensionInput::ExitError)?;
        ext.exit_error = Some(error_type.to_owned());
        Ok(())
    }

    pub(super) fn on_extension_exit(&mut self, exit: ProcessExit) {
        let Some(name) = self.extensions.exited(&exit) else {
            return;
        };
        let why = format!("Extension {name} exited: {}", exit.status);
        tracing::debug!(pid = exit.pid, reason = %why);
        let verdict = self.verdict(Disruption::ExtensionExited);
        match verdict {
            Verdict::TeardownGoesOn => self.teardown_extension_exited(),
            Verdict::ResetNow => {
                tracing::warn!(reason = %why, "an extension exited while idle; the next invoke starts the sandbox again");
                self.begin_teardown(ShutdownReason::Failure);
            }
            cut => self.cut_short(cut, ErrorType::ExtensionCrash, &why),
        }
    }
}
