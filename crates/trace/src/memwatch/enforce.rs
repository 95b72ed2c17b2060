//! Hard enforcement of `--max-memory`, beyond the watchdog: the watchdog samples every
//! 10 ms near the limit and takes stacks, but a program can allocate a lot in 10 ms. So
//! the kernel holds a hard cap a bit above the limit (the watchdog normally fires first,
//! with stacks; the cap only catches what outruns it), in the best place available:
//! a cgroup v2 child, else a cgroup v1 memory child, else an address-space limit on the
//! child process. Every failure falls back to the next; none is an error.

use super::cgroup::{Cgroup, RealFs, Version};
use super::locate::locate;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

static CREATED: AtomicU32 = AtomicU32::new(0);

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// The kernel's hard cap for a watchdog limit: 25 % above it (at least 64 MiB), room for
/// the watchdog to notice, take stacks and stop the tree before the kernel kills.
pub fn hard_cap(limit: u64) -> u64 {
    limit.saturating_add((limit / 4).max(64 * MIB))
}

/// The `RLIMIT_AS` for a child when no cgroup is available: `limit + max(limit, 4 GiB)`.
/// Address space is far larger than resident memory: glibc reserves 64 MiB per malloc
/// arena (up to 8 per core), OpenBLAS a buffer per thread, Python and numpy map large
/// regions they never touch. A tight RLIMIT_AS would break healthy programs, so this only
/// catches the absurd (a runaway multi-GB request fails at once with `MemoryError`
/// instead of being filled page by page); the RSS watchdog enforces the limit itself.
pub fn address_space_limit(limit: u64) -> u64 {
    limit.saturating_add(limit.max(4 * GIB))
}

enum Mechanism {
    Cgroup(Cgroup),
    Watchdog,
}

pub struct LimitEnforcer {
    limit: u64,
    mechanism: Mechanism,
    /// The tree could not be moved into the cgroup: only the watchdog is left.
    join_failed: AtomicBool,
}

impl LimitEnforcer {
    /// Picks the best mechanism available for `limit_bytes` (the watchdog's limit).
    pub fn prepare(limit_bytes: u64) -> LimitEnforcer {
        let mechanism = own_cgroup(limit_bytes).map_or(Mechanism::Watchdog, Mechanism::Cgroup);
        LimitEnforcer { limit: limit_bytes, mechanism, join_failed: AtomicBool::new(false) }
    }

    /// No cgroup, whatever the machine offers: the watchdog and `RLIMIT_AS`.
    pub fn watchdog_only(limit_bytes: u64) -> LimitEnforcer {
        LimitEnforcer { limit: limit_bytes, mechanism: Mechanism::Watchdog, join_failed: AtomicBool::new(false) }
    }

    /// `cgroup v2`, `cgroup v1`, `watchdog + RLIMIT_AS`, or `watchdog` when the tree could
    /// not join the cgroup that was made for it.
    pub fn describe(&self) -> String {
        match &self.mechanism {
            _ if self.join_failed.load(Ordering::Relaxed) => "watchdog",
            Mechanism::Cgroup(c) if c.version() == Version::V2 => "cgroup v2",
            Mechanism::Cgroup(_) => "cgroup v1",
            Mechanism::Watchdog => "watchdog + RLIMIT_AS",
        }
        .to_owned()
    }

    pub fn limit_bytes(&self) -> u64 {
        self.limit
    }

    /// What the kernel enforces, when a cgroup does.
    pub fn hard_cap_bytes(&self) -> Option<u64> {
        matches!(self.mechanism, Mechanism::Cgroup(_)).then(|| hard_cap(self.limit))
    }

    /// The cgroup the tree runs in, if any.
    pub fn cgroup_dir(&self) -> Option<&Path> {
        match &self.mechanism {
            Mechanism::Cgroup(c) => Some(c.dir()),
            Mechanism::Watchdog => None,
        }
    }

    /// Call in the parent right after fork, before the child execs: moves the child into
    /// the cgroup (its descendants follow). Nothing to do without a cgroup. On failure the
    /// run goes on with the watchdog alone, and `describe` says so.
    pub fn add_process(&self, pid: i32) -> io::Result<()> {
        let Mechanism::Cgroup(cgroup) = &self.mechanism else {
            return Ok(());
        };
        let joined = cgroup.add(&RealFs, pid);
        if joined.is_err() {
            self.join_failed.store(true, Ordering::Relaxed);
        }
        joined
    }

    /// The `RLIMIT_AS` (soft = hard) the child sets before exec; `None` with a cgroup.
    pub fn child_address_space_limit(&self) -> Option<u64> {
        match self.mechanism {
            Mechanism::Cgroup(_) => None,
            Mechanism::Watchdog => Some(address_space_limit(self.limit)),
        }
    }

    /// OOM kills inside our cgroup since `prepare` (0 without one; see `OomCounter`).
    pub fn oom_kills(&self) -> u64 {
        match &self.mechanism {
            Mechanism::Cgroup(c) => c.oom_kills(&RealFs),
            Mechanism::Watchdog => 0,
        }
    }

    /// Removes the cgroup once the tree has left it; stragglers are moved back to our own
    /// cgroup first. Also done on drop; safe to call twice.
    pub fn cleanup(&mut self) {
        if let Mechanism::Cgroup(c) = &mut self.mechanism {
            c.remove(&RealFs);
        }
    }
}

impl Drop for LimitEnforcer {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn own_cgroup(limit: u64) -> Option<Cgroup> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = locate(&mountinfo, &proc_cgroup);
    let pid = std::process::id();
    // One enforcer per run is the rule; a second one in the same process gets its own name.
    let name = match CREATED.fetch_add(1, Ordering::Relaxed) {
        0 => format!("faultline-{pid}"),
        n => format!("faultline-{pid}-{n}"),
    };
    let cap = hard_cap(limit);
    let v2 = own.v2.as_deref().and_then(|dir| Cgroup::create_v2(&RealFs, dir, &name, pid, limit, cap));
    v2.or_else(|| own.v1_memory.as_deref().and_then(|dir| Cgroup::create_v1(&RealFs, dir, &name, cap)))
}
