//! Crashes from native runtimes other than C and CPython, built for real by the tests: a
//! C++ library (an exception through `noexcept`, a throw from a destructor during unwinding,
//! a glog-style fatal check) and a PyO3 extension with `panic = "abort"`. Each report must
//! carry the runtime's own words as its message, the kind, the hint, and a signature per
//! place.

mod common;

use common::{compile, shell_status, FAULTLINE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CPP: &str = r#"
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

static void load_config(int value) {
    if (value < 0) throw std::runtime_error("bad config value");
}

/* An exception may not leave a noexcept function: std::terminate. */
extern "C" void parse_config(int value) noexcept { load_config(value); }

struct Guard {
    ~Guard() noexcept(false) { throw std::logic_error("cleanup failed"); }
};

/* A destructor that throws while an exception unwinds (to the handler below): std::terminate. */
extern "C" int unwind_twice() {
    try {
        Guard guard;
        throw std::runtime_error("first failure");
    } catch (...) {
        return 1;
    }
}

/* A glog-style fatal check: the log line, then abort(). */
extern "C" void check_positive(int x) {
    if (!(x > 0)) {
        std::fprintf(stderr, "F1204 20:00:00.000100  4242 engine.cc:42] Check failed: x > 0 (%d vs. 0)\n", x);
        std::fflush(stderr);
        std::abort();
    }
}

extern "C" void check_ready(int ready) {
    if (!ready) {
        std::fprintf(stderr, "F1204 20:00:01.000200  4242 engine.cc:57] Check failed: ready \n");
        std::fflush(stderr);
        std::abort();
    }
}
"#;

fn cpp_library(dir: &Path) -> PathBuf {
    compile(dir, "g++", &["-g", "-O0", "-shared", "-fPIC"], "runtime.cpp", CPP, "libruntime.so")
}

/// Runs `python3 -c SCRIPT` under faultline; returns the status, stderr and the only crash.
fn crash_of(dir: &Path, script: &str, env: &[(&str, &str)]) -> (i32, String, Value) {
    let json = dir.join("report.json");
    let _ = std::fs::remove_file(&json);
    let output = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--color", "never", "--json"])
        .arg(&json)
        .args(["--", "python3", "-c", script])
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run faultline");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no report ({e}): {stderr}")))
            .expect("JSON report");
    let crashes = report["crashes"].as_array().expect("crashes");
    assert_eq!(crashes.len(), 1, "{stderr}");
    (shell_status(&output.status), stderr, crashes[0].clone())
}

fn hint_ids(crash: &Value) -> Vec<String> {
    crash["hints"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_owned()).collect()
}

fn call(lib: &Path, function: &str, argument: &str) -> String {
    format!("import ctypes\nlib = ctypes.CDLL({:?})\nlib.{function}({argument})\n", lib.display().to_string())
}

#[test]
fn an_exception_through_noexcept_is_an_uncaught_exception_in_the_function_that_threw() {
    let dir = tempfile::tempdir().unwrap();
    let lib = cpp_library(dir.path());
    let (status, stderr, crash) = crash_of(dir.path(), &call(&lib, "parse_config", "-1"), &[]);
    assert_eq!(status, 128 + libc::SIGABRT, "{stderr}");
    assert_eq!(crash["kind"], "uncaught-exception", "{stderr}");
    let message = crash["message"].as_str().unwrap();
    assert!(message.starts_with("terminate called after throwing an instance of 'std::runtime_error'"), "{message}");
    assert!(message.contains("bad config value"), "{message}");
    // The culprit is past the C++ runtime's throw and terminate machinery.
    let culprit = crash["culprit"]["function"].as_str().unwrap_or_default();
    assert!(culprit.contains("load_config") || culprit.contains("parse_config"), "{crash:#}");
    assert!(hint_ids(&crash).contains(&"uncaught-cpp-exception".to_owned()), "{crash:#}");
    assert!(stderr.contains("faultline: SIGABRT (uncaught-exception) in"), "{stderr}");
}

#[test]
fn a_destructor_throwing_during_unwinding_is_an_uncaught_exception_with_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let lib = cpp_library(dir.path());
    let (_, stderr, crash) = crash_of(dir.path(), &call(&lib, "unwind_twice", ""), &[]);
    assert_eq!(crash["kind"], "uncaught-exception", "{stderr}");
    let message = crash["message"].as_str().unwrap();
    assert!(message.contains("instance of 'std::logic_error'"), "{message}");
    let (_, _, other) = crash_of(dir.path(), &call(&lib, "parse_config", "-1"), &[]);
    assert_ne!(crash["signature"], other["signature"], "two exceptions from two places are two groups");
}

#[test]
fn a_glog_fatal_check_is_the_message_and_each_check_its_own_group() {
    let dir = tempfile::tempdir().unwrap();
    let lib = cpp_library(dir.path());
    let (_, stderr, crash) = crash_of(dir.path(), &call(&lib, "check_positive", "0"), &[]);
    assert_eq!(crash["message"], "engine.cc:42] Check failed: x > 0 (0 vs. 0)", "{stderr}");
    // This logger is not glog (no LogMessageFatal on the stack), but no other process is
    // there to have written it: the line is the crashed process's own.
    assert!(crash.get("message_untied").is_none(), "{crash:#}");
    assert_eq!(crash["culprit"]["function"].as_str().map(|f| f.contains("check_positive")), Some(true), "{crash:#}");
    let (_, _, again) = crash_of(dir.path(), &call(&lib, "check_positive", "-5"), &[]);
    assert_eq!(crash["signature"], again["signature"], "the values of a failed check do not split its group");
    let (_, _, other) = crash_of(dir.path(), &call(&lib, "check_ready", "0"), &[]);
    assert_ne!(crash["signature"], other["signature"]);
}

const PYO3_CARGO: &str = r#"
[package]
name = "panicky"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
pyo3 = { version = "0.27", features = ["extension-module"] }

[profile.release]
panic = "abort"
debug = "line-tables-only"

[workspace]
"#;

const PYO3_LIB: &str = r#"
use pyo3::prelude::*;

#[pyfunction]
fn parse_header(data: Vec<u8>) -> usize {
    data[7] as usize
}

#[pyfunction]
fn checked_div(a: i64, b: i64) -> i64 {
    if b == 0 {
        panic!("checked_div: the divisor is zero");
    }
    a / b
}

#[pymodule]
fn panicky(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_header, m)?)?;
    m.add_function(wrap_pyfunction!(checked_div, m)?)?;
    Ok(())
}
"#;

/// Builds the PyO3 extension once (cargo, pyo3 from crates.io) under target/test-ext.
fn pyo3_extension() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-ext/panicky");
            std::fs::create_dir_all(root.join("src")).unwrap();
            std::fs::write(root.join("Cargo.toml"), PYO3_CARGO).unwrap();
            std::fs::write(root.join("src/lib.rs"), PYO3_LIB).unwrap();
            let built = Command::new(env!("CARGO"))
                .args(["build", "--release", "--quiet"])
                .current_dir(&root)
                .env("PYO3_PYTHON", "python3")
                .env_remove("CARGO_TARGET_DIR")
                .output()
                .expect("run cargo");
            assert!(built.status.success(), "building the PyO3 extension: {}", String::from_utf8_lossy(&built.stderr));
            let module = root.join("panicky.so");
            std::fs::copy(root.join("target/release/libpanicky.so"), &module).unwrap();
            root
        })
        .clone()
}

#[test]
fn a_rust_panic_that_aborts_is_a_panic_with_its_message_and_a_group_per_place() {
    let root = pyo3_extension();
    // The backtrace Rust prints with RUST_BACKTRACE=1 comes after the message: it must not hide it.
    let env = [("RUST_BACKTRACE", "1")];
    let (status, stderr, crash) = crash_of(&root, "import panicky\npanicky.parse_header(b'ab')\n", &env);
    assert_eq!(status, 128 + libc::SIGABRT, "{stderr}");
    assert_eq!(crash["kind"], "panic", "{stderr}");
    assert_eq!(
        crash["message"],
        "thread '<unnamed>' panicked at src/lib.rs:6:9: index out of bounds: the len is 2 but the index is 7",
        "{stderr}"
    );
    assert!(hint_ids(&crash).contains(&"rust-panic".to_owned()), "{crash:#}");
    assert!(crash.get("message_untied").is_none(), "the panic path is on the stack: {crash:#}");
    // The culprit is the function that panicked, past the panic machinery (the walk crosses
    // the whole panic path: lld puts the code segment mid-page, after a read-only one).
    assert_eq!(crash["culprit"]["function"], "parse_header", "{crash:#}");
    assert_eq!(crash["culprit"]["line"], 6, "{crash:#}");
    let signature = crash["signature"].as_str().unwrap();
    assert!(!signature.contains("rust_abort") && !signature.contains("rust_begin_unwind"), "{signature}");
    // The same panic site with other values: one group; another site called from the same
    // Python line: another group.
    let (_, _, same) = crash_of(&root, "import panicky\npanicky.parse_header(b'abc')\n", &env);
    assert_eq!(same["signature"], crash["signature"]);
    let (_, _, other) = crash_of(&root, "import panicky\npanicky.checked_div(1, 0)\n", &env);
    assert_eq!(other["kind"], "panic");
    assert_eq!(other["message"], "thread '<unnamed>' panicked at src/lib.rs:12:9: checked_div: the divisor is zero");
    assert_ne!(other["signature"], crash["signature"]);
}

const OVERRUN_C: &str = r#"
#include <string.h>

/* A fixed-size output buffer and a length nobody checked: the overrun runs over the saved
   frame pointer and the return address (no stack protector, as in many builds). */
void __attribute__((noinline)) format_label(size_t length) {
    char label[16];
    memset(label, 'A', length);
    __asm__ volatile("" : : "r"(label) : "memory");
}
"#;

/// Builds OVERRUN_C without a stack protector, as many extension builds are.
fn overrun_library(dir: &Path) -> PathBuf {
    compile(
        dir,
        "gcc",
        &["-g", "-O0", "-fno-stack-protector", "-shared", "-fPIC"],
        "overrun.c",
        OVERRUN_C,
        "liboverrun.so",
    )
}

fn python_functions(crash: &Value) -> Vec<String> {
    let thread = crash["threads"].as_array().unwrap().iter().find(|t| t["crashed"] == true).unwrap();
    thread["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "python")
        .filter_map(|f| f["function"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_stack_buffer_overrun_is_a_buffer_overflow_with_the_python_caller() {
    let dir = tempfile::tempdir().unwrap();
    let lib = overrun_library(dir.path());
    let script = format!(
        "import ctypes\nlib = ctypes.CDLL({:?})\ndef render():\n    lib.format_label(64)\nrender()\n",
        lib.display().to_string()
    );
    let (status, stderr, crash) = crash_of(dir.path(), &script, &[]);
    assert_eq!(status, 128 + libc::SIGSEGV, "{stderr}");
    assert_eq!(crash["kind"], "buffer-overflow", "{stderr}");
    assert!(crash["fault_detail"].as_str().unwrap_or_default().contains("0x4141414141414141"), "{crash:#}");
    assert!(hint_ids(&crash).contains(&"buffer-overflow".to_owned()), "{crash:#}");
    // The Python caller is still known.
    let python = python_functions(&crash);
    assert!(python.iter().any(|f| f == "render"), "{python:?}\n{stderr}");
}

/// An overrun that runs on until it faults at the top of the stack also overwrites the
/// eval loop's frames, where CPython 3.11/3.12 keep the way to the current Python frame: the
/// Python stack is read from the interpreter's data stack instead (400 frames deep, so over
/// several chunks, with a running generator in it), and the report says so.
#[test]
fn an_overrun_to_the_top_of_the_stack_keeps_every_python_frame_from_the_data_stack() {
    let dir = tempfile::tempdir().unwrap();
    let lib = overrun_library(dir.path());
    let script = format!(
        "import ctypes\nlib = ctypes.CDLL({:?})\n\
         def render():\n    lib.format_label(1 << 24)\n\
         def through_a_generator():\n    yield render()\n\
         def nest(depth):\n    if depth == 0:\n        return next(through_a_generator())\n    return nest(depth - 1)\n\
         nest(400)\n",
        lib.display().to_string()
    );
    let (status, stderr, crash) = crash_of(dir.path(), &script, &[]);
    assert_eq!(status, 128 + libc::SIGSEGV, "{stderr}");
    assert_eq!(crash["kind"], "buffer-overflow", "{stderr}");
    let detail = crash["fault_detail"].as_str().unwrap_or_default();
    assert!(detail.contains("0x4141414141414141") && detail.contains("ran off the end of [stack]"), "{detail}");
    let python = python_functions(&crash);
    let mut expected = vec!["render".to_owned(), "through_a_generator".to_owned()];
    expected.extend(std::iter::repeat_n("nest".to_owned(), 401));
    expected.push("<module>".to_owned());
    assert!(
        python == expected,
        "{} Python frames: {:?} … {:?}\n{stderr}",
        python.len(),
        &python[..python.len().min(4)],
        python.last()
    );
    let thread = crash["threads"].as_array().unwrap().iter().find(|t| t["crashed"] == true).unwrap();
    assert_eq!(thread["python_frames_from"], "data-stack");
    assert!(stderr.contains("the Python frames were read from the interpreter's data stack"), "{stderr}");
    assert_eq!(crash["python"]["function"], "render");
}

const PYBIND_CPP: &str = r#"
#include <pybind11/pybind11.h>
#include <stdexcept>
#include <thread>

/* pybind11 turns C++ exceptions into Python ones only on the thread that called from
   Python: one thrown on a worker thread reaches std::terminate. */
static void drain_queue() { throw std::runtime_error("worker failed: queue closed"); }

void run_in_thread() {
    std::thread worker([] { drain_queue(); });
    worker.join();
}

PYBIND11_MODULE(threaded, m) { m.def("run_in_thread", &run_in_thread); }
"#;

#[test]
fn a_pybind11_exception_escaping_a_cpp_thread_is_an_uncaught_exception_on_that_thread() {
    let dir = tempfile::tempdir().unwrap();
    let includes =
        Command::new("python3").args(["-m", "pybind11", "--includes"]).output().expect("python3 -m pybind11");
    assert!(includes.status.success(), "pybind11 is missing: {}", String::from_utf8_lossy(&includes.stderr));
    let suffix = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"])
        .output()
        .expect("python3");
    let module = format!("threaded{}", String::from_utf8_lossy(&suffix.stdout).trim());
    let includes = String::from_utf8_lossy(&includes.stdout).into_owned();
    let mut flags = vec!["-O0", "-g", "-shared", "-fPIC", "-std=c++17", "-pthread"];
    flags.extend(includes.split_whitespace());
    compile(dir.path(), "g++", &flags, "threaded.cpp", PYBIND_CPP, &module);
    let (_, stderr, crash) = crash_of(dir.path(), "import threaded\nthreaded.run_in_thread()\n", &[]);
    assert_eq!(crash["kind"], "uncaught-exception", "{stderr}");
    let message = crash["message"].as_str().unwrap();
    assert!(message.contains("'std::runtime_error'") && message.contains("worker failed: queue closed"), "{message}");
    // The crashed thread is the worker, not the Python thread that waits in join().
    let culprit = crash["culprit"]["function"].as_str().unwrap_or_default();
    assert!(culprit.contains("drain_queue") || culprit.contains("run_in_thread"), "{crash:#}");
    let hint =
        crash["hints"].as_array().unwrap().iter().find(|h| h["id"] == "uncaught-cpp-exception").expect("the hint");
    assert!(hint["text"].as_str().unwrap().contains("pybind11"), "{hint}");
}

#[test]
fn a_fatal_line_another_process_wrote_is_shown_as_untied_and_names_no_kind() {
    let dir = tempfile::tempdir().unwrap();
    // A child writes a C++ runtime's fatal line to the shared stderr and lives on; then the
    // parent aborts for its own reasons.
    let script = r#"
import os, subprocess, sys, time
line = "terminate called after throwing an instance of 'std::bad_alloc'"
child = subprocess.Popen([sys.executable, "-c", f"import sys, time; sys.stderr.write({line!r} + chr(10)); sys.stderr.flush(); time.sleep(4)"])
time.sleep(1.5)
os.abort()
"#;
    let (status, stderr, crash) = crash_of(dir.path(), script, &[]);
    assert_eq!(status, 128 + libc::SIGABRT, "{stderr}");
    assert_eq!(crash["process"], "main", "{stderr}");
    assert_eq!(crash["message_untied"], true, "{crash:#}");
    assert_eq!(crash["kind"], "abort", "the child's line is no evidence of the parent's kind: {crash:#}");
    assert!(stderr.contains("which the whole tree shares"), "{stderr}");
}
