//! The engine as a property: random sequences of what a runtime, its
//! extensions, invokers and the control API can do (polls, answers to the
//! right and the wrong request id, errors, init errors, crashes, extension
//! registrations, events, crashes and init errors, resets, waits past the
//! deadlines), fed to the real engine with simulated processes, then a
//! shutdown. After every step and at the end it checks what must always
//! hold: every invoke is answered exactly once with its own id; the runtime
//! is handed each invoke at most once and only invokes that were sent;
//! every reset and completion asked for is answered; nothing is spawned
//! once the shutdown began; the engine ends, without panicking, with no
//! process left. The runtime never holds more unanswered invokes than its
//! slots (one, or K with multi-concurrency); and with multi-concurrency a
//! late answer to a timed-out invoke is refused and a timeout resets
//! nothing (the runtime that held the invoke lives on).

use super::{Engine, ExtensionMessage, Message, RuntimeMessage};
use crate::config::{Bootstrap, FunctionConfig};
use crate::generation::Generations;
use crate::supervisor::sim::Simulated;
use crate::supervisor::{ExitStatus, Processes};
use bytes::Bytes;
use extensions_api::{
    EventKind, ExtensionApiError, ExtensionEvent, Registration, RegistrationRequest,
};
use interop::contract::{InvokeFailure, InvokeSuccess, PhaseRefused, ResetReason, ResetSuccess};
use interop::restore::RestoreRequest;
use interop::{ErrorType, FunctionError, Invoke, InvokeOutcome};
use proptest::prelude::*;
use runtime_api::{ApiError, RuntimeError, RuntimeErrorReport, StreamEnd};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const RUNTIME: &str = "simulated-runtime";
const EXTENSIONS: usize = 2;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Invoke {
        tracked: bool,
    },
    RuntimeNext,
    Respond,
    RespondToAnotherId,
    RespondWithError,
    InitError,
    RuntimeCrash,
    Register {
        ext: usize,
        shutdown: bool,
    },
    ExtensionNext {
        ext: usize,
    },
    ExtensionCrash {
        ext: usize,
    },
    ExtensionInitError {
        ext: usize,
    },
    /// Lets time pass (past the deadlines, sometimes).
    Wait {
        ms: u64,
    },
    /// Every process does its next well-behaved step: an extension
    /// registers or asks for its next event, the runtime asks for its next
    /// invoke or answers the one it holds.
    Progress,
    /// The runtime answers again the invoke it answered last.
    RespondAgain,
    /// The runtime streams its answer, which ends well or cut short.
    Stream {
        fail: bool,
    },
    /// Init caching: the runtime waits in `restore/next`.
    RestoreNext,
    /// Init caching: its after-restore hooks fail.
    RestoreError,
    /// A restore asked (the control API).
    Restore,
    Reset {
        timeout: bool,
    },
    EagerInit,
}

fn op() -> impl Strategy<Value = Op> {
    let ext = 0..EXTENSIONS;
    prop_oneof![
        4 => any::<bool>().prop_map(|tracked| Op::Invoke { tracked }),
        6 => Just(Op::RuntimeNext),
        5 => Just(Op::Respond),
        1 => Just(Op::RespondToAnotherId),
        2 => Just(Op::RespondWithError),
        1 => Just(Op::InitError),
        1 => Just(Op::RuntimeCrash),
        3 => (ext.clone(), any::<bool>()).prop_map(|(ext, shutdown)| Op::Register { ext, shutdown }),
        5 => ext.clone().prop_map(|ext| Op::ExtensionNext { ext }),
        1 => ext.clone().prop_map(|ext| Op::ExtensionCrash { ext }),
        1 => ext.prop_map(|ext| Op::ExtensionInitError { ext }),
        2 => (0u64..120).prop_map(|ms| Op::Wait { ms }),
        // Past an invoke's timeout at once.
        1 => (100u64..160).prop_map(|ms| Op::Wait { ms }),
        1 => any::<bool>().prop_map(|timeout| Op::Reset { timeout }),
        1 => Just(Op::EagerInit),
        12 => Just(Op::Progress),
        1 => Just(Op::RespondAgain),
        2 => any::<bool>().prop_map(|fail| Op::Stream { fail }),
        1 => Just(Op::RestoreNext),
        1 => Just(Op::RestoreError),
        1 => Just(Op::Restore),
    ]
}

struct SentInvoke {
    id: String,
    reply: Option<oneshot::Receiver<InvokeOutcome>>,
    done: Option<oneshot::Receiver<Result<InvokeSuccess, InvokeFailure>>>,
    answered: bool,
}

struct Extension {
    path: String,
    id: Option<uuid::Uuid>,
    pid: Option<i32>,
    polls: Vec<oneshot::Receiver<Result<ExtensionEvent, ExtensionApiError>>>,
}

struct Harness {
    tx: mpsc::UnboundedSender<Message>,
    sim: Simulated,
    invokes: Vec<SentInvoke>,
    next_invoke: u64,
    /// The runtime's polls, with the pid that made each.
    polls: Vec<(i32, oneshot::Receiver<Result<super::Dispatched, ApiError>>)>,
    /// Request ids the runtime was handed, and those it works on (one at
    /// a time, or several with multi-concurrency), with the pid handed each.
    delivered: HashSet<String>,
    holding: Vec<(i32, String)>,
    /// Which runtime each invoke was handed to.
    handed: HashMap<String, i32>,
    /// Multi-concurrency: the handed invokes answered `Sandbox.Timedout`,
    /// all so far and those of the step under way.
    timed_out: HashSet<String>,
    timed_out_now: Vec<String>,
    /// Multi-concurrency: the runtime's late answers to timed-out invokes,
    /// each to be refused.
    late_answers: Vec<(String, oneshot::Receiver<Result<(), ApiError>>)>,
    /// Multi-concurrency is on.
    concurrent: bool,
    /// How many invokes the runtime may hold at once.
    limit: usize,
    /// Processes whose exit the engine had handled at the last sync.
    gone: HashSet<i32>,
    /// The shutdown was sent: the engine may stop taking messages.
    shutting_down: bool,
    /// The last invoke the runtime answered.
    answered_last: Option<String>,
    extensions: Vec<Extension>,
    resets: Vec<oneshot::Receiver<Result<ResetSuccess, PhaseRefused>>>,
    registrations: Vec<(
        usize,
        oneshot::Receiver<Result<Registration, ExtensionApiError>>,
    )>,
    /// Init caching is on.
    caching: bool,
    /// The runtimes' `restore/next` polls; the runtimes whose restore began.
    restore_polls: Vec<(i32, oneshot::Receiver<Result<(), ApiError>>)>,
    restoring: HashSet<i32>,
    restores: Vec<oneshot::Receiver<Result<Duration, super::RestoreFailed>>>,
    /// The first fatal error the engine's state showed at the last sync.
    first_fatal: Option<String>,
    /// Why the run broke a rule, if it did.
    broken: Vec<String>,
}

impl Harness {
    fn send(&mut self, message: impl Into<Message>) {
        if self.tx.send(message.into()).is_err() && !self.shutting_down {
            self.broken
                .push("the engine stopped before the shutdown".into());
        }
    }

    /// Every message sent so far has been handled.
    async fn sync(&mut self) {
        // The exits the simulation sent go to the engine through a
        // forwarding task: let it run first, so they are handled before
        // the state is asked for.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let (reply, rx) = oneshot::channel();
        self.send(Message::InternalState(reply));
        if let Ok(state) = rx.await {
            self.first_fatal = state.first_fatal_error;
        }
        self.collect();
        // From here on the engine has handled these processes' exits:
        // nothing of theirs may be answered any more.
        self.gone = self
            .sim
            .all()
            .into_iter()
            .filter(|p| !p.alive)
            .map(|p| p.pid)
            .collect();
    }

    /// The runtime, when it is alive and not frozen (a frozen process
    /// makes no call).
    fn runtime_pid(&self) -> Option<i32> {
        self.sim
            .alive()
            .into_iter()
            .rev()
            .find(|p| p.program == RUNTIME)
            .filter(|p| !p.stopped)
            .map(|p| p.pid)
    }

    /// The runtime `pid` was handed an invoke (it is past any restore).
    fn delivered_to(&self, pid: i32) -> bool {
        self.holding.iter().any(|(p, _)| *p == pid)
    }

    /// The invoke `pid` works on that it got last, taken off its hands.
    fn take_held(&mut self, pid: i32) -> Option<String> {
        let at = self.holding.iter().rposition(|(p, _)| *p == pid)?;
        Some(self.holding.remove(at).1)
    }

    /// The runtime, alive, frozen or not (killed from outside).
    fn runtime_alive(&self) -> Option<i32> {
        self.sim
            .alive()
            .into_iter()
            .rev()
            .find(|p| p.program == RUNTIME)
            .map(|p| p.pid)
    }

    /// Extension `ext`, when it is alive and not frozen (it can call).
    fn acting_extension(&self, ext: usize) -> Option<i32> {
        self.extension_pid(ext)
            .filter(|pid| !self.sim.is_stopped(*pid))
    }

    fn extension_pid(&self, ext: usize) -> Option<i32> {
        let path = &self.extensions[ext].path;
        self.sim
            .alive()
            .into_iter()
            .rev()
            .find(|p| &p.program == path)
            .map(|p| p.pid)
    }

    /// Looks at every answer that has arrived.
    fn collect(&mut self) {
        for invoke in &mut self.invokes {
            if let Some(rx) = invoke.reply.as_mut() {
                match rx.try_recv() {
                    Ok(outcome) => {
                        if outcome.request_id != invoke.id {
                            self.broken.push(format!(
                                "invoke {} answered with the outcome of {}",
                                invoke.id, outcome.request_id
                            ));
                        }
                        let timed_out = matches!(
                            &outcome.result,
                            Err(err) if err.error_type == ErrorType::SandboxTimedout
                        );
                        if timed_out && self.concurrent && self.handed.contains_key(&invoke.id) {
                            self.timed_out.insert(invoke.id.clone());
                            self.timed_out_now.push(invoke.id.clone());
                        }
                        invoke.answered = true;
                        invoke.reply = None;
                    }
                    Err(oneshot::error::TryRecvError::Empty) => {}
                    Err(oneshot::error::TryRecvError::Closed) => {
                        self.broken
                            .push(format!("invoke {} was dropped unanswered", invoke.id));
                        invoke.reply = None;
                    }
                }
            }
            if let Some(rx) = invoke.done.as_mut() {
                match rx.try_recv() {
                    Ok(_) => invoke.done = None,
                    Err(oneshot::error::TryRecvError::Empty) => {}
                    Err(oneshot::error::TryRecvError::Closed) => {
                        self.broken
                            .push(format!("the completion of {} was never told", invoke.id));
                        invoke.done = None;
                    }
                }
            }
        }
        let mut polls = std::mem::take(&mut self.polls);
        polls.retain_mut(|(pid, rx)| match rx.try_recv() {
            Ok(Ok(dispatched)) => {
                let id = dispatched.event.invoke.request_id;
                if self.gone.contains(pid) {
                    self.broken.push(format!(
                        "{id} was handed to a runtime of an ended generation (pid {pid})"
                    ));
                }
                if self.sim.is_stopped(*pid) {
                    self.broken
                        .push(format!("{id} was handed to a frozen runtime"));
                }
                if !self.invokes.iter().any(|i| i.id == id) {
                    self.broken
                        .push(format!("the runtime was handed {id}, never sent"));
                }
                if !self.delivered.insert(id.clone()) {
                    self.broken
                        .push(format!("the runtime was handed {id} twice"));
                }
                self.handed.insert(id.clone(), *pid);
                self.holding.push((*pid, id));
                false
            }
            Ok(Err(_)) | Err(oneshot::error::TryRecvError::Closed) => false,
            Err(oneshot::error::TryRecvError::Empty) => true,
        });
        self.polls = polls;
        if let Some(pid) = self.runtime_alive() {
            let unanswered = self
                .invokes
                .iter()
                .filter(|i| !i.answered && self.handed.get(&i.id) == Some(&pid))
                .count();
            if unanswered > self.limit {
                self.broken.push(format!(
                    "the runtime holds {unanswered} unanswered invokes, past its {} slots",
                    self.limit
                ));
            }
        }
        let mut accepted_late = Vec::new();
        self.late_answers
            .retain_mut(|(id, rx)| match rx.try_recv() {
                Ok(Ok(())) => {
                    accepted_late.push(format!(
                        "the late answer to {id} was accepted after it timed out"
                    ));
                    false
                }
                Ok(Err(ApiError::InvocationTimedOut { .. }))
                | Err(oneshot::error::TryRecvError::Closed) => false,
                Ok(Err(other)) => {
                    accepted_late.push(format!(
                        "the late answer to {id} was refused with {other:?}, not as timed out (410)"
                    ));
                    false
                }
                Err(oneshot::error::TryRecvError::Empty) => true,
            });
        self.broken.extend(accepted_late);
        let mut exits = Vec::new();
        let stopped: Vec<bool> = (0..EXTENSIONS)
            .map(|i| {
                self.extension_pid(i)
                    .is_some_and(|pid| self.sim.is_stopped(pid))
            })
            .collect();
        let mut frozen_events = Vec::new();
        let concurrent = self.concurrent;
        for (i, ext) in self.extensions.iter_mut().enumerate() {
            ext.polls.retain_mut(|rx| match rx.try_recv() {
                Ok(Ok(ExtensionEvent::Shutdown { .. })) => {
                    if stopped[i] {
                        frozen_events.push(format!("SHUTDOWN was handed to frozen ext-{i}"));
                    }
                    // It exits at once, as a well-behaved extension does.
                    exits.push(i);
                    false
                }
                Ok(Ok(_)) if stopped[i] => {
                    frozen_events.push(format!("INVOKE was handed to frozen ext-{i}"));
                    false
                }
                Ok(Ok(_)) if concurrent => {
                    frozen_events.push(format!(
                        "INVOKE was handed to ext-{i} with multi-concurrency"
                    ));
                    false
                }
                Ok(_) | Err(oneshot::error::TryRecvError::Closed) => false,
                Err(oneshot::error::TryRecvError::Empty) => true,
            });
        }
        self.broken.extend(frozen_events);
        for i in exits {
            if let Some(pid) = self.extension_pid(i) {
                self.sim.exit(pid, ExitStatus::Code(0));
            }
        }
        let mut restore_polls = std::mem::take(&mut self.restore_polls);
        restore_polls.retain_mut(|(pid, rx)| match rx.try_recv() {
            Ok(Ok(())) => {
                self.restoring.insert(*pid);
                false
            }
            Err(oneshot::error::TryRecvError::Empty) => true,
            Ok(Err(_)) | Err(oneshot::error::TryRecvError::Closed) => false,
        });
        self.restore_polls = restore_polls;
        self.restores.retain_mut(|rx| match rx.try_recv() {
            Ok(_) => false,
            Err(oneshot::error::TryRecvError::Empty) => true,
            Err(oneshot::error::TryRecvError::Closed) => {
                self.broken.push("a restore was never answered".into());
                false
            }
        });
        let mut registrations = std::mem::take(&mut self.registrations);
        registrations.retain_mut(|(ext, rx)| match rx.try_recv() {
            Ok(Ok(registration)) => {
                self.extensions[*ext].id = Some(registration.id);
                false
            }
            Err(oneshot::error::TryRecvError::Empty) => true,
            Ok(Err(_)) | Err(oneshot::error::TryRecvError::Closed) => false,
        });
        self.registrations = registrations;
        self.resets.retain_mut(|rx| match rx.try_recv() {
            Ok(_) => false,
            Err(oneshot::error::TryRecvError::Empty) => true,
            Err(oneshot::error::TryRecvError::Closed) => {
                self.broken.push("a reset was never answered".into());
                false
            }
        });
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Invoke { tracked } => {
                self.next_invoke += 1;
                let id = format!("invoke-{}", self.next_invoke);
                let (reply, reply_rx) = oneshot::channel();
                let (done, done_rx) = match tracked {
                    true => {
                        let (tx, rx) = oneshot::channel();
                        (Some(tx), Some(rx))
                    }
                    false => (None, None),
                };
                self.invokes.push(SentInvoke {
                    id: id.clone(),
                    reply: Some(reply_rx),
                    done: done_rx,
                    answered: false,
                });
                self.send(Message::Invoke {
                    invoke: invoke(&id),
                    reply: Some(reply),
                    done,
                });
            }
            Op::RuntimeNext => {
                if let Some(pid) = self.runtime_pid() {
                    let (reply, rx) = oneshot::channel();
                    self.polls.push((pid, rx));
                    self.send(RuntimeMessage::Next {
                        caller: None,
                        reply,
                    });
                }
            }
            Op::Respond | Op::RespondWithError | Op::RespondToAnotherId => {
                let Some(pid) = self.runtime_pid() else {
                    return;
                };
                let request_id = match op {
                    Op::RespondToAnotherId => format!("invoke-{}", self.next_invoke + 7),
                    _ => match self.take_held(pid) {
                        Some(id) => id,
                        None => return,
                    },
                };
                if op != &Op::RespondToAnotherId {
                    self.answered_last = Some(request_id.clone());
                }
                let (reply, rx) = oneshot::channel();
                if self.timed_out.contains(&request_id) {
                    self.late_answers.push((request_id.clone(), rx));
                }
                let message = match op {
                    Op::RespondWithError => RuntimeMessage::Error {
                        request_id,
                        error: RuntimeError::Reported(RuntimeErrorReport {
                            error_type: ErrorType::RuntimeUnknown,
                            body: Bytes::from_static(b"{\"errorMessage\":\"no\"}"),
                        }),
                        reply,
                    },
                    _ => RuntimeMessage::Response {
                        request_id,
                        body: Bytes::from_static(b"{\"ok\":true}"),
                        content_type: None,
                        reply,
                    },
                };
                self.send(message);
            }
            Op::InitError => {
                if self.runtime_pid().is_some() {
                    let (reply, _rx) = oneshot::channel();
                    self.send(RuntimeMessage::InitError {
                        report: RuntimeErrorReport {
                            error_type: ErrorType::RuntimeUnknown,
                            body: Bytes::from_static(b"{}"),
                        },
                        caller: None,
                        reply,
                    });
                }
            }
            Op::RuntimeCrash => {
                if let Some(pid) = self.runtime_alive() {
                    self.sim.exit(pid, ExitStatus::Code(1));
                }
            }
            Op::Register { ext, shutdown } => {
                let Some(pid) = self.acting_extension(ext) else {
                    return;
                };
                let name = format!("ext-{ext}");
                let mut events = vec![EventKind::Invoke];
                if shutdown {
                    events.push(EventKind::Shutdown);
                }
                let (reply, rx) = oneshot::channel();
                self.send(ExtensionMessage::Register {
                    request: RegistrationRequest {
                        name,
                        events,
                        accept_account_id: false,
                    },
                    caller: None,
                    reply,
                });
                self.extensions[ext].pid = Some(pid);
                self.registrations.push((ext, rx));
            }
            Op::ExtensionNext { ext } => {
                if let (Some(id), Some(_)) = (self.extensions[ext].id, self.acting_extension(ext)) {
                    let (reply, rx) = oneshot::channel();
                    self.extensions[ext].polls.push(rx);
                    self.send(ExtensionMessage::Next { id, reply });
                }
            }
            Op::ExtensionCrash { ext } => {
                if let Some(pid) = self.extension_pid(ext) {
                    self.sim.exit(pid, ExitStatus::Code(1));
                }
            }
            Op::ExtensionInitError { ext } => {
                if let (Some(id), Some(_)) = (self.extensions[ext].id, self.acting_extension(ext)) {
                    let (reply, _rx) = oneshot::channel();
                    self.send(ExtensionMessage::InitError {
                        id,
                        error_type: "Extension.Broken".into(),
                        reply,
                    });
                }
            }
            Op::Wait { .. } => {}
            Op::Progress => {
                for ext in 0..EXTENSIONS {
                    let registering = self.registrations.iter().any(|(e, _)| *e == ext);
                    let alive = self.acting_extension(ext);
                    let registered_here =
                        self.extensions[ext].id.is_some() && self.extensions[ext].pid == alive;
                    if alive.is_some() && !registered_here && !registering {
                        self.apply(&Op::Register {
                            ext,
                            shutdown: ext % 2 == 0,
                        });
                    } else if registered_here && self.extensions[ext].polls.is_empty() {
                        self.apply(&Op::ExtensionNext { ext });
                    }
                }
                let Some(pid) = self.runtime_pid() else {
                    return;
                };
                let polling = self.polls.iter().any(|(p, _)| *p == pid)
                    || self.restore_polls.iter().any(|(p, _)| *p == pid);
                let restored = self.restoring.contains(&pid);
                if self.concurrent {
                    // Its workers fill every slot before one answers, so
                    // invokes overlap (and some outlive their deadline).
                    let held = self.holding.iter().filter(|(p, _)| *p == pid).count();
                    let polls = self.polls.iter().filter(|(p, _)| *p == pid).count();
                    if held + polls < self.limit {
                        self.apply(&Op::RuntimeNext);
                    } else if held == self.limit {
                        self.apply(&Op::Respond);
                    }
                    return;
                }
                match self.delivered_to(pid) {
                    true => self.apply(&Op::Respond),
                    _ if polling => {}
                    // With init caching a fresh runtime first waits for a
                    // restore, then runs its hooks and asks for invokes.
                    _ if self.caching && !restored && !self.delivered_to(pid) => {
                        self.apply(&Op::RestoreNext)
                    }
                    _ => self.apply(&Op::RuntimeNext),
                }
            }
            Op::Stream { fail } => {
                let Some(pid) = self.runtime_pid() else {
                    return;
                };
                let Some(request_id) = self.take_held(pid) else {
                    return;
                };
                self.answered_last = Some(request_id.clone());
                let (reply, _rx) = oneshot::channel();
                self.send(RuntimeMessage::StreamStart {
                    request_id: request_id.clone(),
                    content_type: None,
                    reply,
                });
                let result = if fail {
                    Err(FunctionError::new(
                        ErrorType::RuntimeTruncatedResponse,
                        "cut",
                    ))
                } else {
                    Ok(())
                };
                let (reply, _rx) = oneshot::channel();
                self.send(RuntimeMessage::StreamEnd {
                    request_id,
                    end: StreamEnd {
                        size: 2,
                        first_byte: None,
                        result,
                    },
                    reply,
                });
            }
            Op::RestoreNext => {
                if let Some(pid) = self.runtime_pid() {
                    let (reply, rx) = oneshot::channel();
                    self.restore_polls.push((pid, rx));
                    self.send(RuntimeMessage::RestoreNext {
                        caller: None,
                        reply,
                    });
                }
            }
            Op::RestoreError => {
                if self.runtime_pid().is_some() {
                    let (reply, _rx) = oneshot::channel();
                    self.send(RuntimeMessage::RestoreError {
                        report: RuntimeErrorReport {
                            error_type: ErrorType::RuntimeUnknown,
                            body: Bytes::from_static(b"{}"),
                        },
                        reply,
                    });
                }
            }
            Op::Restore => {
                let (done, rx) = oneshot::channel();
                self.restores.push(rx);
                self.send(Message::Restore {
                    request: Box::new(RestoreRequest {
                        credentials: None,
                        hook_timeout: Some(Duration::from_millis(150)),
                    }),
                    done,
                });
            }
            Op::RespondAgain => {
                if let (Some(pid), Some(id)) = (self.runtime_pid(), self.answered_last.clone()) {
                    let (reply, _rx) = oneshot::channel();
                    let _ = pid;
                    self.send(RuntimeMessage::Response {
                        request_id: id,
                        body: Bytes::from_static(b"{}"),
                        content_type: None,
                        reply,
                    });
                }
            }
            Op::Reset { timeout } => {
                let (done, rx) = oneshot::channel();
                self.resets.push(rx);
                let reason = if timeout {
                    ResetReason::Timeout
                } else {
                    ResetReason::Failure
                };
                self.send(Message::Reset { reason, done });
            }
            Op::EagerInit => self.send(Message::Init {
                request: None,
                reply: None,
            }),
        }
    }
}

fn invoke(id: &str) -> Invoke {
    Invoke {
        request_id: id.to_owned(),
        payload: Bytes::from_static(b"{}"),
        client_context: None,
        cognito_identity: None,
        trace_id: "Root=1-00000000-000000000000000000000000".into(),
        tenant_id: None,
        log_tail: false,
        restore_duration: None,
        accepted: std::time::Instant::now(),
    }
}

/// The function's timeouts: the short ones the property runs with (and
/// an idle timeout, sometimes), or ones too long for the clock: each of
/// these once panicked the engine where it computed a deadline.
#[derive(Debug, Clone, Copy)]
enum Timeouts {
    Short { idle: Option<u64> },
    Huge,
}

fn config(extensions_dir: PathBuf, mode: Mode, timeouts: Timeouts) -> FunctionConfig {
    let mut cfg = FunctionConfig::from_env(
        Vec::<(String, String)>::new(),
        vec![RUNTIME.to_owned()],
        Duration::from_millis(300),
    )
    .expect("a configuration");
    cfg.timeout = Duration::from_millis(100);
    cfg.bootstrap = Ok(Bootstrap {
        program: RUNTIME.to_owned(),
        args: Vec::new(),
        cwd: PathBuf::from("/"),
    });
    cfg.extensions_dir = Some(extensions_dir);
    match timeouts {
        Timeouts::Short { idle } => cfg.idle_timeout = idle.map(Duration::from_millis),
        Timeouts::Huge => {
            cfg.timeout = Duration::MAX;
            cfg.init_timeout = Duration::MAX;
            cfg.idle_timeout = Some(Duration::MAX);
        }
    }
    match mode {
        Mode::Single => {}
        Mode::InitCaching => cfg.enable_init_caching(),
        Mode::Concurrent(k) => {
            // As `main` sets it up: never frozen.
            cfg.max_concurrency = Some(k);
            cfg.freeze = false;
        }
    }
    cfg
}

/// How the function is set up: one invoke at a time, with init caching,
/// or multi-concurrent with this limit (never both: rapid refuses it).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Single,
    InitCaching,
    Concurrent(u32),
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        2 => Just(Mode::Single),
        1 => Just(Mode::InitCaching),
        1 => (1u32..=3).prop_map(Mode::Concurrent),
    ]
}

/// Runs `ops` on a fresh engine, then shuts it down; the rules it broke.
fn run(ops: &[Op], extensions: usize, mode: Mode, idle: Option<u64>) -> Vec<String> {
    run_with(ops, extensions, mode, Timeouts::Short { idle })
}

fn run_with(ops: &[Op], extensions: usize, mode: Mode, timeouts: Timeouts) -> Vec<String> {
    let dir = tempdir(extensions);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let broken = runtime.block_on(drive(ops, dir.clone(), mode, timeouts));
    let _ = std::fs::remove_dir_all(&dir);
    broken
}

async fn drive(ops: &[Op], dir: PathBuf, mode: Mode, timeouts: Timeouts) -> Vec<String> {
    let sim = Simulated::default();
    let (processes, mut exits) = Processes::simulated(sim.clone());
    let (tx, rx) = mpsc::unbounded_channel();
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(exit) = exits.recv().await {
            if forward.send(Message::Exited(exit)).is_err() {
                return;
            }
        }
    });
    let (logs, log_task) =
        telemetry::LogHub::start(std::io::sink(), telemetry::EventLog::new(1000));
    let (generations, _current) = Generations::new();
    let engine = Engine::new(
        Arc::new(config(dir.clone(), mode, timeouts)),
        "127.0.0.1:9".into(),
        logs,
        processes,
        generations,
    );
    let engine = tokio::spawn(engine.run(rx));
    let mut h = Harness {
        tx,
        sim: sim.clone(),
        invokes: Vec::new(),
        next_invoke: 0,
        polls: Vec::new(),
        delivered: HashSet::new(),
        holding: Vec::new(),
        handed: HashMap::new(),
        timed_out: HashSet::new(),
        timed_out_now: Vec::new(),
        late_answers: Vec::new(),
        concurrent: matches!(mode, Mode::Concurrent(_)),
        limit: match mode {
            Mode::Concurrent(k) => k as usize,
            _ => 1,
        },
        gone: HashSet::new(),
        shutting_down: false,
        answered_last: None,
        extensions: (0..EXTENSIONS)
            .map(|i| Extension {
                path: dir.join(format!("ext-{i}")).to_string_lossy().into_owned(),
                id: None,
                pid: None,
                polls: Vec::new(),
            })
            .collect(),
        resets: Vec::new(),
        registrations: Vec::new(),
        caching: mode == Mode::InitCaching,
        restore_polls: Vec::new(),
        restoring: HashSet::new(),
        restores: Vec::new(),
        first_fatal: None,
        broken: Vec::new(),
    };
    for op in ops {
        let alive_before: HashSet<i32> = sim.alive().iter().map(|p| p.pid).collect();
        h.timed_out_now.clear();
        h.apply(op);
        if let Op::Wait { ms } = op {
            // ok: the op is time passing (deadlines, the idle timeout)
            tokio::time::sleep(Duration::from_millis(*ms)).await;
        }
        h.sync().await;
        let may_idle_out = matches!(timeouts, Timeouts::Short { idle: Some(_) });
        if h.concurrent && !may_idle_out && matches!(op, Op::Wait { .. }) {
            // Only time passed (and no idle timeout could retire the
            // environment meanwhile): an invoke's timeout may not have
            // ended the runtime that held it.
            let alive_after: HashSet<i32> = sim.alive().iter().map(|p| p.pid).collect();
            for id in &h.timed_out_now {
                let Some(pid) = h.handed.get(id) else {
                    continue;
                };
                if alive_before.contains(pid) && !alive_after.contains(pid) {
                    h.broken.push(format!(
                        "the timeout of {id} ended the runtime (pid {pid}) with multi-concurrency"
                    ));
                }
            }
        }
    }

    // The shutdown: nothing may be spawned once it began, and it ends.
    let fatal_before = h.first_fatal.clone();
    let (done, mut shut) = oneshot::channel();
    h.shutting_down = true;
    h.send(Message::Shutdown { budget: None, done });
    h.sync().await;
    let mut reported = None;
    let began = sim.now();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            // Extensions ask for their next event (SHUTDOWN) and exit.
            for ext in 0..EXTENSIONS {
                if h.extensions[ext].polls.is_empty() {
                    h.apply(&Op::ExtensionNext { ext });
                }
            }
            h.collect();
            if let Ok(done) = shut.try_recv() {
                reported = Some(done);
                return;
            }
            if engine.is_finished() {
                return;
            }
            // ok: the harness plays the extensions and looks again after a
            // short pause, bounded by the timeout around this loop
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    if ended.is_err() {
        h.broken.push("the shutdown did not end".into());
    }
    // The contract's promise: the shutdown reports the first error that
    // failed an init or an invoke (the shutdown may add one: the invoke
    // it cut short).
    let reported = reported
        .or_else(|| shut.try_recv().ok())
        .map(|done| done.first_fatal_error.map(|e| e.to_string()));
    if let (Some(before), Some(reported)) = (&fatal_before, &reported) {
        if reported.as_ref() != Some(before) {
            h.broken.push(format!(
                "the shutdown reported {reported:?} as the first fatal error, not {before}"
            ));
        }
    }
    match tokio::time::timeout(Duration::from_secs(10), engine).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => h.broken.push(format!("the engine panicked: {err}")),
        Err(_) => h.broken.push("the engine did not stop".into()),
    }
    h.collect();
    for invoke in &h.invokes {
        if !invoke.answered {
            h.broken
                .push(format!("invoke {} never answered", invoke.id));
        }
    }
    for p in sim.all() {
        if p.spawned_at > began {
            h.broken
                .push(format!("{} spawned after the shutdown began", p.program));
        }
    }
    if sim.any_alive() {
        h.broken.push(format!("processes left: {:?}", sim.alive()));
    }
    let _ = log_task.await;
    h.broken
}

fn tempdir(extensions: usize) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rapid-property-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    for i in 0..extensions {
        let path = dir.join(format!("ext-{i}"));
        std::fs::write(&path, "#!/bin/sh\n").expect("an extension file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
    }
    dir
}

proptest! {
    // PROPTEST_CASES=N runs more (the closing note's long run).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_engine_keeps_its_promises(
        extensions in 0..=EXTENSIONS,
        mode in mode(),
        idle in proptest::option::weighted(0.25, 20u64..150),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let broken = run(&ops, extensions, mode, idle);
        prop_assert!(broken.is_empty(), "{broken:#?}");
    }
}

/// The property's shrunk failures, kept as rows.
#[test]
fn rows_the_property_found() {
    let rows: &[(&str, usize, Mode, &[Op])] = &[
        (
            // A tracked invoke still queued at shutdown: its completion was
            // dropped untold (the invoker got its answer, `wait` an error).
            "a queued invoke's completion is told at shutdown",
            0,
            Mode::Single,
            &[Op::Invoke { tracked: true }],
        ),
        (
            // Multi-concurrency: an invoke times out, its worker answers
            // late (refused as timed out) and polls again; the runtime
            // serves the next invoke.
            "a late answer is refused and the runtime serves on",
            0,
            Mode::Concurrent(2),
            &[
                Op::Invoke { tracked: true },
                Op::RuntimeNext,
                Op::Wait { ms: 160 },
                Op::Respond,
                Op::RuntimeNext,
                Op::Invoke { tracked: true },
                Op::Progress,
                Op::Progress,
            ],
        ),
    ];
    for (name, extensions, mode, ops) in rows {
        let broken = run(ops, *extensions, *mode, None);
        assert!(broken.is_empty(), "{name}: {broken:#?}");
    }
}

/// Timeouts too long for the clock (`u64::MAX` seconds) never panic the
/// engine: an init, invokes, a failed init retried inside an invoke's
/// time, a reset, a restore, an idle environment and a shutdown all
/// compute their deadlines with them.
#[test]
fn timeouts_past_the_clock_never_panic_the_engine() {
    let ops: &[Op] = &[
        Op::Invoke { tracked: true },
        Op::Progress,
        Op::Progress,
        Op::Progress,
        Op::Respond,
        Op::Progress,
        Op::Wait { ms: 30 },
        Op::Invoke { tracked: false },
        Op::Progress,
        Op::RuntimeCrash,
        Op::Invoke { tracked: true },
        Op::InitError,
        Op::Wait { ms: 30 },
        Op::Progress,
        Op::Progress,
        Op::Progress,
        Op::Respond,
        Op::Progress,
        Op::Reset { timeout: true },
        Op::Invoke { tracked: false },
        Op::Progress,
        Op::Progress,
        Op::Progress,
        Op::Wait { ms: 30 },
    ];
    for mode in [Mode::Single, Mode::InitCaching, Mode::Concurrent(2)] {
        for extensions in [0, 1] {
            let broken = run_with(ops, extensions, mode, Timeouts::Huge);
            assert!(broken.is_empty(), "{mode:?} {extensions}: {broken:#?}");
        }
    }
    let restores: &[Op] = &[
        Op::Invoke { tracked: true },
        Op::Progress,
        Op::RestoreNext,
        Op::Progress,
        Op::Restore,
        Op::Progress,
        Op::Progress,
        Op::Respond,
        Op::Progress,
    ];
    let broken = run_with(restores, 1, Mode::InitCaching, Timeouts::Huge);
    assert!(broken.is_empty(), "restores: {broken:#?}");
}
