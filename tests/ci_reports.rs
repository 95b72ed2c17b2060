//! The CI outputs on real runs: `--junit FILE` on a pytest suite whose test crashes in native
//! code, on a clean run and on a missing folder; GitHub Actions annotations on a crash.

mod common;

use common::FAULTLINE;
use quick_junit::{NonSuccessKind, TestCaseStatus};
use std::path::Path;
use std::process::{Command, Output};

const CRASHING_TEST: &str = "\
import ctypes

import pytest


class TestReader:
    def test_fine(self):
        assert True

    @pytest.mark.parametrize(\"offset\", [0])
    def test_read_header(self, offset):
        ctypes.string_at(offset)
";

fn faultline(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(FAULTLINE);
    command.arg("run").args(args).current_dir(dir);
    // The annotations depend on these; the test must not inherit a CI runner's.
    command.env_remove("GITHUB_ACTIONS").env_remove("GITHUB_WORKSPACE");
    command.envs(env.iter().copied());
    command.output().expect("run faultline")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read_junit(path: &Path, output: &Output) -> quick_junit::Report {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no JUnit report at {}: {e}; stderr:\n{}", path.display(), stderr(output)));
    quick_junit::Report::deserialize_from_str(&text).unwrap_or_else(|e| panic!("invalid JUnit XML ({e}):\n{text}"))
}

#[test]
fn a_crashing_pytest_test_is_a_failed_case_named_like_pytest_names_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/test_reader.py"), CRASHING_TEST).unwrap();
    let output = faultline(
        dir.path(),
        &[
            "--junit",
            "junit.xml",
            "--json",
            "report.json",
            "--",
            "python3",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_reader.py",
        ],
        &[],
    );
    assert_eq!(Some(common::shell_status(&output.status)), Some(139), "stderr:\n{}", stderr(&output));
    let junit = read_junit(&dir.path().join("junit.xml"), &output);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["crashes"][0]["test"]["nodeid"], "tests/test_reader.py::TestReader::test_read_header[0]");

    assert_eq!(junit.test_suites.len(), 1);
    let suite = &junit.test_suites[0];
    assert_eq!(suite.name.as_str(), "faultline");
    assert_eq!((suite.tests, suite.failures), (1, 1));
    let property =
        |name: &str| suite.properties.iter().find(|p| p.name.as_str() == name).map(|p| p.value.as_str().to_owned());
    assert_eq!(property("exit_status").as_deref(), Some("139"));
    assert!(property("command").is_some_and(|c| c.contains("pytest")));

    let case = &suite.test_cases[0];
    assert_eq!(case.classname.as_ref().map(|c| c.as_str()), Some("tests.test_reader.TestReader"));
    assert_eq!(case.name.as_str(), "test_read_header[0]");
    let TestCaseStatus::NonSuccess { kind, message, ty, description, .. } = &case.status else {
        panic!("the crashed test passed: {:?}", case.status)
    };
    assert_eq!(*kind, NonSuccessKind::Failure);
    assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("null-deref"));
    assert!(message.as_ref().is_some_and(|m| m.as_str().starts_with("SIGSEGV (null-deref)")), "{message:?}");
    let body = description.as_ref().map(|d| d.as_str()).unwrap_or_default();
    assert!(
        body.contains("tests/test_reader.py:12 in TestReader.test_read_header"),
        "no Python frame of the test in:\n{body}"
    );
    assert!(body.contains("string_at"), "no frame of ctypes in:\n{body}");
    assert!(body.contains("signature: SIGSEGV/null-deref/"), "{body}");
}

#[test]
fn a_clean_run_is_one_passing_case() {
    let dir = tempfile::tempdir().unwrap();
    let output = faultline(dir.path(), &["--junit", "out.xml", "--", "true"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let junit = read_junit(&dir.path().join("out.xml"), &output);
    let case = &junit.test_suites[0].test_cases[0];
    assert_eq!((junit.tests, junit.failures), (1, 0));
    assert_eq!(case.name.as_str(), "true");
    assert!(matches!(case.status, TestCaseStatus::Success { .. }));
    assert!(!dir.path().join("out.xml.partial").exists());
}

#[test]
fn a_missing_junit_folder_fails_before_the_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let output =
        faultline(dir.path(), &["--junit", "no/such/dir/junit.xml", "--", "touch", marker.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--junit no/such/dir/junit.xml: folder no/such/dir does not exist"),
        "{}",
        stderr(&output)
    );
    assert!(!marker.exists(), "the command ran");
}

#[test]
fn a_missing_junit_folder_from_the_settings_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("faultline.toml"), "junit = \"no/such/dir/junit.xml\"\n").unwrap();
    let output = faultline(dir.path(), &["--", "true"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("the `junit` setting: "), "{}", stderr(&output));
}

#[test]
fn github_actions_get_one_error_annotation_per_crash() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().canonicalize().unwrap();
    std::fs::create_dir(workspace.join("app")).unwrap();
    std::fs::write(
        workspace.join("app/reader.py"),
        "import ctypes\n\n\ndef read_header():\n    return ctypes.string_at(0)\n\n\nread_header()\n",
    )
    .unwrap();
    let ws = workspace.to_str().unwrap();
    let output = faultline(
        &workspace,
        &["--", "python3", "app/reader.py"],
        &[("GITHUB_ACTIONS", "true"), ("GITHUB_WORKSPACE", ws)],
    );
    assert_eq!(Some(common::shell_status(&output.status)), Some(139), "stderr:\n{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 1, "stdout:\n{stdout}");
    let line = errors[0];
    assert!(line.starts_with("::error file=app/reader.py,line=5,title=faultline%3A SIGSEGV (null-deref)::"), "{line}");
    assert!(line.contains("%0Astack, innermost first:%0A"), "{line}");
    assert!(line.contains("app/reader.py:5 in read_header"), "{line}");
    assert!(!line.contains('\n') && !line.contains(ws), "{line}");

    // Outside GitHub Actions, nothing.
    let output = faultline(&workspace, &["--", "python3", "app/reader.py"], &[]);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("::error"));
}
