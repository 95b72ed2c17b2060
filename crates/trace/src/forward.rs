//! Passing SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to faultline on to the command's tree.
//!
//! The signals are blocked in every faultline thread and taken by one thread with
//! `sigwaitinfo`, so faultline itself never dies of them before its child. A signal typed
//! at the terminal (Ctrl-C, Ctrl-\) already reached every process of the tree that shares
//! our process group, so only signals sent to faultline alone (kill) are passed on.
//!
//! SIGINT and SIGTERM are requests to stop: the first of either kind is passed on with a
//! notice saying so; a second of the same kind, from anywhere, means "stop now": the tree gets
//! SIGKILL. Different kinds do not add up, so a runner's SIGINT-then-SIGTERM reaches the
//! command as both signals, as it would without faultline.

use super::tree::TreeMembers;
use crate::events::{Notice, Notices};

const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

pub struct SignalForwarder;

impl SignalForwarder {
    /// Blocks the forwarded signals in the calling thread (and so in threads it starts
    /// later) and starts the forwarding thread.
    pub fn start(members: TreeMembers, notices: Notices) -> SignalForwarder {
        let set = signal_set(&FORWARDED);
        // SAFETY: set is initialized; blocking signals in this thread only.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        let spawned =
            std::thread::Builder::new().name("signal-forwarder".into()).spawn(move || forward_forever(set, members, notices));
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

fn forward_forever(set: libc::sigset_t, members: TreeMembers, notices: Notices) {
    let mut requests = StopRequests::default();
    loop {
        // SAFETY: info is a valid out-pointer; set is initialized.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
        if sig < 0 {
            continue;
        }
        // From the terminal (SI_KERNEL), the whole foreground group got it already.
        let from_terminal = info.si_code == libc::SI_KERNEL;
        match requests.on(sig) {
            Some(StopRequest::Again) => {
                notices(Notice::StopForced { signal: sig });
                members.signal_all(libc::SIGKILL);
                continue;
            }
            Some(StopRequest::First) => notices(Notice::StopRequested { signal: sig, from_terminal }),
            None => {}
        }
        if !from_terminal {
            members.signal_all(sig);
        }
    }
}

/// What a SIGINT or SIGTERM asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopRequest {
    /// Pass it on and wait for the command to stop.
    First,
    /// The same signal came before: kill the tree.
    Again,
}

/// How many SIGINTs and SIGTERMs have come.
#[derive(Debug, Default)]
struct StopRequests {
    interrupts: u32,
    terminates: u32,
}

impl StopRequests {
    /// Counts `sig`; `None` for the signals that are only passed on (SIGHUP, SIGQUIT).
    fn on(&mut self, sig: i32) -> Option<StopRequest> {
        let count = match sig {
            libc::SIGINT => &mut self.interrupts,
            libc::SIGTERM => &mut self.terminates,
            _ => return None,
        };
        *count += 1;
        Some(if *count >= 2 { StopRequest::Again } else { StopRequest::First })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_sigint_or_sigterm_asks_to_kill() {
        let mut requests = StopRequests::default();
        assert_eq!(requests.on(libc::SIGTERM), Some(StopRequest::First));
        assert_eq!(requests.on(libc::SIGTERM), Some(StopRequest::Again));
        assert_eq!(requests.on(libc::SIGTERM), Some(StopRequest::Again));
        let mut requests = StopRequests::default();
        assert_eq!(requests.on(libc::SIGINT), Some(StopRequest::First));
        assert_eq!(requests.on(libc::SIGINT), Some(StopRequest::Again));
    }

    #[test]
    fn different_requests_and_other_signals_do_not_add_up() {
        let mut requests = StopRequests::default();
        assert_eq!(requests.on(libc::SIGHUP), None);
        assert_eq!(requests.on(libc::SIGQUIT), None);
        assert_eq!(requests.on(libc::SIGINT), Some(StopRequest::First));
        assert_eq!(requests.on(libc::SIGTERM), Some(StopRequest::First));
        assert_eq!(requests.on(libc::SIGHUP), None);
    }
}
