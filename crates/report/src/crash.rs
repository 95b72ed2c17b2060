//! The terminal section for one crash: header, fault, message, test and phase, the
//! crashed thread's stack, one line per other thread, hints, signature, stderr tail.

use std::io::{self, Write};

use crate::diagnose::frames::{file_basename, is_user_frame, short_function};
use crate::model::{Crash, Frame, Phase, ProcessRole, Thread};
use crate::stack::{stack_lines, telling_frame, StackView};
use crate::stderr::{shown_tail, tail_heading};
use crate::style::Role;
use crate::text::{frame_text, short_command, short_place, Paths};
use crate::threads::{group_label, write_thread_lines};
use crate::TerminalConfig;

pub(crate) fn write_crash(
    config: &TerminalConfig,
    crash: &Crash,
    paths: &Paths,
    out: &mut dyn Write,
) -> io::Result<()> {
    let style = &config.style;
    writeln!(out, "{}", header(config, crash))?;
    if let Some(detail) = &crash.fault_detail {
        let code = crash.si_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
        // A signal someone sent is not a fault of the CPU: label it for what it is.
        let label = if sent_by_a_process(crash) { "signal" } else { "fault" };
        writeln!(out, "  {label}{code}: {detail}")?;
    }
    if let Some(message) = &crash.message {
        writeln!(out, "  message: {message}")?;
    }
    if let Some(test) = &crash.test {
        let when = test.when.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
        writeln!(out, "  test: {}{when}", test.nodeid)?;
    }
    writeln!(out, "  phase: {}", phase_text(crash))?;
    // The root's command line is the one the user typed; a child's says which one it was.
    if crash.process == ProcessRole::Child {
        writeln!(out, "  command: {}", crash_command(crash))?;
    }

    let crashed = crash.crashed_thread();
    if let Some(thread) = crashed {
        writeln!(out)?;
        let who = match &thread.name {
            Some(name) => format!("thread {name} (tid {})", thread.tid),
            None if thread.tid == crash.pid => format!("the main thread (tid {})", thread.tid),
            None => format!("tid {}", thread.tid),
        };
        if thread.frames.is_empty() {
            writeln!(out, "  no stack was captured for {who}")?;
        } else {
            writeln!(out, "  stack of {who}, innermost first:")?;
            let view = StackView { frames: &thread.frames, culprit: crash.culprit.as_ref() };
            for line in stack_lines(&view, paths, style) {
                writeln!(out, "{line}")?;
            }
        }
    }

    let others: Vec<_> = crash.threads.iter().filter(|t| Some(t.tid) != crashed.map(|c| c.tid)).collect();
    if !others.is_empty() {
        writeln!(out)?;
        writeln!(out, "  other threads:")?;
        let line = |group: &[&Thread]| {
            format!("{}: {}", group_label(group, other_thread_label), thread_activity(&group[0].frames, paths))
        };
        write_thread_lines(&others, "    ", line, out)?;
    }

    if !crash.hints.is_empty() {
        writeln!(out)?;
        for h in &crash.hints {
            writeln!(out, "  {} {}", style.paint(Role::Hint, "hint:"), h.text)?;
        }
    }
    if config.show_signature {
        writeln!(out, "  {}", style.paint(Role::Faint, &format!("signature: {}", crash.signature)))?;
    }

    let tail = shown_tail(&crash.stderr_tail, config.stderr_lines);
    if !tail.is_empty() {
        writeln!(out)?;
        writeln!(out, "  {}:", tail_heading(tail.len()))?;
        for line in tail {
            writeln!(out, "    {}", style.paint(Role::Faint, &format!("| {line}")))?;
        }
    }
    Ok(())
}

/// `faultline: SIGSEGV (null-deref) in bbox (_geom.c:53) — pid 123 main, thread MainThread`
fn header(config: &TerminalConfig, crash: &Crash) -> String {
    let style = &config.style;
    let what = style.paint(Role::Alarm, &format!("{} ({})", crash.signal, crash.kind.as_str()));
    let place = location(crash).map(|p| format!(" in {p}")).unwrap_or_default();
    let role = match crash.process {
        ProcessRole::Main => "main",
        ProcessRole::Child => "child",
    };
    let thread = match &crash.thread_name {
        Some(name) => format!("thread {name}"),
        None if crash.tid == crash.pid => "main thread".into(),
        None => format!("tid {}", crash.tid),
    };
    format!("{} {what}{place} — pid {} {role}, {thread}", style.paint(Role::Strong, "faultline:"), crash.pid)
}

/// The crashed process's command line (redacted with the rest of the report), else its
/// executable.
fn crash_command(crash: &Crash) -> String {
    match (&crash.argv[..], &crash.executable) {
        ([], Some(exe)) => short_command(std::slice::from_ref(exe), COMMAND_WIDTH),
        ([], None) => "(unknown)".into(),
        (argv, _) => short_command(argv, COMMAND_WIDTH),
    }
}

/// A child's command line is cut past this many characters.
const COMMAND_WIDTH: usize = 200;

/// `Worker-1 (tid 12, holds the GIL)`: a thread beside the crashed one.
pub(crate) fn other_thread_label(t: &Thread) -> String {
    let name = t.name.clone().unwrap_or_else(|| "(unnamed)".into());
    let gil = if t.holds_gil == Some(true) { ", holds the GIL" } else { "" };
    format!("{name} (tid {}{gil})", t.tid)
}

/// `bbox (_geom.c:53)`: the culprit, else the innermost Python frame, else frame 0.
pub(crate) fn location(crash: &Crash) -> Option<String> {
    if let Some(c) = &crash.culprit {
        let function = c.function.as_deref().map(short_function).unwrap_or_else(|| "??".into());
        let place = match (&c.file, c.line, &c.module) {
            (Some(file), Some(line), _) => format!("{}:{line}", file_basename(file)),
            (Some(file), None, _) => file_basename(file).to_string(),
            (None, _, Some(module)) => file_basename(module).to_string(),
            (None, _, None) => "?".into(),
        };
        return Some(format!("{function} ({place})"));
    }
    if let Some(p) = &crash.python {
        let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
        return Some(format!("{} ({}{line})", p.function, file_basename(&p.file)));
    }
    let frame = crash.crashed_thread().and_then(|t| crate::diagnose::frames::innermost_meaningful(&t.frames))?;
    let function = frame.function.as_deref().map(short_function)?;
    Some(format!("{function} ({})", short_place(frame, &Paths::default())))
}

/// `threading.py:1112 in join ← main.py:28 in main`: where the thread is, and the user
/// code that got it there when that is further out.
pub(crate) fn thread_activity(frames: &[Frame], paths: &Paths) -> String {
    let Some(telling) = telling_frame(frames) else {
        return "no stack".into();
    };
    let innermost_python = frames.iter().find(|f| f.is_python());
    match innermost_python {
        Some(py) if !std::ptr::eq(py, telling) && is_user_frame(telling) => {
            format!("{} ← {}", frame_text(py, paths), frame_text(telling, paths))
        }
        _ => frame_text(telling, paths),
    }
}

pub(crate) fn sent_by_a_process(crash: &Crash) -> bool {
    matches!(crash.si_code.as_deref(), Some("SI_USER" | "SI_TKILL" | "SI_QUEUE"))
}

fn is_pytest(crash: &Crash) -> bool {
    crash.test.is_some() || crash.argv.iter().any(|a| a.contains("pytest") || a.contains("py.test"))
}

pub(crate) fn phase_text(crash: &Crash) -> String {
    match crash.phase {
        Phase::Shutdown => {
            let after =
                if is_pytest(crash) { "after all tests had finished" } else { "after the program had finished" };
            format!("shutdown — the crash happened at interpreter shutdown, {after}")
        }
        Phase::Import => "import — while a module was being imported".into(),
        Phase::Startup => "startup — before any Python code ran".into(),
        Phase::Test => "test".into(),
        Phase::Run => "run".into(),
    }
}
