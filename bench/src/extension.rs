//! One external extension for rapid: testdata's `ext-recorder` (on the real
//! `lambda-extension` crate, registered for INVOKE and SHUTDOWN) in a scratch
//! extensions directory, and the record file it appends a line to per event,
//! which tells whether it registered and which events reached it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::scratch::ScratchDir;
use crate::targets::{Paths, TargetError};

/// The file name the extension is started as, and so registers under.
pub const NAME: &str = "recorder";

#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    #[error("cannot read the record file of extension `{NAME}` ({path}): {source}")]
    Records {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "extension `{NAME}` registered {registered} times for {starts} starts of rapid; \
         its last records:\n{tail}"
    )]
    NotRegistered {
        registered: usize,
        starts: usize,
        tail: String,
    },
    #[error(
        "extension `{NAME}` received {seen} INVOKE events for {sent} invokes, so these are \
         not the figures of rapid with one extension; its last records:\n{tail}"
    )]
    MissedInvokes {
        sent: usize,
        seen: usize,
        tail: String,
    },
}

/// `ext-recorder` as `<scratch>/extensions/recorder`, recording to
/// `<scratch>/records.jsonl`; both removed when dropped.
pub struct Extension {
    _scratch: ScratchDir,
    dir: PathBuf,
    record_file: PathBuf,
}

impl Extension {
    /// Links (or, across file systems, copies) the built `ext-recorder` into
    /// a fresh extensions directory.
    pub fn prepare(paths: &Paths) -> Result<Extension, TargetError> {
        let exe = paths.binary("ext-recorder")?;
        let io = |source| TargetError::Io {
            what: "the extensions directory",
            source,
        };
        let scratch = ScratchDir::create("extension").map_err(io)?;
        let dir = scratch.path().join("extensions");
        std::fs::create_dir(&dir).map_err(io)?;
        let installed = dir.join(NAME);
        if std::fs::hard_link(&exe, &installed).is_err() {
            // `copy` keeps the permissions, so it stays executable.
            std::fs::copy(&exe, &installed).map_err(io)?;
        }
        let record_file = scratch.path().join("records.jsonl");
        Ok(Extension {
            _scratch: scratch,
            dir,
            record_file,
        })
    }

    /// rapid's `--extensions-dir`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What rapid's environment needs for the extension, which inherits it.
    pub fn env(&self) -> [(&'static str, &OsStr); 1] {
        [("EXT_RECORD_FILE", self.record_file.as_os_str())]
    }

    /// The records so far (none when the extension never started).
    pub fn records(&self) -> Result<Records, ExtensionError> {
        let text = match std::fs::read_to_string(&self.record_file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(self.records_error(source)),
        };
        Ok(Records::parse(&text))
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
            path: self.record_file.display().to_string(),
            source,
        }
    }
}

/// The lines of a record file, as JSON values (a line that is not JSON is
/// kept out; the count checks below would then fail, as they should).
pub struct Records {
    lines: Vec<Value>,
}

impl Records {
    fn parse(text: &str) -> Records {
        let lines = text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        Records { lines }
    }

    fn count(&self, kind: &str, event_type: Option<&str>) -> usize {
        self.lines
            .iter()
            .filter(|r| r["ext"] == NAME && r["kind"] == kind)
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
            .find(|r| r["ext"] == NAME && r["kind"] == "start")
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
        let records = Records::parse(RECORDS);
        assert!(records.expect_registered(1).is_ok());
        assert!(records.expect_registered(2).is_err());
        assert!(records.expect_invokes(1).is_ok());
        assert!(records.expect_invokes(2).is_err());
        assert_eq!(records.shutdowns(), 1);
        assert_eq!(records.pid(), Some(41));
    }

    #[test]
    fn no_records_is_no_registration() {
        let records = Records::parse("");
        let err = records
            .expect_registered(1)
            .expect_err("nothing registered");
        assert!(err.to_string().contains("no record"), "{err}");
    }
}
