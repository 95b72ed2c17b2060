//! The runtimes that die in their own words, one table each: the frames of their fatal
//! machinery (never the culprit, never in the signature), and the entry points that prove
//! their fatal path ran on the crashed thread (the kind's evidence, and what ties a line of
//! the shared stderr to this crash). Every rule about a runtime's fatal path reads these.

use crate::frames::{has_native_function, short_function};
use crate::model::Frame;

/// One runtime's fatal path.
pub struct Runtime {
    /// Function-name prefixes of the frames the runtime's panic, terminate or fatal-log
    /// path runs through, matched on the normalized name with or without its arguments.
    pub machinery: &'static [&'static str],
    /// The functions that only run when the runtime is dying (matched exactly or as the
    /// enclosing namespace of the frame's function).
    pub fatal_entries: &'static [&'static str],
}

pub const RUST: Runtime = Runtime {
    machinery: &[
        "core::panicking::",
        "core::panic::",
        "std::panicking::",
        "std::panic::",
        "std::rt::",
        "std::sys::backtrace::",
        "std::process::abort",
        "__rustc::",
        "panic_abort::",
        "panic_unwind::",
        "rust_panic",
        "rust_begin_unwind",
        "__rust_",
        "core::result::unwrap_failed",
        "core::option::unwrap_failed",
        "core::option::expect_failed",
        "core::cell::panic_already",
    ],
    fatal_entries: &[
        "rust_panic",
        "__rust_start_panic",
        "std::panicking::rust_panic_with_hook",
        "core::panicking::panic_nounwind",
        "core::panicking::panic_cannot_unwind",
    ],
};

pub const CXX: Runtime = Runtime {
    machinery: &[
        "__cxxabiv1::",
        // Only the throw and terminate entry points: `__cxa_finalize` and `__cxa_atexit` run
        // the user's static destructors, which are exactly where a shutdown crash is.
        "__cxa_throw",
        "__cxa_rethrow",
        "__cxa_begin_catch",
        "__cxa_end_catch",
        "__cxa_call_terminate",
        "__cxa_call_unexpected",
        "__cxa_pure_virtual",
        "__cxa_deleted_virtual",
        "__cxa_bad_cast",
        "__cxa_bad_typeid",
        "_Unwind_",
        "__gxx_personality",
        "__gnu_cxx::__verbose_terminate_handler",
        "std::__terminate",
        "std::terminate",
        "std::rethrow_exception",
    ],
    fatal_entries: &["std::terminate", "__cxxabiv1::__terminate", "__gnu_cxx::__verbose_terminate_handler"],
};

pub const QT: Runtime = Runtime {
    machinery: &["QMessageLogger::fatal", "qt_message_fatal", "qt_assert", "qt_check_pointer", "qFatal"],
    fatal_entries: &["QMessageLogger::fatal", "qt_message_fatal"],
};

/// glog and abseil's fatal log (`LOG(FATAL)`, `CHECK`).
pub const FATAL_LOG: Runtime = Runtime {
    machinery: &["google::LogMessage", "google::LogMessageFatal", "absl::log_internal::", "absl::lts_"],
    fatal_entries: &["google::LogMessageFatal", "absl::log_internal::LogMessageFatal"],
};

/// CPython's own fatal error. Its frames are in libpython, never a culprit anyway.
pub const CPYTHON: Runtime = Runtime {
    machinery: &[],
    fatal_entries: &[
        "Py_FatalError",
        "_Py_FatalError",
        "_Py_FatalErrorFunc",
        "_Py_FatalErrorFormat",
        "fatal_error",
        "fatal_error_exit",
        "_PyObject_AssertFailed",
    ],
};

/// AddressSanitizer, UBSan and their common runtime (GCC's libasan/libubsan, clang's
/// compiler-rt, linked in or preloaded): the report and abort path, and the interceptors
/// that check a libc call's arguments (`memcpy`'s caller is the culprit, not the check).
pub const SANITIZER: Runtime = Runtime {
    machinery: &[
        "__asan",
        "__ubsan",
        "__lsan",
        "__msan",
        "__tsan",
        "__sanitizer",
        "__interceptor_",
        "___interceptor_",
        "__interception::",
    ],
    fatal_entries: &["__sanitizer::Die", "__sanitizer::Abort", "__asan::ReportGenericError", "__ubsan::ScopedReport"],
};

const ALL: &[&Runtime] = &[&RUST, &CXX, &QT, &FATAL_LOG, &CPYTHON, &SANITIZER];

impl Runtime {
    /// Whether `name` (a normalized function name) is one of this runtime's machinery frames.
    pub fn is_machinery(&self, name: &str) -> bool {
        let is = |candidate: &str| {
            self.machinery.iter().any(|prefix| {
                candidate.strip_prefix(prefix).is_some_and(|rest| {
                    // `absl::lts_20240116::log_internal::…`: only abseil's logging.
                    !prefix.starts_with("absl::lts_") || rest.contains("log_internal::")
                })
            })
        };
        is(&short_function(name)) || is(name)
    }

    /// Whether `name` is one of the functions that only run when this runtime is dying.
    pub fn is_fatal_entry(&self, name: &str) -> bool {
        let is = |candidate: &str| {
            self.fatal_entries.iter().any(|entry| {
                candidate == *entry || candidate.strip_prefix(entry).is_some_and(|rest| rest.starts_with("::"))
            })
        };
        is(&short_function(name)) || is(name)
    }

    /// The runtime's fatal path ran on these frames: an entry point or its machinery.
    pub fn on_fatal_path(&self, frames: &[Frame]) -> bool {
        has_native_function(frames, |name| self.is_fatal_entry(name) || self.is_machinery(name))
    }

    /// The runtime died on these frames: one of its fatal entry points is there.
    pub fn died_on(&self, frames: &[Frame]) -> bool {
        has_native_function(frames, |name| self.is_fatal_entry(name))
    }
}

/// Whether `name` (normalized; its short form is tried too) is the fatal machinery of any
/// runtime: never where the problem is, so never the culprit nor part of the signature (two
/// panics in one extension are two groups, keyed on the functions that panicked).
pub fn is_fatal_machinery(name: &str) -> bool {
    ALL.iter().any(|runtime| runtime.is_machinery(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machinery_is_precise() {
        assert!(is_fatal_machinery("core::panicking::panic_fmt"));
        assert!(is_fatal_machinery("__cxa_throw"));
        assert!(is_fatal_machinery("absl::lts_20240116::log_internal::LogMessageFatal::~LogMessageFatal()"));
        assert!(!is_fatal_machinery("absl::lts_20240116::container_internal::raw_hash_set::find"));
        assert!(!is_fatal_machinery("__cxa_finalize"));
        assert!(!is_fatal_machinery("__cxa_atexit"));
        assert!(!is_fatal_machinery("parse_header"));
        assert!(is_fatal_machinery("__asan_report_store1"));
        assert!(is_fatal_machinery("__asan::ReportGenericError(unsigned long, unsigned long)"));
        assert!(is_fatal_machinery("__interceptor_memcpy"));
        assert!(!is_fatal_machinery("asan_helper_of_mine"));
    }

    #[test]
    fn fatal_entries_match_whole_names_or_namespaces() {
        assert!(CXX.is_fatal_entry("std::terminate()"));
        assert!(CXX.is_fatal_entry("__cxxabiv1::__terminate(void (*)())"));
        assert!(!CXX.is_fatal_entry("std::terminate_handler_for_tests"));
        assert!(RUST.is_fatal_entry("rust_panic"));
        assert!(!RUST.is_fatal_entry("rust_panicky_helper"));
        assert!(CPYTHON.is_fatal_entry("_Py_FatalErrorFunc"));
    }
}
