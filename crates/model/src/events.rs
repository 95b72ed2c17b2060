//! The typed events a run produces. The supervisor never prints: the terminal report, the
//! JSON report (and later logs, the crash store) are consumers of this stream.

use crate::model::{Crash, ExitInfo, ProcessRole};

#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The root command is running. `untraced` says why crash capture is off, if it is.
    Started { root_pid: i32, untraced: Option<String> },
    /// A new process joined the tree (fork, vfork, or clone without CLONE_THREAD).
    ProcessStarted { pid: i32, parent: i32 },
    /// A process of the tree replaced its program.
    ProcessExec { pid: i32, executable: Option<String> },
    /// A process died from a fatal signal that was captured at delivery.
    Crash(Box<Crash>),
    /// A process of the tree ended.
    ProcessExited { pid: i32, role: ProcessRole, exit: ExitInfo },
    /// The tree's resident memory first crossed the `--memory-warn` threshold.
    MemoryWarning { tree_bytes: u64 },
    /// The tree crossed `--max-memory`: stacks were taken and the tree is being stopped.
    MemoryLimit { tree_bytes: u64, limit: u64 },
    /// The run reached `--timeout`: stacks were taken and the tree is being stopped.
    TimedOut { limit: std::time::Duration },
    /// The tree did not end within the grace period and got this signal.
    Escalated { signal: i32 },
}

/// Receives events as they happen.
pub trait EventSink {
    fn event(&mut self, event: RunEvent);
}

impl<F: FnMut(RunEvent)> EventSink for F {
    fn event(&mut self, event: RunEvent) {
        self(event)
    }
}

/// How the root command ended, turned into the shell's view.
pub fn exit_info(code: Option<i32>, signal: Option<i32>, core_dumped: bool) -> ExitInfo {
    match (code, signal) {
        (_, Some(sig)) => ExitInfo { code: 128 + sig, signal: Some(crate::signals::signal_name(sig)), core_dumped },
        (Some(code), None) => ExitInfo { code, signal: None, core_dumped: false },
        (None, None) => ExitInfo { code: 1, signal: None, core_dumped: false },
    }
}
