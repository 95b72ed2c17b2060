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
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once};

const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

pub struct SignalForwarder;

/// The tree the forwarding thread passes signals to: the current run's. One thread serves
/// every run of the process (keep-going runs the command several times), so that each
/// signal is taken once and the stop requests add up over the runs.
struct Target {
    members: TreeMembers,
    notices: Notices,
}

static TARGET: Mutex<Option<Target>> = Mutex::new(None);
static STARTED: Once = Once::new();
/// The first SIGINT or SIGTERM that asked faultline to stop (0: none yet).
static STOP_REQUESTED: AtomicI32 = AtomicI32::new(0);

impl SignalForwarder {
    /// Blocks the forwarded signals in the calling thread (and so in threads it starts
    /// later), points the forwarding thread at this run's tree, and starts that thread the
    /// first time.
    pub fn start(members: TreeMembers, notices: Notices) -> SignalForwarder {
        let set = signal_set(&FORWARDED);
        // SAFETY: set is initialized; blocking signals in this thread only.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if let Ok(mut target) = TARGET.lock() {
            *target = Some(Target { members, notices });
        }
        STARTED.call_once(|| {
            let spawned =
                std::thread::Builder::new().name("signal-forwarder".into()).spawn(move || forward_forever(set));
            if spawned.is_err() {
                // Without the thread nobody takes the signals: let them act normally again.
                // SAFETY: as above.
                unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
            }
        });
        SignalForwarder
    }
}

/// The signal (SIGINT or SIGTERM) that first asked faultline to stop, if one did: a caller
/// that runs the command again must not, after it.
pub fn stop_requested() -> Option<i32> {
    match STOP_REQUESTED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
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

fn forward_forever(set: libc::sigset_t) {
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
        let Some((members, notices)) =
            TARGET.lock().ok().and_then(|t| t.as_ref().map(|t| (t.members.clone(), t.notices.clone())))
        else {
            continue;
        };
        let request = requests.on(sig);
        if request.is_some() {
            let _ = STOP_REQUESTED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
        }
        match request {
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
