use super::*;
use std::fs;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn load(dir: &Path) -> Result<Option<(RunSettings, PathBuf)>, SettingsError> {
    load_project_settings(dir)
}

#[test]
fn overlay_cli_wins_and_env_concatenates() {
    let file = RunSettings {
        timeout: Some(Duration::from_secs(60)),
        headless: Some(true),
        log_keep: Some(3),
        env: vec![("A".into(), "file".into()), ("B".into(), "file".into())],
        ..RunSettings::default()
    };
    let cli = RunSettings {
        timeout: Some(Duration::from_secs(5)),
        headless: Some(false),
        env: vec![("A".into(), "cli".into())],
        ..RunSettings::default()
    };
    let merged = file.overlay(cli);
    assert_eq!(merged.timeout, Some(Duration::from_secs(5)));
    assert_eq!(merged.headless, Some(false));
    assert_eq!(merged.log_keep, Some(3));
    assert_eq!(merged.env, vec![("A".into(), "file".into()), ("B".into(), "file".into()), ("A".into(), "cli".into())]);
}

#[test]
fn every_key_from_pyproject() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "pyproject.toml",
        r#"
[project]
name = "demo"

[tool.faultline]
timeout = "90s"
kill-after = 2
memory-interval = "250ms"
memory-warn = "1GiB"
max-memory = 2147483648
isolate-tmp = true
headless = true
single-thread = false
env = { OMP_NUM_THREADS = 4, MODE = "ci" }
core-dumps = true
max-fds = 1024
log = "logs/run.log"
log-max-size = "1MB"
log-keep = 2
json = "/abs/report.json"
store = "crashes/store.db"
junit = "out/junit.xml"
keep-going = true
variant = "small-pool"

[tool.faultline.variants.small-pool]
POOL_SIZE = "1"
"#,
    );
    let (settings, from) = load(dir.path()).unwrap().unwrap();
    assert_eq!(from, path);
    let expected = RunSettings {
        json: Some(PathBuf::from("/abs/report.json")),
        junit: Some(dir.path().join("out/junit.xml")),
        timeout: Some(Duration::from_secs(90)),
        kill_after: Some(Duration::from_secs(2)),
        memory_interval: Some(Duration::from_millis(250)),
        memory_warn: Some(1 << 30),
        max_memory: Some(2 << 30),
        isolate_tmp: Some(true),
        headless: Some(true),
        single_thread: Some(false),
        env: vec![("MODE".into(), "ci".into()), ("OMP_NUM_THREADS".into(), "4".into())],
        core_dumps: Some(true),
        max_fds: Some(1024),
        log: Some(dir.path().join("logs/run.log")),
        log_max_size: Some(1_000_000),
        log_keep: Some(2),
        store: Some(dir.path().join("crashes/store.db").display().to_string()),
        keep_going: Some(true),
        variant: Some("small-pool".into()),
        variants: vec![("small-pool".into(), vec![("POOL_SIZE".into(), "1".into())])],
    };
    assert_eq!(settings, expected);
}

#[test]
fn bad_variants_name_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "faultline.toml",
        "variant = 3
[variants]
heap-check = { X = \"1\" }
\"bad name\" = { X = \"1\" }
ok = 5
",
    );
    let error = load(dir.path()).unwrap_err().to_string();
    assert!(error.contains("`variant` must be a variant's name"), "{error}");
    assert!(error.contains("`heap-check` is a built-in variant"), "{error}");
    assert!(error.contains("\"bad name\" is not a variant name"), "{error}");
    assert!(error.contains("`variants.ok` must be a table of variables"), "{error}");
}

#[test]
fn store_urls_and_none_are_kept_as_written() {
    for value in ["postgres://ci@db/crashes", "none"] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "faultline.toml", &format!("store = \"{value}\"\n"));
        let (settings, _) = load(dir.path()).unwrap().unwrap();
        assert_eq!(settings.store.as_deref(), Some(value));
    }
}

#[test]
fn pyproject_without_our_table_is_skipped() {
    let outer = tempfile::tempdir().unwrap();
    let inner = outer.path().join("pkg");
    fs::create_dir(&inner).unwrap();
    write(&inner, "pyproject.toml", "[project]\nname = \"demo\"\n[tool.ruff]\nline-length = 100\n");
    let found = load(&inner).unwrap().map(|(_, path)| path);
    assert_ne!(found, Some(inner.join("pyproject.toml")));
    let outer_file = write(outer.path(), "pyproject.toml", "[tool.faultline]\nheadless = true\n");
    let (settings, from) = load(&inner).unwrap().unwrap();
    assert_eq!(from, outer_file);
    assert_eq!(settings.headless, Some(true));
}

#[test]
fn faultline_toml_wins_over_pyproject_in_the_same_dir() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[tool.faultline]\ntimeout = \"1h\"\n");
    let own = write(dir.path(), "faultline.toml", "timeout = \"10s\"\n");
    let (settings, from) = load(dir.path()).unwrap().unwrap();
    assert_eq!(from, own);
    assert_eq!(settings.timeout, Some(Duration::from_secs(10)));
}

#[test]
fn search_goes_upward_and_paths_are_relative_to_the_file() {
    let root = tempfile::tempdir().unwrap();
    let deep = root.path().join("a/b/c");
    fs::create_dir_all(&deep).unwrap();
    let own = write(root.path(), "faultline.toml", "log = \"faultline.log\"\njson = \"out/report.json\"\n");
    // A nearer pyproject without [tool.faultline] does not stop the search.
    write(&root.path().join("a"), "pyproject.toml", "[project]\nname = \"x\"\n");
    let (settings, from) = load(&deep).unwrap().unwrap();
    assert_eq!(from, own);
    assert_eq!(settings.log, Some(root.path().join("faultline.log")));
    assert_eq!(settings.json, Some(root.path().join("out/report.json")));
}

#[test]
fn nearest_file_wins() {
    let root = tempfile::tempdir().unwrap();
    let sub = root.path().join("sub");
    fs::create_dir(&sub).unwrap();
    write(root.path(), "faultline.toml", "timeout = \"1h\"\n");
    let near = write(&sub, "pyproject.toml", "[tool.faultline]\n");
    let (settings, from) = load(&sub).unwrap().unwrap();
    assert_eq!(from, near);
    assert_eq!(settings, RunSettings::default());
}

#[test]
fn unknown_key_names_file_key_suggestion_and_accepted_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pyproject.toml", "[tool.faultline]\nmax_memory = \"1GiB\"\n");
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("[tool.faultline]"), "{err}");
    assert!(err.contains("unknown key `max_memory`"), "{err}");
    assert!(err.contains("did you mean `max-memory`?"), "{err}");
    assert!(err.contains("timeout, kill-after"), "{err}");
}

#[test]
fn tool_table_inside_faultline_toml_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "faultline.toml", "[tool.faultline]\nheadless = true\n");
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("keys go at the top level"), "{err}");
}

#[test]
fn bad_size_says_what_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "faultline.toml", "max-memory = \"2 gigs\"\n");
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("`max-memory`"), "{err}");
    assert!(err.contains("\"2 gigs\""), "{err}");
    assert!(err.contains("512MiB"), "{err}");
}

#[test]
fn wrong_types_say_what_is_accepted() {
    let cases = [
        ("headless = \"yes\"", "`headless` must be true or false, not a string (\"yes\")"),
        ("max-memory = 1.5", "`max-memory` must be a size"),
        ("timeout = true", "`timeout` must be a duration"),
        ("log-keep = -1", "`log-keep`: -1 is out of range"),
        ("env = [\"A=1\"]", "`env` must be a table of variables"),
        ("env = { A = true }", "`env.A` must be a string (or a number), not a boolean (true)"),
        ("env = { \"A=B\" = \"1\" }", "`env.A=B`: environment variable name \"A=B\" contains '='"),
        ("timeout = -5", "`timeout`: -5 is negative"),
        ("timeout = \"90\"", "has no unit"),
        ("log = 3", "`log` must be a path"),
    ];
    for (line, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "faultline.toml", line);
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(expected), "{line}: {err}");
    }
}

#[test]
fn tool_faultline_that_is_not_a_table() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", "[tool]\nfaultline = 3\n");
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("`tool.faultline` must be a table"), "{err}");
}

#[test]
fn invalid_toml_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "faultline.toml", "timeout = \n");
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn relative_start_searches_from_the_current_directory_upward() {
    // `.` must behave like the absolute current directory (ancestors of "." stop at ".").
    let from_dot = load(Path::new(".")).map(|found| found.map(|(_, path)| path)).ok();
    let from_abs = load(&std::env::current_dir().unwrap()).map(|found| found.map(|(_, path)| path)).ok();
    assert_eq!(from_dot, from_abs);
}

#[test]
fn every_bad_key_is_reported_not_only_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "pyproject.toml",
        "[tool.faultline]\nmax_memory = \"1GiB\"\ntimeout = \"90\"\nheadless = \"yes\"\nenv = { A = true, \"B=C\" = \"1\", OK = \"1\" }\nlog-keep = 2\n",
    );
    let err = load(dir.path()).unwrap_err();
    let SettingsError::Invalid { at, problems } = &err else { panic!("{err:?}") };
    assert!(at.starts_with(&path.display().to_string()), "{at}");
    let keys: Vec<&str> = problems
        .iter()
        .map(|p| match p {
            Problem::UnknownKey { key, .. } | Problem::WrongType { key, .. } | Problem::BadValue { key, .. } => {
                key.as_str()
            }
        })
        .collect();
    // toml tables iterate in key order.
    assert_eq!(keys, ["env.A", "env.B=C", "headless", "max_memory", "timeout"], "{err}");
    let text = err.to_string();
    assert!(text.contains("[tool.faultline]: 5 problems:\n  "), "{text}");
    assert!(text.contains("\n  unknown key `max_memory` (did you mean `max-memory`?)"), "{text}");
    assert!(text.contains("\n  `headless` must be true or false"), "{text}");
    assert!(text.ends_with(&format!("\n  (the keys are {})", values::KEYS.join(", "))), "{text}");
}

#[test]
fn values_out_of_range_are_refused_with_the_range() {
    let cases = [
        ("memory-interval = \"0ms\"", "`memory-interval`: 0s is out of range: expected from 10ms to 1m"),
        ("memory-interval = 0", "`memory-interval`: 0s is out of range"),
        ("max-memory = 0", "`max-memory`: 0B is out of range: expected at least 1MiB"),
        ("memory-warn = \"512\"", "`memory-warn`: 512B is out of range: expected at least 1MiB"),
        ("timeout = 0", "`timeout`: 0s is out of range: expected from 1ms to 365d"),
        ("timeout = \"400d\"", "`timeout`: 400d is out of range"),
        ("kill-after = \"2h\"", "`kill-after`: 2h is out of range: expected from 0s to 1h"),
        ("max-fds = 0", "`max-fds`: 0 is out of range: expected at least 4"),
        ("log-keep = 5000", "`log-keep`: 5000 is out of range: expected from 0 to 1000"),
        ("log-max-size = 100", "`log-max-size`: 100B is out of range: expected 0 (never rotate) or at least 512B"),
    ];
    for (line, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "faultline.toml", line);
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(expected), "{line}: {err}");
    }
    // The edges are accepted, and 0 where it means something.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "faultline.toml", "memory-interval = \"10ms\"\nkill-after = 0\nlog-max-size = 0\nlog-keep = 0\n");
    let (settings, _) = load(dir.path()).unwrap().unwrap();
    assert_eq!(settings.memory_interval, Some(Duration::from_millis(10)));
    assert_eq!(settings.kill_after, Some(Duration::ZERO));
    assert_eq!(settings.log_max_size, Some(0));
    assert_eq!(settings.log_keep, Some(0));
}
