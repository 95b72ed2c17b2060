//! Hints: one or two sentences each, specific to what the capture shows, saying what most
//! likely went wrong and what to do next. Ordered: when it happened (shutdown), what it
//! was (the kind), where (a thread, a child process).

use crate::capture::Capture;
use crate::frames::{
    file_basename, innermost_meaningful, is_culprit_candidate, module_stem, normalized_name, short_function,
};
use crate::location::user_python_location;
use crate::model::Pid;
use crate::model::{CrashKind, Culprit, Frame, Hint, Phase, ProcessRole, SanitizerReport, TestRef};
use crate::phase::is_exit_machinery;
use crate::recursion::{looks_truncated, Recursion};
use crate::signals;
use crate::units::thousands;

/// Everything the hints are drawn from.
pub struct Facts<'a> {
    pub capture: &'a Capture,
    pub kind: CrashKind,
    pub phase: Phase,
    pub culprit: Option<&'a Culprit>,
    pub message: Option<&'a str>,
    pub recursion: Option<&'a Recursion>,
    pub test: Option<&'a TestRef>,
    /// A sanitizer's own report: it saw the bad access, so the hint reads its stacks
    /// instead of sending the user to a sanitizer.
    pub sanitizer: Option<&'a SanitizerReport>,
}

impl Facts<'_> {
    fn frames(&self) -> &[Frame] {
        self.capture.crashed_thread().map(|t| t.frames.as_slice()).unwrap_or(&[])
    }

    fn signal_name(&self) -> String {
        signals::signal_name(self.capture.signal.signo)
    }

    fn si_code(&self) -> Option<String> {
        signals::si_code_name(self.capture.signal.signo, self.capture.signal.code)
    }

    fn is_pytest(&self) -> bool {
        self.capture.pytest.running_pytest
            || self.capture.argv.iter().any(|a| a.contains("pytest") || a.contains("py.test"))
    }

    /// "`bytes_per_pixel` in _pixfmt", or a plain description when there is no culprit.
    fn who(&self) -> String {
        match self.culprit {
            Some(c) => culprit_label(c),
            None => match innermost_meaningful(self.frames()) {
                Some(f) => frame_label(f),
                None => "the program".into(),
            },
        }
    }
}

fn hint(id: &str, text: String) -> Hint {
    Hint { id: id.into(), text }
}

fn culprit_label(c: &Culprit) -> String {
    let function = c.function.as_deref().map(short_function).unwrap_or_else(|| "code".into());
    match c.module.as_deref() {
        Some(m) => format!("`{function}` in {}", module_stem(m)),
        None => format!("`{function}`"),
    }
}

fn frame_label(f: &Frame) -> String {
    let function = normalized_name(f).map(|n| short_function(&n)).unwrap_or_else(|| "code".into());
    match (f.is_python(), f.module.as_deref(), f.file.as_deref()) {
        (true, _, Some(file)) => format!("`{function}` ({})", file_basename(file)),
        (false, Some(m), _) => format!("`{function}` in {}", module_stem(m)),
        _ => format!("`{function}`"),
    }
}

pub fn hints(facts: &Facts) -> Vec<Hint> {
    let mut out = Vec::new();
    let shutdown = shutdown_hint(facts);
    let explained_by_shutdown = shutdown.as_ref().is_some_and(|h| h.id != "shutdown");
    out.extend(shutdown);
    if !explained_by_shutdown {
        match facts.sanitizer {
            Some(report) => out.push(sanitizer_hint(facts, report)),
            None => out.extend(kind_hint(facts)),
        }
    }
    out.extend(import_hint(facts));
    out.extend(thread_hint(facts));
    out.extend(child_hint(facts));
    out
}

fn shutdown_hint(facts: &Facts) -> Option<Hint> {
    if facts.phase != Phase::Shutdown {
        return None;
    }
    let frames = facts.frames();
    let finished = if facts.is_pytest() { "all tests had finished" } else { "the program had finished" };
    let under_exit = frames.iter().filter_map(normalized_name).any(|n| {
        let n = short_function(&n);
        matches!(n.as_str(), "__run_exit_handlers" | "__cxa_finalize" | "_dl_fini")
    });
    let native_user = frames.iter().filter(|f| is_culprit_candidate(f)).collect::<Vec<_>>();
    if under_exit {
        if let Some(dtor) = native_user.iter().find(|f| f.function.as_deref().is_some_and(|n| n.contains('~'))) {
            let module = dtor.module.as_deref().map(module_stem).unwrap_or_else(|| "an extension".into());
            return Some(hint(
                "shutdown-static-destructor",
                format!(
                    "{finished}; a C++ static destructor in {module} ran after Python was finalized and touched Python objects: release them from an `atexit` handler or a module-cleanup function (m_free) instead"
                ),
            ));
        }
        if let Some(handler) = native_user.first() {
            let module = handler.module.as_deref().map(module_stem).unwrap_or_else(|| "an extension".into());
            return Some(hint(
                "shutdown-exit-handler",
                format!(
                    "{finished}; an exit handler in {module} ran after Python was finalized and touched Python objects: do that cleanup from an `atexit` handler or a module-cleanup function (m_free) instead"
                ),
            ));
        }
    }
    let finalizing = frames.iter().filter_map(normalized_name).any(|n| is_exit_machinery(&n));
    let text = if finalizing {
        format!("{finished}; the crash happened while Python was finalizing (atexit callbacks, __del__ methods, module teardown), so something used there was already torn down")
    } else {
        format!("{finished}; the crash happened after the interpreter was gone, in code that runs at exit")
    };
    Some(hint("shutdown", text))
}

fn import_hint(facts: &Facts) -> Option<Hint> {
    if facts.phase != Phase::Import {
        return None;
    }
    let importer = user_python_location(facts.frames())
        .map(|p| {
            format!(" (imported from {}:{})", file_basename(&p.file), p.line.map_or("?".into(), |l| l.to_string()))
        })
        .unwrap_or_default();
    let init =
        facts.culprit.and_then(|c| c.function.as_deref()).and_then(|f| f.strip_prefix("PyInit_")).map(|module| {
            format!("the crash happened while Python initialised the extension module {module}{importer}")
        });
    let mut text = init.unwrap_or_else(|| {
        format!("the crash happened while a module was being imported{importer}: module-level code runs at import time")
    });
    if facts.is_pytest() && facts.test.is_none() {
        text.push_str("; pytest was still collecting, so no test had started");
    }
    Some(hint("import", text))
}

/// What the sanitizer's stacks say to look at.
fn sanitizer_hint(facts: &Facts, report: &SanitizerReport) -> Hint {
    let who = facts.who();
    let tool = &report.tool;
    let has = |role: &str| report.stacks.iter().any(|s| s.role == role);
    let allocated = if has("allocated") { "; the allocation stack below shows where the block was made" } else { "" };
    let verb = match report.access.as_deref() {
        Some(a) if a.starts_with("READ") => "read",
        Some(a) if a.starts_with("WRITE") => "wrote",
        _ => "accessed",
    };
    let text = match facts.kind {
        CrashKind::BufferOverflow => format!(
            "{who} {verb} past the end of a block and {tool} stopped it at that access{allocated}: size the block for everything put in it (a string's terminating NUL, a loop bound off by one)"
        ),
        CrashKind::UseAfterFree => format!(
            "{who} {verb} memory after it was freed; the free stack below shows who released it{allocated}: keep the owner alive while the pointer is in use (a missing Py_INCREF, a borrowed reference kept past its owner)"
        ),
        CrashKind::DoubleFree => format!(
            "{who} freed a block that was already freed: the stack of the crash is the second free, the free stack below the first; free it once (set the pointer to NULL after free)"
        ),
        CrashKind::HeapCorruption => format!(
            "{who} released memory the wrong way ({}): free only what was allocated, each with its own deallocator (malloc/free, new/delete, new[]/delete[])",
            report.class
        ),
        _ if report.tool.starts_with("UndefinedBehavior") => format!(
            "{tool} stopped at undefined behaviour in {who}: the message names the operation and the values; a compiler may turn this line into anything, so fix it even where it seems to work"
        ),
        _ => format!("{tool} found {} in {who}: the culprit line is the bad operation", report.class),
    };
    hint("sanitizer", text)
}

fn kind_hint(facts: &Facts) -> Option<Hint> {
    let who = facts.who();
    let debug_tools = "`MALLOC_CHECK_=3`, `PYTHONMALLOC=debug` or a build with `-fsanitize=address`";
    match facts.kind {
        CrashKind::NullDeref => Some(null_deref_hint(facts, &who)),
        CrashKind::StackOverflow => Some(stack_overflow_hint(facts)),
        CrashKind::DoubleFree => Some(hint(
            "double-free",
            format!("{who} freed a block that was already freed: look for an error path that frees and a cleanup that frees again (set the pointer to NULL after free); {debug_tools} stops at the first bad free"),
        )),
        CrashKind::HeapCorruption => Some(hint(
            "heap-corruption",
            format!("glibc noticed the heap damage after it happened, not where: rerun with {debug_tools} to stop at the first bad write or free"),
        )),
        CrashKind::UseAfterFree => Some(hint(
            "use-after-free",
            format!("{who} used memory that is no longer mapped: a pointer kept across a munmap, realloc or re-initialisation still points at the old block; fetch it again after its owner changes"),
        )),
        CrashKind::WildPointer => Some(hint(
            "wild-pointer",
            format!("{who} followed a pointer to memory that was never mapped: uninitialised memory, a stale pointer or an out-of-bounds index; a build with `-fsanitize=address` shows where it came from"),
        )),
        CrashKind::WriteToReadonly => Some(hint(
            "write-to-readonly",
            format!("{who} wrote to read-only memory (a string literal, a const table or code): copy the data before modifying it"),
        )),
        CrashKind::ExecNonCode => Some(hint(
            "exec-non-code",
            "the program jumped to an address that holds no code: a corrupted function pointer, vtable or return address (a stack buffer overflow?); a build with `-fsanitize=address` finds the overwrite".into(),
        )),
        CrashKind::Fpe => Some(fpe_hint(facts, &who)),
        CrashKind::Assert => Some(assert_hint(facts)),
        CrashKind::Abort => abort_hint(facts, &who),
        CrashKind::Panic => Some(hint(
            "rust-panic",
            format!("{who} panicked and the panic aborted the process: with `panic = \"unwind\"` in the Cargo profile (the default) PyO3 raises a panic as a Python `PanicException` instead; a panic inside a `Drop` or while already panicking aborts either way"),
        )),
        CrashKind::UncaughtException => Some(uncaught_exception_hint(facts, &who)),
        CrashKind::BufferOverflow => Some(hint(
            "buffer-overflow",
            format!("{who} wrote past the end of a buffer: check the sizes of fixed-size arrays and of every copy into them (`strcpy`, `sprintf`, a loop bound); a build with `-fsanitize=address` stops at the first bad write"),
        )),
        CrashKind::ExternalSignal => Some(external_hint(facts)),
        CrashKind::SelfSignal => Some(hint(
            "self-signal",
            format!("the process sent {} to itself (os.kill, signal.raise_signal, raise() or faulthandler._sigsegv): find that call in the stack", facts.signal_name()),
        )),
        CrashKind::BusError => Some(bus_hint(facts)),
        CrashKind::IllegalInstruction => Some(hint(
            "illegal-instruction",
            format!("{who} ran an invalid instruction: a compiler-inserted trap (`__builtin_trap`, undefined behaviour, a Rust abort) or an instruction this CPU lacks (a build for `-march=native` on another machine?)"),
        )),
        CrashKind::Unknown => unknown_hint(facts),
    }
}

fn null_deref_hint(facts: &Facts, who: &str) -> Hint {
    let address = facts.capture.signal.fault_address.unwrap_or(0);
    let jumped = facts.capture.registers.is_some_and(|r| r.ip == address);
    let culprit_module = facts.culprit.and_then(|c| c.module.as_deref()).map(module_stem);
    if culprit_module.as_deref() == Some("_ctypes") {
        let caller = user_python_location(facts.frames())
            .map(|p| {
                format!(
                    "`{}` ({}:{})",
                    p.function,
                    file_basename(&p.file),
                    p.line.map_or("?".into(), |l| l.to_string())
                )
            })
            .unwrap_or_else(|| "the caller".into());
        return hint(
            "null-deref-ctypes",
            format!("ctypes was handed a NULL address by {caller}: check the pointer (a failed lookup returns 0) before passing it to ctypes"),
        );
    }
    if jumped {
        return hint(
            "null-function-pointer",
            format!("{who} called a NULL function pointer: check that the callback or slot was set before calling it"),
        );
    }
    let offset = if address == 0 || address >= crate::memmap::NULL_ZONE {
        String::new()
    } else {
        format!(" (at offset {address:#x})")
    };
    if facts.culprit.is_some() {
        hint(
            "null-deref",
            format!("{who} read through a NULL pointer{offset}: check the result of the lookup or allocation before using it"),
        )
    } else {
        hint(
            "null-deref",
            format!(
                "a NULL pointer reached {who}{offset}: a caller probably passed on NULL from an unchecked error return"
            ),
        )
    }
}

fn stack_overflow_hint(facts: &Facts) -> Hint {
    let Some(r) = facts.recursion.filter(|r| r.depth >= 50) else {
        return hint(
            "stack-overflow",
            "the stack ran out without deep recursion: a very large local array or alloca(); thread stacks are smaller than the main thread's (see threading.stack_size)".into(),
        );
    };
    let frames = facts.frames();
    let first = frames.get(r.start);
    let depth = thousands(r.depth as u64);
    if r.python {
        let name = first.map(frame_label).unwrap_or_else(|| format!("`{}`", r.functions.join("` → `")));
        return hint(
            "stack-overflow",
            format!("{name} recursed {depth} deep and exhausted the C stack: sys.setrecursionlimit is higher than the stack allows; bound the recursion or make it iterative"),
        );
    }
    // An unwinder that gave up early only saw part of the recursion.
    let times = if looks_truncated(frames) { format!("at least {depth} times") } else { format!("{depth} times") };
    let subject = if r.period == 1 {
        format!("{} calls itself {times}", first.map(frame_label).unwrap_or_else(|| format!("`{}`", r.functions[0])))
    } else {
        let names: Vec<String> = r.functions.iter().map(|f| format!("`{}`", short_function(f))).collect();
        format!("{} call each other {times}", names.join(" → "))
    };
    hint(
        "stack-overflow",
        format!("{subject}: the data it walks probably has a cycle (or the recursion has no base case); add cycle detection or a depth limit"),
    )
}

fn fpe_hint(facts: &Facts, who: &str) -> Hint {
    if facts.si_code().as_deref() == Some("FPE_INTDIV") {
        hint(
            "fpe-division-by-zero",
            format!(
                "{who} divided an integer by zero: check the divisor before dividing (an empty input or a zero count?)"
            ),
        )
    } else {
        hint(
            "fpe",
            format!("a floating-point trap in {who}: something enabled FP exceptions (feenableexcept), so a division by zero or an overflow kills the process instead of giving inf or nan"),
        )
    }
}

/// The parts of glibc's `file:line: function: Assertion `expr' failed.`
fn parse_assertion(message: &str) -> Option<(String, String, String)> {
    let start = message.find("Assertion `")? + "Assertion `".len();
    let end = message[start..].rfind("' failed")? + start;
    let expr = message[start..end].to_string();
    let head = message[..start - "Assertion `".len()].trim_end_matches([' ', ':']);
    let (location, function) = head.rsplit_once(": ")?;
    let (file, line) = location.rsplit_once(':')?;
    Some((expr, function.to_string(), format!("{}:{line}", file_basename(file))))
}

fn assert_hint(facts: &Facts) -> Hint {
    let caller = user_python_location(facts.frames())
        .map(|p| {
            let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
            format!("; the Python caller was `{}` ({}{line})", p.function, file_basename(&p.file))
        })
        .unwrap_or_default();
    let text = match facts.message.and_then(parse_assertion) {
        Some((expr, function, at)) => {
            format!("the C assertion `{expr}` in `{function}` ({at}) failed{caller}")
        }
        None => match facts.message {
            Some(m) => format!("an assertion failed: {m}{caller}"),
            None => format!("an assertion failed{caller}"),
        },
    };
    hint("assert", text)
}

fn abort_hint(facts: &Facts, who: &str) -> Option<Hint> {
    let message = facts.message?;
    if message.starts_with("Fatal Python error") && message.contains("GIL") {
        return Some(hint(
            "python-api-without-gil",
            format!("{who} called the Python C API without holding the GIL: wrap the call in PyGILState_Ensure/PyGILState_Release (or Py_BLOCK_THREADS)"),
        ));
    }
    if let Some(hint) = qt_platform_hint(facts) {
        return Some(hint);
    }
    let _ = message;
    None
}

/// A C++ exception that reached std::terminate.
fn uncaught_exception_hint(facts: &Facts, who: &str) -> Hint {
    let message = facts.message.unwrap_or_default();
    let text = if message.contains("without an active exception") {
        format!("std::terminate was called without an exception in flight ({who}): a `std::thread` destroyed while still joinable, or a `throw;` outside a handler")
    } else {
        format!("a C++ exception escaped {who} to std::terminate (through a `noexcept` function, a destructor during unwinding, or a thread's entry function): catch it at the extension boundary and turn it into a Python exception (pybind11 and nanobind translate exceptions only on the thread that called from Python)")
    };
    hint("uncaught-cpp-exception", text)
}

/// Qt could not load its platform plugin: no display, or a missing system library.
fn qt_platform_hint(facts: &Facts) -> Option<Hint> {
    let tail = &facts.capture.stderr_tail;
    let failed = tail.iter().any(|l| {
        l.contains("Could not load the Qt platform plugin") || l.contains("no Qt platform plugin could be initialized")
    });
    if !failed {
        return None;
    }
    // Qt names the missing library in its debug lines (QT_DEBUG_PLUGINS=1) or the xcb-cursor note.
    let library = tail.iter().find_map(|l| {
        let at = l.find("lib")?;
        let word: String = l[at..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != ',' && *c != ':' && *c != '"' && *c != '\'')
            .collect();
        (word.contains(".so") || word.starts_with("libxcb")).then_some(word)
    });
    let text = match library {
        Some(lib) => format!("Qt could not load its platform plugin because {lib} is missing: install the system package that provides it (on Debian/Ubuntu `apt-get install {}`), or run without a display with `--headless` (QT_QPA_PLATFORM=offscreen)", lib.split(".so").next().unwrap_or(&lib).replace('_', "-")),
        None => "Qt could not load its platform plugin: with no display (CI, ssh), run with `--headless` or QT_QPA_PLATFORM=offscreen; QT_DEBUG_PLUGINS=1 names a missing system library".into(),
    };
    Some(hint("qt-platform-plugin", text))
}

fn external_hint(facts: &Facts) -> Hint {
    let sender = match facts.capture.signal.sender_pid {
        Some(pid) if pid > Pid(0) => format!("another process (pid {pid})"),
        _ => "outside the process".into(),
    };
    hint(
        "external-signal",
        format!(
            "{} came from {sender}, not from a bug in this program: look for what sent it (a timeout, a supervisor, a CI runner cancelling the job)",
            facts.signal_name()
        ),
    )
}

fn bus_hint(facts: &Facts) -> Hint {
    match facts.si_code().as_deref() {
        Some("BUS_ADRALN") => hint("bus-error", "a misaligned memory access on a platform that traps on it: check pointer casts of packed data".into()),
        Some("BUS_MCEERR_AR") | Some("BUS_MCEERR_AO") => hint("bus-error", "the hardware reported a memory error: this is the machine, not the program".into()),
        _ => hint(
            "bus-error",
            "a file mapped with mmap was truncated (or is shorter than the mapping) while it was read: another process rewrote it, or the mapping is larger than the file".into(),
        ),
    }
}

fn unknown_hint(facts: &Facts) -> Option<Hint> {
    match facts.capture.signal.signo {
        signals::SIGSYS => Some(hint(
            "seccomp",
            "a seccomp filter (a container runtime or sandbox) forbids a system call the program made: `strace -f` shows which".into(),
        )),
        signals::SIGTRAP => Some(hint(
            "breakpoint",
            "a breakpoint instruction compiled into the program ran without a debugger attached".into(),
        )),
        _ => None,
    }
}

fn thread_hint(facts: &Facts) -> Option<Hint> {
    let c = facts.capture;
    if c.tid == c.pid.main_thread() {
        return None;
    }
    let name = c
        .crashed_thread()
        .and_then(|t| t.name.clone())
        .map(|n| format!("thread {n}"))
        .unwrap_or_else(|| "a thread".into());
    Some(hint(
        "thread",
        format!(
            "the crash happened in {name} (tid {}), not the main thread; the other threads show what ran alongside it",
            c.tid
        ),
    ))
}

fn child_hint(facts: &Facts) -> Option<Hint> {
    let c = facts.capture;
    if c.role != ProcessRole::Child {
        return None;
    }
    let signo = c.signal.signo;
    if facts.is_pytest() {
        let test = facts.test.map(|t| format!(" while running {}", t.nodeid)).unwrap_or_default();
        let worker = match &c.pytest.xdist_worker {
            Some(id) => format!("pytest-xdist worker {id} (pid {})", c.pid),
            None => format!("a pytest worker process (pid {})", c.pid),
        };
        return Some(hint(
            "child-process",
            format!("this was {worker} that died{test}: pytest-xdist reports only that the worker crashed, never the signal"),
        ));
    }
    Some(hint(
        "child-process",
        format!(
            "this was a child process (pid {}): its parent only saw it die (exit code -{signo} in subprocess/multiprocessing terms, {} from a shell)",
            c.pid,
            128 + signo
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose;
    use crate::fixtures;

    fn hints_of(c: &Capture) -> Vec<(String, String)> {
        diagnose(c).hints.into_iter().map(|h| (h.id, h.text)).collect()
    }

    fn only(c: &Capture, id: &str) -> String {
        let hints = hints_of(c);
        hints.iter().find(|(i, _)| i == id).map(|(_, t)| t.clone()).unwrap_or_else(|| panic!("no {id} in {hints:?}"))
    }

    #[test]
    fn null_deref_in_an_extension() {
        assert_eq!(
            only(&fixtures::cext_null_deref(), "null-deref"),
            "`bytes_per_pixel` in _pixfmt read through a NULL pointer (at offset 0x8): check the result of the lookup or allocation before using it"
        );
        assert_eq!(hints_of(&fixtures::cext_null_deref()).len(), 1);
    }

    #[test]
    fn ctypes_null_names_the_user_caller() {
        assert_eq!(
            only(&fixtures::ctypes_null(), "null-deref-ctypes"),
            "ctypes was handed a NULL address by `read_header` (main.py:14): check the pointer (a failed lookup returns 0) before passing it to ctypes"
        );
    }

    #[test]
    fn shutdown_static_destructor() {
        let hints = hints_of(&fixtures::shutdown_static_dtor());
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert_eq!(hints[0].0, "shutdown-static-destructor");
        assert!(hints[0]
            .1
            .starts_with("all tests had finished; a C++ static destructor in _events ran after Python was finalized"));
        let abort = hints_of(&fixtures::shutdown_static_dtor_abort());
        assert_eq!(abort[0].0, "shutdown-static-destructor");
        assert_eq!(abort.len(), 1, "{abort:?}");
    }

    #[test]
    fn stack_overflow_names_the_recursion() {
        assert_eq!(
            only(&fixtures::stack_overflow(15_900), "stack-overflow"),
            "`path_length` in _tree calls itself 15,900 times: the data it walks probably has a cycle (or the recursion has no base case); add cycle detection or a depth limit"
        );
    }

    #[test]
    fn a_cut_short_stack_gives_a_lower_bound() {
        let mut c = fixtures::stack_overflow(4_093);
        let frames = &mut c.threads[0].frames;
        let python = frames.iter().position(|f| f.is_python()).unwrap();
        let last_recursion = frames.iter().rposition(|f| f.function.as_deref() == Some("path_length")).unwrap();
        frames.drain(last_recursion + 1..python);
        frames.retain(|f| f.is_python() || f.function.as_deref() != Some("_start"));
        let end = frames.iter().rposition(|f| f.is_python()).unwrap();
        frames.truncate(end + 1);
        assert!(only(&c, "stack-overflow").starts_with("`path_length` in _tree calls itself at least 4,093 times"));
    }

    #[test]
    fn heap_hints_suggest_debug_allocators() {
        let text = only(&fixtures::double_free(), "double-free");
        assert!(text.starts_with("`scratch_release` in _packer freed a block that was already freed"), "{text}");
        assert!(text.contains("MALLOC_CHECK_=3"));
    }

    #[test]
    fn assert_quotes_the_assertion() {
        assert_eq!(
            only(&fixtures::c_assert(), "assert"),
            "the C assertion `count > 0` in `mean` (_stats.c:8) failed; the Python caller was `center_channel` (main.py:12)"
        );
    }

    #[test]
    fn thread_child_fpe_uaf_and_signals() {
        assert!(
            only(&fixtures::thread_crash(), "thread").starts_with("the crash happened in thread worker-1 (tid 48214)")
        );
        assert!(only(&fixtures::mp_child_crash(), "child-process").contains("exit code -11"));
        assert!(only(&fixtures::fpe(), "fpe-division-by-zero")
            .starts_with("`bucket_counts` in _histo divided an integer by zero"));
        assert!(only(&fixtures::use_after_reinit(), "use-after-free")
            .starts_with("`Renderer_clear` in _gfx used memory that is no longer mapped"));
        assert!(only(&fixtures::external_sigterm(), "external-signal")
            .starts_with("SIGTERM came from another process (pid 1207)"));
    }

    #[test]
    fn xdist_worker() {
        let mut c = fixtures::pytest_null_deref();
        c.role = ProcessRole::Child;
        let text = only(&c, "child-process");
        assert!(text.contains("while running tests/test_bbox.py::test_bbox_of_empty_polygon"), "{text}");
        assert!(text.contains("a pytest worker process (pid"), "{text}");
        c.pytest.xdist_worker = Some("gw1".into());
        let text = only(&c, "child-process");
        assert!(text.starts_with("this was pytest-xdist worker gw1 (pid"), "{text}");
    }

    #[test]
    fn import_during_collection() {
        assert_eq!(
            only(&fixtures::import_crash(), "import"),
            "the crash happened while Python initialised the extension module _codec (imported from test_codec.py:3); pytest was still collecting, so no test had started"
        );
    }

    #[test]
    fn assertion_parsing() {
        assert_eq!(
            parse_assertion("/src/_stats.c:8: mean: Assertion `count > 0' failed."),
            Some(("count > 0".into(), "mean".into(), "_stats.c:8".into()))
        );
        assert_eq!(parse_assertion("no assertion here"), None);
    }
}
