//! The wait loop: every stop of every task in the tree passes through here.
//!
//! A traced task only stops at the events we asked for (fork, clone, exec) and at signal
//! delivery, so ordinary code runs at full speed. A fatal signal is captured at its
//! delivery stop, then delivered unchanged: exit status and core dumps are what the user
//! would have had without us.

use super::collect::{Collector, HeldCapture};
use super::ptrace::{self, Tid};
use super::status::{decode, is_crash_signal, TaskStatus};
use super::stderr_tail::StderrTail;
use crate::diagnose::diagnose;
use crate::events::{exit_info, EventSink, RunEvent};
use crate::model::{ExitInfo, ProcessRole};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// How the root command ended, and what the tree did.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub exit: ExitInfo,
    pub processes_started: u32,
}

struct Process {
    role: ProcessRole,
}

pub struct Supervisor<'s> {
    root: Tid,
    /// Thread id → thread-group id (the process) of every live task.
    tasks: HashMap<Tid, i32>,
    processes: HashMap<i32, Process>,
    processes_started: u32,
    /// Statuses collected while capturing, to handle before asking the kernel again.
    deferred: VecDeque<(Tid, i32)>,
    /// First fault of each process, emitted only if the process then dies of that signal:
    /// handlers (faulthandler) re-raise, and some runtimes survive SIGSEGV on purpose.
    provisional: HashMap<i32, HeldCapture>,
    collector: Collector,
    sink: &'s mut dyn EventSink,
    stderr_tail: &'s StderrTail,
}

impl<'s> Supervisor<'s> {
    pub fn new(root: Tid, sink: &'s mut dyn EventSink, stderr_tail: &'s StderrTail) -> Supervisor<'s> {
        let mut tasks = HashMap::new();
        tasks.insert(root, root);
        let mut processes = HashMap::new();
        processes.insert(root, Process { role: ProcessRole::Main });
        Supervisor {
            root,
            tasks,
            processes,
            processes_started: 1,
            deferred: VecDeque::new(),
            provisional: HashMap::new(),
            collector: Collector::new(),
            sink,
            stderr_tail,
        }
    }

    /// Runs until the root process has ended, then lets go of whatever is left.
    pub fn run(mut self) -> RunEnd {
        let exit = loop {
            let (tid, raw) = match self.deferred.pop_front() {
                Some(next) => next,
                None => match ptrace::wait_raw(-1, 0) {
                    Ok(Some(next)) => next,
                    Ok(None) => continue,
                    // ECHILD: nothing left to wait for, and the root's end was never seen.
                    Err(_) => break exit_info(None, None, false),
                },
            };
            if let Some(exit) = self.handle(tid, decode(raw)) {
                break exit;
            }
        };
        self.release_remaining();
        RunEnd { exit, processes_started: self.processes_started }
    }

    /// Acts on one status; returns the root's exit once the root process has ended.
    fn handle(&mut self, tid: Tid, status: TaskStatus) -> Option<ExitInfo> {
        let pid = self.process_of(tid);
        match status {
            TaskStatus::Exited(code) => self.task_ended(tid, pid, exit_info(Some(code), None, false)),
            TaskStatus::Killed { signal, core_dumped } => {
                self.confirm_crash(pid, signal);
                self.task_ended(tid, pid, exit_info(None, Some(signal), core_dumped))
            }
            TaskStatus::SignalStop(signal) => {
                if is_crash_signal(signal) {
                    self.capture(tid, pid, signal);
                }
                let _ = ptrace::cont(tid, signal);
                None
            }
            TaskStatus::GroupStop(_) => {
                // LISTEN, not CONT: the task stays stopped until SIGCONT, as job control wants.
                let _ = ptrace::listen(tid);
                None
            }
            TaskStatus::Event { event, .. } => {
                self.on_event(tid, pid, event);
                let _ = ptrace::cont(tid, 0);
                None
            }
            TaskStatus::Other => None,
        }
    }

    fn on_event(&mut self, tid: Tid, pid: i32, event: i32) {
        match event {
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK => {
                if let Ok(child) = ptrace::event_message(tid) {
                    let child = child as Tid;
                    self.tasks.insert(child, child);
                    self.processes.insert(child, Process { role: ProcessRole::Child });
                    self.processes_started += 1;
                    self.sink.event(RunEvent::ProcessStarted { pid: child, parent: pid });
                }
            }
            libc::PTRACE_EVENT_CLONE => {
                // A clone event is reported for exit_signal != SIGCHLD: threads.
                if let Ok(child) = ptrace::event_message(tid) {
                    self.tasks.insert(child as Tid, pid);
                }
            }
            libc::PTRACE_EVENT_EXEC => {
                // Other threads vanished; a non-leader that exec'd now has the leader's id.
                self.tasks.retain(|_, owner| *owner != pid);
                self.tasks.insert(tid, pid);
                self.provisional.remove(&pid);
                self.collector.forget(pid);
                let executable = std::fs::read_link(format!("/proc/{pid}/exe"))
                    .ok()
                    .map(|p| p.to_string_lossy().into_owned());
                self.sink.event(RunEvent::ProcessExec { pid, executable });
            }
            _ => {}
        }
    }

    /// Captures the first fatal signal of a process; later ones (a handler re-raising) are
    /// delivered untouched.
    fn capture(&mut self, tid: Tid, pid: i32, signal: i32) {
        if self.provisional.contains_key(&pid) {
            return;
        }
        let Ok(info) = ptrace::siginfo(tid) else { return };
        let info = ptrace::decode_siginfo(&info);
        if info.signo != signal {
            return;
        }
        let role = self.processes.get(&pid).map_or(ProcessRole::Child, |p| p.role);
        // A bug of ours while reading a strange process must not end the run: the child
        // would die with us (EXITKILL) and its status would be lost.
        let collector = &mut self.collector;
        let deferred = &mut self.deferred;
        match catch_unwind(AssertUnwindSafe(|| collector.hold(tid, pid, role, &info, deferred))) {
            Ok(held) => {
                self.provisional.insert(pid, held);
            }
            Err(_) => eprintln!("faultline: internal error while capturing a crash of pid {pid}; the crash is not reported"),
        }
    }

    fn confirm_crash(&mut self, pid: i32, signal: i32) {
        let Some(held) = self.provisional.remove(&pid) else { return };
        if held.signo() != signal {
            return;
        }
        let fault_seen = held.fault_seen();
        let collector = &mut self.collector;
        let stderr_tail = self.stderr_tail;
        let explained = catch_unwind(AssertUnwindSafe(|| {
            let mut capture = collector.finish(held);
            capture.stderr_tail = stderr_tail.last_lines();
            let mut crash = diagnose(&capture);
            crash.held_ms = Some(capture.held_ms);
            crash
        }));
        match explained {
            Ok(mut crash) => {
                crash.report_ready_ms = Some(fault_seen.elapsed().as_secs_f64() * 1000.0);
                self.sink.event(RunEvent::Crash(Box::new(crash)));
            }
            Err(_) => eprintln!("faultline: internal error while explaining a crash of pid {pid}; the crash is not reported"),
        }
    }

    fn task_ended(&mut self, tid: Tid, pid: i32, exit: ExitInfo) -> Option<ExitInfo> {
        self.tasks.remove(&tid);
        if tid != pid {
            return None;
        }
        // The leader is reported last: the process is gone.
        self.provisional.remove(&pid);
        let role = self.processes.remove(&pid).map_or(ProcessRole::Child, |p| p.role);
        self.tasks.retain(|_, owner| *owner != pid);
        self.sink.event(RunEvent::ProcessExited { pid, role, exit: exit.clone() });
        (pid == self.root).then_some(exit)
    }

    /// The process a task belongs to. A task can report before the event that created it
    /// (a new thread's first stop may beat its parent's clone event): ask /proc then.
    fn process_of(&mut self, tid: Tid) -> i32 {
        if let Some(&pid) = self.tasks.get(&tid) {
            return pid;
        }
        let pid = read_tgid(tid).unwrap_or(tid);
        self.tasks.insert(tid, pid);
        if !self.processes.contains_key(&pid) {
            self.processes.insert(pid, Process { role: ProcessRole::Child });
            self.processes_started += 1;
        }
        pid
    }

    /// The root is gone; descendants that outlive it (daemons) are let go untouched rather
    /// than killed with us.
    fn release_remaining(&mut self) {
        let remaining: Vec<Tid> = self.tasks.keys().copied().collect();
        if remaining.is_empty() {
            return;
        }
        for &tid in &remaining {
            let _ = ptrace::interrupt(tid);
        }
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut left = remaining.len();
        while left > 0 && Instant::now() < deadline {
            match ptrace::wait_raw(-1, libc::WNOHANG) {
                Ok(Some((tid, raw))) => {
                    let signal = match decode(raw) {
                        TaskStatus::SignalStop(sig) => sig,
                        TaskStatus::Exited(_) | TaskStatus::Killed { .. } => {
                            left -= 1;
                            continue;
                        }
                        _ => 0,
                    };
                    if libc::WIFSTOPPED(raw) {
                        let _ = ptrace::detach(tid, signal);
                        left -= 1;
                    }
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(_) => break,
            }
        }
    }
}

fn read_tgid(tid: Tid) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}
