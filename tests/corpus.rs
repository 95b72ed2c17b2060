//! Runs the real faultline binary on every crash-corpus case that issue 2 covers and checks
//! the facts each `case.toml` expects, the way `../shared/crash-corpus/grade.py` does.
//!
//! The corpus lives beside the project (`../shared/crash-corpus`); set
//! `FAULTLINE_CORPUS` to use another copy.

mod common;

use common::{run_case, CaseRun};
use serde_json::Value;
use std::path::Path;

/// How deep in the crashing thread an expected native function may sit (as grade.py).
const TOP_FRAMES: usize = 48;

fn expect(case: &str) {
    let Some(run) = run_case(case) else { return };
    check(&run);
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn check(run: &CaseRun) {
    let exp = &run.expected;
    let report = &run.report;
    let case = &run.name;
    assert_eq!(report["schema_version"], 1, "{case}: schema_version");
    let outcome = str_of(report, "outcome").unwrap_or_default();
    if exp.get("kind").and_then(|k| k.as_str()) == Some("flaky") && outcome == "passed" {
        return; // the race did not fire this time
    }
    if let Some(want) = exp.get("outcome").and_then(|v| v.as_str()) {
        assert_eq!(outcome, want, "{case}: outcome; stderr:\n{}", run.stderr);
    }
    if let Some(status) = exp.get("exit_status").and_then(|v| v.as_integer()) {
        assert_eq!(report["exit"]["code"].as_i64(), Some(status), "{case}: report exit code");
        assert_eq!(run.status as i64, status, "{case}: faultline's own exit status");
    }
    if exp.get("kind").and_then(|k| k.as_str()) == Some("leak") {
        assert_eq!(report["memory"]["trend"]["verdict"], "growing", "{case}: memory trend");
    }
    match exp.get("outcome").and_then(|v| v.as_str()) {
        Some("crashed") => check_crash(run),
        Some("timeout") => check_snapshot(run, &report["timeout"]["processes"]),
        Some("oom") => check_snapshot(run, &report["memory"]["snapshot"]),
        Some("passed") => {
            let crashes = report["crashes"].as_array().map_or(0, Vec::len);
            assert_eq!(crashes, 0, "{case}: a passing run has no crashes");
        }
        _ => {}
    }
}

/// The stacks taken before faultline stopped the tree hold the expected frames.
fn check_snapshot(run: &CaseRun, processes: &Value) {
    let (exp, case) = (&run.expected, &run.name);
    let frames: Vec<&Value> = processes
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["threads"].as_array().into_iter().flatten())
        .flat_map(|t| t["frames"].as_array().into_iter().flatten())
        .collect();
    assert!(!frames.is_empty(), "{case}: no stacks were taken; stderr:\n{}", run.stderr);
    if let Some(function) = exp.get("python_function").and_then(|v| v.as_str()) {
        assert!(
            frames.iter().any(|f| f["kind"] == "python" && f["function"] == function),
            "{case}: want {function:?} among the Python frames"
        );
    }
    if let Some(function) = exp.get("native_function").and_then(|v| v.as_str()) {
        assert!(
            frames.iter().any(|f| f["kind"] == "native" && str_of(f, "function").is_some_and(|n| n.contains(function))),
            "{case}: want {function:?} among the native frames"
        );
    }
}

fn check_crash(run: &CaseRun) {
    let (exp, case) = (&run.expected, &run.name);
    let crashes = run.report["crashes"].as_array().cloned().unwrap_or_default();
    assert!(!crashes.is_empty(), "{case}: no crash captured; stderr:\n{}", run.stderr);
    let want_role = exp.get("process").and_then(|v| v.as_str()).unwrap_or("main");
    let crash = crashes.iter().find(|c| str_of(c, "process") == Some(want_role)).unwrap_or(&crashes[0]);
    let thread = crash["threads"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["crashed"] == true))
        .cloned()
        .unwrap_or(Value::Null);
    let native: Vec<&Value> = thread["frames"]
        .as_array()
        .map(|fs| fs.iter().filter(|f| f["kind"] == "native").take(TOP_FRAMES).collect())
        .unwrap_or_default();

    let text = |key: &str| exp.get(key).and_then(|v| v.as_str());
    if let Some(signal) = text("signal") {
        assert_eq!(str_of(crash, "signal"), Some(signal), "{case}: signal");
    }
    let kinds: Vec<String> = match exp.get("kind_accept").and_then(|v| v.as_array()) {
        Some(list) => list.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect(),
        None => text("kind").map(|k| vec![k.to_owned()]).unwrap_or_default(),
    };
    let schema_kind =
        |k: &str| !matches!(k, "shutdown-crash" | "flaky" | "hang" | "deadlock" | "oom" | "leak" | "clean");
    let kinds: Vec<String> = kinds.into_iter().filter(|k| schema_kind(k)).collect();
    if !kinds.is_empty() {
        let got = str_of(crash, "kind").unwrap_or_default();
        assert!(kinds.iter().any(|k| k == got), "{case}: kind {got:?}, want one of {kinds:?}");
    }
    if let Some(si_code) = text("si_code") {
        assert_eq!(str_of(crash, "si_code"), Some(si_code), "{case}: si_code");
    }
    if let Some(phase) = text("phase") {
        assert_eq!(str_of(crash, "phase"), Some(phase), "{case}: phase");
    }
    if let Some(process) = text("process") {
        assert_eq!(str_of(crash, "process"), Some(process), "{case}: process");
    }
    if let Some(function) = text("python_function") {
        let py = &crash["python"];
        assert_eq!(str_of(py, "function"), Some(function), "{case}: python function");
        if let Some(file) = text("python_file") {
            let got = str_of(py, "file").map(|f| Path::new(f).file_name().unwrap().to_string_lossy().into_owned());
            assert_eq!(got.as_deref(), Some(file), "{case}: python file");
        }
        if let Some(line) = exp.get("python_line").and_then(|v| v.as_integer()) {
            assert_eq!(py["line"].as_i64(), Some(line), "{case}: python line");
        }
    }
    if let Some(function) = text("native_function") {
        let names: Vec<&str> = native.iter().filter_map(|f| str_of(f, "function")).collect();
        assert!(
            names.iter().any(|n| n.contains(function)),
            "{case}: want {function:?} in the top native frames, got {names:?}"
        );
    }
    let module_matches = |m: Option<&str>, prefix: &str| {
        m.and_then(|m| Path::new(m).file_name().map(|b| b.to_string_lossy().starts_with(prefix))).unwrap_or(false)
    };
    if let Some(module) = text("native_module") {
        assert!(
            native.iter().any(|f| module_matches(str_of(f, "module"), module)),
            "{case}: want a frame in {module}*"
        );
    }
    if let Some(module) = text("culprit_module") {
        assert!(module_matches(str_of(&crash["culprit"], "module"), module), "{case}: culprit {:?}", crash["culprit"]);
    }
    if let Some(nodeid) = text("test_nodeid") {
        assert_eq!(str_of(&crash["test"], "nodeid"), Some(nodeid), "{case}: test");
    }
    if let Some(name) = text("thread_name") {
        assert_eq!(str_of(crash, "thread_name"), Some(name), "{case}: thread name");
    }
    if let Some(message) = text("message") {
        let got = str_of(crash, "message").unwrap_or_default();
        assert!(got.contains(message), "{case}: message {got:?} should contain {message:?}");
    }
    assert!(str_of(crash, "signature").is_some_and(|s| !s.is_empty()), "{case}: signature");
}

#[test]
fn c_assert() {
    expect("c-assert");
}

#[test]
fn c_stack_overflow() {
    expect("c-stack-overflow");
}

#[test]
fn cext_null_deref() {
    expect("cext-null-deref");
}

#[test]
fn clean_pass() {
    expect("clean-pass");
}

#[test]
fn ctypes_null() {
    expect("ctypes-null");
}

#[test]
fn double_free() {
    expect("double-free");
}

#[test]
fn flaky_race() {
    expect("flaky-race");
}

#[test]
fn fpe() {
    expect("fpe");
}

#[test]
fn mp_child_crash() {
    expect("mp-child-crash");
}

#[test]
fn pytest_crash_in_suite() {
    expect("pytest-crash-in-suite");
}

#[test]
fn shutdown_static_dtor() {
    expect("shutdown-static-dtor");
}

#[test]
fn shutdown_static_dtor_abort() {
    expect("shutdown-static-dtor-abort");
}

#[test]
fn thread_crash() {
    expect("thread-crash");
}

#[test]
fn hang_gil() {
    let Some(run) = run_case("hang-gil") else {
        return;
    };
    check(&run);
    // Beyond the corpus: the report names the shape of the hang, for people and machines.
    assert!(run.stderr.contains("holds the GIL"), "stderr:\n{}", run.stderr);
    let ids: Vec<&str> =
        run.report["timeout"]["findings"].as_array().into_iter().flatten().filter_map(|f| f["id"].as_str()).collect();
    assert!(ids.contains(&"lock-while-holding-gil"), "findings: {ids:?}");
}

#[test]
fn memory_blowup() {
    expect("memory-blowup");
}

#[test]
fn leak_per_cycle() {
    expect("leak-per-cycle");
}

#[test]
fn use_after_reinit() {
    expect("use-after-reinit");
}

#[test]
fn xdist_worker_crash() {
    let Some(run) = run_case("xdist-worker-crash") else {
        return;
    };
    check(&run);
    // Beyond the corpus: the worker is named, as xdist names it.
    let hints = run.report["crashes"][0]["hints"].to_string();
    assert!(hints.contains("pytest-xdist worker gw"), "hints: {hints}");
}
