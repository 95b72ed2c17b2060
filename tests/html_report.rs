//! `faultline report --html` on a real crash whose path and argv carry markup: the page
//! shows it as text, runs no script, and renders its crash summary, culprit frame and
//! memory chart in a real browser (headless Chromium through Selenium,
//! `tests/browser/check_html.py`).
//!
//! Without Chromium, chromedriver or the `selenium` Python package, the browser half is
//! skipped with a loud line on stderr, unless `FAULTLINE_REQUIRE_SERVICES=1` (CI), which
//! makes it fail.

mod common;

use common::FAULTLINE;
use faultline::model::Report;
use faultline::store::{GroupDetail, GroupSummary, Occurrence, StoredRun};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A folder name that is markup (a file name cannot hold `/`, so it takes two levels).
const MARKUP_DIR: &str = "<script>alert(1)</script>";
const MARKUP_ARGS: [&str; 2] = ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"];

/// Grows to ~30 MiB over ~0.5 s (so the memory timeline has samples), then reads NULL.
const CRASH_PY: &str = "\
import ctypes
import time

def grow():
    blocks = []
    for _ in range(30):
        blocks.append(bytearray(1 << 20))
        time.sleep(0.01)
    return blocks

def read_null():
    ctypes.string_at(0)

held = grow()
time.sleep(0.2)
read_null()
";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The interpreter itself, not a pyenv shim (a shell script that would add processes).
fn python() -> String {
    let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().expect("run python3");
    assert!(out.status.success(), "python3: {}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

fn render(dir: &Path, json: &Path, html: &Path) -> Output {
    Command::new(FAULTLINE)
        .arg("report")
        .arg("--html")
        .arg(html)
        .arg("--from-json")
        .arg(json)
        .current_dir(dir)
        .output()
        .expect("run faultline report")
}

/// Why the browser check cannot run here, if it cannot.
fn browser_missing() -> Option<String> {
    for path in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(path).exists() {
            return Some(format!("{path} is not installed"));
        }
    }
    let selenium = Command::new("python3").args(["-c", "import selenium"]).output();
    match selenium {
        Ok(out) if out.status.success() => None,
        _ => Some("the Python package `selenium` is not installed (pip install selenium)".into()),
    }
}

fn require_services() -> bool {
    std::env::var("FAULTLINE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

#[test]
fn a_real_crash_with_markup_in_its_path_and_argv_renders_safely_in_a_browser() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let script_dir = dir.path().join(MARKUP_DIR);
    std::fs::create_dir_all(&script_dir).expect("mkdir");
    std::fs::write(script_dir.join("crash.py"), CRASH_PY).expect("write crash.py");
    let script = format!("{MARKUP_DIR}/crash.py");
    let json = dir.path().join("r.json");

    let run = Command::new(FAULTLINE)
        .arg("run")
        .arg("--json")
        .arg(&json)
        .arg("--store")
        .arg(dir.path().join("store.sqlite3"))
        .args(["--memory-interval", "10ms", "--"])
        .arg(python())
        .arg(&script)
        .args(MARKUP_ARGS)
        .current_dir(dir.path())
        .output()
        .expect("run faultline");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no report: {e}; stderr:\n{}", text(&run.stderr))),
    )
    .expect("JSON report");
    assert_eq!(report["outcome"], "crashed", "stderr:\n{}", text(&run.stderr));
    let crash = &report["crashes"][0];
    assert_eq!(crash["signal"], "SIGSEGV");
    let culprit = crash["culprit"]["function"].as_str().expect("a culprit function").to_owned();
    let samples = report["memory"]["samples"].as_array().map_or(0, Vec::len);
    assert!(samples >= 2, "memory was sampled: {samples} samples");

    let html = dir.path().join("out.html");
    let out = render(dir.path(), &json, &html);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    let page = std::fs::read_to_string(&html).expect("the HTML file");
    assert!(!page.contains("<script"), "no markup from the process reaches the page");
    assert!(!page.contains("<img"), "no markup from the process reaches the page");
    assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62;/crash.py"), "the path, escaped");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left beside the page");

    if let Some(why) = browser_missing() {
        if require_services() {
            panic!("FAULTLINE_REQUIRE_SERVICES=1 but the browser check cannot run: {why}");
        }
        eprintln!("\n*** skipped: the browser check of the HTML report: {why} ***\n");
        return;
    }
    let visible: Vec<&str> = [script.as_str()].into_iter().chain(MARKUP_ARGS).collect();
    check_in_browser(&html, &culprit, &visible);

    // The group page from the store this run was kept in.
    let group_id = crash["signature"].as_str().and_then(|s| s.rsplit('/').next()).expect("a signature").to_owned();
    let stored_html = dir.path().join("stored-group.html");
    let out = Command::new(FAULTLINE)
        .args(["report", "--html"])
        .arg(&stored_html)
        .arg("--store")
        .arg(dir.path().join("store.sqlite3"))
        .arg(&group_id)
        .output()
        .expect("run faultline report");
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    let stored_page = std::fs::read_to_string(&stored_html).expect("the group page");
    assert!(stored_page.contains(&group_id) && stored_page.contains("crashed in 1 of 1 run"), "a group page");
    check_in_browser(&stored_html, &culprit, &[MARKUP_DIR]);

    // The page of a crash group whose latest crash is this one, with markup in the
    // occurrences' hosts and tests too.
    let report: Report = serde_json::from_str(&std::fs::read_to_string(&json).expect("read")).expect("a Report");
    let group_html = dir.path().join("group.html");
    std::fs::write(&group_html, faultline::html::render_group(&group_of(report))).expect("write group page");
    check_in_browser(&group_html, &culprit, &[MARKUP_ARGS[0], MARKUP_ARGS[1], MARKUP_DIR]);
}

/// A group of three occurrences over two days around `latest`.
fn group_of(latest: Report) -> GroupDetail {
    let crash = &latest.crashes[0];
    let culprit = crash.culprit.clone().expect("a culprit");
    let day = 24 * 3_600_000;
    let first = 1_795_132_800_000;
    let occurrences: Vec<Occurrence> = (0..3)
        .map(|i| Occurrence {
            run_id: i + 1,
            at_ms: first + i * day,
            host: Some(MARKUP_ARGS[0].into()),
            test: Some(format!("tests/test_x.py::test_{i}[{}]", MARKUP_ARGS[1])),
            phase: "test".into(),
        })
        .collect();
    GroupDetail {
        summary: GroupSummary {
            id: crash.signature.rsplit('/').next().unwrap_or_default().into(),
            signature: crash.signature.clone(),
            signal: crash.signal.clone(),
            kind: crash.kind.as_str().into(),
            culprit_function: culprit.function,
            culprit_module: culprit.module,
            culprit_file: culprit.file,
            culprit_line: culprit.line,
            message: crash.message.clone(),
            count: 3,
            first_seen_ms: first,
            last_seen_ms: first + 2 * day,
            tests: occurrences.iter().rev().filter_map(|o| o.test.clone()).collect(),
        },
        occurrences,
        runs_since_first_seen: 5,
        latest: StoredRun { id: 3, recorded_at_ms: first + 2 * day, host: Some(MARKUP_ARGS[0].into()), report: latest },
    }
}

/// Opens `html` in headless Chromium: see tests/browser/check_html.py for what it checks.
fn check_in_browser(html: &Path, culprit: &str, visible: &[&str]) {
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check_html.py");
    let mut check = Command::new("python3");
    check
        .arg(&checker)
        .arg("--html")
        .arg(html)
        .args(["--summary", "SIGSEGV (null-deref)", "--summary", culprit])
        .args(["--culprit", culprit])
        .args(["--min-points", "2", "--scripts", "0"]);
    for text in visible {
        check.args(["--visible", text]);
    }
    let out = check.output().expect("run check_html.py");
    assert!(
        out.status.success(),
        "the browser check of {} failed:\n{}{}",
        html.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The smallest report of a clean run, in schema `version`.
fn clean_report(version: u32) -> String {
    format!(
        r#"{{"schema_version": {version}, "faultline_version": "0.1.0", "command": ["true"],
            "duration_ms": 3.0, "outcome": "passed", "exit": {{"code": 0, "core_dumped": false}},
            "crashes": []}}"#
    )
}

#[test]
fn a_clean_run_says_no_crash() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let json = dir.path().join("clean.json");
    std::fs::write(&json, clean_report(1)).expect("write");
    let html = dir.path().join("clean.html");
    let out = render(dir.path(), &json, &html);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&html).expect("the page");
    assert!(page.contains("No crash: the command exited 0"), "{page}");
    assert!(!page.contains("class=\"crash\""));
}

#[test]
fn user_errors_say_what_to_do_and_exit_2() {
    let dir = tempfile::tempdir().expect("scratch dir");
    let html = dir.path().join("out.html");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--from-json".into(), "missing.json".into()], "cannot read missing.json"),
        (vec!["--from-json".into(), "bad.json".into()], "is not a faultline JSON report"),
        (vec!["42".into()], "no crash store at .faultline/crashes.sqlite3 yet"),
        (vec!["--store".into(), "runs.db".into(), "42".into()], "no crash store at runs.db yet"),
        (vec![], "no crash store at .faultline/crashes.sqlite3 yet"),
        (vec!["--from-json".into(), "newer.json".into()], "written by a newer faultline"),
    ];
    std::fs::write(dir.path().join("bad.json"), "{\"outcome\": \"crashed\"}").expect("write");
    std::fs::write(dir.path().join("newer.json"), clean_report(99)).expect("write");
    for (args, expected) in cases {
        let out = Command::new(FAULTLINE)
            .arg("report")
            .arg("--html")
            .arg(&html)
            .args(&args)
            .current_dir(dir.path())
            .output()
            .expect("run faultline report");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
    let out = Command::new(FAULTLINE)
        .args(["report", "--html", "no/such/folder/out.html", "--from-json", "bad.json"])
        .current_dir(dir.path())
        .output()
        .expect("run faultline report");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("folder no/such/folder does not exist"), "{}", text(&out.stderr));
    assert!(!html.exists(), "nothing was written");
}
