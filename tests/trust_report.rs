//! Issue 9, part D16: what the reports say about real processes — 1,000 idle threads, a
//! child's crash, a script whose name is not UTF-8, a launcher script in front of the real
//! program, and the HTML page of a real crash. Each test runs the real binary.

mod common;

use common::FAULTLINE;
use serde_json::Value;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The real interpreter, not a shim in front of it: `sys.executable` of the `python3` on
/// PATH (under pyenv, `python3` is a bash script that starts ~40 processes).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed for these tests");
        assert!(out.status.success(), "python3 -c failed: {}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 path").trim())
    })
}

struct Run {
    status: i32,
    stderr: String,
    report: Value,
}

/// `faultline run --no-store --json DIR/report.json -- COMMAND` in `dir`.
fn run(dir: &Path, command: &[&OsStr]) -> Run {
    let json = dir.join("report.json");
    let mut args: Vec<OsString> = vec!["run".into(), "--no-store".into(), "--json".into(), json.clone().into()];
    args.push("--".into());
    args.extend(command.iter().map(|a| a.to_os_string()));
    let output = common::output_when_not_busy(Command::new(FAULTLINE).args(&args).current_dir(dir)).expect("run");
    let report = common::read_report(&json, &output);
    Run {
        status: common::shell_status(&output.status),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report,
    }
}

fn write(dir: &Path, name: impl AsRef<OsStr>, text: &str) -> PathBuf {
    let path = dir.join(name.as_ref());
    std::fs::write(&path, text).expect("write file");
    path
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// The lines of the terminal report's first `other threads:` section.
fn other_thread_lines(stderr: &str) -> Vec<&str> {
    let start = stderr.find("  other threads:\n").unwrap_or_else(|| panic!("no other threads:\n{stderr}"));
    stderr[start..].lines().skip(1).take_while(|l| l.starts_with("    ")).collect()
}

/// How many threads one line stands for: `1,000 threads with this stack (…)` or one.
fn threads_on(line: &str) -> usize {
    let text = line.trim_start();
    match text.split_once(" threads with this stack") {
        Some((n, _)) => n.replace(',', "").parse().unwrap_or_else(|_| panic!("a count: {line}")),
        None => 1,
    }
}

#[test]
fn a_thousand_idle_threads_are_one_line_and_the_json_keeps_every_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Each worker counts itself while holding `idle`, then waits on it, which releases it:
    // once the count is 1,000 and the main thread holds `idle`, every worker is waiting.
    write(
        dir.path(),
        "idle.py",
        "import ctypes, threading\n\
         idle, counted = threading.Condition(), threading.Condition()\n\
         started = 0\n\
         def work():\n\
         \x20   global started\n\
         \x20   with idle:\n\
         \x20       with counted:\n\
         \x20           started += 1\n\
         \x20           counted.notify()\n\
         \x20       idle.wait()\n\
         for _ in range(1000):\n\
         \x20   threading.Thread(target=work, daemon=True).start()\n\
         with counted:\n\
         \x20   counted.wait_for(lambda: started == 1000)\n\
         with idle:\n\
         \x20   ctypes.string_at(0)\n",
    );
    let r = run(dir.path(), &[python().as_os_str(), os("idle.py")]);
    assert_eq!(r.status, 139, "{}", r.stderr);
    let lines = other_thread_lines(&r.stderr);
    // A worker caught between releasing the lock and blocking may stand apart: a few lines,
    // never a thousand.
    assert!(lines.len() <= 5, "{} lines for the other threads:\n{}", lines.len(), r.stderr);
    assert_eq!(lines.iter().map(|l| threads_on(l)).sum::<usize>(), 1000, "{}", r.stderr);
    let biggest = lines.iter().map(|l| threads_on(l)).max().unwrap_or(0);
    assert!(biggest >= 990, "most threads share one line: {}", r.stderr);
    assert!(r.stderr.lines().count() < 60, "the report is short:\n{}", r.stderr);

    let threads = r.report["crashes"][0]["threads"].as_array().expect("threads");
    assert_eq!(threads.len(), 1001, "the JSON report keeps every thread");
}

#[test]
fn a_child_crash_shows_the_childs_command_line_redacted() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "parent.py",
        "import subprocess, sys\n\
         child = [sys.executable, '-c', 'import ctypes; ctypes.string_at(0)', '--api-token=hunter2']\n\
         sys.exit(0 if subprocess.run(child).returncode == -11 else 1)\n",
    );
    let r = run(dir.path(), &[python().as_os_str(), os("parent.py")]);
    assert_eq!(r.status, 0, "the parent saw its child die of SIGSEGV: {}", r.stderr);
    let header = r.stderr.lines().find(|l| l.starts_with("faultline: SIGSEGV")).expect("a crash header");
    assert!(header.contains(" child, "), "{header}");
    let command = r.stderr.lines().find(|l| l.starts_with("  command: ")).unwrap_or_else(|| panic!("{}", r.stderr));
    assert!(command.contains(" -c import ctypes; ctypes.string_at(0) --api-token=[redacted]"), "{command}");
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}

#[test]
fn a_script_named_with_a_non_utf8_byte_keeps_its_python_frames() {
    let dir = tempfile::tempdir().expect("temp dir");
    let name = OsStr::from_bytes(b"crash\xff.py");
    write(dir.path(), name, "import ctypes\ndef crash_here():\n    ctypes.string_at(0)\ncrash_here()\n");
    let r = run(dir.path(), &[python().as_os_str(), name]);
    assert_eq!(r.status, 139, "{}", r.stderr);
    assert!(r.stderr.contains("crash\u{fffd}.py:3 in crash_here"), "{}", r.stderr);
    assert!(r.stderr.contains("crash\u{fffd}.py:4 in <module>"), "{}", r.stderr);
    let frames = r.report["crashes"][0]["threads"][0]["frames"].as_array().expect("frames");
    let mine = frames.iter().find(|f| f["function"] == "crash_here").expect("the script's frame in the JSON report");
    assert!(mine["file"].as_str().is_some_and(|f| f.ends_with("/crash\u{fffd}.py")), "{mine}");
}

/// A launcher in the manner of pyenv's shims: helper processes first (one of them holding
/// more memory than the program will), then `exec` of the real program.
const SHIM: &str = "#!/bin/sh\n\
    here=$(dirname \"$0\")\n\
    version=$(cat \"$here/version\")\n\
    name=$(basename \"$0\")\n\
    \"$PYTHON\" -c 'import time; b = b\"x\" * (64 << 20); time.sleep(0.3)'\n\
    exec \"$PYTHON\" \"$@\"\n";

#[test]
fn a_launchers_helpers_are_counted_as_its_own_and_never_hold_the_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shim = write(dir.path(), "launch", SHIM);
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    write(dir.path(), "version", "3.11\n");
    write(dir.path(), "app.py", "import ctypes\nctypes.string_at(0)\n");
    let json = dir.path().join("report.json");
    let output = common::output_when_not_busy(
        Command::new(FAULTLINE)
            .args(["run", "--no-store", "--memory-interval", "10ms", "--json"])
            .arg(&json)
            .args(["--", "./launch", "app.py"])
            .env("PYTHON", python())
            .current_dir(dir.path()),
    )
    .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = common::read_report(&json, &output);
    assert_eq!(common::shell_status(&output.status), 139, "{stderr}");

    let started = report["processes_started"].as_u64().expect("a count");
    let launcher = &report["launcher"];
    let helpers = launcher["processes"].as_u64().unwrap_or_else(|| panic!("a launcher: {report}"));
    // Everything but the program itself was the shim's: it starts no process of its own.
    assert_eq!(helpers, started - 1, "{report}");
    assert!(helpers >= 4, "dirname, cat, basename and the big helper: {report}");
    assert_eq!(launcher["program"], "./launch");
    assert!(launcher["became"].as_str().is_some_and(|b| b.contains("python")), "{launcher}");
    let summary = stderr.lines().last().expect("a summary");
    let expected = format!("{started} processes ({helpers} of them the launcher's: ./launch)");
    assert!(summary.ends_with(&expected), "{summary}");

    // The helper held 64 MiB; the program is what the memory line names.
    let pid = report["crashes"][0]["pid"].as_i64().expect("the crashed pid");
    assert_eq!(report["crashes"][0]["process"], "main");
    let holder = &report["memory"]["peak_holder"];
    assert_eq!(holder["pid"].as_i64(), Some(pid), "{holder}");
    let memory = stderr.lines().find(|l| l.starts_with("  memory: ")).expect("a memory line");
    assert!(memory.contains(&format!("pid {pid} python")) && memory.contains("app.py"), "{memory}");
}

/// The `python3` on this machine's PATH, when it is a script (pyenv's shim is): its helpers
/// are the launcher's. Nothing to check where `python3` is the interpreter itself.
#[test]
fn the_python3_on_path_when_it_is_a_shim() {
    let Ok(found) = Command::new("sh").args(["-c", "command -v python3"]).output() else { return };
    let path = PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    let is_script = std::fs::read(&path).is_ok_and(|bytes| bytes.starts_with(b"#!"));
    if !is_script {
        eprintln!("skipped: python3 on PATH ({}) is not a launcher script", path.display());
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let r = run(dir.path(), &[os("python3"), os("-c"), os("pass")]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.report["launcher"]["program"], path.to_string_lossy().as_ref(), "{}", r.report);
    let summary = r.stderr.lines().last().expect("a summary");
    assert!(summary.contains(&format!("of them the launcher's: {})", path.display())), "{summary}");
    if let Some(holder) = r.report["memory"]["peak_holder"]["argv"].as_array() {
        assert!(holder.iter().all(|a| !a.as_str().unwrap_or("").contains("libexec")), "{holder:?}");
        assert!(holder.iter().any(|a| a == "pass"), "the program holds the memory: {holder:?}");
    }
}

#[test]
fn the_html_page_of_a_real_crash_says_line_and_sets_names_in_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "crash.py",
        "import ctypes, sys\n\
         def lookup():\n\
         \x20   print('looking it up', file=sys.stderr, flush=True)\n\
         \x20   ctypes.string_at(0)\n\
         lookup()\n",
    );
    let r = run(dir.path(), &[python().as_os_str(), os("crash.py")]);
    assert_eq!(r.status, 139, "{}", r.stderr);
    assert!(r.stderr.contains("  stderr (last line):"), "{}", r.stderr);
    let page = dir.path().join("report.html");
    let output = Command::new(FAULTLINE)
        .args(["report", "--html"])
        .arg(&page)
        .arg("--from-json")
        .arg(dir.path().join("report.json"))
        .output()
        .expect("faultline report");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.contains("<h3>stderr (last line)</h3>"), "{html}");
    assert!(!html.contains("1 lines"));
    let hints = &html[html.find("<ul class=\"hints\">").expect("hints")..];
    let hints = &hints[..hints.find("</ul>").expect("end of the hints")];
    assert!(hints.contains("<code>lookup</code>"), "{hints}");
    assert!(!hints.contains('`'), "{hints}");
    assert!(!html.to_lowercase().contains("<script"));
}
