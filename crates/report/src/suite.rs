//! A whole suite's end (`faultline run --keep-going`): the tests that did not pass, and the
//! summary in pytest's words.
//!
//! ```text
//! faultline: the suite, over 2 restarts:
//!   crashed  tests/test_render.py::test_batch[3]   SIGSEGV null-deref · order-dependent: passes alone
//!   failed   tests/test_io.py::test_roundtrip      assert b'' == b'x'
//!   order-dependent crashes need tests that ran before them; find which with:
//!     faultline bisect -- python -m pytest tests
//! ```

use std::io::{self, Write};

use crate::model::{Report, SuiteResult, TestOutcome};
use crate::units::thousands;
use crate::view::text::brief_command;
use crate::TerminalConfig;
use faultline_model::style::Role;

/// How many tests that did not pass are listed by name; the rest are counted.
const LISTED: usize = 30;

/// `1,204 passed, 3 failed, 2 crashed, 5 skipped (2 restarts)`: pytest's words and order,
/// with faultline's `crashed` beside `failed`.
pub fn summary_words(result: &SuiteResult) -> String {
    const ORDER: [TestOutcome; 8] = [
        TestOutcome::Passed,
        TestOutcome::Failed,
        TestOutcome::Crashed,
        TestOutcome::Error,
        TestOutcome::Skipped,
        TestOutcome::Xfailed,
        TestOutcome::Xpassed,
        TestOutcome::NotRun,
    ];
    let mut parts = Vec::new();
    for outcome in ORDER {
        let n = result.tests.iter().filter(|t| t.outcome == outcome).count();
        if n == 0 {
            continue;
        }
        let word = match outcome {
            TestOutcome::Error if n > 1 => "errors",
            other => other.word(),
        };
        parts.push(format!("{} {word}", thousands(n as u64)));
    }
    if parts.is_empty() {
        parts.push("no tests ran".into());
    }
    let mut words = parts.join(", ");
    match result.restarts {
        0 => {}
        1 => words.push_str(" (1 restart)"),
        n => words.push_str(&format!(" ({} restarts)", thousands(u64::from(n)))),
    }
    words
}

/// The tests that did not pass, one line each, and how to bisect an order-dependent crash.
pub(crate) fn write_suite(
    config: &TerminalConfig,
    report: &Report,
    suite: &SuiteResult,
    out: &mut dyn Write,
) -> io::Result<()> {
    let style = &config.style;
    let problems: Vec<_> = suite.tests.iter().filter(|t| t.outcome.is_problem()).collect();
    let restarts = match suite.restarts {
        0 => String::new(),
        1 => ", over 1 restart".into(),
        n => format!(", over {n} restarts"),
    };
    writeln!(out, "{} the whole suite{restarts}:", style.paint(Role::Strong, "faultline:"))?;
    let width = problems.iter().take(LISTED).map(|t| t.nodeid.chars().count()).max().unwrap_or(0);
    for test in problems.iter().take(LISTED) {
        let what = match test.outcome {
            TestOutcome::Crashed => {
                let crash = test.crash.and_then(|i| report.crashes.get(i));
                let mut what = crash.map(|c| format!("{} {}", c.signal, c.kind.as_str())).unwrap_or_default();
                if test.order_dependent {
                    what.push_str(" · order-dependent: passes alone");
                }
                what
            }
            _ => test.message.clone().unwrap_or_default(),
        };
        let word = format!("{:<7}", test.outcome.word());
        let role = if test.outcome == TestOutcome::Crashed { Role::Alarm } else { Role::Strong };
        writeln!(out, "  {}  {:<width$}  {what}", style.paint(role, &word), test.nodeid)?;
    }
    if problems.len() > LISTED {
        writeln!(
            out,
            "  … and {} more that did not pass (all in the JSON and JUnit reports)",
            problems.len() - LISTED
        )?;
    }
    if problems.is_empty() {
        writeln!(out, "  every test that ran passed")?;
    }
    if suite.tests.iter().any(|t| t.order_dependent) {
        writeln!(out, "  an order-dependent crash needs tests that ran before it; find which with:")?;
        writeln!(out, "    faultline bisect -- {}", brief_command(&report.command, 200))?;
    }
    if let Some(why) = &suite.stopped {
        let not_run = suite.tests.iter().filter(|t| t.outcome == TestOutcome::NotRun).count();
        writeln!(out, "  stopped before the end: {why} ({} not run)", thousands(not_run as u64))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SuiteTest;

    fn test(outcome: TestOutcome) -> SuiteTest {
        SuiteTest {
            nodeid: String::new(),
            outcome,
            duration_ms: 0.0,
            message: None,
            crash: None,
            order_dependent: false,
        }
    }

    #[test]
    fn the_summary_uses_pytests_words() {
        let mut tests: Vec<SuiteTest> = (0..1204).map(|_| test(TestOutcome::Passed)).collect();
        tests.extend([TestOutcome::Failed, TestOutcome::Crashed, TestOutcome::Crashed, TestOutcome::Skipped].map(test));
        let result = SuiteResult { restarts: 2, tests, stopped: None };
        assert_eq!(summary_words(&result), "1,204 passed, 1 failed, 2 crashed, 1 skipped (2 restarts)");
        let errors = SuiteResult {
            restarts: 1,
            tests: [TestOutcome::Error, TestOutcome::Error, TestOutcome::NotRun].map(test).into(),
            stopped: None,
        };
        assert_eq!(summary_words(&errors), "2 errors, 1 not run (1 restart)");
        assert_eq!(summary_words(&SuiteResult { restarts: 0, tests: vec![], stopped: None }), "no tests ran");
    }
}
