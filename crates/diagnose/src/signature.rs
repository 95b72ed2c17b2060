//! Crash signatures: one short string that is the same each time a bug crashes (across
//! runs, ASLR, machines, and edits that only move line numbers) and differs between bugs.
//!
//! How the established tools group crashes: Sentry hashes the function names and modules of
//! the in-app frames, never addresses or line numbers; ABRT hashes the first few function
//! names of the crashing thread's backtrace after dropping the abort/raise frames; apport
//! keys on the signal and the top five functions (`StacktraceTop`). faultline does the same:
//!
//! ```text
//! sha256("SIGSEGV|null-deref|bytes_per_pixel@_pixfmt|py:buffer_size@main.py")
//! ```
//!
//! - the signal name and the crash kind;
//! - up to five meaningful native frames of the crashed thread, innermost first, as
//!   `function@module`: function names normalized (libc's per-CPU variants such as
//!   `__strlen_evex` → `strlen`; `.cold`, `.isra.N`, `.constprop.N`, `.part.N` dropped; C++
//!   parameter lists dropped), modules reduced to a stem without path, ABI tag or version
//!   (`libpython3.11.so.1.0` → `libpython`); abort/raise/assert/pthread_kill/`__restore_rt`
//!   plumbing and inlined frames (present only when DWARF was available) left out, and a
//!   run of one function collapsed to one entry. The walk stops at the first Python frame,
//!   and at the interpreter's call machinery below the first non-runtime frame
//!   (`cfunction_call` differs between Python versions and says nothing about the bug);
//! - for a stack overflow, the recursing functions instead of the top frames: where in the
//!   recursion the guard page is hit varies from run to run;
//! - the innermost Python frame in the user's code (function and file name, no line),
//!   falling back to the innermost Python frame;
//! - for a failed assertion, the assertion text without its `file:line:` prefix; for a
//!   CPython fatal error, the name of the function that reported it; for a Rust panic, the
//!   file and message the runtime names (numbers folded to `#`: the values of the moment);
//!   for an uncaught C++ exception, its type; for a glog/abseil check, its file and
//!   condition. The runtimes' panic, throw and fatal-log frames are plumbing, like abort's.
//!
//! It is rendered as a readable prefix and 12 hex digits (48 bits) of the hash:
//! `SIGSEGV/null-deref/bytes_per_pixel@_pixfmt/1a2b3c4d5e6f`. The kind is part of both:
//! when a race makes one bug fault at different kinds of address, its crashes group per
//! kind.

use sha2::{Digest, Sha256};

use crate::capture::Capture;
use crate::frames::{
    file_basename, is_culprit_candidate, is_runtime_frame, is_signal_plumbing, is_user_frame, module_stem,
    normalized_name, short_function,
};
use crate::model::{CrashKind, Frame, FrameKind};
use crate::recursion::Recursion;
use crate::signals;

const TOP_FRAMES: usize = 5;
const HASH_HEX_DIGITS: usize = 12;

/// One frame as it enters the signature, and whether it is outside the runtime.
struct Entry {
    key: String,
    function: String,
    module: String,
    user: bool,
}

pub fn signature(capture: &Capture, kind: CrashKind, recursion: Option<&Recursion>, message: Option<&str>) -> String {
    signature_with_sanitizer(capture, kind, recursion, message, None)
}

/// [`signature`], with the sanitizer's name for the error (`heap-buffer-overflow`) when a
/// sanitizer reported it: two kinds of error at one place are two bugs.
pub fn signature_with_sanitizer(
    capture: &Capture,
    kind: CrashKind,
    recursion: Option<&Recursion>,
    message: Option<&str>,
    sanitizer_class: Option<&str>,
) -> String {
    let frames = capture.crashed_thread().map(|t| t.frames.as_slice()).unwrap_or(&[]);
    let signal = signals::signal_name(capture.signal.signo);
    let entries = match recursion.filter(|r| kind == CrashKind::StackOverflow && r.is_deep()) {
        // Where a signal from outside finds the program is not the bug: only the Python
        // code it was in counts.
        _ if kind == CrashKind::ExternalSignal => Vec::new(),
        Some(r) => recursion_entries(frames, r),
        None => top_entries(frames),
    };
    let mut parts = vec![signal.clone(), kind.as_str().to_string()];
    parts.extend(entries.iter().map(|e| e.key.clone()));
    let python = python_entry(frames);
    if let Some(py) = &python {
        parts.push(format!("py:{}", py.key));
    }
    if let Some(m) = message.and_then(|m| message_key(kind, m)) {
        parts.push(format!("msg:{m}"));
    }
    if let Some(class) = sanitizer_class {
        parts.push(format!("sanitizer:{class}"));
    }
    let digest = Sha256::digest(parts.join("|").as_bytes());
    let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect::<String>()[..HASH_HEX_DIGITS].to_string();
    let label = entries
        .iter()
        .find(|e| e.user)
        .or(entries.first())
        .or(python.as_ref())
        .map(|e| format!("{}@{}", readable(&e.function), e.module))
        .unwrap_or_else(|| "unknown".into());
    format!("{signal}/{}/{label}/{hash}", kind.as_str())
}

fn entry(frame: &Frame) -> Entry {
    let function = normalized_name(frame).map(|n| short_function(&n)).unwrap_or_else(|| "?".into());
    let module = match frame.kind {
        FrameKind::Native => frame.module.as_deref().map(module_stem).unwrap_or_else(|| "?".into()),
        FrameKind::Python => frame.file.as_deref().map(|f| file_basename(f).to_string()).unwrap_or_default(),
    };
    Entry {
        key: format!("{function}@{module}"),
        function,
        module,
        user: is_culprit_candidate(frame) || is_user_frame(frame),
    }
}

fn top_entries(frames: &[Frame]) -> Vec<Entry> {
    let frames = crate::frames::past_fatal_machinery(frames);
    let mut out: Vec<Entry> = Vec::new();
    let mut seen_non_runtime = false;
    for frame in frames {
        if frame.kind == FrameKind::Python {
            break;
        }
        if frame.inlined {
            continue;
        }
        if normalized_name(frame).is_some_and(|n| is_signal_plumbing(&n)) {
            continue;
        }
        let runtime = is_runtime_frame(frame);
        if runtime && seen_non_runtime {
            break;
        }
        seen_non_runtime |= !runtime;
        let e = entry(frame);
        if out.last().is_some_and(|last| last.key == e.key) {
            continue;
        }
        out.push(e);
        if out.len() == TOP_FRAMES {
            break;
        }
    }
    out
}

fn recursion_entries(frames: &[Frame], r: &Recursion) -> Vec<Entry> {
    let pattern = frames.get(r.start..r.start + r.period).unwrap_or(&[]);
    let mut entries: Vec<Entry> = pattern.iter().map(entry).collect();
    // The pattern's phase depends on where the unwinder entered it: start from the
    // smallest key so that `a→b` and `b→a` of one recursion agree.
    if let Some(min) = (0..entries.len()).min_by(|&a, &b| entries[a].key.cmp(&entries[b].key)) {
        entries.rotate_left(min);
    }
    entries
}

fn python_entry(frames: &[Frame]) -> Option<Entry> {
    let python = || frames.iter().filter(|f| f.is_python());
    let frame = python().find(|f| is_user_frame(f)).or_else(|| python().next())?;
    Some(entry(frame))
}

/// The stable part of a message that tells bugs apart when the frames may not.
fn message_key(kind: CrashKind, message: &str) -> Option<String> {
    match kind {
        // `_stats.c:8: mean: Assertion `count > 0' failed.` → `mean: Assertion ...`
        CrashKind::Assert => {
            let at = message.find("Assertion")?;
            let head = &message[..at];
            let function = head.trim_end_matches([' ', ':']).rsplit(": ").next().unwrap_or("");
            Some(format!("{function}: {}", &message[at..]))
        }
        CrashKind::Abort => {
            if let Some(rest) = message.strip_prefix("Fatal Python error: ") {
                return Some(rest.split(':').next().unwrap_or(rest).trim().to_string());
            }
            // glog / abseil: `file.cc:42] Check failed: x > 0 (0 vs. 0)` → `file.cc] Check failed: x > 0`.
            let (place, text) = message.split_once("] ")?;
            let file = place.rsplit_once(':').map_or(place, |(file, _)| file);
            let text = text.split(" (").next().unwrap_or(text);
            Some(format!("{file}] {}", without_numbers(text)))
        }
        // The place the runtime names: `src/lib.rs` and the message with its numbers (the
        // values of the moment) left out. The line is left out too, as everywhere.
        CrashKind::Panic => {
            let place = message.split(" panicked at ").nth(1)?;
            let (file, text) = match place.strip_prefix('\'') {
                // Old form: `'MSG', FILE:LINE:COL`.
                Some(quoted) => {
                    let (text, at) = quoted.rsplit_once("', ")?;
                    (at.split(':').next().unwrap_or(at), text)
                }
                None => {
                    let (at, text) = place.split_once(": ").unwrap_or((place, ""));
                    (at.split(':').next().unwrap_or(at), text)
                }
            };
            Some(format!("{file}: {}", without_numbers(text)))
        }
        // The exception's type, not its text.
        CrashKind::UncaughtException => {
            let thrown = message.split("instance of '").nth(1).and_then(|t| t.split('\'').next());
            Some(thrown.unwrap_or("no active exception").to_string())
        }
        _ => None,
    }
}

/// `the len is 2 but the index is 7` → `the len is # but the index is #`.
fn without_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// A function name fit for the signature's readable part: no templates, at most the last
/// two `::` components, no characters that would need quoting.
fn readable(function: &str) -> String {
    let mut depth = 0usize;
    let mut plain = String::new();
    for c in function.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let parts: Vec<&str> = plain.split("::").collect();
    let tail = parts[parts.len().saturating_sub(2)..].join("::");
    let cleaned: String = tail
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '_' | ':' | '~' | '.' | '-') { c } else { '_' })
        .collect();
    cleaned.chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, ext, nat, LIBC};
    use crate::recursion::deepest_recursion;

    fn sig(c: &Capture) -> String {
        let message = crate::message::crash_message(c);
        let kind = crate::kind::classify(c, message.as_deref()).kind;
        let frames = &c.crashed_thread().unwrap().frames;
        signature(c, kind, deepest_recursion(frames).as_ref(), message.as_deref())
    }

    fn shift_addresses(c: &mut Capture, by: u64) {
        for t in &mut c.threads {
            for f in &mut t.frames {
                if let Some(a) = f.address.as_deref() {
                    let a = u64::from_str_radix(a.trim_start_matches("0x"), 16).unwrap() + by;
                    f.address = Some(format!("{a:#x}"));
                }
                f.line = f.line.map(|l| l + 3);
            }
        }
        for m in c.maps.iter_mut().filter(|m| m.end < 0x8000_0000_0000) {
            m.start += by;
            m.end += by;
        }
    }

    #[test]
    fn readable_prefix_and_hash() {
        let s = sig(&fixtures::cext_null_deref());
        assert!(s.starts_with("SIGSEGV/null-deref/bytes_per_pixel@_pixfmt/"), "{s}");
        assert_eq!(s.rsplit('/').next().unwrap().len(), 12);
        assert!(sig(&fixtures::stack_overflow(15_900)).starts_with("SIGSEGV/stack-overflow/path_length@_tree/"));
        // `~PyRef` is inlined: only DWARF shows it, so the signature does not rely on it.
        let s = sig(&fixtures::shutdown_static_dtor());
        assert!(s.starts_with("SIGSEGV/null-deref/unordered_map::~unordered_map@_events/"), "{s}");
        assert!(sig(&fixtures::double_free()).starts_with("SIGABRT/double-free/pack@_packer/"));
        assert!(sig(&fixtures::c_assert()).starts_with("SIGABRT/assert/center@_stats/"));
        assert!(sig(&fixtures::ctypes_null()).starts_with("SIGSEGV/null-deref/string_at@_ctypes/"));
    }

    #[test]
    fn runtime_messages_key_panics_exceptions_and_fatal_logs() {
        let key = |kind, m: &str| message_key(kind, m);
        // Two panic sites of one extension are two keys; the values in a message are not.
        let a = key(
            CrashKind::Panic,
            "thread '<unnamed>' panicked at src/lib.rs:5:9: index out of bounds: the len is 2 but the index is 7",
        );
        let b = key(
            CrashKind::Panic,
            "thread 'main' panicked at src/lib.rs:5:9: index out of bounds: the len is 3 but the index is 9",
        );
        let c = key(CrashKind::Panic, "thread 'main' panicked at src/lib.rs:12:9: checked_div: the divisor is zero");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.as_deref(), Some("src/lib.rs: index out of bounds: the len is # but the index is #"));
        let old = key(
            CrashKind::Panic,
            "thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/main.rs:4:37",
        );
        assert_eq!(old.as_deref(), Some("src/main.rs: called `Option::unwrap()` on a `None` value"));
        let thrown = key(
            CrashKind::UncaughtException,
            "terminate called after throwing an instance of 'std::runtime_error': what(): bad config 7",
        );
        assert_eq!(thrown.as_deref(), Some("std::runtime_error"));
        let glog = key(CrashKind::Abort, "file.cc:42] Check failed: x > 0 (0 vs. 0)");
        assert_eq!(glog.as_deref(), Some("file.cc] Check failed: x > #"));
    }

    #[test]
    fn same_bug_same_signature_despite_aslr_and_line_edits() {
        let a = fixtures::cext_null_deref();
        let mut b = a.clone();
        shift_addresses(&mut b, 0x1234_5000);
        b.signal.fault_address = Some(0x10);
        b.pid.0 += 5;
        b.tid.0 += 5;
        assert_eq!(sig(&a), sig(&b));
    }

    #[test]
    fn cpu_variants_and_clone_suffixes_do_not_matter() {
        let a = fixtures::ctypes_null();
        let mut b = a.clone();
        b.threads[0].frames[0].function = Some("__strlen_avx2".into());
        b.threads[0].frames[1].function = Some("string_at.cold".into());
        assert_eq!(sig(&a), sig(&b));
    }

    #[test]
    fn stack_overflow_depth_and_entry_point_do_not_matter() {
        let a = fixtures::stack_overflow(15_900);
        let mut b = fixtures::stack_overflow(15_850);
        // This time the guard page is hit in strlen, not vfprintf.
        b.threads[0].frames.splice(0..3, [nat("__strlen_evex", LIBC, "strlen-evex.S:77")]);
        assert_eq!(sig(&a), sig(&b));
    }

    #[test]
    fn different_bugs_differ() {
        let a = fixtures::cext_null_deref();
        let mut b = a.clone();
        b.threads[0].frames[0].function = Some("bits_per_pixel".into());
        assert_ne!(sig(&a), sig(&b));
        // Same native frames, reached from another Python function.
        let mut c = a.clone();
        c.threads[0].frames[4].function = Some("stride".into());
        assert_ne!(sig(&a), sig(&c));
        // Same place, another signal.
        let mut d = a.clone();
        d.signal.signo = 7;
        d.signal.code = 2;
        assert_ne!(sig(&a), sig(&d));
        // Two different assertions in one function.
        let e = fixtures::c_assert();
        let mut f = e.clone();
        f.abort_message = Some("python3: _stats.c:9: mean: Assertion `v != NULL' failed.\n".into());
        assert_ne!(sig(&e), sig(&f));
        // The same assertion after a line edit.
        let mut g = e.clone();
        g.abort_message = Some("python3: /elsewhere/_stats.c:12: mean: Assertion `count > 0' failed.\n".into());
        assert_eq!(sig(&e), sig(&g));
    }

    #[test]
    fn inlined_frames_do_not_matter() {
        let a = fixtures::c_assert();
        let mut b = a.clone();
        b.threads[0].frames.retain(|f| !f.inlined);
        assert_eq!(sig(&a), sig(&b));
        let _ = ext("_x");
    }

    #[test]
    fn external_signals_ignore_the_native_stack() {
        let a = fixtures::external_sigterm();
        let s = sig(&a);
        assert!(s.starts_with("SIGTERM/external-signal/wait_for_job@main.py/"), "{s}");
        let mut b = a.clone();
        b.threads[0].frames.remove(0);
        assert_eq!(s, sig(&b));
    }

    #[test]
    fn readable_names() {
        assert_eq!(readable("PyRef::~PyRef"), "PyRef::~PyRef");
        assert_eq!(readable("std::unordered_map<int, PyRef>::~unordered_map"), "unordered_map::~unordered_map");
        assert_eq!(readable("operator/"), "operator_");
    }
}
