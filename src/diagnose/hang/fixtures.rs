//! Hand-built snapshots of hung trees, shaped like faultline takes them on CPython 3.11 and
//! glibc 2.36 (merged stacks innermost first). `hang_gil` follows the corpus case of that
//! name and the stacks gdb and py-spy gave for it (`../shared/crash-corpus/BASELINES.md`).
//! Shared by the hang tests and the report's snapshot tests.

use crate::diagnose::fixtures::{c_call, ext, inlined, nat, py, run_file_tail, LIBC, LIBPY, PID, STDLIB};
use crate::model::{Frame, ProcessRole, ProcessSnapshot, Thread};

fn case_file(case: &str, file: &str) -> String {
    format!("/work/cases/{case}/{file}")
}

/// Frames of a Python thread started with `threading.Thread`, below its target.
pub fn thread_tail() -> Vec<Frame> {
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

pub fn thread(tid: i32, name: &str, holds_gil: bool, state: &str, frames: Vec<Frame>) -> Thread {
    Thread {
        tid,
        name: Some(name.into()),
        crashed: false,
        holds_gil: Some(holds_gil),
        state: Some(state.into()),
        frames,
    }
}

pub fn process(pid: i32, role: ProcessRole, argv: &[&str], threads: Vec<Thread>) -> ProcessSnapshot {
    ProcessSnapshot {
        pid,
        process: role,
        executable: Some("/root/.pyenv/versions/3.11.7/bin/python3.11".into()),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        threads,
    }
}

/// A condition wait on the GIL, as `time.sleep` returns into `PyEval_RestoreThread`.
fn gil_wait_after_sleep() -> Vec<Frame> {
    vec![
        nat("__futex_abstimed_wait_common", LIBC, "./nptl/futex-internal.c:57"),
        nat("__pthread_cond_wait_common", LIBC, "./nptl/pthread_cond_wait.c:503"),
        nat("___pthread_cond_timedwait64", LIBC, "./nptl/pthread_cond_wait.c:643"),
        inlined("PyCOND_TIMEDWAIT", LIBPY, "Python/condvar.h:73"),
        nat("take_gil", LIBPY, "Python/ceval_gil.h:256"),
        nat("PyEval_RestoreThread", LIBPY, "Python/ceval_gil.h:613"),
        nat("pysleep", LIBPY, "./Modules/timemodule.c:2164"),
        nat("time_sleep", LIBPY, "./Modules/timemodule.c:383"),
    ]
}

/// `time.sleep` in progress, the GIL released.
pub fn sleeping() -> Vec<Frame> {
    vec![
        nat("__GI___clock_nanosleep", LIBC, "../sysdeps/unix/sysv/linux/clock_nanosleep.c:78"),
        nat("pysleep", LIBPY, "./Modules/timemodule.c:2159"),
        nat("time_sleep", LIBPY, "./Modules/timemodule.c:383"),
    ]
}

/// hang-gil: `flush()` in _store takes its non-recursive mutex, then calls `log_state()`
/// (inlined), which takes it again — while the main thread holds the GIL. The heartbeat
/// thread's `time.sleep` ends and it waits for the GIL forever.
pub fn hang_gil() -> Vec<ProcessSnapshot> {
    let main = case_file("hang-gil", "main.py");
    let src = case_file("hang-gil", "_store.c");
    let so = ext("_store");
    let mut main_frames = vec![
        inlined("futex_wait", LIBC, "../sysdeps/nptl/futex-internal.h:146"),
        nat("__GI___lll_lock_wait", LIBC, "./nptl/lowlevellock.c:49"),
        inlined("lll_mutex_lock_optimized", LIBC, "./nptl/pthread_mutex_lock.c:48"),
        nat("___pthread_mutex_lock", LIBC, "./nptl/pthread_mutex_lock.c:93"),
        inlined("log_state", &so, &format!("{src}:15")),
        nat("flush", &so, &format!("{src}:33")),
        nat("cfunction_vectorcall_NOARGS", LIBPY, "Objects/methodobject.c:509"),
        nat("PyObject_Vectorcall", LIBPY, "Objects/call.c:299"),
        py("save", &main, 23),
        py("main", &main, 30),
        py("<module>", &main, 34),
    ];
    main_frames.extend(run_file_tail());
    let mut heartbeat = gil_wait_after_sleep();
    heartbeat.push(py("heartbeat", &main, 17));
    heartbeat.extend(thread_tail());
    vec![process(
        PID,
        ProcessRole::Main,
        &["python3", "main.py"],
        vec![
            thread(PID, "MainThread", true, "sleeping", main_frames),
            thread(PID + 1, "heartbeat", false, "sleeping", heartbeat),
        ],
    )]
}

/// A tree where nothing runs: the main process joins a worker that waits on a socket, and
/// a child process sleeps.
pub fn everything_waits() -> Vec<ProcessSnapshot> {
    let main = case_file("poller", "main.py");
    let child = case_file("poller", "child.py");
    let threading = format!("{STDLIB}/threading.py");
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
    let socket = ext("_socket");
    let mut worker = vec![
        nat("__libc_recv", LIBC, "../sysdeps/unix/sysv/linux/recv.c:28"),
        nat("sock_recv_guts", &socket, "./Modules/socketmodule.c:3597"),
        nat("sock_call_ex", &socket, "./Modules/socketmodule.c:919"),
        nat("sock_recv", &socket, "./Modules/socketmodule.c:3673"),
    ];
    worker.extend(c_call());
    worker.extend([py("fetch", &main, 16)]);
    worker.extend(thread_tail());
    let mut child_frames = sleeping();
    child_frames.extend([py("wait_for_work", &child, 12), py("<module>", &child, 20)]);
    child_frames.extend(run_file_tail());
    vec![
        process(
            PID,
            ProcessRole::Main,
            &["python3", "main.py"],
            vec![
                thread(PID, "MainThread", false, "sleeping", main_frames),
                thread(PID + 1, "fetcher", false, "sleeping", worker),
            ],
        ),
        process(
            PID + 5,
            ProcessRole::Child,
            &["python3", "child.py"],
            vec![thread(PID + 5, "MainThread", false, "sleeping", child_frames)],
        ),
    ]
}

/// A thread spinning in an extension's loop with the GIL held, another waiting for it,
/// and a third stuck reading from a dead NFS mount.
pub fn busy_native_loop() -> Vec<ProcessSnapshot> {
    let main = case_file("spin", "main.py");
    let so = ext("_hashy");
    let mut spinner = vec![
        nat("mix_block", &so, "/work/cases/spin/_hashy.c:21"),
        nat("checksum", &so, "/work/cases/spin/_hashy.c:40"),
    ];
    spinner.extend(c_call());
    spinner.extend([py("digest", &main, 9), py("<module>", &main, 30)]);
    spinner.extend(run_file_tail());
    let mut waiter = gil_wait_after_sleep();
    waiter.push(py("report_progress", &main, 18));
    waiter.extend(thread_tail());
    let mut reader = vec![
        nat("__GI___libc_read", LIBC, "../sysdeps/unix/sysv/linux/read.c:26"),
        nat("_Py_read", LIBPY, "Python/fileutils.c:1853"),
        nat("_io_FileIO_readinto_impl", LIBPY, "./Modules/_io/fileio.c:703"),
    ];
    reader.extend([py("load", &main, 24)]);
    reader.extend(thread_tail());
    vec![process(
        PID,
        ProcessRole::Main,
        &["python3", "main.py"],
        vec![
            thread(PID, "MainThread", true, "running", spinner),
            thread(PID + 1, "progress", false, "sleeping", waiter),
            thread(PID + 2, "loader", false, "disk-sleep", reader),
        ],
    )]
}
