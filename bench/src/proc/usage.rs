//! What the kernel says about a child (or a process a child started, such
//! as an extension): resident memory and CPU time, read from
//! `/proc/<pid>/status` and `/proc/<pid>/stat`.

use std::time::Duration;

use nix::unistd::{sysconf, SysconfVar};

use super::{Proc, ProcError};

impl Proc {
    /// Resident memory now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> Result<u64, ProcError> {
        rss_kib_of(&self.name, self.pid)
    }

    /// The most resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64, ProcError> {
        status_kib(&self.name, self.pid, "VmHWM:")
    }

    /// CPU time the process has used so far (user + system, all threads).
    pub fn cpu_time(&self) -> Result<Duration, ProcError> {
        cpu_time_of(&self.name, self.pid)
    }
}

/// Resident memory now (VmRSS) of any process the bench may read, such as
/// one a child started; `name` is how errors refer to it.
pub fn rss_kib_of(name: &str, pid: u32) -> Result<u64, ProcError> {
    status_kib(name, pid, "VmRSS:")
}

/// CPU time (user + system, all threads) of any process the bench may read.
pub fn cpu_time_of(name: &str, pid: u32) -> Result<Duration, ProcError> {
    let text = read_proc(name, pid, "stat")?;
    let ticks = parse_stat_cpu_ticks(&text)
        .ok_or_else(|| procfs_error(name, pid, "stat", "no utime/stime fields".to_string()))?;
    let per_sec = match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => hz as u64,
        _ => 100,
    };
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / per_sec))
}

fn status_kib(name: &str, pid: u32, field: &str) -> Result<u64, ProcError> {
    let text = read_proc(name, pid, "status")?;
    text.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| procfs_error(name, pid, "status", format!("no {field} line")))
}

fn read_proc(name: &str, pid: u32, file: &'static str) -> Result<String, ProcError> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .map_err(|e| procfs_error(name, pid, file, e.to_string()))
}

fn procfs_error(name: &str, pid: u32, file: &'static str, detail: String) -> ProcError {
    ProcError::Procfs {
        name: name.to_string(),
        pid,
        file,
        detail,
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in ticks.
/// The command name (field 2) may contain spaces, so fields are counted from
/// the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11); // field 3 is first
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_ticks_skip_a_command_name_with_spaces() {
        let stat = "42 (tokio (rt) x) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 3 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(12));
    }

    #[test]
    fn stat_without_fields_is_none() {
        assert_eq!(parse_stat_cpu_ticks("42 (x) S 1"), None);
    }
}
