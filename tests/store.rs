//! The crash store end to end: the real binary on real corpus crashes, stored in SQLite
//! and in PostgreSQL (when `FAULTLINE_TEST_POSTGRES` names a server; CI always does).

mod common;

use common::{prepare_case, rebuild_case, FAULTLINE};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A fresh, empty store for one test, and how to drop it afterwards.
struct TestStore {
    /// What `--store` gets.
    arg: String,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    TestStore { arg: dir.path().join("crashes.sqlite3").display().to_string(), _dir: dir, postgres: None }
}

fn postgres_store() -> Option<TestStore> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let admin = match std::env::var("FAULTLINE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var("FAULTLINE_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "FAULTLINE_REQUIRE_SERVICES=1 but FAULTLINE_TEST_POSTGRES is not set: source scripts/services.sh"
            );
            eprintln!("skipped: PostgreSQL store tests (set FAULTLINE_TEST_POSTGRES, see scripts/services.sh)");
            return None;
        }
    };
    let name = format!("faultline_it_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect to FAULTLINE_TEST_POSTGRES");
    client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
    let (base, _) = admin.rsplit_once('/').expect("a URL ending in /database");
    Some(TestStore { arg: format!("{base}/{name}"), _dir: tempfile::tempdir().unwrap(), postgres: Some((admin, name)) })
}

fn both_stores() -> Vec<TestStore> {
    std::iter::once(sqlite_store()).chain(postgres_store()).collect()
}

fn run_stored(store: &TestStore, cwd: &Path, extra: &[&str], command: &[&str]) -> Output {
    let mut args = vec!["run", "--store", &store.arg];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(command);
    Command::new(FAULTLINE).args(&args).current_dir(cwd).output().expect("run faultline")
}

fn crashes_json(store: &TestStore, action: &[&str]) -> Value {
    let mut args = vec!["crashes", "--store", &store.arg, "--json"];
    args.extend_from_slice(action);
    let out = Command::new(FAULTLINE).args(&args).output().expect("run faultline crashes");
    assert!(out.status.success(), "faultline {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn groups(store: &TestStore) -> Vec<Value> {
    crashes_json(store, &[])["groups"].as_array().cloned().unwrap_or_default()
}

#[test]
fn one_crash_three_times_is_one_group_and_another_crash_another() {
    let (_null_dir, null_case) = prepare_case("cext-null-deref");
    let (_free_dir, free_case) = prepare_case("double-free");
    for store in both_stores() {
        for _ in 0..3 {
            let out = run_stored(&store, &null_case, &[], &["./run.sh"]);
            assert_eq!(Some(common::shell_status(&out.status)), Some(139), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let after_three = groups(&store);
        assert_eq!(after_three.len(), 1, "{}: {after_three:#?}", store.arg);
        assert_eq!(after_three[0]["count"], 3);
        assert_eq!(after_three[0]["kind"], "null-deref");
        assert_eq!(after_three[0]["culprit_function"], "bytes_per_pixel");

        let out = run_stored(&store, &free_case, &[], &["./run.sh"]);
        assert_eq!(Some(common::shell_status(&out.status)), Some(134), "{}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("stored as run 4"), "{stderr}");
        let all = groups(&store);
        assert_eq!(all.len(), 2, "{all:#?}");
        assert_eq!(all[0]["kind"], "double-free", "most recent first");
        assert_eq!(all[0]["count"], 1);
        assert_eq!(all[1]["count"], 3);

        let id = all[1]["id"].as_str().unwrap();
        let group = crashes_json(&store, &["show", &id[..6]]);
        assert_eq!(group["summary"]["id"], id);
        assert_eq!(group["occurrences"].as_array().unwrap().len(), 3);
        assert_eq!(group["runs_since_first_seen"], 4);
        assert_eq!(group["latest"]["report"]["crashes"][0]["kind"], "null-deref");
    }
}

/// The extension rebuilt with its code moved (a new function in the source, another base
/// address at link time): every address differs, the group does not.
#[test]
fn the_signature_survives_a_rebuild_that_moves_the_code() {
    let (_dir, case) = prepare_case("cext-null-deref");
    let store = sqlite_store();
    let before = symbol_offset(&case, "bytes_per_pixel");
    run_stored(&store, &case, &[], &["./run.sh"]);

    let source = case.join("_pixfmt.c");
    let original = std::fs::read_to_string(&source).unwrap();
    let padding = "__attribute__((used)) static volatile int pad_sink;\n\
        __attribute__((used, noinline)) static void padding(int n) {\n"
        .to_owned()
        + &(0..400).map(|i| format!("    if (n == {i}) pad_sink = {i} * n;\n")).collect::<String>()
        + "}\n";
    let at = original.find("static const format_info *find_format").expect("find_format in the source");
    std::fs::write(&source, format!("{}{padding}{}", &original[..at], &original[at..])).unwrap();
    // And linked for another base address.
    let build = case.join("build.sh");
    let script = std::fs::read_to_string(&build).unwrap();
    assert!(script.contains(" -shared "), "build.sh links with -shared");
    std::fs::write(&build, script.replace(" -shared ", " -shared -Wl,-Ttext-segment=0x40000000 ")).unwrap();
    rebuild_case(&case);
    let after = symbol_offset(&case, "bytes_per_pixel");
    assert_ne!(before, after, "the rebuild should move bytes_per_pixel");
    run_stored(&store, &case, &[], &["./run.sh"]);

    let all = groups(&store);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["count"], 2);
}

/// The offset of a function in the case's extension, from `nm`.
fn symbol_offset(case: &Path, function: &str) -> String {
    let so = std::fs::read_dir(case)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "so"))
        .expect("the built extension");
    let out = Command::new("nm").arg(&so).output().expect("run nm");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.ends_with(&format!(" {function}")))
        .unwrap_or_else(|| panic!("{function} not in nm output:\n{text}"))
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

/// Ten runs finishing at once: every one stored, none lost, one group of ten.
#[test]
fn ten_runs_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for store in both_stores() {
        let children: Vec<_> = (0..10)
            .map(|_| {
                Command::new(FAULTLINE)
                    .args(["run", "--store", &store.arg, "--", "python3", "-c", "import ctypes; ctypes.string_at(0)"])
                    .current_dir(dir.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start faultline")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(Some(common::shell_status(&out.status)), Some(139), "{stderr}");
            assert!(stderr.contains("stored as run"), "{stderr}");
        }
        let listing = crashes_json(&store, &[]);
        assert_eq!(listing["runs"], 10, "{}: {listing:#}", store.arg);
        assert_eq!(listing["groups"].as_array().unwrap().len(), 1);
        assert_eq!(listing["groups"][0]["count"], 10);
    }
}

/// `crashes import` killed again and again in the middle of writing: what was written is
/// whole (every stored run has its crash), and the SQLite file passes its integrity check.
#[test]
fn a_writer_killed_mid_write_corrupts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store();
    let report = dir.path().join("report.json");
    let out = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--json", report.to_str().unwrap(), "--", "python3", "-c"])
        .arg("import ctypes; ctypes.string_at(0)")
        .output()
        .unwrap();
    assert_eq!(Some(common::shell_status(&out.status)), Some(139));
    let files: Vec<String> = (0..200).map(|_| report.display().to_string()).collect();
    for round in 0..8u64 {
        let mut child = Command::new(FAULTLINE)
            .args(["crashes", "--store", &store.arg, "import"])
            .args(&files)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 + round * 15));
        let _ = child.kill();
        let _ = child.wait();
    }
    let conn = rusqlite::Connection::open(&store.arg).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let runs: i64 = conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0)).unwrap();
    let crashes: i64 = conn.query_row("SELECT COUNT(*) FROM crashes", [], |r| r.get(0)).unwrap();
    assert!(runs > 0, "no import got through in 8 rounds");
    assert_eq!(runs, crashes, "a run without its crash (or the reverse) was left behind");
    drop(conn);
    let listing = crashes_json(&store, &[]);
    assert_eq!(listing["groups"][0]["count"].as_i64(), Some(runs));
}

/// A store that cannot be reached loses nothing: the report is kept aside, the exit status
/// is the command's, and the kept report imports later.
#[test]
fn an_unreachable_store_keeps_the_report_aside() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(FAULTLINE)
        .args(["run", "--store", "postgres://nobody:pw@127.0.0.1:9/none", "--", "python3", "-c"])
        .arg("import ctypes; ctypes.string_at(0)")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(Some(common::shell_status(&out.status)), Some(139), "{stderr}");
    assert!(stderr.contains("could not store the report in postgres://nobody:[redacted]@127.0.0.1:9/none"), "{stderr}");
    assert!(!stderr.contains(":pw@"), "the password must not be shown: {stderr}");
    let kept: Vec<_> =
        std::fs::read_dir(dir.path().join(".faultline/unstored")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(dir.path().join(".faultline/.gitignore").is_file());

    let store = sqlite_store();
    let import =
        Command::new(FAULTLINE).args(["crashes", "--store", &store.arg, "import"]).arg(&kept[0]).output().unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    assert_eq!(groups(&store)[0]["kind"], "null-deref");
}

/// Secrets in argv are hidden in the store unless --no-redact.
#[test]
fn the_store_keeps_secrets_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let crash = ["python3", "-c", "import ctypes; ctypes.string_at(0)", "API_TOKEN=hunter2-secret"];
    for (flags, shown) in [(&[][..], false), (&["--no-redact"][..], true)] {
        let store = sqlite_store();
        run_stored(&store, dir.path(), flags, &crash);
        let id = groups(&store)[0]["id"].as_str().unwrap().to_owned();
        let text = crashes_json(&store, &["show", &id]).to_string();
        assert_eq!(text.contains("hunter2-secret"), shown, "{flags:?}: {text}");
        let raw = std::fs::read(&store.arg).unwrap();
        let in_file = raw.windows(14).any(|w| w == b"hunter2-secret");
        assert_eq!(in_file, shown, "{flags:?}: the database file itself");
    }
}

#[test]
fn clear_errors_for_what_users_get_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(FAULTLINE).args(args).current_dir(dir.path()).output().unwrap();
        (Some(common::shell_status(&out.status)), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&["crashes"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no crash store at .faultline/crashes.sqlite3 yet"), "{err}");

    let store = sqlite_store();
    run_stored(&store, dir.path(), &[], &["python3", "-c", "import ctypes; ctypes.string_at(0)"]);
    let (code, err) = run(&["crashes", "--store", &store.arg, "show", "zz"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("`zz` is not a run number or a group id"), "{err}");
    let (code, err) = run(&["crashes", "--store", &store.arg, "show", "0000000"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no crash group matches `0000000`"), "{err}");

    let pruned = Command::new(FAULTLINE)
        .args(["crashes", "--store", &store.arg, "prune", "--older-than", "1h"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&pruned.stdout).starts_with("removed 0 runs and 0 crashes stored more than 1h"));
    let (code, err) = run(&["crashes", "--store", &store.arg, "prune", "--older-than", "soon"]);
    assert_eq!(code, Some(2), "{err}");

    std::fs::write(dir.path().join("not-a-report.json"), "{\"hello\": 1}").unwrap();
    let (code, err) = run(&["crashes", "--store", &store.arg, "import", "not-a-report.json"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a faultline report"), "{err}");
}
