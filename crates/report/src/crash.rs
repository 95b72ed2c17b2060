//! The terminal section for one crash: header, fault, message, test and phase, the
//! crashed thread's stack, one line per other thread, hints, signature, stderr tail.

use std::io::{self, Write};

use crate::model::{Crash, ProcessRole, Thread};
use crate::stack::stack_lines;
use crate::threads::write_thread_lines;
use crate::view::crash::{
    kind_label, location, other_thread_label, phase_text, pytest_progress_lines, python_frames_note,
    sanitizer_stack_title, sent_by_a_process, thread_activity,
};
use crate::view::stack::StackView;
use crate::view::stderr::{shown_tail, tail_heading};
use crate::view::text::{short_command, Paths};
use crate::view::threads::group_label;
use crate::TerminalConfig;
use faultline_model::style::Role;

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
        let label = match (&crash.sanitizer, sent_by_a_process(crash)) {
            (Some(_), _) => "memory",
            (None, true) => "signal",
            (None, false) => "fault",
        };
        let code = if crash.sanitizer.is_some() { String::new() } else { code };
        writeln!(out, "  {label}{code}: {detail}")?;
    }
    if let Some(message) = &crash.message {
        writeln!(out, "  message: {message}")?;
        if crash.message_untied {
            writeln!(
                out,
                "    (read from stderr, which the whole tree shares: this process's stack does not show the runtime that writes it, so another process may have)"
            )?;
        }
    }
    if let Some(test) = &crash.test {
        let when = test.when.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
        writeln!(out, "  test: {}{when}", test.nodeid)?;
    }
    writeln!(out, "  phase: {}", phase_text(crash))?;
    if let Some(progress) = &crash.pytest {
        for line in pytest_progress_lines(progress) {
            writeln!(out, "  {line}")?;
        }
    }
    // The root's command line is the one the user typed; a child's says which one it was.
    if crash.process == ProcessRole::Child {
        writeln!(out, "  command: {}", crash_command(crash))?;
    }

    let crashed = crash.crashed_thread();
    if let Some(thread) = crashed {
        writeln!(out)?;
        let who = match &thread.name {
            Some(name) => format!("thread {name} (tid {})", thread.tid),
            None if thread.tid == crash.pid.main_thread() => format!("the main thread (tid {})", thread.tid),
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
            if let Some(note) = python_frames_note(thread) {
                writeln!(out, "    {}", style.paint(Role::Faint, &format!("({note})")))?;
            }
        }
    }
    if let Some(sanitizer) = &crash.sanitizer {
        for stack in sanitizer.extra_stacks() {
            writeln!(out)?;
            writeln!(out, "  {}:", sanitizer_stack_title(&sanitizer.tool, stack))?;
            let view = StackView { frames: &stack.frames, culprit: None };
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
    let what = style.paint(Role::Alarm, &format!("{} ({})", crash.signal, kind_label(crash)));
    let place = location(crash).map(|p| format!(" in {p}")).unwrap_or_default();
    let role = match crash.process {
        ProcessRole::Main => "main",
        ProcessRole::Child => "child",
    };
    let thread = match &crash.thread_name {
        Some(name) => format!("thread {name}"),
        None if crash.tid == crash.pid.main_thread() => "main thread".into(),
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
