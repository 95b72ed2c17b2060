//! Finding out whether calling ptrace would kill faultline, before calling it.
//!
//! A seccomp filter may answer ptrace with an error (a container without
//! CAP_SYS_PTRACE: EPERM), which the launch handles, or by killing the caller
//! (`SECCOMP_RET_KILL_PROCESS`, `SECCOMP_RET_TRAP`: systemd's `SystemCallFilter=~ptrace`).
//! Then faultline would die of SIGSYS at PTRACE_SEIZE with no word while its command runs
//! on as an orphan. So when this process is under a seccomp filter at all, a throwaway child
//! makes the same call first and we watch how it ends.

/// True when this process runs under seccomp filters and a child that calls PTRACE_SEIZE
/// dies of it. Costs nothing without filters (the common case): one read of
/// /proc/self/status.
pub fn ptrace_kills_the_caller() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if seccomp_mode(&status) != Some(2) {
        return false;
    }
    // SAFETY: the child only makes raw system calls (setrlimit, ptrace, _exit), which are
    // async-signal-safe, on memory prepared before the fork.
    unsafe {
        let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        let pid = libc::fork();
        if pid < 0 {
            return false;
        }
        if pid == 0 {
            // The child's SIGSYS must leave no core behind.
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            // No process has pid i32::MAX (pid_max is at most 2^22): the kernel answers
            // ESRCH, after any filter has had its say about the call.
            libc::ptrace(libc::PTRACE_SEIZE, libc::pid_t::MAX, 0, 0);
            libc::_exit(0);
        }
        let mut status = 0;
        while libc::waitpid(pid, &mut status, 0) < 0 {
            if *libc::__errno_location() != libc::EINTR {
                return false;
            }
        }
        libc::WIFSIGNALED(status)
    }
}

/// The `Seccomp:` field of /proc/<pid>/status: 0 none, 1 strict, 2 filter.
fn seccomp_mode(status: &str) -> Option<u32> {
    status.lines().find_map(|line| line.strip_prefix("Seccomp:")).and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_seccomp_mode() {
        assert_eq!(seccomp_mode("Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n"), Some(2));
        assert_eq!(seccomp_mode("Seccomp:\t0\n"), Some(0));
        assert_eq!(seccomp_mode("Name:\tx\n"), None);
    }

    #[test]
    fn this_test_process_may_call_ptrace() {
        // The test runner has no filter that kills on ptrace (the integration tests install
        // one in a child to see the other answer).
        assert!(!ptrace_kills_the_caller());
    }
}
