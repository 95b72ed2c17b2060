//! The mark `faultline run` leaves in its command's environment, and reading it back.
//!
//! Only one process may ptrace another, and a supervisor already traces every descendant of
//! its command. So whatever runs below it must know: the pytest plugin does not re-execute
//! itself under a second `faultline run`, and a nested `faultline run` does not try to trace
//! (it would be refused) but says that the outer one captures the crashes.

use std::ffi::OsString;

/// Set for the command to the pid of the `faultline run` that supervises it.
pub const SUPERVISED_ENV: &str = "FAULTLINE_SUPERVISED";

/// Sets the mark in an environment about to be given to the command (replacing a mark
/// inherited from an outer run: the command's supervisor is `supervisor`).
pub fn mark(vars: &mut Vec<(OsString, OsString)>, supervisor: u32) {
    vars.retain(|(key, _)| key != SUPERVISED_ENV);
    vars.push((SUPERVISED_ENV.into(), supervisor.to_string().into()));
}

/// The pid of the `faultline run` that traces this process, if one does: the mark names it
/// and it is our tracer. A mark alone is not enough (an environment can be copied into a
/// process that nothing traces), nor is a tracer alone (a debugger).
pub fn supervising_faultline() -> Option<i32> {
    let marked: i32 = std::env::var(SUPERVISED_ENV).ok()?.trim().parse().ok()?;
    let tracer = status_field(&std::fs::read_to_string("/proc/self/status").ok()?, "TracerPid")?;
    if tracer == 0 {
        return None;
    }
    // TracerPid names the tracing thread; the mark names its process.
    let tracer_process =
        std::fs::read_to_string(format!("/proc/{tracer}/status")).ok().and_then(|s| status_field(&s, "Tgid"));
    (tracer_process == Some(marked)).then_some(marked)
}

fn status_field(status: &str, name: &str) -> Option<i32> {
    status.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_replaces_an_inherited_one() {
        let mut vars = vec![("PATH".into(), "/bin".into()), (SUPERVISED_ENV.into(), "1".into())];
        mark(&mut vars, 42);
        assert_eq!(vars, vec![("PATH".into(), "/bin".into()), (SUPERVISED_ENV.into(), "42".into())]);
    }

    #[test]
    fn reads_status_fields() {
        let status = "Name:\tx\nTgid:\t17\nTracerPid:\t0\n";
        assert_eq!(status_field(status, "Tgid"), Some(17));
        assert_eq!(status_field(status, "TracerPid"), Some(0));
        assert_eq!(status_field(status, "Tracer"), None);
    }
}
