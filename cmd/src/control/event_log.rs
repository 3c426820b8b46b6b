//! `GET /test/eventLog`: every platform event so far (spec §6's records),
//! oldest first, as one JSON array. The log keeps the most recent
//! `telemetry::EVENT_LOG_CAPACITY` events.

use super::Door;
use crate::body::DoorBody;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::Response;

/// The event log as the answer's body.
pub(super) fn handle(door: &dyn Door) -> Response<DoorBody> {
    let body = Bytes::from(door.event_log().to_json());
    let mut response = Response::new(DoorBody::full(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
