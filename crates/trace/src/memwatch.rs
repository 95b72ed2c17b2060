//! The memory watch: the resident memory of the whole process tree, sampled from the start
//! of a run, and the limits that stop a tree which grows too far.
//!
//! * [`MemoryWatch`] takes one sample per call: it sums `/proc/<pid>/statm` RSS over the
//!   tree's processes, keeps a small timeline (at most ~600 points, thinned by halving for
//!   long runs), the exact peak and the process holding the most at the peak, and reports
//!   the `--memory-warn` / `--max-memory` crossings once each. It never sleeps or decides
//!   when to sample: the supervisor asks [`MemoryWatch::next_interval`].
//! * [`trend`] is a pure function of the timeline that says whether memory grows steadily.
//! * [`LimitEnforcer`] backs `--max-memory` with the kernel (a cgroup with a hard cap a bit
//!   above the limit) so that one fast allocation cannot outrun the watchdog; without a
//!   cgroup, an address-space limit on the child bounds the damage instead.
//! * [`OomCounter`] notices the kernel OOM killer outside our cgroup (`/proc/vmstat`).
//!
//! # The leak-trend rule
//! A straight line `bytes = a + b·t` is fitted by least squares to the timeline, leaving out
//! start-up (the first second or the first 10 % of the run, whichever is shorter: imports
//! and interpreter start-up allocate in bursts that say nothing about leaks) and tear-down
//! (the last 500 ms or 5 %, whichever is shorter: finalization frees what a leaking
//! program held, and its last sample often shows the drop). The verdict is
//! `growing` only when the rise is sustained, i.e. all of:
//! * at least 10 samples in the fit;
//! * r² ≥ 0.9: the line explains the timeline (a single step, wherever it falls, has
//!   r² = 3f(1−f) ≤ 0.75 and never qualifies);
//! * the fitted rise `b × span` is at least 8 MiB (smaller drifts are allocator noise);
//! * a rate of at least 1 MiB/s, or, for slow leaks in long runs, a rise of at least
//!   64 MiB that is also at least a quarter of the fitted starting size (a long run that
//!   gained a quarter of its size along a straight line is leaking, whatever the rate);
//! * the mean of each quarter of the fit window (by time) exceeds the previous quarter's
//!   by at least a quarter of what the line predicts, so a plateau anywhere — an allocation
//!   at start, then steady work — breaks the verdict.
//!
//! Otherwise the verdict is `flat`. With fewer than 3 samples in the fit window there is no
//! line worth drawing and [`trend`] returns `None`; with 3 to 9 it returns `flat` with the
//! fit, so the report still shows the rate and how few samples it rests on.

mod cgroup;
#[cfg(target_os = "linux")]
mod cost;
mod enforce;
#[cfg(test)]
mod fake_cgroupfs;
mod locate;
mod oom;
mod sampler;
mod timeline;
mod trend;
mod watch;

#[cfg(target_os = "linux")]
pub use cost::{measure_sampling_cost, SamplingCost};
pub use enforce::{address_space_limit, hard_cap, LimitEnforcer};
pub use oom::OomCounter;
pub use sampler::{parse_cmdline, parse_statm_rss_pages};
pub use trend::trend;
pub use watch::{MemoryConfig, MemoryWatch, SampleEvent, FAST_INTERVAL};

#[cfg(test)]
mod tests;
