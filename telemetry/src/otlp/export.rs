//! The exporter task: takes spans off the queue, a batch at a time (up to
//! [`MAX_BATCH`] spans, or what came within [`BATCH_DELAY`] of the first),
//! encodes the batch as an `ExportTraceServiceRequest` and posts it
//! (`Content-Type: application/x-protobuf`) on a kept-alive connection. One
//! batch in flight; a batch the collector refused or did not answer in
//! time is dropped and counted, never retried (a kept connection that
//! turned out closed is tried once more on a new one), so a collector that
//! is down costs one failed connect per batch. At shutdown (`Exporting::finish`,
//! once the hubs ended) what is queued goes out and the task ends.

use super::endpoint::Host;
use super::spans::{int, string};
use super::{Endpoint, Resource, Shared};
use crate::subscribers::{http_post, HttpConnection, SendError};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

/// The most spans in one request.
const MAX_BATCH: usize = 512;
/// How long the first span of a batch waits for others.
const BATCH_DELAY: Duration = Duration::from_millis(500);
const PROTOBUF: &str = "application/x-protobuf";

pub(super) async fn run(
    mut rx: mpsc::Receiver<Span>,
    endpoint: Endpoint,
    resource: Resource,
    shared: Arc<Shared>,
) {
    let resource = resource_of(&resource);
    let mut connection = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut closing = false;
    loop {
        if !closing {
            tokio::select! {
                taken = rx.recv_many(&mut batch, MAX_BATCH) => closing = taken == 0,
                _ = shared.close.notified() => closing = true,
            }
        }
        let flush_at = Instant::now() + BATCH_DELAY;
        while !closing && batch.len() < MAX_BATCH {
            let room = MAX_BATCH - batch.len();
            tokio::select! {
                taken = rx.recv_many(&mut batch, room) => closing = taken == 0,
                _ = shared.close.notified() => closing = true,
                _ = sleep_until(flush_at) => break,
            }
        }
        if closing {
            // The hubs have ended: what they queued is all there is.
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(span) => batch.push(span),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                return;
            }
        }
        let count = batch.len() as u64;
        let body = encode(&resource, std::mem::take(&mut batch));
        if let Err(err) = post(&mut connection, &endpoint, body).await {
            connection = None;
            tracing::debug!(%err, count, "OTLP: batch not exported");
            shared.drop_spans(count, &shared.said_failed, || {
                tracing::warn!(url = endpoint.url(), %err, "OTLP: cannot export spans; the spans not taken are counted");
            });
        }
    }
}

/// One request: the batch under the function's resource and rapid's scope.
fn encode(resource: &ProtoResource, spans: Vec<Span>) -> Bytes {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "rapid".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    Bytes::from(request.encode_to_vec())
}

/// OpenTelemetry's resource attributes for a FaaS function on AWS.
fn resource_of(r: &Resource) -> ProtoResource {
    ProtoResource {
        attributes: vec![
            string("service.name", &r.function_name),
            string("cloud.provider", "aws"),
            string("cloud.platform", "aws_lambda"),
            string("cloud.region", &r.region),
            string("cloud.resource_id", &r.function_arn),
            string("faas.name", &r.function_name),
            string("faas.version", &r.function_version),
            int(
                "faas.max_memory",
                r.memory_size_mb.saturating_mul(1024 * 1024),
            ),
        ],
        ..ProtoResource::default()
    }
}

/// Posts `body`; a kept connection that fails is replaced once.
async fn post(
    connection: &mut Option<HttpConnection>,
    endpoint: &Endpoint,
    body: Bytes,
) -> Result<(), SendError> {
    let address = address(endpoint).await?;
    let (host, path) = (endpoint.authority(), endpoint.path());
    let kept = connection.is_some();
    match http_post(connection, address, host, path, PROTOBUF, body.clone()).await {
        Err(SendError::Http(_)) if kept => {
            *connection = None;
            http_post(connection, address, host, path, PROTOBUF, body).await
        }
        sent => sent,
    }
}

async fn address(endpoint: &Endpoint) -> Result<SocketAddr, SendError> {
    match endpoint.host() {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, endpoint.port())),
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), endpoint.port()))
            .await
            .map_err(SendError::Connect)?
            .next()
            .ok_or_else(|| SendError::Connect(std::io::ErrorKind::NotFound.into())),
    }
}
