//! How one frame, one path, one number reads in the terminal report.

use crate::diagnose::frames::file_basename;
use crate::model::{Frame, FrameKind};

/// Shortens Python file paths the way pytest does: relative to the working directory when
/// under it, from the package down when in site-packages or the standard library.
#[derive(Debug, Clone, Default)]
pub(crate) struct Paths {
    cwd: Option<String>,
}

impl Paths {
    pub(crate) fn new(cwd: Option<&str>) -> Paths {
        Paths { cwd: cwd.map(|c| c.trim_end_matches('/').to_string()).filter(|c| !c.is_empty()) }
    }

    pub(crate) fn python_file(&self, file: &str) -> String {
        if let Some(cwd) = &self.cwd {
            if let Some(rest) = file.strip_prefix(cwd.as_str()).and_then(|r| r.strip_prefix('/')) {
                return rest.to_string();
            }
        }
        for marker in ["/site-packages/", "/dist-packages/"] {
            if let Some(at) = file.rfind(marker) {
                return file[at + marker.len()..].to_string();
            }
        }
        if let Some(rest) = stdlib_relative(file) {
            return rest.to_string();
        }
        file.to_string()
    }
}

/// `/usr/lib/python3.11/threading.py` → `threading.py`.
fn stdlib_relative(file: &str) -> Option<&str> {
    let at = file.find("/lib/python")?;
    let rest = &file[at + "/lib/python".len()..];
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let slash = rest.find('/')?;
    Some(&rest[slash + 1..])
}

/// The package a Python file belongs to, for folded lines: `_pytest`, `pluggy`, `runpy`,
/// `importlib`; a user file is its own name.
pub(crate) fn python_package(frame: &Frame, paths: &Paths) -> String {
    let file = frame.file.as_deref().unwrap_or("?");
    if let Some(frozen) = file.strip_prefix("<frozen ") {
        let name = frozen.trim_end_matches('>');
        return name.split('.').next().unwrap_or(name).to_string();
    }
    let short = paths.python_file(file);
    match short.split_once('/') {
        Some((package, _)) if !short.starts_with('/') => package.to_string(),
        _ => file_basename(&short).trim_end_matches(".py").to_string(),
    }
}

/// Template arguments make C++ names unreadable past a point: `std::map<…>::~map()`.
pub(crate) fn readable_function(name: &str) -> String {
    const LONG: usize = 80;
    if name.len() <= LONG || !name.contains('<') {
        return name.to_string();
    }
    let mut out = String::new();
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '<' => {
                if depth == 0 {
                    out.push_str("<…>");
                }
                depth += 1;
            }
            '>' => depth = depth.saturating_sub(1),
            // `operator<` and friends would unbalance this; they are rare in long names.
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `shapes.py:14 in bbox` or `bbox (_geom.cpython-311-x86_64-linux-gnu.so) _geom.c:53`.
pub(crate) fn frame_text(frame: &Frame, paths: &Paths) -> String {
    match frame.kind {
        FrameKind::Python => {
            let file = paths.python_file(frame.file.as_deref().unwrap_or("?"));
            let function = frame.display_name().unwrap_or("?");
            match frame.line {
                Some(line) => format!("{file}:{line} in {function}"),
                None => format!("{file} in {function}"),
            }
        }
        FrameKind::Native => {
            let function = match (&frame.function, &frame.address) {
                (Some(f), _) => readable_function(f),
                (None, Some(a)) => a.clone(),
                (None, None) => "??".into(),
            };
            let module = frame.module.as_deref().map(file_basename).unwrap_or("?");
            let mut text = format!("{function} ({module})");
            if let Some(file) = &frame.file {
                text.push(' ');
                text.push_str(file_basename(file));
                if let Some(line) = frame.line {
                    text.push_str(&format!(":{line}"));
                }
            }
            if frame.inlined {
                text.push_str(" [inlined]");
            }
            text
        }
    }
}

/// Where a frame is, in a few characters: `_geom.c:53`, `shapes.py:14`, or the module.
pub(crate) fn short_place(frame: &Frame, paths: &Paths) -> String {
    match (frame.kind, &frame.file, frame.line) {
        (FrameKind::Python, Some(file), Some(line)) => {
            format!("{}:{line}", paths.python_file(file))
        }
        (FrameKind::Native, Some(file), Some(line)) => format!("{}:{line}", file_basename(file)),
        (FrameKind::Native, _, _) => frame.module.as_deref().map(file_basename).unwrap_or("?").to_string(),
        (FrameKind::Python, Some(file), None) => paths.python_file(file),
        (FrameKind::Python, None, _) => "?".into(),
    }
}

/// A command line cut to `max` characters for one line of text.
pub(crate) fn short_command(argv: &[String], max: usize) -> String {
    let line = crate::diagnose::hang::one_line(&argv.join(" "));
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// A command line for a mention in passing: the program by its file name
/// (`/root/.pyenv/versions/3.11.7/bin/python3 main.py` → `python3 main.py`), then cut.
pub(crate) fn brief_command(argv: &[String], max: usize) -> String {
    let mut argv = argv.to_vec();
    if let Some(first) = argv.first_mut() {
        *first = file_basename(first).to_string();
    }
    short_command(&argv, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(faultline_model::fixtures::config())]

        /// Any function name, however hostile, reads without panicking.
        #[test]
        fn any_function_name(name in faultline_model::fixtures::strategies::text()) {
            let _ = readable_function(&name);
        }
    }

    #[test]
    fn python_paths() {
        let p = Paths::new(Some("/work/cases/suite/"));
        assert_eq!(p.python_file("/work/cases/suite/tests/test_bbox.py"), "tests/test_bbox.py");
        assert_eq!(p.python_file("/venv/lib/python3.11/site-packages/_pytest/runner.py"), "_pytest/runner.py");
        assert_eq!(p.python_file("/usr/lib/python3.11/threading.py"), "threading.py");
        assert_eq!(p.python_file("/usr/lib/python3.11/ctypes/__init__.py"), "ctypes/__init__.py");
        assert_eq!(p.python_file("/elsewhere/app.py"), "/elsewhere/app.py");
        assert_eq!(p.python_file("<frozen importlib._bootstrap>"), "<frozen importlib._bootstrap>");
    }

    #[test]
    fn packages() {
        let p = Paths::new(None);
        let py = |file: &str| Frame::python("f".into(), file.into(), Some(1), None);
        assert_eq!(python_package(&py("/v/lib/python3.11/site-packages/_pytest/main.py"), &p), "_pytest");
        assert_eq!(python_package(&py("/usr/lib/python3.11/runpy.py"), &p), "runpy");
        assert_eq!(python_package(&py("<frozen importlib._bootstrap>"), &p), "importlib");
        assert_eq!(python_package(&py("/work/app/main.py"), &p), "main");
    }

    #[test]
    fn long_cpp_names() {
        let name = "std::unordered_map<int, (anonymous namespace)::PyRef, std::hash<int>, std::equal_to<int>, std::allocator<std::pair<int const, (anonymous namespace)::PyRef> > >::~unordered_map()";
        assert_eq!(readable_function(name), "std::unordered_map<…>::~unordered_map()");
        assert_eq!(readable_function("std::vector<int>::at(unsigned long)"), "std::vector<int>::at(unsigned long)");
    }

    #[test]
    fn commands_cut_to_a_width() {
        let argv = vec!["python3".to_string(), "-m".into(), "pytest".into()];
        assert_eq!(short_command(&argv, 40), "python3 -m pytest");
        assert_eq!(short_command(&argv, 8), "python3…");
        let full = vec!["/root/.pyenv/versions/3.11.7/bin/python3".to_string(), "main.py".into()];
        assert_eq!(brief_command(&full, 40), "python3 main.py");
        assert_eq!(brief_command(&[], 40), "");
    }
}
