//! The one line of text that says what went wrong, when the process printed one.
//!
//! glibc keeps its abort message (`free(): double free detected in tcache 2`, a failed
//! assertion) in memory, and the capture has it. Other runtimes only write to stderr
//! before aborting: CPython's `Fatal Python error`, a C++ `terminate`, a Rust panic, Qt's
//! `qFatal`/`Q_ASSERT`. Those are recognised in the stderr tail. The abort message wins
//! when both exist: it is exact, while stderr may hold anyone's output.

use crate::capture::Capture;

/// The message of a crash, if the abort message or the stderr tail has one.
pub fn crash_message(capture: &Capture) -> Option<String> {
    if let Some(message) = capture.abort_message.as_deref().and_then(clean_abort_message) {
        return Some(message);
    }
    // qFatal's text has no prefix of its own: it is what Qt wrote last, and Qt's fatal path
    // on the crashing thread ties it to this crash.
    let frames = crate::location::crashed_frames(capture);
    if crate::runtimes::QT.died_on(frames) {
        if let Some(line) = last_line_before_faulthandler(&capture.stderr_tail) {
            return Some(line);
        }
    }
    fatal_line_in(&capture.stderr_tail)
}

/// Whether the crashed thread's stack shows the path that prints `message`: glibc's own
/// message is the process's memory, so always; a line from stderr only when the runtime
/// that writes it is on the stack (the whole tree may share that stderr).
pub fn tied_to_stack(capture: &Capture, message: &str) -> bool {
    if capture.abort_message.as_deref().and_then(clean_abort_message).as_deref() == Some(message) {
        return true;
    }
    use crate::runtimes::{CPYTHON, CXX, FATAL_LOG, RUST};
    let frames = crate::location::crashed_frames(capture);
    let runtime = if crate::abort::is_rust_panic_message(message) {
        Some(&RUST)
    } else if message.starts_with("terminate called") {
        Some(&CXX)
    } else if message.starts_with("Fatal Python error") {
        Some(&CPYTHON)
    } else if message.contains("] Check failed: ") || is_glog_message(message) {
        Some(&FATAL_LOG)
    } else {
        None
    };
    if let Some(runtime) = runtime {
        return runtime.on_fatal_path(frames);
    }
    // Messages of glibc and Qt come with their own path (the abort message, Qt's fatal
    // frames), and the rest are recognised by text alone: nothing more to check.
    true
}

/// The last line the process wrote before faulthandler's dump (or at all, without one).
fn last_line_before_faulthandler(lines: &[String]) -> Option<String> {
    let end = lines
        .iter()
        .position(|l| {
            l.starts_with("Fatal Python error: ")
                && FAULTHANDLER_HEADERS.contains(&l["Fatal Python error: ".len()..].trim())
        })
        .unwrap_or(lines.len());
    lines[..end].iter().rev().map(|l| l.trim()).find(|l| !l.is_empty() && !is_qt_trailer(l)).map(str::to_owned)
}

/// Lines written after Qt's fatal message: PySide's note and the platform plugin list.
fn is_qt_trailer(line: &str) -> bool {
    line.starts_with("[A qFatal() call was made from Python code]")
        || line.starts_with("Available platform plugins are:")
}

/// Trims glibc's message and drops the program name glibc puts before an assertion
/// (`python3: _stats.c:8: mean: Assertion ...` → `_stats.c:8: mean: Assertion ...`).
fn clean_abort_message(raw: &str) -> Option<String> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    let text = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    if text.contains("Assertion `") {
        if let Some((program, rest)) = text.split_once(": ") {
            if !program.contains(' ') && looks_like_file_line(rest) {
                return Some(rest.to_string());
            }
        }
    }
    Some(text)
}

/// `_stats.c:8: ...`
fn looks_like_file_line(text: &str) -> bool {
    let Some((file_line, _)) = text.split_once(": ") else {
        return false;
    };
    match file_line.rsplit_once(':') {
        Some((file, line)) => !file.is_empty() && !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()),
        None => false,
    }
}

/// The last recognised fatal line in the stderr tail, with its continuation line when the
/// runtime splits the message in two (C++ `what():`, a Rust panic's message).
pub fn fatal_line_in(lines: &[String]) -> Option<String> {
    let mut found = None;
    for (i, line) in lines.iter().enumerate() {
        let text = line.trim_end();
        let next = lines.get(i + 1).map(|l| l.trim());
        if let Some(message) = rust_panic(text, &lines[i + 1..]).or_else(|| recognise(text, next)) {
            found = Some(message);
        }
    }
    found
}

/// How many lines of a panic's message are kept.
const PANIC_MESSAGE_LINES: usize = 5;

/// A Rust panic: `thread 'NAME' (TID) panicked at FILE:LINE:COL:` then the message lines
/// (Rust ≥ 1.73; the thread id since 1.88), or the older one-line
/// `thread 'NAME' panicked at 'MSG', FILE:LINE:COL`. The message ends at the first line of
/// the runtime's own (`note: run with RUST_BACKTRACE=1`, `stack backtrace:`, the abort
/// notice) or an empty line; the thread id is left out (it differs every run).
fn rust_panic(line: &str, rest: &[String]) -> Option<String> {
    let trimmed = line.trim_start();
    let after_name = trimmed.strip_prefix("thread '")?;
    let (name, after) = after_name.split_once('\'')?;
    let after = after.trim_start();
    // The thread id: `(12345) `.
    let after = match after.strip_prefix('(') {
        Some(id) => id.split_once(") ").filter(|(digits, _)| digits.chars().all(|c| c.is_ascii_digit()))?.1,
        None => after,
    };
    let place = after.strip_prefix("panicked at ")?;
    let head = format!("thread '{name}' panicked at {}", place.trim_end());
    if !place.trim_end().ends_with(':') {
        return Some(head);
    }
    let message: Vec<&str> = rest
        .iter()
        .map(|l| l.trim_end())
        .take_while(|l| !l.trim().is_empty() && !is_rust_runtime_line(l))
        .take(PANIC_MESSAGE_LINES)
        .map(str::trim)
        .collect();
    if message.is_empty() {
        return Some(head);
    }
    Some(format!("{head} {}", message.join(" ")))
}

/// Lines Rust's panic machinery writes after the message.
fn is_rust_runtime_line(line: &str) -> bool {
    let line = line.trim_start();
    ["note: ", "stack backtrace:", "thread caused non-unwinding panic", "fatal runtime error: ", "panic in a "]
        .iter()
        .any(|p| line.starts_with(p))
        || line.starts_with("thread '") && line.contains(" panicked at ")
}

/// glog and abseil's fatal log line: `F1203 12:00:00.000000 123 file.cc:42] Check failed: x > 0`.
fn glog_fatal(line: &str) -> Option<String> {
    let line = line.trim_start();
    let rest = line.strip_prefix('F')?;
    let (date, rest) = rest.split_once(' ')?;
    if date.len() < 4 || !date.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (time, rest) = rest.trim_start().split_once(' ')?;
    if !time.contains(':') || !time.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '.') {
        return None;
    }
    let (_thread, rest) = rest.trim_start().split_once(' ')?;
    let (place, message) = rest.split_once("] ")?;
    let made = format!("{place}] {}", message.trim());
    is_glog_message(&made).then_some(made)
}

/// A message `glog_fatal` made: `file.cc:42] …`.
fn is_glog_message(message: &str) -> bool {
    message.split_once("] ").is_some_and(|(place, _)| looks_like_file_line(&format!("{place}: x")))
}

fn recognise(line: &str, next: Option<&str>) -> Option<String> {
    let trimmed = line.trim_start();
    if let Some(message) = glog_fatal(trimmed) {
        return Some(message);
    }
    if let Some(at) = line.find("Fatal Python error: ") {
        let reason = line[at + "Fatal Python error: ".len()..].trim();
        // faulthandler's own header only restates the signal: not a cause.
        if FAULTHANDLER_HEADERS.contains(&reason) {
            return None;
        }
        return Some(line[at..].to_string());
    }
    if trimmed.starts_with("Fatal glibc error: ") {
        return Some(trimmed.to_string());
    }
    if trimmed.starts_with("terminate called") {
        return Some(match next.and_then(|n| n.strip_prefix("what():")) {
            Some(what) => format!("{trimmed}: what(): {}", what.trim()),
            None => trimmed.to_string(),
        });
    }
    if trimmed.starts_with("*** ") && trimmed.contains(" ***: terminated") {
        return Some(trimmed.to_string());
    }
    if trimmed.contains("Assertion `") && trimmed.ends_with("failed.") {
        return clean_abort_message(trimmed);
    }
    let qt =
        trimmed.starts_with("ASSERT: \"") || trimmed.starts_with("ASSERT failure in ") || trimmed.starts_with("qFatal");
    if qt {
        return Some(trimmed.to_string());
    }
    if is_glibc_heap_message(trimmed) {
        return Some(trimmed.to_string());
    }
    None
}

/// What faulthandler prints after `Fatal Python error: ` for each fatal signal.
const FAULTHANDLER_HEADERS: &[&str] = &[
    "Segmentation fault",
    "Aborted",
    "Floating point exception",
    "Floating-point exception",
    "Bus error",
    "Illegal instruction",
];

/// glibc's malloc integrity messages, as printed before it aborts.
fn is_glibc_heap_message(line: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "free(): ",
        "malloc(): ",
        "realloc(): ",
        "munmap_chunk(): ",
        "malloc_consolidate(): ",
        "double free or corruption",
        "corrupted size vs. prev_size",
        "corrupted double-linked list",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn abort_message_is_trimmed_and_loses_the_program_name() {
        let mut c = fixtures::c_assert();
        c.abort_message = Some("python3: _stats.c:8: mean: Assertion `count > 0' failed.\n".into());
        assert_eq!(crash_message(&c).as_deref(), Some("_stats.c:8: mean: Assertion `count > 0' failed."));
        c.abort_message = Some("free(): double free detected in tcache 2\n".into());
        assert_eq!(crash_message(&c).as_deref(), Some("free(): double free detected in tcache 2"));
    }

    #[test]
    fn abort_message_wins_over_stderr() {
        let mut c = fixtures::double_free();
        c.stderr_tail = lines("Fatal Python error: _PyMem_DebugRawFree: bad ID\n");
        assert_eq!(crash_message(&c).as_deref(), Some("free(): double free detected in tcache 2"));
        c.abort_message = Some("  \n".into());
        assert_eq!(crash_message(&c).as_deref(), Some("Fatal Python error: _PyMem_DebugRawFree: bad ID"));
    }

    #[test]
    fn fatal_python_error_from_stderr() {
        let tail = lines(
            "3 passed in 0.01s\n\
             Fatal Python error: PyThreadState_Get: the function must be called with the GIL held, but the GIL is released (the current Python thread state is NULL)\n\
             Python runtime state: finalizing (tstate=0x0000000000000000)\n\n",
        );
        assert_eq!(
            fatal_line_in(&tail).as_deref(),
            Some("Fatal Python error: PyThreadState_Get: the function must be called with the GIL held, but the GIL is released (the current Python thread state is NULL)")
        );
    }

    #[test]
    fn cpp_rust_qt_and_glibc_lines() {
        let cpp = lines("terminate called after throwing an instance of 'std::runtime_error'\n  what():  bad config\n");
        assert_eq!(
            fatal_line_in(&cpp).as_deref(),
            Some("terminate called after throwing an instance of 'std::runtime_error': what(): bad config")
        );
        let rust = lines("thread 'main' panicked at src/lib.rs:10:5:\nindex out of bounds: the len is 0 but the index is 0\nnote: run with `RUST_BACKTRACE=1`\n");
        assert_eq!(
            fatal_line_in(&rust).as_deref(),
            Some("thread 'main' panicked at src/lib.rs:10:5: index out of bounds: the len is 0 but the index is 0")
        );
        let qt = lines("ASSERT: \"index < size()\" in file qlist.h, line 575\n");
        assert_eq!(fatal_line_in(&qt).as_deref(), Some("ASSERT: \"index < size()\" in file qlist.h, line 575"));
        let smash = lines("*** stack smashing detected ***: terminated\n");
        assert_eq!(fatal_line_in(&smash).as_deref(), Some("*** stack smashing detected ***: terminated"));
        let heap = lines("corrupted size vs. prev_size\n");
        assert_eq!(fatal_line_in(&heap).as_deref(), Some("corrupted size vs. prev_size"));
    }

    #[test]
    fn rust_panics_in_every_form() {
        let with_tid = lines(
            "thread '<unnamed>' (81234) panicked at src/lib.rs:22:18:\n\
             index out of bounds: the len is 3 but the index is 7\n\
             note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\
             thread caused non-unwinding panic. aborting.\n",
        );
        assert_eq!(
            fatal_line_in(&with_tid).as_deref(),
            Some(
                "thread '<unnamed>' panicked at src/lib.rs:22:18: index out of bounds: the len is 3 but the index is 7"
            )
        );
        let multi = lines("thread 'main' panicked at src/cfg.rs:5:9:\nbad config:\n  key `x` missing\n\nstack backtrace:\n   0: rust_begin_unwind\n");
        assert_eq!(
            fatal_line_in(&multi).as_deref(),
            Some("thread 'main' panicked at src/cfg.rs:5:9: bad config: key `x` missing")
        );
        let old = lines("thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/main.rs:4:37\n");
        assert_eq!(
            fatal_line_in(&old).as_deref(),
            Some("thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/main.rs:4:37")
        );
        // A panic in a Drop while panicking: the last panic is the one that aborted.
        let twice = lines("thread 'main' panicked at src/a.rs:1:1:\nfirst\nthread 'main' panicked at src/b.rs:2:2:\nsecond in drop\nthread caused non-unwinding panic. aborting.\n");
        assert_eq!(fatal_line_in(&twice).as_deref(), Some("thread 'main' panicked at src/b.rs:2:2: second in drop"));
    }

    #[test]
    fn qfatal_is_the_last_line_qt_wrote_when_qts_fatal_path_is_on_the_stack() {
        let mut c = fixtures::c_assert();
        c.abort_message = None;
        c.stderr_tail = lines("qt.qpa.plugin: Could not load the Qt platform plugin \"xcb\" in \"\" even though it was found.\nThis application failed to start because no Qt platform plugin could be initialized.\n\nAvailable platform plugins are: minimal, offscreen, xcb.\n\nFatal Python error: Aborted\n\nCurrent thread 0x1 (most recent call first):\n");
        let thread = c.threads.iter_mut().find(|t| t.crashed).unwrap();
        thread.frames.insert(
            1,
            crate::model::Frame {
                function: Some("QMessageLogger::fatal(char const*, ...) const".into()),
                module: Some("/usr/lib/libQt6Core.so.6".into()),
                ..thread.frames[0].clone()
            },
        );
        assert_eq!(
            crash_message(&c).as_deref(),
            Some("This application failed to start because no Qt platform plugin could be initialized.")
        );
    }

    #[test]
    fn a_message_the_stack_does_not_explain_is_untied() {
        let mut c = fixtures::c_assert();
        c.abort_message = None;
        let panic = "thread 'main' panicked at src/lib.rs:1:1: boom";
        assert!(!tied_to_stack(&c, panic), "no Rust frame on an assert's stack");
        let thread = c.threads.iter_mut().find(|t| t.crashed).unwrap();
        thread.frames.insert(
            1,
            crate::model::Frame { function: Some("__rustc::__rust_start_panic".into()), ..thread.frames[0].clone() },
        );
        assert!(tied_to_stack(&c, panic));
        assert!(tied_to_stack(&fixtures::double_free(), "free(): double free detected in tcache 2"));
    }

    #[test]
    fn only_the_runtimes_fatal_path_ties_its_line() {
        let mut c = fixtures::c_assert();
        c.abort_message = None;
        let thread = c.threads.iter_mut().find(|t| t.crashed).unwrap();
        let at = |name: &str| crate::model::Frame { function: Some(name.into()), ..thread.frames[0].clone() };
        // Static destructors run under __cxa_finalize; abseil's containers are not its log.
        let (finalize, container) =
            (at("__cxa_finalize"), at("absl::lts_20240116::container_internal::raw_hash_set::find"));
        thread.frames.insert(1, finalize);
        thread.frames.insert(1, container);
        let terminate = "terminate called after throwing an instance of 'std::runtime_error'";
        let check = "file.cc:42] Check failed: x > 0";
        assert!(!tied_to_stack(&c, terminate), "__cxa_finalize is not the terminate path");
        assert!(!tied_to_stack(&c, check), "abseil's containers are not its fatal log");
        let thread = c.threads.iter_mut().find(|t| t.crashed).unwrap();
        let log = crate::model::Frame {
            function: Some("absl::lts_20240116::log_internal::LogMessageFatal::~LogMessageFatal()".into()),
            ..thread.frames[0].clone()
        };
        thread.frames.insert(1, log);
        assert!(tied_to_stack(&c, check));
    }

    #[test]
    fn glog_and_abseil_fatal_lines() {
        let glog = lines("I1203 12:00:00.000000 123 main.cc:10] starting\nF1203 12:00:00.000100 123 file.cc:42] Check failed: x > 0 (0 vs. 0) \n*** Check failure stack trace: ***\n");
        assert_eq!(fatal_line_in(&glog).as_deref(), Some("file.cc:42] Check failed: x > 0 (0 vs. 0)"));
        let absl = lines("F0000 00:00:1733300000.123456   4242 engine.cc:77] Check failed: ptr != nullptr\n");
        assert_eq!(fatal_line_in(&absl).as_deref(), Some("engine.cc:77] Check failed: ptr != nullptr"));
        assert_eq!(fatal_line_in(&lines("Failed to open file.cc:3] x\n")), None);
    }

    #[test]
    fn faulthandler_headers_are_not_messages() {
        let tail = lines("............\nFatal Python error: Segmentation fault\n\nCurrent thread 0x00007f3a2c8e5740 (most recent call first):\n");
        assert_eq!(fatal_line_in(&tail), None);
    }

    #[test]
    fn ordinary_output_is_not_a_message() {
        let tail = lines("12 passed\nwarning: something\nTraceback (most recent call last):\n");
        assert_eq!(fatal_line_in(&tail), None);
    }
}
