//! What the crash store hands out: runs as they were recorded, and crashes grouped by
//! signature. Plain data, shared by the terminal listing, `--json`, and the HTML report.

use crate::model::{Crash, Report};
use serde::Serialize;

/// One `faultline run` as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredRun {
    /// The store's number for the run (`faultline report --html out.html 42`).
    pub id: i64,
    /// When the run was stored, milliseconds since the Unix epoch (UTC).
    pub recorded_at_ms: i64,
    /// The host that ran it (many CI machines may share one PostgreSQL store).
    pub host: Option<String>,
    pub report: Report,
}

/// One run in the list of runs (`faultline crashes runs`): how it ended, without its report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: i64,
    /// When the run was stored, milliseconds since the Unix epoch (UTC).
    pub recorded_at_ms: i64,
    pub host: Option<String>,
    pub command: Vec<String>,
    /// `Outcome` as in the report: `passed`, `failed`, `crashed`, `timeout`, `oom`, `killed`,
    /// `error`.
    pub outcome: String,
    /// The exit code, or 128 + the signal number.
    pub exit_code: i32,
    /// The signal that ended the root process, when one did.
    pub exit_signal: Option<String>,
    /// `None` for a run whose stored report had no duration.
    pub duration_ms: Option<f64>,
    /// The group id of each distinct crash signature of the run, in report order.
    pub groups: Vec<String>,
}

/// All crashes that share one signature.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    /// The short id people type: the 12 hex digits at the end of the signature.
    pub id: String,
    /// The full signature (`SIGSEGV/null-deref/bytes_per_pixel@_pixfmt/1a2b3c4d5e6f`).
    pub signature: String,
    pub signal: String,
    /// `CrashKind` as in the report (`null-deref`, `double-free`, ...).
    pub kind: String,
    pub culprit_function: Option<String>,
    pub culprit_module: Option<String>,
    pub culprit_file: Option<String>,
    pub culprit_line: Option<u32>,
    /// The latest crash's message (assertion text, glibc's abort message, ...).
    pub message: Option<String>,
    /// How many crashes have this signature.
    pub count: u64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Distinct pytest node ids that crashed this way, most recent first.
    pub tests: Vec<String>,
}

impl GroupSummary {
    /// A group of one crash, seen at `at_ms`; `add` counts more crashes into it.
    pub fn of_crash(crash: &Crash, at_ms: i64) -> GroupSummary {
        let culprit = crash.culprit.as_ref();
        GroupSummary {
            id: super::group_id(&crash.signature).to_owned(),
            signature: crash.signature.clone(),
            signal: crash.signal.clone(),
            kind: crash.kind.as_str().to_owned(),
            culprit_function: culprit.and_then(|c| c.function.clone()),
            culprit_module: culprit.and_then(|c| c.module.clone()),
            culprit_file: culprit.and_then(|c| c.file.clone()),
            culprit_line: culprit.and_then(|c| c.line),
            message: crash.message.clone(),
            count: 1,
            first_seen_ms: at_ms,
            last_seen_ms: at_ms,
            tests: crash.test.iter().map(|t| t.nodeid.clone()).collect(),
        }
    }

    /// Counts another crash of this group (same signature), seen at `at_ms`.
    pub fn add(&mut self, crash: &Crash, at_ms: i64) {
        self.count += 1;
        self.first_seen_ms = self.first_seen_ms.min(at_ms);
        self.last_seen_ms = self.last_seen_ms.max(at_ms);
        if let Some(test) = &crash.test {
            if !self.tests.contains(&test.nodeid) {
                self.tests.push(test.nodeid.clone());
            }
        }
    }
}

/// One crash of a group.
#[derive(Debug, Clone, Serialize)]
pub struct Occurrence {
    pub run_id: i64,
    pub at_ms: i64,
    pub host: Option<String>,
    /// The pytest node id, when the crash happened inside a test.
    pub test: Option<String>,
    /// `Phase` as in the report (`import`, `test`, `shutdown`, ...).
    pub phase: String,
}

/// One group with its history and its latest report.
#[derive(Debug, Clone, Serialize)]
pub struct GroupDetail {
    pub summary: GroupSummary,
    /// Every crash of the group, oldest first.
    pub occurrences: Vec<Occurrence>,
    /// Runs stored since the group was first seen, crashed or not: `count` out of these.
    pub runs_since_first_seen: u64,
    /// The most recent run that crashed this way.
    pub latest: StoredRun,
}
