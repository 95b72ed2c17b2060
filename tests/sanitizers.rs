//! Sanitizer reports on real extensions the tests build: `--asan` with an extension built
//! with `-fsanitize=address` (the report becomes faultline's: kind, culprit line, the
//! allocation stack; the runtime reaches Python only), the same source built plainly and
//! caught by `--heap-check` at the next free, an ASan report the user set up on stderr, and
//! UBSan's `runtime error:` line.

mod common;

use common::{assert_matches_report_schema, compile, shell_status, FAULTLINE};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// `copy_name` allocates strlen(name) bytes and writes strlen(name) + 1: one byte over, at
/// line 11. The malloc is line 9, the free line 13. `read_freed` reads a freed block.
const EXT_C: &str = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

static PyObject *copy_name(PyObject *self, PyObject *arg) {
    const char *name = PyUnicode_AsUTF8(arg);
    size_t n = strlen(name);
    char *buf = malloc(n);
    memcpy(buf, name, n);
    buf[n] = 0;
    PyObject *copy = PyUnicode_FromString(buf);
    free(buf);
    return copy;
}

static PyObject *read_freed(PyObject *self, PyObject *unused) {
    long *counts = calloc(4, sizeof(long));
    free(counts);
    return PyLong_FromLong(counts[2]);
}

static PyObject *add_one(PyObject *self, PyObject *arg) {
    int value = (int)PyLong_AsLong(arg);
    int next = value + 1;
    return PyLong_FromLong(next);
}

static PyMethodDef methods[] = {
    {"copy_name", copy_name, METH_O, ""},
    {"read_freed", read_freed, METH_NOARGS, ""},
    {"add_one", add_one, METH_O, ""},
    {0},
};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "names", 0, -1, methods};
PyMODINIT_FUNC PyInit_names(void) { return PyModule_Create(&module); }
"#;

/// The app: a program that is not Python runs first (its maps say whether the sanitizer
/// runtime was loaded into it), then the extension's call named on the command line.
const APP_PY: &str = r#"import subprocess, sys
import names
maps = subprocess.run(["grep", "-c", "libasan", "/proc/self/maps"], capture_output=True, text=True)
print("grep-maps-libasan:", maps.stdout.strip(), flush=True)

def render(label):
    return names.copy_name(label)

def tally():
    return names.read_freed()

def bump(value):
    return names.add_one(value)

what = sys.argv[1]
if what == "overflow":
    print(render("hello"))
elif what == "uaf":
    print(tally())
else:
    print(bump(2**31 - 1))
"#;

/// Builds `names` with `flags` into `dir` (as the module file Python imports) and writes the app.
fn build(dir: &Path, flags: &[&str]) {
    let python = |code: &str| {
        let out = Command::new("python3").args(["-c", code]).output().expect("python3");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let include = format!("-I{}", python("import sysconfig; print(sysconfig.get_paths()['include'])"));
    let module = format!("names{}", python("import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"));
    let mut all = vec!["-O0", "-g", "-shared", "-fPIC", include.as_str()];
    all.extend_from_slice(flags);
    compile(dir, "gcc", &all, "names.c", EXT_C, &module);
    std::fs::write(dir.join("app.py"), APP_PY).unwrap();
}

fn faultline(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, Value) {
    let report = dir.join("report.json");
    let mut all = vec!["run", "--no-store", "--json", report.to_str().unwrap()];
    all.extend_from_slice(args);
    // The sanitizer's kept reports go into the test's folder, not the machine's /tmp.
    let output = Command::new(FAULTLINE)
        .args(&all)
        .envs(env.iter().copied())
        .env("TMPDIR", dir)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&output.stderr)));
    (output, serde_json::from_str(&text).unwrap())
}

fn asan_runtime() -> String {
    let out = Command::new("gcc").arg("-print-file-name=libasan.so").output().expect("gcc");
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    std::fs::canonicalize(&path).unwrap_or_else(|e| panic!("gcc's libasan ({path}): {e}")).display().to_string()
}

fn frames_of<'a>(crash: &'a Value, role: &str) -> &'a [Value] {
    let stacks = crash["sanitizer"]["stacks"].as_array().expect("sanitizer stacks");
    let stack = stacks.iter().find(|s| s["role"] == role).unwrap_or_else(|| panic!("no {role} stack: {crash:#}"));
    stack["frames"].as_array().unwrap()
}

fn has_frame(frames: &[Value], function: &str, line: u64) -> bool {
    frames.iter().any(|f| f["function"] == function && f["line"] == line)
}

#[test]
fn asan_turns_a_one_byte_heap_overflow_into_a_full_report_with_the_allocation_stack() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &["-fsanitize=address"]);
    // Through a shell, as CI scripts run things: the runtime must still reach the Python.
    let (output, json) = faultline(dir.path(), &["--asan", "--", "sh", "-c", "python3 app.py overflow"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(shell_status(&output.status), 128 + libc::SIGABRT, "{stderr}");
    assert_matches_report_schema(&json);
    let crash = &json["crashes"][0];
    assert_eq!(crash["kind"], "buffer-overflow", "{stderr}");
    assert_eq!(crash["sanitizer"]["tool"], "AddressSanitizer");
    assert_eq!(crash["sanitizer"]["class"], "heap-buffer-overflow");
    assert!(crash["sanitizer"]["access"].as_str().unwrap().starts_with("WRITE of size 1 at 0x"), "{crash:#}");
    assert!(crash["message"].as_str().unwrap().starts_with("AddressSanitizer: heap-buffer-overflow: WRITE of size 1"));
    assert_eq!((&crash["culprit"]["function"], &crash["culprit"]["line"]), (&"copy_name".into(), &11.into()));
    assert_eq!(crash["python"]["function"], "render", "the Python caller is in the stack: {crash:#}");
    assert!(has_frame(frames_of(crash, "allocated"), "copy_name", 9), "the malloc line: {crash:#}");
    assert!(crash["fault_detail"].as_str().unwrap().contains("0 bytes to the right of 5-byte region"));
    assert!(crash["hints"].as_array().unwrap().iter().any(|h| h["id"] == "sanitizer"));
    assert!(stderr.contains("buffer-overflow; AddressSanitizer: heap-buffer-overflow"), "{stderr}");
    assert!(stderr.contains("allocated by thread T0 here (recorded by AddressSanitizer)"), "{stderr}");
    assert!(stderr.contains("the sanitizer's own reports are kept in"), "{stderr}");
    // Neither sh nor grep got the runtime; ASan's report went to its log, not to stderr.
    assert!(stdout.contains("grep-maps-libasan: 0"), "{stdout}");
    assert!(!stderr.contains("==ERROR: AddressSanitizer"), "{stderr}");
    assert_eq!(json["variant"]["name"], "asan");
    let env = json["variant"]["env"].to_string();
    assert!(env.contains("LD_PRELOAD=") && env.contains("detect_leaks=0") && env.contains("log_path="), "{env}");
}

#[test]
fn the_same_overflow_built_plainly_is_caught_at_the_next_free_under_heap_check() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &[]);
    let (plain, _) = faultline(dir.path(), &["--", "python3", "app.py", "overflow"], &[]);
    assert_eq!(shell_status(&plain.status), 0, "glibc's luck: the byte lands in the chunk's slack");
    let (output, json) = faultline(dir.path(), &["--heap-check", "--", "python3", "app.py", "overflow"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(shell_status(&output.status), 128 + libc::SIGABRT, "{stderr}");
    let crash = &json["crashes"][0];
    assert_eq!(crash["kind"], "heap-corruption", "{stderr}");
    assert_eq!(crash["message"], "free(): invalid pointer");
    // The checking library's frames are the allocator's: the culprit is the free's caller.
    assert_eq!((&crash["culprit"]["function"], &crash["culprit"]["line"]), (&"copy_name".into(), &13.into()));
    assert!(crash.get("sanitizer").is_none());
}

#[test]
fn an_asan_report_the_user_set_up_on_stderr_is_read_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &["-fsanitize=address"]);
    let runtime = asan_runtime();
    let env = [("LD_PRELOAD", runtime.as_str()), ("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=0")];
    let (output, json) = faultline(dir.path(), &["--", "python3", "app.py", "uaf"], &env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(shell_status(&output.status), 128 + libc::SIGABRT, "{stderr}");
    assert!(stderr.contains("ERROR: AddressSanitizer: heap-use-after-free"), "ASan's own report is kept: {stderr}");
    let crash = &json["crashes"][0];
    assert_eq!(crash["kind"], "use-after-free", "{stderr}");
    assert_eq!(crash["sanitizer"]["class"], "heap-use-after-free");
    assert_eq!(crash["culprit"]["function"], "read_freed");
    assert!(has_frame(frames_of(crash, "freed"), "read_freed", 19), "{crash:#}");
    assert!(has_frame(frames_of(crash, "allocated"), "read_freed", 18), "{crash:#}");
    assert_eq!(crash["python"]["function"], "tally");
}

#[test]
fn ubsan_runtime_error_gives_the_message() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), &["-fsanitize=undefined"]);
    let env = [("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_stacktrace=1")];
    let (output, json) = faultline(dir.path(), &["--", "python3", "app.py", "ub"], &env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(shell_status(&output.status), 128 + libc::SIGABRT, "{stderr}");
    let crash = &json["crashes"][0];
    assert_eq!(crash["sanitizer"]["tool"], "UndefinedBehaviorSanitizer", "{stderr}");
    let message = crash["message"].as_str().unwrap();
    assert!(message.contains("names.c:25:") && message.contains("runtime error: signed integer overflow"), "{message}");
    assert_eq!(crash["culprit"]["function"], "add_one");
    assert_eq!(crash["python"]["function"], "bump");
}

#[test]
fn asan_without_a_runtime_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--asan", "--", "true"])
        .env("CC", "/nonexistent/cc")
        .env("PATH", "/nonexistent")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no AddressSanitizer runtime found") && stderr.contains("set CC"), "{stderr}");
}
