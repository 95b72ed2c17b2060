//! The reading queries, in the SQL both backends speak. Placeholders are written `$1`
//! (PostgreSQL's form); the SQLite backend turns them into `?1`.

pub const INSERT_RUN: &str = "INSERT INTO runs (recorded_at_ms, host, command, outcome, exit_code, exit_signal,
     duration_ms, report, report_digest)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

pub const RUN_BY_DIGEST: &str = "SELECT id FROM runs WHERE report_digest = $1";

pub const INSERT_CRASH: &str = "INSERT INTO crashes (run_id, at_ms, signature, group_id, signal, kind, phase,
     culprit_function, culprit_module, culprit_file, culprit_line, message, test)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Every group: its count and time span, described by its latest crash.
/// Columns: signature, count, first, last, signal, kind, culprit function, module, file,
/// line, message.
pub const GROUPS: &str = "SELECT g.signature, g.n, g.first_ms, g.last_ms, c.signal, c.kind,
        c.culprit_function, c.culprit_module, c.culprit_file, c.culprit_line, c.message
     FROM (SELECT signature, COUNT(*) AS n, MIN(at_ms) AS first_ms, MAX(at_ms) AS last_ms, MAX(id) AS latest
           FROM crashes GROUP BY signature) g
     JOIN crashes c ON c.id = g.latest
     ORDER BY g.last_ms DESC, g.signature";

/// The tests of every group, most recent first. Columns: signature, test.
pub const GROUP_TESTS: &str = "SELECT signature, test FROM crashes WHERE test IS NOT NULL
     GROUP BY signature, test ORDER BY MAX(at_ms) DESC, test";

/// Signatures whose short id starts with $1 (a hex string, checked by the caller).
pub const SIGNATURES_BY_PREFIX: &str =
    "SELECT DISTINCT signature FROM crashes WHERE group_id LIKE $1 ORDER BY signature";

/// Columns: run id, time, host, test, phase.
pub const OCCURRENCES: &str = "SELECT c.run_id, c.at_ms, r.host, c.test, c.phase
     FROM crashes c JOIN runs r ON r.id = c.run_id WHERE c.signature = $1 ORDER BY c.at_ms, c.id";

pub const CRASH_COUNT: &str = "SELECT COUNT(*) FROM crashes WHERE signature = $1";

pub const RUNS_SINCE: &str = "SELECT COUNT(*) FROM runs WHERE recorded_at_ms >= $1";

pub const RUN_COUNT: &str = "SELECT COUNT(*) FROM runs";

/// Columns: id, time, host, report.
pub const RUN_BY_ID: &str = "SELECT id, recorded_at_ms, host, report FROM runs WHERE id = $1";

pub const LATEST_RUN_ID: &str = "SELECT MAX(id) FROM runs";

/// The newest $1 runs, newest first. Columns: id, time, host, command (JSON), outcome, exit
/// code, exit signal, duration.
pub const RUNS: &str = "SELECT id, recorded_at_ms, host, command, outcome, exit_code, exit_signal, duration_ms
     FROM runs ORDER BY id DESC LIMIT $1";

/// The group of every crash of the runs from id $1 on, in each run's report order.
/// Columns: run id, group id.
pub const RUN_GROUPS: &str = "SELECT run_id, group_id FROM crashes WHERE run_id >= $1 ORDER BY run_id, id";

/// Pruning: the crashes, then the runs, recorded before $1.
pub const DELETE_CRASHES_BEFORE: &str =
    "DELETE FROM crashes WHERE run_id IN (SELECT id FROM runs WHERE recorded_at_ms < $1)";
pub const DELETE_RUNS_BEFORE: &str = "DELETE FROM runs WHERE recorded_at_ms < $1";
