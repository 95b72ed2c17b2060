//! Passing SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to faultline on to the command's tree.
//!
//! The signals are blocked in every faultline thread and taken by one thread with
//! `sigwaitinfo`, so faultline itself never dies of them before its child. A signal typed
//! at the terminal (Ctrl-C, Ctrl-\) already reached every process of the tree that shares
//! our process group, so only signals sent to faultline alone (kill) are passed on. A
//! second SIGINT, from anywhere, means "stop now": the tree gets SIGKILL.

use super::tree::TreeMembers;

const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

pub struct SignalForwarder;

impl SignalForwarder {
    /// Blocks the forwarded signals in the calling thread (and so in threads it starts
    /// later) and starts the forwarding thread.
    pub fn start(members: TreeMembers) -> SignalForwarder {
        let set = signal_set(&FORWARDED);
        // SAFETY: set is initialized; blocking signals in this thread only.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        let spawned =
            std::thread::Builder::new().name("signal-forwarder".into()).spawn(move || forward_forever(set, members));
        if spawned.is_err() {
            // Without the thread nobody takes the signals: let them act normally again.
            // SAFETY: as above.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        }
        SignalForwarder
    }
}

pub fn signal_set(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialized by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

fn forward_forever(set: libc::sigset_t, members: TreeMembers) {
    let mut interrupts = 0u32;
    loop {
        // SAFETY: info is a valid out-pointer; set is initialized.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
        if sig < 0 {
            continue;
        }
        if sig == libc::SIGINT {
            interrupts += 1;
            if interrupts >= 2 {
                crate::say!("faultline: second interrupt: killing the command");
                members.signal_all(libc::SIGKILL);
                continue;
            }
            crate::say!("faultline: interrupted: waiting for the command to stop (interrupt again to kill it)");
        }
        // From the terminal (SI_KERNEL), the whole foreground group got it already.
        if info.si_code == libc::SI_KERNEL {
            continue;
        }
        members.signal_all(sig);
    }
}
