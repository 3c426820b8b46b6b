//! Each message to the method that carries it out, once
//! `lifecycle::on_call` admitted it: the contract's and the reaper's in
//! `handle`, the Runtime API's and the Extensions API's in their own
//! match. The handlers ask their tables; nothing here decides.

use super::message::{refuse, ExtensionMessage, Message, RuntimeMessage};
use super::{Engine, Queued};
use crate::lifecycle::{self, Admit, AwaitInit, InitAsked};
use interop::contract::{InitRequest, PhaseRefused};
use std::sync::Arc;

impl Engine {
    pub(super) fn handle(&mut self, message: Message) {
        if lifecycle::on_call(self.phase(), message.call()) == Admit::ShuttingDown {
            refuse(message);
            return;
        }
        match message {
            Message::Invoke {
                invoke,
                reply,
                done,
            } => {
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
            Message::Runtime(message) => self.on_runtime_call(message),
            Message::Extension(message) => self.on_extension_call(message),
            Message::Exited(exit) => self.on_exit(exit),
            Message::Shutdown { budget, done } => self.begin_shutdown(Some(done), budget),
            Message::InternalState(reply) => {
                let _ = reply.send(self.internal_state());
            }
            Message::Reset { reason, done } => self.reset(reason, done),
            Message::Restore { request, done } => self.on_restore_request(*request, done),
        }
    }

    /// A Runtime API call: its answer goes back on its reply.
    fn on_runtime_call(&mut self, message: RuntimeMessage) {
        match message {
            RuntimeMessage::Next { caller, reply } => self.on_next(caller, reply),
            RuntimeMessage::Response {
                request_id,
                body,
                content_type,
                reply,
            } => {
                let _ = reply.send(self.on_response(&request_id, body, content_type));
            }
            RuntimeMessage::ForwardStart {
                request_id,
                content_type,
                length,
                reply,
            } => {
                let _ = reply.send(self.start_forward(&request_id, content_type, length));
            }
            RuntimeMessage::Forwarded {
                request_id,
                size,
                reply,
            } => {
                let _ = reply.send(self.on_forwarded(&request_id, size));
            }
            RuntimeMessage::StreamStart {
                request_id,
                content_type,
                reply,
            } => {
                let _ = reply.send(self.start_stream(&request_id, content_type));
            }
            RuntimeMessage::StreamEnd {
                request_id,
                end,
                reply,
            } => {
                let _ = reply.send(self.end_stream(&request_id, end));
            }
            RuntimeMessage::Error {
                request_id,
                error,
                reply,
            } => {
                let _ = reply.send(self.on_error(&request_id, error.into_function_error()));
            }
            RuntimeMessage::InitError {
                report,
                caller,
                reply,
            } => {
                let _ = reply.send(self.on_init_error(report, caller));
            }
            RuntimeMessage::RestoreNext { caller, reply } => self.on_restore_next(caller, reply),
            RuntimeMessage::RestoreError { report, reply } => {
                let _ = reply.send(self.on_restore_error(report));
            }
            RuntimeMessage::Credentials { token, reply } => {
                let _ = reply.send(self.on_credentials(token));
            }
        }
    }

    /// An Extensions API call: its answer goes back on its reply.
    fn on_extension_call(&mut self, message: ExtensionMessage) {
        match message {
            ExtensionMessage::Register {
                request,
                caller,
                reply,
            } => {
                let _ = reply.send(self.on_register(request, caller));
            }
            ExtensionMessage::Next { id, reply } => self.on_extension_next(id, reply),
            ExtensionMessage::InitError {
                id,
                error_type,
                reply,
            } => {
                let _ = reply.send(self.on_extension_init_error(id, &error_type));
            }
            ExtensionMessage::ExitError {
                id,
                error_type,
                reply,
            } => {
                let _ = reply.send(self.on_extension_exit_error(id, &error_type));
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
}
