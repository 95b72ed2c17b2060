//! The typed events a run produces. The tracer never prints or diagnoses: it emits
//! `RunEvent<Captured>` (a crash as raw evidence); the run session explains each capture
//! (`RunEvent::explain`) and hands `RunEvent<Crash>` to its consumers: the terminal, the run
//! log, the report.

use std::time::Instant;

use crate::capture::Capture;
use crate::model::{Crash, ExitInfo, Pid, ProcessRole};

/// A crash as the tracer took it: the evidence, and when the fault was first seen (the
/// report's `report_ready_ms` counts from there).
#[derive(Debug, Clone)]
pub struct Captured {
    pub capture: Capture,
    pub fault_seen: Instant,
}

/// What faultline was doing when one of its own bugs struck (caught, so the run goes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalStage {
    /// Taking the stacks of a process for a timeout or memory stop.
    TakingStacks,
    /// Reading a crashed process while it was held.
    Capturing,
    /// Turning a capture into a diagnosis.
    Explaining,
}

/// `C` is what a crash is at that point of the pipeline: [`Captured`] from the tracer,
/// [`Crash`] (diagnosed) for everyone after the run session.
#[derive(Debug, Clone)]
pub enum RunEvent<C = Crash> {
    /// The root command is running. `untraced` says why crash capture is off, if it is.
    Started { root_pid: Pid, untraced: Option<String> },
    /// A new process joined the tree (fork, vfork, or clone without CLONE_THREAD).
    ProcessStarted { pid: Pid, parent: Pid },
    /// The root process replaced its program (execs below the root are not stopped at).
    ProcessExec { pid: Pid, executable: Option<String> },
    /// A process died from a fatal signal that was captured at delivery.
    Crash(Box<C>),
    /// A bug of faultline's own while handling this process: what it was for is lost (a
    /// stack, or the crash's report); the run goes on.
    InternalError { pid: Pid, stage: InternalStage },
    /// A process of the tree ended.
    ProcessExited { pid: Pid, role: ProcessRole, exit: ExitInfo },
    /// The tree's resident memory first crossed the `--memory-warn` threshold.
    MemoryWarning { tree_bytes: u64 },
    /// The tree crossed `--max-memory`: stacks were taken and the tree is being stopped.
    MemoryLimit { tree_bytes: u64, limit: u64 },
    /// The run reached `--timeout`: stacks were taken and the tree is being stopped.
    TimedOut { limit: std::time::Duration },
    /// The tree did not end within the grace period and got this signal.
    Escalated { signal: i32 },
}

impl<C> RunEvent<C> {
    /// The same event with its crash turned into what comes next in the pipeline (a
    /// capture into its diagnosis); `explain` may instead answer with another event (an
    /// internal error when the diagnosis failed).
    pub fn explain<D>(self, explain: impl FnOnce(C) -> RunEvent<D>) -> RunEvent<D> {
        match self {
            RunEvent::Crash(crash) => explain(*crash),
            RunEvent::Started { root_pid, untraced } => RunEvent::Started { root_pid, untraced },
            RunEvent::ProcessStarted { pid, parent } => RunEvent::ProcessStarted { pid, parent },
            RunEvent::ProcessExec { pid, executable } => RunEvent::ProcessExec { pid, executable },
            RunEvent::InternalError { pid, stage } => RunEvent::InternalError { pid, stage },
            RunEvent::ProcessExited { pid, role, exit } => RunEvent::ProcessExited { pid, role, exit },
            RunEvent::MemoryWarning { tree_bytes } => RunEvent::MemoryWarning { tree_bytes },
            RunEvent::MemoryLimit { tree_bytes, limit } => RunEvent::MemoryLimit { tree_bytes, limit },
            RunEvent::TimedOut { limit } => RunEvent::TimedOut { limit },
            RunEvent::Escalated { signal } => RunEvent::Escalated { signal },
        }
    }
}

/// Receives events as they happen.
pub trait EventSink<C = Crash> {
    fn event(&mut self, event: RunEvent<C>);
}

impl<C, F: FnMut(RunEvent<C>)> EventSink<C> for F {
    fn event(&mut self, event: RunEvent<C>) {
        self(event)
    }
}

/// What the tracer's other threads have to say while the run goes on (the signal
/// forwarder, the stderr relay). They cannot reach the event sink, which the wait loop
/// owns: the run session gives the tracer this callback, and says them its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A SIGINT or SIGTERM sent to faultline was passed on; the command may stop in its
    /// own time. `from_terminal`: it came from the terminal (so it reached the tree already).
    StopRequested { signal: i32, from_terminal: bool },
    /// The same signal came again: the tree is being killed.
    StopForced { signal: i32 },
    /// The copy of stderr cannot go on for processes that outlive the command.
    StderrRelayFailed { error: String },
    /// `--asan`: the sanitizer runtime could not be kept out of (or put back into) the
    /// environment of a program the tree started.
    PreloadNotGated { pid: i32, error: String },
}

/// Where the tracer sends [`Notice`]s, from any thread.
pub type Notices = std::sync::Arc<dyn Fn(Notice) + Send + Sync>;

/// How the root command ended, turned into the shell's view.
pub fn exit_info(code: Option<i32>, signal: Option<i32>, core_dumped: bool) -> ExitInfo {
    match (code, signal) {
        (_, Some(sig)) => ExitInfo { code: 128 + sig, signal: Some(crate::signals::signal_name(sig)), core_dumped },
        (Some(code), None) => ExitInfo { code, signal: None, core_dumped: false },
        (None, None) => ExitInfo { code: 1, signal: None, core_dumped: false },
    }
}
