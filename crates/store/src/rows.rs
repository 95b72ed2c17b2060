//! A report flattened into the rows the store keeps: one per run, one per crash.

use crate::model::{Outcome, Report};

/// The `runs` row of one report.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub recorded_at_ms: i64,
    pub host: Option<String>,
    /// The command as a JSON array.
    pub command: String,
    pub outcome: String,
    pub exit_code: i32,
    /// The signal that ended the root process (`SIGSEGV`), when one did.
    pub exit_signal: Option<String>,
    pub duration_ms: f64,
    /// The whole report as JSON.
    pub report: String,
    /// SHA-256 of `report`, in hex: the same report is stored once.
    pub report_digest: String,
}

/// One `crashes` row: what grouping and listing need without parsing reports.
#[derive(Debug, Clone, PartialEq)]
pub struct CrashRow {
    pub signature: String,
    pub group_id: String,
    pub signal: String,
    pub kind: String,
    pub phase: String,
    pub culprit_function: Option<String>,
    pub culprit_module: Option<String>,
    pub culprit_file: Option<String>,
    pub culprit_line: Option<i32>,
    pub message: Option<String>,
    pub test: Option<String>,
}

/// The short id of a group: the hash at the end of the signature
/// (`SIGSEGV/null-deref/f@m/1a2b3c4d5e6f` → `1a2b3c4d5e6f`).
pub fn group_id(signature: &str) -> &str {
    signature.rsplit('/').next().unwrap_or(signature)
}

pub fn run_row(report: &Report, recorded_at_ms: i64) -> Result<RunRow, serde_json::Error> {
    use sha2::Digest;
    let json = serde_json::to_string(report)?;
    let report_digest = sha2::Sha256::digest(json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    Ok(RunRow {
        recorded_at_ms,
        host: report.system.as_ref().and_then(|s| s.host.clone()),
        command: serde_json::to_string(&report.command)?,
        outcome: outcome_name(report.outcome),
        exit_code: report.exit.code,
        exit_signal: report.exit.signal.clone(),
        duration_ms: report.duration_ms,
        report: json,
        report_digest,
    })
}

pub fn crash_rows(report: &Report) -> Vec<CrashRow> {
    report
        .crashes
        .iter()
        .map(|crash| {
            let culprit = crash.culprit.as_ref();
            CrashRow {
                signature: crash.signature.clone(),
                group_id: group_id(&crash.signature).to_owned(),
                signal: crash.signal.clone(),
                kind: crash.kind.as_str().to_owned(),
                phase: crash.phase.as_str().to_owned(),
                culprit_function: culprit.and_then(|c| c.function.clone()),
                culprit_module: culprit.and_then(|c| c.module.clone()),
                culprit_file: culprit.and_then(|c| c.file.clone()),
                culprit_line: culprit.and_then(|c| c.line).and_then(|l| i32::try_from(l).ok()),
                message: crash.message.clone(),
                test: crash.test.as_ref().map(|t| t.nodeid.clone()),
            }
        })
        .collect()
}

fn outcome_name(outcome: Outcome) -> String {
    serde_json::to_value(outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids() {
        assert_eq!(group_id("SIGSEGV/null-deref/f@m/1a2b3c4d5e6f"), "1a2b3c4d5e6f");
        assert_eq!(group_id("abc"), "abc");
    }

    #[test]
    fn outcome_names_follow_the_schema() {
        assert_eq!(outcome_name(Outcome::Crashed), "crashed");
        assert_eq!(outcome_name(Outcome::Oom), "oom");
    }
}
