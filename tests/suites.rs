//! Whole test suites under faultline (issue: every crashing test of a suite in one command):
//! the pytest channel's breadcrumbs, `run --keep-going` and `bisect`, on real pytest suites
//! written here, whose tests crash through a small C library loaded with ctypes.

mod common;

use common::{assert_matches_report_schema, compile, shell_status, FAULTLINE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The native side of the suites: real faults in compiled code.
const CRASHY_C: &str = r#"
#include <stdlib.h>
static int *global;
static int calls;
void crash_null(void) { volatile int *p = 0; *p = 1; }
int divide(volatile int a, volatile int b) { return a / b; }
void do_abort(void) { abort(); }
void make_global(void) { global = malloc(64 * sizeof(int)); global[0] = 42; }
/* Frees the global and clears it: the next user reads through NULL. */
void free_global(void) { free(global); global = 0; }
int use_global(void) { return global[0]; }
/* Breaks on its fifth call in one process. */
int count_call(void) { if (++calls == 5) { volatile int *p = 0; *p = calls; } return calls; }
"#;

const CRASHY_PY: &str = r#"
import ctypes, os
lib = ctypes.CDLL(os.environ["CRASHY_LIB"])
lib.divide.argtypes = [ctypes.c_int, ctypes.c_int]
"#;

struct SuiteDir {
    _dir: tempfile::TempDir,
    root: PathBuf,
    lib: PathBuf,
}

/// A pytest project in a temp dir: `files` (path, text), plus `crashy.py` and the C library.
fn suite(files: &[(&str, &str)]) -> SuiteDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("project");
    std::fs::create_dir_all(root.join("tests")).unwrap();
    let lib = compile(dir.path(), "gcc", &["-O0", "-g", "-shared", "-fPIC"], "crashy.c", CRASHY_C, "libcrashy.so");
    std::fs::write(root.join("crashy.py"), CRASHY_PY).unwrap();
    // The project's own settings: none, so the test sees faultline's defaults.
    std::fs::write(root.join("pytest.ini"), "[pytest]\naddopts = -p no:cacheprovider\n").unwrap();
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    SuiteDir { _dir: dir, root, lib }
}

struct Ran {
    status: i32,
    stderr: String,
    report: Option<Value>,
    junit: Option<String>,
}

fn faultline(project: &SuiteDir, args: &[&str], pytest_args: &[&str]) -> Ran {
    let out = project.root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let json = out.join("report.json");
    let junit = out.join("junit.xml");
    let _ = std::fs::remove_file(&json);
    let output = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .args(args)
        .args(["--", "python3", "-m", "pytest", "-q"])
        .args(pytest_args)
        .current_dir(&project.root)
        .env("CRASHY_LIB", &project.lib)
        .env_remove("FAULTLINE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run faultline");
    ran(output, &json, &junit)
}

fn ran(output: Output, json: &Path, junit: &Path) -> Ran {
    let report = std::fs::read_to_string(json).ok().map(|t| serde_json::from_str(&t).expect("report is JSON"));
    Ran {
        status: shell_status(&output.status),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report,
        junit: std::fs::read_to_string(junit).ok(),
    }
}

fn tests_by_outcome(report: &Value, outcome: &str) -> Vec<String> {
    report["suite"]["tests"]
        .as_array()
        .expect("a suite section")
        .iter()
        .filter(|t| t["outcome"] == outcome)
        .map(|t| t["nodeid"].as_str().unwrap().to_owned())
        .collect()
}

/// Ten passing tests.
fn passing(prefix: &str) -> String {
    (0..10).map(|i| format!("def test_{prefix}_{i}():\n    assert {i} == {i}\n\n")).collect()
}

const THREE_CRASHES_A: &str = r#"
from crashy import lib

def test_a0(): pass
def test_a1(): pass
def test_a2(): pass
def test_segv():
    lib.crash_null()
def test_a4(): pass
def test_a5(): pass
def test_a6(): pass
def test_a7(): pass
def test_a8(): pass
def test_a9(): pass
"#;

const THREE_CRASHES_B: &str = r#"
import pytest
from crashy import lib

@pytest.mark.parametrize("value", ["plain", "with space", "ünïcode", "br[a]ck]et"])
def test_ids(value):
    assert value

class TestThing:
    def test_method(self): pass
    def test_abort(self):
        lib.do_abort()
    def test_after(self): pass

def test_b0(): pass
def test_ünï(): pass
def test_b2(): pass
"#;

const THREE_CRASHES_C: &str = r#"
from crashy import lib

def test_c0(): pass
def test_c1(): pass
def test_fpe():
    lib.divide(1, 0)
def test_c3(): pass
def test_c4(): pass
def test_c5(): pass
def test_c6(): pass
def test_c7(): pass
def test_c8(): pass
def test_c9(): pass
"#;

fn three_crashes() -> SuiteDir {
    suite(&[
        ("tests/test_a.py", THREE_CRASHES_A),
        ("tests/test_b.py", THREE_CRASHES_B),
        ("tests/test_c.py", THREE_CRASHES_C),
    ])
}

#[test]
fn keep_going_runs_every_test_of_a_suite_with_three_crashes() {
    let project = three_crashes();
    let run = faultline(&project, &["--keep-going"], &["tests"]);
    let report = run.report.expect("a report");
    assert_matches_report_schema(&report);
    let crashes = report["crashes"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> =
        crashes.iter().map(|c| (c["signal"].as_str().unwrap(), c["test"]["nodeid"].as_str().unwrap())).collect();
    assert_eq!(
        kinds,
        [
            ("SIGSEGV", "tests/test_a.py::test_segv"),
            ("SIGABRT", "tests/test_b.py::TestThing::test_abort"),
            ("SIGFPE", "tests/test_c.py::test_fpe")
        ],
        "{}",
        run.stderr
    );
    assert_eq!(tests_by_outcome(&report, "passed").len(), 27, "{}", run.stderr);
    assert_eq!(tests_by_outcome(&report, "crashed").len(), 3);
    assert_eq!(report["suite"]["tests"].as_array().unwrap().len(), 30);
    assert_eq!(report["suite"]["restarts"], 3);
    // The ids with spaces, brackets and non-ASCII ran, in a later run, through the selection file.
    // (pytest escapes non-ASCII parameters in ids: `[\xfcn\xefcode]`; a name keeps it.)
    for id in [
        "tests/test_b.py::test_ids[with space]",
        "tests/test_b.py::test_ids[\\xfcn\\xefcode]",
        "tests/test_b.py::test_ids[br[a]ck]et]",
        "tests/test_b.py::test_ünï",
    ] {
        assert!(tests_by_outcome(&report, "passed").contains(&id.to_owned()), "{id} did not pass: {}", run.stderr);
    }
    // Dies of the first crash's signal, as the suite would have without faultline.
    assert_eq!(run.status, 128 + libc::SIGSEGV);
    assert!(run.stderr.contains("27 passed, 3 crashed (3 restarts)"), "{}", run.stderr);
    // Every crash in full, once, above the summary.
    assert_eq!(run.stderr.matches("  test: tests/").count(), 3, "{}", run.stderr);
    let junit = run.junit.expect("a JUnit file");
    assert_eq!(junit.matches("<testcase ").count(), 30, "{junit}");
    assert_eq!(junit.matches("<failure ").count(), 3, "{junit}");
    assert!(junit.contains("name=\"test_ünï\""), "{junit}");
    assert!(
        junit.contains("classname=\"tests.test_b.TestThing\" name=\"test_abort\"")
            || junit.contains("name=\"test_abort\"")
    );
    // Each crashed test crashes alone too: none is order-dependent.
    assert!(!run.stderr.contains("order-dependent"), "{}", run.stderr);
}

#[test]
fn a_crash_under_pytest_says_what_ran_before_it() {
    let project = three_crashes();
    let run = faultline(&project, &[], &["tests/test_a.py"]);
    let report = run.report.expect("a report");
    let crash = &report["crashes"][0];
    assert_eq!(crash["test"]["nodeid"], "tests/test_a.py::test_segv");
    let pytest = &crash["pytest"];
    assert_eq!(pytest["channel"], true, "{}", run.stderr);
    assert_eq!(pytest["passed_before"], 3);
    assert_eq!(pytest["collected"], 10);
    assert_eq!(pytest["session_finished"], false);
    let recent: Vec<&str> =
        pytest["recent"].as_array().unwrap().iter().map(|r| r["nodeid"].as_str().unwrap()).collect();
    assert_eq!(recent, ["tests/test_a.py::test_a0", "tests/test_a.py::test_a1", "tests/test_a.py::test_a2"]);
    assert!(run.stderr.contains("before it: 3 passed in this process of 10 collected"), "{}", run.stderr);
    assert_eq!(run.status, 128 + libc::SIGSEGV);
    // Without --keep-going nothing after the crash runs, as before.
    assert!(report.get("suite").is_none());
}

#[test]
fn without_the_plugin_the_test_still_comes_from_pytest_current_test_and_it_says_so() {
    let project = three_crashes();
    let run = faultline(&project, &[], &["-p", "no:_faultline_channel", "tests/test_a.py"]);
    let report = run.report.expect("a report");
    let crash = &report["crashes"][0];
    assert_eq!(crash["test"]["nodeid"], "tests/test_a.py::test_segv");
    assert_eq!(crash["pytest"]["channel"], false);
    assert!(run.stderr.contains("pytest plugin did not load in this process"), "{}", run.stderr);
}

#[test]
fn keep_going_reports_a_crash_in_a_fixture_teardown_and_goes_on() {
    let project = suite(&[(
        "tests/test_fixture.py",
        r#"
import pytest
from crashy import lib

@pytest.fixture
def resource():
    yield 1
    lib.crash_null()

def test_before(): pass
def test_uses(resource): assert resource == 1
def test_after(): pass
"#,
    )]);
    let run = faultline(&project, &["--keep-going"], &["tests"]);
    let report = run.report.expect("a report");
    assert_eq!(report["crashes"][0]["test"]["nodeid"], "tests/test_fixture.py::test_uses");
    assert_eq!(report["crashes"][0]["test"]["when"], "teardown");
    assert_eq!(tests_by_outcome(&report, "crashed"), ["tests/test_fixture.py::test_uses"]);
    assert_eq!(
        tests_by_outcome(&report, "passed"),
        ["tests/test_fixture.py::test_before", "tests/test_fixture.py::test_after"]
    );
}

#[test]
fn a_crash_during_collection_is_reported_and_not_retried() {
    let project = suite(&[
        ("tests/test_fine.py", &passing("fine")),
        ("tests/test_broken.py", "from crashy import lib\nlib.crash_null()\n\ndef test_never(): pass\n"),
    ]);
    let run = faultline(&project, &["--keep-going"], &["tests"]);
    let report = run.report.expect("a report");
    assert_eq!(report["crashes"].as_array().unwrap().len(), 1);
    assert_eq!(report["crashes"][0]["phase"], "import");
    assert_eq!(report["suite"]["restarts"], 0);
    assert!(report["suite"]["stopped"].as_str().unwrap().contains("not retried"), "{report}");
    assert!(!run.stderr.contains("running pytest again"), "{}", run.stderr);
    assert_eq!(run.status, 128 + libc::SIGSEGV);
}

#[test]
fn keep_going_with_no_crash_is_pytests_own_status_and_words() {
    let project = suite(&[
        ("tests/test_ok.py", &passing("ok")),
        (
            "tests/test_bad.py",
            "def test_fails():\n    assert 1 == 2\n\nimport pytest\n@pytest.mark.skip\ndef test_skipped(): pass\n",
        ),
    ]);
    let run = faultline(&project, &["--keep-going"], &["tests"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    let report = run.report.expect("a report");
    assert_eq!(tests_by_outcome(&report, "failed"), ["tests/test_bad.py::test_fails"]);
    assert!(run.stderr.contains("10 passed, 1 failed, 1 skipped"), "{}", run.stderr);
    assert!(run.stderr.contains("assert 1 == 2"), "the failure's line is listed: {}", run.stderr);
}

#[test]
fn maxfail_is_pytests_rule_over_all_the_runs() {
    let project = three_crashes();
    let run = faultline(&project, &["--keep-going"], &["--maxfail=2", "tests"]);
    let report = run.report.expect("a report");
    assert_eq!(report["crashes"].as_array().unwrap().len(), 2, "{}", run.stderr);
    assert!(report["suite"]["stopped"].as_str().unwrap().contains("maxfail"), "{report}");
    assert!(!tests_by_outcome(&report, "not-run").is_empty());
}

#[test]
fn with_xdist_every_worker_crash_is_reported_and_nothing_is_run_twice() {
    let mut files: Vec<(String, String)> = Vec::new();
    files.push((
        "tests/test_one.py".into(),
        format!("from crashy import lib\n{}\ndef test_crash_one():\n    lib.crash_null()\n", passing("one")),
    ));
    files.push((
        "tests/test_two.py".into(),
        format!("from crashy import lib\n{}\ndef test_crash_two():\n    lib.do_abort()\n", passing("two")),
    ));
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let project = suite(&borrowed);
    let run = faultline(&project, &["--keep-going"], &["-n", "2", "tests"]);
    let report = run.report.expect("a report");
    let mut crashed = tests_by_outcome(&report, "crashed");
    crashed.sort();
    assert_eq!(crashed, ["tests/test_one.py::test_crash_one", "tests/test_two.py::test_crash_two"], "{}", run.stderr);
    let workers: Vec<&str> =
        report["crashes"].as_array().unwrap().iter().filter_map(|c| c["pytest"]["worker"].as_str()).collect();
    assert_eq!(workers.len(), 2, "{report}");
    assert_eq!(tests_by_outcome(&report, "passed").len(), 20);
    // xdist replaced the crashed workers and ran the rest itself.
    assert_eq!(report["suite"]["restarts"], 0, "{}", run.stderr);
}

#[test]
fn keep_going_is_a_project_setting() {
    let project = three_crashes();
    std::fs::write(project.root.join("faultline.toml"), "keep-going = true\n").unwrap();
    let run = faultline(&project, &[], &["tests/test_a.py", "tests/test_c.py"]);
    let report = run.report.expect("a report");
    assert_eq!(report["crashes"].as_array().unwrap().len(), 2, "{}", run.stderr);
    assert_eq!(tests_by_outcome(&report, "passed").len(), 18);
}

#[test]
fn an_interrupt_during_keep_going_ends_it_with_one_summary() {
    let project = suite(&[(
        "tests/test_slow.py",
        r#"
import os, pathlib, time
from crashy import lib

def test_first():
    lib.crash_null()

def test_waits():
    pathlib.Path(os.environ["MARKER"]).write_text("waiting")
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        # Crashes after the interrupt: a run that would be restarted, were it not for it.
        lib.crash_null()

def test_never_reached(): pass
"#,
    )]);
    let marker = project.root.join("marker");
    let out = project.root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let json = out.join("report.json");
    let child = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--keep-going", "--json"])
        .arg(&json)
        .args(["--", "python3", "-m", "pytest", "-q", "tests"])
        .current_dir(&project.root)
        .env("CRASHY_LIB", &project.lib)
        .env("MARKER", &marker)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start faultline");
    let waited = std::time::Instant::now();
    while !marker.exists() {
        assert!(waited.elapsed().as_secs() < 60, "test_waits never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("running pytest again").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("the whole suite").count(), 1, "{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report["suite"]["stopped"].as_str().unwrap().contains("interrupted by SIGINT"), "{report}");
    assert_eq!(tests_by_outcome(&report, "not-run"), ["tests/test_slow.py::test_never_reached"]);
    assert!(!stderr.contains("alone"), "no trials after an interrupt: {stderr}");
}

const ORDER_GLOBAL: &str = r#"
from crashy import lib
lib.make_global()
"#;

/// 41 tests before the one that crashes; one of them (test_reinit) frees what it uses.
fn freed_global() -> SuiteDir {
    let mut early = String::from("from crashy import lib\n");
    for i in 0..20 {
        early.push_str(&format!("def test_early_{i}():\n    assert lib.use_global() == 42\n"));
    }
    let mut late = String::new();
    for i in 0..20 {
        late.push_str(&format!("def test_late_{i}(): pass\n"));
    }
    let files = [
        ("conftest.py".to_owned(), ORDER_GLOBAL.to_owned()),
        ("tests/test_early.py".to_owned(), early),
        (
            "tests/test_reset.py".to_owned(),
            "from crashy import lib\ndef test_reinit():\n    lib.free_global()\n".to_owned(),
        ),
        ("tests/test_late.py".to_owned(), late),
        (
            "tests/test_z.py".to_owned(),
            "from crashy import lib\ndef test_render():\n    assert lib.use_global() == 42\n".to_owned(),
        ),
    ];
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    suite(&borrowed)
}

fn bisect(project: &SuiteDir, pytest_args: &[&str]) -> (i32, String, Value) {
    let json = project.root.join("bisect.json");
    let output = Command::new(FAULTLINE)
        .args(["bisect", "-j", "2", "--json"])
        .arg(&json)
        .args(["--", "python3", "-m", "pytest", "-q"])
        .args(pytest_args)
        .current_dir(&project.root)
        .env("CRASHY_LIB", &project.lib)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run faultline bisect");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let result =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no result ({e}): {stderr}")))
            .expect("JSON");
    (shell_status(&output.status), stderr, result)
}

#[test]
fn bisect_names_the_one_earlier_test_an_order_dependent_crash_needs() {
    let project = freed_global();
    let (status, stderr, result) = bisect(&project, &["tests"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(result["verdict"], "order-dependent", "{stderr}");
    assert_eq!(result["test"], "tests/test_z.py::test_render");
    assert_eq!(result["earlier_tests"], 41);
    assert_eq!(result["needed"], serde_json::json!(["tests/test_reset.py::test_reinit"]), "{stderr}");
    assert!(result.get("repetitions").is_none(), "repeating test_render alone never crashes: {result}");
    assert!(
        stderr.contains("tests/test_z.py::test_render crashes only after tests/test_reset.py::test_reinit ran before it (1 of 41 earlier tests needed;"),
        "{stderr}"
    );
    assert_eq!(result["crash"]["signal"], "SIGSEGV");
    assert!(result["trials"].as_u64().unwrap() > 3);
}

#[test]
fn keep_going_marks_a_crash_that_passes_alone_as_order_dependent() {
    let project = freed_global();
    let run = faultline(&project, &["--keep-going"], &["tests"]);
    let report = run.report.expect("a report");
    let crashed: Vec<&Value> =
        report["suite"]["tests"].as_array().unwrap().iter().filter(|t| t["outcome"] == "crashed").collect();
    assert_eq!(crashed.len(), 1);
    assert_eq!(crashed[0]["order_dependent"], true, "{}", run.stderr);
    assert!(run.stderr.contains("order-dependent: passes alone"), "{}", run.stderr);
    assert!(run.stderr.contains("faultline bisect -- python3 -m pytest -q tests"), "{}", run.stderr);
}

#[test]
fn bisect_finds_how_many_repetitions_a_counter_needs() {
    let mut tests = String::from("import pytest\nfrom crashy import lib\n");
    for i in 0..3 {
        tests.push_str(&format!("def test_other_{i}(): pass\n"));
    }
    tests.push_str("@pytest.mark.parametrize('i', range(8))\ndef test_tick(i):\n    lib.count_call()\n");
    let project = suite(&[("tests/test_count.py", &tests)]);
    let (status, stderr, result) = bisect(&project, &["tests"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(result["verdict"], "order-dependent");
    assert_eq!(result["test"], "tests/test_count.py::test_tick[4]");
    assert_eq!(result["repetitions"], 5, "{stderr}");
    let needed: Vec<&str> = result["needed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        needed,
        [
            "tests/test_count.py::test_tick[0]",
            "tests/test_count.py::test_tick[1]",
            "tests/test_count.py::test_tick[2]",
            "tests/test_count.py::test_tick[3]"
        ],
        "{stderr}"
    );
    assert!(stderr.contains("alone it crashes when run 5 times in a row"), "{stderr}");
}

#[test]
fn bisect_says_when_the_crash_needs_nothing_before_it() {
    let project = three_crashes();
    let (status, stderr, result) = bisect(&project, &["tests/test_c.py"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(result["verdict"], "crashes-alone");
    assert_eq!(result["test"], "tests/test_c.py::test_fpe");
    assert!(stderr.contains("crashes when run alone too"), "{stderr}");
}

#[test]
fn bisect_of_a_suite_that_does_not_crash_says_so_and_fails() {
    let project = suite(&[("tests/test_ok.py", &passing("ok"))]);
    let (status, stderr, result) = bisect(&project, &["tests"]);
    assert_eq!(status, 1, "{stderr}");
    assert_eq!(result["verdict"], "no-crash");
}

#[test]
fn bisect_calls_a_crash_that_does_not_come_back_flaky_with_its_rate() {
    // Crashes the first time only: a marker file remembers it.
    let tests = r#"
import os, pathlib
from crashy import lib

def test_before(): pass

def test_once():
    marker = pathlib.Path(os.environ["CRASHY_LIB"] + ".crashed")
    if not marker.exists():
        marker.write_text("1")
        lib.crash_null()
"#;
    let project = suite(&[("tests/test_once.py", tests)]);
    let (status, stderr, result) = bisect(&project, &["tests"]);
    assert_eq!(status, 1, "{stderr}");
    assert_eq!(result["verdict"], "flaky", "{stderr}");
    assert_eq!(result["reproduced"], serde_json::json!({"crashed": 1, "runs": 4}));
    assert!(stderr.contains("faultline stress"), "{stderr}");
}

#[test]
fn the_timeout_is_the_whole_suites_budget_and_ends_it() {
    let project = suite(&[(
        "tests/test_slow.py",
        r#"
import time
from crashy import lib

def test_first():
    lib.crash_null()

def test_hangs():
    time.sleep(120)

def test_after(): pass
"#,
    )]);
    let run = faultline(&project, &["--keep-going", "--timeout", "4s", "--kill-after", "1s"], &["tests"]);
    let report = run.report.expect("a report");
    assert_eq!(report["outcome"], "timeout", "{}", run.stderr);
    assert_eq!(report["suite"]["restarts"], 1);
    assert_eq!(report["suite"]["stopped"], "the time limit was reached");
    assert_eq!(tests_by_outcome(&report, "crashed"), ["tests/test_slow.py::test_first"]);
    assert_eq!(tests_by_outcome(&report, "not-run").len(), 2, "{report}");
    assert_eq!(run.stderr.matches("running pytest again").count(), 1, "{}", run.stderr);
    // The stop is faultline's: 128 + SIGTERM, as for one run, not the first crash's signal.
    assert_eq!(run.status, 128 + libc::SIGTERM, "{}", run.stderr);
}
