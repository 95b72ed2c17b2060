use super::*;
use crate::model::{
    Crash, CrashKind, Culprit, ExitInfo, MemoryReport, Outcome, Phase, ProcessRole, TestRef, SCHEMA_VERSION,
};
use crate::model::{Pid, Tid};
use std::time::Duration;

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

/// The text after the timestamp, which must be RFC 3339.
fn text_of(line: &str) -> &str {
    let (time, text) = line.split_once(' ').unwrap();
    humantime::parse_rfc3339(time).unwrap_or_else(|e| panic!("{time}: {e}"));
    text
}

#[test]
fn lines_are_timestamped_and_appended_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/run.log");
    let mut log = RunLog::open(&path, 1 << 20, 5).unwrap();
    log.line("first");
    log.line("two\nlines");
    drop(log);
    let mut log = RunLog::open(&path, 1 << 20, 5).unwrap();
    log.line("third");
    let lines = read_lines(&path);
    let texts: Vec<&str> = lines.iter().map(|l| text_of(l)).collect();
    assert_eq!(texts, ["first", "two\\nlines", "third"]);
    assert_eq!(log.errors(), 0);
}

#[test]
fn rotation_keeps_exactly_keep_files_none_oversized() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let max = 300;
    let mut log = RunLog::open(&path, max, 3).unwrap();
    for i in 0..200 {
        log.line(&format!("event number {i:04}"));
    }
    for n in 1..=3 {
        let rotated = log.numbered(n);
        let size = fs::metadata(&rotated).unwrap().len();
        assert!(size <= max && size > max / 2, "{}: {size}", rotated.display());
    }
    assert!(fs::metadata(&path).unwrap().len() <= max);
    assert!(!log.numbered(4).exists());
    let names = fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(names, 4, "FILE and FILE.1..FILE.3");
    // Newest last in FILE, and FILE.1 holds the lines just before FILE's first.
    let current = read_lines(&path);
    assert!(text_of(current.last().unwrap()).ends_with("0199"));
    let previous = read_lines(&log.numbered(1));
    let last_of_previous: u32 = text_of(previous.last().unwrap())[13..].parse().unwrap();
    let first_of_current: u32 = text_of(&current[0])[13..].parse().unwrap();
    assert_eq!(last_of_previous + 1, first_of_current);
}

#[test]
fn a_line_longer_than_the_limit_gets_a_file_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut log = RunLog::open(&path, 100, 2).unwrap();
    log.line("short");
    log.line(&"x".repeat(500));
    log.line("after");
    assert_eq!(read_lines(&log.numbered(2)).len(), 1);
    assert_eq!(read_lines(&log.numbered(1)).len(), 1, "the long line alone");
    assert_eq!(text_of(&read_lines(&path)[0]), "after");
}

#[test]
fn keep_zero_truncates_and_zero_size_never_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut log = RunLog::open(&path, 100, 0).unwrap();
    for i in 0..20 {
        log.line(&format!("line {i}"));
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    assert!(fs::metadata(&path).unwrap().len() <= 100);

    let other = dir.path().join("big.log");
    let mut log = RunLog::open(&other, 0, 3).unwrap();
    for i in 0..100 {
        log.line(&format!("line {i}"));
    }
    assert_eq!(read_lines(&other).len(), 100);
}

#[test]
fn a_log_rotated_by_someone_else_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut log = RunLog::open(&path, 1 << 20, 5).unwrap();
    log.line("before");
    fs::rename(&path, dir.path().join("run.log.1")).unwrap();
    log.line("after");
    assert_eq!(read_lines(&path).len(), 1);
}

#[test]
fn write_errors_are_counted_not_raised() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("gone");
    let path = sub.join("run.log");
    let mut log = RunLog::open(&path, 1 << 20, 5).unwrap();
    fs::remove_dir_all(&sub).unwrap();
    log.line("nowhere to go");
    log.line("still nowhere");
    assert_eq!(log.errors(), 2);
}

fn crash() -> Crash {
    Crash {
        pid: Pid(4242),
        tid: Tid(4243),
        process: ProcessRole::Child,
        executable: Some("/usr/bin/python3".into()),
        argv: vec!["python3".into()],
        thread_name: None,
        signal: "SIGSEGV".into(),
        si_code: Some("SEGV_MAPERR".into()),
        fault_address: Some("0x0".into()),
        sender_pid: None,
        kind: CrashKind::NullDeref,
        phase: Phase::Test,
        message: None,
        test: Some(TestRef { nodeid: "tests/test_x.py::test_y[a b]".into(), when: Some("call".into()) }),
        python: None,
        culprit: Some(Culprit { function: Some("render".into()), module: None, file: None, line: None }),
        signature: "deadbeef".into(),
        hints: vec![],
        threads: vec![],
        fault_detail: None,
        stderr_tail: vec![],
        held_ms: None,
        report_ready_ms: None,
        message_untied: false,
        pytest: None,
        sanitizer: None,
    }
}

#[test]
fn event_lines() {
    let exit =
        |code, signal: Option<&str>, core_dumped| ExitInfo { code, signal: signal.map(str::to_owned), core_dumped };
    let cases = [
        (RunEvent::Started { root_pid: Pid(10), untraced: None }, "started pid=10"),
        (
            RunEvent::Started { root_pid: Pid(10), untraced: Some("ptrace is not permitted".into()) },
            "started pid=10 untraced=\"ptrace is not permitted\"",
        ),
        (RunEvent::ProcessStarted { pid: Pid(11), parent: Pid(10) }, "process-started pid=11 parent=10"),
        (
            RunEvent::ProcessExec { pid: Pid(11), executable: Some("/usr/bin/python3".into()) },
            "exec pid=11 executable=/usr/bin/python3",
        ),
        (
            RunEvent::Crash(Box::new(crash())),
            "crash pid=4242 tid=4243 process=child signal=SIGSEGV kind=null-deref \
             test=\"tests/test_x.py::test_y[a b]\" culprit=render signature=deadbeef",
        ),
        (
            RunEvent::ProcessExited { pid: Pid(11), role: ProcessRole::Main, exit: exit(139, Some("SIGSEGV"), true) },
            "exited pid=11 process=main code=139 signal=SIGSEGV core-dumped",
        ),
        (
            RunEvent::ProcessExited { pid: Pid(12), role: ProcessRole::Child, exit: exit(0, None, false) },
            "exited pid=12 process=child code=0",
        ),
        (RunEvent::MemoryWarning { tree_bytes: 3 << 29 }, "memory-warning tree=1.5GiB"),
        (
            RunEvent::MemoryLimit { tree_bytes: 1100 << 20, limit: 1 << 30 },
            "memory-limit tree=1.1GiB limit=1GiB: taking stacks, then stopping the tree",
        ),
        (
            RunEvent::TimedOut { limit: Duration::from_secs(90) },
            "timeout limit=1m30s: taking stacks, then stopping the tree",
        ),
        (RunEvent::Escalated { signal: libc::SIGKILL }, "escalated signal=SIGKILL"),
    ];
    for (event, expected) in cases {
        assert_eq!(event_line(&event), expected);
    }
}

/// A test id holding a secret (`test_login[password=hunter3]`) is redacted in the log as in
/// the report; control characters come quoted.
#[test]
fn crash_lines_hide_secrets_and_quote_controls() {
    let mut crash = crash();
    crash.test = Some(TestRef { nodeid: "tests/t.py::test_login[password=hunter3]".into(), when: None });
    crash.culprit = Some(Culprit { function: Some("f\x1b]0;x\x07".into()), module: None, file: None, line: None });
    let line = event_line(&RunEvent::Crash(Box::new(crash)));
    assert!(line.contains("test=tests/t.py::test_login[password=[redacted]]"), "{line}");
    assert!(line.contains(r#"culprit="f\u{1b}]0;x\u{7}""#), "{line}");
}

#[test]
fn the_sink_writes_one_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut log = RunLog::open(&path, 1 << 20, 5).unwrap();
    log.event(RunEvent::Started { root_pid: Pid(10), untraced: None });
    log.event(RunEvent::Crash(Box::new(crash())));
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2);
    assert!(text_of(&lines[1]).starts_with("crash pid=4242"));
}

#[test]
fn start_and_finish_lines() {
    let command: Vec<String> =
        ["python", "-m", "pytest", "-k", "a and b", "API_TOKEN=abc"].iter().map(|s| s.to_string()).collect();
    let line = started_line(&command, Some(Path::new("/src/my project")), 7);
    assert_eq!(
        line,
        format!(
            "run-started faultline={} pid=7 cwd=\"/src/my project\" command: python -m pytest -k 'a and b' 'API_TOKEN=[redacted]'",
            env!("CARGO_PKG_VERSION")
        )
    );

    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        faultline_version: "0.1.0".into(),
        command,
        cwd: None,
        started_at: None,
        duration_ms: 12_345.0,
        outcome: Outcome::Crashed,
        exit: ExitInfo { code: 139, signal: Some("SIGSEGV".into()), core_dumped: false },
        crashes: vec![crash()],
        timeout: None,
        memory: None,
        system: None,
        processes_started: 3,
        settings_file: None,
        variant: None,
        launcher: None,
        suite: None,
    };
    assert_eq!(
        finished_line(&report),
        "run-finished outcome=crashed exit=139 signal=SIGSEGV duration=12.3s processes=3 crashes=1"
    );
    report.outcome = Outcome::Passed;
    report.exit = ExitInfo { code: 0, signal: None, core_dumped: false };
    report.crashes.clear();
    report.duration_ms = 250.0;
    report.memory = Some(MemoryReport {
        peak_rss_bytes: 512 << 20,
        limit_bytes: None,
        samples: vec![],
        trend: None,
        snapshot: None,
        peak_holder: None,
        warn_bytes: None,
        enforcement: None,
        oom_killed: vec![],
    });
    assert_eq!(
        finished_line(&report),
        "run-finished outcome=passed exit=0 duration=250ms peak-memory=512MiB processes=3 crashes=0"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut log = RunLog::open(&path, 1 << 20, 5).unwrap();
    log.run_started(&["true".to_owned()], &["headless: MPLBACKEND=Agg".to_owned()]);
    log.run_finished(&report);
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 3);
    assert!(text_of(&lines[0]).starts_with("run-started "));
    assert_eq!(text_of(&lines[1]), "setting headless: MPLBACKEND=Agg");
    assert!(text_of(&lines[2]).starts_with("run-finished outcome=passed"));
}
