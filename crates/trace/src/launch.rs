//! Starting the command so that it is traced from its first instruction.
//!
//! `std::process::Command::spawn` returns only after exec, too late to seize the child
//! before it runs. So we fork ourselves: the child blocks on a pipe, the parent seizes it,
//! then releases it and it execs. Everything the child does between fork and exec is
//! async-signal-safe: all allocation happens before the fork.

use super::ptrace::{self, Tid};
use nix::errno::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A resource limit the child sets on itself between fork and exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildRlimit {
    pub resource: libc::__rlimit_resource_t,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("command not found: {0} (is it installed and on PATH?)")]
    NotFound(String),
    #[error("permission denied: {0} is not an executable file (make it executable with chmod +x, or run it through its interpreter)")]
    NotExecutable(String),
    #[error("{0} contains a NUL byte")]
    NulByte(String),
    #[error("could not start the command: {0}")]
    Fork(#[source] Errno),
}

/// How the child ended up running.
pub enum Launched {
    /// Traced from its first instruction.
    Traced(Tid),
    /// ptrace was refused; the command runs plainly.
    Untraced { pid: Tid, reason: Untraceable },
}

/// Why the command runs without tracing (the whole line faultline prints about it).
#[derive(Debug, thiserror::Error)]
pub enum Untraceable {
    #[error("ptrace is not permitted here ({0}); running the command without crash capture")]
    Refused(Errno),
    #[error("a seccomp filter here kills any process that calls ptrace; running the command without crash capture")]
    KilledByFilter,
    /// A process has one tracer, and the outer faultline already traces everything we start.
    #[error("already under faultline run (pid {0}), which captures this command's crashes; running it without a second capture")]
    Nested(i32),
}

/// Finds the program the way `execvp` would, so that a missing command is reported before
/// anything is started.
pub fn resolve_program(name: &OsStr, path_var: Option<&OsStr>) -> Result<PathBuf, LaunchError> {
    let shown = name.to_string_lossy().into_owned();
    if name.as_bytes().contains(&b'/') {
        let path = PathBuf::from(name);
        return check_executable(&path, &shown).map(|()| path);
    }
    if name.is_empty() {
        return Err(LaunchError::NotFound(shown));
    }
    let dirs = path_var.map(|p| p.to_owned()).unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    let mut denied = false;
    for dir in std::env::split_paths(&dirs) {
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let candidate = dir.join(name);
        match check_executable(&candidate, &shown) {
            Ok(()) => return Ok(candidate),
            Err(LaunchError::NotExecutable(_)) => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        Err(LaunchError::NotExecutable(shown))
    } else {
        Err(LaunchError::NotFound(shown))
    }
}

fn check_executable(path: &Path, shown: &str) -> Result<(), LaunchError> {
    match std::fs::metadata(path) {
        Err(_) => Err(LaunchError::NotFound(shown.to_owned())),
        Ok(meta) if meta.is_dir() => Err(LaunchError::NotExecutable(shown.to_owned())),
        Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Err(LaunchError::NotExecutable(shown.to_owned())),
        Ok(_) => Ok(()),
    }
}

fn cstring(bytes: &[u8]) -> Result<CString, LaunchError> {
    CString::new(bytes).map_err(|_| LaunchError::NulByte(String::from_utf8_lossy(bytes).into_owned()))
}

/// Forks, seizes and releases the child, which then execs `program` with `argv`.
/// The child gets the signal mask and dispositions a shell would give it, not ours.
/// Everything about how the child starts.
pub struct LaunchSpec<'a> {
    pub program: &'a Path,
    pub argv: &'a [OsString],
    /// The child's whole environment; `None` inherits ours.
    pub envp: Option<&'a [CString]>,
    pub rlimits: &'a [ChildRlimit],
    /// A descriptor the child puts on its fd 2 (and fd 1 when the flag says stdout was the
    /// same object), for keeping the stderr tail.
    pub stderr_redirect: Option<(std::os::fd::RawFd, bool)>,
    /// Runs in the parent after fork, before the child may exec (joining a cgroup).
    pub on_forked: &'a dyn Fn(i32),
    /// Calling ptrace would kill faultline (see `probe`): start the child untraced.
    pub ptrace_kills: bool,
    /// The pid of the `faultline run` that traces us (see `supervised`): it traces the child
    /// too, so start it untraced.
    pub supervised_by: Option<i32>,
}

pub fn launch(spec: &LaunchSpec) -> Result<Launched, LaunchError> {
    let c_program = cstring(spec.program.as_os_str().as_bytes())?;
    let c_args = spec.argv.iter().map(|a| cstring(a.as_bytes())).collect::<Result<Vec<_>, _>>()?;
    let mut c_argv: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    c_argv.push(std::ptr::null());
    let mut c_envp: Vec<*const libc::c_char> = spec.envp.unwrap_or_default().iter().map(|e| e.as_ptr()).collect();
    c_envp.push(std::ptr::null());
    let limits: Vec<libc::rlimit> =
        spec.rlimits.iter().map(|r| libc::rlimit { rlim_cur: r.soft, rlim_max: r.hard }).collect();

    let (gate_read, gate_write) = pipe()?;
    // SAFETY: after fork the child only calls async-signal-safe functions (read, close, dup2, setrlimit,
    // sigprocmask, signal, execv, _exit) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(LaunchError::Fork(Errno::last()));
    }
    if pid == 0 {
        unsafe {
            libc::close(gate_write);
            let mut byte = 0u8;
            // Wait until the parent has seized us (or given up on tracing).
            while libc::read(gate_read, &mut byte as *mut u8 as *mut libc::c_void, 1) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
            libc::close(gate_read);
            if let Some((fd, also_stdout)) = spec.stderr_redirect {
                libc::dup2(fd, 2);
                if also_stdout {
                    libc::dup2(fd, 1);
                }
            }
            for (limit, wanted) in limits.iter().zip(spec.rlimits) {
                libc::setrlimit(wanted.resource, limit);
            }
            reset_signals_for_exec();
            if spec.envp.is_some() {
                libc::execve(c_program.as_ptr(), c_argv.as_ptr(), c_envp.as_ptr());
            } else {
                libc::execv(c_program.as_ptr(), c_argv.as_ptr());
            }
            libc::_exit(127);
        }
    }
    // SAFETY: closing our copy of the child's end.
    unsafe { libc::close(gate_read) };
    (spec.on_forked)(pid);
    let launched = if let Some(outer) = spec.supervised_by {
        Launched::Untraced { pid, reason: Untraceable::Nested(outer) }
    } else if spec.ptrace_kills {
        Launched::Untraced { pid, reason: Untraceable::KilledByFilter }
    } else {
        match ptrace::seize(pid) {
            Ok(()) => Launched::Traced(pid),
            Err(errno) => Launched::Untraced { pid, reason: Untraceable::Refused(errno) },
        }
    };
    // SAFETY: writing one byte to, then closing, our end of the gate.
    unsafe {
        libc::write(gate_write, b"g".as_ptr() as *const libc::c_void, 1);
        libc::close(gate_write);
    }
    Ok(launched)
}

/// Rust's runtime ignores SIGPIPE and the supervisor blocks the signals it forwards; an
/// exec'd program inherits both, so restore what a shell would have given it.
unsafe fn reset_signals_for_exec() {
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
}

fn pipe() -> Result<(i32, i32), LaunchError> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(LaunchError::Fork(Errno::last()));
    }
    Ok((fds[0], fds[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_path_like_execvp() {
        let found = resolve_program(OsStr::new("sh"), Some(OsStr::new("/nonexistent:/bin:/usr/bin"))).unwrap();
        assert!(found.ends_with("sh"));
    }

    #[test]
    fn missing_command_is_not_found_with_shell_status() {
        let err = resolve_program(OsStr::new("no-such-command-xyz"), Some(OsStr::new("/bin"))).unwrap_err();
        assert!(matches!(err, LaunchError::NotFound(_)));
    }

    #[test]
    fn non_executable_file_is_permission_denied() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("script");
        std::fs::write(&file, "echo hi").unwrap();
        let err = resolve_program(file.as_os_str(), None).unwrap_err();
        assert!(matches!(err, LaunchError::NotExecutable(_)));
    }
}
