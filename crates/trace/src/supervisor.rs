//! The wait loop: every stop of every task in the tree passes through here.
//!
//! A traced task only stops at the events we asked for (fork, clone, exec) and at signal
//! delivery, so ordinary code runs at full speed. A fatal signal is captured at its
//! delivery stop, then delivered unchanged: exit status and core dumps are what the user
//! would have had without us.
//!
//! The loop sleeps in `sigtimedwait` for SIGCHLD (the kernel sends the tracer one for every
//! stop and exit of a tracee; it is blocked, so none is lost) with a timeout set by the next
//! deadline: a memory sample, the run's time limit, the end of the grace period after
//! SIGTERM.

use super::collect::{Collector, HeldCapture};
use super::preload_gate::PreloadGate;
use super::ptrace::{self, Tid};
use super::status::{decode, is_crash_signal, TaskStatus};
use super::stderr_tail::StderrTail;
use super::tree::TreeMembers;
use crate::events::{exit_info, Captured, EventSink, InternalStage, Notice, Notices, RunEvent};
use crate::memwatch::{MemoryWatch, SampleEvent};
use crate::model::Pid;
use crate::model::{ExitInfo, ProcessRole, ProcessSnapshot};
use crate::TimeoutStop;
use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The longest the loop sleeps without looking: a missed SIGCHLD costs at most this.
const MAX_SLEEP: Duration = Duration::from_millis(200);

/// Limits the supervisor enforces while the command runs.
pub struct Limits {
    pub timeout: Option<Duration>,
    pub kill_after: Duration,
    pub memory: Option<MemoryWatch>,
    pub memory_limit: Option<u64>,
}

/// How the root command ended, and what the tree did.
pub struct SupervisorEnd {
    pub exit: ExitInfo,
    pub processes_started: u32,
    pub timeout: Option<TimeoutStop>,
    /// The memory sampler, to be frozen into the report once OOM kills are known.
    pub memory_watch: Option<MemoryWatch>,
    /// Stacks taken when the memory limit stopped the run.
    pub memory_snapshot: Option<Vec<ProcessSnapshot>>,
    /// faultline stopped the run at a memory limit.
    pub stopped_for_memory: bool,
    /// Processes of the tree that died of SIGKILL (to tell OOM kills from others).
    pub sigkilled: Vec<i32>,
}

/// Why faultline is ending the run itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    Timeout,
    MemoryLimit,
}

struct Stopping {
    reason: StopReason,
    snapshot: Vec<ProcessSnapshot>,
    kill_at: Instant,
    killed: bool,
}

struct Process {
    role: ProcessRole,
    /// Known from the fork event; a process first seen through /proc has none.
    parent: Option<i32>,
    /// Signals of crashes already reported in this process's children: the same signal
    /// sent to itself afterwards is passed on (as `timeout` and a nested faultline do to die
    /// the way their command died), not a second crash.
    children_crashed_with: Vec<i32>,
}

impl Process {
    fn new(role: ProcessRole) -> Process {
        Process { role, parent: None, children_crashed_with: Vec::new() }
    }
}

pub struct Supervisor<'s> {
    root: Tid,
    started: Instant,
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
    sink: &'s mut dyn EventSink<Captured>,
    stderr_tail: &'s StderrTail,
    members: TreeMembers,
    limits: Limits,
    next_sample: Option<Instant>,
    stopping: Option<Stopping>,
    sigkilled: Vec<i32>,
    /// The root's new children, still traced with the root's options (exec stops included)
    /// until their first stop; their own children inherit the trimmed options.
    untrimmed: HashSet<i32>,
    /// Processes that ended before their parent's fork event was handled (a child can run to
    /// its end first): that late event must not bring them back as live.
    ended_unannounced: HashSet<i32>,
    /// `--asan`: the runtime kept in Python programs only (every exec is stopped at).
    preload_gate: Option<PreloadGate>,
    /// `--asan`: the sanitizer's log files, read into a crash's capture.
    sanitizer_log: Option<std::path::PathBuf>,
    notices: Option<Notices>,
}

impl<'s> Supervisor<'s> {
    pub fn new(
        root: Tid,
        sink: &'s mut dyn EventSink<Captured>,
        stderr_tail: &'s StderrTail,
        members: TreeMembers,
        limits: Limits,
    ) -> Supervisor<'s> {
        let mut tasks = HashMap::new();
        tasks.insert(root, root);
        let mut processes = HashMap::new();
        processes.insert(root, Process::new(ProcessRole::Main));
        members.set(vec![root]);
        let started = Instant::now();
        Supervisor {
            root,
            started,
            tasks,
            processes,
            processes_started: 1,
            deferred: VecDeque::new(),
            provisional: HashMap::new(),
            collector: Collector::new(),
            sink,
            stderr_tail,
            members,
            // Not at once: until the child has exec'd, it is a copy of faultline.
            next_sample: limits.memory.as_ref().map(|_| started + Duration::from_millis(20)),
            limits,
            stopping: None,
            sigkilled: Vec::new(),
            untrimmed: HashSet::new(),
            ended_unannounced: HashSet::new(),
            preload_gate: None,
            sanitizer_log: None,
            notices: None,
        }
    }

    pub fn with_sanitizer(mut self, setup: Option<super::SanitizerSetup>, notices: Notices) -> Supervisor<'s> {
        let setup = setup.unwrap_or_default();
        self.notices = Some(notices);
        self.preload_gate = setup.python_only_preload.as_deref().map(PreloadGate::new);
        self.sanitizer_log = setup.log_prefix;
        self
    }

    /// Whether processes below the root lose their exec stops (the gate needs every exec).
    fn trims_descendants(&self) -> bool {
        self.preload_gate.is_none()
    }

    /// Runs until the root process has ended, then lets go of whatever is left.
    pub fn run(mut self) -> SupervisorEnd {
        let exit = 'run: loop {
            // Handle everything already waiting before sleeping again.
            loop {
                let next = match self.deferred.pop_front() {
                    Some(next) => Some(next),
                    None => match ptrace::wait_raw(-1, libc::WNOHANG) {
                        Ok(next) => next,
                        // ECHILD: nothing left to wait for, and the root's end was never seen.
                        Err(_) => break 'run exit_info(None, None, false),
                    },
                };
                let Some((tid, raw)) = next else { break };
                if let Some(exit) = self.handle(tid, decode(raw)) {
                    break 'run exit;
                }
            }
            self.on_deadlines();
            sleep_until_event(self.next_deadline());
        };
        self.finish(exit)
    }

    fn finish(mut self, exit: ExitInfo) -> SupervisorEnd {
        if self.stopping.is_some() {
            // We are ending the run: nothing of the tree may outlive it.
            self.signal_tree(libc::SIGKILL);
        }
        self.release_remaining();
        self.members.set(Vec::new());
        let (timeout, snapshot, stopped_for_memory) = match self.stopping {
            Some(Stopping { reason: StopReason::Timeout, snapshot, killed, .. }) => (
                Some(TimeoutStop {
                    limit_ms: self.limits.timeout.map_or(0.0, |t| t.as_secs_f64() * 1000.0),
                    processes: snapshot,
                    stopped_with: if killed { "SIGKILL" } else { "SIGTERM" }.to_owned(),
                }),
                None,
                false,
            ),
            Some(Stopping { reason: StopReason::MemoryLimit, snapshot, .. }) => (None, Some(snapshot), true),
            None => (None, None, false),
        };
        SupervisorEnd {
            exit,
            processes_started: self.processes_started,
            timeout,
            memory_watch: self.limits.memory.take(),
            memory_snapshot: snapshot,
            stopped_for_memory,
            sigkilled: self.sigkilled,
        }
    }

    /// The earliest moment the loop must wake without a stop to handle.
    fn next_deadline(&self) -> Instant {
        let mut at = Instant::now() + MAX_SLEEP;
        if let Some(sample) = self.next_sample {
            at = at.min(sample);
        }
        match &self.stopping {
            Some(stopping) if !stopping.killed => at = at.min(stopping.kill_at),
            Some(_) => {}
            None => {
                if let Some(limit) = self.limits.timeout {
                    at = at.min(self.started + limit);
                }
            }
        }
        at
    }

    fn on_deadlines(&mut self) {
        let now = Instant::now();
        if self.next_sample.is_some_and(|at| now >= at) {
            self.sample_memory(now);
        }
        if self.stopping.is_none() && self.limits.timeout.is_some_and(|limit| now >= self.started + limit) {
            let limit = self.limits.timeout.unwrap_or_default();
            self.sink.event(RunEvent::TimedOut { limit });
            self.stop_tree(StopReason::Timeout);
        }
        if let Some(stopping) = self.stopping.as_mut() {
            if !stopping.killed && now >= stopping.kill_at {
                stopping.killed = true;
                self.sink.event(RunEvent::Escalated { signal: libc::SIGKILL });
                self.signal_tree(libc::SIGKILL);
            }
        }
    }

    fn sample_memory(&mut self, now: Instant) {
        let pids: Vec<i32> = self.processes.keys().copied().collect();
        let Some(watch) = self.limits.memory.as_mut() else {
            return;
        };
        let events = watch.sample(now - self.started, &pids);
        self.next_sample = Some(now + watch.next_interval());
        for event in events {
            match event {
                SampleEvent::CrossedWarn { tree_bytes } => self.sink.event(RunEvent::MemoryWarning { tree_bytes }),
                SampleEvent::CrossedLimit { tree_bytes } => {
                    if self.stopping.is_none() {
                        let limit = self.limits.memory_limit.unwrap_or(tree_bytes);
                        self.sink.event(RunEvent::MemoryLimit { tree_bytes, limit });
                        self.stop_tree(StopReason::MemoryLimit);
                    }
                }
            }
        }
    }

    /// Takes every thread's stack in every process, then asks the tree to end: SIGTERM,
    /// and SIGKILL when the grace period is over.
    fn stop_tree(&mut self, reason: StopReason) {
        let mut pids: Vec<i32> = self.processes.keys().copied().collect();
        pids.sort_unstable();
        let mut snapshot = Vec::with_capacity(pids.len());
        for pid in pids {
            let role = self.processes.get(&pid).map_or(ProcessRole::Child, |p| p.role);
            let collector = &mut self.collector;
            let deferred = &mut self.deferred;
            match catch_unwind(AssertUnwindSafe(|| collector.snapshot(pid, role, deferred))) {
                Ok(process) => snapshot.push(process),
                Err(_) => {
                    self.sink.event(RunEvent::InternalError { pid: Pid(pid), stage: InternalStage::TakingStacks })
                }
            }
        }
        self.stopping =
            Some(Stopping { reason, snapshot, kill_at: Instant::now() + self.limits.kill_after, killed: false });
        self.signal_tree(libc::SIGTERM);
    }

    fn signal_tree(&self, signal: i32) {
        for &pid in self.processes.keys() {
            // SAFETY: signalling processes of the tree we supervise.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Acts on one status; returns the root's exit once the root process has ended.
    fn handle(&mut self, tid: Tid, status: TaskStatus) -> Option<ExitInfo> {
        let pid = self.process_of(tid);
        if !self.untrimmed.is_empty() && self.untrimmed.remove(&tid) && is_stopped(&status) {
            let _ = ptrace::set_options(tid, ptrace::DESCENDANT_OPTIONS);
        }
        match status {
            TaskStatus::Exited(code) => self.task_ended(tid, pid, exit_info(Some(code), None, false)),
            TaskStatus::Killed { signal, core_dumped } => {
                self.confirm_crash(pid, signal);
                if signal == libc::SIGKILL && tid == pid {
                    self.sigkilled.push(pid);
                }
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
                    if self.ended_unannounced.remove(&child) {
                        return;
                    }
                    if pid == self.root && self.trims_descendants() {
                        self.untrimmed.insert(child);
                    }
                    self.tasks.insert(child, child);
                    self.add_process(child);
                    if let Some(process) = self.processes.get_mut(&child) {
                        process.parent = Some(pid);
                    }
                    self.sink.event(RunEvent::ProcessStarted { pid: Pid(child), parent: Pid(pid) });
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
                if let Some(gate) = &self.preload_gate {
                    // Before the loader runs: it reads LD_PRELOAD once the task resumes.
                    if let (Err(error), Some(notices)) = (gate.apply(pid), &self.notices) {
                        notices(Notice::PreloadNotGated { pid, error: error.to_string() });
                    }
                }
                let executable = super::tasks::read_executable(pid);
                if pid == self.root {
                    if let Some(watch) = self.limits.memory.as_mut() {
                        watch.root_exec();
                    }
                }
                self.sink.event(RunEvent::ProcessExec { pid: Pid(pid), executable });
            }
            _ => {}
        }
    }

    fn add_process(&mut self, pid: i32) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.processes.entry(pid) {
            slot.insert(Process::new(ProcessRole::Child));
            self.processes_started += 1;
            self.members.set(self.processes.keys().copied().collect());
        }
    }

    /// Captures the first fatal signal of a process; later ones (a handler re-raising) are
    /// delivered untouched.
    fn capture(&mut self, tid: Tid, pid: i32, signal: i32) {
        if self.provisional.contains_key(&pid) {
            return;
        }
        let Ok(info) = ptrace::siginfo(tid) else {
            return;
        };
        let info = ptrace::decode_siginfo(&info);
        if info.signo != signal || self.passes_on_a_childs_crash(pid, &info) {
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
            Err(_) => self.sink.event(RunEvent::InternalError { pid: Pid(pid), stage: InternalStage::Capturing }),
        }
    }

    /// The process sent itself the signal its child's crash was reported with.
    fn passes_on_a_childs_crash(&self, pid: i32, info: &ptrace::SigInfo) -> bool {
        let sent_by_itself = matches!(info.code, libc::SI_USER | libc::SI_TKILL | libc::SI_QUEUE) && info.pid == pid;
        sent_by_itself && self.processes.get(&pid).is_some_and(|p| p.children_crashed_with.contains(&info.signo))
    }

    fn confirm_crash(&mut self, pid: i32, signal: i32) {
        let Some(held) = self.provisional.remove(&pid) else {
            return;
        };
        // A handler that aborts after a fault (ASan's SEGV report, a crash reporter) makes
        // the fault the crash; a process dying of another signal survived its fault.
        if held.signo() != signal && signal != libc::SIGABRT {
            return;
        }
        let parent = self.processes.get(&pid).and_then(|p| p.parent);
        if let Some(parent) = parent.and_then(|parent| self.processes.get_mut(&parent)) {
            parent.children_crashed_with.push(signal);
        }
        let fault_seen = held.fault_seen();
        let collector = &mut self.collector;
        let stderr_tail = self.stderr_tail;
        let sanitizer_log = self.sanitizer_log.as_deref();
        let finished = catch_unwind(AssertUnwindSafe(|| {
            let mut capture = collector.finish(held);
            capture.stderr_tail = stderr_tail.last_lines();
            capture.sanitizer_log = sanitizer_log.and_then(|prefix| read_sanitizer_log(prefix, pid));
            capture
        }));
        match finished {
            Ok(capture) => self.sink.event(RunEvent::Crash(Box::new(Captured { capture, fault_seen }))),
            Err(_) => self.sink.event(RunEvent::InternalError { pid: Pid(pid), stage: InternalStage::Capturing }),
        }
    }

    fn task_ended(&mut self, tid: Tid, pid: i32, exit: ExitInfo) -> Option<ExitInfo> {
        self.tasks.remove(&tid);
        if tid != pid {
            return None;
        }
        // The leader is reported last: the process is gone.
        self.provisional.remove(&pid);
        self.collector.forget(pid);
        let process = self.processes.remove(&pid);
        if pid != self.root && process.as_ref().is_some_and(|p| p.parent.is_none()) {
            self.ended_unannounced.insert(pid);
        }
        let role = process.map_or(ProcessRole::Child, |p| p.role);
        self.members.set(self.processes.keys().copied().collect());
        self.tasks.retain(|_, owner| *owner != pid);
        self.sink.event(RunEvent::ProcessExited { pid: Pid(pid), role, exit: exit.clone() });
        (pid == self.root).then_some(exit)
    }

    /// The process a task belongs to. A task can report before the event that created it
    /// (a new thread's first stop may beat its parent's clone event): ask /proc then.
    fn process_of(&mut self, tid: Tid) -> i32 {
        if let Some(&pid) = self.tasks.get(&tid) {
            return pid;
        }
        let pid = read_tgid(tid).unwrap_or(tid);
        if pid == tid && pid != self.root && self.trims_descendants() {
            // A new process whose fork event has not come yet: its parent may be the root.
            self.untrimmed.insert(tid);
        }
        self.tasks.insert(tid, pid);
        self.add_process(pid);
        pid
    }

    /// The root is gone; descendants that outlive it (daemons) are let go untouched rather
    /// than killed with us (EXITKILL). A task may be forking right now: its child is already
    /// ours before we hear of it, so every fork/clone stop seen here adds the new task to
    /// the ones to let go, and any stopped tracee, known or not, is detached.
    fn release_remaining(&mut self) {
        let mut pending: HashSet<Tid> = self.tasks.keys().copied().collect();
        if pending.is_empty() {
            return;
        }
        // A task that cannot be interrupted is gone (or a zombie leader): nothing to let go.
        pending.retain(|&tid| ptrace::interrupt(tid).is_ok());
        let mut released = HashSet::new();
        // Generous: a task we fail to detach dies with us, and each step here takes microseconds.
        let deadline = Instant::now() + Duration::from_secs(2);
        while !pending.is_empty() && Instant::now() < deadline {
            match ptrace::wait_raw(-1, libc::WNOHANG) {
                Ok(Some((tid, raw))) => {
                    let signal = match decode(raw) {
                        TaskStatus::Exited(_) | TaskStatus::Killed { .. } => {
                            pending.remove(&tid);
                            continue;
                        }
                        TaskStatus::SignalStop(signal) => signal,
                        TaskStatus::Event { event, .. } => {
                            if is_new_task_event(event) {
                                // The child's own first stop may have come (and been let go) first.
                                if let Ok(child) = ptrace::event_message(tid) {
                                    if !released.contains(&(child as Tid)) {
                                        pending.insert(child as Tid);
                                    }
                                }
                            }
                            0
                        }
                        TaskStatus::GroupStop(_) | TaskStatus::Other => 0,
                    };
                    if libc::WIFSTOPPED(raw) {
                        let _ = ptrace::detach(tid, signal);
                        pending.remove(&tid);
                        released.insert(tid);
                    }
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                Err(_) => break,
            }
        }
    }
}

/// What the sanitizer wrote for `pid` (`PREFIX.PID`), complete by now: it writes its report
/// before it aborts. The report is a few KiB; more than 1 MiB is not read.
fn read_sanitizer_log(prefix: &std::path::Path, pid: i32) -> Option<String> {
    use std::io::Read;
    let mut name = prefix.as_os_str().to_owned();
    name.push(format!(".{pid}"));
    let mut text = Vec::new();
    std::fs::File::open(name).ok()?.take(1 << 20).read_to_end(&mut text).ok()?;
    Some(String::from_utf8_lossy(&text).into_owned()).filter(|t| !t.trim().is_empty())
}

fn is_stopped(status: &TaskStatus) -> bool {
    matches!(status, TaskStatus::SignalStop(_) | TaskStatus::GroupStop(_) | TaskStatus::Event { .. })
}

fn is_new_task_event(event: i32) -> bool {
    matches!(event, libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE)
}

/// Sleeps until SIGCHLD arrives (a tracee stopped or ended) or `deadline` passes. SIGCHLD
/// is blocked in every faultline thread, so one that came after the last look stays pending
/// and ends the wait at once; the caller then reaps with WNOHANG until nothing is left. One
/// system call, where poll on a signalfd and draining it took three.
fn sleep_until_event(deadline: Instant) {
    let timeout = deadline.saturating_duration_since(Instant::now());
    let timeout = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    let set = crate::forward::signal_set(&[libc::SIGCHLD]);
    // SAFETY: an initialized set, no siginfo wanted, a valid timeout. EAGAIN (the deadline)
    // and EINTR both just mean "look again".
    unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
}

fn read_tgid(tid: Tid) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}
