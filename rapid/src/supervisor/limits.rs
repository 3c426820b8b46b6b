//! The descriptor limit: raised for rapid, restored for what it spawns.
//!
//! rapid holds a descriptor per connection, so like Go programs it raises its
//! soft `RLIMIT_NOFILE` to the hard limit at startup. The children get the
//! soft limit rapid was started with: a runtime written for the usual limit
//! (a `select()` loop, say) must not see a different one because of rapid.

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use std::sync::OnceLock;

/// The limits rapid was started with, when it raised them.
static ORIGINAL: OnceLock<(u64, u64)> = OnceLock::new();

/// Raises the soft descriptor limit to the hard one and returns the soft
/// limit now in force (`None` when it cannot be read).
pub fn raise_nofile_limit() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft >= hard {
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            let _ = ORIGINAL.set((soft, hard));
            tracing::debug!(from = soft, to = hard, "raised the descriptor limit");
            Some(hard)
        }
        Err(err) => {
            tracing::debug!(%err, "could not raise the descriptor limit");
            Some(soft)
        }
    }
}

/// The limits to give a child back, when rapid changed its own.
pub(super) fn original_nofile_limit() -> Option<(u64, u64)> {
    ORIGINAL.get().copied()
}

/// Puts the original limits back. Runs in a forked child before exec, so it
/// makes one system call and allocates nothing.
pub(super) fn restore_nofile_limit((soft, hard): (u64, u64)) -> std::io::Result<()> {
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).map_err(std::io::Error::from)
}
