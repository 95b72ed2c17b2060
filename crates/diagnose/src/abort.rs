//! Which kind of abort: glibc's message says double free, heap damage or a failed
//! assertion; without a message the frames (`malloc_printerr`, `__assert_fail`) say it;
//! otherwise it is a plain abort, explained by the message when there is one.

use crate::frames::normalized_name;
use crate::kind::Verdict;
use crate::model::{CrashKind, Frame, FrameKind};

/// Whether the thread is inside libc's abort() (possibly under assert, malloc checks,
/// CPython's fatal error or C++ terminate).
pub fn has_abort_call(frames: &[Frame]) -> bool {
    frames
        .iter()
        .filter(|f| f.kind == FrameKind::Native)
        .filter_map(normalized_name)
        .any(|n| n == "abort" || n == "__abort")
}

pub(crate) fn abort_family(frames: &[Frame], message: Option<&str>) -> Verdict {
    let names: Vec<String> = frames.iter().filter_map(normalized_name).collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    // The runtime's own words first (their text may contain any word, `corrupted` too), then
    // its abort path on the stack when it said nothing we could read.
    if let Some(verdict) = runtime_verdict(message, frames) {
        return verdict;
    }
    if let Some(text) = message {
        if let Some(verdict) = classify_abort_message(text) {
            return verdict;
        }
    }
    if has("malloc_printerr") {
        return Verdict::new(CrashKind::HeapCorruption, "glibc's allocator found its bookkeeping damaged and aborted");
    }
    if has("__assert_fail") || has("__assert_fail_base") {
        return assert_verdict();
    }
    if has("__stack_chk_fail") {
        return Verdict::new(
            CrashKind::BufferOverflow,
            "the stack protector found a canary overwritten: a stack buffer overflow",
        );
    }
    Verdict::new(CrashKind::Abort, abort_detail(message))
}

/// A Rust panic or an uncaught C++ exception, by the runtime's message or its abort path.
fn runtime_verdict(message: Option<&str>, frames: &[Frame]) -> Option<Verdict> {
    let panic = || Verdict::new(CrashKind::Panic, "a Rust panic could not unwind and aborted the process");
    let uncaught = || {
        Verdict::new(CrashKind::UncaughtException, "an uncaught C++ exception reached std::terminate(), which aborts")
    };
    if let Some(text) = message {
        if is_rust_panic_message(text) {
            return Some(panic());
        }
        if text.starts_with("terminate called") {
            return Some(uncaught());
        }
    }
    if crate::runtimes::RUST.died_on(frames) {
        return Some(panic());
    }
    if crate::runtimes::CXX.died_on(frames) {
        return Some(uncaught());
    }
    None
}

/// `thread 'main' panicked at …`, `thread '<unnamed>' (4242) panicked at …`.
pub fn is_rust_panic_message(text: &str) -> bool {
    text.starts_with("thread '") && text.contains(" panicked at ")
}

/// The kind an abort message names, when it names one.
pub fn classify_abort_message(text: &str) -> Option<Verdict> {
    if text.contains("double free") {
        return Some(Verdict::new(CrashKind::DoubleFree, "glibc's free() was handed a block that was already free"));
    }
    let heap_markers = [
        "corrupted",
        "corruption",
        "free(): ",
        "malloc(): ",
        "realloc(): ",
        "calloc(): ",
        "munmap_chunk(): ",
        "malloc_consolidate(): ",
        "memalign(): ",
        "tcache_thread_shutdown(): ",
        "malloc.c",
        "arena.c",
        "_PyMem_DebugRaw",
        "bad leading pad byte",
        "bad trailing pad byte",
    ];
    if heap_markers.iter().any(|m| text.contains(m)) {
        return Some(Verdict::new(
            CrashKind::HeapCorruption,
            "the allocator found its bookkeeping damaged and aborted",
        ));
    }
    if text.contains("Assertion") && text.contains("failed") {
        return Some(assert_verdict());
    }
    if text.contains("stack smashing detected") {
        return Some(Verdict::new(
            CrashKind::BufferOverflow,
            "the stack protector found a canary overwritten: a stack buffer overflow",
        ));
    }
    None
}

fn assert_verdict() -> Verdict {
    Verdict::new(CrashKind::Assert, "a failed assert() called abort()")
}

fn abort_detail(message: Option<&str>) -> String {
    match message {
        Some(m) if m.starts_with("Fatal Python error") => "CPython hit a fatal error and called abort()".into(),
        Some(m) if m.starts_with("terminate called") => {
            "an uncaught C++ exception reached std::terminate(), which aborts".into()
        }
        Some(m) if m.contains("panicked at") => "a Rust panic aborted the process".into(),
        Some(m) if m.contains("buffer overflow detected") => {
            "_FORTIFY_SOURCE caught a buffer overflow and aborted".into()
        }
        _ => "the program called abort()".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, kind_of};

    proptest::proptest! {
        #![proptest_config(faultline_model::fixtures::config())]

        /// Whatever the stack and message, the family is found without panicking.
        #[test]
        fn any_frames_and_message(frames in faultline_model::fixtures::strategies::frames(), message in faultline_model::fixtures::strategies::text()) {
            let _ = abort_family(&frames, Some(&message));
        }
    }

    #[test]
    fn aborts_by_message() {
        assert_eq!(kind_of(&fixtures::double_free()).0, CrashKind::DoubleFree);
        assert_eq!(kind_of(&fixtures::c_assert()).0, CrashKind::Assert);
        let (kind, detail) = kind_of(&fixtures::shutdown_static_dtor_abort());
        assert_eq!(kind, CrashKind::Abort);
        assert_eq!(detail, "CPython hit a fatal error and called abort()");
        let heap = |m: &str| classify_abort_message(m).map(|v| v.kind);
        assert_eq!(heap("corrupted size vs. prev_size"), Some(CrashKind::HeapCorruption));
        assert_eq!(heap("munmap_chunk(): invalid pointer"), Some(CrashKind::HeapCorruption));
        assert_eq!(heap("free(): invalid pointer"), Some(CrashKind::HeapCorruption));
        assert_eq!(heap("malloc(): unaligned tcache chunk detected"), Some(CrashKind::HeapCorruption));
        assert_eq!(heap("double free or corruption (out)"), Some(CrashKind::DoubleFree));
        assert_eq!(heap("x.c:3: f: Assertion `p' failed."), Some(CrashKind::Assert));
        assert_eq!(heap("something else"), None);
    }

    #[test]
    fn abort_frames_without_a_message() {
        let mut c = fixtures::double_free();
        c.abort_message = None;
        c.stderr_tail.clear();
        assert_eq!(kind_of(&c).0, CrashKind::HeapCorruption);
        let mut c = fixtures::c_assert();
        c.abort_message = None;
        c.stderr_tail.clear();
        assert_eq!(kind_of(&c).0, CrashKind::Assert);
    }
}
