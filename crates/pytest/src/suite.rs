//! Every test of a suite over the runs of `--keep-going`: how each ended and which are left.
//! (The summary in pytest's words is the report's: `faultline_report::suite`.)

use crate::log::ProcessLog;
use faultline_model::model::{SuiteResult, SuiteTest, TestOutcome};
use std::collections::{HashMap, HashSet};

/// A crash of one run, as the suite needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCrash {
    pub pid: u32,
    /// The test `PYTEST_CURRENT_TEST` named, when the channel did not.
    pub env_test: Option<String>,
    /// The crash's place in the report's `crashes`.
    pub index: usize,
}

/// What one run added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunAdded {
    /// The tests its crashes happened in.
    pub crashed: Vec<String>,
    /// Crashes in no test: collection, start-up, interpreter shutdown.
    pub outside_tests: usize,
    /// The lowest `--maxfail` any of its processes had (0: none).
    pub maxfail: u32,
}

#[derive(Debug, Default)]
pub struct Suite {
    /// Every collected test, in collection order.
    collected: Vec<String>,
    seen: HashSet<String>,
    ended: HashMap<String, SuiteTest>,
    pub restarts: u32,
}

impl Suite {
    /// Adds what one run of pytest did, from its processes' logs and its crashes.
    pub fn add_run(&mut self, logs: &[ProcessLog], crashes: &[RunCrash]) -> RunAdded {
        let mut added = RunAdded::default();
        for log in logs {
            for id in log.collected.iter().flatten() {
                self.know(id);
            }
            if log.maxfail > 0 && (added.maxfail == 0 || log.maxfail < added.maxfail) {
                added.maxfail = log.maxfail;
            }
        }
        // A worker's own reports first; xdist's controller repeats them (and reports a
        // crashed worker's test as failed, which the crash below corrects).
        let (workers, controllers): (Vec<&ProcessLog>, Vec<&ProcessLog>) = logs.iter().partition(|l| !l.controller);
        for log in workers.into_iter().chain(controllers) {
            for test in log.ended() {
                let Some(outcome) = test.outcome() else { continue };
                self.know(&test.nodeid);
                self.ended.entry(test.nodeid.clone()).or_insert_with(|| SuiteTest {
                    nodeid: test.nodeid.clone(),
                    outcome,
                    duration_ms: test.duration_ms(),
                    message: test.message().map(str::to_owned),
                    crash: None,
                    order_dependent: false,
                });
            }
        }
        for crash in crashes {
            let log = logs.iter().find(|l| l.pid == crash.pid);
            let running = log.and_then(ProcessLog::running);
            let Some(nodeid) = running.map(|t| t.nodeid.clone()).or_else(|| crash.env_test.clone()) else {
                added.outside_tests += 1;
                continue;
            };
            self.know(&nodeid);
            let duration_ms = running.map_or(0.0, |t| t.duration_ms());
            self.ended.insert(
                nodeid.clone(),
                SuiteTest {
                    nodeid: nodeid.clone(),
                    outcome: TestOutcome::Crashed,
                    duration_ms,
                    message: None,
                    crash: Some(crash.index),
                    order_dependent: false,
                },
            );
            added.crashed.push(nodeid);
        }
        added
    }

    fn know(&mut self, nodeid: &str) {
        if self.seen.insert(nodeid.to_owned()) {
            self.collected.push(nodeid.to_owned());
        }
    }

    /// Collected tests that have neither ended nor crashed, in collection order.
    pub fn remaining(&self) -> Vec<String> {
        self.collected.iter().filter(|id| !self.ended.contains_key(*id)).cloned().collect()
    }

    /// Whether any test was collected at all.
    pub fn collected_any(&self) -> bool {
        !self.collected.is_empty()
    }

    /// Failed, error and crashed tests so far: what `--maxfail` counts.
    pub fn problems(&self) -> u32 {
        let n = self.ended.values().filter(|t| t.outcome.is_problem()).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    pub fn mark_order_dependent(&mut self, nodeid: &str) {
        if let Some(test) = self.ended.get_mut(nodeid) {
            test.order_dependent = true;
        }
    }

    /// Every test, in collection order; those never run are `not-run`.
    pub fn result(&self, stopped: Option<String>) -> SuiteResult {
        let tests = self
            .collected
            .iter()
            .map(|id| {
                self.ended.get(id).cloned().unwrap_or_else(|| SuiteTest {
                    nodeid: id.clone(),
                    outcome: TestOutcome::NotRun,
                    duration_ms: 0.0,
                    message: None,
                    crash: None,
                    order_dependent: false,
                })
            })
            .collect();
        SuiteResult { restarts: self.restarts, tests, stopped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(pid: u32, text: &str) -> ProcessLog {
        ProcessLog::parse(pid, &(text.to_owned() + "\n"))
    }

    fn ran(id: &str, category: &str) -> String {
        format!("{{\"e\": \"test\", \"id\": \"{id}\"}}\n{{\"e\": \"report\", \"id\": \"{id}\", \"when\": \"call\", \"category\": \"{category}\", \"duration\": 0.5}}")
    }

    #[test]
    fn a_crash_leaves_the_tests_after_it_for_the_next_run() {
        let mut suite = Suite::default();
        let first = log(
            10,
            &format!(
                "{}\n{}\n{}\n{{\"e\": \"test\", \"id\": \"t::c\"}}",
                r#"{"e": "collected", "ids": ["t::a", "t::b", "t::c", "t::d", "t::e"]}"#,
                ran("t::a", "passed"),
                ran("t::b", "failed"),
            ),
        );
        let added = suite.add_run(&[first], &[RunCrash { pid: 10, env_test: None, index: 0 }]);
        assert_eq!(added.crashed, ["t::c"]);
        assert_eq!(suite.remaining(), ["t::d", "t::e"]);
        assert_eq!(suite.problems(), 2);
        suite.restarts += 1;
        let second = log(
            11,
            &format!(
                "{}\n{}\n{}\n{{\"e\": \"finished\", \"status\": 0}}",
                r#"{"e": "collected", "ids": ["t::d", "t::e"]}"#,
                ran("t::d", "passed"),
                ran("t::e", "skipped")
            ),
        );
        let added = suite.add_run(&[second], &[]);
        assert!(added.crashed.is_empty());
        assert!(suite.remaining().is_empty());
        let result = suite.result(None);
        let outcomes: Vec<_> = result.tests.iter().map(|t| (t.nodeid.as_str(), t.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                ("t::a", TestOutcome::Passed),
                ("t::b", TestOutcome::Failed),
                ("t::c", TestOutcome::Crashed),
                ("t::d", TestOutcome::Passed),
                ("t::e", TestOutcome::Skipped)
            ]
        );
        assert_eq!(result.tests[2].crash, Some(0));
    }

    #[test]
    fn without_the_channel_the_environment_names_the_crashed_test() {
        let mut suite = Suite::default();
        let added = suite.add_run(&[], &[RunCrash { pid: 5, env_test: Some("t::x".into()), index: 0 }]);
        assert_eq!(added.crashed, ["t::x"]);
        let added = suite.add_run(&[], &[RunCrash { pid: 6, env_test: None, index: 1 }]);
        assert_eq!(added.outside_tests, 1);
    }

    #[test]
    fn the_xdist_controllers_failure_for_a_crashed_worker_is_a_crash() {
        let mut suite = Suite::default();
        let worker = log(
            20,
            &format!(
                "{}\n{{\"e\": \"test\", \"id\": \"t::boom\"}}",
                r#"{"e": "collected", "ids": ["t::ok", "t::boom"]}"#
            ),
        );
        let controller = log(
            19,
            &format!(
                "{}\n{}\n{}",
                r#"{"e": "session", "controller": true, "maxfail": 0}"#,
                ran("t::ok", "passed"),
                ran("t::boom", "failed")
            ),
        );
        suite.add_run(&[controller, worker], &[RunCrash { pid: 20, env_test: None, index: 0 }]);
        let result = suite.result(None);
        assert_eq!(result.tests[1].outcome, TestOutcome::Crashed);
        assert_eq!(result.tests[0].outcome, TestOutcome::Passed);
        assert!(suite.remaining().is_empty(), "xdist already ran everything: nothing to restart");
    }
}
