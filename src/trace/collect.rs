//! Taking the evidence of a crash while the faulting thread is held at signal-delivery-stop.
//!
//! The order matters for how long the process stays stopped: everything that needs the
//! live process (registers, stack bytes, Python thread states, maps, globals) happens
//! while it is held; everything that only needs files on disk (symbols, DWARF lines)
//! happens after the signal has been delivered (`Collector::finish`).

use super::ptrace::{self, SigInfo, Tid};
use super::status::{decode, TaskStatus};
use crate::capture::{Capture, InterpreterState, Mapping, PytestState, Registers, SignalInfo};
use crate::memory::ProcessMemory;
use crate::model::{Frame, ProcessRole, Thread};
use crate::native::{NativeStacks, NormalizedPc};
use crate::python::{self, PythonError, PythonThread};
use crate::process_globals;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How deep to walk the faulting thread: enough to see the bottom of most recursions.
const CRASHED_THREAD_MAX_FRAMES: usize = 4096;
const OTHER_THREAD_MAX_FRAMES: usize = 512;
/// How long to wait for other threads to stop before reading them anyway.
const INTERRUPT_DEADLINE: Duration = Duration::from_millis(50);

/// What was read from one thread while the process was held.
struct HeldThread {
    tid: Tid,
    registers: Option<Registers>,
    pcs: Vec<NormalizedPc>,
}

/// The evidence read while the process was held; symbols are resolved later.
pub struct HeldCapture {
    pid: i32,
    tid: Tid,
    role: ProcessRole,
    signal: SignalInfo,
    threads: Vec<HeldThread>,
    python: Result<Vec<PythonThread>, PythonError>,
    maps: Vec<Mapping>,
    pytest: PytestState,
    abort_message: Option<String>,
    handler_installed: bool,
    executable: Option<String>,
    argv: Vec<String>,
    os_thread_names: Vec<(Tid, String)>,
    /// Scheduler state of each thread just before the capture stopped it.
    states: Vec<(Tid, String)>,
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

    /// A process replaced its program: cached module lists for it are stale.
    pub fn forget(&mut self, pid: i32) {
        self.native.forget(pid);
    }

    /// Reads everything that needs the live process. The faulting thread `tid` must be in
    /// signal-delivery-stop; the caller resumes it afterwards. Other threads are interrupted
    /// and resumed here; stops of theirs that are not our interrupt go to `deferred`, for the
    /// wait loop to handle as if it had seen them itself.
    pub fn hold(
        &mut self,
        tid: Tid,
        pid: i32,
        role: ProcessRole,
        info: &SigInfo,
        deferred: &mut VecDeque<(Tid, i32)>,
    ) -> HeldCapture {
        let started = Instant::now();
        // Before anything is interrupted: afterwards every thread shows as traced-stopped.
        let states = thread_states(pid);
        let others = stop_other_threads(pid, tid, deferred);
        let mem = ProcessMemory::new(pid);

        let mut threads = Vec::with_capacity(others.resumable.len() + 1);
        let mut all_tids = vec![tid];
        all_tids.extend(others.stopped_tids());
        for (index, &thread_tid) in all_tids.iter().enumerate() {
            let registers = ptrace::registers(thread_tid).ok().map(|r| Registers {
                ip: r.rip,
                sp: r.rsp,
                bp: r.rbp,
                fs_base: r.fs_base,
            });
            let max = if index == 0 { CRASHED_THREAD_MAX_FRAMES } else { OTHER_THREAD_MAX_FRAMES };
            let pcs = match &registers {
                Some(regs) => {
                    let raw = self.native.unwind(pid, regs, &mem, max);
                    self.native.normalize(pid, &raw)
                }
                None => Vec::new(),
            };
            threads.push(HeldThread { tid: thread_tid, registers, pcs });
        }

        let python = python::read_python_stacks(pid);
        let maps = process_globals::parse_maps(pid).unwrap_or_default();
        let env = process_globals::read_live_env(pid, &mem, &maps, &["PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_WORKER"]);
        let pytest = PytestState {
            current_test: env.get("PYTEST_CURRENT_TEST").cloned(),
            running_pytest: env.contains_key("PYTEST_VERSION"),
            xdist_worker: env.get("PYTEST_XDIST_WORKER").cloned(),
        };
        let abort_message = process_globals::read_abort_message(pid, &mem, &maps);
        let handler_installed = signal_is_caught(pid, info.signo);
        let executable = std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let argv = read_cmdline(pid);
        // The sender may be gone soon: read who it was now.
        let sender_command = Some(info.pid)
            .filter(|&sender| is_sent_code(info.code) && sender > 0 && sender != pid)
            .map(read_cmdline)
            .filter(|args| !args.is_empty())
            .map(|args| args.join(" "));
        let os_thread_names = all_tids
            .iter()
            .filter_map(|&t| {
                let name = std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm")).ok()?;
                Some((t, name.trim_end().to_owned()))
            })
            .collect();

        for &other in &others.resumable {
            let _ = ptrace::cont(other, 0);
        }

        HeldCapture {
            pid,
            tid,
            role,
            signal: SignalInfo {
                signo: info.signo,
                code: info.code,
                fault_address: is_fault_code(info.code).then_some(info.addr),
                sender_pid: is_sent_code(info.code).then_some(info.pid),
            },
            threads,
            python,
            maps,
            pytest,
            abort_message,
            handler_installed,
            executable,
            argv,
            os_thread_names,
            states,
            sender_command,
            started,
            held_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }

    /// Resolves symbols and merges Python frames: the work that needs no live process.
    pub fn finish(&mut self, held: HeldCapture) -> Capture {
        let python_threads = held.python.as_ref().ok();
        let interpreter = match &held.python {
            Ok(_) => InterpreterState::Running,
            Err(PythonError::NotPython) => InterpreterState::NotPython,
            Err(PythonError::NoInterpreter(reason)) => InterpreterState::Unavailable(reason.clone()),
        };
        let mut threads = Vec::with_capacity(held.threads.len());
        for held_thread in &held.threads {
            let native: Vec<Frame> = self.native.symbolize(&held_thread.pcs);
            let py = python_threads.and_then(|all| python_thread_for(all, held_thread));
            let frames = match py {
                Some(py) => python::merge(&native, &py.frames),
                None => native,
            };
            let os_name = held
                .os_thread_names
                .iter()
                .find(|(t, _)| *t == held_thread.tid)
                .map(|(_, n)| n.clone());
            threads.push(Thread {
                tid: held_thread.tid,
                name: py.and_then(|p| p.name.clone()).or(os_name),
                crashed: held_thread.tid == held.tid,
                holds_gil: python_threads.map(|_| py.is_some_and(|p| p.holds_gil)),
                state: held.states.iter().find(|(t, _)| *t == held_thread.tid).map(|(_, s)| s.clone()),
                frames,
            });
        }
        Capture {
            pid: held.pid,
            tid: held.tid,
            role: held.role,
            executable: held.executable,
            argv: held.argv,
            signal: held.signal,
            registers: held.threads.first().and_then(|t| t.registers),
            maps: held.maps,
            threads,
            interpreter,
            pytest: held.pytest,
            abort_message: held.abort_message,
            stderr_tail: Vec::new(),
            handler_installed: held.handler_installed,
            held_ms: held.held_ms,
            sender_command: held.sender_command,
        }
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
    all.iter()
        .find(|p| p.os_tid == Some(thread.tid))
        .or_else(|| {
            let fs_base = thread.registers?.fs_base;
            all.iter().find(|p| p.os_tid.is_none() && p.thread_id == fs_base)
        })
}

struct OtherThreads {
    /// Interrupted by us and stopped: we resume them.
    resumable: Vec<Tid>,
    /// Stopped for their own reason (the wait loop resumes them via `deferred`).
    stopped_elsewhere: Vec<Tid>,
}

impl OtherThreads {
    fn stopped_tids(&self) -> impl Iterator<Item = Tid> + '_ {
        self.resumable.iter().chain(self.stopped_elsewhere.iter()).copied()
    }
}

fn stop_other_threads(pid: i32, crashed: Tid, deferred: &mut VecDeque<(Tid, i32)>) -> OtherThreads {
    let mut others = OtherThreads { resumable: Vec::new(), stopped_elsewhere: Vec::new() };
    let tids = list_tasks(pid);
    let mut interrupted = Vec::new();
    for tid in tids.into_iter().filter(|&t| t != crashed) {
        if deferred.iter().any(|&(t, status)| t == tid && is_stopped(status)) {
            // Its stop was already collected and waits in the queue: it is stopped now.
            others.stopped_elsewhere.push(tid);
        } else if ptrace::interrupt(tid).is_ok() {
            interrupted.push(tid);
        }
    }
    let deadline = Instant::now() + INTERRUPT_DEADLINE;
    for tid in interrupted {
        match ptrace::wait_task_until(tid, deadline) {
            Some(status) => match decode(status) {
                TaskStatus::Event { event: libc::PTRACE_EVENT_STOP, .. } => others.resumable.push(tid),
                TaskStatus::Exited(_) | TaskStatus::Killed { .. } => deferred.push_back((tid, status)),
                _ => {
                    others.stopped_elsewhere.push(tid);
                    deferred.push_back((tid, status));
                }
            },
            // Did not stop in time (uninterruptible sleep): read what we can without it.
            None => {}
        }
    }
    others
}

fn is_stopped(status: i32) -> bool {
    libc::WIFSTOPPED(status)
}

pub fn list_tasks(pid: i32) -> Vec<Tid> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<Tid> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    tids
}

/// Each thread's scheduler state, from `/proc/<pid>/task/<tid>/stat`.
fn thread_states(pid: i32) -> Vec<(Tid, String)> {
    list_tasks(pid)
        .into_iter()
        .filter_map(|tid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
            Some((tid, state_name(&stat)?.to_owned()))
        })
        .collect()
}

/// The state letter of a `stat` line, named. The command name in parentheses may hold
/// anything, so the letter is found after the last `)`.
fn state_name(stat: &str) -> Option<&'static str> {
    let letter = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    Some(match letter {
        'R' => "running",
        'S' => "sleeping",
        'D' => "disk-sleep",
        'T' => "stopped",
        't' => "tracing-stop",
        'Z' => "zombie",
        'X' => "dead",
        'I' => "idle",
        _ => "unknown",
    })
}

fn read_cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `SigCgt` in /proc/<pid>/status: the signals the process has a handler for.
fn signal_is_caught(pid: i32, signo: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| parse_sigcgt(&status))
        .is_some_and(|mask| signo >= 1 && mask & (1u64 << (signo - 1)) != 0)
}

fn parse_sigcgt(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("SigCgt:"))?;
    u64::from_str_radix(line["SigCgt:".len()..].trim(), 16).ok()
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
    fn reads_caught_signals_from_status_text() {
        let status = "Name:\tpython3\nSigIgn:\t0000000001001000\nSigCgt:\t0000000180004e02\n";
        let mask = parse_sigcgt(status).unwrap();
        assert_ne!(mask & (1 << (libc::SIGSEGV - 1)), 0);
        assert_eq!(mask & (1 << (libc::SIGABRT - 1)), 0);
    }

    #[test]
    fn state_letter_is_found_after_the_command_name() {
        assert_eq!(state_name("123 (python3) S 1 123 123"), Some("sleeping"));
        assert_eq!(state_name("123 (a) (b) R 1 2"), Some("running"));
        assert_eq!(state_name("garbage"), None);
    }

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
