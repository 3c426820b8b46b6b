//! The durations the command line takes: plain seconds or with a unit,
//! and the longest any of rapid's own timeouts may be: what the flags
//! (`cli.rs`) parse, below them.

use std::time::Duration;

/// The longest of rapid's own timeouts (`--init-timeout`,
/// `--request-header-timeout`, `--idle-timeout`), in seconds: a day. A
/// longer one is refused at start (it means "never", which `--idle-timeout
/// 0` says).
pub const MAX_SECONDS: u64 = 86_400;

/// `--idle-timeout`: a duration (see [`parse_duration`]) of at most
/// [`MAX_SECONDS`].
pub fn parse_idle_timeout(value: &str) -> Result<Duration, String> {
    let duration = parse_duration(value)?;
    if duration > Duration::from_secs(MAX_SECONDS) {
        return Err(format!(
            "{value:?} is longer than a day ({MAX_SECONDS} seconds), the longest idle timeout; 0 means never"
        ));
    }
    Ok(duration)
}

/// A duration: plain seconds ("600") or with a unit ("10m", "500ms").
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => humantime::parse_duration(value.trim()).map_err(|err| {
            format!("{value:?} is not a duration (seconds, or like 90s, 10m, 500ms): {err}")
        }),
    }
}

/// `--drain-delay` and `--drain-timeout`: a duration of at most a day.
pub fn parse_drain_flag(value: &str) -> Result<Duration, String> {
    let duration = parse_duration(value)?;
    if duration > Duration::from_secs(MAX_SECONDS) {
        return Err(format!(
            "{value:?} is longer than a day ({} seconds)",
            MAX_SECONDS
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_flags_are_bounded() {
        assert_eq!(parse_drain_flag("5").unwrap(), Duration::from_secs(5));
        assert_eq!(
            parse_drain_flag("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert!(parse_drain_flag("2d").is_err());
        assert!(parse_drain_flag("soon").is_err());
    }
}
