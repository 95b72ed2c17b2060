//! The values each number, duration and size option accepts, one table for the command line
//! and the settings files alike (`docs/configuration.md` lists them; keep the two in step).
//!
//! The bounds keep out what cannot be meant: a zero that would burn a core or stop a run
//! before it starts, a byte count that is a forgotten unit, and values so large that the
//! work they ask for (or the clock arithmetic) runs away.

use crate::units;
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const MIB: u64 = 1 << 20;

/// What one option accepts: `min..=max` (no upper bound when `max` is `None`), and `0` as
/// well when `zero` says what it means there.
#[derive(Debug, Clone, Copy)]
pub struct Range<T> {
    pub min: T,
    pub max: Option<T>,
    /// The meaning of `0` where it is accepted below `min` (`log-max-size = 0`: never rotate).
    pub zero: Option<&'static str>,
    /// Why the bounds are where they are, when that is not obvious; appended to the error.
    pub why: Option<&'static str>,
}

/// A number of bytes, shown as a size (`1 MiB`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Bytes(pub u64);

/// What a bounded value needs: an order, a zero test, and how to print it back.
pub trait Quantity: Copy + PartialOrd {
    fn is_zero(self) -> bool;
    /// The value as the user would write it.
    fn show(self) -> String;
}

impl Quantity for Duration {
    fn is_zero(self) -> bool {
        Duration::is_zero(&self)
    }
    fn show(self) -> String {
        units::format_duration(self)
    }
}

impl Quantity for Bytes {
    fn is_zero(self) -> bool {
        self.0 == 0
    }
    fn show(self) -> String {
        // Written back without the space, as the options are usually typed (`512MiB`).
        units::format_size(self.0).replace(' ', "")
    }
}

impl Quantity for u64 {
    fn is_zero(self) -> bool {
        self == 0
    }
    fn show(self) -> String {
        self.to_string()
    }
}

impl<T: Quantity> Range<T> {
    /// `value` when it is in range; otherwise why not, with what is accepted.
    pub fn check(&self, value: T) -> Result<T, String> {
        let in_range = value >= self.min && self.max.is_none_or(|max| value <= max);
        if in_range || (value.is_zero() && self.zero.is_some()) {
            return Ok(value);
        }
        let why = self.why.map(|why| format!(" ({why})")).unwrap_or_default();
        Err(format!("{} is out of range: expected {}{why}", value.show(), self.describe()))
    }

    /// `from 10ms to 1m`, `at least 1MiB`, `0 (never rotate) or at least 512B`.
    pub fn describe(&self) -> String {
        let span = match self.max {
            Some(max) => format!("from {} to {}", self.min.show(), max.show()),
            None => format!("at least {}", self.min.show()),
        };
        match self.zero {
            Some(meaning) => format!("0 ({meaning}) or {span}"),
            None => span,
        }
    }
}

/// `--timeout`, for `run` and `stress`: 0 would stop the command before it starts, and a
/// year keeps the deadline well inside what the clock can add.
pub const TIMEOUT: Range<Duration> =
    Range { min: Duration::from_millis(1), max: Some(Duration::from_secs(365 * 86_400)), zero: None, why: None };

/// `--kill-after`: 0 sends SIGKILL right after SIGTERM.
pub const KILL_AFTER: Range<Duration> = Range { min: Duration::ZERO, max: Some(HOUR), zero: None, why: None };

/// `--memory-interval`: each sample reads /proc for every process of the tree.
pub const MEMORY_INTERVAL: Range<Duration> = Range {
    min: Duration::from_millis(10),
    max: Some(Duration::from_secs(60)),
    zero: None,
    why: Some("sampling more often keeps a CPU core busy; less often misses a fast-growing process"),
};

/// `--max-memory` and `--memory-warn`: any process needs more than a mebibyte, so a smaller
/// number is a unit left out (`512` for `512MiB`).
pub const MEMORY_SIZE: Range<Bytes> = Range {
    min: Bytes(MIB),
    max: None,
    zero: None,
    why: Some("a plain number is bytes: write the unit, as in 512MiB or 2GiB"),
};

/// `--max-fds`: 0, 1 and 2 are stdin, stdout and stderr; the command must open one more to
/// start (the dynamic loader opens libc). The upper bound is the system's, checked when the
/// limit is set.
pub const MAX_FDS: Range<u64> = Range {
    min: 4,
    max: None,
    zero: None,
    why: Some("stdin, stdout and stderr take three, and a program must open at least one more file to start"),
};

/// `--log-max-size`: smaller than a few lines would rotate at every line.
pub const LOG_MAX_SIZE: Range<Bytes> = Range { min: Bytes(512), max: None, zero: Some("never rotate"), why: None };

/// `--log-keep`: every rotation renames each kept file.
pub const LOG_KEEP: Range<u64> = Range { min: 0, max: Some(1000), zero: None, why: None };

/// `faultline stress -n`.
pub const STRESS_RUNS: Range<u64> = Range { min: 1, max: Some(1_000_000), zero: None, why: None };

/// `faultline stress -j`: each job is a traced process tree of its own.
pub const STRESS_JOBS: Range<u64> = Range { min: 1, max: Some(256), zero: None, why: None };

/// `faultline crashes prune --older-than`: 0 would forget every run, which is deleting the
/// store; a second is the shortest age that means "older than".
pub const PRUNE_AGE: Range<Duration> =
    Range { min: SECOND, max: None, zero: None, why: Some("to forget every run, delete the store") };

/// `faultline crashes runs --limit`.
pub const RUNS_LISTED: Range<u64> = Range { min: 1, max: None, zero: None, why: Some("--all lists every run") };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonsense_of_the_issue_is_refused_with_the_range() {
        let err = MEMORY_INTERVAL.check(Duration::ZERO).unwrap_err();
        assert_eq!(
            err,
            "0s is out of range: expected from 10ms to 1m (sampling more often keeps a CPU core busy; less often \
             misses a fast-growing process)"
        );
        let err = MEMORY_SIZE.check(Bytes(0)).unwrap_err();
        assert!(err.starts_with("0B is out of range: expected at least 1MiB"), "{err}");
        assert!(TIMEOUT.check(Duration::ZERO).unwrap_err().contains("from 1ms to 365d"));
    }

    #[test]
    fn bounds_are_inclusive_and_zero_is_accepted_where_it_means_something() {
        assert_eq!(MEMORY_INTERVAL.check(Duration::from_millis(10)), Ok(Duration::from_millis(10)));
        assert_eq!(MEMORY_INTERVAL.check(Duration::from_secs(60)), Ok(Duration::from_secs(60)));
        assert!(MEMORY_INTERVAL.check(Duration::from_secs(61)).is_err());
        assert_eq!(LOG_MAX_SIZE.check(Bytes(0)), Ok(Bytes(0)));
        assert!(LOG_MAX_SIZE.check(Bytes(100)).unwrap_err().contains("0 (never rotate) or at least 512B"));
        assert_eq!(KILL_AFTER.check(Duration::ZERO), Ok(Duration::ZERO));
        assert_eq!(LOG_KEEP.check(0), Ok(0));
        assert!(LOG_KEEP.check(1001).is_err());
        assert!(STRESS_JOBS.check(0).is_err());
        assert!(MAX_FDS.check(3).is_err());
        assert_eq!(MAX_FDS.check(4), Ok(4));
    }

    #[test]
    fn a_timeout_in_range_fits_the_clock() {
        let max = TIMEOUT.max.unwrap();
        assert!(std::time::Instant::now().checked_add(max).is_some());
        assert!(std::time::Instant::now().checked_add(KILL_AFTER.max.unwrap()).is_some());
    }
}
