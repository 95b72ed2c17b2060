//! Python stacks of a stopped process, read with py-spy, and their merge with native frames.
//!
//! py-spy does the version-specific work (CPython 2.7 and 3.3–3.15); this module only
//! decides whether a process is Python at all, turns py-spy's output into plain data, and
//! interleaves it with the native stack.

use faultline_model::{capture, model};
use faultline_procfs::process_globals;

mod detect;
mod merge;
mod spy;

#[cfg(all(test, target_os = "linux"))]
mod live_tests;

pub use detect::is_interpreter_name;
pub use merge::{is_eval_function, merge};
pub use spy::read_python_stacks;

/// One Python frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyFrameInfo {
    /// The function's qualified name where the interpreter keeps one (3.11+), else its name.
    pub function: String,
    /// The code object's file name as the interpreter knows it (`<string>`, `<frozen os>`, ...).
    pub file: String,
    /// The line being executed; `None` when the line table could not be read.
    pub line: Option<u32>,
    /// Dotted module name, derived from the file's place under its package directories.
    pub module: Option<String>,
    /// The first Python frame (innermost first) that its native eval-loop frame runs: the
    /// frames up to and including an entry frame belong to one `_PyEval_EvalFrameDefault`.
    /// Normalized across versions (py-spy's `is_entry` or `is_shim_entry`).
    pub is_entry: bool,
}

/// One Python thread of a process.
#[derive(Debug, Clone)]
pub struct PythonThread {
    /// The interpreter's thread id: the `pthread_t` (on x86_64 glibc, the thread pointer).
    pub thread_id: u64,
    /// The kernel thread id, when the interpreter records it (3.11+).
    pub os_tid: Option<i32>,
    /// The `threading` name (`MainThread`, `worker-1`), when `threading` knows the thread.
    pub name: Option<String>,
    pub holds_gil: bool,
    /// Innermost first.
    pub frames: Vec<PyFrameInfo>,
    /// The frames were read from the interpreter's data stack: the thread state's way to its
    /// current frame (through the C stack on 3.11 and 3.12) was overwritten.
    pub frames_from_data_stack: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("not a python process")]
    NotPython,
    /// The process is Python, but no live interpreter could be read: not yet initialized,
    /// already finalized, or its memory does not make sense.
    #[error("no python interpreter state: {0}")]
    NoInterpreter(String),
}
