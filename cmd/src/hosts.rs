//! `sandbox.localdomain` for extensions written for Lambda.
//!
//! In Lambda the execution environment's `/etc/hosts` maps
//! `sandbox.localdomain` (and `sandbox`) to the sandbox itself, and
//! extensions bind their Telemetry / Logs API listener to that name, as
//! AWS's own samples do. A container image usually lacks the entry, so
//! such an extension fails to start. When rapid is the container's PID 1
//! (the container is the sandbox) it adds the entry to `/etc/hosts` if the
//! file lacks it and can be written; it never creates the file, and
//! elsewhere leaves it alone (the README says what to do instead).

use std::io::Write;
use std::path::Path;

/// Lambda's name for the sandbox itself.
pub const SANDBOX_HOST: &str = "sandbox.localdomain";

/// The line rapid adds: the loopback address, where rapid also delivers
/// to a subscriber that names `sandbox.localdomain`.
pub const SANDBOX_LINE: &str = "127.0.0.1\tsandbox.localdomain sandbox";

/// What happened to the hosts file.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It already maps `sandbox.localdomain`: left as it is.
    AlreadyThere,
    /// The line was appended.
    Added,
    /// There is no hosts file: none is created.
    NoFile,
}

/// Whether the text of a hosts file maps `sandbox.localdomain` (comments
/// and case aside).
pub fn maps_sandbox(hosts: &str) -> bool {
    hosts.lines().any(|line| {
        let entry = line.split('#').next().unwrap_or_default();
        entry
            .split_whitespace()
            .skip(1)
            .any(|name| name.eq_ignore_ascii_case(SANDBOX_HOST))
    })
}

/// What to append to `hosts` so that it maps `sandbox.localdomain`; none
/// when it does already.
pub fn addition(hosts: &str) -> Option<String> {
    if maps_sandbox(hosts) {
        return None;
    }
    let newline = if hosts.is_empty() || hosts.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    Some(format!("{newline}{SANDBOX_LINE}\n"))
}

/// Makes `path` (a hosts file) map `sandbox.localdomain`, appending in
/// place (a container's `/etc/hosts` is often a bind mount, which a
/// rename would not replace).
pub fn ensure_sandbox_host(path: &Path) -> std::io::Result<Outcome> {
    let hosts = match std::fs::read_to_string(path) {
        Ok(hosts) => hosts,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::NoFile),
        Err(err) => return Err(err),
    };
    let Some(addition) = addition(&hosts) else {
        return Ok(Outcome::AlreadyThere);
    };
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    file.write_all(addition.as_bytes())?;
    Ok(Outcome::Added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_mapping_the_sandbox() {
        let table = [
            ("", false),
            ("127.0.0.1 localhost\n", false),
            ("127.0.0.1 localhost sandbox.localdomain\n", true),
            ("169.254.79.129\tSANDBOX.localdomain sandbox\n", true),
            ("# 127.0.0.1 sandbox.localdomain\n", false),
            ("127.0.0.1 localhost # sandbox.localdomain\n", false),
            ("sandbox.localdomain 127.0.0.1\n", false),
            ("127.0.0.1 sandbox.localdomain.example\n", false),
        ];
        for (hosts, maps) in table {
            assert_eq!(maps_sandbox(hosts), maps, "{hosts:?}");
            assert_eq!(addition(hosts).is_none(), maps, "{hosts:?}");
        }
        assert_eq!(
            addition("127.0.0.1 localhost").as_deref(),
            Some("\n127.0.0.1\tsandbox.localdomain sandbox\n"),
            "a last line without its newline keeps its own line"
        );
        assert_eq!(
            addition("127.0.0.1 localhost\n").as_deref(),
            Some("127.0.0.1\tsandbox.localdomain sandbox\n")
        );
        assert!(maps_sandbox(&format!("x\n{}", addition("x").unwrap())));
    }
}
