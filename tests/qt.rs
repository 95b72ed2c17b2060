//! Qt's fatal errors, with PySide6 from PyPI installed into a venv of its own under
//! target/test-ext (the project's test venv stays without Qt): qFatal's text is the message,
//! past PySide's note; a Qt application without a display says why and how to run headless.

mod common;

use common::{shell_status, FAULTLINE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The venv's python, with PySide6-Essentials, made once.
fn qt_python() -> PathBuf {
    static MADE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-ext/qt-venv");
        let python = venv.join("bin/python");
        if !python.exists() {
            let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 -m venv");
            assert!(made.success(), "cannot create {}", venv.display());
        }
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "PySide6-Essentials"])
            .output()
            .expect("pip install");
        assert!(
            installed.status.success(),
            "pip install PySide6-Essentials: {}",
            String::from_utf8_lossy(&installed.stderr)
        );
        python
    })
    .clone()
}

fn run(args: &[&str], script: &str, env: &[(&str, &str)], unset: &[&str]) -> (i32, String, Option<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut command = Command::new(FAULTLINE);
    command.args(["run", "--no-store", "--color", "never", "--json"]).arg(&json).args(args).arg("--").arg(qt_python());
    command.args(["-c", script]).current_dir(dir.path()).stdin(Stdio::null()).envs(env.iter().copied());
    for key in unset {
        command.env_remove(key);
    }
    let output = command.output().expect("run faultline");
    let report = std::fs::read_to_string(&json).ok().map(|t| serde_json::from_str(&t).expect("JSON"));
    (shell_status(&output.status), String::from_utf8_lossy(&output.stderr).into_owned(), report)
}

fn hint<'a>(crash: &'a Value, id: &str) -> Option<&'a str> {
    crash["hints"].as_array()?.iter().find(|h| h["id"] == id).and_then(|h| h["text"].as_str())
}

#[test]
fn qfatal_is_the_message_and_qts_handlers_are_not_the_culprit() {
    let script = "from PySide6.QtCore import qFatal\ndef load_renderer():\n    qFatal('renderer: no OpenGL context could be created')\nload_renderer()\n";
    let (status, stderr, report) = run(&[], script, &[], &[]);
    assert_eq!(status, 128 + libc::SIGABRT, "{stderr}");
    let crash = &report.expect("a report")["crashes"][0];
    assert_eq!(crash["message"], "renderer: no OpenGL context could be created", "{stderr}");
    let culprit = crash["culprit"]["function"].as_str().unwrap_or_default();
    assert!(!culprit.starts_with("qTerminate") && !culprit.contains("QMessageLogger"), "{culprit}");
    assert!(crash["python"]["function"] == "load_renderer", "{crash:#}");
}

#[test]
fn a_qt_application_without_a_display_says_how_to_run_headless() {
    let script = "from PySide6.QtGui import QGuiApplication\napp = QGuiApplication([])\n";
    let (status, stderr, report) = run(&[], script, &[("QT_QPA_PLATFORM", "xcb")], &["DISPLAY", "WAYLAND_DISPLAY"]);
    assert_eq!(status, 128 + libc::SIGABRT, "{stderr}");
    let crash = &report.expect("a report")["crashes"][0];
    let message = crash["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("This application failed to start because no Qt platform plugin could be initialized"),
        "{message}"
    );
    let text = hint(crash, "qt-platform-plugin").unwrap_or_else(|| panic!("no Qt hint: {crash:#}"));
    assert!(text.contains("--headless"), "{text}");
    // And with --headless the same program runs.
    let (status, stderr, _) = run(&["--headless"], script, &[], &["DISPLAY", "WAYLAND_DISPLAY"]);
    assert_eq!(status, 0, "{stderr}");
}
