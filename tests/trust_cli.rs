//! Issue 9, part D (the command line): what a new user types wrong is a usage error that
//! says what to type, before anything runs; every run can be found again in the store; the
//! report says which settings file it applied. Each test runs the real binary.

mod common;

use common::FAULTLINE;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn faultline(args: &[&str], cwd: &Path) -> Output {
    Command::new(FAULTLINE).args(args).current_dir(cwd).output().expect("run faultline")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn status(output: &Output) -> i32 {
    output.status.code().unwrap_or_else(|| panic!("faultline died: {:?}\n{}", output.status, stderr(output)))
}

/// `args`, then a command that leaves `ran` behind if it ever starts.
fn with_marker_command<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--", "touch", "ran"]);
    all
}

#[test]
fn a_mistyped_option_is_a_usage_error_and_the_command_does_not_run() {
    for subcommand in [&["run", "--no-store"][..], &["stress", "--no-store", "-n", "1"]] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = subcommand.to_vec();
        args.extend(["--timout", "3s"]);
        let output = faultline(&with_marker_command(&args), dir.path());
        let text = stderr(&output);
        assert_eq!(status(&output), 2, "{subcommand:?}: {text}");
        assert!(text.contains("unknown option `--timout`"), "{text}");
        assert!(text.contains("did you mean `--timeout`?"), "{text}");
        assert_eq!(text.lines().count(), 1, "one line: {text}");
        assert!(!dir.path().join("ran").exists(), "{subcommand:?}: the mistyped option ran as the command");
    }
}

#[test]
fn an_unknown_short_option_says_where_a_dashed_command_goes() {
    let dir = tempfile::tempdir().unwrap();
    let output = faultline(&with_marker_command(&["run", "--no-store", "-x"]), dir.path());
    let text = stderr(&output);
    assert_eq!(status(&output), 2, "{text}");
    assert!(text.contains("unknown option `-x` for `faultline run`"), "{text}");
    assert!(text.contains("goes after `--`"), "{text}");
    assert!(!dir.path().join("ran").exists());

    // At the top level there is no command to put after `--`.
    let output = faultline(&["--bogus"], dir.path());
    assert_eq!(status(&output), 2);
    assert!(stderr(&output).contains("unknown option `--bogus` for `faultline` ("), "{}", stderr(&output));
    assert!(!stderr(&output).contains("goes after"), "{}", stderr(&output));
}

#[test]
fn after_the_command_starts_every_word_is_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    // After `--`, even the command's first word may start with `-`.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let script = bin.join("-hello");
    std::fs::write(&script, "#!/bin/sh\nexit 7\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let output = common::output_when_not_busy(
        Command::new(FAULTLINE).args(["run", "--no-store", "--", "-hello"]).env("PATH", path).current_dir(dir.path()),
    )
    .unwrap();
    assert_eq!(status(&output), 7, "{}", stderr(&output));

    // Without `--`, the words after the command's first are its own, options or not.
    let output = faultline(&["run", "--no-store", "sh", "-c", "exit 5", "--timout"], dir.path());
    assert_eq!(status(&output), 5, "{}", stderr(&output));
}

#[test]
fn no_command_is_one_short_line() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["run"][..], &["run", "--timeout", "3s"], &["stress"], &["stress", "-n", "2"]] {
        let output = faultline(args, dir.path());
        let text = stderr(&output);
        assert_eq!(status(&output), 2, "{args:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{args:?}: one line, not the help: {text}");
        assert!(text.starts_with("faultline: no command to run: give it after `--`"), "{text}");
    }
}

#[test]
fn nonsense_values_are_refused_with_the_range_before_anything_runs() {
    let run = |option: &'static str, value: &'static str| vec!["run", "--no-store", option, value];
    let stress = |option: &'static str, value: &'static str| vec!["stress", "--no-store", option, value];
    let cases = [
        (run("--memory-interval", "0ms"), "expected from 10ms to 1m"),
        (run("--max-memory", "0"), "expected at least 1MiB"),
        (run("--memory-warn", "512"), "expected at least 1MiB"),
        (run("--timeout", "0s"), "expected from 1ms to 365d"),
        (run("--kill-after", "2h"), "expected from 0s to 1h"),
        (run("--max-fds", "0"), "expected at least 4"),
        (run("--log-max-size", "100"), "expected 0 (never rotate) or at least 512B"),
        (run("--log-keep", "5000"), "expected from 0 to 1000"),
        (stress("-n", "0"), "expected from 1 to 1000000"),
        (stress("-j", "0"), "expected from 1 to 256"),
        (stress("--timeout", "0s"), "expected from 1ms to 365d"),
    ];
    for (args, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let output = faultline(&with_marker_command(&args), dir.path());
        let text = stderr(&output);
        assert_eq!(status(&output), 2, "{args:?}: {text}");
        assert!(text.contains(&format!("out of range: {expected}")), "{args:?}: {text}");
        assert!(!dir.path().join("ran").exists(), "{args:?}: the command ran");
    }
    let dir = tempfile::tempdir().unwrap();
    let output = faultline(&["crashes", "prune", "--older-than", "0s"], dir.path());
    assert_eq!(status(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("out of range: expected at least 1s"), "{}", stderr(&output));
}

#[test]
fn nonsense_in_the_settings_file_is_refused_too_every_bad_key_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.faultline]\nmemory-interval = \"0ms\"\nmax-memory = 0\ntimout = \"3s\"\n",
    )
    .unwrap();
    let output = faultline(&with_marker_command(&["run", "--no-store"]), dir.path());
    let text = stderr(&output);
    assert_eq!(status(&output), 2, "{text}");
    assert!(text.contains("pyproject.toml [tool.faultline]: 3 problems:"), "{text}");
    assert!(text.contains("`memory-interval`: 0s is out of range: expected from 10ms to 1m"), "{text}");
    assert!(text.contains("`max-memory`: 0B is out of range: expected at least 1MiB"), "{text}");
    assert!(text.contains("unknown key `timout` (did you mean `timeout`?)"), "{text}");
    assert!(!dir.path().join("ran").exists(), "the command ran");
}

#[test]
fn crashes_runs_lists_every_run_with_how_it_ended() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    std::fs::write(dir.path().join("crash.py"), "import ctypes\nctypes.string_at(0)\n").unwrap();
    std::fs::write(dir.path().join("grow.py"), "import time\nx = bytearray(96 << 20)\ntime.sleep(30)\n").unwrap();
    let runs: [&[&str]; 5] = [
        &["--", "true"],
        &["--", "sh", "-c", "exit 3"],
        &["--", "python3", "crash.py"],
        &["--timeout", "300ms", "--", "sleep", "30"],
        &["--max-memory", "48MiB", "--", "python3", "grow.py"],
    ];
    for args in runs {
        let mut all = vec!["run", "--no-config", "--store", store];
        all.extend_from_slice(args);
        let output = faultline(&all, dir.path());
        assert!(!stderr(&output).contains("could not store"), "{args:?}: {}", stderr(&output));
    }

    let output = faultline(&["crashes", "runs", "--json", "--no-config", "--store", store], dir.path());
    assert_eq!(status(&output), 0, "{}", stderr(&output));
    let list: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(list["total"], 5);
    let listed = list["runs"].as_array().unwrap();
    let how: Vec<(i64, &str, i64)> = listed
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["outcome"].as_str().unwrap(), r["exit_code"].as_i64().unwrap()))
        .collect();
    assert_eq!(how, [(5, "oom", 143), (4, "timeout", 143), (3, "crashed", 139), (2, "failed", 3), (1, "passed", 0)]);
    assert_eq!(listed[2]["exit_signal"], "SIGSEGV");
    assert!(listed[1]["duration_ms"].as_f64().unwrap() >= 300.0, "{}", listed[1]);
    assert_eq!(listed[1]["command"], serde_json::json!(["sleep", "30"]));
    // The crash's group is the one `faultline crashes` lists; the others form none.
    let groups = faultline(&["crashes", "--json", "--no-config", "--store", store], dir.path());
    let groups: Value = serde_json::from_slice(&groups.stdout).unwrap();
    assert_eq!(listed[2]["groups"], serde_json::json!([groups["groups"][0]["id"]]));
    assert!(listed.iter().filter(|r| r["id"] != 3).all(|r| r["groups"] == serde_json::json!([])));

    let output = faultline(&["crashes", "runs", "--no-config", "--color", "never", "--store", store], dir.path());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(": 5 runs\n"), "{text}");
    for expected in ["oom  ", "143 (SIGTERM)", "timeout  ", "crashed  ", "139 (SIGSEGV)", "sleep 30", "passed  "] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }

    let output = faultline(
        &["crashes", "runs", "--limit", "2", "--no-config", "--color", "never", "--store", store],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(": 5 runs, the latest 2 shown"), "{text}");
    assert!(text.contains("3 older runs not shown"), "{text}");
}

#[test]
fn a_run_that_is_not_there_points_to_the_list_of_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    assert_eq!(status(&faultline(&["run", "--no-config", "--store", store, "--", "true"], dir.path())), 0);
    let output = faultline(&["report", "--html", "out.html", "--store", store, "999"], dir.path());
    let text = stderr(&output);
    assert_eq!(status(&output), 2, "{text}");
    assert!(text.contains("no run 999 in the store; `faultline crashes runs` lists the runs"), "{text}");
}

#[test]
fn the_report_names_the_settings_file_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().canonicalize().unwrap();
    let file = project.join("pyproject.toml");
    std::fs::write(&file, "[tool.faultline]\nmemory-warn = \"64GiB\"\n").unwrap();
    let sub = project.join("tests");
    std::fs::create_dir(&sub).unwrap();
    let report = project.join("report.json");
    let report_arg = report.to_str().unwrap();

    let output = faultline(&["run", "--no-store", "--json", report_arg, "--", "true"], &project);
    assert_eq!(status(&output), 0, "{}", stderr(&output));
    let has_line = |output: &Output, line: &str| stderr(output).lines().any(|l| l == line);
    assert!(has_line(&output, "  settings: pyproject.toml [tool.faultline]"), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["settings_file"], file.display().to_string());
    common::assert_matches_report_schema(&json);

    // Found further up: named in full.
    let output = faultline(&["run", "--no-store", "--", "true"], &sub);
    let expected = format!("  settings: {} [tool.faultline]", file.display());
    assert!(has_line(&output, &expected), "{}", stderr(&output));

    // None applied: no line, no field.
    let output = faultline(&["run", "--no-store", "--no-config", "--json", report_arg, "--", "true"], &project);
    assert!(!stderr(&output).contains("settings:"), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(json.get("settings_file").is_none(), "{json}");
}

#[test]
fn prune_explains_older_than_in_its_help() {
    let output = faultline(&["crashes", "prune", "--help"], Path::new("."));
    let help = String::from_utf8_lossy(&output.stdout);
    let line = help.lines().find(|l| l.trim_start().starts_with("--older-than")).expect("the option is listed");
    assert!(line.contains("Forget what was stored longer ago than this"), "{help}");
}
