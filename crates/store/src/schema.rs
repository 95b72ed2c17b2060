//! The store's tables and how a store moves from one version to the next.
//!
//! Each migration is applied once, in order, inside the transaction that records the new
//! version, so a store is always at exactly one version. A store written by a newer
//! faultline (a higher version than [`LATEST`]) is refused rather than misread.
//!
//! Timestamps are milliseconds since the Unix epoch (UTC) in 64-bit integers, the same in
//! both backends. Groups are not a table: they are the crashes that share a signature,
//! counted when asked, so concurrent writers never update a shared counter.

/// One step forward. Placeholders stand for what the backends spell differently: `{id}` for
/// the auto-increment primary key, `{report_duration_ms}` and `{report_exit_signal}` for
/// `duration_ms` and `exit.signal` read from the `report` column's JSON.
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "
CREATE TABLE runs (
    id {id},
    recorded_at_ms BIGINT NOT NULL,
    host TEXT,
    command TEXT NOT NULL,
    outcome TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX runs_recorded_at ON runs (recorded_at_ms);
CREATE TABLE crashes (
    id {id},
    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at_ms BIGINT NOT NULL,
    signature TEXT NOT NULL,
    group_id TEXT NOT NULL,
    signal TEXT NOT NULL,
    kind TEXT NOT NULL,
    phase TEXT NOT NULL,
    culprit_function TEXT,
    culprit_module TEXT,
    culprit_file TEXT,
    culprit_line INTEGER,
    message TEXT,
    test TEXT
);
CREATE INDEX crashes_signature ON crashes (signature);
CREATE INDEX crashes_group_id ON crashes (group_id);
CREATE INDEX crashes_run_id ON crashes (run_id);
",
    },
    // `faultline crashes runs` lists runs without parsing each report: how long each took
    // and the signal that ended it, taken from the reports already stored.
    Migration {
        version: 2,
        sql: "
ALTER TABLE runs ADD COLUMN duration_ms DOUBLE PRECISION;
ALTER TABLE runs ADD COLUMN exit_signal TEXT;
UPDATE runs SET duration_ms = {report_duration_ms}, exit_signal = {report_exit_signal};
",
    },
    // A report imported twice (`crashes import` of the same file, or of the `--json` file of
    // a run already stored) is one run: the SHA-256 of its JSON finds the earlier one. Runs
    // stored before this version have none.
    Migration {
        version: 3,
        sql: "
ALTER TABLE runs ADD COLUMN report_digest TEXT;
CREATE INDEX runs_report_digest ON runs (report_digest);
",
    },
];

/// The version this build writes and understands.
pub const LATEST: i64 = 3;

/// The table holding the version (one row).
pub const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS faultline_schema (version BIGINT NOT NULL)";

/// The migrations still to apply to a store at `current`.
pub fn pending(current: i64) -> impl Iterator<Item = &'static Migration> {
    MIGRATIONS.iter().filter(move |m| m.version > current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_in_order_and_end_at_latest() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(versions.first(), Some(&1));
        assert_eq!(versions.last(), Some(&LATEST));
        assert_eq!(pending(0).count(), MIGRATIONS.len());
        assert_eq!(pending(LATEST).count(), 0);
    }
}
