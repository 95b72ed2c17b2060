//! Handing stderr's copy to a detached process when the root has exited but descendants
//! still hold our pipe.
//!
//! Without faultline those descendants would write straight to the real stderr after the
//! command returned. When faultline exits, the read end of our pipe closes with it and they
//! get EPIPE (or die of SIGPIPE). So faultline forks a small relay that keeps copying until
//! every writer is gone, and exits itself at the moment it always did.
//!
//! - Order: the relay starts copying only once faultline has exited (a gate pipe whose write
//!   end only faultline holds closes then), so faultline's report is not cut into by output
//!   written after the command ended, which comes after it as it would after a bare
//!   command's return. The pipe (1 MiB) holds what is written meanwhile. If faultline takes
//!   longer than GATE_PATIENCE to exit, the relay starts anyway: a slow store must not
//!   block the writers.
//! - Nobody waits on it: it is forked twice, so it is never faultline's child and is
//!   adopted at once by init (or the nearest subreaper) like the descendants it serves. It
//!   keeps only the pipe, the gate and the real stderr open, so it holds nothing that a
//!   caller waits on and the descendants would not hold anyway, and it ends at end-of-file,
//!   or when the real stderr's reader is gone (closing the pipe then gives the writers the
//!   EPIPE they would have had).
//!
//! Between fork and exit the relay calls only async-signal-safe functions (faultline has
//! other threads): its buffer is allocated before the fork.

use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The longest the relay waits for faultline to exit before copying anyway.
const GATE_PATIENCE: Duration = Duration::from_secs(2);
/// Descriptors the relay closes one by one when `close_range` is not available.
const CLOSE_FALLBACK_LIMIT: RawFd = 1 << 16;

/// Starts the relay on `read_end` and returns once it runs on its own. faultline keeps the
/// gate's write end until it exits; on error nothing was started and `read_end` is closed.
pub fn hand_off(read_end: OwnedFd) -> Result<(), std::io::Error> {
    let (gate_read, gate_write) = super::pipe()?;
    let mut buffer = vec![0u8; super::COPY_BUFFER];
    let close_limit = descriptor_limit();
    // SAFETY: the child side calls only async-signal-safe functions (see `relay`).
    let middle = unsafe { libc::fork() };
    if middle < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if middle == 0 {
        // SAFETY: in the forked child; fork and _exit are async-signal-safe.
        unsafe {
            match libc::fork() {
                0 => relay(read_end.as_raw_fd(), gate_read.as_raw_fd(), &mut buffer, close_limit),
                pid if pid > 0 => libc::_exit(0),
                _ => libc::_exit(1),
            }
        }
    }
    drop(gate_read);
    drop(read_end);
    let started = wait_for(middle);
    if started {
        // Closed by the kernel when faultline exits, however it exits: that opens the gate.
        let _ = gate_write.into_raw_fd();
        Ok(())
    } else {
        Err(std::io::Error::other("the relay process could not be started"))
    }
}

/// The relay process: waits at the gate, then copies the pipe to fd 2 until end-of-file.
///
/// # Safety
/// Only in a freshly forked child; never returns.
unsafe fn relay(read_end: RawFd, gate: RawFd, buffer: &mut [u8], close_limit: RawFd) -> ! {
    // Keep the pipe on 0 and the gate on 1, stderr on 2, and close everything else: the
    // relay must not hold faultline's stdout, the gate's write end or any other pipe open.
    let read_end = libc::fcntl(read_end, libc::F_DUPFD, 3);
    let gate = libc::fcntl(gate, libc::F_DUPFD, 3);
    if read_end < 0 || gate < 0 {
        libc::_exit(1);
    }
    libc::dup2(read_end, 0);
    libc::dup2(gate, 1);
    if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
        for fd in 3..close_limit {
            libc::close(fd);
        }
    }
    // Not pinning faultline's working directory; signals act normally again (faultline
    // blocks the ones it forwards); SIGPIPE stays ignored so a gone reader is an EPIPE.
    libc::chdir(c"/".as_ptr());
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    libc::signal(libc::SIGPIPE, libc::SIG_IGN);

    wait_for_gate(1);
    libc::close(1);
    loop {
        let n = libc::read(0, buffer.as_mut_ptr() as *mut libc::c_void, buffer.len());
        if n < 0 && *libc::__errno_location() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            libc::_exit(0);
        }
        if !super::write_all(2, &buffer[..n as usize]) {
            libc::_exit(0);
        }
        if (n as usize) < buffer.len() {
            // As the copier thread: let more arrive before the next wakeup.
            pause(super::BATCH_PAUSE);
        }
    }
}

/// Returns when faultline has closed the gate (it exited) or GATE_PATIENCE has passed.
unsafe fn wait_for_gate(gate: RawFd) {
    let mut pollfd = libc::pollfd { fd: gate, events: libc::POLLIN, revents: 0 };
    let patience = GATE_PATIENCE.as_millis() as libc::c_int;
    // EINTR restarts the full wait: only a stop/continue can interrupt it, and faultline's
    // exit ends it anyway.
    while libc::poll(&mut pollfd, 1, patience) < 0 && *libc::__errno_location() == libc::EINTR {}
}

unsafe fn pause(duration: Duration) {
    let ts = libc::timespec { tv_sec: 0, tv_nsec: duration.as_nanos() as libc::c_long };
    libc::nanosleep(&ts, std::ptr::null_mut());
}

/// Reaps the middle process; true when it forked the relay.
fn wait_for(pid: libc::pid_t) -> bool {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer; pid is our child.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if ret < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// How far the fallback has to close: the descriptor limit, capped.
fn descriptor_limit() -> RawFd {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return CLOSE_FALLBACK_LIMIT;
    }
    limit.rlim_cur.min(CLOSE_FALLBACK_LIMIT as libc::rlim_t) as RawFd
}
