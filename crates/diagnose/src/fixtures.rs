//! The shared fixtures (`faultline_model::fixtures`), plus what needs the diagnosis: a
//! capture's kind, and the report of a run with these crashes.

pub use faultline_model::fixtures::*;

use crate::capture::Capture;

/// The kind and fault detail `diagnose` gives a capture, as the kind tests check them.
pub fn kind_of(c: &Capture) -> (crate::model::CrashKind, String) {
    let message = crate::message::crash_message(c);
    let v = crate::kind::classify(c, message.as_deref());
    (v.kind, v.detail.unwrap_or_default())
}

/// The report of a pytest run with these crashes (none: a passing run), as the store and
/// report tests need one.
pub fn report(crashes: &[Capture]) -> crate::model::Report {
    use crate::model::{ExitInfo, Outcome, Report, SCHEMA_VERSION};
    let crashed = !crashes.is_empty();
    Report {
        schema_version: SCHEMA_VERSION,
        faultline_version: "0.1.0".into(),
        command: vec!["python3".into(), "-m".into(), "pytest".into()],
        cwd: Some("/work/cases/pytest-crash-in-suite".into()),
        started_at: None,
        duration_ms: 420.0,
        outcome: if crashed { Outcome::Crashed } else { Outcome::Passed },
        exit: ExitInfo {
            code: if crashed { 139 } else { 0 },
            signal: crashed.then(|| "SIGSEGV".into()),
            core_dumped: crashed,
        },
        crashes: crashes.iter().map(crate::diagnose).collect(),
        timeout: None,
        memory: None,
        system: None,
        processes_started: 1,
        settings_file: None,
        variant: None,
        launcher: None,
        suite: None,
    }
}
