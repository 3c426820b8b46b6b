//! The engine of rapid: the lifecycle of one execution environment.
//!
//! It owns the runtime process (spawn, process group, reaping, kill on
//! reset), the queue of invokes, the deadlines, and the state machine that
//! says which call of the runtime is allowed when. It composes the loopback
//! API server out of the API crates and implements the traits they declare.
//! It must never parse HTTP itself (that is the API crates' job) nor talk to
//! invokers (that is the front door's, in `cmd`).

pub mod accept;
pub mod config;
mod engine;
mod generation;
pub mod lifecycle;
pub mod pool;
mod sandbox;
mod server;
pub mod supervisor;

pub use config::{Bootstrap, ConfigError, FunctionConfig};
pub use engine::RestoreFailed;
pub use interop::contract::ShutdownReason;
pub use pool::PoolError;
/// The pool of `Sandbox`es the binary runs (`pool` is generic over
/// [`pool::Pooled`]).
pub type Pool = pool::Pool<Sandbox>;
pub type Lease = pool::Lease<Sandbox>;
pub type Member = pool::Member<Sandbox>;
pub type PoolStart = pool::Start<Sandbox>;
pub use sandbox::{InitHandle, Reservation, Sandbox};
pub use server::serve_runtime_api;
pub use supervisor::Supervisor;
