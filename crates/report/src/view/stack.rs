//! One thread's merged stack as people read it, whatever renders it: innermost first, the
//! user's frames and the culprit always shown, runs of library noise folded into one item,
//! recursion folded into one frame with a count.

use crate::diagnose::frames::{is_signal_plumbing, is_user_frame, module_basename, normalized_name, short_function};
use crate::diagnose::recursion::is_omission_marker;
use crate::model::{Culprit, Frame, FrameKind};
use crate::units::count;
use crate::view::text::{python_package, Paths};

/// Frames that are worth naming even inside a folded run: they say which path the
/// program was on (aborting, exiting, importing).
const LANDMARKS: &[&str] = &[
    "abort",
    "malloc_printerr",
    "__assert_fail",
    "_Py_FatalErrorFunc",
    "__run_exit_handlers",
    "_dl_fini",
    "Py_FinalizeEx",
    "_PyImport_LoadDynamicModuleWithSpec",
    "std::terminate",
];

/// A run of identical consecutive frames, or the marker for frames left out.
struct Group<'a> {
    frame: &'a Frame,
    count: u64,
}

fn same(a: &Frame, b: &Frame) -> bool {
    a.kind == b.kind && a.function == b.function && a.module == b.module && a.file == b.file && a.line == b.line
}

fn groups(frames: &[Frame]) -> Vec<Group<'_>> {
    let mut out: Vec<Group> = Vec::new();
    for frame in frames {
        let weight = u64::from(frame.repeated) + 1;
        match out.last_mut() {
            Some(g) if !is_omission_marker(frame) && !is_omission_marker(g.frame) && same(g.frame, frame) => {
                g.count += weight
            }
            _ => out.push(Group { frame, count: weight }),
        }
    }
    out
}

/// What to show of a stack.
pub(crate) struct StackView<'a> {
    pub frames: &'a [Frame],
    /// The frame to mark with `→`.
    pub culprit: Option<&'a Culprit>,
}

fn is_culprit(frame: &Frame, culprit: &Culprit) -> bool {
    frame.kind == FrameKind::Native
        && frame.function == culprit.function
        && frame.file == culprit.file
        && frame.line == culprit.line
        && frame.module.as_deref().map(module_basename) == culprit.module.as_deref().map(module_basename)
}

/// One entry of a stack as people read it, innermost first.
pub(crate) enum StackItem<'a> {
    /// A frame shown on its own line; `count` identical frames folded into it.
    Shown { frame: &'a Frame, count: u64, culprit: bool },
    /// The marker for frames the capture left out.
    Omitted(u64),
    /// A run of library frames folded into one line: each with its count, and a summary
    /// (`7 frames in libc.so.6 (abort, malloc_printerr)`).
    Folded { frames: Vec<(&'a Frame, u64)>, summary: String },
}

/// The stack cut into shown frames and folded runs: the user's frames, the culprit, the
/// innermost Python frame and repeated frames are shown; runs of library noise are folded.
pub(crate) fn stack_items<'a>(view: &StackView<'a>, paths: &Paths) -> Vec<StackItem<'a>> {
    let groups = groups(view.frames);
    let culprit = view.culprit.and_then(|c| groups.iter().position(|g| is_culprit(g.frame, c)));
    let innermost_python = groups.iter().position(|g| g.frame.kind == FrameKind::Python);
    let important: Vec<bool> = (0..groups.len())
        .map(|i| {
            let g = &groups[i];
            let frame = g.frame;
            let next_is_native_user = frame.kind == FrameKind::Native
                && groups.get(i + 1).is_some_and(|n| n.frame.kind == FrameKind::Native && is_user_frame(n.frame));
            is_user_frame(frame)
                || Some(i) == culprit
                || Some(i) == innermost_python
                || (i == 0 && !normalized_name(frame).is_some_and(|n| is_signal_plumbing(&n)))
                || next_is_native_user
                || is_omission_marker(frame)
                || g.count >= 3
        })
        .collect();

    let shown = |g: &Group<'a>, culprit: bool| {
        if is_omission_marker(g.frame) {
            StackItem::Omitted(u64::from(g.frame.repeated))
        } else {
            StackItem::Shown { frame: g.frame, count: g.count, culprit }
        }
    };
    let mut items = Vec::new();
    let mut i = 0;
    while i < groups.len() {
        if important[i] {
            items.push(shown(&groups[i], Some(i) == culprit));
            i += 1;
            continue;
        }
        let start = i;
        while i < groups.len() && !important[i] {
            i += 1;
        }
        let run = &groups[start..i];
        if run.len() == 1 && run[0].count == 1 {
            items.push(shown(&run[0], false));
        } else {
            items.push(StackItem::Folded {
                frames: run.iter().map(|g| (g.frame, g.count)).collect(),
                summary: fold_summary(run, paths),
            });
        }
    }
    items
}

/// `a`, `a and b`, `a, b and c`, `a, b, c and 4 more`.
pub(crate) fn list(items: &[String]) -> String {
    match items {
        [] => "?".into(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, c] => format!("{a}, {b} and {c}"),
        [a, b, c, rest @ ..] => format!("{a}, {b}, {c} and {} more", rest.len()),
    }
}

/// The frame that best says what a thread is doing: its innermost frame in the user's
/// code, else its innermost Python frame, else its innermost native frame that is not
/// signal plumbing.
pub(crate) fn telling_frame(frames: &[Frame]) -> Option<&Frame> {
    frames
        .iter()
        .find(|f| is_user_frame(f))
        .or_else(|| frames.iter().find(|f| f.is_python()))
        .or_else(|| crate::diagnose::frames::innermost_meaningful(frames))
}

/// `7 frames in libc.so.6 (abort, malloc_printerr)`.
fn fold_summary(run: &[Group], paths: &Paths) -> String {
    let total: u64 = run.iter().map(|g| g.count).sum();
    let mut modules: Vec<String> = Vec::new();
    let mut landmarks: Vec<String> = Vec::new();
    for g in run {
        let module = match g.frame.kind {
            FrameKind::Python => python_package(g.frame, paths),
            FrameKind::Native => g.frame.module.as_deref().map(module_basename).unwrap_or("?").to_string(),
        };
        if !modules.contains(&module) {
            modules.push(module);
        }
        if let Some(name) = normalized_name(g.frame).map(|n| short_function(&n)) {
            if g.frame.kind == FrameKind::Native && LANDMARKS.contains(&name.as_str()) && !landmarks.contains(&name) {
                landmarks.push(name);
            }
        }
    }
    let mut text = format!("{} in {}", count(total, "frame", "frames"), list(&modules));
    if !landmarks.is_empty() {
        text.push_str(&format!(" ({})", landmarks.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let s = |v: &[&str]| list(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["a"]), "a");
        assert_eq!(s(&["a", "b"]), "a and b");
        assert_eq!(s(&["a", "b", "c", "d", "e"]), "a, b, c and 2 more");
    }
}
