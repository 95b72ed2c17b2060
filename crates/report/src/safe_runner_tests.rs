//! Snapshot tests of the safe runner's terminal output: timeouts with what the threads were
//! doing, memory stops, the memory line and the summary, on trees shaped like the corpus
//! cases `hang-gil`, `memory-blowup` and `leak-per-cycle`.

use crate::diagnose::fixtures::hang::{everything_waits, hang_gil, process, thread};
use crate::diagnose::fixtures::{c_call, nat, py, run_file_tail, LIBC, LIBPY, PID};
use crate::diagnose::hang::timeout_info;
use crate::model::Pid;
use crate::model::{
    ExitInfo, MemoryHolder, MemoryReport, MemoryTrend, Outcome, ProcessRole, ProcessSnapshot, Report, TrendVerdict,
    SCHEMA_VERSION,
};
use crate::{render_report, TerminalStyle};

const MIB: u64 = 1 << 20;

fn base(case: &str, outcome: Outcome, code: i32, duration_ms: f64, processes: u32) -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        faultline_version: "0.1.0".into(),
        command: vec!["./run.sh".into()],
        cwd: Some(format!("/work/cases/{case}")),
        started_at: None,
        duration_ms,
        outcome,
        exit: ExitInfo {
            code,
            signal: (code > 128).then(|| crate::signals::signal_name(code - 128)),
            core_dumped: false,
        },
        crashes: Vec::new(),
        timeout: None,
        memory: None,
        system: None,
        processes_started: processes,
        settings_file: None,
        variant: None,
        launcher: None,
        suite: None,
    }
}

/// A sampled run: the peak, who held it, and the trend.
fn memory(peak: u64, trend: Option<(TrendVerdict, f64, f64)>) -> MemoryReport {
    MemoryReport {
        peak_rss_bytes: peak,
        limit_bytes: None,
        samples: vec![(0.0, 9 * MIB), (100.0, peak)],
        trend: trend.map(|(verdict, bytes_per_s, r2)| MemoryTrend { verdict, bytes_per_s, r2, samples: 24 }),
        snapshot: None,
        peak_holder: Some(MemoryHolder {
            pid: Pid(PID),
            rss_bytes: peak,
            argv: vec!["python3".into(), "main.py".into()],
        }),
        warn_bytes: None,
        enforcement: None,
        oom_killed: Vec::new(),
    }
}

fn render(report: &Report) -> String {
    let mut out = Vec::new();
    render_report(report, &TerminalStyle::plain(), &mut out).expect("render");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn timeout_with_the_gil_held_across_a_self_deadlock() {
    let mut r = base("hang-gil", Outcome::Timeout, 143, 10_210.0, 1);
    r.timeout = Some(timeout_info(10_000.0, hang_gil(), Some("SIGTERM".into())));
    r.memory = Some(memory(14 * MIB, Some((TrendVerdict::Flat, 1200.0, 0.12))));
    let text = render(&r);
    assert!(text.starts_with("faultline: timed out after 10 s — stopped with SIGTERM\n"), "{text}");
    assert!(text.contains("  → log_state ("), "the lock-taker is marked: {text}");
    insta::assert_snapshot!(text);
}

/// Renderers read the findings the run made; they never diagnose again. A report that
/// carries none (written by a faultline from before findings were kept) shows its stacks
/// without the ⚠ lines, and the findings a report carries are the ones shown, whatever
/// its stacks would say now.
#[test]
fn a_timeout_shows_the_findings_its_report_holds() {
    let mut r = base("hang-gil", Outcome::Timeout, 143, 10_210.0, 1);
    let mut timeout = timeout_info(10_000.0, hang_gil(), Some("SIGTERM".into()));
    assert!(!timeout.findings.is_empty());
    timeout.findings.clear();
    r.timeout = Some(timeout.clone());
    let text = render(&r);
    assert!(!text.contains('⚠'), "{text}");
    assert!(text.contains("    log_state (_store"), "the stacks are still shown: {text}");

    timeout.findings = vec![crate::model::HangFinding {
        id: crate::model::HangFindingId::DiskSleep,
        pid: hang_gil()[0].pid,
        tid: None,
        text: "the finding the run made".into(),
    }];
    r.timeout = Some(timeout);
    let text = render(&r);
    assert!(text.contains("  ⚠ the finding the run made\n"), "{text}");
    assert_eq!(text.matches('⚠').count(), 1, "{text}");
}

#[test]
fn timeout_where_everything_waits() {
    let mut r = base("poller", Outcome::Timeout, 137, 95_400.0, 2);
    r.timeout = Some(timeout_info(90_000.0, everything_waits(), Some("SIGKILL".into())));
    r.memory = Some(memory(38 * MIB, Some((TrendVerdict::Flat, -300.0, 0.02))));
    insta::assert_snapshot!(render(&r));
}

/// memory-blowup: 50 MB zero-filled bytearrays appended forever; the snapshot catches the
/// main thread touching the pages of the next one.
fn blowup_snapshot() -> Vec<ProcessSnapshot> {
    let main = "/work/cases/memory-blowup/main.py";
    let mut frames = vec![
        nat("__memset_avx2_unaligned_erms", LIBC, "../sysdeps/x86_64/multiarch/memset-vec-unaligned-erms.S:328"),
        nat("bytearray___init___impl", LIBPY, "Objects/bytearrayobject.c:871"),
        nat("bytearray___init__", LIBPY, "Objects/clinic/bytearrayobject.c.h:102"),
        nat("type_call", LIBPY, "Objects/typeobject.c:1112"),
        nat("_PyObject_MakeTpCall", LIBPY, "Objects/call.c:214"),
        py("receive_chunk", main, 12),
        py("buffer_stream", main, 17),
        py("<module>", main, 25),
    ];
    frames.extend(run_file_tail());
    vec![process(
        PID,
        ProcessRole::Main,
        &["python3", "main.py"],
        vec![thread(PID, "MainThread", true, "running", frames)],
    )]
}

#[test]
fn oom_at_the_limit_with_a_snapshot() {
    let mut r = base("memory-blowup", Outcome::Oom, 137, 2_380.0, 1);
    let mut m = memory(1_181_116_006, Some((TrendVerdict::Growing, 497.0 * MIB as f64, 0.99)));
    m.limit_bytes = Some(1 << 30);
    m.snapshot = Some(blowup_snapshot());
    m.enforcement = Some("cgroup v2".into());
    r.memory = Some(m);
    let text = render(&r);
    assert!(text.starts_with("faultline: stopped at the memory limit (1.0 GiB): the tree reached 1.1 GiB\n"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn oom_killed_by_the_kernel() {
    let mut r = base("memory-blowup", Outcome::Oom, 137, 4_120.0, 1);
    let mut m = memory(3_870 * MIB, Some((TrendVerdict::Growing, 940.0 * MIB as f64, 0.98)));
    m.oom_killed = vec![PID];
    r.memory = Some(m);
    insta::assert_snapshot!(render(&r));
}

#[test]
fn passing_run_with_a_growing_trend() {
    let mut r = base("leak-per-cycle", Outcome::Passed, 0, 2_310.0, 1);
    let mut m = memory(214 * MIB, Some((TrendVerdict::Growing, 88.0 * MIB as f64, 0.994)));
    m.warn_bytes = Some(100 * MIB);
    r.memory = Some(m);
    insta::assert_snapshot!(render(&r), @r"
      memory: peak 214 MiB (pid 48213 python3 main.py) · growing ~88 MiB/s (r² 0.99) · over --memory-warn 100 MiB
    faultline: no crash · exit 0 · 2.3 s · peak 214 MiB · 1 process
    ");
}

#[test]
fn memory_lines() {
    let line = |r: &Report| render(r).lines().next().unwrap_or_default().to_string();
    let mut r = base("x", Outcome::Passed, 0, 1_000.0, 3);
    let mut m = memory(90 * MIB, Some((TrendVerdict::Flat, 0.0, 0.0)));
    m.peak_holder = Some(MemoryHolder {
        pid: Pid(PID + 2),
        rss_bytes: 60 * MIB,
        argv: vec!["python3".into(), "-m".into(), "worker".into()],
    });
    m.limit_bytes = Some(512 * MIB);
    m.warn_bytes = Some(100 * MIB);
    r.memory = Some(m);
    assert_eq!(line(&r), "  memory: peak 90 MiB (most in pid 48215 python3 -m worker: 60 MiB) · flat · limit 512 MiB");
    // Behind a launcher whose helpers ran first, the holder is the program's largest process,
    // not necessarily the largest at the tree's peak.
    r.launcher = Some(crate::model::Launcher { program: "./launch".into(), became: None, processes: 2 });
    assert_eq!(
        line(&r),
        "  memory: peak 90 MiB (the program's largest process: pid 48215 python3 -m worker, 60 MiB) · flat · limit 512 MiB"
    );
    r.launcher = None;
    // A run nothing was sampled for prints no memory line.
    r.memory = Some(MemoryReport {
        peak_rss_bytes: 0,
        samples: Vec::new(),
        trend: None,
        peak_holder: None,
        ..memory(0, None)
    });
    assert_eq!(render(&r), "faultline: no crash · exit 0 · 1.0 s · 3 processes\n");
}

#[test]
fn a_timeout_without_stacks_and_an_oom_without_memory() {
    let mut r = base("x", Outcome::Timeout, 143, 5_000.0, 1);
    r.timeout = Some(timeout_info(5_000.0, Vec::new(), None));
    insta::assert_snapshot!(render(&r), @r"
    faultline: timed out after 5 s
      no stacks could be taken before the tree was stopped

    faultline: timed out after 5 s · exit 143 · 5.0 s · 1 process
    ");
    let r = base("x", Outcome::Oom, 137, 5_000.0, 1);
    insta::assert_snapshot!(render(&r), @r"
    faultline: out of memory

    faultline: out of memory · exit 137 · 5.0 s · 1 process
    ");
}

#[test]
fn a_running_python_loop_and_many_processes() {
    let main = "/work/cases/x/main.py";
    let mut frames = vec![nat("_PyEval_EvalFrameDefault", LIBPY, "Python/ceval.c:5000"), py("spin", main, 3)];
    frames.extend(c_call());
    let spinner = process(
        PID,
        ProcessRole::Main,
        &["python3", "main.py"],
        vec![thread(PID, "MainThread", true, "running", frames)],
    );
    let mut processes = vec![spinner];
    processes.extend((1..=10).map(|i| {
        process(
            PID + i,
            ProcessRole::Child,
            &["sleep", "600"],
            vec![thread(PID + i, "sleep", false, "sleeping", vec![nat("__GI___clock_nanosleep", LIBC, "")])],
        )
    }));
    let mut r = base("x", Outcome::Timeout, 143, 60_000.0, 11);
    r.timeout = Some(timeout_info(60_000.0, processes, Some("SIGTERM".into())));
    let text = render(&r);
    assert!(text.contains("  ⚠ MainThread (tid 48213) was running Python code at spin (main.py:3)"), "{text}");
    assert!(text.contains("  … 3 more processes left out here: the JSON report (--json) has every stack"), "{text}");
    assert!(text.contains("  … and 1 more\n"), "{text}");
}
