//! A crashed pytest process's breadcrumbs: what it had done before it crashed.

use crate::log::ProcessLog;
use faultline_model::model::{PytestProgress, RecentTest, TestOutcome, TestRef};

/// How many of the last tests a report names.
pub const RECENT: usize = 5;

/// The progress of a process from its log.
pub fn progress(log: &ProcessLog) -> PytestProgress {
    let ended = log.ended();
    let count = |wanted: &[TestOutcome]| {
        let n = ended.iter().filter(|t| t.outcome().is_some_and(|o| wanted.contains(&o))).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    let recent = ended[ended.len().saturating_sub(RECENT)..]
        .iter()
        .map(|t| RecentTest {
            nodeid: t.nodeid.clone(),
            outcome: t.outcome().map_or("unfinished", TestOutcome::word).to_owned(),
        })
        .collect();
    PytestProgress {
        channel: true,
        worker: log.worker.clone(),
        collected: log.collected.as_ref().map(|ids| u32::try_from(ids.len()).unwrap_or(u32::MAX)),
        passed_before: count(&[TestOutcome::Passed]),
        failed_before: count(&[TestOutcome::Failed, TestOutcome::Error]),
        recent,
        session_finished: log.finished.is_some(),
    }
}

/// The progress of a process that ran pytest without the channel: nothing is known but that.
pub fn without_channel() -> PytestProgress {
    PytestProgress {
        channel: false,
        worker: None,
        collected: None,
        passed_before: 0,
        failed_before: 0,
        recent: Vec::new(),
        session_finished: false,
    }
}

/// The running test as the channel knows it, for a crash whose environment named none
/// (`PYTEST_CURRENT_TEST` is set only once a phase starts).
pub fn running_test(log: &ProcessLog) -> Option<TestRef> {
    log.running().map(|t| TestRef { nodeid: t.nodeid.clone(), when: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(lines: &[&str]) -> ProcessLog {
        ProcessLog::parse(3, &(lines.join("\n") + "\n"))
    }

    fn ran(id: &str, category: &str) -> [String; 2] {
        [
            format!(r#"{{"e": "test", "id": "{id}"}}"#),
            format!(r#"{{"e": "report", "id": "{id}", "when": "call", "category": "{category}"}}"#),
        ]
    }

    #[test]
    fn breadcrumbs_count_what_ended_and_name_the_last_five() {
        let mut lines: Vec<String> = vec![r#"{"e": "collected", "ids": ["a","b","c","d","e","f","g","h"]}"#.into()];
        for (i, category) in ["passed", "passed", "failed", "passed", "skipped", "passed", "error"].iter().enumerate() {
            lines.extend(ran(&format!("t{i}"), category));
        }
        lines.push(r#"{"e": "test", "id": "crashing"}"#.into());
        let log = log_of(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        let p = progress(&log);
        assert_eq!((p.passed_before, p.failed_before, p.collected), (4, 2, Some(8)));
        let recent: Vec<_> = p.recent.iter().map(|r| format!("{} {}", r.nodeid, r.outcome)).collect();
        assert_eq!(recent, ["t2 failed", "t3 passed", "t4 skipped", "t5 passed", "t6 error"]);
        assert!(!p.session_finished);
        assert_eq!(running_test(&log).map(|t| t.nodeid), Some("crashing".into()));
    }

    #[test]
    fn a_crash_after_the_session_finished_has_no_running_test() {
        let mut lines: Vec<String> = ran("a", "passed").into();
        lines.push(r#"{"e": "finished", "status": 0}"#.into());
        let log = log_of(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        let p = progress(&log);
        assert!(p.session_finished);
        assert_eq!(p.passed_before, 1);
        assert_eq!(running_test(&log), None);
    }
}
