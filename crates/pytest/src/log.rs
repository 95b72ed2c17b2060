//! What one pytest process wrote to the channel (`<pid>.jsonl`), read back.
//!
//! The file may end in the middle of a line (the process died while writing): every whole
//! line is read, the rest is ignored, and so is any line this version does not know.

use faultline_model::model::TestOutcome;
use serde_json::Value;
use std::path::Path;

/// One pytest process's log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessLog {
    pub pid: u32,
    /// The pytest-xdist worker id (`gw0`).
    pub worker: Option<String>,
    /// The xdist controller: its test events are its workers', not its own.
    pub controller: bool,
    /// pytest's `--maxfail` (`-x` is 1); 0 when unset.
    pub maxfail: u32,
    /// The tests the process collected (after selection), in order, once it had.
    pub collected: Option<Vec<String>>,
    /// The tests it started, in order, with their phase reports.
    pub tests: Vec<TestRun>,
    /// pytest's exit status, once the session had finished.
    pub finished: Option<i32>,
}

/// One test as the process ran it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestRun {
    pub nodeid: String,
    pub phases: Vec<PhaseReport>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhaseReport {
    /// setup, call or teardown.
    pub when: String,
    /// pytest's category for the report (`pytest_report_teststatus`): passed, failed,
    /// error, skipped, xfailed, xpassed, or empty for a passed setup or teardown.
    pub category: String,
    pub duration_s: f64,
    pub message: Option<String>,
}

impl TestRun {
    /// How the test ended by its phases, in pytest's words; `None` before any phase ended.
    pub fn outcome(&self) -> Option<TestOutcome> {
        let has = |category: &str| self.phases.iter().any(|p| p.category == category);
        let outcome = if has("failed") {
            TestOutcome::Failed
        } else if has("error") {
            TestOutcome::Error
        } else if has("xfailed") {
            TestOutcome::Xfailed
        } else if has("xpassed") {
            TestOutcome::Xpassed
        } else if has("skipped") {
            TestOutcome::Skipped
        } else if has("passed") {
            TestOutcome::Passed
        } else {
            return None;
        };
        Some(outcome)
    }

    pub fn duration_ms(&self) -> f64 {
        // A fold from +0.0: an empty f64 sum is -0.0.
        self.phases.iter().fold(0.0, |sum, p| sum + p.duration_s) * 1000.0
    }

    /// The first failure's one line.
    pub fn message(&self) -> Option<&str> {
        self.phases.iter().find_map(|p| p.message.as_deref()).filter(|m| !m.is_empty())
    }
}

impl ProcessLog {
    /// Reads `<dir>/<pid>.jsonl`; `None` when the process wrote nothing there.
    pub fn read(dir: &Path, pid: u32) -> Option<ProcessLog> {
        let text = std::fs::read(dir.join(format!("{pid}.jsonl"))).ok()?;
        Some(ProcessLog::parse(pid, &String::from_utf8_lossy(&text)))
    }

    /// Every process's log in `dir`, by pid.
    pub fn read_all(dir: &Path) -> Vec<ProcessLog> {
        let mut pids: Vec<u32> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.strip_suffix(".jsonl")?.parse().ok())
            .collect();
        pids.sort_unstable();
        pids.into_iter().filter_map(|pid| ProcessLog::read(dir, pid)).collect()
    }

    pub fn parse(pid: u32, text: &str) -> ProcessLog {
        let mut log = ProcessLog { pid, ..ProcessLog::default() };
        // Only lines the writer finished: the last one may have been cut by the crash.
        let whole = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        for line in whole.lines() {
            if let Ok(event) = serde_json::from_str::<Value>(line) {
                log.apply(&event);
            }
        }
        log
    }

    fn apply(&mut self, event: &Value) {
        let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
        match event.get("e").and_then(Value::as_str) {
            Some("session") => {
                self.worker = text("worker");
                self.controller = event.get("controller").and_then(Value::as_bool).unwrap_or(false);
                self.maxfail =
                    event.get("maxfail").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
            }
            Some("collected") => {
                let ids = event.get("ids").and_then(Value::as_array).into_iter().flatten();
                self.collected = Some(ids.filter_map(|id| id.as_str().map(str::to_owned)).collect());
            }
            Some("test") => {
                if let Some(nodeid) = text("id") {
                    self.tests.push(TestRun { nodeid, phases: Vec::new() });
                }
            }
            Some("report") => {
                let Some(nodeid) = text("id") else { return };
                let phase = PhaseReport {
                    when: text("when").unwrap_or_default(),
                    category: text("category").unwrap_or_default(),
                    duration_s: event.get("duration").and_then(Value::as_f64).unwrap_or(0.0),
                    message: text("message"),
                };
                // The report belongs to the latest start of that test (a repeated test has several).
                match self.tests.iter_mut().rev().find(|t| t.nodeid == nodeid) {
                    Some(test) => test.phases.push(phase),
                    // The controller of xdist hears of tests it never saw start (a crashed worker's).
                    None => self.tests.push(TestRun { nodeid, phases: vec![phase] }),
                }
            }
            Some("finished") => {
                self.finished = Some(event.get("status").and_then(Value::as_i64).map_or(0, |s| s as i32));
            }
            _ => {}
        }
    }

    /// The test that was running when the process stopped writing: the last one started,
    /// unless the session had finished. (Its phase reports are sent with the next line, so a
    /// running test may already have some.)
    pub fn running(&self) -> Option<&TestRun> {
        if self.finished.is_some() || self.controller {
            return None;
        }
        self.tests.last()
    }

    /// The tests that had ended before the running one.
    pub fn ended(&self) -> &[TestRun] {
        match self.running() {
            Some(_) => &self.tests[..self.tests.len() - 1],
            None => &self.tests,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = concat!(
        r#"{"e": "session", "pid": 7, "worker": null, "controller": false, "maxfail": 0}"#,
        "\n",
        r#"{"e": "collected", "ids": ["t.py::a", "t.py::b[x y]", "t.py::c"]}"#,
        "\n",
        r#"{"e": "test", "id": "t.py::a"}"#,
        "\n",
        r#"{"e": "report", "id": "t.py::a", "when": "setup", "outcome": "passed", "category": "", "duration": 0.001}"#,
        "\n",
        r#"{"e": "report", "id": "t.py::a", "when": "call", "outcome": "failed", "category": "failed", "duration": 0.002, "message": "assert 1 == 2"}"#,
        "\n",
        r#"{"e": "test", "id": "t.py::b[x y]"}"#,
        "\n",
        r#"{"e": "report", "id": "t.py::b[x y]", "when": "setup", "out"#,
    );

    #[test]
    fn a_log_cut_by_the_crash_reads_up_to_its_last_whole_line() {
        let log = ProcessLog::parse(7, LOG);
        assert_eq!(log.collected.as_ref().map(Vec::len), Some(3));
        assert_eq!(log.tests.len(), 2);
        assert_eq!(log.running().map(|t| t.nodeid.as_str()), Some("t.py::b[x y]"));
        assert_eq!(log.ended().len(), 1);
        assert_eq!(log.ended()[0].outcome(), Some(TestOutcome::Failed));
        assert_eq!(log.ended()[0].message(), Some("assert 1 == 2"));
        assert!((log.ended()[0].duration_ms() - 3.0).abs() < 1e-9);
    }

    #[test]
    fn after_the_session_finished_nothing_is_running() {
        let log = ProcessLog::parse(7, &format!("{LOG}\n{}\n", r#"{"e": "finished", "status": 1}"#));
        assert_eq!(log.finished, Some(1));
        assert!(log.running().is_none());
        assert_eq!(log.ended().len(), 2);
    }

    #[test]
    fn outcomes_follow_pytests_categories() {
        let run = |categories: &[&str]| TestRun {
            nodeid: "t".into(),
            phases: categories
                .iter()
                .map(|c| PhaseReport { category: (*c).into(), ..PhaseReport::default() })
                .collect(),
        };
        assert_eq!(run(&["", "passed", ""]).outcome(), Some(TestOutcome::Passed));
        assert_eq!(run(&["error"]).outcome(), Some(TestOutcome::Error));
        assert_eq!(run(&["", "passed", "error"]).outcome(), Some(TestOutcome::Error));
        assert_eq!(run(&["skipped"]).outcome(), Some(TestOutcome::Skipped));
        assert_eq!(run(&["", "xfailed", ""]).outcome(), Some(TestOutcome::Xfailed));
        assert_eq!(run(&[""]).outcome(), None);
    }

    #[test]
    fn garbage_and_unknown_lines_are_skipped() {
        let log = ProcessLog::parse(1, "not json\n{\"e\": \"new-kind\"}\n{\"e\": \"test\", \"id\": \"x\"}\n");
        assert_eq!(log.tests.len(), 1);
    }
}
