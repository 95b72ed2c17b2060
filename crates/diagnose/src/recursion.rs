//! Recursion in a stack: finding the deepest repeating run, and capping huge stacks.
//!
//! A runaway recursion leaves thousands of frames that say one thing. Diagnosis needs the
//! run (which function, how deep); the report must not carry 15,900 copies of it.

use crate::frames::normalized_name;
use crate::model::{Frame, FrameKind};

/// The longest pattern we look for: mutual recursion through a few helpers, or a Python
/// function that recurses through the interpreter's call frames.
const MAX_PERIOD: usize = 8;

/// A run of frames where one pattern of `period` functions repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recursion {
    /// Index of the innermost frame of the run.
    pub start: usize,
    /// Frames covered by the run.
    pub frames: usize,
    pub period: usize,
    /// How many times the pattern repeats (`frames / period`).
    pub depth: usize,
    /// The pattern's functions, innermost first (normalized; `?` when unsymbolized).
    pub functions: Vec<String>,
    /// Whether the pattern is made of Python frames only.
    pub python: bool,
}

/// Runs at least this deep are pathological for native code: evidence of runaway recursion.
pub const DEEP_RECURSION_FRAMES: usize = 1000;

impl Recursion {
    pub fn is_deep(&self) -> bool {
        self.frames >= DEEP_RECURSION_FRAMES
    }
}

/// What makes two frames "the same function" for recursion: kind, name and module (or
/// file), not line or address, which differ between the call sites of one function.
fn recursion_key(frame: &Frame) -> String {
    match (frame.kind, normalized_name(frame)) {
        (FrameKind::Python, Some(name)) => {
            format!("py:{name}@{}", frame.file.as_deref().unwrap_or(""))
        }
        (FrameKind::Native, Some(name)) => {
            format!("c:{name}@{}", frame.module.as_deref().unwrap_or(""))
        }
        (_, None) => format!("?:{}", frame.address.as_deref().unwrap_or("")),
    }
}

/// The deepest repeating run (period 1 to 8) in a stack, if any pattern repeats at least
/// twice. Frames already folded (`repeated`) count with their full weight.
pub fn deepest_recursion(frames: &[Frame]) -> Option<Recursion> {
    let keys: Vec<String> = frames.iter().map(recursion_key).collect();
    let weights: Vec<usize> = frames.iter().map(|f| f.repeated as usize + 1).collect();
    let mut best: Option<(usize, usize, usize)> = None; // (covered weight, start, period)
    for period in 1..=MAX_PERIOD.min(keys.len() / 2) {
        let mut i = period;
        while i < keys.len() {
            if keys[i] != keys[i - period] {
                i += 1;
                continue;
            }
            let run_start = i - period;
            while i < keys.len() && keys[i] == keys[i - period] {
                i += 1;
            }
            let covered: usize = weights[run_start..i].iter().sum();
            // Folded frames stand for repeats of themselves, which only a period-1 pattern
            // can express; for longer periods count frames as they are.
            let covered = if period == 1 { covered } else { i - run_start };
            if covered >= 2 * period && best.is_none_or(|(c, _, _)| covered > c) {
                best = Some((covered, run_start, period));
            }
        }
    }
    // A single folded frame is a recursion on its own.
    for (index, frame) in frames.iter().enumerate() {
        let covered = weights[index];
        if frame.repeated > 0 && best.is_none_or(|(c, _, _)| covered > c) {
            best = Some((covered, index, 1));
        }
    }
    let (covered, start, period) = best?;
    let pattern = &frames[start..start + period];
    Some(Recursion {
        start,
        frames: covered,
        period,
        depth: covered / period,
        functions: pattern.iter().map(|f| normalized_name(f).unwrap_or_else(|| "?".into())).collect(),
        python: pattern.iter().all(|f| f.kind == FrameKind::Python),
    })
}

/// Whether a deep native stack was cut short by the unwinder: its outermost native frame is
/// not where threads begin (`_start`, `__libc_start_main`, `start_thread`, `clone`).
/// Recursion counts from such a stack are lower bounds.
pub fn looks_truncated(frames: &[Frame]) -> bool {
    let native: usize = frames.iter().filter(|f| f.kind == FrameKind::Native).map(|f| f.repeated as usize + 1).sum();
    if native < DEEP_RECURSION_FRAMES {
        return false;
    }
    let outermost = frames.iter().rev().find(|f| f.kind == FrameKind::Native).and_then(normalized_name);
    !outermost.is_some_and(|n| {
        matches!(n.as_str(), "_start" | "start_thread" | "clone" | "clone3" | "thread_start" | "__clone" | "__clone3")
            || n.starts_with("__libc_start")
    })
}

/// Threads with more frames than this are capped in the report.
pub const CAP_THRESHOLD: usize = 1000;
const KEEP_INNER: usize = 200;
const KEEP_OUTER: usize = 50;

/// Caps a huge stack for the report.
///
/// Over 1,000 frames, runs of consecutive identical frames (same kind, function, module,
/// file and line) are folded into their first frame, whose `repeated` then counts the
/// frames folded into it. If the stack is still over 1,000 frames (mutual recursion, say),
/// the innermost 200 and outermost 50 are kept, and one marker frame stands for the rest:
/// a native frame with no function, module or address whose `repeated` is the number of
/// frames left out (see [`is_omission_marker`]). Smaller stacks are returned unchanged.
pub fn cap_frames(frames: &[Frame]) -> Vec<Frame> {
    if frames.len() <= CAP_THRESHOLD {
        return frames.to_vec();
    }
    let folded = fold_identical_runs(frames);
    if folded.len() <= CAP_THRESHOLD {
        return folded;
    }
    let omitted: usize = folded[KEEP_INNER..folded.len() - KEEP_OUTER].iter().map(|f| f.repeated as usize + 1).sum();
    let mut capped = folded[..KEEP_INNER].to_vec();
    capped.push(omission_marker(omitted));
    capped.extend_from_slice(&folded[folded.len() - KEEP_OUTER..]);
    capped
}

fn same_frame(a: &Frame, b: &Frame) -> bool {
    a.kind == b.kind && a.function == b.function && a.module == b.module && a.file == b.file && a.line == b.line
}

/// Folds runs of identical consecutive frames into their first frame (`repeated`).
pub fn fold_identical_runs(frames: &[Frame]) -> Vec<Frame> {
    let mut out: Vec<Frame> = Vec::new();
    for frame in frames {
        match out.last_mut() {
            Some(last) if same_frame(last, frame) && frame.function.is_some() => {
                last.repeated = last.repeated.saturating_add(frame.repeated.saturating_add(1));
            }
            _ => out.push(frame.clone()),
        }
    }
    out
}

fn omission_marker(omitted: usize) -> Frame {
    Frame {
        kind: FrameKind::Native,
        function: None,
        qualname: None,
        module: None,
        file: None,
        line: None,
        address: None,
        inlined: false,
        repeated: u32::try_from(omitted).unwrap_or(u32::MAX),
    }
}

/// The marker [`cap_frames`] leaves where it cut frames out; `repeated` is how many.
pub fn is_omission_marker(frame: &Frame) -> bool {
    frame.kind == FrameKind::Native
        && frame.function.is_none()
        && frame.module.is_none()
        && frame.address.is_none()
        && frame.repeated > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, line: u32) -> Frame {
        let mut frame = Frame::native(Some(name.into()), Some("_tree.so".into()), 0x1000 + line as u64);
        frame.line = Some(line);
        frame
    }

    fn overflow(depth: usize) -> Vec<Frame> {
        let mut frames = vec![f("__vfprintf_internal", 1), f("snprintf", 2), f("path_length", 31)];
        frames.extend((0..depth - 1).map(|_| f("path_length", 34)));
        frames.extend([f("path_len", 70), f("cfunction_call", 553)]);
        frames
    }

    #[test]
    fn finds_direct_recursion_regardless_of_call_site() {
        let r = deepest_recursion(&overflow(15_900)).expect("recursion");
        assert_eq!(r.start, 2);
        assert_eq!(r.frames, 15_900);
        assert_eq!(r.period, 1);
        assert_eq!(r.depth, 15_900);
        assert_eq!(r.functions, vec!["path_length"]);
        assert!(r.is_deep());
    }

    #[test]
    fn finds_mutual_recursion() {
        let mut frames = vec![f("leaf", 1)];
        for _ in 0..600 {
            frames.push(f("even", 2));
            frames.push(f("odd", 3));
        }
        let r = deepest_recursion(&frames).expect("recursion");
        assert_eq!(r.period, 2);
        assert_eq!(r.depth, 600);
        assert_eq!(r.functions, vec!["even", "odd"]);
    }

    #[test]
    fn no_recursion_in_a_plain_stack() {
        let frames = vec![f("a", 1), f("b", 2), f("c", 3)];
        assert_eq!(deepest_recursion(&frames), None);
    }

    #[test]
    fn caps_and_folds_a_huge_stack() {
        let frames = overflow(15_900);
        let capped = cap_frames(&frames);
        assert_eq!(capped.len(), 6);
        assert_eq!(capped[2].line, Some(31));
        assert_eq!(capped[3].line, Some(34));
        assert_eq!(capped[3].repeated, 15_898);
        // The folded stack still tells the same recursion.
        let r = deepest_recursion(&capped).expect("recursion");
        assert_eq!(r.frames, 15_900);
    }

    #[test]
    fn keeps_ends_of_a_huge_stack_that_does_not_fold() {
        let mut frames = Vec::new();
        for i in 0..3000 {
            frames.push(f(if i % 2 == 0 { "even" } else { "odd" }, 2));
        }
        let capped = cap_frames(&frames);
        assert_eq!(capped.len(), 251);
        assert!(is_omission_marker(&capped[200]));
        assert_eq!(capped[200].repeated, 2750);
        assert!(!capped.iter().enumerate().any(|(i, f)| i != 200 && is_omission_marker(f)));
    }

    #[test]
    fn truncated_stacks() {
        let mut frames = overflow(4_000);
        assert!(looks_truncated(&frames));
        frames.push(f("_start", 1));
        assert!(!looks_truncated(&frames));
        assert!(!looks_truncated(&overflow(10)));
    }

    #[test]
    fn small_stacks_are_untouched() {
        let frames = overflow(10);
        assert_eq!(cap_frames(&frames), frames);
    }
}
