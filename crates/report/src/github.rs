//! GitHub Actions annotations: one `::error` workflow command per crash, timeout or memory
//! stop, pointing at the culprit's source line, so the failure shows on the pull request's
//! diff and in the run summary.
//!
//! ```text
//! ::error file=src/_geom.c,line=53,title=faultline%3A SIGSEGV (null-deref) in tests/test_shapes.py%3A%3Atest_bbox::…
//! ```
//!
//! The file is the culprit's (else the innermost Python frame of the user's code; that frame
//! also wins when only it is inside `GITHUB_WORKSPACE`), relative to the workspace when inside. Values are escaped the way the Actions toolkit
//! escapes them (`escapeData`, `escapeProperty` in `@actions/core`). GitHub's documentation
//! says workflow commands reach the runner over stdout, so the CLI writes these there (after
//! the command has exited, so they never interleave with its output).

use crate::model::Tid;
use std::fmt;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use crate::diagnose::frames::is_user_frame;
use crate::model::{Crash, Frame, FrameKind, Outcome, ProcessSnapshot, Report};
use crate::stack::stack_lines;
use crate::units::readable_limit_ms;
use crate::view::stack::StackView;
use crate::view::text::{brief_command, Paths};
use faultline_model::style::TerminalStyle;

/// How many lines of the crashed thread's stack go into a crash's message.
const STACK_LINES: usize = 6;

/// One `::error` workflow command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub title: String,
    pub message: String,
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut props = Vec::new();
        if let Some(file) = &self.file {
            props.push(format!("file={}", escape_property(file)));
            if let Some(line) = self.line {
                props.push(format!("line={line}"));
            }
        }
        props.push(format!("title={}", escape_property(&self.title)));
        write!(f, "::error {}::{}", props.join(","), escape_data(&self.message))
    }
}

/// Writes one line per annotation of `report`.
pub fn write_annotations(report: &Report, workspace: Option<&Path>, out: &mut impl Write) -> io::Result<()> {
    for a in annotations(report, workspace) {
        writeln!(out, "{a}")?;
    }
    Ok(())
}

/// The annotations of a run: one per crash, one for a timeout, one for a memory stop.
pub fn annotations(report: &Report, workspace: Option<&Path>) -> Vec<Annotation> {
    // The runner's log is a terminal too: text from the processes comes escaped.
    let report = &crate::escape::for_terminal(report);
    let places = Places { cwd: report.cwd.as_deref().map(Path::new), workspace };
    let paths = Paths::new(report.cwd.as_deref());
    let mut out: Vec<Annotation> = report.crashes.iter().map(|c| crash_annotation(c, &places, &paths)).collect();
    if let Some(t) = &report.timeout {
        let findings = &t.findings;
        let mut message = format!(
            "faultline stopped `{}` after {}",
            brief_command(&report.command, 80),
            readable_limit_ms(t.limit_ms)
        );
        for f in findings.iter().take(3) {
            message.push('\n');
            message.push_str(&f.text);
        }
        let (file, line) = snapshot_place(&t.processes, findings.first().and_then(|f| f.tid), &places);
        out.push(Annotation {
            file,
            line,
            title: format!("faultline: timed out after {}", readable_limit_ms(t.limit_ms)),
            message,
        });
    }
    if report.outcome == Outcome::Oom {
        let snapshot = report.memory.as_ref().and_then(|m| m.snapshot.as_deref()).unwrap_or(&[]);
        let (file, line) = snapshot_place(snapshot, None, &places);
        let limit = report
            .memory
            .as_ref()
            .and_then(|m| m.limit_bytes)
            .map(|l| format!(" (limit {})", crate::units::format_size(l)))
            .unwrap_or_default();
        out.push(Annotation {
            file,
            line,
            title: format!("faultline: out of memory{limit}"),
            message: format!("faultline stopped `{}` for its memory use", brief_command(&report.command, 80)),
        });
    }
    out
}

fn crash_annotation(c: &Crash, places: &Places, paths: &Paths) -> Annotation {
    let mut title = format!("faultline: {} ({})", c.signal, c.kind.as_str());
    if let Some(test) = &c.test {
        title.push_str(" in ");
        title.push_str(&test.nodeid);
    }
    let mut message = format!("{} ({}): {}", c.signal, c.kind.as_str(), c.kind.describe());
    if let Some(m) = &c.message {
        message.push_str(" — ");
        message.push_str(m);
    }
    match &c.test {
        Some(test) => message.push_str(&format!("\ntest: {}", test.nodeid)),
        None => message.push_str(&format!("\nphase: {}", c.phase.as_str())),
    }
    if let Some(thread) = c.crashed_thread() {
        let view = StackView { frames: &thread.frames, culprit: c.culprit.as_ref() };
        let lines = stack_lines(&view, paths, &TerminalStyle::plain());
        if !lines.is_empty() {
            message.push_str("\nstack, innermost first:");
        }
        for line in lines.iter().take(STACK_LINES) {
            message.push('\n');
            message.push_str(line);
        }
        if lines.len() > STACK_LINES {
            message.push_str("\n    …");
        }
    }
    // The culprit's line, unless only the user's Python frame is in the repository (a
    // culprit in a system library's sources cannot be annotated on GitHub).
    let culprit = c.culprit.as_ref().and_then(|k| Some((places.resolve(k.file.as_deref()?), k.line)));
    let python = c.crashed_thread().and_then(|t| user_python_frame(&t.frames, places));
    let (file, line) = [culprit.clone(), python.clone()]
        .into_iter()
        .flatten()
        .find(|(place, _)| place.in_workspace)
        .or(culprit)
        .or(python)
        .map(|(place, line)| (Some(place.file), line))
        .unwrap_or_default();
    Annotation { file, line, title, message }
}

/// The innermost Python frame of the user's code in the finding's thread (else any thread).
fn snapshot_place(processes: &[ProcessSnapshot], tid: Option<Tid>, places: &Places) -> (Option<String>, Option<u32>) {
    let threads = || processes.iter().flat_map(|p| p.threads.iter());
    let preferred = tid.and_then(|tid| threads().find(|t| t.tid == tid));
    preferred
        .into_iter()
        .chain(threads())
        .find_map(|t| user_python_frame(&t.frames, places))
        .map(|(place, line)| (Some(place.file), line))
        .unwrap_or_default()
}

fn user_python_frame(frames: &[Frame], places: &Places) -> Option<(Place, Option<u32>)> {
    frames
        .iter()
        .find(|f| f.kind == FrameKind::Python && is_user_frame(f))
        .and_then(|f| Some((places.resolve(f.file.as_deref()?), f.line)))
}

/// A file as the annotation names it.
#[derive(Debug, Clone)]
struct Place {
    file: String,
    in_workspace: bool,
}

/// Where paths are resolved from and made relative to.
struct Places<'a> {
    cwd: Option<&'a Path>,
    workspace: Option<&'a Path>,
}

impl Places<'_> {
    /// `file` relative to the workspace when inside it (a relative `file` is taken from the
    /// run's working directory), else as it is.
    fn resolve(&self, file: &str) -> Place {
        let path = Path::new(file);
        let absolute = match (path.is_absolute(), self.cwd) {
            (true, _) => Some(path.to_path_buf()),
            (false, Some(cwd)) => Some(cwd.join(path)),
            (false, None) => None,
        };
        match absolute.zip(self.workspace).and_then(|(abs, ws)| relative_to(&abs, ws)) {
            Some(relative) => Place { file: relative, in_workspace: true },
            None => Place { file: file.to_owned(), in_workspace: false },
        }
    }
}

/// `path` relative to `base` when inside it (`.` and `..` resolved by name, not through
/// the file system), with `/` separators.
pub fn relative_to(path: &Path, base: &Path) -> Option<String> {
    let path = lexical(path);
    let base = lexical(base);
    let rest = path.strip_prefix(&base).ok()?;
    if rest.as_os_str().is_empty() {
        return None;
    }
    Some(rest.to_string_lossy().into_owned())
}

fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A workflow command's message: `%`, CR and LF escaped.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value: as data, plus `:` and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escapes_percent_and_line_breaks_only() {
        assert_eq!(escape_data("100% a:b,c\r\nd"), "100%25 a:b,c%0D%0Ad");
    }

    #[test]
    fn properties_also_escape_colons_and_commas() {
        assert_eq!(escape_property("tests/t.py::test_x[a,b] 5%\n"), "tests/t.py%3A%3Atest_x[a%2Cb] 5%25%0A");
    }

    #[test]
    fn paths_inside_the_workspace_become_relative() {
        let ws = Path::new("/home/runner/work/app/app");
        assert_eq!(relative_to(Path::new("/home/runner/work/app/app/src/_geom.c"), ws).as_deref(), Some("src/_geom.c"));
        assert_eq!(
            relative_to(Path::new("/home/runner/work/app/app/tests/../src/./x.py"), ws).as_deref(),
            Some("src/x.py")
        );
        assert_eq!(relative_to(Path::new("/usr/include/stdio.h"), ws), None);
        assert_eq!(relative_to(Path::new("/home/runner/work/app/app2/x.py"), ws), None);
    }

    #[test]
    fn relative_files_resolve_from_the_cwd() {
        let places = Places { cwd: Some(Path::new("/ws/pkg")), workspace: Some(Path::new("/ws")) };
        assert_eq!(places.resolve("tests/test_x.py").file, "pkg/tests/test_x.py");
        assert!(places.resolve("tests/test_x.py").in_workspace);
        assert_eq!(places.resolve("/elsewhere/x.py").file, "/elsewhere/x.py");
        assert!(!places.resolve("/elsewhere/x.py").in_workspace);
        let outside = Places { cwd: Some(Path::new("/tmp")), workspace: Some(Path::new("/ws")) };
        assert_eq!(outside.resolve("_geom.c").file, "_geom.c");
    }

    #[test]
    fn an_annotation_without_a_file_has_only_a_title() {
        let a = Annotation { file: None, line: Some(3), title: "timed out after 10 s".into(), message: "a\nb".into() };
        assert_eq!(a.to_string(), "::error title=timed out after 10 s::a%0Ab");
    }
}
