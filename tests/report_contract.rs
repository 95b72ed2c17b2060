//! The JSON report keeps the contract of `../shared/report-schema.json`, and hides secrets.

mod common;

use common::faultline;

#[test]
fn passing_failing_and_crashing_reports_match_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let crash = dir.path().join("crash.py");
    std::fs::write(&crash, "import ctypes\nctypes.string_at(0)\n").unwrap();
    for (args, outcome) in [
        (vec!["true"], "passed"),
        (vec!["sh", "-c", "exit 3"], "failed"),
        (vec!["python3", crash.to_str().unwrap()], "crashed"),
        (vec!["sh", "-c", "kill -TERM $$"], "killed"),
    ] {
        let (_, stderr, report) = faultline(&args, dir.path());
        let report = report.unwrap_or_else(|| panic!("no report for {args:?}: {stderr}"));
        assert_eq!(report["outcome"], outcome, "{args:?}");
        common::assert_matches_report_schema(&report);
    }
}

#[test]
fn secrets_in_argv_and_stderr_are_redacted_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let crash = dir.path().join("crash.py");
    std::fs::write(
        &crash,
        "import ctypes, sys\nprint('connecting with DB_PASSWORD=hunter2', file=sys.stderr, flush=True)\nctypes.string_at(0)\n",
    )
    .unwrap();
    let path = crash.to_str().unwrap();
    let (status, stderr, report) = faultline(&["python3", path, "--api-token", "s3cr3t"], dir.path());
    assert_eq!(status, 139);
    let report = report.expect("report");
    let text = report.to_string();
    assert!(!text.contains("s3cr3t") && !text.contains("hunter2"), "secret leaked into the report: {text}");
    assert!(text.contains("[redacted]"));
    // The child's own stderr passes through untouched; faultline's report after it is redacted.
    let ours = stderr.split_once("faultline: SIGSEGV").map(|(_, r)| r).expect("terminal report");
    assert!(!ours.contains("hunter2") && !ours.contains("s3cr3t"), "terminal report leaked a secret:\n{ours}");
    assert_eq!(report["crashes"][0]["argv"].as_array().unwrap().last().unwrap(), "[redacted]");
}
