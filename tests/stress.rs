//! `faultline stress` on a real command that crashes on some runs and not others.

mod common;

use common::FAULTLINE;
use serde_json::Value;
use std::process::Command;

/// Crashes with a NULL read on runs 3 and 6, aborts on a double free on run 4, and passes
/// otherwise: which run it is comes from FAULTLINE_STRESS_RUN.
const FLAKY: &str = r#"
import ctypes, os
run = int(os.environ["FAULTLINE_STRESS_RUN"])
if run in (3, 6):
    ctypes.string_at(0)
if run == 4:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    p = libc.malloc(64)
    libc.free(p)
    libc.free(p)
"#;

fn stress(dir: &std::path::Path, extra: &[&str]) -> (i32, String, Value) {
    std::fs::write(dir.join("flaky.py"), FLAKY).unwrap();
    let summary = dir.join("summary.json");
    let mut args = vec!["stress", "--color", "never", "--json", summary.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "python3", "flaky.py"]);
    let out = Command::new(FAULTLINE).args(&args).current_dir(dir).output().expect("run faultline stress");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = std::fs::read_to_string(&summary).unwrap_or_else(|e| panic!("no summary ({e}):\n{stderr}"));
    (out.status.code().unwrap_or(-1), stderr, serde_json::from_str(&json).unwrap())
}

#[test]
fn crashes_over_many_runs_are_counted_and_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, summary) = stress(dir.path(), &["-n", "8", "-j", "2"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(summary["runs_done"], 8);
    assert_eq!(summary["counts"]["crashed"], 3, "{summary:#}");
    assert_eq!(summary["counts"]["passed"], 5);
    let groups = summary["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{summary:#}");
    assert_eq!(groups[0]["kind"], "null-deref");
    assert_eq!(groups[0]["runs"], serde_json::json!([3, 6]));
    assert_eq!(groups[1]["kind"], "double-free");
    assert_eq!(groups[1]["runs"], serde_json::json!([4]));
    assert!(stderr.contains("3 of 8 runs crashed (38%), in 2 groups:"), "{stderr}");
    assert!(stderr.contains("run #3: SIGSEGV (null-deref)"), "{stderr}");
    assert!(stderr.contains("── run #3 ──"), "the first crash of a group in full:\n{stderr}");

    // Every run's report is on disk, and every run is in the crash store.
    let logs = summary["logs"].as_str().expect("logs kept after crashes");
    assert!(std::path::Path::new(logs).join("run-4.json").is_file());
    let listing = Command::new(FAULTLINE).args(["crashes", "--json"]).current_dir(dir.path()).output().unwrap();
    let listing: Value = serde_json::from_slice(&listing.stdout).unwrap();
    assert_eq!(listing["runs"], 8);
    assert_eq!(listing["groups"].as_array().unwrap().len(), 2);
}

#[test]
fn until_crash_stops_starting_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, summary) = stress(dir.path(), &["-n", "50", "-j", "1", "--until-crash", "--no-store"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(summary["runs_done"], 3, "{summary:#}");
    assert_eq!(summary["stopped_early"], "first crash");
    assert!(stderr.contains("stopped early (first crash): 3 of 50 runs made"), "{stderr}");
    assert!(!dir.path().join(".faultline").exists(), "--no-store reaches the runs");
}

#[test]
fn all_passing_runs_exit_0_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.py"), "print('fine')\n").unwrap();
    let out = Command::new(FAULTLINE)
        .args(["stress", "-n", "4", "--no-store", "--color", "never", "--", "python3", "ok.py"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("No crash in 4 runs."), "{stderr}");
    assert!(!stderr.contains("each run's report and output"), "the temporary logs are removed: {stderr}");
}

#[test]
fn zero_runs_is_a_usage_error() {
    let out = Command::new(FAULTLINE).args(["stress", "-n", "0", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 is out of range: expected from 1 to 1000000"));
}
