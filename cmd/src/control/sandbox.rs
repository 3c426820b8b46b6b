//! Which sandbox a control call addresses: `?sandbox=N` (0 is the first;
//! without it, 0), and what the control API holds for each one.

use super::invoke::Reservations;
use super::Door;
use crate::body::DoorBody;
use crate::invoke_http::SANDBOX_HEADER;
use http::{HeaderValue, Response, StatusCode};
use interop::contract::SandboxContext;
use interop::state::InternalState;
use rapid::pool::PoolError;
use rapid::Sandbox;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What the control API holds between calls: per sandbox, the init it
/// started and the reservation; for all, the function version `/test/init`
/// gave last.
#[derive(Default)]
pub struct Controls {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    version: Option<String>,
    sandboxes: HashMap<usize, Arc<Reservations>>,
}

impl Controls {
    /// The function version invokes run (`/test/init`'s, else rapid's).
    pub fn version(&self, default: &str) -> String {
        self.lock()
            .version
            .clone()
            .unwrap_or_else(|| default.to_owned())
    }

    /// Remembers the function version `/test/init` gave.
    pub(super) fn set_version(&self, version: String) {
        self.lock().version = Some(version);
    }

    /// What the control API holds for sandbox `index`.
    fn of(&self, index: usize) -> Arc<Reservations> {
        self.lock().sandboxes.entry(index).or_default().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change is one assignment or insert: consistent whatever
        // panicked while holding it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sandbox one control call addresses.
pub(super) struct Target<'a> {
    pub door: &'a dyn Door,
    pub index: usize,
    pub sandbox: Sandbox,
    pub control: Arc<Reservations>,
}

impl<'a> Target<'a> {
    /// Sandbox `index`: the first is the front door's own; another is the
    /// pool's, started now if it has not been. A Lambda-style `400` when
    /// there is no such sandbox, `503` when it cannot be had now.
    pub async fn resolve(
        door: &'a dyn Door,
        index: usize,
    ) -> Result<Target<'a>, Response<DoorBody>> {
        let sandbox = match (door.pool(), index) {
            (_, 0) => Ok(door.sandbox().clone()),
            (Some(pool), _) => pool.sandbox_at(index).await,
            (None, _) => Err(PoolError::NoSuchSandbox { index, max: 1 }),
        };
        let sandbox = sandbox.map_err(|err| {
            let status = match err {
                PoolError::NoSuchSandbox { .. } => StatusCode::BAD_REQUEST,
                PoolError::Start(_) | PoolError::Gone | PoolError::Starting { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            super::error(status, "Client.InvalidRequest", &err.to_string())
        })?;
        Ok(Target {
            door,
            index,
            sandbox,
            control: door.controls().of(index),
        })
    }

    /// The sandbox's internal state as a control answer's body.
    pub async fn state(&self) -> serde_json::Value {
        let state = self.sandbox.internal_state().await.unwrap_or_default();
        self.describe(state)
    }

    pub fn describe(&self, state: InternalState) -> serde_json::Value {
        describe(self.index, state)
    }

    /// `response` saying which sandbox answered.
    pub fn mark(&self, mut response: Response<DoorBody>) -> Response<DoorBody> {
        response
            .headers_mut()
            .insert(SANDBOX_HEADER, HeaderValue::from(self.index));
        response
    }
}

/// RAPID's internal state of sandbox `index`, saying which it is.
pub(super) fn describe(index: usize, state: InternalState) -> serde_json::Value {
    let mut body = state.to_json();
    body["sandbox"] = index.into();
    body
}

/// The sandbox a query names (`sandbox=N`), if it names one.
pub(super) fn wanted(query: Option<&str>) -> Result<Option<usize>, String> {
    let Some(value) = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("sandbox="))
    else {
        return Ok(None);
    };
    value.parse::<usize>().map(Some).map_err(|_| {
        format!("sandbox must be the number of a sandbox (0 is the first), not {value:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_is_a_query_parameter() {
        assert_eq!(wanted(None), Ok(None));
        assert_eq!(wanted(Some("")), Ok(None));
        assert_eq!(wanted(Some("sandbox=2")), Ok(Some(2)));
        assert_eq!(wanted(Some("x=1&sandbox=0")), Ok(Some(0)));
        assert_eq!(wanted(Some("mysandbox=3")), Ok(None));
        assert!(wanted(Some("sandbox=-1")).is_err());
        assert!(wanted(Some("sandbox=")).is_err());
        assert!(wanted(Some("sandbox=one")).is_err());
    }
}
