//! What a restore (init caching, SnapStart) carries: the credentials the
//! function gets from then on, and how long its after-restore hooks may take.

use std::time::{Duration, SystemTime};

/// AWS credentials: given at init or restore, served by the init caching
/// credentials endpoint. `Debug` leaves the secrets out.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// When they expire; `None` for credentials that do not (the static
    /// keys of rapid's own environment).
    pub expiration: Option<SystemTime>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// A restore asked by the caller of the sandbox (the control API).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreRequest {
    /// The credentials served from now on; `None` keeps those of the init.
    pub credentials: Option<Credentials>,
    /// How long the runtime's after-restore hooks may take; `None` for
    /// Lambda's limit.
    pub hook_timeout: Option<Duration>,
}
