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
    fatal_line_in(&capture.stderr_tail)
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
        if let Some(message) = recognise(text, next) {
            found = Some(message);
        }
    }
    found
}

fn recognise(line: &str, next: Option<&str>) -> Option<String> {
    let trimmed = line.trim_start();
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
    if trimmed.starts_with("thread '") && trimmed.contains("' panicked at ") {
        // Rust ≥ 1.73 puts the message on the next line.
        return Some(match next {
            Some(n) if trimmed.ends_with(':') && !n.is_empty() && !n.starts_with("note:") => {
                format!("{trimmed} {n}")
            }
            _ => trimmed.to_string(),
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
