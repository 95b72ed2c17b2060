//! Issue 9, part A: whatever goes wrong around it, faultline hands back the command's
//! status and keeps its report. Each test runs the real binary on a real process.

mod common;

use common::FAULTLINE;
use std::process::{Command, Stdio};

/// `faultline run -- … 2>&1 | head`: the reader of stderr goes away before faultline
/// prints its summary. Writing that line must not panic (it used to: exit 101).
#[test]
fn a_closed_stderr_pipe_keeps_the_commands_status() {
    let mut child = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--", "sh", "-c", "sleep 0.3; exit 3"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start faultline");
    // Close our ends at once, as `| true` does.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().expect("wait for faultline");
    assert_eq!(status.code(), Some(3), "{status:?}");
}
