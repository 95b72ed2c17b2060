//! Builds the run's `Report` from the event stream.

mod explain;
mod launcher;

use crate::diagnose::hang::timeout_info;
use crate::events::{Captured, EventSink, RunEvent};
use crate::model::{Crash, ExitInfo, Outcome, Report, SCHEMA_VERSION};
use crate::pytest::{progress, ProcessLog};
use crate::trace::RunEnd;
use launcher::LauncherWatch;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Collects what a run produced; `finish` freezes it into a report.
pub struct Recorder {
    command: Vec<String>,
    started_at: SystemTime,
    crashes: Vec<Crash>,
    processes_started: u32,
    /// The tree's processes alive now: when the crashed one is alone, nobody else is
    /// writing to the shared stderr (a launcher's helpers have exited long before).
    alive: std::collections::HashSet<crate::model::Pid>,
    untraced: Option<String>,
    launcher: LauncherWatch,
    /// Where the command's pytest processes write what they did (`faultline_pytest`).
    pytest_log: Option<PathBuf>,
    /// Called for every event as it happens (live terminal lines).
    on_event: Option<Box<dyn FnMut(&RunEvent)>>,
}

impl Recorder {
    pub fn new(command: Vec<String>) -> Recorder {
        Recorder {
            command,
            started_at: SystemTime::now(),
            crashes: Vec::new(),
            processes_started: 0,
            alive: std::collections::HashSet::new(),
            untraced: None,
            launcher: LauncherWatch::default(),
            pytest_log: None,
            on_event: None,
        }
    }

    /// Reads each crashed pytest process's breadcrumbs from `dir`, the pytest channel's logs.
    pub fn with_pytest_log(mut self, dir: Option<PathBuf>) -> Recorder {
        self.pytest_log = dir;
        self
    }

    pub fn on_event(mut self, f: impl FnMut(&RunEvent) + 'static) -> Recorder {
        self.on_event = Some(Box::new(f));
        self
    }

    pub fn untraced_reason(&self) -> Option<&str> {
        self.untraced.as_deref()
    }

    pub fn finish(self, end: RunEnd, duration: Duration) -> Report {
        let outcome = outcome_of(&end, &self.crashes);
        let RunEnd { exit, processes_started, timeout, memory, .. } = end;
        let launcher = self.launcher.finish(program_path(&self.command));
        Report {
            schema_version: SCHEMA_VERSION,
            faultline_version: env!("CARGO_PKG_VERSION").to_owned(),
            command: self.command,
            cwd: std::env::current_dir().ok().map(|p| p.to_string_lossy().into_owned()),
            started_at: Some(humantime::format_rfc3339_millis(self.started_at).to_string()),
            duration_ms: duration.as_secs_f64() * 1000.0,
            outcome,
            exit,
            crashes: self.crashes,
            // What the stacks of the stopped tree show: the one place hang findings are made.
            timeout: timeout.map(|t| timeout_info(t.limit_ms, t.processes, Some(t.stopped_with))),
            memory,
            system: None,
            processes_started: processes_started.max(self.processes_started),
            settings_file: None,
            variant: None,
            launcher,
            suite: None,
        }
    }
}

impl Recorder {
    /// The report of a command that could not be started (not found, not executable):
    /// outcome `error`, the status a shell would have given.
    pub fn not_started(self, code: i32, duration: Duration) -> Report {
        let end = RunEnd {
            exit: ExitInfo { code, signal: None, core_dumped: false },
            processes_started: 0,
            timeout: None,
            memory: None,
            stopped_for_memory: false,
        };
        Report { outcome: Outcome::Error, ..self.finish(end, duration) }
    }
}

/// The command's program as the launch found it on PATH; as typed when it is not there.
fn program_path(command: &[String]) -> String {
    let Some(name) = command.first() else {
        return String::new();
    };
    crate::trace::resolve_program(std::ffi::OsStr::new(name), std::env::var_os("PATH").as_deref())
        .map(|path| path.to_string_lossy().into_owned())
        .unwrap_or_else(|_| name.clone())
}

/// The run session's sink for the tracer: every capture is explained (`explain`) before
/// the live lines, the log and the report see it.
impl EventSink<Captured> for Recorder {
    fn event(&mut self, event: RunEvent<Captured>) {
        let mut event = event.explain(explain::explain);
        match &event {
            RunEvent::Started { root_pid, .. } => {
                self.alive.insert(*root_pid);
            }
            RunEvent::ProcessStarted { pid, .. } => {
                self.alive.insert(*pid);
            }
            RunEvent::ProcessExited { pid, .. } => {
                self.alive.remove(pid);
            }
            _ => {}
        }
        if let RunEvent::Crash(crash) = &mut event {
            add_pytest_progress(crash, self.pytest_log.as_deref());
            // A message read from stderr is the crashed process's own when no other process
            // of the tree is there to write one.
            let others = self.alive.iter().any(|pid| *pid != crash.pid);
            crash.message_untied &= others;
        }
        if let Some(f) = self.on_event.as_mut() {
            f(&event);
        }
        self.launcher.event(&event);
        match event {
            RunEvent::Started { untraced, .. } => {
                self.processes_started += 1;
                self.untraced = untraced;
            }
            RunEvent::Crash(crash) => self.crashes.push(*crash),
            RunEvent::ProcessStarted { .. }
            | RunEvent::ProcessExec { .. }
            | RunEvent::ProcessExited { .. }
            | RunEvent::InternalError { .. }
            | RunEvent::MemoryWarning { .. }
            | RunEvent::MemoryLimit { .. }
            | RunEvent::TimedOut { .. }
            | RunEvent::Escalated { .. } => {}
        }
    }
}

/// What pytest had done in the crashed process, from its channel log; for a pytest process
/// without one, that the channel did not load there.
fn add_pytest_progress(crash: &mut Crash, log_dir: Option<&Path>) {
    let Some(dir) = log_dir else { return };
    let Ok(pid) = u32::try_from(crash.pid.0) else { return };
    match ProcessLog::read(dir, pid) {
        Some(log) => {
            crash.pytest = Some(progress::progress(&log));
            if crash.test.is_none() {
                crash.test = progress::running_test(&log);
            }
        }
        None if crash.test.is_some() => crash.pytest = Some(progress::without_channel()),
        None => {}
    }
}

/// The schema's outcome for how the run ended and what was captured. faultline's own
/// stops come first: a timeout or memory stop explains whatever died after it.
pub fn outcome_of(end: &RunEnd, crashes: &[Crash]) -> Outcome {
    if end.timeout.is_some() {
        return Outcome::Timeout;
    }
    let oom_killed = end.memory.as_ref().is_some_and(|m| !m.oom_killed.is_empty());
    if end.stopped_for_memory || oom_killed {
        return Outcome::Oom;
    }
    if !crashes.is_empty() {
        return Outcome::Crashed;
    }
    let exit = &end.exit;
    match (&exit.signal, exit.code) {
        (Some(_), _) => Outcome::Killed,
        (None, 0) => Outcome::Passed,
        (None, _) => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::trace::TimeoutStop;

    fn end(code: i32, signal: Option<&str>) -> RunEnd {
        RunEnd {
            exit: ExitInfo { code, signal: signal.map(str::to_owned), core_dumped: false },
            processes_started: 1,
            timeout: None,
            memory: None,
            stopped_for_memory: false,
        }
    }

    #[test]
    fn outcome_follows_exit_when_nothing_crashed() {
        assert_eq!(outcome_of(&end(0, None), &[]), Outcome::Passed);
        assert_eq!(outcome_of(&end(3, None), &[]), Outcome::Failed);
        assert_eq!(outcome_of(&end(143, Some("SIGTERM")), &[]), Outcome::Killed);
    }

    #[test]
    fn faultlines_own_stops_come_first() {
        let mut timed_out = end(143, Some("SIGTERM"));
        timed_out.timeout =
            Some(TimeoutStop { limit_ms: 1000.0, processes: Vec::new(), stopped_with: "SIGTERM".into() });
        assert_eq!(outcome_of(&timed_out, &[]), Outcome::Timeout);
        let mut memory = end(137, Some("SIGKILL"));
        memory.stopped_for_memory = true;
        assert_eq!(outcome_of(&memory, &[]), Outcome::Oom);
    }
}
