//! One external extension for rapid: testdata's `ext-recorder` (on the real
//! `lambda-extension` crate, registered for INVOKE and SHUTDOWN), or its
//! `ext-telemetry` (the same, subscribed to the Telemetry API over HTTP),
//! in a scratch extensions directory, and the record file it appends a line
//! to per event (and per telemetry batch), which tells whether it
//! registered and what reached it.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::scratch::ScratchDir;
use crate::targets::{Paths, TargetError};

/// Which extension: its binary, and the file name it is started as (and
/// so registers under).
#[derive(Clone, Copy)]
pub struct Kind {
    binary: &'static str,
    pub name: &'static str,
}

/// `ext-recorder`: an extension that records its events.
pub const RECORDER: Kind = Kind {
    binary: "ext-recorder",
    name: "recorder",
};
/// `ext-telemetry`: the same, subscribed to every Telemetry API type
/// (platform, function, extension) over HTTP with the crate's buffering
/// defaults but `timeoutMs` 25.
pub const TELEMETRY: Kind = Kind {
    binary: "ext-telemetry",
    name: "otel",
};

#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    #[error("cannot read the record file of extension `{name}` ({path}): {source}")]
    Records {
        name: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "extension `{name}` registered {registered} times for {starts} starts of rapid; \
         its last records:\n{tail}"
    )]
    NotRegistered {
        name: &'static str,
        registered: usize,
        starts: usize,
        tail: String,
    },
    #[error(
        "extension `{name}` received {seen} INVOKE events for {sent} invokes, so these are \
         not the figures of rapid with one extension; its last records:\n{tail}"
    )]
    MissedInvokes {
        name: &'static str,
        sent: usize,
        seen: usize,
        tail: String,
    },
}

/// The extension as `<scratch>/extensions/<name>`, recording to
/// `<scratch>/records.jsonl`; both removed when dropped.
pub struct Extension {
    _scratch: ScratchDir,
    dir: PathBuf,
    record_file: PathBuf,
    name: &'static str,
    env: Vec<(&'static str, OsString)>,
}

impl Extension {
    /// Links (or, across file systems, copies) the built extension into a
    /// fresh extensions directory.
    pub fn prepare(paths: &Paths, kind: Kind) -> Result<Extension, TargetError> {
        let exe = paths.binary(kind.binary)?;
        let io = |source| TargetError::Io {
            what: "the extensions directory",
            source,
        };
        let scratch = ScratchDir::create("extension").map_err(io)?;
        let dir = scratch.path().join("extensions");
        std::fs::create_dir(&dir).map_err(io)?;
        let installed = dir.join(kind.name);
        if std::fs::hard_link(&exe, &installed).is_err() {
            // `copy` keeps the permissions, so it stays executable.
            std::fs::copy(&exe, &installed).map_err(io)?;
        }
        let record_file = scratch.path().join("records.jsonl");
        let mut env = vec![("EXT_RECORD_FILE", record_file.clone().into_os_string())];
        if kind.binary == TELEMETRY.binary {
            // The port its telemetry listener binds: a free one now.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(io)?
                .port();
            env.push(("EXT_TELEMETRY_PORT", port.to_string().into()));
            env.push(("EXT_TELEMETRY_TYPES", "platform,function,extension".into()));
            env.push(("EXT_TELEMETRY_BUFFERING", "10000,262144,25".into()));
        }
        Ok(Extension {
            _scratch: scratch,
            dir,
            record_file,
            name: kind.name,
            env,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// rapid's `--extensions-dir`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What rapid's environment needs for the extension, which inherits it.
    pub fn env(&self) -> Vec<(&'static str, &OsStr)> {
        self.env.iter().map(|(k, v)| (*k, v.as_os_str())).collect()
    }

    /// The records so far (none when the extension never started).
    pub fn records(&self) -> Result<Records, ExtensionError> {
        let text = match std::fs::read_to_string(&self.record_file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(self.records_error(source)),
        };
        Ok(Records::parse(&text, self.name))
    }

    /// The records so far, and a fresh start for the next ones.
    pub fn take_records(&self) -> Result<Records, ExtensionError> {
        let records = self.records()?;
        match std::fs::remove_file(&self.record_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.records_error(e)),
            _ => Ok(records),
        }
    }

    fn records_error(&self, source: std::io::Error) -> ExtensionError {
        ExtensionError::Records {
            name: self.name,
            path: self.record_file.display().to_string(),
            source,
        }
    }
}

/// The lines of a record file, as JSON values (a line that is not JSON is
/// kept out; the count checks below would then fail, as they should).
pub struct Records {
    lines: Vec<Value>,
    name: &'static str,
}

impl Records {
    fn parse(text: &str, name: &'static str) -> Records {
        let lines = text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        Records { lines, name }
    }

    /// How many `platform.report` records the extension received in its
    /// telemetry batches.
    pub fn telemetry_reports(&self) -> usize {
        self.lines
            .iter()
            .filter(|r| r["ext"] == self.name && r["kind"] == "batch")
            .flat_map(|r| r["records"].as_array().into_iter().flatten())
            .filter(|e| e["type"] == "platform.report")
            .count()
    }

    fn count(&self, kind: &str, event_type: Option<&str>) -> usize {
        self.lines
            .iter()
            .filter(|r| r["ext"] == self.name && r["kind"] == kind)
            .filter(|r| event_type.map_or(true, |t| r["eventType"] == t))
            .count()
    }

    /// Fails unless the extension registered once per start of rapid.
    pub fn expect_registered(&self, starts: usize) -> Result<(), ExtensionError> {
        let registered = self.count("registered", None);
        if registered == starts {
            Ok(())
        } else {
            Err(ExtensionError::NotRegistered {
                name: self.name,
                registered,
                starts,
                tail: self.tail(),
            })
        }
    }

    /// Fails unless every invoke reached the extension as an INVOKE event.
    pub fn expect_invokes(&self, sent: usize) -> Result<(), ExtensionError> {
        let seen = self.count("event", Some("INVOKE"));
        if seen == sent {
            Ok(())
        } else {
            Err(ExtensionError::MissedInvokes {
                name: self.name,
                sent,
                seen,
                tail: self.tail(),
            })
        }
    }

    pub fn shutdowns(&self) -> usize {
        self.count("event", Some("SHUTDOWN"))
    }

    /// The pid of the last extension process that started.
    pub fn pid(&self) -> Option<u32> {
        self.lines
            .iter()
            .rev()
            .find(|r| r["ext"] == self.name && r["kind"] == "start")
            .and_then(|r| r["pid"].as_u64())
            .and_then(|pid| u32::try_from(pid).ok())
    }

    /// The last few records, without the `start` records' environments.
    fn tail(&self) -> String {
        let skip = self.lines.len().saturating_sub(10);
        let lines: Vec<String> = self.lines[skip..]
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(obj) = r.as_object_mut() {
                    obj.remove("env");
                }
                format!("  {r}")
            })
            .collect();
        if lines.is_empty() {
            "  (none: no record was written)".to_string()
        } else {
            lines.join("\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDS: &str = r#"{"kind":"start","ext":"recorder","pid":41,"ms":1,"env":{}}
{"kind":"registered","ext":"recorder","id":"a","ms":2}
{"kind":"event","ext":"recorder","eventType":"INVOKE","requestId":"r1","ms":3}
{"kind":"released","ext":"recorder","requestId":"r1","ms":3}
{"kind":"event","ext":"other","eventType":"INVOKE","requestId":"r1","ms":3}
{"kind":"event","ext":"recorder","eventType":"SHUTDOWN","ms":4}
not json
"#;

    #[test]
    fn records_are_counted_for_this_extension_only() {
        let records = Records::parse(RECORDS, RECORDER.name);
        assert!(records.expect_registered(1).is_ok());
        assert!(records.expect_registered(2).is_err());
        assert!(records.expect_invokes(1).is_ok());
        assert!(records.expect_invokes(2).is_err());
        assert_eq!(records.shutdowns(), 1);
        assert_eq!(records.pid(), Some(41));
    }

    #[test]
    fn no_records_is_no_registration() {
        let records = Records::parse("", RECORDER.name);
        let err = records
            .expect_registered(1)
            .expect_err("nothing registered");
        assert!(err.to_string().contains("no record"), "{err}");
    }
}
