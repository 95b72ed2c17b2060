//! The words about a crash that every rendering uses: where it happened, in which phase,
//! what the other threads were doing.

use crate::diagnose::frames::{file_basename, is_user_frame, short_function};
use crate::model::{Crash, Frame, Phase, PytestProgress, PythonFramesFrom, Thread};
use crate::view::stack::telling_frame;
use crate::view::text::{frame_text, short_place, Paths};

/// `Worker-1 (tid 12, holds the GIL)`: a thread beside the crashed one.
pub(crate) fn other_thread_label(t: &Thread) -> String {
    let name = t.name.clone().unwrap_or_else(|| "(unnamed)".into());
    let gil = if t.holds_gil == Some(true) { ", holds the GIL" } else { "" };
    format!("{name} (tid {}{gil})", t.tid)
}

/// Says where a thread's Python frames came from when it was not the usual way.
pub(crate) fn python_frames_note(t: &Thread) -> Option<&'static str> {
    match t.python_frames_from? {
        PythonFramesFrom::DataStack => Some(
            "the Python frames were read from the interpreter's data stack: the thread's pointer to its current frame, on the C stack, was overwritten",
        ),
    }
}

/// `buffer-overflow`, or with a sanitizer's report its own name for the error too:
/// `buffer-overflow; AddressSanitizer: heap-buffer-overflow`.
pub(crate) fn kind_label(crash: &Crash) -> String {
    match &crash.sanitizer {
        Some(s) => format!("{}; {}: {}", crash.kind.as_str(), s.tool, s.class),
        None => crash.kind.as_str().to_owned(),
    }
}

/// The heading of a stack the sanitizer recorded: its own words (`freed by thread T0 here`).
pub(crate) fn sanitizer_stack_title(tool: &str, stack: &crate::model::SanitizerStack) -> String {
    let heading = stack.heading.as_deref().unwrap_or(&stack.role).trim_end_matches(':');
    format!("{heading} (recorded by {tool}), innermost first")
}

/// `bbox (_geom.c:53)`: the culprit, else the innermost Python frame, else frame 0.
pub(crate) fn location(crash: &Crash) -> Option<String> {
    if let Some(c) = &crash.culprit {
        let function = c.function.as_deref().map(short_function).unwrap_or_else(|| "??".into());
        let place = match (&c.file, c.line, &c.module) {
            (Some(file), Some(line), _) => format!("{}:{line}", file_basename(file)),
            (Some(file), None, _) => file_basename(file).to_string(),
            (None, _, Some(module)) => file_basename(module).to_string(),
            (None, _, None) => "?".into(),
        };
        return Some(format!("{function} ({place})"));
    }
    if let Some(p) = &crash.python {
        let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
        return Some(format!("{} ({}{line})", p.function, file_basename(&p.file)));
    }
    let frame = crash.crashed_thread().and_then(|t| crate::diagnose::frames::innermost_meaningful(&t.frames))?;
    let function = frame.function.as_deref().map(short_function)?;
    Some(format!("{function} ({})", short_place(frame, &Paths::default())))
}

/// `threading.py:1112 in join ← main.py:28 in main`: where the thread is, and the user
/// code that got it there when that is further out.
pub(crate) fn thread_activity(frames: &[Frame], paths: &Paths) -> String {
    let Some(telling) = telling_frame(frames) else {
        return "no stack".into();
    };
    let innermost_python = frames.iter().find(|f| f.is_python());
    match innermost_python {
        Some(py) if !std::ptr::eq(py, telling) && is_user_frame(telling) => {
            format!("{} ← {}", frame_text(py, paths), frame_text(telling, paths))
        }
        _ => frame_text(telling, paths),
    }
}

pub(crate) fn sent_by_a_process(crash: &Crash) -> bool {
    matches!(crash.si_code.as_deref(), Some("SI_USER" | "SI_TKILL" | "SI_QUEUE"))
}

fn is_pytest(crash: &Crash) -> bool {
    crash.test.is_some() || crash.argv.iter().any(|a| a.contains("pytest") || a.contains("py.test"))
}

pub(crate) fn phase_text(crash: &Crash) -> String {
    match crash.phase {
        Phase::Shutdown => {
            let after =
                if is_pytest(crash) { "after all tests had finished" } else { "after the program had finished" };
            format!("shutdown — the crash happened at interpreter shutdown, {after}")
        }
        Phase::Import => "import — while a module was being imported".into(),
        Phase::Startup => "startup — before any Python code ran".into(),
        Phase::Test => "test".into(),
        Phase::Run => "run".into(),
    }
}

/// What pytest had done in the crashed process (faultline's pytest channel), as lines
/// without indentation: a count line, then the last tests that ran, oldest first.
pub(crate) fn pytest_progress_lines(progress: &PytestProgress) -> Vec<String> {
    if !progress.channel {
        return vec!["tests: faultline's pytest plugin did not load in this process, so the test is named from \
             PYTEST_CURRENT_TEST and what ran before it is not known"
            .into()];
    }
    let counts = count_words(progress.passed_before, progress.failed_before);
    let worker = progress.worker.as_deref().map(|w| format!(", worker {w}")).unwrap_or_default();
    let collected = progress.collected.map(|n| format!(" of {n} collected")).unwrap_or_default();
    let mut lines = Vec::new();
    if progress.session_finished {
        lines.push(format!("tests: the session had finished ({counts}{collected}{worker}) when it crashed"));
    } else if progress.collected.is_none() && progress.recent.is_empty() {
        lines.push(format!("tests: pytest had not finished collecting: no test had started{worker}"));
        return lines;
    } else {
        lines.push(format!("before it: {counts} in this process{collected}{worker}"));
    }
    if !progress.recent.is_empty() {
        let width = progress.recent.iter().map(|r| r.nodeid.chars().count()).max().unwrap_or(0);
        lines.push("last ran:".into());
        for recent in &progress.recent {
            lines.push(format!("  {:<width$}  {}", recent.nodeid, recent.outcome));
        }
    }
    lines
}

/// `12 passed, 1 failed`, `no test ended`.
fn count_words(passed: u32, failed: u32) -> String {
    match (passed, failed) {
        (0, 0) => "no test had ended".into(),
        (p, 0) => format!("{p} passed"),
        (0, f) => format!("{f} failed"),
        (p, f) => format!("{p} passed, {f} failed"),
    }
}
