//! Generators of hostile inputs: text, frames, threads, captures and whole reports.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use crate::capture::{Capture, InterpreterState, Mapping, PytestState, Registers, SignalInfo};
use crate::model::{
    ExitInfo, Frame, HangFinding, MemoryHolder, MemoryReport, MemoryTrend, Outcome, ProcessRole, ProcessSnapshot,
    Report, SystemInfo, Thread, TimeoutInfo,
};

/// Pieces the parsers and renderers look for, and pieces that break naive slicing.
const FRAGMENTS: &[&str] = &[
    "",
    " ",
    "  ",
    "\n",
    "\t",
    "\r",
    "=",
    "==",
    ":",
    "::",
    "://",
    "@",
    "/",
    ".",
    "-",
    "_",
    "(",
    ")",
    "<",
    ">",
    "[",
    "]",
    "'",
    "\"",
    "\\",
    ",",
    ";",
    "&",
    "?",
    "#",
    "`",
    "0",
    "42",
    "0x",
    "ff",
    "é",
    "ß",
    "エラー",
    "\u{fffd}",
    "\u{85}",
    "\u{9b}",
    "\u{202e}",
    "\x1b",
    "\x1b]0;t\x07",
    "\x1b[2J",
    "\x07",
    "\0",
    "password",
    "token",
    "KEY",
    "Bearer",
    "Basic",
    "Authorization",
    "mysql",
    "-p",
    "redis-cli",
    "sshpass",
    "https",
    "postgres",
    "python3",
    "pytest",
    " (call)",
    " (setup)",
    "::test_",
    "tests/",
    ".py",
    ".so",
    ".c",
    "Fatal Python error: ",
    "Segmentation fault",
    "Aborted",
    "Assertion `",
    "' failed.",
    "free(): ",
    "double free",
    "malloc(): ",
    "corrupted",
    "terminate called after throwing",
    "what(): ",
    "thread '",
    "' panicked at ",
    "qFatal",
    "File \"",
    "\", line ",
    " in ",
    "Current thread 0x",
    "Thread 0x",
    "(most recent call first):",
    "Extension modules: ",
    "/site-packages/",
    "/dist-packages/",
    "/lib/python3",
    "3.11",
    "<frozen ",
    "<module>",
    "_PyEval_EvalFrameDefault",
    "PyInit_",
    "abort",
    "raise",
    "__GI_",
    "std::",
    "operator<",
    "~",
    "MainThread",
    "(anonymous namespace)",
    "[stack]",
    "[heap]",
    "r-xp",
    "---p",
    " (deleted)",
    "SigCgt:",
    "VmRSS:",
    "oom_kill ",
    "cgroup2",
    "/sys/fs/cgroup",
    "\\040",
    "\\",
    "s",
    "ms",
    "min",
    "h",
    "KiB",
    "MiB",
    "GB",
    "1.5",
    "-1",
    "999999999999999999999",
];

/// Arbitrary text: Unicode of any kind, or words of [`FRAGMENTS`].
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), vec(select(FRAGMENTS), 0..10).prop_map(|parts| parts.concat()),]
}

/// Arbitrary bytes, or the bytes of [`text`].
pub(crate) fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..256), text().prop_map(String::into_bytes)]
}

/// The text of `/proc/<pid>/maps`: lines of the kernel's shape with any numbers and paths,
/// mixed with lines of any text.
pub(crate) fn maps_text() -> impl Strategy<Value = String> {
    let line = (
        any::<u64>(),
        any::<u64>(),
        select(&["r-xp", "---p", "rw-p", "r--s", "rwxp", "xyz"][..]),
        any::<u32>(),
        any::<(u8, u8)>(),
        any::<u64>(),
        prop_oneof![Just(String::new()), Just("[stack]".to_owned()), Just("[vdso]".to_owned()), text()],
    )
        .prop_map(|(start, end, perms, offset, (major, minor), inode, path)| {
            format!("{start:x}-{end:x} {perms} {offset:08x} {major:02x}:{minor:02x} {inode} {path}")
        });
    vec(prop_oneof![3 => line, 1 => text()], 0..8).prop_map(|lines| lines.join("\n"))
}

pub(crate) fn texts(max: usize) -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..max)
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

/// Any number, the special ones included.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), 0.0..1e7]
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        any::<bool>(),
        (opt_text(), opt_text(), opt_text(), opt_text()),
        (proptest::option::of(any::<u32>()), any::<u64>(), any::<bool>(), prop_oneof![Just(0u32), any::<u32>()]),
    )
        .prop_map(|(python, (function, qualname, module, file), (line, address, inlined, repeated))| {
            let mut frame = if python {
                Frame::python(function.unwrap_or_default(), file.clone().unwrap_or_default(), line, module)
            } else {
                let mut f = Frame::native(function, module, address);
                f.file = file;
                f.line = line;
                f.inlined = inlined;
                f
            };
            if qualname.is_some() {
                frame.qualname = qualname;
            }
            frame.repeated = repeated;
            frame
        })
}

pub(crate) fn frames() -> impl Strategy<Value = Vec<Frame>> {
    vec(frame(), 0..8)
}

fn thread() -> impl Strategy<Value = Thread> {
    (any::<i32>(), opt_text(), any::<bool>(), proptest::option::of(any::<bool>()), opt_text(), frames()).prop_map(
        |(tid, name, crashed, holds_gil, state, frames)| Thread { tid, name, crashed, holds_gil, state, frames },
    )
}

fn threads() -> impl Strategy<Value = Vec<Thread>> {
    vec(thread(), 0..4)
}

fn mapping() -> impl Strategy<Value = Mapping> {
    (any::<u64>(), any::<u64>(), any::<(bool, bool, bool)>(), opt_text()).prop_map(
        |(start, end, (readable, writable, executable), path)| Mapping {
            start,
            end,
            readable,
            writable,
            executable,
            path,
        },
    )
}

fn role() -> impl Strategy<Value = ProcessRole> {
    prop_oneof![Just(ProcessRole::Main), Just(ProcessRole::Child)]
}

pub(crate) fn capture() -> impl Strategy<Value = Capture> {
    let signal = (
        prop_oneof![1..65i32, any::<i32>()],
        prop_oneof![-8..8i32, any::<i32>()],
        proptest::option::of(prop_oneof![0..0x2_0000u64, any::<u64>()]),
        proptest::option::of(any::<i32>()),
    )
        .prop_map(|(signo, code, fault_address, sender_pid)| SignalInfo { signo, code, fault_address, sender_pid });
    let registers = proptest::option::of(any::<(u64, u64, u64, u64)>())
        .prop_map(|r| r.map(|(ip, sp, bp, fs_base)| Registers { ip, sp, bp, fs_base }));
    let interpreter = prop_oneof![
        Just(InterpreterState::Running),
        text().prop_map(InterpreterState::Unavailable),
        Just(InterpreterState::NotPython),
    ];
    let pytest = (opt_text(), any::<bool>(), opt_text()).prop_map(|(current_test, running_pytest, xdist_worker)| {
        PytestState { current_test, running_pytest, xdist_worker }
    });
    (
        (any::<i32>(), any::<i32>(), role(), opt_text(), texts(4)),
        (signal, registers, vec(mapping(), 0..5), threads()),
        (interpreter, pytest, opt_text(), texts(6)),
        (any::<bool>(), number(), opt_text()),
    )
        .prop_map(
            |(
                (pid, tid, role, executable, argv),
                (signal, registers, maps, threads),
                (interpreter, pytest, abort_message, stderr_tail),
                (handler_installed, held_ms, sender_command),
            )| Capture {
                pid,
                tid,
                role,
                executable,
                argv,
                signal,
                registers,
                maps,
                threads,
                interpreter,
                pytest,
                abort_message,
                stderr_tail,
                handler_installed,
                held_ms,
                sender_command,
            },
        )
}

fn snapshot() -> impl Strategy<Value = ProcessSnapshot> {
    (any::<i32>(), role(), opt_text(), texts(4), threads()).prop_map(|(pid, process, executable, argv, threads)| {
        ProcessSnapshot { pid, process, executable, argv, threads }
    })
}

fn timeout() -> impl Strategy<Value = TimeoutInfo> {
    let finding = (text(), any::<i32>(), proptest::option::of(any::<i32>()), text())
        .prop_map(|(id, pid, tid, text)| HangFinding { id, pid, tid, text });
    (number(), vec(snapshot(), 0..3), opt_text(), vec(finding, 0..3)).prop_map(
        |(limit_ms, processes, stopped_with, findings)| TimeoutInfo { limit_ms, processes, stopped_with, findings },
    )
}

fn memory() -> impl Strategy<Value = MemoryReport> {
    let trend = (prop_oneof![Just("growing".to_owned()), text()], number(), number(), any::<usize>())
        .prop_map(|(verdict, bytes_per_s, r2, samples)| MemoryTrend { verdict, bytes_per_s, r2, samples });
    let holder =
        (any::<i32>(), any::<u64>(), texts(4)).prop_map(|(pid, rss_bytes, argv)| MemoryHolder { pid, rss_bytes, argv });
    (
        (any::<u64>(), proptest::option::of(any::<u64>()), vec((number(), any::<u64>()), 0..6)),
        (proptest::option::of(trend), proptest::option::of(vec(snapshot(), 0..3)), proptest::option::of(holder)),
        (proptest::option::of(any::<u64>()), opt_text(), vec(any::<i32>(), 0..3)),
    )
        .prop_map(
            |(
                (peak_rss_bytes, limit_bytes, samples),
                (trend, snapshot, peak_holder),
                (warn_bytes, enforcement, oom_killed),
            )| {
                MemoryReport {
                    peak_rss_bytes,
                    limit_bytes,
                    samples,
                    trend,
                    snapshot,
                    peak_holder,
                    warn_bytes,
                    enforcement,
                    oom_killed,
                }
            },
        )
}

fn system() -> impl Strategy<Value = SystemInfo> {
    (opt_text(), opt_text(), proptest::option::of(any::<usize>()), opt_text(), opt_text(), text()).prop_map(
        |(host, kernel, cpu_count, cpu_model, python_version, faultline_version)| SystemInfo {
            host,
            kernel,
            cpu_count,
            cpu_model,
            memory_total_bytes: None,
            memory_available_bytes: None,
            python_version,
            faultline_version,
        },
    )
}

fn outcome() -> impl Strategy<Value = Outcome> {
    select(
        &[
            Outcome::Passed,
            Outcome::Failed,
            Outcome::Crashed,
            Outcome::Timeout,
            Outcome::Oom,
            Outcome::Killed,
            Outcome::Error,
        ][..],
    )
}

/// A whole report; its crashes are diagnosed from arbitrary captures, as a run makes them.
pub(crate) fn report() -> impl Strategy<Value = Report> {
    (
        (any::<u32>(), text(), texts(4), opt_text(), opt_text(), number(), outcome()),
        (any::<i32>(), opt_text(), any::<bool>()),
        (vec(capture(), 0..3), proptest::option::of(timeout()), proptest::option::of(memory())),
        (proptest::option::of(system()), any::<u32>(), opt_text(), proptest::option::of(launcher())),
    )
        .prop_map(
            |(
                (schema_version, faultline_version, command, cwd, started_at, duration_ms, outcome),
                (code, signal, core_dumped),
                (captures, timeout, memory),
                (system, processes_started, settings_file, launcher),
            )| Report {
                schema_version,
                faultline_version,
                command,
                cwd,
                started_at,
                duration_ms,
                outcome,
                exit: ExitInfo { code, signal, core_dumped },
                crashes: captures.iter().map(crate::diagnose::diagnose).collect(),
                timeout,
                memory,
                system,
                processes_started,
                settings_file,
                launcher,
            },
        )
}

fn launcher() -> impl Strategy<Value = crate::model::Launcher> {
    (text(), opt_text(), any::<u32>()).prop_map(|(program, became, processes)| crate::model::Launcher {
        program,
        became,
        processes,
    })
}
