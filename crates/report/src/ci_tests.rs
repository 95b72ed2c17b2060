//! Snapshot tests of the CI outputs: the JUnit XML and the GitHub Actions annotations of a
//! crash in a pytest test, a crash outside any test, a timeout, a memory stop and a clean run.

use crate::diagnose::hang::timeout_info;
use std::path::Path;

use crate::diagnose::fixtures::hang::hang_gil;
use crate::diagnose::{diagnose, fixtures};
use crate::github::write_annotations;
use crate::junit::{pytest_names, write_junit};
use crate::model::{ExitInfo, MemoryReport, Outcome, Report, SCHEMA_VERSION};

fn base(cwd: &str, outcome: Outcome, code: i32, command: &[&str]) -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        faultline_version: "0.1.0".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        cwd: Some(cwd.into()),
        started_at: Some("2025-01-09T10:31:02.114Z".into()),
        duration_ms: 5_906.0,
        outcome,
        exit: ExitInfo {
            code,
            signal: (code > 128).then(|| crate::signals::signal_name(code - 128)),
            core_dumped: false,
        },
        crashes: Vec::new(),
        timeout: None,
        memory: None,
        system: None,
        processes_started: 1,
        settings_file: None,
        variant: None,
        launcher: None,
        suite: None,
    }
}

fn xml(report: &Report) -> String {
    let mut out = Vec::new();
    write_junit(report, &mut out).expect("junit");
    String::from_utf8(out).expect("utf-8")
}

fn annotations(report: &Report, workspace: &str) -> String {
    let mut out = Vec::new();
    write_annotations(report, Some(Path::new(workspace)), &mut out).expect("annotations");
    String::from_utf8(out).expect("utf-8")
}

fn crash_in_test() -> Report {
    let mut r = base("/work/cases/pytest-crash-in-suite", Outcome::Crashed, 139, &["python3", "-m", "pytest", "tests"]);
    r.crashes = vec![diagnose(&fixtures::pytest_null_deref())];
    r
}

fn crash_at_shutdown() -> Report {
    let mut r =
        base("/work/cases/shutdown-static-dtor", Outcome::Crashed, 139, &["python3", "-m", "pytest", "-q", "tests"]);
    r.crashes = vec![diagnose(&fixtures::shutdown_static_dtor())];
    r
}

fn timeout() -> Report {
    let mut r = base("/work/cases/hang-gil", Outcome::Timeout, 143, &["python3", "main.py"]);
    r.timeout = Some(timeout_info(10_000.0, hang_gil(), Some("SIGTERM".into())));
    r
}

#[test]
fn pytest_names_like_junitxml() {
    let n = |id: &str| pytest_names(id);
    assert_eq!(n("tests/test_x.py::TestA::test_b[p]"), ("tests.test_x.TestA".into(), "test_b[p]".into()));
    assert_eq!(n("test_y.py::test_c"), ("test_y".into(), "test_c".into()));
    assert_eq!(n("tests/test_x.py::test_d[a/b::c.py]"), ("tests.test_x".into(), "test_d[a/b::c.py]".into()));
    assert_eq!(n("tests/test_doc.txt"), ("".into(), "tests.test_doc.txt".into()));
}

#[test]
fn junit_crash_in_a_test() {
    let r = crash_in_test();
    let text = xml(&r);
    let test = r.crashes[0].test.as_ref().expect("fixture crashes in a test");
    let (classname, name) = pytest_names(&test.nodeid);
    assert!(text.contains(&format!("classname=\"{classname}\"")), "{text}");
    assert!(text.contains(&format!("name=\"{name}\"")), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn junit_crash_outside_any_test() {
    let text = xml(&crash_at_shutdown());
    assert!(text.contains("classname=\"faultline\""), "{text}");
    assert!(text.contains("crash at interpreter shutdown: python3 -m pytest"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn junit_timeout() {
    insta::assert_snapshot!(xml(&timeout()));
}

#[test]
fn junit_memory_stop() {
    let mut r = base("/work/cases/memory-blowup", Outcome::Oom, 143, &["python3", "blowup.py"]);
    r.memory = Some(MemoryReport {
        peak_rss_bytes: 1_100 << 20,
        limit_bytes: Some(1 << 30),
        samples: vec![(0.0, 9 << 20), (900.0, 1_100 << 20)],
        trend: None,
        snapshot: Some(hang_gil()),
        peak_holder: None,
        warn_bytes: None,
        enforcement: None,
        oom_killed: Vec::new(),
    });
    let text = xml(&r);
    assert!(text.contains("type=\"memory-limit\""), "{text}");
    assert!(text.contains("message=\"stopped at the memory limit (1.0 GiB)"), "{text}");
}

#[test]
fn junit_clean_and_failing_runs() {
    let passed = xml(&base("/src/app", Outcome::Passed, 0, &["python3", "-m", "pytest"]));
    assert!(passed.contains("tests=\"1\"") && passed.contains("failures=\"0\""), "{passed}");
    insta::assert_snapshot!(passed);
    let failed = xml(&base("/src/app", Outcome::Failed, 1, &["python3", "-m", "pytest"]));
    assert!(failed.contains("<failure message=\"exited with status 1\" type=\"exit-status\""), "{failed}");
}

#[test]
fn junit_two_crashes_are_two_cases() {
    let mut r = crash_in_test();
    r.crashes.push(diagnose(&fixtures::shutdown_static_dtor()));
    let doc = crate::junit::junit_report(&r);
    assert_eq!(doc.tests, 2);
    assert_eq!(doc.failures, 2);
    let parsed = quick_junit::Report::deserialize_from_str(&xml(&r)).expect("valid JUnit");
    assert_eq!(parsed.test_suites[0].test_cases.len(), 2);
}

#[test]
fn github_crash_in_a_test() {
    let text = annotations(&crash_in_test(), "/work/cases");
    assert!(text.starts_with("::error file=pytest-crash-in-suite/"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn github_crash_outside_any_test_and_timeout() {
    let mut text = annotations(&crash_at_shutdown(), "/work/cases/shutdown-static-dtor");
    text.push_str(&annotations(&timeout(), "/work/cases/hang-gil"));
    insta::assert_snapshot!(text);
}

#[test]
fn github_clean_run_has_no_annotations() {
    assert_eq!(annotations(&base("/src", Outcome::Passed, 0, &["true"]), "/src"), "");
}
