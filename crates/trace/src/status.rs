//! Decoding raw `waitpid` statuses into what the wait loop acts on.
//!
//! nix's `WaitStatus` cannot represent realtime signals (it fails on them), and a
//! traced tree sees them (Python's faulthandler, Go, JVMs), so the raw status is
//! decoded here, as a pure function that tests can feed numbers.

/// What one `waitpid(-1, __WALL)` result means for a traced task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// The task exited with this code.
    Exited(i32),
    /// The task was killed by this signal.
    Killed { signal: i32, core_dumped: bool },
    /// Signal-delivery-stop: the kernel is about to deliver `signal`.
    SignalStop(i32),
    /// Group-stop under PTRACE_SEIZE (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
    GroupStop(i32),
    /// A `PTRACE_EVENT_*` stop (fork, clone, exec, interrupt/new-task stop).
    Event { event: i32, signal: i32 },
    /// A state we do not act on (SIGCONT notification).
    Other,
}

pub fn decode(raw: i32) -> TaskStatus {
    if libc::WIFEXITED(raw) {
        return TaskStatus::Exited(libc::WEXITSTATUS(raw));
    }
    if libc::WIFSIGNALED(raw) {
        return TaskStatus::Killed { signal: libc::WTERMSIG(raw), core_dumped: libc::WCOREDUMP(raw) };
    }
    if libc::WIFSTOPPED(raw) {
        let signal = libc::WSTOPSIG(raw);
        let event = (raw >> 16) & 0xff;
        if event == 0 {
            return TaskStatus::SignalStop(signal);
        }
        if event == libc::PTRACE_EVENT_STOP && is_job_control_stop(signal) {
            return TaskStatus::GroupStop(signal);
        }
        return TaskStatus::Event { event, signal };
    }
    TaskStatus::Other
}

fn is_job_control_stop(signal: i32) -> bool {
    matches!(signal, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
}

/// The signals faultline captures: the ones whose default action kills with a core dump,
/// i.e. the ones that mean the program itself went wrong.
pub fn is_crash_signal(signal: i32) -> bool {
    matches!(
        signal,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGABRT | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP | libc::SIGSYS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Raw statuses built the way the kernel encodes them.
    fn stopped(signal: i32, event: i32) -> i32 {
        (event << 16) | (signal << 8) | 0x7f
    }

    #[test]
    fn decodes_exit_and_kill() {
        assert_eq!(decode(3 << 8), TaskStatus::Exited(3));
        assert_eq!(decode(libc::SIGSEGV | 0x80), TaskStatus::Killed { signal: libc::SIGSEGV, core_dumped: true });
        assert_eq!(decode(libc::SIGKILL), TaskStatus::Killed { signal: libc::SIGKILL, core_dumped: false });
    }

    #[test]
    fn decodes_signal_delivery_stop_including_realtime_signals() {
        assert_eq!(decode(stopped(libc::SIGSEGV, 0)), TaskStatus::SignalStop(libc::SIGSEGV));
        let rt = libc::SIGRTMIN() + 3;
        assert_eq!(decode(stopped(rt, 0)), TaskStatus::SignalStop(rt));
    }

    #[test]
    fn tells_group_stop_from_other_event_stops() {
        assert_eq!(decode(stopped(libc::SIGSTOP, libc::PTRACE_EVENT_STOP)), TaskStatus::GroupStop(libc::SIGSTOP));
        assert_eq!(
            decode(stopped(libc::SIGTRAP, libc::PTRACE_EVENT_STOP)),
            TaskStatus::Event { event: libc::PTRACE_EVENT_STOP, signal: libc::SIGTRAP }
        );
        assert_eq!(
            decode(stopped(libc::SIGTRAP, libc::PTRACE_EVENT_FORK)),
            TaskStatus::Event { event: libc::PTRACE_EVENT_FORK, signal: libc::SIGTRAP }
        );
    }

    #[test]
    fn crash_signals_are_the_core_dumping_ones() {
        assert!(is_crash_signal(libc::SIGSEGV));
        assert!(is_crash_signal(libc::SIGABRT));
        assert!(!is_crash_signal(libc::SIGTERM));
        assert!(!is_crash_signal(libc::SIGKILL));
    }
}
