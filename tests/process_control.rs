//! faultline's promises about the command it runs, checked on real processes: exit status
//! passes through, crashes anywhere in the tree are caught, job control and signals work,
//! and without ptrace the command still runs.

mod common;

use common::{faultline, FAULTLINE};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    path.to_str().expect("utf-8 path").to_owned()
}

const CTYPES_CRASH: &str = "import ctypes\n\ndef read_header():\n    return ctypes.string_at(0)\n\nread_header()\n";

#[test]
fn exit_zero_passes_through() {
    let dir = tempfile::tempdir().unwrap();
    let (status, _, report) = faultline(&["true"], dir.path());
    let report = report.expect("report");
    assert_eq!(status, 0);
    assert_eq!(report["outcome"], "passed");
    assert_eq!(report["exit"]["code"], 0);
}

#[test]
fn exit_three_passes_through() {
    let dir = tempfile::tempdir().unwrap();
    let (status, _, report) = faultline(&["sh", "-c", "exit 3"], dir.path());
    let report = report.expect("report");
    assert_eq!(status, 3);
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["exit"]["code"], 3);
    assert_eq!(report["crashes"].as_array().map(Vec::len), Some(0));
}

#[test]
fn missing_command_is_a_clear_127() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr, report) = faultline(&["no-such-command-for-faultline"], dir.path());
    assert_eq!(status, 127);
    assert!(stderr.contains("command not found: no-such-command-for-faultline"), "stderr: {stderr}");
    // The run still has its report: outcome `error`, the shell's status.
    let report = report.expect("a report of the run that could not start");
    common::assert_matches_report_schema(&report);
    assert_eq!(report["outcome"], "error");
    assert_eq!(report["exit"]["code"], 127);
    assert_eq!(report["processes_started"], 0);
}

#[test]
fn a_command_that_cannot_start_is_an_error_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "not-executable.sh", "echo never\n");
    let (junit, json) = (dir.path().join("junit.xml"), dir.path().join("report.json"));
    let output = Command::new(FAULTLINE)
        .args([
            "run",
            "--no-store",
            "--junit",
            junit.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--",
            &program,
        ])
        .current_dir(dir.path())
        .output()
        .expect("run faultline");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(common::shell_status(&output.status), 126, "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).unwrap();
    assert_eq!(report["outcome"], "error");
    assert_eq!(report["exit"]["code"], 126);
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report");
    assert!(xml.contains("<error") && xml.contains("faultline could not run the command"), "{xml}");
}

#[test]
fn crash_in_a_grandchild_after_exec_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let crash = script(dir.path(), "crash.py", CTYPES_CRASH);
    let inner = format!("python3 {crash}");
    let (status, _, report) = faultline(&["sh", "-c", &format!("sh -c '{inner}'; exit 4")], dir.path());
    let report = report.expect("report");
    assert_eq!(status, 4, "the root's status, not the grandchild's");
    assert_eq!(report["outcome"], "crashed");
    let crash = &report["crashes"][0];
    assert_eq!(crash["process"], "child");
    assert_eq!(crash["signal"], "SIGSEGV");
    assert_eq!(crash["kind"], "null-deref");
    assert_eq!(crash["python"]["function"], "string_at");
    let frames = crash["threads"][0]["frames"].as_array().unwrap();
    assert!(frames.iter().any(|f| f["function"] == "read_header"), "user frame in the merged stack");
}

#[test]
fn crash_with_faulthandler_installed_reports_the_real_fault() {
    let dir = tempfile::tempdir().unwrap();
    let crash = script(dir.path(), "crash.py", CTYPES_CRASH);
    let (status, _, report) = faultline(&["python3", "-X", "faulthandler", &crash], dir.path());
    let report = report.expect("report");
    assert_eq!(status, 139);
    let crash = &report["crashes"][0];
    assert_eq!(crash["process"], "main");
    // The first stop is the kernel's fault, not faulthandler's re-raise (SI_TKILL).
    assert_eq!(crash["si_code"], "SEGV_MAPERR");
    assert_eq!(crash["fault_address"], "0x0");
    assert_eq!(crash["kind"], "null-deref");
}

fn spawn_faultline(args: &[&str], dir: &Path) -> Child {
    Command::new(FAULTLINE)
        .arg("run")
        .arg("--")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start faultline")
}

fn read_line(child: &mut Child) -> String {
    let stdout = child.stdout.as_mut().expect("piped stdout");
    let mut line = String::new();
    // One byte at a time: a BufReader would swallow later lines.
    let mut reader = BufReader::with_capacity(1, stdout);
    reader.read_line(&mut line).expect("read line");
    line.trim_end().to_owned()
}

fn send(pid: u32, signal: i32) {
    // SAFETY: sending a signal to a process this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

#[test]
fn sigterm_to_faultline_reaches_the_child_and_faultline_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "graceful.py",
        "import signal, sys, time\n\
         def bye(*_):\n    print('cleanup done', flush=True)\n    sys.exit(0)\n\
         signal.signal(signal.SIGTERM, bye)\n\
         print('ready', flush=True)\n\
         while True:\n    time.sleep(1)\n",
    );
    let mut child = spawn_faultline(&["python3", &prog], dir.path());
    assert_eq!(read_line(&mut child), "ready");
    send(child.id(), libc::SIGTERM);
    assert_eq!(read_line(&mut child), "cleanup done");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "faultline exits with the child's own status");
}

#[test]
fn sigint_reaches_a_child_that_ignores_it_and_sigterm_still_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "stubborn.py",
        "import signal, time\n\
         signal.signal(signal.SIGINT, signal.SIG_IGN)\n\
         def hup(*_):\n    print('got HUP', flush=True)\n\
         signal.signal(signal.SIGHUP, hup)\n\
         print('ready', flush=True)\n\
         while True:\n    time.sleep(1)\n",
    );
    let mut child = spawn_faultline(&["python3", &prog], dir.path());
    assert_eq!(read_line(&mut child), "ready");
    send(child.id(), libc::SIGINT);
    // SIGHUP is forwarded too; its reply proves the SIGINT before it did not end anything.
    send(child.id(), libc::SIGHUP);
    assert_eq!(read_line(&mut child), "got HUP");
    send(child.id(), libc::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(Some(common::shell_status(&status)), Some(128 + libc::SIGTERM));
}

fn children_of(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

#[test]
fn a_stopped_child_stays_stopped_until_sigcont() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_faultline(&["sh", "-c", "echo ready; kill -STOP $$; echo resumed"], dir.path());
    assert_eq!(read_line(&mut child), "ready");
    let shell = loop {
        if let Some(&pid) = children_of(child.id()).first() {
            if matches!(state_of(pid), Some('T') | Some('t')) {
                break pid;
            }
        }
        std::thread::yield_now();
    };
    // SAFETY: resuming the shell this test started.
    assert_eq!(unsafe { libc::kill(shell, libc::SIGCONT) }, 0);
    assert_eq!(read_line(&mut child), "resumed");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

fn faultline_without_ptrace(args: &[&str], dir: &Path) -> std::process::Output {
    let mut cmd = Command::new(FAULTLINE);
    cmd.arg("run").arg("--").args(args).current_dir(dir);
    // SAFETY: seccomp_on_ptrace only calls prctl, which is async-signal-safe.
    unsafe { cmd.pre_exec(|| common::seccomp_on_ptrace(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32)) };
    cmd.output().expect("run faultline")
}

#[test]
fn without_ptrace_the_command_still_runs_and_its_status_passes_through() {
    let dir = tempfile::tempdir().unwrap();
    let output = faultline_without_ptrace(&["sh", "-c", "echo hello; exit 3"], dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hello\n");
    let notices: Vec<&str> = stderr.lines().filter(|l| l.contains("ptrace is not permitted")).collect();
    assert_eq!(notices.len(), 1, "one line saying so; stderr:\n{stderr}");

    let crash = script(dir.path(), "crash.py", CTYPES_CRASH);
    let output = faultline_without_ptrace(&["python3", &crash], dir.path());
    assert_eq!(Some(common::shell_status(&output.status)), Some(139));
}

#[test]
fn a_fatal_signal_sent_by_another_process_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "victim.py",
        "import os, signal, subprocess, sys, time\n\
         subprocess.Popen([sys.executable, '-c', 'import os, signal, time; os.kill(os.getppid(), signal.SIGSEGV); time.sleep(2)'])\n\
         time.sleep(30)\n",
    );
    let (status, _, report) = faultline(&["python3", &prog], dir.path());
    let report = report.expect("report");
    assert_eq!(status, 139);
    let crash = &report["crashes"][0];
    assert_eq!(crash["kind"], "external-signal");
    assert_eq!(crash["si_code"], "SI_USER");
    let sender = crash["sender_pid"].as_i64().expect("sender pid");
    assert_ne!(sender, crash["pid"].as_i64().unwrap());
}

/// A crash inside a signal handler: the frame the signal interrupted is named at its exact
/// pc (the unwinder's fixture `crash interrupted`: a timer interrupts a one-instruction loop,
/// and the handler crashes), not at the byte before it, which is other code.
#[test]
fn the_frame_a_signal_interrupted_is_named_at_its_exact_pc() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/native");
    let exe = dir.path().join("crash");
    let built = Command::new("cc")
        .args(["-g", "-O1", "-pthread", "-o"])
        .arg(&exe)
        .arg(src.join("crash.c"))
        .arg(src.join("libfault.c"))
        .output()
        .expect("run cc");
    assert!(built.status.success(), "cc: {}", String::from_utf8_lossy(&built.stderr));
    let source = std::fs::read_to_string(src.join("crash.c")).unwrap();
    let line = source.lines().position(|l| l.contains("the interrupted line")).expect("marker") + 1;

    let (status, _, report) = faultline(&[exe.to_str().unwrap(), "interrupted"], dir.path());
    let report = report.expect("report");
    assert_eq!(status, 139);
    let crash = &report["crashes"][0];
    let thread = crash["threads"].as_array().unwrap().iter().find(|t| t["crashed"] == true).expect("crashed thread");
    let frames = thread["frames"].as_array().unwrap();
    let names: Vec<&str> = frames.iter().map(|f| f["function"].as_str().unwrap_or("?")).collect();
    let handler = names.iter().position(|&n| n == "on_alarm").unwrap_or_else(|| panic!("no on_alarm in {names:?}"));
    let spin = names.iter().position(|&n| n == "spin").unwrap_or_else(|| panic!("no spin in {names:?}"));
    assert!(handler < spin, "{names:?}");
    assert_eq!(frames[spin]["line"], line, "{:#?}", frames[spin]);
    assert_eq!(names[spin + 1], "interrupt_spin", "{names:?}");
}
