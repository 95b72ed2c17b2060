//! What each database must do. The store builds everything people see from these few
//! calls, so the two backends stay small and alike.

use super::rows::{CrashRow, RunRow};
use super::StoreError;

/// A group as the `GROUPS` query returns it.
#[derive(Debug, Clone)]
pub struct GroupRow {
    pub signature: String,
    pub count: i64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub signal: String,
    pub kind: String,
    pub culprit_function: Option<String>,
    pub culprit_module: Option<String>,
    pub culprit_file: Option<String>,
    pub culprit_line: Option<i32>,
    pub message: Option<String>,
}

/// A run as stored, its report still JSON.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: i64,
    pub recorded_at_ms: i64,
    pub host: Option<String>,
    pub report: String,
}

/// A run as the `RUNS` query lists it, without its report.
#[derive(Debug, Clone)]
pub struct RunListRow {
    pub id: i64,
    pub recorded_at_ms: i64,
    pub host: Option<String>,
    /// The command as a JSON array.
    pub command: String,
    pub outcome: String,
    pub exit_code: i32,
    pub exit_signal: Option<String>,
    /// `None` only when a report without one was migrated.
    pub duration_ms: Option<f64>,
}

/// One crash of a group. Columns of `OCCURRENCES`.
#[derive(Debug, Clone)]
pub struct OccurrenceRow {
    pub run_id: i64,
    pub at_ms: i64,
    pub host: Option<String>,
    pub test: Option<String>,
    pub phase: String,
}

pub trait Backend {
    /// Stores one run and its crashes in one transaction; returns the run's id.
    /// Stores the run and its crashes; with `once`, finds instead a run already stored with
    /// the same report.
    fn save(&mut self, run: &RunRow, crashes: &[CrashRow], once: bool) -> Result<SavedRun, StoreError>;
    fn groups(&mut self) -> Result<Vec<GroupRow>, StoreError>;
    /// (signature, test) pairs, most recent first.
    fn group_tests(&mut self) -> Result<Vec<(String, String)>, StoreError>;
    fn signatures_by_prefix(&mut self, prefix: &str) -> Result<Vec<String>, StoreError>;
    fn occurrences(&mut self, signature: &str) -> Result<Vec<OccurrenceRow>, StoreError>;
    /// How many crashes have this signature.
    fn crash_count(&mut self, signature: &str) -> Result<i64, StoreError>;
    fn runs_since(&mut self, at_ms: i64) -> Result<i64, StoreError>;
    fn run_count(&mut self) -> Result<i64, StoreError>;
    fn run(&mut self, id: i64) -> Result<Option<RunRecord>, StoreError>;
    fn latest_run_id(&mut self) -> Result<Option<i64>, StoreError>;
    /// The newest `limit` runs, newest first.
    fn runs(&mut self, limit: i64) -> Result<Vec<RunListRow>, StoreError>;
    /// (run id, group id) of every crash of the runs from `first_run` on, in report order.
    fn run_groups(&mut self, first_run: i64) -> Result<Vec<(i64, String)>, StoreError>;
    /// Deletes the runs recorded before `before_ms` and their crashes, in one transaction;
    /// returns (runs, crashes) deleted.
    fn prune(&mut self, before_ms: i64) -> Result<(u64, u64), StoreError>;
}

/// What `save` did with a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedRun {
    New(i64),
    /// The same report was stored before, as this run: nothing was added.
    AlreadyStored(i64),
}
