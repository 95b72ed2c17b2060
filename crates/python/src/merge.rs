//! Interleaving one thread's Python frames with its native frames.
//!
//! Each native eval-loop frame (`_PyEval_EvalFrameDefault`; `PyEval_EvalFrameEx` before 3.6)
//! runs one or more Python frames; py-spy marks the first (innermost) Python frame of each
//! with `is_entry`. Replacing every eval frame by its Python frames gives one stack, the way
//! `py-spy dump --native` shows it. Unlike py-spy, a count mismatch is never an error and
//! never loses a frame: unwinding is often truncated in a crashed process.

use super::PyFrameInfo;
use crate::model::Frame;
use std::ops::Range;

/// Merges one thread's native frames (innermost first) with its Python frames (innermost
/// first) into one stack. Every Python frame appears exactly once, in order; native frames
/// other than the replaced eval-loop frames are kept.
pub fn merge(native: &[Frame], python: &[PyFrameInfo]) -> Vec<Frame> {
    let mut groups = entry_groups(python).into_iter();
    let mut merged = Vec::with_capacity(native.len() + python.len());
    // Where the Python frames of the outermost replaced eval frame end.
    let mut after_last_eval = None;
    let units = physical_frames(native);

    for (index, unit) in units.iter().enumerate() {
        let frames = &native[unit.clone()];
        let inner = index.checked_sub(1).map(|i| &native[units[i].clone()]);
        let group = if runs_python(frames, inner) { groups.next() } else { None };
        match group {
            Some(group) => {
                merged.extend(group.iter().map(python_frame));
                after_last_eval = Some(merged.len());
            }
            // Not an eval frame, or more eval frames than Python frames: keep it as it is.
            None => merged.extend_from_slice(frames),
        }
    }

    // Python frames whose eval frames the unwinder never reached.
    let leftovers: Vec<Frame> = groups.flatten().map(python_frame).collect();
    match after_last_eval {
        Some(at) => {
            merged.splice(at..at, leftovers);
        }
        None => merged.extend(leftovers),
    }
    merged
}

fn python_frame(frame: &PyFrameInfo) -> Frame {
    Frame::python(frame.function.clone(), frame.file.clone(), frame.line, frame.module.clone())
}

/// Splits Python frames (innermost first) into the runs that one eval frame each executes:
/// each run ends at an entry frame; a last run without one is kept too.
fn entry_groups(python: &[PyFrameInfo]) -> Vec<&[PyFrameInfo]> {
    let mut groups = Vec::new();
    let mut start = 0;
    for (index, frame) in python.iter().enumerate() {
        if frame.is_entry {
            groups.push(&python[start..=index]);
            start = index + 1;
        }
    }
    if start < python.len() {
        groups.push(&python[start..]);
    }
    groups
}

/// Groups native frames into physical frames: inlined frames come innermost first and share
/// the pc of the real frame they were inlined into, which ends the group.
fn physical_frames(native: &[Frame]) -> Vec<Range<usize>> {
    let mut units = Vec::new();
    let mut start = 0;
    for index in 0..native.len() {
        let frame = &native[index];
        let joins_next = frame.inlined && native.get(index + 1).is_some_and(|next| next.address == frame.address);
        if !joins_next {
            units.push(start..index + 1);
            start = index + 1;
        }
    }
    units
}

/// Whether this physical frame is an eval loop running Python frames. `inner` is the physical
/// frame it called. Since 3.6 `PyEval_EvalFrameEx` is only a wrapper around
/// `_PyEval_EvalFrameDefault`; counting both would give one Python group too many.
fn runs_python(frames: &[Frame], inner: Option<&[Frame]>) -> bool {
    let names = |fs: &[Frame]| -> Vec<String> {
        fs.iter().filter_map(|f| f.function.as_deref()).map(|n| base_name(n).to_string()).collect()
    };
    let own = names(frames);
    if own.iter().any(|n| n == "_PyEval_EvalFrameDefault") {
        return true;
    }
    if own.iter().any(|n| n == "PyEval_EvalFrameEx") {
        let wraps_default = inner.is_some_and(|f| names(f).iter().any(|n| n == "_PyEval_EvalFrameDefault"));
        return !wraps_default;
    }
    false
}

/// The function name without compiler-added suffixes: `_PyEval_EvalFrameDefault.cold.12`,
/// `.isra.0`, `.part.1`, `.constprop.0`, `.lto_priv.0`, `@plt`.
fn base_name(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    name.split('.').next().unwrap_or(name)
}

/// True for the native function names of CPython's eval loop (any compiler suffix).
pub fn is_eval_function(name: &str) -> bool {
    matches!(base_name(name), "_PyEval_EvalFrameDefault" | "PyEval_EvalFrameEx")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FrameKind;

    fn native(name: &str, address: u64) -> Frame {
        Frame::native(Some(name.to_string()), Some("libpython3.11.so.1.0".into()), address)
    }

    fn inlined(name: &str, address: u64) -> Frame {
        Frame { inlined: true, ..native(name, address) }
    }

    fn py(function: &str, is_entry: bool) -> PyFrameInfo {
        PyFrameInfo {
            function: function.to_string(),
            file: format!("/src/{function}.py"),
            line: Some(10),
            module: Some(function.to_string()),
            is_entry,
        }
    }

    /// `name` for native frames, `py:name` for Python frames.
    fn names(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| {
                let name = f.function.clone().unwrap_or_default();
                match f.kind {
                    FrameKind::Python => format!("py:{name}"),
                    FrameKind::Native => name,
                }
            })
            .collect()
    }

    const EVAL: &str = "_PyEval_EvalFrameDefault";

    #[test]
    fn replaces_each_eval_frame_by_its_python_frames_311() {
        // A C extension called from Python, which was called from C (a callback), called
        // from the main module: two eval frames.
        let native = vec![
            native("crash_here", 0x10),
            native("ext_call", 0x20),
            native(EVAL, 0x30),
            native("_PyEval_Vector", 0x40),
            native("callback_trampoline", 0x50),
            native(EVAL, 0x31),
            native("PyEval_EvalCode", 0x60),
            native("main", 0x70),
        ];
        let python = vec![py("inner", false), py("middle", true), py("helper", false), py("<module>", true)];
        assert_eq!(
            names(&merge(&native, &python)),
            [
                "crash_here",
                "ext_call",
                "py:inner",
                "py:middle",
                "_PyEval_Vector",
                "callback_trampoline",
                "py:helper",
                "py:<module>",
                "PyEval_EvalCode",
                "main"
            ]
        );
    }

    #[test]
    fn python_frames_carry_file_line_and_module() {
        let merged = merge(&[native(EVAL, 0x30)], &[py("f", true)]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0], Frame::python("f".into(), "/src/f.py".into(), Some(10), Some("f".into())));
    }

    #[test]
    fn compiler_suffixes_still_count_as_eval_frames() {
        let native = vec![
            native("_PyEval_EvalFrameDefault.cold", 0x30),
            native("_PyEval_EvalFrameDefault.cold.2962", 0x31),
            native("main", 0x70),
        ];
        let python = vec![py("a", true), py("b", true)];
        assert_eq!(names(&merge(&native, &python)), ["py:a", "py:b", "main"]);
    }

    #[test]
    fn inlined_frames_sharing_the_eval_pc_are_replaced_with_it() {
        let native = vec![
            native("PyObject_Vectorcall", 0x20),
            inlined("do_call_core", 0x30),
            inlined("_Py_EnterRecursivePy", 0x30),
            native(EVAL, 0x30),
            inlined("_PyEval_EvalFrame", 0x40),
            native("_PyEval_Vector", 0x40),
        ];
        let python = vec![py("f", true)];
        assert_eq!(
            names(&merge(&native, &python)),
            ["PyObject_Vectorcall", "py:f", "_PyEval_EvalFrame", "_PyEval_Vector"]
        );
    }

    #[test]
    fn an_inlined_frame_at_another_pc_is_its_own_frame() {
        let native = vec![inlined("helper", 0x10), native(EVAL, 0x30)];
        assert_eq!(names(&merge(&native, &[py("f", true)])), ["helper", "py:f"]);
    }

    #[test]
    fn before_311_every_python_frame_has_its_own_eval_frame() {
        let native = vec![
            native("time_sleep", 0x10),
            native(EVAL, 0x30),
            native("function_code_fastcall", 0x40),
            native(EVAL, 0x31),
            native("main", 0x70),
        ];
        let python = vec![py("deep_work", true), py("<module>", true)];
        assert_eq!(
            names(&merge(&native, &python)),
            ["time_sleep", "py:deep_work", "function_code_fastcall", "py:<module>", "main"]
        );
    }

    #[test]
    fn python_2_eval_loop_calls_itself_directly() {
        let native = vec![
            native("PyEval_EvalFrameEx", 0x30),
            native("PyEval_EvalFrameEx", 0x31),
            native("PyEval_EvalCodeEx", 0x40),
        ];
        let python = vec![py("f", true), py("<module>", true)];
        assert_eq!(names(&merge(&native, &python)), ["py:f", "py:<module>", "PyEval_EvalCodeEx"]);
    }

    #[test]
    fn eval_frame_ex_wrapping_the_default_loop_is_not_counted_twice() {
        let native = vec![native(EVAL, 0x30), native("PyEval_EvalFrameEx", 0x50), native("legacy_embedder", 0x60)];
        let python = vec![py("f", true)];
        assert_eq!(names(&merge(&native, &python)), ["py:f", "PyEval_EvalFrameEx", "legacy_embedder"]);
    }

    #[test]
    fn leftover_python_frames_go_where_the_last_eval_frame_was() {
        // Unwinding stopped early: one eval frame seen, three Python groups.
        let native = vec![
            native("crash_here", 0x10),
            native(EVAL, 0x30),
            native("_PyEval_Vector", 0x40),
            native("PyObject_Call", 0x50),
        ];
        let python = vec![py("a", true), py("b", false), py("c", true), py("<module>", true)];
        assert_eq!(
            names(&merge(&native, &python)),
            ["crash_here", "py:a", "py:b", "py:c", "py:<module>", "_PyEval_Vector", "PyObject_Call"]
        );
    }

    #[test]
    fn without_eval_frames_python_frames_follow_the_native_ones() {
        let native = vec![native("crash_here", 0x10), native("ext_call", 0x20)];
        let python = vec![py("f", true), py("<module>", true)];
        assert_eq!(names(&merge(&native, &python)), ["crash_here", "ext_call", "py:f", "py:<module>"]);
    }

    #[test]
    fn without_native_frames_all_python_frames_are_kept() {
        let python = vec![py("f", false), py("g", true), py("<module>", true)];
        assert_eq!(names(&merge(&[], &python)), ["py:f", "py:g", "py:<module>"]);
    }

    #[test]
    fn more_eval_frames_than_python_groups_keeps_the_extra_eval_frames() {
        let native = vec![native(EVAL, 0x30), native("x", 0x40), native(EVAL, 0x31), native("main", 0x70)];
        let python = vec![py("f", true)];
        assert_eq!(names(&merge(&native, &python)), ["py:f", "x", EVAL, "main"]);
    }

    #[test]
    fn python_frames_without_any_entry_mark_form_one_group() {
        let native = vec![native(EVAL, 0x30), native(EVAL, 0x31)];
        let python = vec![py("f", false), py("g", false)];
        assert_eq!(names(&merge(&native, &python)), ["py:f", "py:g", EVAL]);
    }

    #[test]
    fn no_python_frames_leaves_native_untouched() {
        let native = vec![native("a", 1), native(EVAL, 2), native("main", 3)];
        assert_eq!(merge(&native, &[]), native);
    }

    #[test]
    fn unnamed_native_frames_are_kept() {
        let unnamed = Frame::native(None, None, 0x99);
        let merged = merge(&[unnamed.clone(), native(EVAL, 0x30)], &[py("f", true)]);
        assert_eq!(merged[0], unnamed);
        assert_eq!(merged.len(), 2);
    }

    /// Over many shapes: every Python frame appears once and in order, and every native
    /// frame that is not a replaced eval frame survives, in order.
    #[test]
    fn never_drops_or_reorders_frames() {
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..2000 {
            let native: Vec<Frame> = (0..next(8))
                .map(|i| match next(4) {
                    0 => native(EVAL, 0x1000 + i),
                    1 => inlined("inl", 0x1000 + i),
                    _ => native(&format!("n{i}"), 0x1000 + i),
                })
                .collect();
            let python: Vec<PyFrameInfo> = (0..next(8)).map(|i| py(&format!("p{i}"), next(2) == 0)).collect();
            let merged = merge(&native, &python);

            let py_out: Vec<_> = merged.iter().filter(|f| f.is_python()).collect();
            assert_eq!(py_out.len(), python.len());
            for (out, input) in py_out.iter().zip(&python) {
                assert_eq!(out.function.as_deref(), Some(input.function.as_str()));
            }
            let kept_native: Vec<_> = merged.iter().filter(|f| !f.is_python()).collect();
            let plain: Vec<_> =
                native.iter().filter(|f| f.function.as_deref().is_some_and(|n| n.starts_with('n'))).collect();
            let kept_plain: Vec<_> = kept_native
                .iter()
                .filter(|f| f.function.as_deref().is_some_and(|n| n.starts_with('n')))
                .copied()
                .collect();
            assert_eq!(kept_plain, plain);
        }
    }

    #[test]
    fn recognizes_eval_function_names() {
        assert!(is_eval_function("_PyEval_EvalFrameDefault"));
        assert!(is_eval_function("_PyEval_EvalFrameDefault.cold"));
        assert!(is_eval_function("PyEval_EvalFrameEx"));
        assert!(!is_eval_function("_PyEval_EvalFrame"));
        assert!(!is_eval_function("PyEval_EvalCode"));
        assert!(!is_eval_function("_PyEval_Vector"));
    }
}
