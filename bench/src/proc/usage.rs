//! What the kernel says about a child: resident memory and CPU time, read
//! from `/proc/<pid>/status` and `/proc/<pid>/stat`.

use std::time::Duration;

use nix::unistd::{sysconf, SysconfVar};

use super::{Proc, ProcError};

impl Proc {
    /// Resident memory now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> Result<u64, ProcError> {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64, ProcError> {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> Result<u64, ProcError> {
        let text = self.read_proc("status")?;
        text.lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .ok_or_else(|| self.procfs_error("status", format!("no {field} line")))
    }

    /// CPU time the process has used so far (user + system, all threads).
    pub fn cpu_time(&self) -> Result<Duration, ProcError> {
        let text = self.read_proc("stat")?;
        let ticks = parse_stat_cpu_ticks(&text)
            .ok_or_else(|| self.procfs_error("stat", "no utime/stime fields".to_string()))?;
        let per_sec = match sysconf(SysconfVar::CLK_TCK) {
            Ok(Some(hz)) if hz > 0 => hz as u64,
            _ => 100,
        };
        Ok(Duration::from_nanos(ticks * 1_000_000_000 / per_sec))
    }

    fn read_proc(&self, file: &'static str) -> Result<String, ProcError> {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.pid))
            .map_err(|e| self.procfs_error(file, e.to_string()))
    }

    fn procfs_error(&self, file: &'static str, detail: String) -> ProcError {
        ProcError::Procfs {
            name: self.name.clone(),
            pid: self.pid,
            file,
            detail,
        }
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
