//! The stacks of a stopped tree (at a time or memory limit), process by process: in each,
//! one thread in full — the one a finding is about, else the one holding the GIL, else the
//! main thread — and every other thread on one line saying what it was doing.

use std::io::{self, Write};

use crate::diagnose::hang::describe;
use crate::diagnose::location::culprit_in;
use crate::model::HangFinding;
use crate::model::{ProcessRole, ProcessSnapshot, Thread};
use crate::stack::stack_lines;
use crate::threads::write_thread_lines;
use crate::units::count;
use crate::view::snapshot::{focus_thread, thread_label, NATIVE_FAULT_FINDINGS};
use crate::view::stack::StackView;
use crate::view::text::{short_command, Paths};
use crate::view::threads::group_label;
use crate::TerminalConfig;

/// Past these, the terminal says how many were left out; the JSON report has them all.
const MAX_PROCESSES: usize = 8;

/// Extra words for one process's header line (`1.1 GiB at the peak`).
pub(crate) type ProcessNote<'a> = &'a dyn Fn(&ProcessSnapshot) -> Option<String>;

pub(crate) fn write_processes(
    config: &TerminalConfig,
    processes: &[ProcessSnapshot],
    findings: &[HangFinding],
    note: ProcessNote,
    paths: &Paths,
    out: &mut dyn Write,
) -> io::Result<()> {
    for p in processes.iter().take(MAX_PROCESSES) {
        writeln!(out)?;
        write_process(config, p, findings, note, paths, out)?;
    }
    if processes.len() > MAX_PROCESSES {
        writeln!(out)?;
        let more = (processes.len() - MAX_PROCESSES) as u64;
        writeln!(
            out,
            "  … {} left out here: the JSON report (--json) has every stack",
            count(more, "more process", "more processes")
        )?;
    }
    Ok(())
}

fn write_process(
    config: &TerminalConfig,
    p: &ProcessSnapshot,
    findings: &[HangFinding],
    note: ProcessNote,
    paths: &Paths,
    out: &mut dyn Write,
) -> io::Result<()> {
    let role = match p.process {
        ProcessRole::Main => "main",
        ProcessRole::Child => "child",
    };
    let argv = if p.argv.is_empty() { p.executable.clone().unwrap_or_default() } else { short_command(&p.argv, 100) };
    let note = note(p).map(|n| format!(" — {n}")).unwrap_or_default();
    writeln!(out, "  pid {} {role}: {argv}{note}", p.pid)?;
    if p.threads.is_empty() {
        writeln!(out, "  no threads could be read")?;
        return Ok(());
    }
    let finding = findings.iter().find(|f| f.pid == p.pid && f.tid.is_some());
    let focus = focus_thread(p, finding);
    if let Some(thread) = focus {
        let marked = finding.is_some_and(|f| f.tid == Some(thread.tid) && NATIVE_FAULT_FINDINGS.contains(&f.id));
        write_full(config, thread, marked, paths, out)?;
    }
    let others: Vec<&Thread> = p.threads.iter().filter(|t| Some(t.tid) != focus.map(|f| f.tid)).collect();
    if others.is_empty() {
        return Ok(());
    }
    writeln!(out, "  other threads:")?;
    let line = |group: &[&Thread]| format!("{}: {}", group_label(group, thread_label), describe(group[0]));
    write_thread_lines(&others, "    ", line, out)
}

fn write_full(
    config: &TerminalConfig,
    thread: &Thread,
    marked: bool,
    paths: &Paths,
    out: &mut dyn Write,
) -> io::Result<()> {
    let label = thread_label(thread);
    if thread.frames.is_empty() {
        writeln!(out, "  no stack was taken for thread {label}")?;
        return Ok(());
    }
    writeln!(out, "  stack of thread {label}, innermost first:")?;
    let culprit = if marked { culprit_in(&thread.frames) } else { None };
    let view = StackView { frames: &thread.frames, culprit: culprit.as_ref() };
    for line in stack_lines(&view, paths, &config.style) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
