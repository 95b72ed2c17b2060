//! The vocabulary of waiting: which C-runtime calls block a thread and on what, and which
//! interpreter functions wait for the GIL. Pure: answered from frame names alone.
//!
//! A blocked thread's stack starts with a run of C-runtime frames (`futex_wait` ←
//! `__lll_lock_wait` ← `pthread_mutex_lock`); the outermost call of that run that we know
//! is the one the program made, and the frame below the run is the code that made it.

use crate::frames::{is_interpreter_module, is_system_module, module_basename, normalized_name};
use crate::model::{Frame, FrameKind};

/// What a blocking call waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    Mutex,
    RwLock,
    Condition,
    Semaphore,
    /// A bare futex: some lock or condition built directly on it.
    Futex,
    /// Another thread's end (`pthread_join`).
    Join,
    Sleep,
    /// Waiting for any of several file descriptors (`poll`, `select`, `epoll_wait`).
    Poll,
    Read,
    Write,
    Accept,
    Connect,
    /// A child process (`wait4`, `waitpid`).
    Child,
    Signal,
    /// The generic `syscall()` wrapper: blocked, but on what cannot be told by name.
    Syscall,
}

impl WaitKind {
    /// Waits that only another thread of the same program can end: locks, conditions,
    /// semaphores, joins. A thread holding the GIL in one of these stops every Python thread.
    pub fn is_sync(self) -> bool {
        matches!(
            self,
            WaitKind::Mutex
                | WaitKind::RwLock
                | WaitKind::Condition
                | WaitKind::Semaphore
                | WaitKind::Futex
                | WaitKind::Join
        )
    }

    /// A lock its owner releases (as opposed to a condition or semaphore someone signals):
    /// the kind that can be taken twice by one thread.
    pub fn is_lock(self) -> bool {
        matches!(self, WaitKind::Mutex | WaitKind::RwLock)
    }

    /// What the thread waits for, in a few words (`a lock`, `I/O`, `a timer`).
    pub fn what(self) -> &'static str {
        match self {
            WaitKind::Mutex | WaitKind::RwLock | WaitKind::Futex => "a lock",
            WaitKind::Condition => "a condition",
            WaitKind::Semaphore => "a semaphore",
            WaitKind::Join => "another thread to end",
            WaitKind::Sleep => "a timer",
            WaitKind::Poll | WaitKind::Read | WaitKind::Write | WaitKind::Accept | WaitKind::Connect => "I/O",
            WaitKind::Child => "a child process",
            WaitKind::Signal => "a signal",
            WaitKind::Syscall => "a system call",
        }
    }
}

/// `(bare name, kind, the name people know it by)`. Bare names have glibc's decorations
/// removed (see [`bare_name`]): `___pthread_mutex_lock` and `__GI___lll_lock_wait` are
/// `pthread_mutex_lock` and `lll_lock_wait` here.
const BLOCKING_CALLS: &[(&str, WaitKind, &str)] = &[
    ("pthread_mutex_lock", WaitKind::Mutex, "pthread_mutex_lock"),
    ("pthread_mutex_lock_full", WaitKind::Mutex, "pthread_mutex_lock"),
    ("pthread_mutex_timedlock", WaitKind::Mutex, "pthread_mutex_timedlock"),
    ("pthread_mutex_clocklock", WaitKind::Mutex, "pthread_mutex_clocklock"),
    ("pthread_mutex_cond_lock", WaitKind::Mutex, "pthread_mutex_lock"),
    ("lll_mutex_lock_optimized", WaitKind::Mutex, "pthread_mutex_lock"),
    ("lll_lock_wait", WaitKind::Mutex, "a low-level lock"),
    ("lll_lock_wait_private", WaitKind::Mutex, "a libc-internal lock"),
    ("pthread_spin_lock", WaitKind::Mutex, "pthread_spin_lock"),
    ("mtx_lock", WaitKind::Mutex, "mtx_lock"),
    ("mtx_timedlock", WaitKind::Mutex, "mtx_timedlock"),
    ("pthread_rwlock_rdlock", WaitKind::RwLock, "pthread_rwlock_rdlock"),
    ("pthread_rwlock_wrlock", WaitKind::RwLock, "pthread_rwlock_wrlock"),
    ("pthread_rwlock_rdlock_full", WaitKind::RwLock, "pthread_rwlock_rdlock"),
    ("pthread_rwlock_wrlock_full", WaitKind::RwLock, "pthread_rwlock_wrlock"),
    ("pthread_rwlock_timedrdlock", WaitKind::RwLock, "pthread_rwlock_timedrdlock"),
    ("pthread_rwlock_timedwrlock", WaitKind::RwLock, "pthread_rwlock_timedwrlock"),
    ("pthread_rwlock_clockrdlock", WaitKind::RwLock, "pthread_rwlock_clockrdlock"),
    ("pthread_rwlock_clockwrlock", WaitKind::RwLock, "pthread_rwlock_clockwrlock"),
    ("pthread_cond_wait", WaitKind::Condition, "pthread_cond_wait"),
    ("pthread_cond_timedwait", WaitKind::Condition, "pthread_cond_timedwait"),
    ("pthread_cond_clockwait", WaitKind::Condition, "pthread_cond_clockwait"),
    ("pthread_cond_wait_common", WaitKind::Condition, "pthread_cond_wait"),
    ("cnd_wait", WaitKind::Condition, "cnd_wait"),
    ("cnd_timedwait", WaitKind::Condition, "cnd_timedwait"),
    ("sem_wait", WaitKind::Semaphore, "sem_wait"),
    ("sem_timedwait", WaitKind::Semaphore, "sem_timedwait"),
    ("sem_clockwait", WaitKind::Semaphore, "sem_clockwait"),
    ("new_sem_wait", WaitKind::Semaphore, "sem_wait"),
    ("new_sem_wait_slow", WaitKind::Semaphore, "sem_wait"),
    ("new_sem_clockwait", WaitKind::Semaphore, "sem_clockwait"),
    ("do_futex_wait", WaitKind::Semaphore, "sem_wait"),
    ("futex_wait", WaitKind::Futex, "futex_wait"),
    ("futex_wait_cancelable", WaitKind::Futex, "futex_wait"),
    ("futex_abstimed_wait", WaitKind::Futex, "futex_wait"),
    ("futex_abstimed_wait_cancelable", WaitKind::Futex, "futex_wait"),
    ("futex_abstimed_wait_common", WaitKind::Futex, "futex_wait"),
    ("futex_lock_pi", WaitKind::Futex, "futex_lock_pi"),
    ("pthread_join", WaitKind::Join, "pthread_join"),
    ("pthread_clockjoin_ex", WaitKind::Join, "pthread_join"),
    ("pthread_timedjoin_np", WaitKind::Join, "pthread_timedjoin_np"),
    ("thrd_join", WaitKind::Join, "thrd_join"),
    ("nanosleep", WaitKind::Sleep, "nanosleep"),
    ("clock_nanosleep", WaitKind::Sleep, "clock_nanosleep"),
    ("sleep", WaitKind::Sleep, "sleep"),
    ("usleep", WaitKind::Sleep, "usleep"),
    ("thrd_sleep", WaitKind::Sleep, "thrd_sleep"),
    ("poll", WaitKind::Poll, "poll"),
    ("ppoll", WaitKind::Poll, "ppoll"),
    ("select", WaitKind::Poll, "select"),
    ("pselect", WaitKind::Poll, "pselect"),
    ("pselect6", WaitKind::Poll, "pselect"),
    ("epoll_wait", WaitKind::Poll, "epoll_wait"),
    ("epoll_pwait", WaitKind::Poll, "epoll_pwait"),
    ("epoll_pwait2", WaitKind::Poll, "epoll_pwait2"),
    ("read", WaitKind::Read, "read"),
    ("readv", WaitKind::Read, "readv"),
    ("pread", WaitKind::Read, "pread"),
    ("recv", WaitKind::Read, "recv"),
    ("recvfrom", WaitKind::Read, "recvfrom"),
    ("recvmsg", WaitKind::Read, "recvmsg"),
    ("recvmmsg", WaitKind::Read, "recvmmsg"),
    ("msgrcv", WaitKind::Read, "msgrcv"),
    ("write", WaitKind::Write, "write"),
    ("writev", WaitKind::Write, "writev"),
    ("pwrite", WaitKind::Write, "pwrite"),
    ("send", WaitKind::Write, "send"),
    ("sendto", WaitKind::Write, "sendto"),
    ("sendmsg", WaitKind::Write, "sendmsg"),
    ("msgsnd", WaitKind::Write, "msgsnd"),
    ("accept", WaitKind::Accept, "accept"),
    ("accept4", WaitKind::Accept, "accept4"),
    ("connect", WaitKind::Connect, "connect"),
    ("wait4", WaitKind::Child, "wait4"),
    ("waitpid", WaitKind::Child, "waitpid"),
    ("waitid", WaitKind::Child, "waitid"),
    ("wait", WaitKind::Child, "wait"),
    ("pause", WaitKind::Signal, "pause"),
    ("sigsuspend", WaitKind::Signal, "sigsuspend"),
    ("sigtimedwait", WaitKind::Signal, "sigtimedwait"),
    ("sigwaitinfo", WaitKind::Signal, "sigwaitinfo"),
    ("sigwait", WaitKind::Signal, "sigwait"),
    ("syscall", WaitKind::Syscall, "syscall"),
];

/// CPython's functions that wait for the GIL (3.8–3.13). `take_gil` and the `PyCOND_*`
/// macros are often inlined; without debug info their callers are what remains.
const GIL_WAITS: &[&str] = &["take_gil", "PyCOND_TIMEDWAIT", "PyCOND_WAIT", "drop_gil"];
const GIL_WAIT_CALLERS: &[&str] =
    &["PyEval_RestoreThread", "PyEval_AcquireThread", "PyEval_AcquireLock", "PyGILState_Ensure"];

/// A thread blocked in a C-runtime call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub kind: WaitKind,
    /// The call as people know it (`pthread_mutex_lock`, `poll`, `clock_nanosleep`).
    pub call: &'static str,
    /// Index of the first frame below the C runtime: the code that made the call.
    pub caller: Option<usize>,
}

/// A glibc name without its decorations: leading underscores, `GI_` and `libc_` aliases,
/// the `64`/`_time64` of 64-bit time variants, `_nocancel`.
pub fn bare_name(name: &str) -> &str {
    let mut n = name.trim_start_matches('_');
    for prefix in ["GI_", "libc_"] {
        if let Some(rest) = n.strip_prefix(prefix) {
            n = rest.trim_start_matches('_');
        }
    }
    for suffix in ["_nocancel", "_time64", "64"] {
        if let Some(rest) = n.strip_suffix(suffix) {
            if !rest.is_empty() {
                n = rest;
            }
        }
    }
    n
}

fn is_system_frame(frame: &Frame) -> bool {
    frame.kind == FrameKind::Native && frame.module.as_deref().map(module_basename).is_some_and(is_system_module)
}

/// A native frame of the interpreter (libpython, the python executable).
pub(crate) fn is_interpreter_frame(frame: &Frame) -> bool {
    frame.kind == FrameKind::Native && frame.module.as_deref().map(module_basename).is_some_and(is_interpreter_module)
}

fn blocking_call(frame: &Frame) -> Option<(WaitKind, &'static str)> {
    let name = normalized_name(frame)?;
    let bare = bare_name(&name);
    BLOCKING_CALLS.iter().find(|(n, _, _)| *n == bare).map(|&(_, kind, call)| (kind, call))
}

/// How many frames from the top belong to the C runtime (libc, the loader, libstdc++).
pub fn system_run(frames: &[Frame]) -> usize {
    frames.iter().position(|f| !is_system_frame(f)).unwrap_or(frames.len())
}

/// The blocking C-runtime call the thread is in, if its stack starts with one.
pub fn blocking_wait(frames: &[Frame]) -> Option<Wait> {
    let run = system_run(frames);
    // The outermost call of the run that we know: the one the program made.
    let (kind, call) = frames[..run].iter().rev().find_map(blocking_call)?;
    Some(Wait { kind, call, caller: (run < frames.len()).then_some(run) })
}

/// Whether the thread waits for the GIL: a GIL function among the runtime frames on top of
/// its stack (before any Python frame or code of the program's own).
pub fn waits_for_gil(frames: &[Frame]) -> bool {
    let runtime = frames.iter().position(|f| !is_system_frame(f) && !is_interpreter_frame(f)).unwrap_or(frames.len());
    let names: Vec<String> =
        frames[..runtime].iter().filter(|f| is_interpreter_frame(f)).filter_map(normalized_name).collect();
    if names.iter().any(|n| GIL_WAITS.contains(&n.as_str())) {
        return true;
    }
    // `take_gil` inlined without a trace: the thread sits in a condition wait called
    // straight from a function whose job is to take the GIL.
    let first_interpreter = frames[..runtime].iter().find(|f| is_interpreter_frame(f));
    let in_condition = blocking_wait(frames).is_some_and(|w| matches!(w.kind, WaitKind::Condition | WaitKind::Futex));
    in_condition && first_interpreter.and_then(normalized_name).is_some_and(|n| GIL_WAIT_CALLERS.contains(&n.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{nat, LIBC, LIBPY};

    #[test]
    fn bare_names() {
        assert_eq!(bare_name("___pthread_mutex_lock"), "pthread_mutex_lock");
        assert_eq!(bare_name("__GI___lll_lock_wait"), "lll_lock_wait");
        assert_eq!(bare_name("__lll_lock_wait"), "lll_lock_wait");
        assert_eq!(bare_name("__futex_abstimed_wait_common64"), "futex_abstimed_wait_common");
        assert_eq!(bare_name("___pthread_cond_timedwait64"), "pthread_cond_timedwait");
        assert_eq!(bare_name("__GI___clock_nanosleep"), "clock_nanosleep");
        assert_eq!(bare_name("__libc_recv"), "recv");
        assert_eq!(bare_name("__GI___libc_read"), "read");
        assert_eq!(bare_name("__new_sem_wait_slow64"), "new_sem_wait_slow");
        assert_eq!(bare_name("wait4"), "wait4");
        assert_eq!(bare_name("__GI___wait4"), "wait4");
        assert_eq!(bare_name("64"), "64");
    }

    #[test]
    fn the_outermost_known_call_is_the_one_the_program_made() {
        let frames = vec![
            nat("futex_wait", LIBC, "../sysdeps/nptl/futex-internal.h:146"),
            nat("__GI___lll_lock_wait", LIBC, "./nptl/lowlevellock.c:49"),
            nat("___pthread_mutex_lock", LIBC, "./nptl/pthread_mutex_lock.c:93"),
            nat("flush", "_store.so", "_store.c:33"),
        ];
        let wait = blocking_wait(&frames).expect("a wait");
        assert_eq!((wait.kind, wait.call, wait.caller), (WaitKind::Mutex, "pthread_mutex_lock", Some(3)));
        assert!(!waits_for_gil(&frames));
    }

    #[test]
    fn running_code_is_no_wait() {
        let frames = vec![nat("__memset_avx2_unaligned_erms", LIBC, ""), nat("fill", "_x.so", "")];
        assert_eq!(blocking_wait(&frames), None);
        assert_eq!(blocking_wait(&[nat("spin", "_x.so", "")]), None);
        assert_eq!(blocking_wait(&[]), None);
    }

    #[test]
    fn gil_waits() {
        let explicit = vec![
            nat("__futex_abstimed_wait_common", LIBC, ""),
            nat("___pthread_cond_timedwait64", LIBC, ""),
            nat("take_gil", LIBPY, "Python/ceval_gil.h:256"),
            nat("PyEval_RestoreThread", LIBPY, ""),
        ];
        assert!(waits_for_gil(&explicit));
        let inlined_away = vec![
            nat("__futex_abstimed_wait_common", LIBC, ""),
            nat("___pthread_cond_timedwait64", LIBC, ""),
            nat("PyEval_RestoreThread", LIBPY, ""),
        ];
        assert!(waits_for_gil(&inlined_away));
        // A Python lock is a semaphore the interpreter waits on with the GIL released.
        let python_lock = vec![
            nat("__futex_abstimed_wait_common", LIBC, ""),
            nat("__new_sem_wait_slow64", LIBC, ""),
            nat("PyThread_acquire_lock_timed", LIBPY, ""),
        ];
        assert!(!waits_for_gil(&python_lock));
        assert_eq!(blocking_wait(&python_lock).map(|w| w.kind), Some(WaitKind::Semaphore));
    }
}
