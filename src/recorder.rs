//! Builds the run's `Report` from the event stream.

use crate::events::{EventSink, RunEvent};
use crate::model::{Crash, ExitInfo, Outcome, Report, SCHEMA_VERSION};
use std::time::{Duration, SystemTime};

/// Collects what a run produced; `finish` freezes it into a report.
pub struct Recorder {
    command: Vec<String>,
    started_at: SystemTime,
    crashes: Vec<Crash>,
    processes_started: u32,
    untraced: Option<String>,
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
            untraced: None,
            on_event: None,
        }
    }

    pub fn on_event(mut self, f: impl FnMut(&RunEvent) + 'static) -> Recorder {
        self.on_event = Some(Box::new(f));
        self
    }

    pub fn untraced_reason(&self) -> Option<&str> {
        self.untraced.as_deref()
    }

    pub fn finish(self, exit: ExitInfo, processes_started: u32, duration: Duration) -> Report {
        let outcome = outcome_of(&exit, &self.crashes);
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
            timeout: None,
            memory: None,
            system: None,
            processes_started: processes_started.max(self.processes_started),
        }
    }
}

impl EventSink for Recorder {
    fn event(&mut self, event: RunEvent) {
        if let Some(f) = self.on_event.as_mut() {
            f(&event);
        }
        match event {
            RunEvent::Started { untraced, .. } => {
                self.processes_started += 1;
                self.untraced = untraced;
            }
            RunEvent::Crash(crash) => self.crashes.push(*crash),
            RunEvent::ProcessStarted { .. } | RunEvent::ProcessExec { .. } | RunEvent::ProcessExited { .. } => {}
        }
    }
}

/// The schema's outcome for how the root ended and what was captured.
pub fn outcome_of(exit: &ExitInfo, crashes: &[Crash]) -> Outcome {
    if !crashes.is_empty() {
        return Outcome::Crashed;
    }
    match (&exit.signal, exit.code) {
        (Some(_), _) => Outcome::Killed,
        (None, 0) => Outcome::Passed,
        (None, _) => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32, signal: Option<&str>) -> ExitInfo {
        ExitInfo { code, signal: signal.map(str::to_owned), core_dumped: false }
    }

    #[test]
    fn outcome_follows_exit_when_nothing_crashed() {
        assert_eq!(outcome_of(&exit(0, None), &[]), Outcome::Passed);
        assert_eq!(outcome_of(&exit(3, None), &[]), Outcome::Failed);
        assert_eq!(outcome_of(&exit(143, Some("SIGTERM")), &[]), Outcome::Killed);
    }
}
