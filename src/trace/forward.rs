//! Passing SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to faultline on to the command.
//!
//! The signals are blocked in every faultline thread and taken by one thread with
//! `sigwaitinfo`, so faultline itself never dies of them before its child. A Ctrl-C typed
//! at the terminal already reaches the child (it shares our process group), so only
//! signals sent to faultline alone (kill) are passed on.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

pub struct SignalForwarder {
    target: Arc<AtomicI32>,
}

impl SignalForwarder {
    /// Blocks the forwarded signals in the calling thread (and so in threads it starts
    /// later) and starts the forwarding thread.
    pub fn start() -> SignalForwarder {
        let set = forwarded_set();
        // SAFETY: set is initialized; blocking signals in this thread only.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        let target = Arc::new(AtomicI32::new(0));
        let shared = Arc::clone(&target);
        let spawned = std::thread::Builder::new()
            .name("signal-forwarder".into())
            .spawn(move || forward_forever(set, shared));
        if spawned.is_err() {
            // Without the thread nobody takes the signals: let them act normally again.
            // SAFETY: as above.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        }
        SignalForwarder { target }
    }

    /// The process the signals go to; 0 for none yet (or any more).
    pub fn set_target(&self, pid: i32) {
        self.target.store(pid, Ordering::SeqCst);
    }
}

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialized by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FORWARDED {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

fn forward_forever(set: libc::sigset_t, target: Arc<AtomicI32>) {
    loop {
        // SAFETY: info is a valid out-pointer; set is initialized.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
        if sig < 0 {
            continue;
        }
        let pid = target.load(Ordering::SeqCst);
        if pid <= 0 {
            continue;
        }
        // From the terminal (SI_KERNEL), the whole foreground group got it already.
        if info.si_code == libc::SI_KERNEL {
            continue;
        }
        // SAFETY: sending a signal to a pid we started.
        unsafe { libc::kill(pid, sig) };
    }
}
