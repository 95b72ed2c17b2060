//! The py-spy adapter: reads every thread state of a process the caller holds stopped.

use std::panic::{catch_unwind, AssertUnwindSafe};

use py_spy::config::{LineNo, LockingStrategy};
use py_spy::{Config, PythonSpy, StackTrace};

use super::detect::looks_like_python;
use super::{PyFrameInfo, PythonError, PythonThread};
use crate::capture::Mapping;

/// Reads every Python thread of a process that the caller already holds stopped under
/// ptrace, given its maps as the capture read them (or why they could not be read). Never
/// attaches or stops anything itself (py-spy's `AlreadyLocked`).
pub fn read_python_stacks(pid: i32, maps: &std::io::Result<Vec<Mapping>>) -> Result<Vec<PythonThread>, PythonError> {
    let maps =
        maps.as_ref().map_err(|e| PythonError::NoInterpreter(format!("cannot read the memory maps of {pid}: {e}")))?;
    if !looks_like_python(pid, maps) {
        return Err(PythonError::NotPython);
    }
    let config = Config {
        // Our ptrace stop already holds every thread; py-spy's own lock would try a second
        // attach and fail with EPERM.
        blocking: LockingStrategy::AlreadyLocked,
        collect_thread_names: true,
        lineno: LineNo::LastInstruction,
        ..Default::default()
    };
    // py-spy walks raw interpreter memory; a crashed process can hold anything, so a panic
    // in there is one more way of not finding an interpreter.
    let traces =
        catch_unwind(AssertUnwindSafe(|| PythonSpy::new(pid, &config).and_then(|mut spy| spy.get_stack_traces())))
            .map_err(|_| PythonError::NoInterpreter("py-spy panicked reading the interpreter".into()))?
            .map_err(|e| PythonError::NoInterpreter(format!("{e:#}")))?;
    if traces.is_empty() {
        // Thread states are gone while the runtime lingers: finalization has begun.
        return Err(PythonError::NoInterpreter("the interpreter has no thread states".into()));
    }
    Ok(traces.into_iter().map(thread_from_trace).collect())
}

fn thread_from_trace(trace: StackTrace) -> PythonThread {
    PythonThread {
        thread_id: trace.thread_id,
        os_tid: trace.os_thread_id.and_then(|t| i32::try_from(t).ok()).filter(|&t| t > 0),
        name: trace.thread_name,
        holds_gil: trace.owns_gil,
        frames: trace.frames.into_iter().map(frame_from_py_spy).collect(),
        frames_from_data_stack: trace.frames_from_data_stack,
    }
}

fn frame_from_py_spy(frame: py_spy::Frame) -> PyFrameInfo {
    PyFrameInfo {
        module: module_name(frame.short_filename.as_deref(), &frame.filename),
        function: frame.name,
        file: frame.filename,
        // py-spy reports 0 when it could not read the line table.
        line: u32::try_from(frame.line).ok().filter(|&l| l > 0),
        // 3.11 marks entry frames directly; 3.12+ marks the frame above a C-stack shim.
        is_entry: frame.is_entry || frame.is_shim_entry,
    }
}

/// The dotted module name of a frame's file: `<frozen importlib._bootstrap>` →
/// `importlib._bootstrap`; py-spy's short file name (the path under the outermost directory
/// with an `__init__.py`) `json/decoder.py` → `json.decoder`, `pkg/__init__.py` → `pkg`.
pub(super) fn module_name(short_filename: Option<&str>, filename: &str) -> Option<String> {
    if let Some(frozen) = filename.strip_prefix("<frozen ").and_then(|f| f.strip_suffix('>')) {
        return Some(frozen.to_string());
    }
    let path = short_filename?.strip_suffix(".py")?;
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1 && parts.last() == Some(&"__init__") {
        parts.pop();
    }
    parts.iter().all(|p| is_identifier(p)).then(|| parts.join("."))
}

fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_module_names() {
        assert_eq!(module_name(Some("threading.py"), "/usr/lib/python3.11/threading.py").as_deref(), Some("threading"));
        assert_eq!(module_name(Some("json/decoder.py"), "/x/json/decoder.py").as_deref(), Some("json.decoder"));
        assert_eq!(module_name(Some("pkg/__init__.py"), "/x/pkg/__init__.py").as_deref(), Some("pkg"));
        assert_eq!(module_name(None, "<frozen importlib._bootstrap>").as_deref(), Some("importlib._bootstrap"));
        assert_eq!(module_name(Some("<string>"), "<string>"), None);
        assert_eq!(module_name(Some("my-script.py"), "/tmp/my-script.py"), None);
        assert_eq!(module_name(Some("mod.pyx"), "/tmp/mod.pyx"), None);
        assert_eq!(module_name(None, "/tmp/a.py"), None);
    }

    #[test]
    fn converts_py_spy_frames() {
        let frame = py_spy::Frame {
            name: "Polygon.bbox".into(),
            filename: "/src/geo/poly.py".into(),
            module: None,
            short_filename: Some("geo/poly.py".into()),
            line: 0,
            locals: None,
            is_entry: false,
            is_shim_entry: true,
        };
        let info = frame_from_py_spy(frame);
        assert_eq!(info.function, "Polygon.bbox");
        assert_eq!(info.module.as_deref(), Some("geo.poly"));
        assert_eq!(info.line, None);
        assert!(info.is_entry);
    }
}
