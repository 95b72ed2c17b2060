//! The embedded store: one SQLite file, safe for many writers at once.
//!
//! WAL journaling lets readers run beside a writer; every write is an `IMMEDIATE`
//! transaction (it takes the write lock up front, so two writers never both hold a read
//! lock and deadlock on the upgrade), and a busy store is waited for rather than failed.
//! A process killed mid-transaction leaves nothing behind: SQLite rolls it back.

use super::backend::{Backend, GroupRow, OccurrenceRow, RunListRow, RunRecord, SavedRun};
use super::rows::{CrashRow, RunRow};
use super::{queries, schema, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// How long a writer waits for another to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct SqliteBackend {
    conn: Connection,
}

impl SqliteBackend {
    pub fn open(path: &Path) -> Result<SqliteBackend, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            super::location::create_store_dir(dir).map_err(|error| StoreError::Io { path: dir.to_owned(), error })?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Returns the mode as a row; WAL persists in the file once set.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        let mut backend = SqliteBackend { conn };
        backend.migrate()?;
        Ok(backend)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(schema::VERSION_TABLE, [])?;
        let current: Option<i64> = tx.query_row("SELECT MAX(version) FROM faultline_schema", [], |r| r.get(0))?;
        let current = current.unwrap_or(0);
        if current > schema::LATEST {
            return Err(StoreError::TooNew { found: current, supported: schema::LATEST });
        }
        for migration in schema::pending(current) {
            tx.execute_batch(&migration_sql(migration.sql))?;
            tx.execute("DELETE FROM faultline_schema", [])?;
            tx.execute("INSERT INTO faultline_schema (version) VALUES (?1)", [migration.version])?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// A migration in SQLite's words (see [`schema::Migration`]).
fn migration_sql(sql: &str) -> String {
    sql.replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT")
        .replace("{report_duration_ms}", "json_extract(report, '$.duration_ms')")
        .replace("{report_exit_signal}", "json_extract(report, '$.exit.signal')")
}

/// `$1` → `?1`: the shared queries use PostgreSQL's placeholders.
fn sql(query: &str) -> String {
    query.replace('$', "?")
}

impl Backend for SqliteBackend {
    fn save(&mut self, run: &RunRow, crashes: &[CrashRow], once: bool) -> Result<SavedRun, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if once {
            let earlier: Option<i64> =
                tx.query_row(&sql(queries::RUN_BY_DIGEST), params![run.report_digest], |r| r.get(0)).optional()?;
            if let Some(run_id) = earlier {
                return Ok(SavedRun::AlreadyStored(run_id));
            }
        }
        let run_id: i64 = tx.query_row(
            &sql(queries::INSERT_RUN),
            params![
                run.recorded_at_ms,
                run.host,
                run.command,
                run.outcome,
                run.exit_code,
                run.exit_signal,
                run.duration_ms,
                run.report,
                run.report_digest
            ],
            |r| r.get(0),
        )?;
        {
            let mut insert = tx.prepare(&sql(queries::INSERT_CRASH))?;
            for c in crashes {
                insert.execute(params![
                    run_id,
                    run.recorded_at_ms,
                    c.signature,
                    c.group_id,
                    c.signal,
                    c.kind,
                    c.phase,
                    c.culprit_function,
                    c.culprit_module,
                    c.culprit_file,
                    c.culprit_line,
                    c.message,
                    c.test,
                ])?;
            }
        }
        tx.commit()?;
        Ok(SavedRun::New(run_id))
    }

    fn groups(&mut self) -> Result<Vec<GroupRow>, StoreError> {
        let mut stmt = self.conn.prepare(queries::GROUPS)?;
        let rows = stmt.query_map([], |r| {
            Ok(GroupRow {
                signature: r.get(0)?,
                count: r.get(1)?,
                first_ms: r.get(2)?,
                last_ms: r.get(3)?,
                signal: r.get(4)?,
                kind: r.get(5)?,
                culprit_function: r.get(6)?,
                culprit_module: r.get(7)?,
                culprit_file: r.get(8)?,
                culprit_line: r.get(9)?,
                message: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn group_tests(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare(queries::GROUP_TESTS)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn signatures_by_prefix(&mut self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(&sql(queries::SIGNATURES_BY_PREFIX))?;
        let rows = stmt.query_map([format!("{prefix}%")], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn occurrences(&mut self, signature: &str) -> Result<Vec<OccurrenceRow>, StoreError> {
        let mut stmt = self.conn.prepare(&sql(queries::OCCURRENCES))?;
        let rows = stmt.query_map([signature], |r| {
            Ok(OccurrenceRow {
                run_id: r.get(0)?,
                at_ms: r.get(1)?,
                host: r.get(2)?,
                test: r.get(3)?,
                phase: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn crash_count(&mut self, signature: &str) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(&sql(queries::CRASH_COUNT), [signature], |r| r.get(0))?)
    }

    fn runs_since(&mut self, at_ms: i64) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(&sql(queries::RUNS_SINCE), [at_ms], |r| r.get(0))?)
    }

    fn run_count(&mut self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(queries::RUN_COUNT, [], |r| r.get(0))?)
    }

    fn run(&mut self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(&sql(queries::RUN_BY_ID), [id], |r| {
                Ok(RunRecord { id: r.get(0)?, recorded_at_ms: r.get(1)?, host: r.get(2)?, report: r.get(3)? })
            })
            .optional()?)
    }

    fn prune(&mut self, before_ms: i64) -> Result<(u64, u64), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let crashes = tx.execute(&sql(queries::DELETE_CRASHES_BEFORE), [before_ms])?;
        let runs = tx.execute(&sql(queries::DELETE_RUNS_BEFORE), [before_ms])?;
        tx.commit()?;
        Ok((runs as u64, crashes as u64))
    }

    fn latest_run_id(&mut self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(queries::LATEST_RUN_ID, [], |r| r.get(0))?)
    }

    fn runs(&mut self, limit: i64) -> Result<Vec<RunListRow>, StoreError> {
        let mut stmt = self.conn.prepare(&sql(queries::RUNS))?;
        let rows = stmt.query_map([limit], |r| {
            Ok(RunListRow {
                id: r.get(0)?,
                recorded_at_ms: r.get(1)?,
                host: r.get(2)?,
                command: r.get(3)?,
                outcome: r.get(4)?,
                exit_code: r.get(5)?,
                exit_signal: r.get(6)?,
                duration_ms: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn run_groups(&mut self, first_run: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self.conn.prepare(&sql(queries::RUN_GROUPS))?;
        let rows = stmt.query_map([first_run], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
