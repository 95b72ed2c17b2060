//! `read_python_stacks` against real, stopped processes.

use super::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The real interpreter behind pyenv's `python3` shell shim.
fn python() -> PathBuf {
    let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().expect("python3 runs");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn state(pid: i32) -> Option<u8> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ").map(|(_, rest)| rest.as_bytes()[0])
}

/// Waits until the process is in group-stop (state `T`).
fn wait_stopped(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while state(pid) != Some(b'T') {
        assert!(Instant::now() < deadline, "process {pid} never stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn stop(pid: i32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGSTOP).unwrap();
    wait_stopped(pid);
}

/// Kills and reaps the child even when an assertion failed.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const THREADS_SCRIPT: &str = r#"
import os, threading, time
os.environ["PYTEST_CURRENT_TEST"] = "tests/test_bbox.py::test_bbox_of_empty_polygon (call)"

def deep_work():
    print("ready", flush=True)
    time.sleep(60)

def worker():
    deep_work()

t = threading.Thread(target=worker, name="worker-1")
t.start()
t.join()
"#;

/// What a capture does: the maps, read once, then the Python stacks.
fn stacks_of(pid: i32) -> Result<Vec<PythonThread>, PythonError> {
    read_python_stacks(pid, &faultline_procfs::maps::read_maps(pid))
}

#[test]
fn reads_every_thread_of_a_stopped_python_process() {
    let mut child = Command::new(python()).args(["-c", THREADS_SCRIPT]).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Reaped(child);
    let pid = child.0.id() as i32;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    stop(pid);

    let started = Instant::now();
    let threads = stacks_of(pid).expect("python stacks");
    let elapsed = started.elapsed();
    eprintln!("read_python_stacks on a stopped 3.11 process took {elapsed:?}");
    let again = Instant::now();
    let _ = stacks_of(pid);
    eprintln!("second read_python_stacks took {:?}", again.elapsed());

    assert_eq!(threads.len(), 2, "{threads:#?}");
    let main = threads.iter().find(|t| t.name.as_deref() == Some("MainThread")).expect("MainThread");
    let worker = threads.iter().find(|t| t.name.as_deref() == Some("worker-1")).expect("worker-1");

    assert_eq!(main.frames.last().map(|f| f.function.as_str()), Some("<module>"));
    assert_eq!(main.frames.last().map(|f| f.file.as_str()), Some("<string>"));
    let worker_functions: Vec<&str> = worker.frames.iter().map(|f| f.function.as_str()).collect();
    assert_eq!(worker_functions[..2], ["deep_work", "worker"], "{worker_functions:?}");
    assert!(worker_functions.iter().any(|f| f.ends_with("_bootstrap_inner")));
    let deep_work = &worker.frames[0];
    assert!(matches!(deep_work.line, Some(6) | Some(7)), "{deep_work:?}");
    let run = worker.frames.iter().find(|f| f.function.ends_with("Thread.run")).expect("Thread.run");
    assert_eq!(run.module.as_deref(), Some("threading"));
    // `run` is called from C (the thread bootstrap): an entry frame on 3.11+.
    assert!(worker.frames.last().unwrap().is_entry);

    let tasks: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    assert_eq!(main.os_tid, Some(pid));
    let worker_tid = worker.os_tid.expect("3.11 records the native thread id");
    assert!(tasks.contains(&worker_tid) && worker_tid != pid, "{worker_tid} in {tasks:?}");
    assert_ne!(main.thread_id, worker.thread_id);
    assert!(threads.iter().filter(|t| t.holds_gil).count() <= 1);

    // pytest's variable, set through os.environ (putenv), is in the live environment.
    let maps = faultline_procfs::maps::read_maps(pid).unwrap();
    let mem = faultline_procfs::memory::ProcessMemory::new(pid);
    let env = crate::process_globals::read_live_env(pid, &mem, &maps, &["PYTEST_CURRENT_TEST"]);
    assert_eq!(
        env.get("PYTEST_CURRENT_TEST").map(String::as_str),
        Some("tests/test_bbox.py::test_bbox_of_empty_polygon (call)")
    );
}

// After `Py_FinalizeEx`, libc runs its exit handlers: this one stops the process there, the
// moment a C++ static destructor would crash.
const FINALIZED_SCRIPT: &str = r#"
import ctypes, signal
libc = ctypes.CDLL(None)
libc.__cxa_atexit.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
stop = ctypes.cast(getattr(libc, "raise"), ctypes.c_void_p)
libc.__cxa_atexit(stop, ctypes.c_void_p(int(signal.SIGSTOP)), None)
"#;

#[test]
fn a_finalized_interpreter_is_an_error_and_comes_back_quickly() {
    let child = Reaped(Command::new(python()).args(["-c", FINALIZED_SCRIPT]).spawn().unwrap());
    let pid = child.0.id() as i32;
    wait_stopped(pid);

    let started = Instant::now();
    let result = stacks_of(pid);
    let elapsed = started.elapsed();
    eprintln!("read_python_stacks after Py_FinalizeEx took {elapsed:?}: {result:?}");
    match result {
        Err(PythonError::NoInterpreter(reason)) => assert!(!reason.is_empty()),
        other => panic!("expected NoInterpreter, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn a_process_that_is_not_python_is_not_python() {
    let child = Reaped(Command::new("sleep").arg("60").spawn().unwrap());
    let pid = child.0.id() as i32;
    stop(pid);
    assert!(matches!(stacks_of(pid), Err(PythonError::NotPython)));
}

#[test]
fn a_vanished_process_is_an_error() {
    assert!(stacks_of(i32::MAX).is_err());
}
