//! The shared store: PostgreSQL, so that many CI machines keep their crashes in one place.
//!
//! Each save is one transaction. Migrations take a transaction-scoped advisory lock first,
//! so machines starting at once against a new database create the tables exactly once.

use super::backend::{Backend, GroupRow, OccurrenceRow, RunListRow, RunRecord, SavedRun};
use super::rows::{CrashRow, RunRow};
use super::{queries, schema, StoreError};
use postgres::{Client, Config, NoTls};
use std::time::Duration;

/// A store that does not answer should not hold up the end of a CI job for long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Any fixed number, the same in every faultline: the key of the migration lock.
const MIGRATION_LOCK: i64 = 0x6661_756c_746c_696e; // "faultlin"

pub struct PostgresBackend {
    client: Client,
}

impl PostgresBackend {
    pub fn connect(url: &str) -> Result<PostgresBackend, StoreError> {
        let mut config: Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("faultline");
        }
        let client = config.connect(NoTls)?;
        let mut backend = PostgresBackend { client };
        backend.migrate()?;
        Ok(backend)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(schema::VERSION_TABLE)?;
        let current: Option<i64> = tx.query_one("SELECT MAX(version) FROM faultline_schema", &[])?.get(0);
        let current = current.unwrap_or(0);
        if current > schema::LATEST {
            return Err(StoreError::TooNew { found: current, supported: schema::LATEST });
        }
        for migration in schema::pending(current) {
            tx.batch_execute(&migration_sql(migration.sql))?;
            tx.execute("DELETE FROM faultline_schema", &[])?;
            tx.execute("INSERT INTO faultline_schema (version) VALUES ($1)", &[&migration.version])?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// A migration in PostgreSQL's words (see [`schema::Migration`]).
fn migration_sql(sql: &str) -> String {
    sql.replace("{id}", "BIGSERIAL PRIMARY KEY")
        .replace("{report_duration_ms}", &format!("CAST({REPORT_JSON} ->> 'duration_ms' AS DOUBLE PRECISION)"))
        .replace("{report_exit_signal}", &format!("{REPORT_JSON} -> 'exit' ->> 'signal'"))
}

/// The `report` column as `json`. PostgreSQL's JSON operators refuse a document holding the
/// escape `\u0000` (a NUL in a stderr line, say), so it becomes `\ufffd` first: the same
/// length and shape, and valid wherever the original was (an escaped backslash before
/// `u0000` stays one), in text these reads never look at.
/// (E-strings: the backslash is the same whatever `standard_conforming_strings` says.)
const REPORT_JSON: &str = r"CAST(REPLACE(report, E'\\u0000', E'\\ufffd') AS json)";

impl Backend for PostgresBackend {
    fn save(&mut self, run: &RunRow, crashes: &[CrashRow], once: bool) -> Result<SavedRun, StoreError> {
        let mut tx = self.client.transaction()?;
        if once {
            if let Some(row) = tx.query_opt(queries::RUN_BY_DIGEST, &[&run.report_digest])? {
                return Ok(SavedRun::AlreadyStored(row.get(0)));
            }
        }
        let run_id: i64 = tx
            .query_one(
                queries::INSERT_RUN,
                &[
                    &run.recorded_at_ms,
                    &run.host,
                    &run.command,
                    &run.outcome,
                    &run.exit_code,
                    &run.exit_signal,
                    &run.duration_ms,
                    &run.report,
                    &run.report_digest,
                ],
            )?
            .get(0);
        let insert = tx.prepare(queries::INSERT_CRASH)?;
        for c in crashes {
            tx.execute(
                &insert,
                &[
                    &run_id,
                    &run.recorded_at_ms,
                    &c.signature,
                    &c.group_id,
                    &c.signal,
                    &c.kind,
                    &c.phase,
                    &c.culprit_function,
                    &c.culprit_module,
                    &c.culprit_file,
                    &c.culprit_line,
                    &c.message,
                    &c.test,
                ],
            )?;
        }
        tx.commit()?;
        Ok(SavedRun::New(run_id))
    }

    fn groups(&mut self) -> Result<Vec<GroupRow>, StoreError> {
        let rows = self.client.query(queries::GROUPS, &[])?;
        Ok(rows
            .iter()
            .map(|r| GroupRow {
                signature: r.get(0),
                count: r.get(1),
                first_ms: r.get(2),
                last_ms: r.get(3),
                signal: r.get(4),
                kind: r.get(5),
                culprit_function: r.get(6),
                culprit_module: r.get(7),
                culprit_file: r.get(8),
                culprit_line: r.get(9),
                message: r.get(10),
            })
            .collect())
    }

    fn group_tests(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self.client.query(queries::GROUP_TESTS, &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn signatures_by_prefix(&mut self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let pattern = format!("{prefix}%");
        let rows = self.client.query(queries::SIGNATURES_BY_PREFIX, &[&pattern])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn occurrences(&mut self, signature: &str) -> Result<Vec<OccurrenceRow>, StoreError> {
        let rows = self.client.query(queries::OCCURRENCES, &[&signature])?;
        Ok(rows
            .iter()
            .map(|r| OccurrenceRow {
                run_id: r.get(0),
                at_ms: r.get(1),
                host: r.get(2),
                test: r.get(3),
                phase: r.get(4),
            })
            .collect())
    }

    fn crash_count(&mut self, signature: &str) -> Result<i64, StoreError> {
        Ok(self.client.query_one(queries::CRASH_COUNT, &[&signature])?.get(0))
    }

    fn runs_since(&mut self, at_ms: i64) -> Result<i64, StoreError> {
        Ok(self.client.query_one(queries::RUNS_SINCE, &[&at_ms])?.get(0))
    }

    fn run_count(&mut self) -> Result<i64, StoreError> {
        Ok(self.client.query_one(queries::RUN_COUNT, &[])?.get(0))
    }

    fn run(&mut self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        let row = self.client.query_opt(queries::RUN_BY_ID, &[&id])?;
        Ok(row.map(|r| RunRecord { id: r.get(0), recorded_at_ms: r.get(1), host: r.get(2), report: r.get(3) }))
    }

    fn prune(&mut self, before_ms: i64) -> Result<(u64, u64), StoreError> {
        let mut tx = self.client.transaction()?;
        let crashes = tx.execute(queries::DELETE_CRASHES_BEFORE, &[&before_ms])?;
        let runs = tx.execute(queries::DELETE_RUNS_BEFORE, &[&before_ms])?;
        tx.commit()?;
        Ok((runs, crashes))
    }

    fn latest_run_id(&mut self) -> Result<Option<i64>, StoreError> {
        Ok(self.client.query_one(queries::LATEST_RUN_ID, &[])?.get(0))
    }

    fn runs(&mut self, limit: i64) -> Result<Vec<RunListRow>, StoreError> {
        let rows = self.client.query(queries::RUNS, &[&limit])?;
        Ok(rows
            .iter()
            .map(|r| RunListRow {
                id: r.get(0),
                recorded_at_ms: r.get(1),
                host: r.get(2),
                command: r.get(3),
                outcome: r.get(4),
                exit_code: r.get(5),
                exit_signal: r.get(6),
                duration_ms: r.get(7),
            })
            .collect())
    }

    fn run_groups(&mut self, first_run: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = self.client.query(queries::RUN_GROUPS, &[&first_run])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
