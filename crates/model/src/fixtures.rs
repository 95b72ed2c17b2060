//! Hand-built captures shaped like the crash corpus (`../shared/crash-corpus`), as
//! faultline would take them on CPython 3.11 (`--enable-shared`) and glibc 2.36: merged
//! stacks innermost first, realistic memory maps and registers. Shared by the tests of
//! every crate (the `fixtures` feature); `faultline_diagnose::fixtures` adds the diagnosed ones.

use crate::capture::{Capture, InterpreterState, Mapping, PytestState, Registers, SignalInfo};
use crate::model::{Frame, ProcessRole, Thread};
use crate::model::{Pid, Tid};

pub const LIBC: &str = "libc.so.6";
pub const LIBPY: &str = "libpython3.11.so.1.0";
pub const PYEXE: &str = "python3.11";
pub const STDLIB: &str = "/root/.pyenv/versions/3.11.7/lib/python3.11";
pub const SITE: &str = "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages";

pub const PID: i32 = 48213;

/// A native frame; `src` is `file:line` or empty.
pub fn nat(function: &str, module: &str, src: &str) -> Frame {
    let mut f = Frame::native(Some(function.into()), Some(module.into()), fake_address(function, module));
    if let Some((file, line)) = src.rsplit_once(':') {
        f.file = Some(file.into());
        f.line = line.parse().ok();
    }
    f
}

pub fn inlined(function: &str, module: &str, src: &str) -> Frame {
    let mut f = nat(function, module, src);
    f.inlined = true;
    f
}

pub fn py(function: &str, file: &str, line: u32) -> Frame {
    Frame::python(function.into(), file.into(), Some(line), None)
}

/// Addresses that look like the maps below: code of libc, libpython, the extension.
fn fake_address(function: &str, module: &str) -> u64 {
    let base = if module.starts_with("libc") {
        0x7f3a_2c42_8000
    } else if module.starts_with("libpython") {
        0x7f3a_2c8a_0000
    } else if module.starts_with("python") {
        0x55d4_c8a0_1000
    } else {
        0x7f3a_2c1f_1000
    };
    let hash = function.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    base + (hash % 0xf000)
}

pub fn map(start: u64, end: u64, perms: &str, path: Option<&str>) -> Mapping {
    let b = perms.as_bytes();
    Mapping {
        start,
        end,
        readable: b.first() == Some(&b'r'),
        writable: b.get(1) == Some(&b'w'),
        executable: b.get(2) == Some(&b'x'),
        offset: 0,
        dev: (0, 0),
        inode: 0,
        path: path.map(String::from),
    }
}

/// The extension's file name for a module (`_pixfmt` → `_pixfmt.cpython-311-x86_64-linux-gnu.so`).
pub fn ext(name: &str) -> String {
    format!("{name}.cpython-311-x86_64-linux-gnu.so")
}

pub const STACK_END: u64 = 0x7ffc_5abf_2000;

/// The memory map of a `python3.11` running one extension.
pub fn python_maps(extension: &str) -> Vec<Mapping> {
    let so = ext(extension);
    let so = format!("/work/cases/x/{so}");
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    let libpy = "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0";
    let exe = "/root/.pyenv/versions/3.11.7/bin/python3.11";
    vec![
        map(0x55d4_c8a0_0000, 0x55d4_c8a0_1000, "r--", Some(exe)),
        map(0x55d4_c8a0_1000, 0x55d4_c8a0_2000, "r-x", Some(exe)),
        map(0x55d4_c8a0_2000, 0x55d4_c8a0_3000, "r--", Some(exe)),
        map(0x55d4_c8a0_3000, 0x55d4_c8a0_4000, "rw-", Some(exe)),
        map(0x55d4_c9e5_c000, 0x55d4_c9f7_d000, "rw-", Some("[heap]")),
        map(0x7f3a_2b60_0000, 0x7f3a_2b70_0000, "rw-", None),
        map(0x7f3a_2c1d_0000, 0x7f3a_2c1e_0000, "rw-", None),
        map(0x7f3a_2c1f_0000, 0x7f3a_2c1f_1000, "r--", Some(&so)),
        map(0x7f3a_2c1f_1000, 0x7f3a_2c1f_2000, "r-x", Some(&so)),
        map(0x7f3a_2c1f_2000, 0x7f3a_2c1f_3000, "r--", Some(&so)),
        map(0x7f3a_2c1f_3000, 0x7f3a_2c1f_4000, "rw-", Some(&so)),
        map(0x7f3a_2c40_0000, 0x7f3a_2c42_8000, "r--", Some(libc)),
        map(0x7f3a_2c42_8000, 0x7f3a_2c5b_d000, "r-x", Some(libc)),
        map(0x7f3a_2c5b_d000, 0x7f3a_2c61_5000, "r--", Some(libc)),
        map(0x7f3a_2c61_5000, 0x7f3a_2c61_9000, "r--", Some(libc)),
        map(0x7f3a_2c61_9000, 0x7f3a_2c61_b000, "rw-", Some(libc)),
        map(0x7f3a_2c80_0000, 0x7f3a_2c8a_0000, "r--", Some(libpy)),
        map(0x7f3a_2c8a_0000, 0x7f3a_2cb0_0000, "r-x", Some(libpy)),
        map(0x7f3a_2cb0_0000, 0x7f3a_2cc0_0000, "r--", Some(libpy)),
        map(0x7f3a_2cc0_0000, 0x7f3a_2cc5_0000, "rw-", Some(libpy)),
        map(STACK_END - 0x21000, STACK_END, "rw-", Some("[stack]")),
        map(0x7ffc_5abf_8000, 0x7ffc_5abf_c000, "r--", Some("[vvar]")),
        map(0x7ffc_5abf_c000, 0x7ffc_5abf_e000, "r-x", Some("[vdso]")),
        map(0xffff_ffff_ff60_0000, 0xffff_ffff_ff60_1000, "--x", Some("[vsyscall]")),
    ]
}

/// Interpreter frames from a Python-to-C call (`METH_VARARGS`) up to the eval loop.
pub fn c_call() -> Vec<Frame> {
    vec![
        nat("cfunction_call", LIBPY, "Objects/methodobject.c:553"),
        nat("_PyObject_MakeTpCall", LIBPY, "Objects/call.c:214"),
        nat("PyObject_Vectorcall", LIBPY, "Objects/call.c:299"),
    ]
}

/// Below the Python frames of `python3 main.py`.
pub fn run_file_tail() -> Vec<Frame> {
    vec![
        nat("_PyEval_Vector", LIBPY, "Python/ceval.c:7349"),
        nat("PyEval_EvalCode", LIBPY, "Python/ceval.c:1134"),
        nat("run_eval_code_obj", LIBPY, "Python/pythonrun.c:1741"),
        nat("run_mod", LIBPY, "Python/pythonrun.c:1762"),
        nat("pyrun_file", LIBPY, "Python/pythonrun.c:1657"),
        nat("_PyRun_SimpleFileObject", LIBPY, "Python/pythonrun.c:440"),
        nat("_PyRun_AnyFileObject", LIBPY, "Python/pythonrun.c:79"),
        nat("pymain_run_file_obj", LIBPY, "Modules/main.c:360"),
        nat("pymain_run_file", LIBPY, "Modules/main.c:379"),
        nat("pymain_run_python", LIBPY, "Modules/main.c:601"),
        nat("Py_RunMain", LIBPY, "Modules/main.c:680"),
        nat("Py_BytesMain", LIBPY, "Modules/main.c:734"),
        nat("__libc_start_call_main", LIBC, "../sysdeps/nptl/libc_start_call_main.h:58"),
        nat("__libc_start_main_impl", LIBC, "../csu/libc-start.c:360"),
        nat("_start", PYEXE, ""),
    ]
}

fn case_file(case: &str, file: &str) -> String {
    format!("/work/cases/{case}/{file}")
}

fn main_thread(frames: Vec<Frame>) -> Thread {
    Thread {
        tid: Tid(PID),
        name: Some("MainThread".into()),
        crashed: true,
        holds_gil: Some(true),
        state: None,
        python_frames_from: None,
        frames,
    }
}

fn capture(argv: &[&str], signal: SignalInfo, sp: u64, maps: Vec<Mapping>, threads: Vec<Thread>) -> Capture {
    let ip = threads
        .iter()
        .find(|t| t.crashed)
        .and_then(|t| t.frames.first())
        .and_then(|f| f.address.as_deref())
        .and_then(crate::model::parse_hex)
        .unwrap_or(0);
    let tid = threads.iter().find(|t| t.crashed).map_or(PID, |t| t.tid.0);
    Capture {
        pid: Pid(PID),
        tid: Tid(tid),
        role: ProcessRole::Main,
        executable: Some("/root/.pyenv/versions/3.11.7/bin/python3.11".into()),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        signal,
        registers: Some(Registers { ip, sp, bp: 0, fs_base: 0x7f3a_2c8e_5740 }),
        maps,
        threads,
        interpreter: InterpreterState::Running,
        pytest: PytestState::default(),
        abort_message: None,
        stderr_tail: Vec::new(),
        handler_installed: false,
        held_ms: 14.2,
        sender_command: None,
        sanitizer_log: None,
    }
}

pub fn segv(code: i32, address: u64) -> SignalInfo {
    SignalInfo { signo: 11, code, fault_address: Some(address), sender_pid: None }
}

fn sigabrt_from_self() -> SignalInfo {
    SignalInfo { signo: 6, code: -6, fault_address: None, sender_pid: Some(Pid(PID)) }
}

/// glibc's abort(): the frames above the function that called it.
fn abort_frames() -> Vec<Frame> {
    vec![
        nat("__pthread_kill_implementation", LIBC, "./nptl/pthread_kill.c:44"),
        inlined("__pthread_kill_internal", LIBC, "./nptl/pthread_kill.c:78"),
        nat("__GI_raise", LIBC, "../sysdeps/posix/raise.c:26"),
        nat("__GI_abort", LIBC, "./stdlib/abort.c:79"),
    ]
}

/// cext-null-deref: `bytes_per_pixel` reads `f->channels` through NULL (offset 8).
pub fn cext_null_deref() -> Capture {
    let main = case_file("cext-null-deref", "main.py");
    let mut frames = vec![nat("bytes_per_pixel", &ext("_pixfmt"), "/work/cases/cext-null-deref/_pixfmt.c:35")];
    frames.extend(c_call());
    frames.extend([py("buffer_size", &main, 12), py("plan_buffers", &main, 18), py("<module>", &main, 25)]);
    frames.extend(run_file_tail());
    let mut c = capture(
        &["python3", "main.py"],
        segv(1, 0x8),
        0x7ffc_5abe_9f30,
        python_maps("_pixfmt"),
        vec![main_thread(frames)],
    );
    c.stderr_tail = vec!["logo.png: 16384 bytes".into(), "depth.raw: 32768 bytes".into()];
    c
}

/// The Python frames pytest runs a test under (pytest 9, pluggy 1.6), innermost first.
fn pytest_frames(test_file: &str, test_line: u32, test: &str) -> Vec<Frame> {
    let p = |f: &str, file: &str, line| py(f, &format!("{SITE}/{file}"), line);
    let hook = |out: &mut Vec<Frame>| {
        out.push(p("_multicall", "pluggy/_callers.py", 121));
        out.push(p("_hookexec", "pluggy/_manager.py", 120));
        out.push(p("__call__", "pluggy/_hooks.py", 512));
    };
    let mut f = vec![py(test, test_file, test_line), p("pytest_pyfunc_call", "_pytest/python.py", 166)];
    hook(&mut f);
    f.push(p("runtest", "_pytest/python.py", 1720));
    f.push(p("pytest_runtest_call", "_pytest/runner.py", 179));
    hook(&mut f);
    f.extend([
        p("<lambda>", "_pytest/runner.py", 245),
        p("from_call", "_pytest/runner.py", 353),
        p("call_and_report", "_pytest/runner.py", 244),
        p("runtestprotocol", "_pytest/runner.py", 136),
        p("pytest_runtest_protocol", "_pytest/runner.py", 117),
    ]);
    hook(&mut f);
    f.push(p("pytest_runtestloop", "_pytest/main.py", 367));
    hook(&mut f);
    f.extend([
        p("_main", "_pytest/main.py", 343),
        p("wrap_session", "_pytest/main.py", 289),
        p("pytest_cmdline_main", "_pytest/main.py", 336),
    ]);
    hook(&mut f);
    f.extend([
        p("main", "_pytest/config/__init__.py", 175),
        p("console_main", "_pytest/config/__init__.py", 201),
        p("<module>", "pytest/__main__.py", 9),
        py("_run_code", &format!("{STDLIB}/runpy.py"), 88),
        py("_run_module_as_main", &format!("{STDLIB}/runpy.py"), 198),
    ]);
    f
}

/// Below the Python frames of `python3 -m ...`.
fn run_module_tail() -> Vec<Frame> {
    let mut f = vec![
        nat("_PyEval_Vector", LIBPY, "Python/ceval.c:7349"),
        nat("_PyFunction_Vectorcall", LIBPY, "Objects/call.c:393"),
        nat("pymain_run_module", LIBPY, "Modules/main.c:300"),
    ];
    f.extend(run_file_tail().into_iter().skip(9));
    f
}

/// pytest-crash-in-suite: test 13 calls `_geom.bbox([])`, which reads `xy[0]` of NULL.
pub fn pytest_null_deref() -> Capture {
    let dir = "/work/cases/pytest-crash-in-suite";
    let mut frames = vec![nat("bbox", &ext("_geom"), &format!("{dir}/_geom.c:53"))];
    frames.extend(c_call());
    frames.push(py("bbox", &format!("{dir}/shapes.py"), 14));
    frames.extend(pytest_frames(&format!("{dir}/tests/test_bbox.py"), 14, "test_bbox_of_empty_polygon"));
    frames.extend(run_module_tail());
    let argv = ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"];
    let mut c = capture(&argv, segv(1, 0x0), 0x7ffc_5abe_1a40, python_maps("_geom"), vec![main_thread(frames)]);
    c.pytest = PytestState {
        current_test: Some("tests/test_bbox.py::test_bbox_of_empty_polygon (call)".into()),
        running_pytest: true,
        xdist_worker: None,
    };
    c.handler_installed = true;
    // pytest's faulthandler plugin has dumped the Python stack by the time the tail is read.
    c.stderr_tail = [
        "............",
        "Fatal Python error: Segmentation fault",
        "",
        "Current thread 0x00007f3a2c8e5740 (most recent call first):",
        "  File \"/work/cases/pytest-crash-in-suite/shapes.py\", line 14 in bbox",
        "  File \"/work/cases/pytest-crash-in-suite/tests/test_bbox.py\", line 14 in test_bbox_of_empty_polygon",
        "  File \"/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/_pytest/python.py\", line 166 in pytest_pyfunc_call",
        "",
        "Extension modules: _geom (total: 1)",
    ]
    .iter()
    .map(|l| l.to_string())
    .collect();
    c
}

/// The exit path that runs C++ static destructors after `Py_RunMain` returned.
fn exit_tail() -> Vec<Frame> {
    vec![
        nat("__run_exit_handlers", LIBC, "./stdlib/exit.c:116"),
        nat("__GI_exit", LIBC, "./stdlib/exit.c:146"),
        nat("__libc_start_call_main", LIBC, "../sysdeps/nptl/libc_start_call_main.h:74"),
        nat("__libc_start_main_impl", LIBC, "../csu/libc-start.c:360"),
        nat("_start", PYEXE, ""),
    ]
}

fn events_dtor_frames() -> Vec<Frame> {
    let so = ext("_events");
    let src = "/work/cases/shutdown-static-dtor/_events.cpp";
    vec![
        inlined("(anonymous namespace)::PyRef::~PyRef()", &so, &format!("{src}:21")),
        inlined("std::pair<int const, (anonymous namespace)::PyRef>::~pair()", &so, "/usr/include/c++/12/bits/stl_pair.h:185"),
        nat(
            "std::unordered_map<int, (anonymous namespace)::PyRef, std::hash<int>, std::equal_to<int>, std::allocator<std::pair<int const, (anonymous namespace)::PyRef> > >::~unordered_map()",
            &so,
            "/usr/include/c++/12/bits/unordered_map.h:109",
        ),
    ]
}

/// shutdown-static-dtor: after "3 passed", exit() runs a static map's destructor, and
/// `PyGILState_Ensure` dereferences the finalized (NULL) interpreter. No Python frames.
pub fn shutdown_static_dtor() -> Capture {
    let mut frames = vec![
        nat("PyThreadState_New", LIBPY, "Python/pystate.c:878"),
        nat("PyGILState_Ensure", LIBPY, "Python/pystate.c:1702"),
    ];
    frames.extend(events_dtor_frames());
    frames.extend(exit_tail());
    let argv = ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"];
    let thread = Thread { name: None, holds_gil: None, ..main_thread(frames) };
    let mut c = capture(&argv, segv(1, 0x10), 0x7ffc_5abe_f8a0, python_maps("_events"), vec![thread]);
    c.interpreter = InterpreterState::Unavailable("no interpreter state: finalized".into());
    c.stderr_tail = vec![
        "...                                                                      [100%]".into(),
        "3 passed in 0.01s".into(),
    ];
    c
}

/// shutdown-static-dtor-abort: the same destructor drops the last reference without the
/// GIL; CPython's fatal-error path aborts.
pub fn shutdown_static_dtor_abort() -> Capture {
    let mut frames = abort_frames();
    frames.extend([
        nat("fatal_error_exit", LIBPY, "Python/pylifecycle.c:2727"),
        nat("fatal_error", LIBPY, "Python/pylifecycle.c:2912"),
        nat("_Py_FatalErrorFunc", LIBPY, "Python/pylifecycle.c:2928"),
        nat("_Py_FatalError_TstateNULL", LIBPY, "Python/ceval.c:236"),
        nat("_Py_EnsureFuncTstateNotNULL", LIBPY, "Include/internal/pycore_pystate.h:124"),
        nat("tupledealloc", LIBPY, "Objects/tupleobject.c:206"),
        nat("code_dealloc", LIBPY, "Objects/codeobject.c:1684"),
        nat("func_dealloc", LIBPY, "Objects/funcobject.c:883"),
    ]);
    frames.extend(events_dtor_frames());
    frames.extend(exit_tail());
    let argv = ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"];
    let thread = Thread { name: None, holds_gil: None, ..main_thread(frames) };
    let mut c = capture(&argv, sigabrt_from_self(), 0x7ffc_5abe_f620, python_maps("_events"), vec![thread]);
    c.interpreter = InterpreterState::Unavailable("no interpreter state: finalized".into());
    c.stderr_tail = vec![
        "3 passed in 0.01s".into(),
        "Fatal Python error: PyThreadState_Get: the function must be called with the GIL held, but the GIL is released (the current Python thread state is NULL)".into(),
        "Python runtime state: finalizing (tstate=0x0000000000000000)".into(),
        "".into(),
    ];
    c
}

/// c-stack-overflow: `path_length` recurses through a parent cycle until the main
/// thread's 8 MiB stack runs out inside `snprintf`.
pub fn stack_overflow(depth: usize) -> Capture {
    let so = ext("_tree");
    let src = "/work/cases/c-stack-overflow/_tree.c";
    let main = case_file("c-stack-overflow", "main.py");
    let mut frames = vec![
        nat("__vfprintf_internal", LIBC, "./stdio-common/vfprintf-internal.c:1244"),
        nat("__vsnprintf_internal", LIBC, "./libio/vsnprintf.c:114"),
        nat("___snprintf_chk", LIBC, "./debug/snprintf_chk.c:38"),
        nat("path_length", &so, &format!("{src}:31")),
    ];
    frames.extend((1..depth).map(|_| nat("path_length", &so, &format!("{src}:34"))));
    frames.push(nat("path_len", &so, &format!("{src}:69")));
    frames.extend(c_call());
    frames.extend([py("show", &main, 24), py("<module>", &main, 31)]);
    frames.extend(run_file_tail());
    // The 8 MiB stack is used up: the fault is the first touch below it.
    let mut maps = python_maps("_tree");
    let start = STACK_END - (8 << 20);
    if let Some(stack) = maps.iter_mut().find(|m| m.path.as_deref() == Some("[stack]")) {
        stack.start = start;
    }
    let (fault, sp) = (start - 0x200, start - 0x228);
    capture(&["python3", "main.py"], segv(1, fault), sp, maps, vec![main_thread(frames)])
}

/// Frames of a Python thread started with `threading.Thread`, below its target.
fn thread_tail() -> Vec<Frame> {
    let t = format!("{STDLIB}/threading.py");
    vec![
        py("run", &t, 975),
        py("_bootstrap_inner", &t, 1038),
        py("_bootstrap", &t, 995),
        nat("_PyEval_Vector", LIBPY, "Python/ceval.c:7349"),
        nat("thread_run", LIBPY, "./Modules/_threadmodule.c:1124"),
        nat("pythread_wrapper", LIBPY, "Python/thread_pthread.h:241"),
        nat("start_thread", LIBC, "./nptl/pthread_create.c:442"),
        nat("clone3", LIBC, "../sysdeps/unix/sysv/linux/x86_64/clone3.S:81"),
    ]
}

/// thread-crash: `frame_size` dereferences a NULL stream slot in thread `worker-1` while
/// the main thread waits in `join()` and a heartbeat thread sleeps.
pub fn thread_crash() -> Capture {
    let main = case_file("thread-crash", "main.py");
    let threading = format!("{STDLIB}/threading.py");
    let mut worker = vec![nat("frame_size", &ext("_streams"), "/work/cases/thread-crash/_streams.c:24")];
    worker.extend(c_call());
    worker.extend([py("process", &main, 9), py("worker", &main, 16)]);
    worker.extend(thread_tail());
    let mut main_frames = vec![
        nat("__futex_abstimed_wait_common", LIBC, "./nptl/futex-internal.c:57"),
        nat("__new_sem_wait_slow64", LIBC, "./nptl/sem_waitcommon.c:183"),
        nat("PyThread_acquire_lock_timed", LIBPY, "Python/thread_pthread.h:483"),
        nat("acquire_timed", LIBPY, "./Modules/_threadmodule.c:98"),
        nat("lock_PyThread_acquire_lock", LIBPY, "./Modules/_threadmodule.c:180"),
        nat("method_vectorcall_VARARGS_KEYWORDS", LIBPY, "Objects/descrobject.c:344"),
        py("_wait_for_tstate_lock", &threading, 1132),
        py("join", &threading, 1112),
        py("main", &main, 28),
        py("<module>", &main, 33),
    ];
    main_frames.extend(run_file_tail());
    let mut heartbeat = vec![
        nat("__GI___clock_nanosleep", LIBC, "../sysdeps/unix/sysv/linux/clock_nanosleep.c:78"),
        nat("pysleep", LIBPY, "./Modules/timemodule.c:2159"),
        nat("time_sleep", LIBPY, "./Modules/timemodule.c:383"),
        py("beat", &main, 37),
    ];
    heartbeat.extend(thread_tail());
    let threads = vec![
        Thread {
            tid: Tid(PID),
            name: Some("MainThread".into()),
            crashed: false,
            holds_gil: Some(false),
            state: None,
            python_frames_from: None,
            frames: main_frames,
        },
        Thread {
            tid: Tid(PID + 1),
            name: Some("worker-1".into()),
            crashed: true,
            holds_gil: Some(true),
            state: None,
            python_frames_from: None,
            frames: worker,
        },
        Thread {
            tid: Tid(PID + 2),
            name: Some("heartbeat".into()),
            crashed: false,
            holds_gil: Some(false),
            state: None,
            python_frames_from: None,
            frames: heartbeat,
        },
    ];
    let mut maps = python_maps("_streams");
    // Each thread's 8 MiB stack sits directly above a one-page guard.
    maps.extend([
        map(0x7f3a_29df_e000, 0x7f3a_29df_f000, "---", None),
        map(0x7f3a_29df_f000, 0x7f3a_2a5f_f000, "rw-", None),
        map(0x7f3a_2a5f_f000, 0x7f3a_2a60_0000, "---", None),
        map(0x7f3a_2a60_0000, 0x7f3a_2ae0_0000, "rw-", None),
    ]);
    maps.sort_by_key(|m| m.start);
    capture(&["python3", "main.py"], segv(1, 0x8), 0x7f3a_2adf_ed50, maps, threads)
}

/// c-assert: `assert(count > 0)` in `mean` (inlined into `center`) fails.
pub fn c_assert() -> Capture {
    let main = case_file("c-assert", "main.py");
    let so = ext("_stats");
    let src = "/work/cases/c-assert/_stats.c";
    let mut frames = abort_frames();
    frames.extend([
        nat("__assert_fail_base", LIBC, "./assert/assert.c:92"),
        nat("__GI___assert_fail", LIBC, "./assert/assert.c:101"),
        inlined("mean", &so, &format!("{src}:8")),
        nat("center", &so, &format!("{src}:27")),
    ]);
    frames.extend(c_call());
    frames.extend([
        py("center_channel", &main, 12),
        py("<dictcomp>", &main, 16),
        py("center_all", &main, 16),
        py("<module>", &main, 20),
    ]);
    frames.extend(run_file_tail());
    let mut c = capture(
        &["python3", "main.py"],
        sigabrt_from_self(),
        0x7ffc_5abe_9c10,
        python_maps("_stats"),
        vec![main_thread(frames)],
    );
    c.abort_message = Some("python3: /work/cases/c-assert/_stats.c:8: mean: Assertion `count > 0' failed.\n".into());
    c.stderr_tail = vec!["python3: /work/cases/c-assert/_stats.c:8: mean: Assertion `count > 0' failed.".into()];
    c
}

/// double-free: the error path and the common cleanup both free the scratch buffer.
pub fn double_free() -> Capture {
    let main = case_file("double-free", "main.py");
    let so = ext("_packer");
    let src = "/work/cases/double-free/_packer.c";
    let mut frames = abort_frames();
    frames.extend([
        nat("__libc_message", LIBC, "../sysdeps/posix/libc_fatal.c:155"),
        nat("malloc_printerr", LIBC, "./malloc/malloc.c:5660"),
        nat("_int_free", LIBC, "./malloc/malloc.c:4469"),
        nat("__GI___libc_free", LIBC, "./malloc/malloc.c:3385"),
        inlined("scratch_release", &so, &format!("{src}:14")),
        nat("pack", &so, &format!("{src}:43")),
    ]);
    frames.extend(c_call());
    frames.extend([
        py("encode", &main, 17),
        py("<listcomp>", &main, 24),
        py("encode_all", &main, 24),
        py("<module>", &main, 28),
    ]);
    frames.extend(run_file_tail());
    let mut c = capture(
        &["python3", "main.py"],
        sigabrt_from_self(),
        0x7ffc_5abe_9b00,
        python_maps("_packer"),
        vec![main_thread(frames)],
    );
    c.abort_message = Some("free(): double free detected in tcache 2\n".into());
    c.stderr_tail = vec!["free(): double free detected in tcache 2".into()];
    c
}

/// An extension built with `-fsanitize=address` under `faultline run --asan`: `copy_name`
/// writes one byte past a `malloc(n)`; ASan reports it (to its log file) and aborts.
pub fn asan_heap_overflow() -> Capture {
    let main = "/work/app/main.py".to_owned();
    let so = ext("_names");
    let src = "/work/app/_names.c";
    let asan = "libasan.so.8.0.0";
    let mut frames = abort_frames();
    frames.extend([
        nat(
            "__sanitizer::Abort",
            asan,
            "../../../../src/libsanitizer/sanitizer_common/sanitizer_posix_libcdep.cpp:143",
        ),
        nat("__sanitizer::Die", asan, "../../../../src/libsanitizer/sanitizer_common/sanitizer_termination.cpp:58"),
        nat("__asan::ReportGenericError", asan, "../../../../src/libsanitizer/asan/asan_report.cpp:497"),
        nat("__asan_report_store1", asan, "../../../../src/libsanitizer/asan/asan_rtl.cpp:125"),
        nat("copy_name", &so, &format!("{src}:11")),
        nat("cfunction_vectorcall_O", LIBPY, "Objects/methodobject.c:514"),
        nat("PyObject_Vectorcall", LIBPY, "Objects/call.c:299"),
    ]);
    frames.extend([py("render", &main, 7), py("<module>", &main, 10)]);
    frames.extend(run_file_tail());
    let mut c = capture(
        &["python3", "main.py"],
        sigabrt_from_self(),
        0x7ffc_5abe_9b00,
        python_maps("_names"),
        vec![main_thread(frames)],
    );
    c.sanitizer_log = Some(format!(
        "=================================================================
=={PID}==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000c15 at pc 0x7f3a2c1f1250 bp 0x7ffd34fbfd40 sp 0x7ffd34fbfd38
WRITE of size 1 at 0x602000000c15 thread T0
    #0 0x7f3a2c1f124f in copy_name {src}:11
    #1 0x7f3a2c8a6ee1 in cfunction_vectorcall_O Objects/methodobject.c:514
    #2 0x7f3a2c8a8ba2 in PyObject_Vectorcall Objects/call.c:299

0x602000000c15 is located 0 bytes to the right of 5-byte region [0x602000000c10,0x602000000c15)
allocated by thread T0 here:
    #0 0x7f3a2d0b89cf in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x7f3a2c1f11f4 in copy_name {src}:9
    #2 0x7f3a2c8a6ee1 in cfunction_vectorcall_O Objects/methodobject.c:514

SUMMARY: AddressSanitizer: heap-buffer-overflow {src}:11 in copy_name
Shadow bytes around the buggy address:
=>0x0c047fff8180: fa fa[05]fa fa fa fa fa fa fa fa fa fa fa fa fa
=={PID}==ABORTING
"
    ));
    c
}

/// use-after-reinit: `Renderer_clear` writes to a framebuffer that `reinit()` unmapped.
pub fn use_after_reinit() -> Capture {
    let main = case_file("use-after-reinit", "main.py");
    let so = ext("_gfx");
    let mut frames = vec![
        nat("__memset_avx2_unaligned_erms", LIBC, "../sysdeps/x86_64/multiarch/memset-vec-unaligned-erms.S:328"),
        nat("Renderer_clear", &so, "/work/cases/use-after-reinit/_gfx.c:98"),
        nat("method_vectorcall_VARARGS", LIBPY, "Objects/descrobject.c:311"),
    ];
    frames.extend([py("draw_frame", &main, 14), py("run", &main, 22), py("<module>", &main, 27)]);
    frames.extend(run_file_tail());
    // The old framebuffer was 0x7f3a2c1e0000..+64 KiB: now a hole above the new one.
    let fault = 0x7f3a_2c1e_0000;
    let mut c = capture(
        &["python3", "main.py"],
        segv(1, fault),
        0x7ffc_5abe_9d80,
        python_maps("_gfx"),
        vec![main_thread(frames)],
    );
    c.stderr_tail = vec!["frame 1 drawn".into(), "context re-initialised, generation 2".into()];
    c
}

/// fpe: `value % buckets` with `buckets == 0`.
pub fn fpe() -> Capture {
    let main = case_file("fpe", "main.py");
    let mut frames = vec![nat("bucket_counts", &ext("_histo"), "/work/cases/fpe/_histo.c:19")];
    frames.extend(c_call());
    frames.extend([py("histogram", &main, 8), py("report", &main, 12), py("<module>", &main, 18)]);
    frames.extend(run_file_tail());
    let signal = SignalInfo { signo: 8, code: 1, fault_address: Some(0x7f3a_2c1f_1187), sender_pid: None };
    capture(&["python3", "main.py"], signal, 0x7ffc_5abe_9a00, python_maps("_histo"), vec![main_thread(frames)])
}

/// ctypes-null: `ctypes.string_at(0)`; libc's `strlen` faults under `_ctypes`' `string_at`.
pub fn ctypes_null() -> Capture {
    let main = case_file("ctypes-null", "main.py");
    let ctypes = ext("_ctypes");
    let mut frames = vec![
        nat("__strlen_evex", LIBC, "../sysdeps/x86_64/multiarch/strlen-evex.S:77"),
        nat("string_at", &ctypes, "./Modules/_ctypes/_ctypes.c:5633"),
        nat("ffi_call_unix64", "libffi.so.8", "../src/x86/unix64.S:104"),
        nat("ffi_call_int", "libffi.so.8", "../src/x86/ffi64.c:673"),
        nat("_call_function_pointer", &ctypes, "./Modules/_ctypes/callproc.c:931"),
        nat("_ctypes_callproc", &ctypes, "./Modules/_ctypes/callproc.c:1262"),
        nat("PyCFuncPtr_call", &ctypes, "./Modules/_ctypes/_ctypes.c:4201"),
        nat("_PyObject_MakeTpCall", LIBPY, "Objects/call.c:214"),
        nat("PyObject_Vectorcall", LIBPY, "Objects/call.c:299"),
        py("string_at", &format!("{STDLIB}/ctypes/__init__.py"), 519),
        py("read_header", &main, 14),
        py("parse", &main, 19),
        py("main", &main, 23),
        py("<module>", &main, 27),
    ];
    frames.extend(run_file_tail());
    capture(&["python3", "main.py"], segv(1, 0x0), 0x7ffc_5abe_9900, python_maps("_ctypes"), vec![main_thread(frames)])
}

/// mp-child-crash: a `multiprocessing` child (fork) dereferences a NULL stream slot.
pub fn mp_child_crash() -> Capture {
    let main = case_file("mp-child-crash", "main.py");
    let mp = |f: &str, file: &str, line| py(f, &format!("{STDLIB}/multiprocessing/{file}"), line);
    let mut frames = vec![nat("frame_size", &ext("_streams"), "/work/cases/mp-child-crash/_streams.c:24")];
    frames.extend(c_call());
    frames.extend([
        py("convert", &main, 12),
        mp("run", "process.py", 108),
        mp("_bootstrap", "process.py", 314),
        mp("_launch", "popen_fork.py", 71),
        mp("__init__", "popen_fork.py", 19),
        mp("_Popen", "context.py", 281),
        mp("_Popen", "context.py", 224),
        mp("start", "process.py", 121),
        py("main", &main, 20),
        py("<module>", &main, 27),
    ]);
    frames.extend(run_file_tail());
    let mut c = capture(
        &["python3", "main.py"],
        segv(1, 0x4),
        0x7ffc_5abe_9700,
        python_maps("_streams"),
        vec![main_thread(frames)],
    );
    c.pid = Pid(PID + 7);
    c.tid = Tid(PID + 7);
    c.threads[0].tid = Tid(PID + 7);
    c.role = ProcessRole::Child;
    c
}

/// A SIGTERM sent by another process (a CI runner's timeout) while Python sleeps.
pub fn external_sigterm() -> Capture {
    let main = case_file("sleeper", "main.py");
    let mut frames = vec![
        nat("__GI___clock_nanosleep", LIBC, "../sysdeps/unix/sysv/linux/clock_nanosleep.c:78"),
        nat("pysleep", LIBPY, "./Modules/timemodule.c:2159"),
        nat("time_sleep", LIBPY, "./Modules/timemodule.c:383"),
        py("wait_for_job", &main, 8),
        py("<module>", &main, 12),
    ];
    frames.extend(run_file_tail());
    let signal = SignalInfo { signo: 15, code: 0, fault_address: None, sender_pid: Some(Pid(1207)) };
    let mut c =
        capture(&["python3", "main.py"], signal, 0x7ffc_5abe_9700, python_maps("_none"), vec![main_thread(frames)]);
    c.sender_command = Some("timeout 30 python3 main.py".into());
    c
}

/// An extension whose `PyInit_` crashes while pytest imports the test module.
pub fn import_crash() -> Capture {
    let dir = "/work/cases/import-crash";
    let boot = "<frozen importlib._bootstrap>";
    let ext_boot = "<frozen importlib._bootstrap_external>";
    let mut frames = vec![
        nat("PyInit__codec", &ext("_codec"), &format!("{dir}/_codec.c:88")),
        nat("_PyImport_LoadDynamicModuleWithSpec", LIBPY, "./Python/importdl.c:167"),
        nat("_imp_create_dynamic_impl", LIBPY, "Python/import.c:2365"),
        nat("_imp_create_dynamic", LIBPY, "Python/clinic/import.c.h:485"),
        nat("cfunction_vectorcall_FASTCALL", LIBPY, "Objects/methodobject.c:430"),
        nat("PyVectorcall_Call", LIBPY, "Objects/call.c:267"),
        py("_call_with_frames_removed", boot, 241),
        py("create_module", ext_boot, 1233),
        py("module_from_spec", boot, 573),
        py("_load_unlocked", boot, 676),
        py("_find_and_load_unlocked", boot, 1147),
        py("_find_and_load", boot, 1176),
        py("<module>", &format!("{dir}/tests/test_codec.py"), 3),
    ];
    frames.extend(run_module_tail());
    let argv = ["python3", "-m", "pytest", "tests"];
    let mut c = capture(&argv, segv(1, 0x18), 0x7ffc_5abe_9500, python_maps("_codec"), vec![main_thread(frames)]);
    c.pytest.running_pytest = true;
    c
}

pub mod hang;
pub mod strategies;

/// Cases per property: enough to find a misplaced slice, few enough for a quick suite.
/// `PROPTEST_CASES=20000` searches longer.
pub fn config() -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
    proptest::test_runner::Config { cases, ..proptest::test_runner::Config::default() }
}

/// For properties whose cases write files.
pub fn fewer() -> proptest::test_runner::Config {
    let config = config();
    proptest::test_runner::Config { cases: (config.cases / 4).max(1), ..config }
}
