//! Issue 9, part A: whatever goes wrong around it, faultline hands back the command's
//! status and keeps its report. Each test runs the real binary on a real process.

mod common;

use common::FAULTLINE;
use std::process::{Command, Stdio};

/// `faultline run -- … 2>&1 | head`: the reader of stderr goes away before faultline
/// prints its summary. Writing that line must not panic (it used to: exit 101).
#[test]
fn a_closed_stderr_pipe_keeps_the_commands_status() {
    let mut child = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--", "sh", "-c", "sleep 0.3; exit 3"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start faultline");
    // Close our ends at once, as `| true` does.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().expect("wait for faultline");
    assert_eq!(status.code(), Some(3), "{status:?}");
}

const CTYPES_CRASH: &str = "import ctypes; ctypes.string_at(0)";

fn faultline(args: &[&str]) -> Command {
    let mut cmd = Command::new(FAULTLINE);
    cmd.args(["run", "--no-store"]).args(args).stdin(Stdio::null());
    cmd
}

/// Python's subprocess sees -11, not 139: faultline dies of the command's signal.
#[test]
fn faultline_dies_of_the_signal_that_killed_the_command() {
    use std::os::unix::process::ExitStatusExt;
    let out = faultline(&["--", "python3", "-c", CTYPES_CRASH]).output().unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{:?}", out.status);
    let out = faultline(&["--", "python3", "-c", "import os; os.abort()"]).output().unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{:?}", out.status);
    // An exit code stays an exit code.
    let out = faultline(&["--", "sh", "-c", "exit 7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7));
}

/// bash reports the death as it would without faultline.
#[test]
fn bash_says_segmentation_fault() {
    let script = format!("'{FAULTLINE}' run --no-store -- python3 -c '{CTYPES_CRASH}' 2>/dev/null; echo status=$?");
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("Segmentation fault"), "bash's stderr: {stderr}");
    assert_eq!(stdout.trim(), "status=139");
}

/// The command's core is the only core: faultline, dying of the same signal with a core
/// limit of its own that would allow one, writes none.
#[test]
fn faultline_leaves_no_core_of_its_own() {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let uses_pid = std::fs::read_to_string("/proc/sys/kernel/core_uses_pid").unwrap_or_default();
    assert!(
        !pattern.starts_with('|'),
        "this test needs cores written as files (core_pattern is {pattern:?}); it cannot tell whose core a pipe got"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = faultline(&["--core-dumps", "--", "python3", "-c", CTYPES_CRASH]);
    cmd.current_dir(dir.path()).stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; this runs in the forked child before exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
            libc::setrlimit(libc::RLIMIT_CORE, &unlimited);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let faultline_pid = child.id() as i32;
    let out = child.wait_with_output().unwrap();
    assert_eq!(common::shell_status(&out.status), 139);
    // Relative patterns are written in the crashing process's cwd: the dir for both.
    let core_pids: Vec<i32> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("core"))
        .filter_map(|e| core_pid(&std::fs::read(e.path()).ok()?))
        .collect();
    assert!(
        !core_pids.is_empty(),
        "the command's core is missing (core_pattern {pattern:?}, core_uses_pid {uses_pid:?})"
    );
    assert!(!core_pids.contains(&faultline_pid), "faultline (pid {faultline_pid}) dumped a core: {core_pids:?}");
}

/// The pid in an ELF core's NT_PRPSINFO note (x86_64 layout: pr_pid at byte 24).
fn core_pid(core: &[u8]) -> Option<i32> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(core.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(core.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(core.get(at..at + 8)?.try_into().ok()?));
    if core.get(..4)? != b"\x7fELF" {
        return None;
    }
    let (phoff, phentsize, phnum) = (u64_at(0x20)? as usize, u16_at(0x36)? as usize, u16_at(0x38)? as usize);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? != 4 {
            continue; // not PT_NOTE
        }
        let (mut at, end) = (u64_at(ph + 8)? as usize, (u64_at(ph + 8)? + u64_at(ph + 32)?) as usize);
        while at + 12 <= end {
            let (namesz, descsz, kind) = (u32_at(at)? as usize, u32_at(at + 4)? as usize, u32_at(at + 8)?);
            let desc = at + 12 + namesz.div_ceil(4) * 4;
            if kind == 3 {
                return Some(u32_at(desc + 24)? as i32);
            }
            at = desc + descsz.div_ceil(4) * 4;
        }
    }
    None
}

/// systemd's `SystemCallFilter=~ptrace` kills whoever calls ptrace: faultline must find out
/// in a throwaway child, say so, and run the command plainly with its status.
#[test]
fn a_seccomp_filter_that_kills_on_ptrace_costs_only_the_capture() {
    use std::os::unix::process::CommandExt;
    for (what, args, want) in [("exit", "exit 3", 3), ("crash", "kill -SEGV $$", 139)] {
        let mut cmd = faultline(&["--", "sh", "-c", args]);
        // SAFETY: seccomp_on_ptrace only calls prctl, which is async-signal-safe.
        unsafe { cmd.pre_exec(|| common::seccomp_on_ptrace(libc::SECCOMP_RET_KILL_PROCESS)) };
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(common::shell_status(&out.status), want, "{what}: {:?}\n{stderr}", out.status);
        let notices: Vec<&str> = stderr.lines().filter(|l| l.contains("kills any process that calls ptrace")).collect();
        assert_eq!(notices.len(), 1, "{what}: one line saying so; stderr:\n{stderr}");
    }
}

/// A bug in faultline after the command ended prints one line and keeps the status.
#[test]
fn an_internal_error_while_reporting_keeps_the_status() {
    use std::os::unix::process::ExitStatusExt;
    for point in ["report", "event"] {
        let out = faultline(&["--", "python3", "-c", CTYPES_CRASH])
            .env("FAULTLINE_INJECT_PANIC", point)
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{point}: {:?}\n{stderr}", out.status);
        let internal: Vec<&str> = stderr.lines().filter(|l| l.starts_with("faultline: internal error")).collect();
        assert!(!internal.is_empty() && internal.iter().all(|l| l.contains("please report")), "{point}: {stderr}");
        assert!(!stderr.contains("panicked at"), "{point}: no Rust panic message: {stderr}");
    }
    let out = faultline(&["--", "sh", "-c", "exit 5"]).env("FAULTLINE_INJECT_PANIC", "report").output().unwrap();
    assert_eq!(out.status.code(), Some(5));
}

/// Runs `faultline run` on a command that dies of SIGSEGV, from `cwd`, as an unprivileged
/// user when the tests run as root (root writes anywhere), with `home` as its HOME.
fn crash_as_user(cwd: &std::path::Path, home: &std::path::Path) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(FAULTLINE);
    cmd.args(["run", "--", "sh", "-c", "kill -SEGV $$"])
        .current_dir(cwd)
        .env("HOME", home)
        .env_remove("XDG_STATE_HOME")
        .env_remove("FAULTLINE_STORE")
        .stdin(Stdio::null());
    // SAFETY: getuid reads a number.
    if unsafe { libc::getuid() } == 0 {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd.output().unwrap()
}

const NOBODY: u32 = 65534;

fn make_readable_by_all(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn kept_aside_path(stderr: &str) -> std::path::PathBuf {
    let line = stderr.lines().find(|l| l.starts_with("faultline: the report is kept in ")).unwrap_or_else(|| {
        panic!("no line saying where the report was kept:\n{stderr}");
    });
    let rest = line.trim_start_matches("faultline: the report is kept in ");
    std::path::PathBuf::from(rest.split("; store it later").next().unwrap())
}

/// A read-only project folder: the report goes to the user's state folder, and faultline
/// says so; `crashes import` stores it and removes the kept-aside copy.
#[test]
fn a_read_only_project_keeps_the_report_in_the_state_folder() {
    let dir = tempfile::tempdir().unwrap();
    make_readable_by_all(dir.path(), 0o755);
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("pyproject.toml"), "[project]\nname = \"x\"\n").unwrap();
    make_readable_by_all(&project, 0o555);
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    make_readable_by_all(&home, 0o777);

    let out = crash_as_user(&project, &home);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(common::shell_status(&out.status), 139, "{stderr}");
    let kept = kept_aside_path(&stderr);
    assert!(kept.starts_with(home.join(".local/state/faultline/unstored")), "{}", kept.display());
    assert!(kept.is_file(), "{}", kept.display());
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    assert_eq!(report["outcome"], "crashed");

    let store = dir.path().join("store.sqlite3");
    let import = Command::new(FAULTLINE)
        .args(["crashes", "--store", store.to_str().unwrap(), "import"])
        .arg(&kept)
        .current_dir(&project)
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    assert!(!kept.exists(), "the kept-aside copy is removed once stored");
}

/// A cwd longer than a path may be: the project's folder cannot be written, the state
/// folder can.
#[test]
fn a_cwd_too_long_for_a_path_keeps_the_report_in_the_state_folder() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let out = Command::new("python3")
        .args(["-c", DEEP_RUN, FAULTLINE])
        .current_dir(dir.path())
        .env("HOME", &home)
        .env_remove("XDG_STATE_HOME")
        .env_remove("FAULTLINE_STORE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(common::shell_status(&out.status), 139, "{stderr}");
    let kept = kept_aside_path(&stderr);
    assert!(kept.starts_with(home.join(".local/state/faultline/unstored")) && kept.is_file(), "{}", kept.display());
}

/// Goes 5,000 bytes deep with relative steps (an absolute chdir there would fail), then
/// execs faultline on a crashing command.
const DEEP_RUN: &str = r#"
import os, sys
for _ in range(25):
    os.mkdir("d" * 200)
    os.chdir("d" * 200)
os.execv(sys.argv[1], [sys.argv[1], "run", "--", "sh", "-c", "kill -SEGV $$"])
"#;

/// The same report imported twice, or the `--json` file of a run already stored, is one run.
#[test]
fn importing_the_same_report_twice_records_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.sqlite3");
    let store = store.to_str().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(FAULTLINE)
        .args(["run", "--store", store, "--json", json.to_str().unwrap(), "--", "sh", "-c", "kill -SEGV $$"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(common::shell_status(&out.status), 139);
    let import = || {
        let out = Command::new(FAULTLINE).args(["crashes", "--store", store, "import"]).arg(&json).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for _ in 0..2 {
        let said = import();
        assert!(said.contains("already stored as run 1"), "{said}");
    }
    let runs = Command::new(FAULTLINE).args(["crashes", "--store", store, "runs", "--json"]).output().unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs["total"], 1, "{runs}");
}

/// `faultline doctor` under the same filter says so instead of dying of SIGSYS.
#[test]
fn doctor_under_a_filter_that_kills_on_ptrace_names_it() {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(FAULTLINE);
    cmd.args(["doctor"]).stdin(Stdio::null());
    // SAFETY: seccomp_on_ptrace only calls prctl, which is async-signal-safe.
    unsafe { cmd.pre_exec(|| common::seccomp_on_ptrace(libc::SECCOMP_RET_KILL_PROCESS)) };
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{:?}\n{text}", out.status);
    assert!(text.contains("a seccomp filter kills any process that calls ptrace"), "{text}");
}
