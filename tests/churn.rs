//! Starting threads and processes under faultline: whatever is made cheaper at start time,
//! a task that crashes the moment it starts is still caught, with its own stack.

mod common;

use common::{compile, shell_status, FAULTLINE};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const EARLY: &str = r#"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

/* Its first instruction after the prologue writes through NULL. */
__attribute__((noinline)) static void *die_at_once(void *arg) {
    *(volatile int *)arg = 1;
    return NULL;
}

__attribute__((noinline)) static void child_dies_at_once(void) {
    *(volatile int *)0 = 2;
}

static void *noop(void *arg) { return arg; }

int main(int argc, char **argv) {
    /* Churn first, so that the crash comes among many starts. */
    for (int i = 0; i < 200; i++) {
        pthread_t t;
        pthread_create(&t, NULL, noop, NULL);
        pthread_join(t, NULL);
    }
    if (argc > 1 && !strcmp(argv[1], "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, die_at_once, NULL);
        pthread_join(t, NULL);
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        child_dies_at_once();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 0;
}
"#;

fn build(dir: &Path) -> std::path::PathBuf {
    compile(dir, "gcc", &["-g", "-O0", "-pthread"], "early.c", EARLY, "early")
}

fn run(dir: &Path, binary: &Path, mode: &str) -> (i32, String, Value) {
    let report = dir.join(format!("{mode}.json"));
    let output = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--json"])
        .arg(&report)
        .arg("--")
        .arg(binary)
        .arg(mode)
        .output()
        .expect("run faultline");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    (shell_status(&output.status), stderr, json)
}

fn crashed_functions(crash: &Value) -> Vec<String> {
    let thread = crash["threads"].as_array().unwrap().iter().find(|t| t["crashed"] == true).expect("crashed thread");
    thread["frames"].as_array().unwrap().iter().filter_map(|f| f["function"].as_str().map(str::to_owned)).collect()
}

#[test]
fn a_thread_that_crashes_as_it_starts_is_caught_with_its_stack() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build(dir.path());
    let (status, stderr, report) = run(dir.path(), &binary, "thread");
    assert_eq!(status, 128 + libc::SIGSEGV, "{stderr}");
    let crash = &report["crashes"][0];
    assert_eq!(crash["kind"], "null-deref", "{stderr}");
    assert_ne!(crash["tid"], crash["pid"], "the new thread crashed, not the main one");
    let functions = crashed_functions(crash);
    assert_eq!(functions.first().map(String::as_str), Some("die_at_once"), "{functions:?}\n{stderr}");
}

#[test]
fn a_child_that_crashes_right_after_fork_is_caught_with_its_stack() {
    let dir = tempfile::tempdir().unwrap();
    let binary = build(dir.path());
    let (status, stderr, report) = run(dir.path(), &binary, "fork");
    assert_eq!(status, 128 + libc::SIGSEGV, "the parent passes its child's death on: {stderr}");
    let crash = &report["crashes"][0];
    assert_eq!(crash["process"], "child", "{stderr}");
    assert_eq!(crash["kind"], "null-deref", "{stderr}");
    let functions = crashed_functions(crash);
    assert_eq!(functions.first().map(String::as_str), Some("child_dies_at_once"), "{functions:?}\n{stderr}");
    assert!(functions.iter().any(|f| f == "main"), "{functions:?}");
}
