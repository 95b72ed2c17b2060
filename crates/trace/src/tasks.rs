//! The threads of a traced process: stopping them to read them, and what /proc says of
//! them. Shared by crash captures and whole-tree snapshots.

use super::ptrace::{self, Tid};
use super::status::{decode, TaskStatus};
use crate::model::ThreadState;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long to wait for threads to stop before reading them anyway.
const INTERRUPT_DEADLINE: Duration = Duration::from_millis(50);

/// Threads of one process that are stopped so their registers can be read.
pub struct StoppedThreads {
    /// Interrupted by us: we resume them.
    pub resumable: Vec<Tid>,
    /// Stopped for their own reason; the wait loop resumes them via `deferred`.
    pub stopped_elsewhere: Vec<Tid>,
}

impl StoppedThreads {
    pub fn tids(&self) -> impl Iterator<Item = Tid> + '_ {
        self.resumable.iter().chain(self.stopped_elsewhere.iter()).copied()
    }

    pub fn resume(&self) {
        for &tid in &self.resumable {
            let _ = ptrace::cont(tid, 0);
        }
    }
}

/// Interrupts every thread of `pid` except `except` (already stopped by the caller), and
/// waits briefly for each to stop. Stops that are not our interrupt go to `deferred`, for
/// the wait loop to handle as if it had seen them itself. A thread that does not stop in
/// time (uninterruptible sleep) is left out.
pub fn stop_threads(pid: i32, except: Option<Tid>, deferred: &mut VecDeque<(Tid, i32)>) -> StoppedThreads {
    let mut stopped = StoppedThreads { resumable: Vec::new(), stopped_elsewhere: Vec::new() };
    let mut interrupted = Vec::new();
    for tid in list_tasks(pid).into_iter().filter(|&t| Some(t) != except) {
        if deferred.iter().any(|&(t, status)| t == tid && libc::WIFSTOPPED(status)) {
            // Its stop was already collected and waits in the queue: it is stopped now.
            stopped.stopped_elsewhere.push(tid);
        } else if ptrace::interrupt(tid).is_ok() {
            interrupted.push(tid);
        }
    }
    let deadline = Instant::now() + INTERRUPT_DEADLINE;
    for tid in interrupted {
        let Some(status) = ptrace::wait_task_until(tid, deadline) else {
            continue;
        };
        match decode(status) {
            TaskStatus::Event { event: libc::PTRACE_EVENT_STOP, .. } => stopped.resumable.push(tid),
            TaskStatus::Exited(_) | TaskStatus::Killed { .. } => deferred.push_back((tid, status)),
            _ => {
                stopped.stopped_elsewhere.push(tid);
                deferred.push_back((tid, status));
            }
        }
    }
    stopped
}

pub fn list_tasks(pid: i32) -> Vec<Tid> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<Tid> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    tids.sort_unstable();
    tids
}

/// Each thread's scheduler state, from `/proc/<pid>/task/<tid>/stat`. Read before the
/// threads are stopped: afterwards every one shows as traced-stopped.
pub fn thread_states(pid: i32) -> Vec<(Tid, ThreadState)> {
    list_tasks(pid)
        .into_iter()
        .filter_map(|tid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
            Some((tid, state_name(&stat)?.to_owned()))
        })
        .collect()
}

/// The OS names of the given threads (`/proc/<pid>/task/<tid>/comm`).
pub fn thread_names(pid: i32, tids: &[Tid]) -> Vec<(Tid, String)> {
    tids.iter()
        .filter_map(|&t| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm")).ok()?;
            Some((t, name.trim_end().to_owned()))
        })
        .collect()
}

/// The state letter of a `stat` line, named. The command name in parentheses may hold
/// anything, so the letter is found after the last `)`.
fn state_name(stat: &str) -> Option<ThreadState> {
    let letter = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
    Some(ThreadState::from_letter(letter))
}

pub fn read_cmdline(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| crate::memwatch::parse_cmdline(&bytes))
        .unwrap_or_default()
}

pub fn read_executable(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| p.to_string_lossy().into_owned())
}

/// `SigCgt` in /proc/<pid>/status: the signals the process has a handler for.
pub fn signal_is_caught(pid: i32, signo: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| parse_sigcgt(&status))
        .is_some_and(|mask| signo >= 1 && mask & (1u64 << (signo - 1)) != 0)
}

fn parse_sigcgt(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("SigCgt:"))?;
    u64::from_str_radix(line["SigCgt:".len()..].trim(), 16).ok()
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
        assert_eq!(state_name("123 (python3) S 1 123 123"), Some(ThreadState::Sleeping));
        assert_eq!(state_name("123 (a) (b) R 1 2"), Some(ThreadState::Running));
        assert_eq!(state_name("garbage"), None);
    }
}

/// Property test (issue 9, A4): `/proc` text of any shape parses without a panic.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(faultline_model::fixtures::config())]

        #[test]
        fn any_status_or_stat_text(text in faultline_model::fixtures::strategies::text()) {
            let _ = super::parse_sigcgt(&text);
            let _ = super::state_name(&text);
        }
    }
}
