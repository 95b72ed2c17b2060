//! One sample at a time: the supervisor owns the clock and the list of live processes, the
//! watch owns the arithmetic (sum, peak, holder, thresholds, timeline).

use super::sampler::ProcReader;
use super::timeline::Timeline;
use super::trend::trend;
use crate::model::Pid;
use crate::model::{MemoryHolder, MemoryReport, ProcessSnapshot};
use std::time::Duration;

/// The sampling period once the tree is above half of `--max-memory`: at ~1 GB/s of
/// allocation the limit is then overshot by ~10 MB at most before the watchdog sees it.
pub const FAST_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Sampling period while the tree is far from the limit.
    pub interval: Duration,
    /// `--memory-warn`.
    pub warn_bytes: Option<u64>,
    /// `--max-memory`.
    pub limit_bytes: Option<u64>,
}

impl Default for MemoryConfig {
    fn default() -> MemoryConfig {
        MemoryConfig { interval: Duration::from_millis(100), warn_bytes: None, limit_bytes: None }
    }
}

/// A threshold the tree crossed; each is reported once per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleEvent {
    CrossedWarn { tree_bytes: u64 },
    CrossedLimit { tree_bytes: u64 },
}

pub struct MemoryWatch {
    config: MemoryConfig,
    reader: ProcReader,
    timeline: Timeline,
    peak: u64,
    /// The peak since the root process last exec'd, and who held the most then: a launcher
    /// (a shim script and its helpers) is not the program, so it never names the holder.
    program_peak: u64,
    holder: Option<MemoryHolder>,
    last_total: u64,
    warned: bool,
    limited: bool,
}

impl MemoryWatch {
    pub fn new(config: MemoryConfig) -> MemoryWatch {
        MemoryWatch {
            config,
            reader: ProcReader::new(),
            timeline: Timeline::new(),
            peak: 0,
            program_peak: 0,
            holder: None,
            last_total: 0,
            warned: false,
            limited: false,
        }
    }

    /// One sample of the tree: `pids` are its live processes (thread-group ids, each once).
    /// A process that vanished since the caller listed it counts as zero; a sample of zero
    /// in all is not recorded. Returns the
    /// thresholds this sample crossed for the first time.
    pub fn sample(&mut self, elapsed: Duration, pids: &[i32]) -> Vec<SampleEvent> {
        let mut total = 0u64;
        let mut biggest: Option<(i32, u64)> = None;
        for &pid in pids {
            let Some(rss) = self.reader.rss_bytes(pid) else {
                continue;
            };
            total = total.saturating_add(rss);
            if biggest.is_none_or(|(_, most)| rss > most) {
                biggest = Some((pid, rss));
            }
        }
        self.last_total = total;
        // Nothing resident at all: every process is gone or exiting (its memory already
        // released, statm all zeros). Not a measurement of the program; a final 0 would
        // spoil the trend.
        if total == 0 {
            return Vec::new();
        }
        self.timeline.push(elapsed.as_secs_f64() * 1000.0, total);
        self.peak = self.peak.max(total);
        if total > self.program_peak || self.holder.is_none() {
            self.program_peak = total;
            if let Some((pid, rss_bytes)) = biggest {
                // Read now: by the end of the run the holder may be gone.
                let argv = self.reader.argv(pid);
                self.holder = Some(MemoryHolder { pid: Pid(pid), rss_bytes, argv });
            }
        }
        self.crossings(total)
    }

    /// The root process exec'd a program: from now on the holder is named from its samples
    /// only. The stages before it (pyenv's shim and its forty helpers) were the launcher.
    pub fn root_exec(&mut self) {
        self.program_peak = 0;
        self.holder = None;
    }

    fn crossings(&mut self, total: u64) -> Vec<SampleEvent> {
        let mut events = Vec::new();
        if let Some(warn) = self.config.warn_bytes {
            if !self.warned && total >= warn {
                self.warned = true;
                events.push(SampleEvent::CrossedWarn { tree_bytes: total });
            }
        }
        if let Some(limit) = self.config.limit_bytes {
            if !self.limited && total >= limit {
                self.limited = true;
                events.push(SampleEvent::CrossedLimit { tree_bytes: total });
            }
        }
        events
    }

    /// When the next sample is due: the configured interval, but `FAST_INTERVAL` once the
    /// tree is above half the limit, so a fast allocator cannot overshoot it by much.
    pub fn next_interval(&self) -> Duration {
        // Never zero: a misconfigured interval must not turn the caller into a busy loop.
        let interval = self.config.interval.max(Duration::from_millis(1));
        match self.config.limit_bytes {
            Some(limit) if self.last_total >= limit / 2 => interval.min(FAST_INTERVAL),
            _ => interval,
        }
    }

    pub fn peak_bytes(&self) -> u64 {
        self.peak
    }

    /// The tree's total at the last sample.
    pub fn last_bytes(&self) -> u64 {
        self.last_total
    }

    /// The timeline recorded so far (thinned), `[ms since start, bytes]`.
    pub fn samples(&self) -> &[(f64, u64)] {
        self.timeline.points()
    }

    /// Freezes into the report section; `snapshot` holds the stacks taken when the limit
    /// stopped the run.
    pub fn finish(
        self,
        snapshot: Option<Vec<ProcessSnapshot>>,
        oom_killed: Vec<i32>,
        enforcement: Option<String>,
    ) -> MemoryReport {
        let samples = self.timeline.finish();
        MemoryReport {
            peak_rss_bytes: self.peak,
            limit_bytes: self.config.limit_bytes,
            trend: trend(&samples),
            samples,
            snapshot,
            peak_holder: self.holder,
            warn_bytes: self.config.warn_bytes,
            enforcement,
            oom_killed,
        }
    }
}
