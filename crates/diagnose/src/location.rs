//! Where to look: the innermost Python frame, the culprit native frame, the thread name.

use crate::capture::Capture;
use crate::frames::{is_culprit_candidate, is_library_source, is_user_frame, module_basename};
use crate::model::{Culprit, Frame, PythonLocation};

pub(crate) fn crashed_frames(capture: &Capture) -> &[Frame] {
    capture.crashed_thread().map(|t| t.frames.as_slice()).unwrap_or(&[])
}

fn to_location(frame: &Frame) -> Option<PythonLocation> {
    Some(PythonLocation { function: frame.function.clone()?, file: frame.file.clone()?, line: frame.line })
}

/// The innermost Python frame of the crashed thread, taken literally (it may be library
/// code such as ctypes' `string_at`).
pub fn python_location(capture: &Capture) -> Option<PythonLocation> {
    crashed_frames(capture).iter().filter(|f| f.is_python()).find_map(to_location)
}

/// The innermost Python frame in the user's own code (not stdlib or site-packages).
pub fn user_python_location(frames: &[Frame]) -> Option<PythonLocation> {
    frames.iter().filter(|f| f.is_python() && is_user_frame(f)).find_map(to_location)
}

/// The innermost native frame outside libc, the loader, libstdc++ and the interpreter.
pub fn culprit(capture: &Capture) -> Option<Culprit> {
    culprit_in(crashed_frames(capture))
}

/// Code inlined from a library header (`Py_DECREF` from `object.h`, `~pair` from
/// `stl_pair.h`) is skipped for the frame of the user's own source that called it.
pub fn culprit_in(frames: &[Frame]) -> Option<Culprit> {
    let frames = crate::frames::past_fatal_machinery(frames);
    let candidates = || frames.iter().filter(|f| is_culprit_candidate(f));
    let own_source = |f: &&Frame| !f.file.as_deref().is_some_and(is_library_source);
    let frame = candidates().find(own_source).or_else(|| candidates().next())?;
    Some(Culprit {
        function: frame.function.clone(),
        module: frame.module.as_deref().map(|m| module_basename(m).to_string()),
        file: frame.file.clone(),
        line: frame.line,
    })
}

/// The crashed thread's name (Python's when known, else the OS one).
pub fn thread_name(capture: &Capture) -> Option<String> {
    capture.crashed_thread().and_then(|t| t.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn python_location_is_the_innermost_python_frame() {
        let loc = python_location(&fixtures::cext_null_deref()).expect("python frame");
        assert_eq!(loc.function, "buffer_size");
        assert!(loc.file.ends_with("/main.py"));
        assert_eq!(loc.line, Some(12));
        let ctypes = python_location(&fixtures::ctypes_null()).expect("python frame");
        assert_eq!(ctypes.function, "string_at");
        assert!(ctypes.file.ends_with("ctypes/__init__.py"));
        let user = user_python_location(&fixtures::ctypes_null().threads[0].frames).expect("user frame");
        assert_eq!((user.function.as_str(), user.line), ("read_header", Some(14)));
        assert_eq!(python_location(&fixtures::shutdown_static_dtor()), None);
    }

    #[test]
    fn culprits() {
        let c = culprit(&fixtures::cext_null_deref()).expect("culprit");
        assert_eq!(c.function.as_deref(), Some("bytes_per_pixel"));
        assert_eq!(c.module.as_deref(), Some("_pixfmt.cpython-311-x86_64-linux-gnu.so"));
        assert_eq!(c.line, Some(35));
        let c = culprit(&fixtures::stack_overflow(20)).expect("culprit");
        assert_eq!(c.function.as_deref(), Some("path_length"));
        let c = culprit(&fixtures::shutdown_static_dtor()).expect("culprit");
        assert_eq!(c.function.as_deref(), Some("(anonymous namespace)::PyRef::~PyRef()"));
        let c = culprit(&fixtures::c_assert()).expect("culprit");
        assert_eq!(c.function.as_deref(), Some("mean"));
        let c = culprit(&fixtures::ctypes_null()).expect("culprit");
        assert_eq!(c.function.as_deref(), Some("string_at"));
        assert_eq!(culprit(&fixtures::external_sigterm()), None);
    }

    #[test]
    fn inlined_header_code_is_not_the_culprit() {
        let mut c = fixtures::shutdown_static_dtor_abort();
        let so = fixtures::ext("_events");
        let header = "/root/.pyenv/versions/3.11.7/include/python3.11/object.h:538";
        let at = c.threads[0].frames.iter().position(|f| f.module.as_deref() == Some(so.as_str())).unwrap();
        c.threads[0].frames.insert(at, fixtures::inlined("Py_DECREF", &so, header));
        let culprit = culprit(&c).expect("culprit");
        assert_eq!(culprit.function.as_deref(), Some("(anonymous namespace)::PyRef::~PyRef()"));
        // Only header code: better than nothing.
        c.threads[0].frames.retain(|f| f.function.as_deref() == Some("Py_DECREF"));
        assert_eq!(culprit_in(&c.threads[0].frames).and_then(|c| c.function), Some("Py_DECREF".into()));
    }

    #[test]
    fn thread_names() {
        assert_eq!(thread_name(&fixtures::thread_crash()).as_deref(), Some("worker-1"));
        assert_eq!(thread_name(&fixtures::shutdown_static_dtor()), None);
    }
}
