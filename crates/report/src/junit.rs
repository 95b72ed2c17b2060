//! The JUnit XML report, for CI test reporters (GitLab, Jenkins, GitHub test-report actions).
//!
//! One `<testsuite name="faultline">`; its test cases are what faultline saw:
//!
//! - a crash inside a pytest test is a failed case named the way pytest's own `junitxml`
//!   names that test (`tests/test_x.py::TestA::test_b[p]` → classname `tests.test_x.TestA`,
//!   name `test_b[p]`), so it lines up with pytest's report;
//! - a crash outside any test (startup, import, interpreter shutdown, a program that is not
//!   pytest) is a failed case of classname `faultline` named after the phase and command;
//! - a timeout and a memory stop are failed cases of classname `faultline`;
//! - a run with none of those is one case for the command, passed when it exited 0.
//!
//! A failure's `type` is the crash kind, its `message` the signal, what the kind means and
//! the crash's message; its text is the terminal report's section for that crash without
//! colors (the merged stack of the crashed thread, the culprit, hints). The crashed
//! process's last stderr lines go to the case's `system-err`, without Python's faulthandler
//! dump (the failure's stack says the same, and more).

use std::io::{self, Write};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use crate::model::{Crash, Outcome, Phase, Report, SuiteResult, TestOutcome};
use crate::units::readable_limit_ms;
use crate::view::stderr::shown_tail;
use crate::view::text::{brief_command, Paths};
use crate::{crash, memory, timeout, TerminalConfig};
use faultline_model::style::TerminalStyle;

/// The suite name, and the classname of cases that are not pytest tests.
pub const SUITE: &str = "faultline";

/// How long a command may be in a test case's name.
const COMMAND_CHARS: usize = 80;

/// Writes the JUnit XML report of `report`.
pub fn write_junit(report: &Report, out: &mut impl Write) -> io::Result<()> {
    junit_report(report).serialize(&mut *out).map_err(|e| io::Error::other(e.to_string()))
}

/// The JUnit document of `report`, as `quick_junit` types.
pub fn junit_report(report: &Report) -> quick_junit::Report {
    let config = TerminalConfig { style: TerminalStyle::plain(), stderr_lines: 0, show_signature: true, cwd: None };
    let paths = Paths::new(report.cwd.as_deref());
    let mut suite = TestSuite::new(SUITE);
    if let Some(at) = started_at(report) {
        suite.set_timestamp(at);
    }
    suite.set_time(readable_duration_ms(report.duration_ms));
    suite.add_properties(properties(report));

    let mut cases: Vec<TestCase> = match &report.suite {
        Some(tests) => suite_cases(&config, report, tests, &paths),
        None => report.crashes.iter().map(|c| crash_case(&config, report, c, &paths)).collect(),
    };
    if let Some(t) = &report.timeout {
        let mut text = Vec::new();
        let _ = timeout::write_timeout(&config, t, &paths, &mut text);
        let stopped = t.stopped_with.as_deref().map(|s| format!(", stopped with {s}")).unwrap_or_default();
        let first = t.findings.first().map(|f| format!(": {}", f.text)).unwrap_or_default();
        let message = format!("timed out after {}{stopped}{first}", readable_limit_ms(t.limit_ms));
        cases.push(failed(
            format!("timeout: {}", brief_command(&report.command, COMMAND_CHARS)),
            SUITE,
            "timeout",
            message,
            text,
        ));
    }
    if report.outcome == Outcome::Oom {
        let mut text = Vec::new();
        let _ = memory::write_oom(&config, report, &paths, &mut text);
        let text_str = String::from_utf8_lossy(&text).into_owned();
        let message = text_str
            .lines()
            .next()
            .map(|l| l.trim_start_matches("faultline: ").to_owned())
            .unwrap_or_else(|| "out of memory".into());
        cases.push(failed(
            format!("memory: {}", brief_command(&report.command, COMMAND_CHARS)),
            SUITE,
            "memory-limit",
            message,
            text,
        ));
    }
    if cases.is_empty() {
        cases.push(command_case(report));
    }
    suite.add_test_cases(cases);

    let mut doc = quick_junit::Report::new(SUITE);
    if let Some(at) = started_at(report) {
        doc.set_timestamp(at);
    }
    doc.set_time(readable_duration_ms(report.duration_ms));
    doc.add_test_suite(suite);
    doc
}

/// pytest's `junitxml` names for a node id: `tests/test_x.py::TestA::test_b[p/q::r]` →
/// (`tests.test_x.TestA`, `test_b[p/q::r]`). Parameters are kept as they are.
pub fn pytest_names(nodeid: &str) -> (String, String) {
    let (path, params) = match nodeid.find('[') {
        Some(at) => nodeid.split_at(at),
        None => (nodeid, ""),
    };
    let mut names: Vec<String> = path.split("::").map(str::to_owned).collect();
    if let Some(file) = names.first_mut() {
        let dotted = file.replace('/', ".");
        *file = dotted.strip_suffix(".py").map(str::to_owned).unwrap_or(dotted);
    }
    let name = names.pop().unwrap_or_default() + params;
    (names.join("."), name)
}

fn crash_case(config: &TerminalConfig, report: &Report, c: &Crash, paths: &Paths) -> TestCase {
    let (classname, name) = match &c.test {
        Some(test) => pytest_names(&test.nodeid),
        None => {
            let argv = if c.argv.is_empty() { &report.command } else { &c.argv };
            let command = brief_command(argv, COMMAND_CHARS);
            (SUITE.to_owned(), format!("{}: {command}", phase_words(c.phase)))
        }
    };
    let mut message = format!("{} ({}): {}", c.signal, c.kind.as_str(), c.kind.describe());
    if let Some(m) = &c.message {
        message.push_str(" — ");
        message.push_str(m);
    }
    let mut text = Vec::new();
    let _ = crash::write_crash(config, c, paths, &mut text);
    let mut case = failed(name, &classname, c.kind.as_str(), message, text);
    // The program's own last lines; faulthandler's dump repeats the stack in the failure.
    let tail = shown_tail(&c.stderr_tail, usize::MAX);
    if !tail.is_empty() {
        case.set_system_err(tail.join("\n") + "\n");
    }
    case
}

/// With `--keep-going`: every test of the suite with its real outcome (a crashed one is its
/// crash's case), then the crashes that happened in no test.
fn suite_cases(config: &TerminalConfig, report: &Report, suite: &SuiteResult, paths: &Paths) -> Vec<TestCase> {
    let mut cases = Vec::with_capacity(suite.tests.len());
    for test in &suite.tests {
        let time = Duration::from_secs_f64(test.duration_ms.max(0.0) / 1000.0);
        let crash = test.crash.and_then(|i| report.crashes.get(i));
        let mut case = match (test.outcome, crash) {
            (TestOutcome::Crashed, Some(c)) => crash_case(config, report, c, paths),
            (outcome, _) => {
                let (classname, name) = pytest_names(&test.nodeid);
                let message = test.message.clone().unwrap_or_default();
                let status = match outcome {
                    TestOutcome::Passed | TestOutcome::Xpassed => TestCaseStatus::success(),
                    TestOutcome::Failed => non_success(NonSuccessKind::Failure, "failed", message, None),
                    TestOutcome::Crashed => non_success(NonSuccessKind::Failure, "crashed", "crashed".into(), None),
                    TestOutcome::Error => non_success(NonSuccessKind::Error, "error", message, None),
                    TestOutcome::Skipped | TestOutcome::Xfailed => skipped(outcome.word()),
                    TestOutcome::NotRun => skipped("not run: faultline stopped the suite before it"),
                };
                let mut case = TestCase::new(name, status);
                case.set_classname(classname);
                case
            }
        };
        case.set_time(time);
        cases.push(case);
    }
    let in_tests: Vec<usize> = suite.tests.iter().filter_map(|t| t.crash).collect();
    for (i, c) in report.crashes.iter().enumerate().filter(|(i, _)| !in_tests.contains(i)) {
        let _ = i;
        cases.push(crash_case(config, report, c, paths));
    }
    cases
}

fn skipped(message: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::skipped();
    status.set_message(message);
    status
}

fn phase_words(phase: Phase) -> &'static str {
    match phase {
        Phase::Startup => "crash at startup",
        Phase::Import => "crash during import",
        Phase::Run => "crash",
        Phase::Test => "crash in a test",
        Phase::Shutdown => "crash at interpreter shutdown",
    }
}

/// The one case of a run in which nothing crashed, timed out or ran out of memory.
fn command_case(report: &Report) -> TestCase {
    let name = brief_command(&report.command, COMMAND_CHARS);
    let code = report.exit.code;
    let status = match report.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Error => {
            non_success(NonSuccessKind::Error, "error", "faultline could not run the command".into(), None)
        }
        Outcome::Killed => {
            let signal = report.exit.signal.as_deref().unwrap_or("a signal");
            non_success(NonSuccessKind::Failure, "killed", format!("killed by {signal} (exit status {code})"), None)
        }
        _ => non_success(NonSuccessKind::Failure, "exit-status", format!("exited with status {code}"), None),
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(SUITE);
    case.set_time(readable_duration_ms(report.duration_ms));
    case
}

fn failed(name: String, classname: &str, ty: &str, message: String, text: Vec<u8>) -> TestCase {
    let text = String::from_utf8_lossy(&text).trim_end().to_owned() + "\n";
    let mut case = TestCase::new(name, non_success(NonSuccessKind::Failure, ty, message, Some(text)));
    case.set_classname(classname);
    case
}

fn non_success(kind: NonSuccessKind, ty: &str, message: String, text: Option<String>) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_type(ty).set_message(message);
    if let Some(text) = text {
        status.set_description(text);
    }
    status
}

fn properties(report: &Report) -> Vec<Property> {
    let mut props = vec![
        Property::new("command", report.command.join(" ")),
        Property::new("outcome", outcome_str(report.outcome)),
        Property::new("exit_status", report.exit.code.to_string()),
    ];
    if let Some(signal) = &report.exit.signal {
        props.push(Property::new("exit_signal", signal.as_str()));
    }
    if let Some(cwd) = &report.cwd {
        props.push(Property::new("cwd", cwd.as_str()));
    }
    props.push(Property::new("faultline_version", report.faultline_version.as_str()));
    props
}

fn outcome_str(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Crashed => "crashed",
        Outcome::Timeout => "timeout",
        Outcome::Oom => "oom",
        Outcome::Killed => "killed",
        Outcome::Error => "error",
    }
}

fn started_at(report: &Report) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(report.started_at.as_deref()?).ok()
}

/// A test time readers can parse: a report's infinite or absurd duration is capped (at
/// about 136 years; quick-junit cannot read `Duration::MAX` back).
fn readable_duration_ms(ms: f64) -> Duration {
    crate::units::duration_from_ms(ms).min(Duration::from_secs(u64::from(u32::MAX)))
}
