//! Linux process control under ptrace: launching the command traced, the wait loop,
//! capturing crashes, forwarding signals. The one home of `unsafe` process control.

mod collect;
mod forward;
mod launch;
mod ptrace;
mod status;
mod stderr_tail;
mod supervisor;

pub use launch::{resolve_program, LaunchError};
pub use supervisor::RunEnd;

use crate::events::{exit_info, EventSink, RunEvent};
use launch::Launched;
use std::ffi::OsString;

/// Runs `argv` (program first) to completion under supervision and returns how it ended.
/// If ptrace is refused, the command still runs, untraced, and its status still comes back.
pub fn run(argv: &[OsString], sink: &mut dyn EventSink) -> Result<RunEnd, LaunchError> {
    let program_name = argv.first().map(|a| a.as_os_str()).unwrap_or_default();
    let program = resolve_program(program_name, std::env::var_os("PATH").as_deref())?;
    let forwarder = forward::SignalForwarder::start();
    let mut stderr_tail = stderr_tail::StderrTail::setup();
    let launched = launch::launch(&program, argv, stderr_tail.child_redirect());
    stderr_tail.child_started();
    let end = match launched? {
        Launched::Traced(root) => {
            forwarder.set_target(root);
            sink.event(RunEvent::Started { root_pid: root, untraced: None });
            supervisor::Supervisor::new(root, sink, &stderr_tail).run()
        }
        Launched::Untraced { pid, reason } => {
            forwarder.set_target(pid);
            let why = format!("ptrace is not permitted here ({reason}); running the command without crash capture");
            sink.event(RunEvent::Started { root_pid: pid, untraced: Some(why) });
            RunEnd { exit: wait_plainly(pid), processes_started: 1 }
        }
    };
    forwarder.set_target(0);
    // Let the tree's last output reach the real stderr before anyone prints after it.
    stderr_tail.finish(std::time::Duration::from_millis(300));
    Ok(end)
}

fn wait_plainly(pid: i32) -> crate::model::ExitInfo {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            if libc::WIFEXITED(status) {
                return exit_info(Some(libc::WEXITSTATUS(status)), None, false);
            }
            if libc::WIFSIGNALED(status) {
                return exit_info(None, Some(libc::WTERMSIG(status)), libc::WCOREDUMP(status));
            }
        } else if ret < 0 && nix::errno::Errno::last() != nix::errno::Errno::EINTR {
            return exit_info(None, None, false);
        }
    }
}
