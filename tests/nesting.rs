//! faultline under faultline: the command is marked as supervised, a nested `faultline run`
//! leaves the capture to the outer one, and a process that passes its child's fatal signal
//! on (a nested faultline, `timeout`) is not a second crash. Real binary, real processes.

mod common;

use common::FAULTLINE;
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};

const CTYPES_CRASH: &str = "import ctypes; ctypes.string_at(0)";

/// Runs `faultline run --json <tmp> -- args`; returns its pid, its output and the report.
fn run_with_report(args: &[&str], env: &[(&str, &str)]) -> (u32, Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let child = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--json", report.to_str().unwrap(), "--"])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start faultline");
    let pid = child.id();
    let output = child.wait_with_output().expect("wait for faultline");
    let report = common::read_report(&report, &output);
    (pid, output, report)
}

fn crashes(report: &Value) -> Vec<&Value> {
    report["crashes"].as_array().expect("crashes is a list").iter().collect()
}

#[test]
fn the_command_is_marked_with_its_supervisors_pid() {
    let (pid, output, _) = run_with_report(&["sh", "-c", "echo \"mark=$FAULTLINE_SUPERVISED\""], &[]);
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), format!("mark={pid}"));
}

/// One tracer per process: the inner faultline says the outer one captures, the outer one
/// reports the crash once (not also the inner faultline dying of the same signal), and the
/// signal comes all the way out.
#[test]
fn nested_faultline_run_leaves_the_capture_to_the_outer_one() {
    let (outer_pid, output, report) =
        run_with_report(&[FAULTLINE, "run", "--no-store", "--", "python3", "-c", CTYPES_CRASH], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.signal(), Some(libc::SIGSEGV), "{:?}\n{stderr}", output.status);
    assert!(
        stderr.contains(&format!("faultline: already under faultline run (pid {outer_pid}), which captures")),
        "{stderr}"
    );
    assert!(!stderr.contains("ptrace is not permitted"), "{stderr}");
    let crashes = crashes(&report);
    assert_eq!(crashes.len(), 1, "{crashes:#?}");
    assert_eq!(crashes[0]["kind"], "null-deref");
    assert!(crashes[0]["executable"].as_str().is_some_and(|exe| exe.contains("python")), "{:#?}", crashes[0]);
}

/// GNU `timeout` kills itself with the signal its command died of, as faultline does.
#[test]
fn a_parent_passing_on_its_childs_crash_signal_is_not_a_second_crash() {
    let (_, output, report) = run_with_report(&["timeout", "60", "python3", "-c", CTYPES_CRASH], &[]);
    assert_eq!(output.status.signal(), Some(libc::SIGSEGV), "{:?}", output.status);
    let crashes = crashes(&report);
    assert_eq!(crashes.len(), 1, "{crashes:#?}");
    assert_eq!(crashes[0]["kind"], "null-deref");
}

/// Only the signal a child crashed with is passed on: a process that signals itself
/// otherwise is still reported.
#[test]
fn a_self_signal_without_a_crashed_child_is_still_a_crash() {
    let (_, output, report) = run_with_report(&["sh", "-c", "kill -ABRT $$"], &[]);
    assert_eq!(output.status.signal(), Some(libc::SIGABRT), "{:?}", output.status);
    let crashes = crashes(&report);
    assert_eq!(crashes.len(), 1, "{crashes:#?}");
    assert_eq!(crashes[0]["kind"], "self-signal");
}

/// The mark alone (an environment copied from a supervised shell into an untraced process)
/// does not stop faultline from tracing.
#[test]
fn a_copied_mark_without_the_tracer_is_ignored() {
    let someone = std::process::id().to_string();
    let (_, output, report) =
        run_with_report(&["python3", "-c", CTYPES_CRASH], &[("FAULTLINE_SUPERVISED", someone.as_str())]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("already under faultline"), "{stderr}");
    assert_eq!(crashes(&report).len(), 1, "{stderr}");
}
