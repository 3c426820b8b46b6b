//! A Telemetry API or Logs API subscription (spec §6), as the Extensions
//! API adapter parses it and the log hub serves it: which kinds of records,
//! how they are batched, and where they go.

use std::net::SocketAddr;
use std::time::Duration;

/// Which API the subscription came through: it decides the shape of the
/// platform records the subscriber gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `PUT /2022-07-01/telemetry`, with its schema version.
    Telemetry(SchemaVersion),
    /// `PUT /2020-08-15/logs`.
    Logs,
}

/// The Telemetry API schema versions Lambda accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVersion {
    V2022_07_01,
    V2022_12_13,
    V2025_01_29,
}

impl SchemaVersion {
    pub fn parse(text: &str) -> Option<SchemaVersion> {
        match text {
            "2022-07-01" => Some(SchemaVersion::V2022_07_01),
            "2022-12-13" => Some(SchemaVersion::V2022_12_13),
            "2025-01-29" => Some(SchemaVersion::V2025_01_29),
            _ => None,
        }
    }
}

/// The kinds of records a subscriber asked for (`types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Types {
    pub platform: bool,
    pub function: bool,
    pub extension: bool,
}

impl Types {
    /// The names, in Lambda's order, as `platform.telemetrySubscription` lists them.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.platform {
            names.push("platform");
        }
        if self.function {
            names.push("function");
        }
        if self.extension {
            names.push("extension");
        }
        names
    }
}

/// How records are batched (`buffering`), within Lambda's ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    pub max_items: usize,
    pub max_bytes: usize,
    pub timeout: Duration,
}

impl Buffering {
    pub const MAX_ITEMS: std::ops::RangeInclusive<u64> = 1_000..=10_000;
    pub const MAX_BYTES: std::ops::RangeInclusive<u64> = 262_144..=1_048_576;
    pub const TIMEOUT_MS: std::ops::RangeInclusive<u64> = 25..=30_000;
}

impl Default for Buffering {
    /// Lambda's defaults: 10,000 records, 256 KB, 1 s.
    fn default() -> Buffering {
        Buffering {
            max_items: 10_000,
            max_bytes: 262_144,
            timeout: Duration::from_millis(1_000),
        }
    }
}

/// Where the batches go (`destination`); the address is on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A `POST` of a JSON array per batch to `uri` (path kept as given).
    Http {
        address: SocketAddr,
        /// The host header: the URI's authority, as the subscriber wrote it.
        host: String,
        path: String,
    },
    /// Newline-delimited JSON records on one connection.
    Tcp { address: SocketAddr },
}

/// One validated subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub api: Api,
    pub types: Types,
    pub buffering: Buffering,
    pub destination: Destination,
}
