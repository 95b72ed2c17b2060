//! The crash store: every run's report kept, crashes grouped by signature.
//!
//! SQLite in the project by default, PostgreSQL when many machines share one store (see
//! [`location`]). Each run is written in one transaction, so a run killed mid-write or many
//! runs writing at once lose and corrupt nothing. Groups are computed from the crashes when
//! read: the group of a crash is its signature (`diagnose::signature`), and the short id
//! people type is the signature's hash.

pub mod stress;
mod texts;

#[cfg(any(test, feature = "fixtures"))]
use faultline_diagnose as diagnose;
use faultline_model::{model, redact};

mod backend;
pub mod location;
mod postgres;
mod queries;
mod records;
mod rows;
mod schema;
mod sqlite;
#[cfg(test)]
mod tests;

pub use location::Location;
pub use records::{GroupDetail, GroupSummary, Occurrence, RunSummary, StoredRun};
pub use rows::group_id;

use crate::model::Report;
use backend::{Backend, RunRecord, SavedRun};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// The shortest group id prefix accepted, so that a typo does not pick a group at random.
pub const MIN_ID_PREFIX: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("the store was written by a newer faultline (schema version {found}; this one knows up to {supported}): upgrade faultline")]
    TooNew { found: i64, supported: i64 },
    #[error("run {run}'s report cannot be read: {error}")]
    BadReport { run: i64, error: serde_json::Error },
    #[error("run {run}'s report cannot be read: it is {error}")]
    UnreadableReport { run: i64, error: faultline_model::read::ReadReportError },
    #[error("the report cannot be stored: {0}")]
    Encode(serde_json::Error),
    #[error("no run {0} in the store; `faultline crashes runs` lists the runs")]
    NoSuchRun(i64),
    #[error("no crash group matches `{0}`; `faultline crashes` lists the groups")]
    NoSuchGroup(String),
    #[error("`{prefix}` matches {} groups ({}); give more of the id", candidates.len(), candidates.join(", "))]
    AmbiguousGroup { prefix: String, candidates: Vec<String> },
    #[error("`{0}` is both a run number and the start of a group id; say run:{0} or group:{0}")]
    AmbiguousId(String),
    #[error("`{0}` is not a run number or a group id (at least {MIN_ID_PREFIX} hex digits)")]
    BadId(String),
    #[error("the store has no runs yet")]
    Empty,
}

/// postgres' own Display says only "db error" for server errors; the server's text is in
/// the source.
fn postgres_message(error: &::postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// What `faultline report` and friends were pointed at.
#[derive(Debug, Clone)]
pub enum Target {
    Run(Box<StoredRun>),
    Group(Box<GroupDetail>),
}

/// What a save did, for the line printed after a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub run_id: i64,
    /// The same report was already stored (as `run_id`): nothing was added.
    pub already_stored: bool,
    /// (group id, crashes in the group now) for each crash of the run, in report order.
    pub groups: Vec<(String, u64)>,
}

pub struct Store {
    location: Location,
    backend: Box<dyn Backend>,
}

impl Store {
    /// Opens (creating and migrating as needed) the store at `location`.
    pub fn open(location: &Location) -> Result<Store, StoreError> {
        let backend: Box<dyn Backend> = match location {
            Location::Sqlite(path) => Box::new(sqlite::SqliteBackend::open(path)?),
            Location::Postgres(url) => Box::new(postgres::PostgresBackend::connect(url)?),
        };
        Ok(Store { location: location.clone(), backend })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Keeps one run's report. The report should already be redacted as the user asked.
    pub fn save(&mut self, report: &Report) -> Result<Saved, StoreError> {
        self.save_run(report, false)
    }

    /// Stores a report read from a file (`crashes import`), unless the very same report is
    /// stored already: importing a file twice, or the `--json` file of a stored run, adds
    /// nothing and answers with the earlier run.
    pub fn import(&mut self, report: &Report) -> Result<Saved, StoreError> {
        self.save_run(report, true)
    }

    fn save_run(&mut self, report: &Report, once: bool) -> Result<Saved, StoreError> {
        let run = rows::run_row(report, now_ms()).map_err(StoreError::Encode)?;
        let crashes = rows::crash_rows(report);
        let (run_id, already_stored) = match self.backend.save(&run, &crashes, once)? {
            SavedRun::New(id) => (id, false),
            SavedRun::AlreadyStored(id) => (id, true),
        };
        let mut groups = Vec::new();
        for crash in &crashes {
            let count = self.backend.crash_count(&crash.signature)?.max(0) as u64;
            groups.push((crash.group_id.clone(), count));
        }
        Ok(Saved { run_id, already_stored, groups })
    }

    /// Every group, most recently seen first.
    pub fn groups(&mut self) -> Result<Vec<GroupSummary>, StoreError> {
        let mut tests: HashMap<String, Vec<String>> = HashMap::new();
        for (signature, test) in self.backend.group_tests()? {
            tests.entry(signature).or_default().push(test);
        }
        let groups = self.backend.groups()?;
        Ok(groups
            .into_iter()
            .map(|g| {
                let tests = tests.remove(&g.signature).unwrap_or_default();
                summary(g, tests)
            })
            .collect())
    }

    pub fn run_count(&mut self) -> Result<u64, StoreError> {
        Ok(self.backend.run_count()?.max(0) as u64)
    }

    /// One group by its id or a prefix of at least [`MIN_ID_PREFIX`] hex digits.
    pub fn group(&mut self, id: &str) -> Result<GroupDetail, StoreError> {
        let id = id.trim().to_ascii_lowercase();
        if !is_group_prefix(&id) {
            return Err(StoreError::BadId(id));
        }
        let signatures = self.backend.signatures_by_prefix(&id)?;
        let signature = match signatures.as_slice() {
            [] => return Err(StoreError::NoSuchGroup(id)),
            [one] => one.clone(),
            many => {
                let candidates = many.iter().map(|s| group_id(s).to_owned()).collect();
                return Err(StoreError::AmbiguousGroup { prefix: id, candidates });
            }
        };
        self.group_by_signature(&signature)
    }

    /// One group, summed up from its own crashes and its latest report (what `groups`
    /// computes for every group at once, here for one).
    fn group_by_signature(&mut self, signature: &str) -> Result<GroupDetail, StoreError> {
        let no_such_group = || StoreError::NoSuchGroup(group_id(signature).to_owned());
        let occurrences: Vec<Occurrence> = self
            .backend
            .occurrences(signature)?
            .into_iter()
            .map(|o| Occurrence { run_id: o.run_id, at_ms: o.at_ms, host: o.host, test: o.test, phase: o.phase })
            .collect();
        let (Some(first), Some(last)) = (occurrences.first(), occurrences.last()) else { return Err(no_such_group()) };
        let latest = self.run(last.run_id)?;
        // The group's last crash row is the last crash with this signature in its run.
        let crash = latest.report.crashes.iter().rfind(|c| c.signature == signature).ok_or_else(no_such_group)?;
        let mut summary = GroupSummary::of_crash(crash, last.at_ms);
        summary.count = occurrences.len() as u64;
        summary.first_seen_ms = first.at_ms;
        summary.tests = tests_newest_first(&occurrences);
        let runs_since_first_seen = self.backend.runs_since(first.at_ms)?.max(0) as u64;
        Ok(GroupDetail { summary, occurrences, runs_since_first_seen, latest })
    }

    pub fn run(&mut self, id: i64) -> Result<StoredRun, StoreError> {
        let record = self.backend.run(id)?.ok_or(StoreError::NoSuchRun(id))?;
        stored_run(record)
    }

    /// Forgets the runs (and their crashes) stored more than `age` ago; returns how many
    /// (runs, crashes) went. Groups whose crashes all went disappear with them.
    pub fn prune(&mut self, age: std::time::Duration) -> Result<(u64, u64), StoreError> {
        let before = now_ms().saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        self.backend.prune(before)
    }

    /// The newest `limit` runs (every run when `None`), newest first, each with its groups.
    pub fn runs(&mut self, limit: Option<u64>) -> Result<Vec<RunSummary>, StoreError> {
        let limit = limit.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let rows = self.backend.runs(limit)?;
        let Some(oldest) = rows.last().map(|r| r.id) else { return Ok(Vec::new()) };
        let mut groups: HashMap<i64, Vec<String>> = HashMap::new();
        for (run_id, group) in self.backend.run_groups(oldest)? {
            let of_run = groups.entry(run_id).or_default();
            if !of_run.contains(&group) {
                of_run.push(group);
            }
        }
        rows.into_iter()
            .map(|row| {
                let command =
                    serde_json::from_str(&row.command).map_err(|error| StoreError::BadReport { run: row.id, error })?;
                Ok(RunSummary {
                    id: row.id,
                    recorded_at_ms: row.recorded_at_ms,
                    host: row.host,
                    command,
                    outcome: row.outcome,
                    exit_code: row.exit_code,
                    exit_signal: row.exit_signal,
                    duration_ms: row.duration_ms,
                    groups: groups.remove(&row.id).unwrap_or_default(),
                })
            })
            .collect()
    }

    pub fn latest_run(&mut self) -> Result<StoredRun, StoreError> {
        let id = self.backend.latest_run_id()?.ok_or(StoreError::Empty)?;
        self.run(id)
    }

    /// What a user typed: `run:N`, `group:ID`, a bare run number or group id, or nothing
    /// (the latest run).
    pub fn resolve(&mut self, what: Option<&str>) -> Result<Target, StoreError> {
        let Some(what) = what.map(str::trim).filter(|w| !w.is_empty()) else {
            return Ok(Target::Run(Box::new(self.latest_run()?)));
        };
        if let Some(number) = what.strip_prefix("run:") {
            let id = number.trim().parse().map_err(|_| StoreError::BadId(what.to_owned()))?;
            return Ok(Target::Run(Box::new(self.run(id)?)));
        }
        if let Some(id) = what.strip_prefix("group:") {
            return Ok(Target::Group(Box::new(self.group(id)?)));
        }
        let as_run = what.parse::<i64>().ok();
        let as_group = is_group_prefix(&what.to_ascii_lowercase());
        match (as_run, as_group) {
            (Some(id), true) => {
                let run = self.backend.run(id)?;
                let group_exists = !self.backend.signatures_by_prefix(&what.to_ascii_lowercase())?.is_empty();
                match (run, group_exists) {
                    (Some(_), true) => Err(StoreError::AmbiguousId(what.to_owned())),
                    (None, true) => Ok(Target::Group(Box::new(self.group(what)?))),
                    (Some(record), false) => Ok(Target::Run(Box::new(stored_run(record)?))),
                    (None, false) => Err(StoreError::NoSuchRun(id)),
                }
            }
            (Some(id), false) => Ok(Target::Run(Box::new(self.run(id)?))),
            (None, true) => Ok(Target::Group(Box::new(self.group(what)?))),
            (None, false) => Err(StoreError::BadId(what.to_owned())),
        }
    }
}

/// Distinct tests, most recently crashed first (ties by name), as `GROUP_TESTS` orders them.
fn tests_newest_first(occurrences: &[Occurrence]) -> Vec<String> {
    let mut last_seen: HashMap<&str, i64> = HashMap::new();
    for o in occurrences {
        if let Some(test) = &o.test {
            let at = last_seen.entry(test).or_insert(o.at_ms);
            *at = (*at).max(o.at_ms);
        }
    }
    let mut tests: Vec<(&str, i64)> = last_seen.into_iter().collect();
    tests.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    tests.into_iter().map(|(test, _)| test.to_owned()).collect()
}

fn is_group_prefix(id: &str) -> bool {
    id.len() >= MIN_ID_PREFIX && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn summary(g: backend::GroupRow, tests: Vec<String>) -> GroupSummary {
    GroupSummary {
        id: group_id(&g.signature).to_owned(),
        signature: g.signature,
        signal: g.signal,
        kind: g.kind,
        culprit_function: g.culprit_function,
        culprit_module: g.culprit_module,
        culprit_file: g.culprit_file,
        culprit_line: g.culprit_line.and_then(|l| u32::try_from(l).ok()),
        message: g.message,
        count: g.count.max(0) as u64,
        first_seen_ms: g.first_ms,
        last_seen_ms: g.last_ms,
        tests,
    }
}

fn stored_run(record: RunRecord) -> Result<StoredRun, StoreError> {
    let report = faultline_model::read::report_from_json(&record.report)
        .map_err(|error| StoreError::UnreadableReport { run: record.id, error })?;
    Ok(StoredRun { id: record.id, recorded_at_ms: record.recorded_at_ms, host: record.host, report })
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
