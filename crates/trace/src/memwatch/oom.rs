//! Counting the kernel OOM killer's work: the machine-wide `oom_kill` of `/proc/vmstat`
//! (any cgroup, so it also sees kills of our tree when we made no cgroup) and the per-cgroup
//! counters of the files our own cgroup has. The parsers are pure.

/// The value of `key` in text made of `key value` lines (`/proc/vmstat`,
/// `memory.events`, v1 `memory.oom_control`).
pub(crate) fn parse_counter(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut fields = line.split_ascii_whitespace();
        (fields.next()? == key).then(|| fields.next()?.parse().ok())?
    })
}

pub(crate) fn read_counter(path: &std::path::Path, key: &str) -> Option<u64> {
    parse_counter(&std::fs::read_to_string(path).ok()?, key)
}

/// Notices the kernel OOM killer anywhere on the machine since `start`. A kill counted here
/// while a process of the tree died of SIGKILL is, most likely, that process: the caller
/// decides, knowing which processes died how.
#[derive(Debug, Clone)]
pub struct OomCounter {
    /// `None` when `/proc/vmstat` has no counter (old kernels, no procfs): never any kills.
    baseline: Option<u64>,
}

const VMSTAT: &str = "/proc/vmstat";

impl OomCounter {
    pub fn start() -> OomCounter {
        OomCounter { baseline: read_counter(VMSTAT.as_ref(), "oom_kill") }
    }

    pub fn kills_since_start(&self) -> u64 {
        let Some(baseline) = self.baseline else {
            return 0;
        };
        read_counter(VMSTAT.as_ref(), "oom_kill").map_or(0, |now| now.saturating_sub(baseline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counters_from_pasted_files() {
        let vmstat = "pgfault 12345\noom_kill 3\nnr_free_pages 100\n";
        assert_eq!(parse_counter(vmstat, "oom_kill"), Some(3));
        let events = "low 0\nhigh 12\nmax 40\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(parse_counter(events, "oom_kill"), Some(1));
        assert_eq!(parse_counter(events, "oom"), Some(2));
        let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n";
        assert_eq!(parse_counter(oom_control, "oom_kill"), Some(7));
        assert_eq!(parse_counter("oom_kill_disable 0\nunder_oom 0\n", "oom_kill"), None);
        assert_eq!(parse_counter("oom_kill x\n", "oom_kill"), None);
    }
}

/// Property test (issue 9, A4): any `memory.events` text parses without a panic.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(faultline_model::fixtures::config())]

        #[test]
        fn any_events_text(text in faultline_model::fixtures::strategies::text(), key in faultline_model::fixtures::strategies::text()) {
            let _ = super::parse_counter(&text, &key);
            let _ = super::parse_counter(&text, "oom_kill");
        }
    }
}
