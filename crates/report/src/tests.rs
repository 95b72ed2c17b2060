//! Snapshot tests of the terminal report on realistic crashes (the corpus fixtures run
//! through `diagnose`), and of the JSON report.

use crate::capture::Capture;
use crate::diagnose::hang::timeout_info;
use crate::diagnose::{diagnose, fixtures};
use crate::model::Tid;
use crate::model::{ExitInfo, Outcome, ProcessRole, ProcessSnapshot, Report, SCHEMA_VERSION};
use crate::{render_report, write_json, TerminalBuilder, TerminalStyle};

fn report(captures: &[Capture], code: i32, cwd: &str, duration_ms: f64, processes: u32) -> Report {
    let first = captures.first();
    let signal = match code {
        c if c > 128 => Some(crate::signals::signal_name(c - 128)),
        _ => None,
    };
    Report {
        schema_version: SCHEMA_VERSION,
        faultline_version: "0.1.0".into(),
        command: first.map(|c| c.argv.clone()).unwrap_or_else(|| vec!["python3".into(), "main.py".into()]),
        cwd: Some(cwd.into()),
        started_at: None,
        duration_ms,
        outcome: if captures.is_empty() {
            if code == 0 {
                Outcome::Passed
            } else {
                Outcome::Failed
            }
        } else {
            Outcome::Crashed
        },
        exit: ExitInfo { code, signal, core_dumped: code > 128 },
        crashes: captures.iter().map(diagnose).collect(),
        timeout: None,
        memory: None,
        system: None,
        processes_started: processes,
        settings_file: None,
        variant: None,
        launcher: None,
        suite: None,
    }
}

fn render(report: &Report) -> String {
    let mut out = Vec::new();
    render_report(report, &TerminalStyle::plain(), &mut out).expect("render");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn pytest_null_deref() {
    let r = report(&[fixtures::pytest_null_deref()], 139, "/work/cases/pytest-crash-in-suite", 420.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn pytest_null_deref_in_color() {
    let r = report(&[fixtures::pytest_null_deref()], 139, "/work/cases/pytest-crash-in-suite", 420.0, 1);
    let mut out = Vec::new();
    render_report(&r, &TerminalStyle::new(true), &mut out).expect("render");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("\x1b[1;31mSIGSEGV (null-deref)\x1b[0m"));
    insta::assert_snapshot!(text);
}

#[test]
fn pytest_breadcrumbs_from_the_channel() {
    use crate::model::{PytestProgress, RecentTest};
    let recent = |nodeid: &str, outcome: &str| RecentTest { nodeid: nodeid.into(), outcome: outcome.into() };
    let during = PytestProgress {
        channel: true,
        worker: Some("gw1".into()),
        collected: Some(30),
        passed_before: 11,
        failed_before: 1,
        recent: vec![
            recent("tests/test_bbox.py::test_union", "passed"),
            recent("tests/test_bbox.py::test_area[unit square]", "failed"),
            recent("tests/test_bbox.py::test_empty", "passed"),
        ],
        session_finished: false,
    };
    let without = PytestProgress { channel: false, ..during.clone() };
    let at_exit = PytestProgress { session_finished: true, recent: vec![], worker: None, ..during.clone() };
    let shown = |capture: Capture, progress: PytestProgress| {
        let mut r = report(&[capture], 139, "/work/cases/pytest-crash-in-suite", 420.0, 1);
        r.crashes[0].pytest = Some(progress);
        render(&r)
    };
    let text = [
        shown(fixtures::pytest_null_deref(), during),
        shown(fixtures::pytest_null_deref(), without),
        shown(fixtures::shutdown_static_dtor(), at_exit),
    ]
    .join("\n=====\n");
    insta::assert_snapshot!(text);
}

#[test]
fn python_frames_read_from_the_data_stack_are_said_to_be() {
    let mut capture = fixtures::cext_null_deref();
    capture.threads[0].python_frames_from = Some(crate::model::PythonFramesFrom::DataStack);
    let r = report(&[capture], 139, "/work/cases/cext-null-deref", 300.0, 1);
    insta::assert_snapshot!(render(&r));
    let mut json = Vec::new();
    write_json(&r, &mut json).expect("json");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("json");
    assert_eq!(json["crashes"][0]["threads"][0]["python_frames_from"], "data-stack");
    let html = crate::html::render_report(&r);
    assert!(html.contains("the Python frames were read from the interpreter"), "the HTML page says it too");
}

#[test]
fn shutdown_static_destructor_without_python_frames() {
    let r = report(&[fixtures::shutdown_static_dtor()], 139, "/work/cases/shutdown-static-dtor", 330.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn shutdown_static_destructor_abort() {
    let r = report(&[fixtures::shutdown_static_dtor_abort()], 134, "/work/cases/shutdown-static-dtor-abort", 310.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn stack_overflow_of_15900_frames() {
    let r = report(&[fixtures::stack_overflow(15_900)], 139, "/work/cases/c-stack-overflow", 61.0, 1);
    let text = render(&r);
    assert!(text.lines().count() < 40, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn thread_crash_with_three_threads() {
    let r = report(&[fixtures::thread_crash()], 139, "/work/cases/thread-crash", 58.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn assert_with_message() {
    let r = report(&[fixtures::c_assert()], 134, "/work/cases/c-assert", 52.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn asan_heap_overflow_with_its_allocation_stack() {
    let r = report(&[fixtures::asan_heap_overflow()], 134, "/work/app", 310.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn double_free() {
    let r = report(&[fixtures::double_free()], 134, "/work/cases/double-free", 45.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn ctypes_null_in_libc() {
    let r = report(&[fixtures::ctypes_null()], 139, "/work/cases/ctypes-null", 44.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn child_process_crash() {
    let r = report(&[fixtures::mp_child_crash()], 1, "/work/cases/mp-child-crash", 92.0, 2);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn import_crash_during_collection() {
    let r = report(&[fixtures::import_crash()], 139, "/work/cases/import-crash", 640.0, 1);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn external_sigterm() {
    let mut r = report(&[fixtures::external_sigterm()], 143, "/work/cases/sleeper", 30_000.0, 1);
    r.exit.core_dumped = false;
    insta::assert_snapshot!(render(&r));
}

#[test]
fn summaries_without_a_crash() {
    let passed = report(&[], 0, "/work/cases/clean-pass", 1234.0, 1);
    let failed = report(&[], 1, "/work/cases/x", 88_000.0, 3);
    let mut killed = report(&[], 143, "/work/cases/x", 5000.0, 1);
    killed.outcome = Outcome::Killed;
    killed.exit.signal = Some("SIGTERM".into());
    let text = [passed, failed, killed].iter().map(render).collect::<Vec<_>>().join("");
    insta::assert_snapshot!(text, @r"
    faultline: no crash · exit 0 · 1.2 s · 1 process
    faultline: no crash · exit 1 · 1 min 28 s · 3 processes
    faultline: killed by SIGTERM · exit 143 · 5.0 s · 1 process
    ");
}

#[test]
fn the_summary_says_which_processes_were_the_launchers() {
    let mut r = report(&[], 0, "/work/cases/clean-pass", 120.0, 41);
    r.launcher = Some(crate::model::Launcher {
        program: "/root/.pyenv/shims/python3".into(),
        became: Some("/root/.pyenv/versions/3.11.7/bin/python3.11".into()),
        processes: 40,
    });
    assert_eq!(
        render(&r),
        "faultline: no crash · exit 0 · 0.12 s · 41 processes (40 of them the launcher's: /root/.pyenv/shims/python3)\n"
    );
    // A launcher that ran no helper (`env FOO=1 python3`) changes nothing.
    r.launcher.as_mut().unwrap().processes = 0;
    r.processes_started = 1;
    assert_eq!(render(&r), "faultline: no crash · exit 0 · 0.12 s · 1 process\n");
}

#[test]
fn repeated_crashes_are_counted_in_the_summary() {
    let mut child = fixtures::pytest_null_deref();
    child.role = ProcessRole::Child;
    let r = report(&[child.clone(), child, fixtures::double_free()], 1, "/work/cases/x", 2500.0, 5);
    let last = render(&r).lines().last().unwrap_or_default().to_string();
    assert_eq!(
        last,
        "faultline: 3 crashes (SIGSEGV null-deref ×2, SIGABRT double-free) · exit 1 · 2.5 s · 5 processes"
    );
}

#[test]
fn timeout_shows_every_thread() {
    let capture = fixtures::thread_crash();
    let mut r = report(&[], 124, "/work/cases/thread-crash", 10_020.0, 1);
    r.outcome = Outcome::Timeout;
    r.timeout = Some(timeout_info(
        10_000.0,
        vec![ProcessSnapshot {
            pid: capture.pid,
            process: ProcessRole::Main,
            executable: capture.executable.clone(),
            argv: capture.argv.clone(),
            threads: capture.threads.iter().map(|t| crate::model::Thread { crashed: false, ..t.clone() }).collect(),
        }],
        Some("SIGTERM".into()),
    ));
    insta::assert_snapshot!(render(&r));
}

#[test]
fn builder_options() {
    let r = report(&[fixtures::cext_null_deref()], 139, "/work/cases/cext-null-deref", 40.0, 1);
    let reporter = TerminalBuilder::new().stderr_lines(0).show_signature(false).cwd("/elsewhere").build();
    let mut out = Vec::new();
    reporter.write_report(&r, &mut out).expect("render");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(!text.contains("signature:"));
    assert!(!text.contains("stderr"));
    assert!(text.contains("/work/cases/cext-null-deref/main.py:12 in buffer_size"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn json_report() {
    let r = report(&[fixtures::cext_null_deref()], 139, "/work/cases/cext-null-deref", 40.0, 1);
    let mut out = Vec::new();
    write_json(&r, &mut out).expect("json");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.ends_with("}\n"));
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    for key in ["schema_version", "command", "outcome", "exit", "duration_ms", "crashes"] {
        assert!(value.get(key).is_some(), "missing {key}");
    }
    let crash = &value["crashes"][0];
    assert_eq!(crash["kind"], "null-deref");
    assert_eq!(crash["phase"], "run");
    assert_eq!(crash["fault_address"], "0x8");
    let back: Report = serde_json::from_str(&text).expect("round trip");
    assert_eq!(back, r);
    insta::assert_json_snapshot!(value);
}

#[test]
fn a_thousand_idle_threads_are_one_line() {
    let mut r = report(&[fixtures::thread_crash()], 139, "/work/cases/thread-crash", 58.0, 1);
    let c = &mut r.crashes[0];
    let idle = c.threads.iter().find(|t| !t.crashed).cloned().expect("a thread beside the crashed one");
    c.threads.retain(|t| t.crashed);
    for i in 0..1000 {
        let mut t = idle.clone();
        t.tid = Tid(70_000 + i);
        t.name = Some(format!("Thread-{}", i + 1));
        c.threads.push(t);
    }
    let text = render(&r);
    let others = &text[text.find("  other threads:\n").expect("other threads")..];
    let lines: Vec<&str> = others.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].starts_with("    1,000 threads with this stack (Thread-1, Thread-2, Thread-3 and 997 more): "),
        "{text}"
    );
}

#[test]
fn a_whole_suite_after_keep_going() {
    use crate::model::{SuiteResult, SuiteTest, TestOutcome};
    let mut r = report(
        &[fixtures::pytest_null_deref(), fixtures::double_free()],
        139,
        "/work/cases/pytest-crash-in-suite",
        4_210.0,
        3,
    );
    let test = |nodeid: &str, outcome, crash: Option<usize>, order_dependent, message: Option<&str>| SuiteTest {
        nodeid: nodeid.into(),
        outcome,
        duration_ms: 1.5,
        message: message.map(str::to_owned),
        crash,
        order_dependent,
    };
    let mut tests: Vec<SuiteTest> = (0..1204)
        .map(|i| test(&format!("tests/test_many.py::test_{i}"), TestOutcome::Passed, None, false, None))
        .collect();
    tests.push(test("tests/test_bbox.py::test_bbox_of_empty_polygon", TestOutcome::Crashed, Some(0), false, None));
    tests.push(test("tests/test_render.py::test_batch[3]", TestOutcome::Crashed, Some(1), true, None));
    tests.push(test("tests/test_io.py::test_roundtrip", TestOutcome::Failed, None, false, Some("assert b'' == b'x'")));
    tests.push(test("tests/test_io.py::test_skip", TestOutcome::Skipped, None, false, None));
    r.command = vec!["python3".into(), "-m".into(), "pytest".into(), "tests".into()];
    r.suite = Some(SuiteResult { restarts: 2, tests, stopped: None });
    let text = render(&r);
    let summary = text.find("faultline: the whole suite").expect("the suite section");
    insta::assert_snapshot!(&text[summary..]);
}

#[test]
fn a_message_not_tied_to_the_stack_says_so() {
    let mut r = report(&[fixtures::c_assert()], 134, "/work/cases/c-assert", 100.0, 2);
    r.crashes[0].message_untied = true;
    let text = render(&r);
    assert!(text.contains("(read from stderr, which the whole tree shares"), "{text}");
    r.crashes[0].message_untied = false;
    assert!(!render(&r).contains("which the whole tree shares"));
}
