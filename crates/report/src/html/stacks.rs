//! Stacks, threads and process snapshots as template rows. The folding is the terminal
//! report's ([`crate::view::stack::stack_items`]): the same frames are shown, the same
//! runs of library frames are folded, the same frame is the culprit.

use crate::diagnose::frames::{file_basename, is_user_frame};
use crate::diagnose::hang::describe;
use crate::diagnose::location::culprit_in;
use crate::html::prose::Prose;
use crate::model::HangFinding;
use crate::model::{Culprit, Frame, FrameKind, ProcessRole, ProcessSnapshot, Thread};
use crate::units::{count, thousands};
use crate::view::crash::{other_thread_label, thread_activity};
use crate::view::snapshot::{focus_thread, thread_label, NATIVE_FAULT_FINDINGS};
use crate::view::stack::{stack_items, StackItem, StackView};
use crate::view::text::{readable_function, short_command, Paths};
use crate::view::threads::{group_label, same_stack_groups};

/// One frame of a stack.
pub(crate) struct FrameRow {
    /// CSS classes: `frame`, then `python` or `native`, `user`, `culprit`.
    pub class: String,
    pub name: String,
    /// `shapes.py:14`, `_geom.c:53`; empty when unknown.
    pub place: String,
    /// The full path, for the tooltip.
    pub file: String,
    /// The native object (`_geom.cpython-311-x86_64-linux-gnu.so`); empty for Python.
    pub module: String,
    /// `× 15,900` for folded recursion; empty otherwise.
    pub count: String,
    pub inlined: bool,
}

/// One line of a stack: a frame, a folded run of library frames, or frames left out.
pub(crate) struct StackRow {
    /// The summary of a folded run (`7 frames in libc.so.6 (abort)`); `None` for a frame.
    pub folded: Option<String>,
    pub frames: Vec<FrameRow>,
    /// `… 15,000 more frames left out`.
    pub omitted: Option<String>,
}

/// A thread (or threads with the same stack) shown folded: one line saying what it was
/// doing, the stack inside.
pub(crate) struct ThreadView {
    pub summary: Prose,
    pub stack: Vec<StackRow>,
}

/// One process of a stopped tree.
pub(crate) struct ProcessView {
    /// `pid 48213 main: python3 main.py`.
    pub header: String,
    /// The thread shown open, with its stack.
    pub focus: Option<ThreadView>,
    pub others: Vec<ThreadView>,
}

pub(crate) fn frame_row(frame: &Frame, count: u64, culprit: bool, paths: &Paths) -> FrameRow {
    let mut class = String::from("frame");
    class.push_str(match frame.kind {
        FrameKind::Python => " python",
        FrameKind::Native => " native",
    });
    if is_user_frame(frame) {
        class.push_str(" user");
    }
    if culprit {
        class.push_str(" culprit");
    }
    let (name, place, module) = match frame.kind {
        FrameKind::Python => {
            let file = frame.file.as_deref().map(|f| paths.python_file(f)).unwrap_or_default();
            (frame.display_name().unwrap_or("?").to_string(), with_line(file, frame.line), String::new())
        }
        FrameKind::Native => {
            let name = match (&frame.function, &frame.address) {
                (Some(f), _) => readable_function(f),
                (None, Some(a)) => a.clone(),
                (None, None) => "??".into(),
            };
            let file = frame.file.as_deref().map(file_basename).unwrap_or_default().to_string();
            let module = frame.module.as_deref().map(file_basename).unwrap_or("?").to_string();
            (name, with_line(file, frame.line), module)
        }
    };
    FrameRow {
        class,
        name,
        place,
        file: frame.file.clone().unwrap_or_default(),
        module,
        count: if count > 1 { format!("× {}", thousands(count)) } else { String::new() },
        inlined: frame.inlined,
    }
}

fn with_line(file: String, line: Option<u32>) -> String {
    match line {
        Some(line) if !file.is_empty() => format!("{file}:{line}"),
        _ => file,
    }
}

/// The rows of one stack, innermost first, `culprit` marked.
pub(crate) fn stack_rows(frames: &[Frame], culprit: Option<&Culprit>, paths: &Paths) -> Vec<StackRow> {
    let view = StackView { frames, culprit };
    stack_items(&view, paths)
        .into_iter()
        .map(|item| match item {
            StackItem::Shown { frame, count, culprit } => {
                StackRow { folded: None, frames: vec![frame_row(frame, count, culprit, paths)], omitted: None }
            }
            StackItem::Omitted(n) => StackRow {
                folded: None,
                frames: Vec::new(),
                omitted: Some(format!("… {} left out", count(n, "more frame", "more frames"))),
            },
            StackItem::Folded { frames, summary } => StackRow {
                folded: Some(summary),
                frames: frames.into_iter().map(|(f, n)| frame_row(f, n, false, paths)).collect(),
                omitted: None,
            },
        })
        .collect()
}

/// The threads beside the crashed one, those with the same stack together:
/// `Worker-1 (tid 12, holds the GIL): shapes.py:14 in bbox`.
pub(crate) fn other_threads(threads: &[&Thread], paths: &Paths) -> Vec<ThreadView> {
    same_stack_groups(threads)
        .iter()
        .map(|group| {
            let first = group[0];
            let summary =
                format!("{}: {}", group_label(group, other_thread_label), thread_activity(&first.frames, paths));
            ThreadView { summary: Prose::marked(&summary), stack: stack_rows(&first.frames, None, paths) }
        })
        .collect()
}

/// The processes of a stopped tree, as the terminal shows them: in each, the thread a
/// finding is about (else the one holding the GIL, else the main thread) open, the others
/// folded with what they were doing.
pub(crate) fn processes(list: &[ProcessSnapshot], findings: &[HangFinding], paths: &Paths) -> Vec<ProcessView> {
    list.iter().map(|p| process(p, findings, paths)).collect()
}

fn process(p: &ProcessSnapshot, findings: &[HangFinding], paths: &Paths) -> ProcessView {
    let role = match p.process {
        ProcessRole::Main => "main",
        ProcessRole::Child => "child",
    };
    let argv = if p.argv.is_empty() { p.executable.clone().unwrap_or_default() } else { short_command(&p.argv, 200) };
    let finding = findings.iter().find(|f| f.pid == p.pid && f.tid.is_some());
    let focus = focus_thread(p, finding);
    let focus_view = focus.map(|thread| {
        let marked = finding.is_some_and(|f| f.tid == Some(thread.tid) && NATIVE_FAULT_FINDINGS.contains(&f.id));
        let culprit = if marked { culprit_in(&thread.frames) } else { None };
        ThreadView {
            summary: Prose::plain(format!("thread {}", thread_label(thread))),
            stack: stack_rows(&thread.frames, culprit.as_ref(), paths),
        }
    });
    let others: Vec<&Thread> = p.threads.iter().filter(|t| Some(t.tid) != focus.map(|f| f.tid)).collect();
    let others = same_stack_groups(&others)
        .iter()
        .map(|group| ThreadView {
            summary: Prose::marked(&format!("{}: {}", group_label(group, thread_label), describe(group[0]))),
            stack: stack_rows(&group[0].frames, None, paths),
        })
        .collect();
    ProcessView { header: format!("pid {} {role}: {argv}", p.pid), focus: focus_view, others }
}
