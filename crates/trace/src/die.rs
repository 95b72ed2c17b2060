//! Ending faultline the way the command ended.
//!
//! When the command was killed by a signal, exiting with 128 + N is not the same thing:
//! Python's `subprocess` sees 139 instead of -11, bash prints no "Segmentation fault", CI
//! systems file it as a failure instead of a crash. So, as GNU `timeout` does, faultline
//! kills itself with the same signal once everything is reported. Its own core is not
//! wanted (the command's was already written): both the core size limit and the dumpable
//! flag are cleared first, the latter because a piped `core_pattern` ignores the limit.

/// Dies of `signal`; exits with 128 + `signal` if that signal does not kill by default.
pub fn die_by_signal(signal: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: plain system calls on this process with initialized arguments.
    unsafe {
        let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        // raise() targets this thread, which has the signal unblocked: the forwarder
        // thread, waiting for SIGTERM and the like, cannot take it instead.
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}
