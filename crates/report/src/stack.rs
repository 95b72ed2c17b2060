//! One thread's merged stack as people read it: innermost first, the user's frames and the
//! culprit always shown, runs of library noise folded into one line, recursion folded into
//! one frame with a count.

use crate::diagnose::frames::is_user_frame;
use crate::model::Frame;
use crate::units::{count, thousands};
use crate::view::stack::{stack_items, StackItem, StackView};
use crate::view::text::{frame_text, Paths};
use faultline_model::style::{Role, TerminalStyle};

/// The lines of a stack, each already indented and styled.
pub(crate) fn stack_lines(view: &StackView, paths: &Paths, style: &TerminalStyle) -> Vec<String> {
    stack_items(view, paths)
        .into_iter()
        .map(|item| match item {
            StackItem::Shown { frame, count, culprit } => shown_line(frame, count, culprit, paths, style),
            StackItem::Omitted(n) => {
                let text = format!("      … {} left out", count(n, "more frame", "more frames"));
                style.paint(Role::Faint, &text)
            }
            StackItem::Folded { summary, .. } => style.paint(Role::Faint, &format!("      … {summary}")),
        })
        .collect()
}

fn shown_line(frame: &Frame, count: u64, culprit: bool, paths: &Paths, style: &TerminalStyle) -> String {
    let mut text = frame_text(frame, paths);
    if count > 1 {
        text.push_str(&format!("  × {}", thousands(count)));
    }
    let text = if is_user_frame(frame) || culprit { style.paint(Role::Strong, &text) } else { text };
    if culprit {
        format!("  {} {text}", style.paint(Role::Alarm, "→"))
    } else {
        format!("    {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures::{nat, LIBC};

    #[test]
    fn a_lone_library_frame_is_shown_not_folded() {
        let frames =
            vec![nat("__memset_avx2_unaligned_erms", LIBC, "memset.S:328"), nat("clear", "_gfx.so", "_gfx.c:98")];
        let culprit = crate::diagnose::location::culprit_in(&frames);
        let view = StackView { frames: &frames, culprit: culprit.as_ref() };
        let lines = stack_lines(&view, &Paths::new(None), &TerminalStyle::plain());
        assert_eq!(
            lines,
            vec!["    __memset_avx2_unaligned_erms (libc.so.6) memset.S:328", "  → clear (_gfx.so) _gfx.c:98"]
        );
    }
}
