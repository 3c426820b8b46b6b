//! The Runtime API's, the Extensions API's and the Telemetry / Logs API
//! subscriptions' calls on a sandbox: each trait method (the adapters'
//! `RuntimeEngine`, `ExtensionsEngine`, `SubscriptionsEngine`) is one
//! message to the engine, with the caller's connection where the engine
//! checks who calls.

use super::Sandbox;
use crate::engine::{ExtensionMessage, RuntimeMessage};
use bytes::Bytes;
use extensions_api::{
    ExtensionApiError, ExtensionEvent, ExtensionsEngine, Registration, RegistrationRequest,
    SubscribeError, SubscriptionsEngine,
};
use interop::contract::SandboxContext;
use interop::restore::Credentials;
use interop::subscription::{Api, SchemaVersion, Subscription};
use interop::RuntimeEvent;
use runtime_api::{
    ApiError, RuntimeEngine, RuntimeError, RuntimeErrorReport, StreamEnd, StreamSink,
};

impl ExtensionsEngine for Sandbox {
    async fn register(
        &self,
        request: RegistrationRequest,
    ) -> Result<Registration, ExtensionApiError> {
        let caller = self.caller;
        self.ask_ext(|reply| ExtensionMessage::Register {
            request,
            caller,
            reply,
        })
        .await
    }

    async fn next(&self, id: uuid::Uuid) -> Result<ExtensionEvent, ExtensionApiError> {
        self.ask_ext(|reply| ExtensionMessage::Next { id, reply })
            .await
    }

    async fn init_error(
        &self,
        id: uuid::Uuid,
        error_type: String,
    ) -> Result<(), ExtensionApiError> {
        self.ask_ext(|reply| ExtensionMessage::InitError {
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
        self.ask_ext(|reply| ExtensionMessage::ExitError {
            id,
            error_type,
            reply,
        })
        .await
    }
}

impl SubscriptionsEngine for Sandbox {
    /// Only a registered extension of this sandbox may subscribe; the log
    /// hub serves the subscription from then on. With multi-concurrency
    /// the Telemetry API's newest schema is required (its records carry
    /// the request id where concurrent invokes need it).
    async fn subscribe(
        &self,
        id: uuid::Uuid,
        subscription: Subscription,
    ) -> Result<(), SubscribeError> {
        if let Api::Telemetry(version) = subscription.api {
            if self.concurrent && version != SchemaVersion::V2025_01_29 {
                return Err(SubscribeError::Validation {
                    message: "schemaVersion 2025-01-29 is required with AWS_LAMBDA_MAX_CONCURRENCY (Lambda Managed Instances)".to_owned(),
                });
            }
        }
        let state = SandboxContext::internal_state(self)
            .await
            .map_err(|_| ExtensionApiError::ShuttingDown)?;
        let id = id.to_string();
        let Some(extension) = state
            .extensions
            .into_iter()
            .find(|ext| ext.id.as_deref() == Some(id.as_str()))
        else {
            return Err(ExtensionApiError::UnknownIdentifier { id }.into());
        };
        match self
            .subscriptions
            .subscribe(id, extension.name, subscription)
        {
            true => Ok(()),
            false => Err(ExtensionApiError::ShuttingDown.into()),
        }
    }
}

impl RuntimeEngine for Sandbox {
    async fn next(&self) -> Result<RuntimeEvent, ApiError> {
        let caller = self.caller;
        let dispatched = self
            .ask(|reply| RuntimeMessage::Next { caller, reply })
            .await?;
        Ok(dispatched.event)
    }

    async fn response(
        &self,
        request_id: String,
        body: Bytes,
        content_type: Option<String>,
    ) -> Result<(), ApiError> {
        self.ask(|reply| RuntimeMessage::Response {
            request_id,
            body,
            content_type,
            reply,
        })
        .await
    }

    async fn start_forward(
        &self,
        request_id: String,
        content_type: Option<String>,
        length: u64,
    ) -> Option<StreamSink> {
        self.ask(|reply| RuntimeMessage::ForwardStart {
            request_id,
            content_type,
            length,
            reply,
        })
        .await
        .ok()
    }

    async fn forwarded(&self, request_id: String, size: u64) -> Result<(), ApiError> {
        self.ask(|reply| RuntimeMessage::Forwarded {
            request_id,
            size,
            reply,
        })
        .await
    }

    async fn start_stream(
        &self,
        request_id: String,
        content_type: Option<String>,
    ) -> Result<StreamSink, ApiError> {
        self.ask(|reply| RuntimeMessage::StreamStart {
            request_id,
            content_type,
            reply,
        })
        .await
    }

    async fn end_stream(&self, request_id: String, end: StreamEnd) -> Result<(), ApiError> {
        self.ask(|reply| RuntimeMessage::StreamEnd {
            request_id,
            end,
            reply,
        })
        .await
    }

    async fn error(&self, request_id: String, error: RuntimeError) -> Result<(), ApiError> {
        self.ask(|reply| RuntimeMessage::Error {
            request_id,
            error,
            reply,
        })
        .await
    }

    async fn init_error(&self, report: RuntimeErrorReport) -> Result<(), ApiError> {
        let caller = self.caller;
        self.ask(|reply| RuntimeMessage::InitError {
            report,
            caller,
            reply,
        })
        .await
    }

    async fn restore_next(&self) -> Result<(), ApiError> {
        let caller = self.caller;
        self.ask(|reply| RuntimeMessage::RestoreNext { caller, reply })
            .await
    }

    async fn restore_error(&self, report: RuntimeErrorReport) -> Result<(), ApiError> {
        self.ask(|reply| RuntimeMessage::RestoreError { report, reply })
            .await
    }

    async fn credentials(&self, authorization: Option<String>) -> Result<Credentials, ApiError> {
        self.ask(|reply| RuntimeMessage::Credentials {
            token: authorization,
            reply,
        })
        .await
    }
}
