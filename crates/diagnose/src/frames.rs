//! What a frame is: whose code it runs (the C runtime, the interpreter, a library, the
//! user's own code) and its name without compiler or CPU-dispatch decorations.
//!
//! Every question here is answered from the frame alone (module basename, file path,
//! function name), so the diagnosis and the report agree on it.

use crate::model::{Frame, FrameKind};

/// The C and C++ runtime, the dynamic loader and the vDSO: never where a bug is reported.
const SYSTEM_PREFIXES: &[&str] = &[
    "libc.so",
    "libc-",
    "libm.so",
    "libm-",
    "libpthread",
    "libdl.so",
    "libdl-",
    "librt.so",
    "librt-",
    "ld-linux",
    "ld-musl",
    "ld-2.",
    "libstdc++",
    "libc++",
    "libgcc_s",
    "linux-vdso",
    "linux-gate",
    "[vdso]",
    // glibc's malloc checks (heap-check), the sanitizer runtimes and preloaded allocators
    // only notice a heap bug: the culprit is their caller.
    "libc_malloc_debug",
    "libasan",
    "libubsan",
    "liblsan",
    "libtsan",
    "libclang_rt.",
    "libjemalloc",
    "libtcmalloc",
];

/// Support libraries that CPython and common wheels link; their frames are plumbing for
/// display, though they can still be a culprit (the brief keeps the culprit rule narrow).
const SUPPORT_PREFIXES: &[&str] = &[
    "libffi",
    "libz.so",
    "libssl",
    "libcrypto",
    "libsqlite3",
    "libexpat",
    "libbz2",
    "liblzma",
    "libuuid",
    "libreadline",
    "libncurses",
    "libtinfo",
    "libutil",
    "libcrypt",
    "libnsl",
];

/// Extension modules shipped with CPython (`lib-dynload`): library code, not the user's.
const STDLIB_EXTENSIONS: &[&str] = &[
    "_asyncio",
    "_bisect",
    "_blake2",
    "_bz2",
    "_codecs_cn",
    "_codecs_hk",
    "_codecs_iso2022",
    "_codecs_jp",
    "_codecs_kr",
    "_codecs_tw",
    "_contextvars",
    "_crypt",
    "_csv",
    "_ctypes",
    "_curses",
    "_curses_panel",
    "_datetime",
    "_dbm",
    "_decimal",
    "_elementtree",
    "_gdbm",
    "_hashlib",
    "_heapq",
    "_json",
    "_lsprof",
    "_lzma",
    "_md5",
    "_multibytecodec",
    "_multiprocessing",
    "_opcode",
    "_pickle",
    "_posixshmem",
    "_posixsubprocess",
    "_queue",
    "_random",
    "_sha1",
    "_sha2",
    "_sha256",
    "_sha3",
    "_sha512",
    "_socket",
    "_sqlite3",
    "_ssl",
    "_statistics",
    "_struct",
    "_testcapi",
    "_tkinter",
    "_typing",
    "_uuid",
    "_xxsubinterpreters",
    "_zoneinfo",
    "array",
    "audioop",
    "binascii",
    "cmath",
    "fcntl",
    "grp",
    "math",
    "mmap",
    "nis",
    "ossaudiodev",
    "pyexpat",
    "readline",
    "resource",
    "select",
    "spwd",
    "syslog",
    "termios",
    "unicodedata",
    "xxlimited",
    "zlib",
];

/// The basename of a module path (`/usr/lib/x86_64-linux-gnu/libc.so.6` → `libc.so.6`).
pub fn module_basename(module: &str) -> &str {
    module.rsplit('/').next().unwrap_or(module)
}

/// `python`, `python3`, `python3.11`, `python3.11d`, `python3.13t`: the interpreter binary.
pub fn is_python_executable(basename: &str) -> bool {
    let Some(rest) = basename.strip_prefix("python") else {
        return false;
    };
    let rest = rest.trim_end_matches(['d', 't', 'm']);
    rest.chars().all(|c| c.is_ascii_digit() || c == '.')
}

pub fn is_system_module(basename: &str) -> bool {
    SYSTEM_PREFIXES.iter().any(|p| basename.starts_with(p))
}

pub fn is_libc(basename: &str) -> bool {
    basename.starts_with("libc.so") || basename.starts_with("libc-")
}

/// libpython or the python executable: CPython's own code.
pub fn is_interpreter_module(basename: &str) -> bool {
    basename.starts_with("libpython") || is_python_executable(basename)
}

fn is_support_module(basename: &str) -> bool {
    SUPPORT_PREFIXES.iter().any(|p| basename.starts_with(p))
}

fn is_stdlib_extension(basename: &str) -> bool {
    let stem = module_stem(basename);
    STDLIB_EXTENSIONS.contains(&stem.as_str())
}

/// A native frame in the C runtime or the interpreter (not counting frames without module).
pub fn is_runtime_frame(frame: &Frame) -> bool {
    frame.kind == FrameKind::Native
        && frame.module.as_deref().map(module_basename).is_some_and(|m| is_system_module(m) || is_interpreter_module(m))
}

/// A native frame that may be named as the culprit: it belongs to a known object that is
/// neither the C runtime nor the interpreter, and it is not a runtime's fatal machinery
/// (Rust's panic path is linked into every Rust extension: the culprit is what panicked).
pub fn is_culprit_candidate(frame: &Frame) -> bool {
    frame.kind == FrameKind::Native
        && frame
            .module
            .as_deref()
            .map(module_basename)
            .is_some_and(|m| !m.is_empty() && !is_system_module(m) && !is_interpreter_module(m))
        && !normalized_name(frame).is_some_and(|n| is_signal_plumbing(&n))
}

/// A Python file from the standard library, site-packages or the frozen import system.
pub fn is_library_python_file(file: &str) -> bool {
    file.starts_with("<frozen ")
        || file.contains("/site-packages/")
        || file.contains("/dist-packages/")
        || is_stdlib_path(file)
}

/// `.../lib/python3.11/...` (or `lib64/`): the standard library of some installation.
fn is_stdlib_path(file: &str) -> bool {
    ["/lib/python", "/lib64/python"].iter().any(|marker| {
        file.find(marker).is_some_and(|at| {
            let rest = &file[at + marker.len()..];
            rest.starts_with(|c: char| c.is_ascii_digit())
        })
    })
}

/// A source file of a library that was compiled into the object: C and C++ headers from an
/// include directory (CPython's `object.h`, libstdc++'s `stl_pair.h`), Rust's standard
/// library and registry crates. Their inlined frames sit above the user's code.
pub fn is_library_source(file: &str) -> bool {
    ["/include/", "/c++/", "/rustc/", "/.cargo/registry/"].iter().any(|m| file.contains(m))
}

/// The user's own code, for highlighting: Python outside the stdlib and site-packages;
/// native code outside the runtime, CPython's own extensions and common support libraries.
pub fn is_user_frame(frame: &Frame) -> bool {
    match frame.kind {
        FrameKind::Python => frame.file.as_deref().is_some_and(|f| !is_library_python_file(f)),
        FrameKind::Native => {
            is_culprit_candidate(frame)
                && frame
                    .module
                    .as_deref()
                    .map(module_basename)
                    .is_some_and(|m| !is_support_module(m) && !is_stdlib_extension(m))
        }
    }
}

/// A module name without directory, extension tag and version (`_pixfmt`, `libc`,
/// `libpython`, `python`): the same on every machine and Python patch release.
pub fn module_stem(module: &str) -> String {
    let base = module_basename(module);
    if is_python_executable(base) {
        return "python".to_string();
    }
    let mut stem = base;
    for marker in [".cpython-", ".abi3", ".so", ".pypy"] {
        if let Some(at) = stem.find(marker) {
            stem = &stem[..at];
        }
    }
    strip_version(stem).to_string()
}

/// Strips a dotted version from the end (`-2.36`, `3.11`); bare trailing digits are part
/// of the name (`libx264`, `ld-linux-x86-64`).
fn strip_version(name: &str) -> &str {
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let tail = &name[trimmed.len()..];
    let dotted = tail.contains('.') && tail.starts_with(|c: char| c.is_ascii_digit());
    if !dotted {
        return name;
    }
    let base = trimmed.strip_suffix('-').unwrap_or(trimmed);
    if base.is_empty() {
        name
    } else {
        base
    }
}

/// Compiler-generated clone suffixes: `.cold`, `.isra.0`, `.constprop.3`, `.part.1`, ...
const CLONE_WORDS: &[&str] = &["cold", "isra", "constprop", "part", "lto_priv", "llvm", "localalias", "clone", "plt"];

/// glibc's per-CPU implementation tags: `__strlen_evex` is `strlen` on a machine with
/// AVX-512, `__strlen_avx2` or `__strlen_sse2` elsewhere.
const CPU_VARIANTS: &[&str] = &[
    "sse2",
    "sse3",
    "ssse3",
    "sse4",
    "sse42",
    "avx",
    "avx2",
    "avx512",
    "avx512f",
    "avx512bw",
    "evex",
    "evex256",
    "evex512",
    "erms",
    "generic",
    "simd",
    "asimd",
    "sve",
    "thunderx",
    "thunderx2",
    "falkor",
    "kunpeng",
    "a64fx",
    "mops",
    "emag",
    "zva",
];

/// A function name as it would read on any machine: clone suffixes, Rust hashes, glibc's
/// internal `__GI_` aliases and per-CPU variants removed. `module` is the frame's module.
pub fn normalize_function(name: &str, module: Option<&str>) -> String {
    let mut name = strip_clone_suffixes(name.trim());
    name = strip_rust_hash(name);
    let libc = module.map(module_basename).is_none_or(is_system_module);
    if !libc {
        return name.to_string();
    }
    let name = name.strip_prefix("__GI_").unwrap_or(name);
    let name = match name.strip_prefix("__libc_") {
        Some(rest @ ("malloc" | "free" | "calloc" | "realloc" | "memalign" | "valloc" | "pvalloc")) => rest,
        _ => name,
    };
    strip_cpu_variant(name)
}

fn strip_clone_suffixes(mut name: &str) -> &str {
    while let Some(dot) = name.rfind('.') {
        let tail = &name[dot + 1..];
        let head = &name[..dot];
        if CLONE_WORDS.contains(&tail) {
            name = head;
            continue;
        }
        let numeric = !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit());
        let after_word = head.rfind('.').is_some_and(|d| CLONE_WORDS.contains(&&head[d + 1..]));
        if numeric && after_word {
            name = head;
            continue;
        }
        break;
    }
    name
}

/// `core::ptr::drop::h0123456789abcdef` → `core::ptr::drop` (legacy Rust mangling).
fn strip_rust_hash(name: &str) -> &str {
    match name.rfind("::h") {
        Some(at) => {
            let hash = &name[at + 3..];
            if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) {
                &name[..at]
            } else {
                name
            }
        }
        None => name,
    }
}

fn strip_cpu_variant(name: &str) -> String {
    let Some(rest) = name.strip_prefix("__") else {
        return name.to_string();
    };
    let parts: Vec<&str> = rest.split('_').collect();
    match parts.iter().position(|p| CPU_VARIANTS.contains(p)) {
        Some(at) if at > 0 => parts[..at].join("_"),
        _ => name.to_string(),
    }
}

/// A C++ name reduced to what people say: no parameter list, no `(anonymous namespace)::`
/// (`(anonymous namespace)::PyRef::~PyRef()` → `PyRef::~PyRef`).
pub fn short_function(name: &str) -> String {
    let name = name.replace("(anonymous namespace)::", "");
    let bytes = name.as_bytes();
    // Cut at the first '(' that is not part of `operator()`.
    let mut cut = name.len();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'(' && !name[..i].ends_with("operator") {
            cut = i;
            break;
        }
    }
    name[..cut].trim().to_string()
}

/// Frames that only carry a signal out of the process (raise, abort, assert reporting,
/// CPython's fatal-error path, C++ terminate): the same for every bug that aborts.
pub fn is_signal_plumbing(normalized: &str) -> bool {
    const PLUMBING: &[&str] = &[
        "raise",
        "gsignal",
        "abort",
        "pthread_kill",
        "__pthread_kill",
        "__pthread_kill_implementation",
        "__pthread_kill_internal",
        "__restore_rt",
        "__libc_message",
        "__libc_message_impl",
        "__libc_fatal",
        "__assert_fail",
        "__assert_fail_base",
        "__assert_perror_fail",
        "__malloc_assert",
        "malloc_printerr",
        "__fortify_fail",
        "__chk_fail",
        "__stack_chk_fail",
        "fatal_error",
        "fatal_error_exit",
        "_Py_FatalErrorFunc",
        "_Py_FatalErrorFormat",
        "_Py_FatalError_TstateNULL",
        "Py_FatalError",
        "_PyObject_AssertFailed",
        "faulthandler_fatal_error",
        "std::terminate",
        "__cxxabiv1::__terminate",
        "__gnu_cxx::__verbose_terminate_handler",
        "__cxa_throw",
        "__cxa_rethrow",
        "std::abort",
        "std::process::abort",
        "std::sys::pal::unix::abort_internal",
    ];
    let short = short_function(normalized);
    // The runtimes' table matches both the short and the full name itself.
    PLUMBING.contains(&short.as_str()) || crate::runtimes::is_fatal_machinery(normalized)
}

/// The frames after a runtime's fatal path: everything innermost of (and including) the
/// outermost fatal-machinery frame above the first Python frame is that runtime's own work
/// (Qt's internal handlers below `QMessageLogger::fatal` have no exported names; a panic's
/// hook, a terminate handler), so culprit and signature start below it.
pub fn past_fatal_machinery(frames: &[Frame]) -> &[Frame] {
    let native_top = frames.iter().position(|f| f.kind == FrameKind::Python).unwrap_or(frames.len());
    let last = frames[..native_top].iter().rposition(|f| {
        f.kind == FrameKind::Native && normalized_name(f).is_some_and(|n| crate::runtimes::is_fatal_machinery(&n))
    });
    match last {
        Some(at) => &frames[at + 1..],
        None => frames,
    }
}

/// The frame's function, normalized, or `None` for an unsymbolized frame.
pub fn normalized_name(frame: &Frame) -> Option<String> {
    let f = frame.function.as_deref()?;
    Some(match frame.kind {
        FrameKind::Native => normalize_function(f, frame.module.as_deref()),
        FrameKind::Python => f.to_string(),
    })
}

/// Whether a native frame of this function name appears (normalized) in the stack.
pub fn has_native_function(frames: &[Frame], wanted: impl Fn(&str) -> bool) -> bool {
    frames.iter().filter(|f| f.kind == FrameKind::Native).filter_map(normalized_name).any(|n| wanted(&n))
}

/// The last path component of a file (`/a/b/main.py` → `main.py`).
pub fn file_basename(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// The innermost frame that is not signal plumbing and has a name: what was really
/// running (for an abort, the function that called abort()).
pub fn innermost_meaningful(frames: &[Frame]) -> Option<&Frame> {
    frames.iter().find(|f| normalized_name(f).is_some_and(|n| !is_signal_plumbing(&n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(function: &str, module: &str) -> Frame {
        Frame::native(Some(function.into()), Some(module.into()), 0x1000)
    }

    #[test]
    fn python_executables() {
        for name in ["python", "python3", "python3.11", "python3.11d", "python3.13t"] {
            assert!(is_python_executable(name), "{name}");
        }
        for name in ["pythonista", "python3-config", "ipython", "libpython3.11.so.1.0"] {
            assert!(!is_python_executable(name), "{name}");
        }
    }

    #[test]
    fn runtime_and_culprit_modules() {
        let culprit = |m: &str| is_culprit_candidate(&native("f", m));
        assert!(!culprit("libc.so.6"));
        assert!(!culprit("/lib/x86_64-linux-gnu/libc.so.6"));
        assert!(!culprit("ld-linux-x86-64.so.2"));
        assert!(!culprit("libstdc++.so.6"));
        assert!(!culprit("libgcc_s.so.1"));
        assert!(!culprit("libpython3.11.so.1.0"));
        assert!(!culprit("python3.11"));
        assert!(!culprit("linux-vdso.so.1"));
        assert!(culprit("_pixfmt.cpython-311-x86_64-linux-gnu.so"));
        assert!(culprit("_ctypes.cpython-311-x86_64-linux-gnu.so"));
        assert!(culprit("libopenblas.so.0"));
        let no_module = Frame::native(Some("f".into()), None, 1);
        assert!(!is_culprit_candidate(&no_module));
    }

    #[test]
    fn user_frames() {
        let py = |file: &str| Frame::python("f".into(), file.into(), Some(1), None);
        assert!(is_user_frame(&py("/work/app/main.py")));
        assert!(is_user_frame(&py("tests/test_bbox.py")));
        assert!(!is_user_frame(&py("/root/.pyenv/versions/3.11.7/lib/python3.11/threading.py")));
        assert!(!is_user_frame(&py("/usr/lib/python3/dist-packages/numpy/core/x.py")));
        assert!(!is_user_frame(&py("/venv/lib/python3.11/site-packages/_pytest/python.py")));
        assert!(!is_user_frame(&py("<frozen importlib._bootstrap>")));
        assert!(is_user_frame(&native("bbox", "_geom.cpython-311-x86_64-linux-gnu.so")));
        assert!(!is_user_frame(&native("string_at", "_ctypes.cpython-311-x86_64-linux-gnu.so")));
        assert!(!is_user_frame(&native("ffi_call", "libffi.so.8")));
        assert!(!is_user_frame(&native("cfunction_call", "libpython3.11.so.1.0")));
    }

    #[test]
    fn module_stems_drop_versions_and_tags() {
        assert_eq!(module_stem("_pixfmt.cpython-311-x86_64-linux-gnu.so"), "_pixfmt");
        assert_eq!(module_stem("_pixfmt.abi3.so"), "_pixfmt");
        assert_eq!(module_stem("/usr/lib/libc.so.6"), "libc");
        assert_eq!(module_stem("libc-2.36.so"), "libc");
        assert_eq!(module_stem("libpython3.11.so.1.0"), "libpython");
        assert_eq!(module_stem("libpython3.12.so.1.0"), "libpython");
        assert_eq!(module_stem("python3.11"), "python");
        assert_eq!(module_stem("libstdc++.so.6"), "libstdc++");
        assert_eq!(module_stem("libx264.so.164"), "libx264");
        assert_eq!(module_stem("ld-linux-x86-64.so.2"), "ld-linux-x86-64");
    }

    #[test]
    fn function_names_lose_decorations() {
        let libc = Some("libc.so.6");
        assert_eq!(normalize_function("__strlen_evex", libc), "strlen");
        assert_eq!(normalize_function("__strlen_avx2", libc), "strlen");
        assert_eq!(normalize_function("__memmove_avx_unaligned_erms", libc), "memmove");
        assert_eq!(normalize_function("__strcasecmp_l_avx2", libc), "strcasecmp_l");
        assert_eq!(normalize_function("__GI___libc_free", libc), "free");
        assert_eq!(normalize_function("__GI_raise", libc), "raise");
        assert_eq!(normalize_function("__pthread_kill_implementation", libc), "__pthread_kill_implementation");
        assert_eq!(normalize_function("bbox.cold", Some("_geom.so")), "bbox");
        assert_eq!(normalize_function("walk.isra.0", Some("_t.so")), "walk");
        assert_eq!(normalize_function("walk.constprop.2.isra.0", Some("_t.so")), "walk");
        assert_eq!(normalize_function("walk.part.1.cold", Some("_t.so")), "walk");
        assert_eq!(normalize_function("v1.2", Some("_t.so")), "v1.2");
        assert_eq!(normalize_function("demo::run::h0123456789abcdef", Some("x.so")), "demo::run");
        // A user library's own names are left alone.
        assert_eq!(normalize_function("__scan_avx2", Some("libfast.so")), "__scan_avx2");
    }

    #[test]
    fn short_cpp_names() {
        assert_eq!(short_function("(anonymous namespace)::PyRef::~PyRef()"), "PyRef::~PyRef");
        assert_eq!(short_function("std::terminate()"), "std::terminate");
        assert_eq!(short_function("Foo::operator()(int)"), "Foo::operator()");
        assert_eq!(short_function("bbox"), "bbox");
    }

    #[test]
    fn runtime_fatal_machinery_is_plumbing() {
        for name in [
            "core::panicking::panic_fmt",
            "core::panicking::panic_bounds_check",
            "std::panicking::begin_panic_handler::{{closure}}",
            "std::sys::backtrace::__rust_end_short_backtrace",
            "__rustc::__rust_abort",
            "__rustc::rust_begin_unwind",
            "core::option::unwrap_failed",
            "__cxxabiv1::__terminate(void (*)())",
            "__cxa_throw",
            "_Unwind_RaiseException",
            "QMessageLogger::fatal(char const*, ...) const",
            "qt_message_fatal(QtMsgType, QMessageLogContext const&, QString const&)",
            "google::LogMessageFatal::~LogMessageFatal()",
            "absl::lts_20240116::log_internal::LogMessageFatal::~LogMessageFatal()",
        ] {
            assert!(is_signal_plumbing(name), "{name}");
        }
        for name in [
            "mycrate::parse::parse_header",
            "absl::lts_20240116::StrCat",
            "QWidget::show",
            "std::vector<int>::at",
            "__cxa_finalize",
            "__cxa_atexit",
        ] {
            assert!(!is_signal_plumbing(name), "{name}");
        }
    }

    #[test]
    fn plumbing() {
        for name in [
            "raise",
            "abort",
            "__pthread_kill_implementation",
            "malloc_printerr",
            "__assert_fail",
            "_Py_FatalErrorFunc",
            "std::terminate()",
        ] {
            assert!(is_signal_plumbing(name), "{name}");
        }
        assert!(!is_signal_plumbing("_int_free"));
        assert!(!is_signal_plumbing("bbox"));
    }
}
