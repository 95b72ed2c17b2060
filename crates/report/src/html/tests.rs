//! Snapshot tests of the HTML pages (their `<body>`; the head is the same CSS every time),
//! and the escaping of everything that came from the crashed process.

use crate::diagnose::diagnose;
use crate::diagnose::fixtures::hang::hang_gil;
use crate::diagnose::fixtures::{self, PID};
use crate::diagnose::hang::timeout_info;
use crate::html::{render_group, render_report, render_run, CONTENT_SECURITY_POLICY};
use crate::model::{
    ExitInfo, Frame, MemoryHolder, MemoryReport, MemoryTrend, Outcome, Report, SystemInfo, SCHEMA_VERSION,
};
use crate::model::{Pid, Tid};
use crate::store::{GroupDetail, GroupSummary, Occurrence, StoredRun};

const MIB: u64 = 1 << 20;
const HOUR_MS: i64 = 3_600_000;
/// 2026-11-20 00:00:00 UTC.
const T0: i64 = 1_795_132_800_000;

fn base(outcome: Outcome, code: i32) -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        faultline_version: "0.1.0".into(),
        command: vec!["python3".into(), "-m".into(), "pytest".into(), "tests".into()],
        cwd: Some("/work/cases/pytest-crash-in-suite".into()),
        started_at: Some("2026-11-20T09:00:00Z".into()),
        duration_ms: 1420.0,
        outcome,
        exit: ExitInfo {
            code,
            signal: (code > 128).then(|| crate::signals::signal_name(code - 128)),
            core_dumped: false,
        },
        crashes: Vec::new(),
        timeout: None,
        memory: None,
        system: Some(SystemInfo {
            host: Some("ci-runner-3".into()),
            kernel: Some("6.1.0-18-amd64".into()),
            cpu_count: Some(2),
            cpu_model: Some("AMD EPYC 7B13".into()),
            memory_total_bytes: Some(8 << 30),
            memory_available_bytes: Some(5 << 30),
            python_version: Some("3.11.7".into()),
            faultline_version: "0.1.0".into(),
        }),
        processes_started: 1,
        settings_file: None,
        variant: None,
        launcher: None,
        suite: None,
    }
}

fn memory(limit: Option<u64>, warn: Option<u64>) -> MemoryReport {
    MemoryReport {
        peak_rss_bytes: 46 * MIB,
        limit_bytes: limit,
        samples: (0..15u32).map(|i| (f64::from(i) * 100.0, (20 + 2 * u64::from(i)) * MIB)).collect(),
        trend: Some(MemoryTrend {
            verdict: crate::model::TrendVerdict::Growing,
            bytes_per_s: 20.0 * MIB as f64,
            r2: 0.99,
            samples: 15,
        }),
        snapshot: None,
        peak_holder: Some(MemoryHolder {
            pid: Pid(PID),
            rss_bytes: 46 * MIB,
            argv: vec!["python3".into(), "-m".into(), "pytest".into()],
        }),
        warn_bytes: warn,
        enforcement: None,
        oom_killed: Vec::new(),
    }
}

fn crashed() -> Report {
    let mut r = base(Outcome::Crashed, 139);
    r.crashes = vec![diagnose(&fixtures::pytest_null_deref())];
    r.memory = Some(memory(Some(64 * MIB), Some(40 * MIB)));
    r
}

fn group() -> GroupDetail {
    let report = crashed();
    let crash = &report.crashes[0];
    let culprit = crash.culprit.clone().expect("the fixture has a culprit");
    let tests = ["tests/test_bbox.py::test_empty", "tests/test_bbox.py::test_big"];
    let occurrences: Vec<Occurrence> = (0..7)
        .map(|i| Occurrence {
            run_id: 40 + i,
            at_ms: T0 + i * 5 * HOUR_MS,
            host: Some(format!("ci-runner-{}", i % 2)),
            test: Some(tests[(i % 3 == 0) as usize].to_string()),
            phase: "test".into(),
        })
        .collect();
    GroupDetail {
        summary: GroupSummary {
            id: "1a2b3c4d5e6f".into(),
            signature: crash.signature.clone(),
            signal: crash.signal.clone(),
            kind: crash.kind.as_str().into(),
            culprit_function: culprit.function,
            culprit_module: culprit.module,
            culprit_file: culprit.file,
            culprit_line: culprit.line,
            message: crash.message.clone(),
            count: 7,
            first_seen_ms: occurrences[0].at_ms,
            last_seen_ms: occurrences[6].at_ms,
            tests: tests.iter().map(|t| t.to_string()).collect(),
        },
        occurrences,
        runs_since_first_seen: 12,
        latest: StoredRun { id: 46, recorded_at_ms: T0 + 30 * HOUR_MS, host: Some("ci-runner-0".into()), report },
    }
}

/// The page from `<body>` on: the head is the same stylesheet on every page.
fn body(page: &str) -> &str {
    &page[page.find("<body>").expect("a body")..]
}

/// Text as askama's HTML escaping writes it.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;").replace('<', "&#60;").replace('>', "&#62;").replace('"', "&#34;").replace('\'', "&#39;")
}

fn page_is_self_contained(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"));
    let csp = format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">", escaped(CONTENT_SECURITY_POLICY));
    assert!(page.contains(&csp), "CSP meta tag: {}", &page[..400]);
    let lower = page.to_lowercase();
    assert!(!lower.contains("<script"), "no script");
    for external in ["src=\"http", "href=\"http", "url(", "@import", "<link", "<iframe", "<img"] {
        assert!(!lower.contains(external), "loads nothing: found {external}");
    }
}

#[test]
fn a_crash() {
    let page = render_report(&crashed());
    page_is_self_contained(&page);
    assert!(page.contains("<div class=\"frame native user culprit\""), "the culprit is marked");
    assert!(page.contains("<details class=\"fold\">"), "library frames are folded");
    assert!(page.contains("<polyline class=\"rss\""), "the memory chart");
    assert!(page.contains("class=\"limit\""), "the limit line");
    insta::assert_snapshot!(body(&page));
}

#[test]
fn a_timeout() {
    let mut r = base(Outcome::Timeout, 143);
    r.command = vec!["python3".into(), "main.py".into()];
    r.timeout = Some(timeout_info(10_000.0, hang_gil(), Some("SIGTERM".into())));
    r.memory = Some(memory(None, None));
    let page = render_report(&r);
    page_is_self_contained(&page);
    assert!(page.contains("Timed out after 10 s — stopped with SIGTERM"));
    insta::assert_snapshot!(body(&page));
}

#[test]
fn a_clean_run() {
    let mut r = base(Outcome::Passed, 0);
    r.memory = Some(memory(None, None));
    r.memory.as_mut().unwrap().samples.clear();
    let page = render_run(&StoredRun { id: 7, recorded_at_ms: T0, host: Some("laptop".into()), report: r });
    page_is_self_contained(&page);
    assert!(page.contains("No crash: the command exited 0"));
    assert!(page.contains("run 7 · recorded 2026-11-20 00:00:00 UTC · laptop"));
    assert!(page.contains("No memory samples were taken."));
    assert!(!page.contains("class=\"crash\""));
}

#[test]
fn several_crashes_are_all_shown() {
    let mut r = crashed();
    r.crashes.push(diagnose(&fixtures::mp_child_crash()));
    let page = render_report(&r);
    assert!(page.contains("id=\"crash-1\"") && page.contains("id=\"crash-2\""));
}

#[test]
fn a_group() {
    let page = render_group(&group());
    page_is_self_contained(&page);
    assert!(page.contains("crashed in 7 of 12 runs since first seen"));
    assert!(page.contains("Occurrences per day") || page.contains("Occurrences per hour"));
    insta::assert_snapshot!(body(&page));
}

#[test]
fn process_text_is_escaped() {
    const PATH: &str = "/tmp/<script>alert(1)</script>/x.py";
    const ARG: &str = "<img src=x onerror=alert(1)>";
    let mut r = crashed();
    r.command.push(ARG.into());
    let c = &mut r.crashes[0];
    c.argv.push(ARG.into());
    c.message = Some("\"quoted\" & <b>bold</b>".into());
    c.stderr_tail = vec!["<script>alert(3)</script>".into()];
    c.thread_name = Some("<svg onload=alert(4)>".into());
    let thread = c.threads.iter_mut().find(|t| t.crashed).expect("crashed thread");
    thread.frames.insert(0, Frame::python("<script>alert(2)</script>".into(), PATH.into(), Some(3), None));
    let mut group = group();
    group.summary.tests.push(ARG.into());
    group.occurrences[0].host = Some(ARG.into());
    group.latest.report = r.clone();

    for page in [render_report(&r), render_group(&group)] {
        page_is_self_contained(&page);
        for raw in ["<script>", "<img", "<svg onload", "<b>bold"] {
            assert!(!page.contains(raw), "{raw} is escaped");
        }
        for text in [
            ARG,
            PATH,
            "<script>alert(2)</script>",
            "<script>alert(3)</script>",
            "\"quoted\" & <b>bold</b>",
            "<svg onload=alert(4)>",
        ] {
            assert!(page.contains(&escaped(text)), "{text} is shown, escaped");
        }
    }
}

#[test]
fn a_memory_stop_shows_the_limit_and_where_the_threads_were() {
    let mut r = base(Outcome::Oom, 137);
    let mut m = memory(Some(40 * MIB), None);
    m.snapshot = Some(hang_gil());
    r.memory = Some(m);
    let page = render_report(&r);
    page_is_self_contained(&page);
    assert!(page.contains("Stopped at the memory limit (40 MiB): the tree reached 46 MiB"));
    assert!(page.contains("Where the threads were when the tree was stopped"));
    assert!(page.contains("pid 48213 main: python3 main.py"));
    assert!(page.contains("class=\"limit\""), "the limit line on the chart");
}

#[test]
fn names_quoted_in_faultlines_sentences_are_code_and_still_escaped() {
    let mut r = crashed();
    let c = &mut r.crashes[0];
    c.hints[0].text = "`<script>alert(5)</script>` in _geom read through a NULL pointer".into();
    c.message = Some("_stats.c:8: mean: Assertion `count > 0' failed.".into());
    let page = render_report(&r);
    page_is_self_contained(&page);
    assert!(page.contains(&format!("<li><code>{}</code> in _geom", escaped("<script>alert(5)</script>"))), "{page}");
    // The process's own text keeps its backticks.
    assert!(page.contains(&escaped("Assertion `count > 0' failed.")));
    let hints = &page[page.find("<ul class=\"hints\">").unwrap()..];
    let hints = &hints[..hints.find("</ul>").unwrap()];
    assert!(!hints.contains('`'), "no literal backtick in the hints: {hints}");
}

#[test]
fn one_stderr_line_is_a_line() {
    let mut r = crashed();
    r.crashes[0].stderr_tail = vec!["Fatal: out of cheese".into()];
    let page = render_report(&r);
    assert!(page.contains("<h3>stderr (last line)</h3>"), "{page}");
    assert!(!page.contains("1 lines"));
}

#[test]
fn threads_with_the_same_stack_fold_into_one() {
    let mut r = crashed();
    r.crashes = vec![diagnose(&fixtures::thread_crash())];
    let c = &mut r.crashes[0];
    let idle = c.threads.iter().find(|t| !t.crashed).cloned().expect("a thread beside the crashed one");
    c.threads.retain(|t| t.crashed);
    for i in 0..1000 {
        let mut t = idle.clone();
        t.tid = Tid(70_000 + i);
        t.name = Some(format!("Thread-{}", i + 1));
        c.threads.push(t);
    }
    let page = render_report(&r);
    assert_eq!(page.matches("<details class=\"thread\">").count(), 1, "one line for the 1,000 threads");
    assert!(page.contains("1,000 threads with this stack (Thread-1, Thread-2, Thread-3 and 997 more)"), "{page}");
}
