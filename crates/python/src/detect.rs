//! Is this process a CPython interpreter at all?
//!
//! Decided from the maps before py-spy runs, so that a crashed C helper process costs no
//! interpreter search, and so that py-spy's failures on a real Python process can be
//! reported as "no interpreter" rather than "not Python".

use crate::capture::Mapping;
use crate::process_globals;

/// Symbols every CPython executable that embeds the interpreter statically exports.
const INTERPRETER_EXPORTS: &[&str] = &["Py_Initialize", "Py_InitializeEx"];

/// True when the executable is named `python*`, a `libpython` is mapped, or the executable
/// exports the interpreter's entry points (a statically linked or embedding binary).
pub(super) fn looks_like_python(pid: i32, maps: &[Mapping]) -> bool {
    if maps.iter().filter_map(|m| m.path.as_deref()).any(is_libpython) {
        return true;
    }
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    if exe.as_deref().and_then(|p| p.file_name()).and_then(|n| n.to_str()).is_some_and(is_interpreter_name) {
        return true;
    }
    INTERPRETER_EXPORTS.iter().any(|symbol| process_globals::find_executable_export(pid, maps, symbol).is_some())
}

/// Whether a program's file name is a Python interpreter's: `python`, `python3`,
/// `python3.11`, `python3.13t`, `python2.7-dbg`; not `pythonista-helper`. The one rule for
/// "is this program Python?" by name (the run session asks it of what the tree execs).
pub fn is_interpreter_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("python") else {
        return false;
    };
    let version_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let suffix = &rest[version_end..];
    matches!(suffix, "" | "d" | "m" | "u" | "t" | "dm" | "td") || suffix.starts_with('-')
}

/// `/usr/lib/libpython3.11.so.1.0`, `libpython3.13t.so`, `libpython2.7.so.1.0`.
fn is_libpython(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some(rest) = name.strip_prefix("libpython") else {
        return false;
    };
    rest.starts_with(|c: char| c.is_ascii_digit()) && rest.contains(".so")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_python_executable_names() {
        for name in ["python", "python3", "python3.11", "python3.13t", "python2.7-dbg", "python3.8d"] {
            assert!(is_interpreter_name(name), "{name}");
        }
        for name in ["pythonista", "bash", "pytest", "ipython3", "python3.11x"] {
            assert!(!is_interpreter_name(name), "{name}");
        }
    }

    #[test]
    fn recognizes_libpython() {
        assert!(is_libpython("/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"));
        assert!(is_libpython("/usr/lib/libpython3.13t.so"));
        assert!(is_libpython("/usr/lib/x86_64-linux-gnu/libpython2.7.so.1.0"));
        assert!(!is_libpython("/usr/lib/libpythonize.so"));
        assert!(!is_libpython("/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so"));
    }
}
