//! Taking the evidence of a process while it is held stopped: at a fatal signal (a crash
//! capture) or when the run must be stopped (a snapshot for a timeout or a memory limit).
//!
//! The order matters for how long the process stays stopped: everything that needs the
//! live process (registers, stack bytes, Python thread states, maps, globals) happens
//! while it is held; everything that only needs files on disk (symbols, DWARF lines)
//! happens after it is let go (`Collector::finish`, `Collector::resolve`). The maps are
//! read once, after the threads are stopped, and every reader of the capture uses them.

use super::ptrace::{self, SigInfo, Tid};
use super::tasks::{self, StoppedThreads};
use crate::capture::{Capture, InterpreterState, Mapping, PytestState, Registers, SignalInfo};
use crate::maps::read_maps;
use crate::memory::ProcessMemory;
use crate::model::Pid;
use crate::model::{Frame, ProcessRole, ProcessSnapshot, PythonFramesFrom, Thread, ThreadState};
use crate::native::{NativeStacks, NormalizedPc};
use crate::process_globals;
use crate::python::{self, PythonError, PythonThread};
use std::collections::VecDeque;
use std::time::Instant;

/// How deep to walk the faulting thread: enough to see the bottom of most recursions.
const CRASHED_THREAD_MAX_FRAMES: usize = 4096;
const OTHER_THREAD_MAX_FRAMES: usize = 512;

/// What was read from one thread while the process was held.
struct HeldThread {
    tid: Tid,
    registers: Option<Registers>,
    pcs: Vec<NormalizedPc>,
}

/// Every thread of one process as read while held; symbols are resolved later.
struct ThreadsHeld {
    /// The thread of interest first (the faulting one), then the others.
    threads: Vec<HeldThread>,
    python: Result<Vec<PythonThread>, PythonError>,
    names: Vec<(Tid, String)>,
    states: Vec<(Tid, ThreadState)>,
}

/// The evidence of a crash read while the process was held.
pub struct HeldCapture {
    pid: i32,
    tid: Tid,
    role: ProcessRole,
    signal: SignalInfo,
    held: ThreadsHeld,
    maps: Vec<Mapping>,
    pytest: PytestState,
    abort_message: Option<String>,
    handler_installed: bool,
    executable: Option<String>,
    argv: Vec<String>,
    sender_command: Option<String>,
    started: Instant,
    pub held_ms: f64,
}

pub struct Collector {
    native: NativeStacks,
}

impl Collector {
    pub fn new() -> Collector {
        Collector { native: NativeStacks::new() }
    }

    /// A process replaced its program or ended: cached module lists for it are stale.
    pub fn forget(&mut self, pid: i32) {
        self.native.forget(pid);
    }

    /// Reads a crashing process. The faulting thread `tid` must be in signal-delivery-stop;
    /// the caller resumes it afterwards. Other threads are stopped and resumed here.
    pub fn hold(
        &mut self,
        tid: Tid,
        pid: i32,
        role: ProcessRole,
        info: &SigInfo,
        deferred: &mut VecDeque<(Tid, i32)>,
    ) -> HeldCapture {
        let started = Instant::now();
        let states = tasks::thread_states(pid);
        let others = tasks::stop_threads(pid, Some(tid), deferred);
        let mem = ProcessMemory::new(pid);
        let maps = read_maps(pid);
        let held = self.read_threads(pid, Some(tid), &others, &mem, &maps, states);

        let maps = maps.unwrap_or_default();
        let env = process_globals::read_live_env(
            pid,
            &mem,
            &maps,
            &["PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_WORKER"],
        );
        let pytest = PytestState {
            current_test: env.get("PYTEST_CURRENT_TEST").cloned(),
            running_pytest: env.contains_key("PYTEST_VERSION"),
            xdist_worker: env.get("PYTEST_XDIST_WORKER").cloned(),
        };
        let abort_message = process_globals::read_abort_message(pid, &mem, &maps);
        // The sender may be gone soon: read who it was now.
        let sender_command = Some(info.pid)
            .filter(|&sender| is_sent_code(info.code) && sender > 0 && sender != pid)
            .map(tasks::read_cmdline)
            .filter(|args| !args.is_empty())
            .map(|args| args.join(" "));
        let capture = HeldCapture {
            pid,
            tid,
            role,
            signal: SignalInfo {
                signo: info.signo,
                code: info.code,
                fault_address: is_fault_code(info.code).then_some(info.addr),
                sender_pid: is_sent_code(info.code).then_some(Pid(info.pid)),
            },
            held,
            maps,
            pytest,
            abort_message,
            handler_installed: tasks::signal_is_caught(pid, info.signo),
            executable: tasks::read_executable(pid),
            argv: tasks::read_cmdline(pid),
            sender_command,
            started,
            held_ms: 0.0,
        };
        others.resume();
        HeldCapture { held_ms: started.elapsed().as_secs_f64() * 1000.0, ..capture }
    }

    /// Every thread of a running process, stopped just long enough to be read, with
    /// symbols resolved: for a timeout or memory-limit snapshot.
    pub fn snapshot(&mut self, pid: i32, role: ProcessRole, deferred: &mut VecDeque<(Tid, i32)>) -> ProcessSnapshot {
        let states = tasks::thread_states(pid);
        let stopped = tasks::stop_threads(pid, None, deferred);
        let mem = ProcessMemory::new(pid);
        let maps = read_maps(pid);
        let held = self.read_threads(pid, None, &stopped, &mem, &maps, states);
        let executable = tasks::read_executable(pid);
        let argv = tasks::read_cmdline(pid);
        stopped.resume();
        let threads = self.resolve(held, None);
        ProcessSnapshot { pid: Pid(pid), process: role, executable, argv, threads }
    }

    /// Resolves symbols and merges Python frames: the work that needs no live process.
    pub fn finish(&mut self, capture: HeldCapture) -> Capture {
        let interpreter = match &capture.held.python {
            Ok(_) => InterpreterState::Running,
            Err(PythonError::NotPython) => InterpreterState::NotPython,
            Err(PythonError::NoInterpreter(reason)) => InterpreterState::Unavailable(reason.clone()),
        };
        let registers = capture.held.threads.first().and_then(|t| t.registers);
        let threads = self.resolve(capture.held, Some(capture.tid));
        Capture {
            pid: Pid(capture.pid),
            tid: crate::model::Tid(capture.tid),
            role: capture.role,
            executable: capture.executable,
            argv: capture.argv,
            signal: capture.signal,
            registers,
            maps: capture.maps,
            threads,
            interpreter,
            pytest: capture.pytest,
            abort_message: capture.abort_message,
            stderr_tail: Vec::new(),
            handler_installed: capture.handler_installed,
            held_ms: capture.held_ms,
            sender_command: capture.sender_command,
            // Read by the supervisor once the process has died (the report is complete then).
            sanitizer_log: None,
        }
    }

    /// Registers, native stack and Python stacks of the stopped threads (`first`, the
    /// thread of interest, walked deepest), over the maps just read.
    fn read_threads(
        &mut self,
        pid: i32,
        first: Option<Tid>,
        others: &StoppedThreads,
        mem: &ProcessMemory,
        maps: &std::io::Result<Vec<Mapping>>,
        states: Vec<(Tid, ThreadState)>,
    ) -> ThreadsHeld {
        if let Ok(maps) = maps {
            self.native.load_maps(pid, maps.clone(), mem);
        }
        let tids: Vec<Tid> = first.into_iter().chain(others.tids()).collect();
        let mut threads = Vec::with_capacity(tids.len());
        for &tid in &tids {
            let registers =
                ptrace::registers(tid).ok().map(|r| Registers { ip: r.rip, sp: r.rsp, bp: r.rbp, fs_base: r.fs_base });
            let max = if Some(tid) == first { CRASHED_THREAD_MAX_FRAMES } else { OTHER_THREAD_MAX_FRAMES };
            let pcs = match &registers {
                Some(regs) => {
                    let pcs = self.native.unwind(pid, regs, mem, max);
                    self.native.normalize(pid, &pcs)
                }
                None => Vec::new(),
            };
            threads.push(HeldThread { tid, registers, pcs });
        }
        ThreadsHeld {
            threads,
            python: python::read_python_stacks(pid, maps),
            names: tasks::thread_names(pid, &tids),
            states,
        }
    }

    fn resolve(&mut self, held: ThreadsHeld, crashed: Option<Tid>) -> Vec<Thread> {
        let python_threads = held.python.as_ref().ok();
        let mut threads = Vec::with_capacity(held.threads.len());
        for thread in &held.threads {
            let native: Vec<Frame> = self.native.symbolize(&thread.pcs);
            let py = python_threads.and_then(|all| python_thread_for(all, thread));
            let frames = match py {
                Some(py) => python::merge(&native, &py.frames),
                None => native,
            };
            let lookup = |list: &[(Tid, String)]| list.iter().find(|(t, _)| *t == thread.tid).map(|(_, v)| v.clone());
            threads.push(Thread {
                tid: crate::model::Tid(thread.tid),
                name: py.and_then(|p| p.name.clone()).or_else(|| lookup(&held.names)),
                crashed: Some(thread.tid) == crashed,
                holds_gil: python_threads.map(|_| py.is_some_and(|p| p.holds_gil)),
                // The faulting thread is already held by us when states are read.
                state: if Some(thread.tid) == crashed {
                    None
                } else {
                    held.states.iter().find(|(t, _)| *t == thread.tid).map(|(_, state)| *state)
                },
                python_frames_from: py.filter(|p| p.frames_from_data_stack).map(|_| PythonFramesFrom::DataStack),
                frames,
            });
        }
        threads
    }
}

impl HeldCapture {
    pub fn signo(&self) -> i32 {
        self.signal.signo
    }

    /// When the fault stop was seen.
    pub fn fault_seen(&self) -> Instant {
        self.started
    }
}

/// Finds a thread's Python stack: by OS thread id when the interpreter records it (3.11+),
/// else by `pthread_t`, which on x86_64 glibc is the thread pointer (fs_base).
fn python_thread_for<'a>(all: &'a [PythonThread], thread: &HeldThread) -> Option<&'a PythonThread> {
    all.iter().find(|p| p.os_tid == Some(thread.tid)).or_else(|| {
        let fs_base = thread.registers?.fs_base;
        all.iter().find(|p| p.os_tid.is_none() && p.thread_id == fs_base)
    })
}

/// si_code > 0: the kernel generated the signal from a fault, and si_addr is meaningful.
fn is_fault_code(code: i32) -> bool {
    code > 0 && code != libc::SI_KERNEL
}

/// Signals sent with kill, tgkill or sigqueue carry the sender's pid.
fn is_sent_code(code: i32) -> bool {
    code == libc::SI_USER || code == libc::SI_TKILL || code == libc::SI_QUEUE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_and_sent_codes_are_told_apart() {
        assert!(is_fault_code(1));
        assert!(!is_fault_code(libc::SI_TKILL));
        assert!(!is_fault_code(libc::SI_KERNEL));
        assert!(is_sent_code(libc::SI_TKILL));
        assert!(is_sent_code(libc::SI_USER));
        assert!(!is_sent_code(1));
    }
}
