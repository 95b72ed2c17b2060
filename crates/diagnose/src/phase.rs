//! When in the program's life the crash happened: startup, import, a test, ordinary run,
//! or shutdown. Decided from the crashed thread's stack, the interpreter state and pytest's
//! environment, with precedence shutdown > import > startup > test > run (the test id is
//! kept separately, so an import inside a test still names the test).

use crate::capture::{Capture, InterpreterState};
use crate::frames::{file_basename, normalized_name, short_function};
use crate::model::{Frame, FrameKind, Phase};

pub fn phase(capture: &Capture) -> Phase {
    let frames = capture.crashed_thread().map(|t| t.frames.as_slice()).unwrap_or(&[]);
    if is_shutdown(capture, frames) {
        Phase::Shutdown
    } else if is_import(frames) {
        Phase::Import
    } else if is_startup(capture, frames) {
        Phase::Startup
    } else if capture.pytest.current_test.is_some() {
        Phase::Test
    } else {
        Phase::Run
    }
}

fn native_names(frames: &[Frame]) -> impl Iterator<Item = String> + '_ {
    frames.iter().filter(|f| f.kind == FrameKind::Native).filter_map(normalized_name).map(|n| short_function(&n))
}

/// Functions that only run once the program is ending: libc's exit handlers and the
/// dynamic loader's destructors, CPython's finalization.
pub fn is_exit_machinery(name: &str) -> bool {
    matches!(
        name,
        "__run_exit_handlers"
            | "_dl_fini"
            | "__cxa_finalize"
            | "__libc_atexit"
            | "Py_FinalizeEx"
            | "Py_Finalize"
            | "finalize_modules"
            | "Py_Exit"
            | "atexit_callfuncs"
            | "_PyAtExit_Call"
            | "wait_for_thread_shutdown"
    ) || name.starts_with("_Py_Finalize")
        || name.starts_with("finalize_interp")
}

fn is_shutdown(capture: &Capture, frames: &[Frame]) -> bool {
    if native_names(frames).any(|n| is_exit_machinery(&n)) {
        return true;
    }
    // No interpreter any more, in a Python process that is inside exit(): finalized.
    let python_gone = matches!(capture.interpreter, InterpreterState::Unavailable(_));
    python_gone && native_names(frames).any(|n| n == "exit")
}

/// The interpreter's code for calling a C function from Python. A `PyInit_*` frame called
/// by it is not module initialisation: it is a static function of a stripped extension
/// that the ELF symbol table can only name after the nearest exported symbol, `PyInit_*`.
fn is_call_machinery(name: &str) -> bool {
    name.starts_with("cfunction_")
        || name.starts_with("method_vectorcall")
        || name.starts_with("_PyObject_MakeTpCall")
        || name.starts_with("_PyObject_Call")
        || name.starts_with("PyObject_Call")
        || name.starts_with("PyObject_Vectorcall")
        || name.starts_with("_PyObject_Vectorcall")
        || name == "_PyEval_EvalFrameDefault"
}

fn is_import(frames: &[Frame]) -> bool {
    for (i, frame) in frames.iter().enumerate() {
        match frame.kind {
            FrameKind::Native => {
                let Some(name) = normalized_name(frame) else {
                    continue;
                };
                if is_import_loader(&name) {
                    return true;
                }
                if name.starts_with("PyInit_") {
                    let caller = frames.get(i + 1);
                    let called_from_python = caller.is_some_and(|c| {
                        c.kind == FrameKind::Python || normalized_name(c).is_some_and(|n| is_call_machinery(&n))
                    });
                    if !called_from_python {
                        return true;
                    }
                }
            }
            FrameKind::Python => {
                if is_importlib_exec(frame) {
                    return true;
                }
            }
        }
    }
    false
}

/// CPython's C functions that create or execute an extension or builtin module.
fn is_import_loader(name: &str) -> bool {
    matches!(
        name,
        "_imp_create_dynamic"
            | "_imp_create_dynamic_impl"
            | "_imp_exec_dynamic"
            | "_PyImport_LoadDynamicModuleWithSpec"
            | "exec_builtin_or_dynamic"
            | "_imp_create_builtin"
            | "create_builtin"
    )
}

/// A Python frame of the import system that runs a module's code.
fn is_importlib_exec(frame: &Frame) -> bool {
    let function = frame.function.as_deref().unwrap_or("");
    let file = frame.file.as_deref().unwrap_or("");
    let importlib = file.starts_with("<frozen importlib._bootstrap")
        || (file.contains("/importlib/") && file_basename(file).starts_with("_bootstrap"));
    // Any loader's exec_module runs a module (pytest's assertion rewriter has its own).
    function == "exec_module"
        || (importlib
            && matches!(
                function,
                "_call_with_frames_removed" | "_load_unlocked" | "module_from_spec" | "create_module"
            ))
}

fn is_startup(capture: &Capture, frames: &[Frame]) -> bool {
    if capture.interpreter == InterpreterState::NotPython || frames.iter().any(Frame::is_python) {
        return false;
    }
    native_names(frames).any(|n| {
        n.starts_with("Py_Initialize")
            || n.starts_with("pymain_init")
            || n.starts_with("pyinit_")
            || n.starts_with("_Py_InitializeMain")
            || n.starts_with("init_interp_main")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, ext, nat, py, LIBC, LIBPY};

    #[test]
    fn corpus_phases() {
        assert_eq!(phase(&fixtures::cext_null_deref()), Phase::Run);
        assert_eq!(phase(&fixtures::pytest_null_deref()), Phase::Test);
        assert_eq!(phase(&fixtures::shutdown_static_dtor()), Phase::Shutdown);
        assert_eq!(phase(&fixtures::shutdown_static_dtor_abort()), Phase::Shutdown);
        assert_eq!(phase(&fixtures::stack_overflow(50)), Phase::Run);
        assert_eq!(phase(&fixtures::thread_crash()), Phase::Run);
        assert_eq!(phase(&fixtures::import_crash()), Phase::Import);
    }

    #[test]
    fn finalized_interpreter_under_exit_is_shutdown() {
        let mut c = fixtures::cext_null_deref();
        c.threads[0].frames = vec![
            nat("cleanup", &ext("_x"), "x.c:3"),
            nat("__GI_exit", LIBC, "./stdlib/exit.c:146"),
            nat("__libc_start_call_main", LIBC, ""),
        ];
        assert_eq!(phase(&c), Phase::Run);
        c.interpreter = InterpreterState::Unavailable("finalized".into());
        assert_eq!(phase(&c), Phase::Shutdown);
    }

    #[test]
    fn import_beats_test_but_shutdown_beats_import() {
        let mut c = fixtures::import_crash();
        c.pytest.current_test = Some("tests/test_x.py::test_lazy (call)".into());
        assert_eq!(phase(&c), Phase::Import);
        c.threads[0].frames.push(nat("Py_FinalizeEx", LIBPY, "Python/pylifecycle.c:1800"));
        assert_eq!(phase(&c), Phase::Shutdown);
    }

    #[test]
    fn pytest_collection_imports_a_test_module() {
        let mut c = fixtures::cext_null_deref();
        let rewrite = format!("{}/_pytest/assertion/rewrite.py", fixtures::SITE);
        let frames = &mut c.threads[0].frames;
        frames.truncate(4);
        frames.extend([
            py("<module>", "/work/cases/x/tests/test_pixfmt.py", 5),
            py("exec_module", &rewrite, 178),
            py("_load_unlocked", "<frozen importlib._bootstrap>", 690),
        ]);
        assert_eq!(phase(&c), Phase::Import);
    }

    #[test]
    fn misnamed_pyinit_called_from_python_is_not_an_import() {
        let mut c = fixtures::cext_null_deref();
        c.threads[0].frames[0].function = Some("PyInit__pixfmt".into());
        assert_eq!(phase(&c), Phase::Run);
    }

    #[test]
    fn startup_before_any_python_frame() {
        let mut c = fixtures::cext_null_deref();
        c.threads[0].frames =
            vec![nat("PyInit__custom", &ext("_custom"), "c.c:1"), nat("create_builtin", LIBPY, "Python/import.c:1000")];
        assert_eq!(phase(&c), Phase::Import);
        c.threads[0].frames = vec![
            nat("_PyUnicode_InitEncodings", LIBPY, ""),
            nat("init_interp_main", LIBPY, ""),
            nat("pyinit_main", LIBPY, ""),
            nat("Py_InitializeFromConfig", LIBPY, ""),
            nat("pymain_init", LIBPY, ""),
        ];
        assert_eq!(phase(&c), Phase::Startup);
        c.interpreter = InterpreterState::NotPython;
        assert_eq!(phase(&c), Phase::Run);
    }
}
