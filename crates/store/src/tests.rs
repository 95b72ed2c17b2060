//! The store's behaviour, the same on both backends. PostgreSQL tests need a server:
//! `FAULTLINE_TEST_POSTGRES` names one (a URL whose user may create databases; each test
//! gets a database of its own). Without it they are skipped with a message, unless
//! `FAULTLINE_REQUIRE_SERVICES=1` (CI) makes that a failure.

use super::*;
use crate::diagnose::fixtures::{self, report};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh store per backend: SQLite always, PostgreSQL when a server is configured.
struct Fresh {
    location: Location,
    _dir: Option<tempfile::TempDir>,
    drop_database: Option<(String, String)>,
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_database.take() {
            if let Ok(mut client) = ::postgres::Client::connect(&admin, ::postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

fn stores() -> Vec<Fresh> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![Fresh {
        location: Location::Sqlite(dir.path().join(".faultline/crashes.sqlite3")),
        _dir: Some(dir),
        drop_database: None,
    }];
    if let Some(pg) = postgres_store() {
        out.push(pg);
    }
    out
}

pub(crate) fn postgres_admin_url() -> Option<String> {
    match std::env::var("FAULTLINE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("FAULTLINE_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FAULTLINE_REQUIRE_SERVICES=1 but FAULTLINE_TEST_POSTGRES is not set: source scripts/services.sh"
            );
            eprintln!("skipped: the PostgreSQL store tests (set FAULTLINE_TEST_POSTGRES, see scripts/services.sh)");
            None
        }
    }
}

fn postgres_store() -> Option<Fresh> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let admin = postgres_admin_url()?;
    let name = format!("faultline_unit_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let mut client =
        ::postgres::Client::connect(&admin, ::postgres::NoTls).expect("connect to FAULTLINE_TEST_POSTGRES");
    client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
    let (base, _db) = admin.rsplit_once('/').expect("a URL ending in /database");
    Some(Fresh {
        location: Location::Postgres(format!("{base}/{name}")),
        _dir: None,
        drop_database: Some((admin.clone(), name)),
    })
}

#[test]
fn the_same_crash_three_times_is_one_group_of_three() {
    for fresh in stores() {
        let mut store = Store::open(&fresh.location).unwrap();
        let crash = report(&[fixtures::pytest_null_deref()]);
        for _ in 0..3 {
            store.save(&crash).unwrap();
        }
        let saved = store.save(&report(&[fixtures::double_free()])).unwrap();
        store.save(&report(&[])).unwrap();
        assert_eq!(saved.run_id, 4, "{:?}", fresh.location);
        assert_eq!(saved.groups.len(), 1);
        assert_eq!(saved.groups[0].1, 1);

        let groups = store.groups().unwrap();
        assert_eq!(groups.len(), 2, "{:?}", fresh.location);
        // Most recently seen first.
        assert_eq!(groups[0].kind, "double-free");
        let null = &groups[1];
        assert_eq!(null.count, 3);
        assert_eq!(null.kind, "null-deref");
        assert_eq!(null.signature, crash.crashes[0].signature);
        assert_eq!(null.id, group_id(&crash.crashes[0].signature));
        assert_eq!(null.tests, vec![crash.crashes[0].test.as_ref().unwrap().nodeid.clone()]);
        assert!(null.culprit_function.is_some());
        assert!(null.first_seen_ms <= null.last_seen_ms);
        assert_eq!(store.run_count().unwrap(), 5);
    }
}

#[test]
fn a_group_has_its_occurrences_and_latest_report() {
    for fresh in stores() {
        let mut store = Store::open(&fresh.location).unwrap();
        let crash = report(&[fixtures::pytest_null_deref()]);
        store.save(&crash).unwrap();
        store.save(&report(&[])).unwrap();
        let second = store.save(&crash).unwrap();
        let id = group_id(&crash.crashes[0].signature).to_owned();
        let group = store.group(&id[..6]).unwrap();
        assert_eq!(group.summary.count, 2);
        assert_eq!(group.occurrences.len(), 2);
        assert_eq!(group.occurrences[1].run_id, second.run_id);
        assert_eq!(group.occurrences[0].phase, "test");
        assert_eq!(group.runs_since_first_seen, 3);
        assert_eq!(group.latest.id, second.run_id);
        assert_eq!(group.latest.report, crash);
    }
}

#[test]
fn one_group_is_summed_up_as_the_list_sums_it_up() {
    for fresh in stores() {
        let mut store = Store::open(&fresh.location).unwrap();
        let mut other_test = report(&[fixtures::pytest_null_deref()]);
        other_test.crashes[0].test.as_mut().unwrap().nodeid = "tests/test_z.py::test_other".into();
        store.save(&report(&[fixtures::pytest_null_deref()])).unwrap();
        // Stored a moment later, so that "most recent first" is not a tie.
        std::thread::sleep(std::time::Duration::from_millis(5));
        store.save(&other_test).unwrap();
        store.save(&report(&[fixtures::fpe()])).unwrap();
        for listed in store.groups().unwrap() {
            let shown = store.group(&listed.id).unwrap().summary;
            assert_eq!(
                serde_json::to_value(&shown).unwrap(),
                serde_json::to_value(&listed).unwrap(),
                "{:?}",
                fresh.location
            );
        }
        let null = store.group(group_id(&other_test.crashes[0].signature)).unwrap();
        assert_eq!(null.summary.tests.len(), 2);
        assert_eq!(null.summary.tests[0], "tests/test_z.py::test_other", "most recent first");
    }
}

#[test]
fn ids_resolve_to_runs_and_groups() {
    for fresh in stores() {
        let mut store = Store::open(&fresh.location).unwrap();
        assert!(matches!(store.resolve(None), Err(StoreError::Empty)));
        let crash = report(&[fixtures::fpe()]);
        let saved = store.save(&crash).unwrap();
        let id = group_id(&crash.crashes[0].signature).to_owned();
        assert!(matches!(store.resolve(None).unwrap(), Target::Run(r) if r.id == saved.run_id));
        assert!(matches!(store.resolve(Some("1")).unwrap(), Target::Run(r) if r.id == 1));
        assert!(matches!(store.resolve(Some("run:1")).unwrap(), Target::Run(_)));
        assert!(matches!(store.resolve(Some(&id)).unwrap(), Target::Group(g) if g.summary.id == id));
        assert!(matches!(store.resolve(Some(&format!("group:{}", &id[..4]))).unwrap(), Target::Group(_)));
        assert!(matches!(store.resolve(Some("7")), Err(StoreError::NoSuchRun(7))));
        assert!(matches!(store.resolve(Some("ffff")), Err(StoreError::NoSuchGroup(_))) || id.starts_with("ffff"));
        assert!(matches!(store.resolve(Some("xyz")), Err(StoreError::BadId(_))));
        assert!(matches!(store.group("ab"), Err(StoreError::BadId(_))));
    }
}

#[test]
fn reopening_keeps_everything_and_does_not_migrate_twice() {
    for fresh in stores() {
        Store::open(&fresh.location).unwrap().save(&report(&[fixtures::c_assert()])).unwrap();
        let mut again = Store::open(&fresh.location).unwrap();
        assert_eq!(again.groups().unwrap().len(), 1);
        assert_eq!(again.run_count().unwrap(), 1);
    }
}

#[test]
fn pruning_forgets_old_runs_and_their_crashes() {
    for fresh in stores() {
        let mut store = Store::open(&fresh.location).unwrap();
        store.save(&report(&[fixtures::fpe()])).unwrap();
        store.save(&report(&[])).unwrap();
        assert_eq!(store.prune(std::time::Duration::from_secs(3600)).unwrap(), (0, 0));
        std::thread::sleep(std::time::Duration::from_millis(400));
        let kept = store.save(&report(&[fixtures::c_assert()])).unwrap();
        // Everything older than 200 ms: the first two runs, not the one just saved.
        assert_eq!(store.prune(std::time::Duration::from_millis(200)).unwrap(), (2, 1), "{:?}", fresh.location);
        let groups = store.groups().unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].kind, "assert");
        assert_eq!(store.run_count().unwrap(), 1);
        assert!(store.run(kept.run_id).is_ok());
    }
}

#[test]
fn a_store_from_a_newer_faultline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    Store::open(&Location::Sqlite(path.clone())).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE faultline_schema SET version = 99", []).unwrap();
    drop(conn);
    let err = Store::open(&Location::Sqlite(path)).err().expect("refused");
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }));
    assert!(err.to_string().contains("upgrade faultline"), "{err}");
}

#[test]
fn the_default_folder_ignores_itself_in_git() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(&Location::default_for(dir.path())).unwrap();
    let ignore = std::fs::read_to_string(dir.path().join(".faultline/.gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "*"));
}

#[test]
fn an_unreachable_postgres_is_a_clear_error() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    let err = Store::open(&Location::Postgres("postgres://u:p@127.0.0.1:9/db".into())).err().expect("fails");
    let text = err.to_string();
    assert!(text.contains("connect") || text.contains("refused"), "{text}");
}

/// A run that ended some other way than by crashing or passing, as the runner reports it.
fn ended(outcome: crate::model::Outcome, code: i32, signal: Option<&str>, duration_ms: f64) -> Report {
    let mut report = report(&[]);
    report.outcome = outcome;
    report.exit.code = code;
    report.exit.signal = signal.map(str::to_owned);
    report.duration_ms = duration_ms;
    report
}

#[test]
fn every_run_is_listed_with_how_it_ended_newest_first() {
    use crate::model::Outcome;
    for fresh in stores() {
        let mut store = Store::open(&fresh.location).unwrap();
        assert_eq!(store.runs(None).unwrap(), vec![], "{:?}", fresh.location);
        let two_crashes = report(&[fixtures::pytest_null_deref(), fixtures::fpe(), fixtures::pytest_null_deref()]);
        store.save(&two_crashes).unwrap();
        store.save(&ended(Outcome::Timeout, 143, Some("SIGTERM"), 1000.5)).unwrap();
        store.save(&ended(Outcome::Oom, 137, Some("SIGKILL"), 2500.0)).unwrap();
        store.save(&ended(Outcome::Failed, 3, None, 12.0)).unwrap();
        store.save(&report(&[])).unwrap();

        let runs = store.runs(None).unwrap();
        let seen: Vec<(i64, &str, i32, Option<&str>)> =
            runs.iter().map(|r| (r.id, r.outcome.as_str(), r.exit_code, r.exit_signal.as_deref())).collect();
        assert_eq!(
            seen,
            [
                (5, "passed", 0, None),
                (4, "failed", 3, None),
                (3, "oom", 137, Some("SIGKILL")),
                (2, "timeout", 143, Some("SIGTERM")),
                (1, "crashed", 139, Some("SIGSEGV")),
            ],
            "{:?}",
            fresh.location
        );
        assert_eq!(runs[3].duration_ms, Some(1000.5));
        assert_eq!(runs[4].command, two_crashes.command);
        assert!(runs[..4].iter().all(|r| r.groups.is_empty()));
        // One entry per group, in report order, though the null deref crashed twice.
        let expected: Vec<String> =
            two_crashes.crashes[..2].iter().map(|c| group_id(&c.signature).to_owned()).collect();
        assert_eq!(runs[4].groups, expected);

        let newest_two: Vec<i64> = store.runs(Some(2)).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(newest_two, [5, 4]);
    }
}

/// A store as faultline wrote it before `runs` had a duration: migration 1 only, with one
/// crashed run in it.
fn write_version_1_store(location: &Location, report_json: &str) {
    let v1 = &schema::MIGRATIONS[0];
    assert_eq!(v1.version, 1);
    let insert_run = "INSERT INTO runs (recorded_at_ms, host, command, outcome, exit_code, report)
         VALUES (1000, 'ci-1', '[\"python3\"]', 'crashed', 139, $1)";
    match location {
        Location::Sqlite(path) => {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.execute_batch(schema::VERSION_TABLE).unwrap();
            conn.execute_batch(&v1.sql.replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT")).unwrap();
            conn.execute("INSERT INTO faultline_schema (version) VALUES (1)", []).unwrap();
            conn.execute(&insert_run.replace('$', "?"), [report_json]).unwrap();
        }
        Location::Postgres(url) => {
            let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
            client.batch_execute(schema::VERSION_TABLE).unwrap();
            client.batch_execute(&v1.sql.replace("{id}", "BIGSERIAL PRIMARY KEY")).unwrap();
            client.execute("INSERT INTO faultline_schema (version) VALUES (1)", &[]).unwrap();
            client.execute(insert_run, &[&report_json]).unwrap();
        }
    }
}

#[test]
fn a_version_1_store_gets_the_duration_and_signal_of_its_runs_from_their_reports() {
    for fresh in stores() {
        let mut old = report(&[fixtures::fpe()]);
        old.duration_ms = 1234.5;
        // A NUL in a stderr line is valid JSON that PostgreSQL's jsonb would refuse.
        old.crashes[0].message = Some("bad\0byte".into());
        write_version_1_store(&fresh.location, &serde_json::to_string(&old).unwrap());

        let mut store = Store::open(&fresh.location).unwrap();
        let runs = store.runs(None).unwrap();
        assert_eq!(runs.len(), 1, "{:?}", fresh.location);
        assert_eq!(runs[0].duration_ms, Some(1234.5), "{:?}", fresh.location);
        assert_eq!(runs[0].exit_signal.as_deref(), Some("SIGSEGV"));
        assert_eq!(runs[0].host.as_deref(), Some("ci-1"));
        assert_eq!(store.run(runs[0].id).unwrap().report, old);
        // New runs go on from there.
        assert_eq!(store.save(&report(&[])).unwrap().run_id, 2);
    }
}
