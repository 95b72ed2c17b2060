//! The sampler's own price: CPU time of the calling thread over N samples of a tree, so the
//! benchmark can show that leaving the watch on costs almost nothing.

use super::watch::{MemoryConfig, MemoryWatch};
use std::fmt;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingCost {
    pub processes: usize,
    pub samples: u32,
    /// CPU time (user + system) of one sample.
    pub cpu_per_sample: Duration,
    pub wall_per_sample: Duration,
}

impl SamplingCost {
    /// The share of one core the watch takes when sampling `hz` times a second (0.01 = 1 %).
    pub fn core_share_at(&self, hz: f64) -> f64 {
        self.cpu_per_sample.as_secs_f64() * hz
    }
}

impl fmt::Display for SamplingCost {
    /// One line for scripts: `memwatch-cost: processes=50 samples=2000 cpu_us_per_sample=…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memwatch-cost: processes={} samples={} cpu_us_per_sample={:.1} wall_us_per_sample={:.1} core_percent_at_10hz={:.4}",
            self.processes,
            self.samples,
            self.cpu_per_sample.as_secs_f64() * 1e6,
            self.wall_per_sample.as_secs_f64() * 1e6,
            self.core_share_at(10.0) * 100.0,
        )
    }
}

/// Takes `samples` samples of `pids` back to back, as the supervisor would, and measures
/// them with the thread's CPU clock (what the sampling costs, not how long it waited).
pub fn measure_sampling_cost(pids: &[i32], samples: u32) -> SamplingCost {
    let samples = samples.max(1);
    let mut watch = MemoryWatch::new(MemoryConfig::default());
    let (cpu_start, wall_start) = (thread_cpu_time(), Instant::now());
    for i in 0..samples {
        watch.sample(Duration::from_millis(100 * u64::from(i)), pids);
    }
    let cpu = thread_cpu_time().saturating_sub(cpu_start);
    let wall = wall_start.elapsed();
    SamplingCost { processes: pids.len(), samples, cpu_per_sample: cpu / samples, wall_per_sample: wall / samples }
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer; the clock id is a constant the kernel knows.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}
