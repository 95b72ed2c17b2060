//! What one thread of a stopped tree was doing, and how to say it: waiting for the GIL,
//! blocked in a call (on what, from where), running native code or Python, or stuck in
//! uninterruptible I/O. Pure: from the thread's scheduler state and merged frames.

use crate::frames::{file_basename, is_culprit_candidate, is_user_frame, module_stem, normalized_name, short_function};
use crate::hang::waits::{blocking_wait, is_interpreter_frame, system_run, waits_for_gil, Wait};
use crate::model::{Frame, FrameKind, Thread, ThreadState};

/// One thread's activity when the tree was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// Blocked until the thread holding the GIL lets it go.
    Gil,
    /// Blocked in a C-runtime call.
    Blocked(Wait),
    /// On the CPU in native code outside the runtime and interpreter: the index of the
    /// innermost such frame.
    NativeCode(usize),
    /// On the CPU in the interpreter, running Python code.
    Python,
    /// In uninterruptible sleep (`D`): the kernel waits on a device or a network filesystem.
    DiskSleep(Option<Wait>),
    /// Nothing can be told (no state, no stack, or code we cannot place).
    Unknown,
}

/// The thread's activity. The scheduler state was read before the threads were stopped,
/// so `running` means it was really on the CPU (or ready to be).
pub fn activity(thread: &Thread) -> Activity {
    let frames = &thread.frames;
    let state = thread.state;
    if state == Some(ThreadState::DiskSleep) {
        return Activity::DiskSleep(blocking_wait(frames));
    }
    if waits_for_gil(frames) {
        return Activity::Gil;
    }
    // A running thread inside a blocking call is on its way in or out of it: still a wait.
    if let Some(wait) = blocking_wait(frames) {
        return Activity::Blocked(wait);
    }
    if state != Some(ThreadState::Running) {
        return Activity::Unknown;
    }
    let run = system_run(frames);
    match frames.get(run) {
        Some(f) if is_culprit_candidate(f) => Activity::NativeCode(run),
        Some(f) if (f.is_python() || is_interpreter_frame(f)) && frames.iter().any(Frame::is_python) => {
            Activity::Python
        }
        _ => Activity::Unknown,
    }
}

/// `MainThread (tid 48213)`, or `tid 48213` for a thread without a name.
pub fn who(thread: &Thread) -> String {
    match &thread.name {
        Some(name) => format!("{name} (tid {})", thread.tid),
        None => format!("tid {}", thread.tid),
    }
}

/// A thread's name for a short mention: `MainThread`, else `tid 48213`.
pub fn short_who(thread: &Thread) -> String {
    thread.name.clone().unwrap_or_else(|| format!("tid {}", thread.tid))
}

/// `save (main.py:23)`: a Python frame by function and file basename.
fn python_frame_place(frame: &Frame) -> String {
    let function = frame.display_name().unwrap_or("?");
    let file = frame.file.as_deref().map(file_basename).unwrap_or("?");
    match frame.line {
        Some(line) => format!("{function} ({file}:{line})"),
        None => format!("{function} ({file})"),
    }
}

/// Where in Python the thread is: its innermost frame in the user's own code, else its
/// innermost Python frame.
pub fn python_place(frames: &[Frame]) -> Option<String> {
    frames
        .iter()
        .find(|f| f.is_python() && is_user_frame(f))
        .or_else(|| frames.iter().find(|f| f.is_python()))
        .map(python_frame_place)
}

/// `log_state (_store.c:15, inlined into flush)`, or `log_state (in _store)` without
/// line information.
pub fn native_place(frames: &[Frame], index: usize) -> String {
    let Some(frame) = frames.get(index) else {
        return "?".into();
    };
    let name = native_name(frame);
    let mut details = Vec::new();
    match (&frame.file, frame.line) {
        (Some(file), Some(line)) => details.push(format!("{}:{line}", file_basename(file))),
        (Some(file), None) => details.push(file_basename(file).to_string()),
        _ => details.push(format!("in {}", frame.module.as_deref().map(module_stem).unwrap_or_else(|| "?".into()))),
    }
    if frame.inlined {
        // DWARF's inlined frames sit directly above the function they were inlined into.
        if let Some(host) = frames[index + 1..].iter().find(|f| !f.inlined) {
            details.push(format!("inlined into {}", native_name(host)));
        }
    }
    format!("{name} ({})", details.join(", "))
}

/// A native frame's function as people say it, or `??`.
pub fn native_name(frame: &Frame) -> String {
    normalized_name(frame).map(|n| short_function(&n)).unwrap_or_else(|| "??".into())
}

/// C functions of the interpreter and its standard extensions that Python code calls to
/// wait, by the name Python code knows them (`_impl` suffixes are ignored).
const PYTHON_C_CALLS: &[(&str, &str)] = &[
    ("time_sleep", "time.sleep"),
    ("pysleep", "time.sleep"),
    ("sock_recv", "socket.recv"),
    ("sock_recv_into", "socket.recv_into"),
    ("sock_recvfrom", "socket.recvfrom"),
    ("sock_recvfrom_into", "socket.recvfrom_into"),
    ("sock_recvmsg", "socket.recvmsg"),
    ("sock_accept", "socket.accept"),
    ("sock_connect", "socket.connect"),
    ("sock_send", "socket.send"),
    ("sock_sendall", "socket.sendall"),
    ("lock_PyThread_acquire_lock", "Lock.acquire"),
    ("rlock_acquire", "RLock.acquire"),
    ("_queue_SimpleQueue_get", "SimpleQueue.get"),
    ("os_waitpid", "os.waitpid"),
    ("os_wait", "os.wait"),
    ("os_waitid", "os.waitid"),
    ("os_read", "os.read"),
    ("os_write", "os.write"),
    ("select_select", "select.select"),
    ("select_poll_poll", "poll.poll"),
    ("select_epoll_poll", "epoll.poll"),
    ("_io_FileIO_read", "a file read"),
    ("_io_FileIO_readinto", "a file read"),
    ("_io_FileIO_readall", "a file read"),
    ("_io__Buffered_read", "a file read"),
    ("_io__Buffered_readline", "a file read"),
    ("_io_FileIO_write", "a file write"),
    ("builtin_input", "input()"),
    ("signal_pause", "signal.pause"),
    ("signal_sigwait", "signal.sigwait"),
    ("signal_sigtimedwait", "signal.sigtimedwait"),
];

/// Standard-library functions whose plain name says too little: `(file, function, name)`.
const LIBRARY_CALLS: &[(&str, &str, &str)] = &[
    ("threading.py", "join", "Thread.join"),
    ("threading.py", "_wait_for_tstate_lock", "Thread.join"),
    ("queue.py", "get", "Queue.get"),
    ("queue.py", "put", "Queue.put"),
    ("queue.py", "join", "Queue.join"),
    ("subprocess.py", "wait", "Popen.wait"),
    ("subprocess.py", "communicate", "Popen.communicate"),
    ("subprocess.py", "run", "subprocess.run"),
    ("subprocess.py", "call", "subprocess.call"),
    ("subprocess.py", "check_call", "subprocess.check_call"),
    ("subprocess.py", "check_output", "subprocess.check_output"),
    ("socket.py", "accept", "socket.accept"),
    ("socket.py", "create_connection", "socket.create_connection"),
    ("selectors.py", "select", "selector.select"),
    ("runners.py", "run", "asyncio.run"),
    ("base_events.py", "run_until_complete", "the asyncio event loop"),
    ("base_events.py", "run_forever", "the asyncio event loop"),
    ("_base.py", "result", "Future.result"),
];

/// The call the program made to wait, as its author would name it: the library function
/// its own Python code called (`Thread.join`), else the C function Python called
/// (`time.sleep`), else the C-runtime call (`pthread_mutex_lock`).
pub fn waiting_call(frames: &[Frame], wait: &Wait) -> String {
    if let Some(entry) = library_entry(frames) {
        return entry;
    }
    let innermost_python = frames.iter().position(Frame::is_python).unwrap_or(frames.len());
    let c_call = frames[..innermost_python]
        .iter()
        .rev()
        .filter(|f| f.kind == FrameKind::Native)
        .filter_map(normalized_name)
        .find_map(|n| {
            let plain = n.strip_suffix("_impl").unwrap_or(&n);
            PYTHON_C_CALLS.iter().find(|(c, _)| *c == plain).map(|(_, shown)| shown.to_string())
        });
    c_call.unwrap_or_else(|| wait.call.to_string())
}

/// The library function (stdlib or site-packages) that the user's innermost Python frame
/// called, when the stack passes through one.
fn library_entry(frames: &[Frame]) -> Option<String> {
    let user = frames.iter().position(|f| f.is_python() && is_user_frame(f))?;
    let entry = frames[..user].iter().rev().find(|f| f.kind == FrameKind::Python)?;
    if is_user_frame(entry) {
        return None;
    }
    let file = entry.file.as_deref()?;
    let function = entry.function.as_deref()?;
    let base = file_basename(file);
    if let Some((_, _, name)) = LIBRARY_CALLS.iter().find(|(f, n, _)| *f == base && *n == function) {
        return Some(name.to_string());
    }
    Some(match &entry.qualname {
        Some(q) => q.clone(),
        None => format!("{function}` in `{base}"),
    })
}

/// The index of the program's own native function that made the blocking call (not the
/// interpreter's, nor a standard extension's such as `_socket`, whose call
/// [`waiting_call`] already names).
pub fn native_caller(frames: &[Frame], wait: &Wait) -> Option<usize> {
    wait.caller.filter(|&i| frames.get(i).is_some_and(is_user_frame))
}

/// One line on what the thread was doing, for a person:
/// `waits in \`time.sleep\` at beat (main.py:37)`.
pub fn describe(thread: &Thread) -> String {
    let frames = &thread.frames;
    let at = python_place(frames).map(|p| format!(" at {p}")).unwrap_or_default();
    match activity(thread) {
        Activity::Gil => format!("waits for the GIL{at}"),
        Activity::Blocked(wait) => {
            let call = waiting_call(frames, &wait);
            match native_caller(frames, &wait) {
                Some(i) => format!("waits in `{call}` from {}{at}", native_place(frames, i)),
                None => format!("waits in `{call}`{at}"),
            }
        }
        Activity::NativeCode(i) => format!("runs native code, {}{at}", native_place(frames, i)),
        Activity::Python => format!("runs Python{at}"),
        Activity::DiskSleep(wait) => {
            let call = wait.map(|w| format!(" in `{}`", waiting_call(frames, &w))).unwrap_or_default();
            format!("is in uninterruptible I/O{call}{at}")
        }
        Activity::Unknown => match frames.iter().find(|f| f.function.is_some()) {
            None => "no stack was taken".into(),
            Some(f) if f.is_python() => format!("is at {}", python_frame_place(f)),
            Some(_) => {
                let top = frames.iter().position(|f| f.function.is_some()).unwrap_or(0);
                format!("is in {}{at}", native_place(frames, top))
            }
        },
    }
}
