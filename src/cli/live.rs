//! What `faultline run` says while the command still runs: the lines for the tracer's
//! events and notices. The tracer itself never prints.

use faultline::events::{InternalStage, Notice, RunEvent};
use faultline::signals::signal_name;
use faultline::units;

/// Lines worth seeing while the command still runs.
pub(super) fn print_event(event: &RunEvent) {
    match event {
        RunEvent::Started { untraced: Some(why), .. } => faultline::say!("faultline: {why}"),
        RunEvent::MemoryWarning { tree_bytes } => {
            faultline::say!("faultline: warning: the process tree uses {} of memory", units::format_size(*tree_bytes))
        }
        RunEvent::MemoryLimit { tree_bytes, limit } => faultline::say!(
            "faultline: the process tree uses {}, over the limit of {}: taking stacks, then stopping it",
            units::format_size(*tree_bytes),
            units::format_size(*limit)
        ),
        RunEvent::TimedOut { limit } => faultline::say!(
            "faultline: time limit of {} reached: taking stacks, then stopping the command",
            units::format_duration(*limit)
        ),
        RunEvent::Escalated { signal } => {
            faultline::say!("faultline: the command did not stop in time; sent {}", signal_name(*signal))
        }
        RunEvent::InternalError { pid, stage } => match stage {
            InternalStage::TakingStacks => {
                faultline::say!("faultline: internal error while taking the stacks of pid {pid}")
            }
            InternalStage::Capturing => faultline::say!(
                "faultline: internal error while capturing a crash of pid {pid}; the crash is not reported"
            ),
            InternalStage::Explaining => faultline::say!(
                "faultline: internal error while explaining a crash of pid {pid}; the crash is not reported"
            ),
        },
        RunEvent::Started { untraced: None, .. }
        | RunEvent::ProcessStarted { .. }
        | RunEvent::ProcessExec { .. }
        | RunEvent::Crash(_)
        | RunEvent::ProcessExited { .. } => {}
    }
}

/// The tracer's notices, from whichever of its threads they come.
pub(super) fn print_notice(notice: Notice) {
    match notice {
        Notice::StopRequested { signal, from_terminal } => faultline::say!(
            "faultline: interrupted by {}: waiting for the command to stop ({} again to kill it)",
            signal_name(signal),
            again_hint(signal, from_terminal)
        ),
        Notice::StopForced { signal } => {
            faultline::say!("faultline: second {}: killing the command", signal_name(signal))
        }
        Notice::StderrRelayFailed { error } => faultline::say!(
            "faultline: cannot keep copying stderr for processes that outlive the command ({error}); \
             their later writes to stderr will fail"
        ),
        Notice::PreloadNotGated { pid, error } => faultline::say!(
            "faultline: warning: could not limit the sanitizer runtime to Python in process {pid} ({error}); \
             it may run with the runtime preloaded, or without it"
        ),
    }
}

/// How to send the same request again, in the words of whoever sent it.
fn again_hint(sig: i32, from_terminal: bool) -> String {
    if sig == libc::SIGINT && from_terminal {
        "Ctrl-C".to_owned()
    } else {
        signal_name(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_names_what_the_sender_would_type() {
        assert_eq!(again_hint(libc::SIGINT, true), "Ctrl-C");
        assert_eq!(again_hint(libc::SIGINT, false), "SIGINT");
        assert_eq!(again_hint(libc::SIGTERM, false), "SIGTERM");
    }
}
