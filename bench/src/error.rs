//! The bench's one error type, below every part that measures (`measure`,
//! `streaming`, `runs`, the pool and callgrind parts), so that none of them
//! imports another for it.

use crate::client::ClientError;
use crate::extension::ExtensionError;
use crate::proc::ProcError;
use crate::targets::TargetError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Proc(#[from] ProcError),
    #[error(transparent)]
    Extension(#[from] ExtensionError),
    #[error("{source}\n{name}'s last lines:\n{tail}")]
    WithOutput {
        source: Box<BenchError>,
        name: &'static str,
        tail: String,
    },
}

impl BenchError {
    pub fn is_missing(&self) -> bool {
        matches!(self, BenchError::Target(e) if e.is_missing())
    }
}
