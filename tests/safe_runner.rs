//! The safe runner's options, each checked on real processes: timeouts with stacks,
//! memory sampling, limits and trends, isolation and environment settings, project
//! settings files, logs, and signals.

mod common;

use common::FAULTLINE;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Runs `faultline run --json R <options> -- <command>` in `dir`; returns output and report.
fn run(dir: &Path, options: &[&str], command: &[&str]) -> (Output, Value) {
    let report = dir.join("report.json");
    let output = Command::new(FAULTLINE)
        .arg("run")
        .arg("--json")
        .arg(&report)
        .args(options)
        .arg("--")
        .args(command)
        .current_dir(dir)
        .output()
        .expect("run faultline");
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report: {e}; stderr:\n{}", String::from_utf8_lossy(&output.stderr)));
    (output, serde_json::from_str(&text).expect("JSON report"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn all_frames(processes: &Value) -> Vec<Value> {
    processes
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["threads"].as_array().cloned().unwrap_or_default())
        .flat_map(|t| t["frames"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn timeout_inside_native_code_takes_stacks_then_stops_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "stuck.py",
        "import ctypes\n\ndef wait_forever():\n    ctypes.CDLL(None).sleep(600)\n\nwait_forever()\n",
    );
    let (output, report) = run(dir.path(), &["--timeout", "1s"], &["python3", &prog]);
    assert_eq!(report["outcome"], "timeout", "stderr:\n{}", stderr(&output));
    assert_eq!(output.status.code(), Some(128 + libc::SIGTERM));
    assert_eq!(report["timeout"]["limit_ms"], 1000.0);
    assert_eq!(report["timeout"]["stopped_with"], "SIGTERM");
    let frames = all_frames(&report["timeout"]["processes"]);
    assert!(frames.iter().any(|f| f["kind"] == "python" && f["function"] == "wait_forever"));
    assert!(
        frames.iter().any(|f| f["kind"] == "native" && f["function"].as_str().is_some_and(|n| n.contains("sleep"))),
        "the native sleep is in the stack"
    );
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "stubborn.py",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)\n",
    );
    let (output, report) = run(dir.path(), &["--timeout", "500ms", "--kill-after", "500ms"], &["python3", &prog]);
    assert_eq!(report["outcome"], "timeout");
    assert_eq!(report["timeout"]["stopped_with"], "SIGKILL");
    assert_eq!(output.status.code(), Some(128 + libc::SIGKILL));
}

#[test]
fn memory_of_a_tree_of_fifty_processes_is_sampled() {
    let dir = tempfile::tempdir().unwrap();
    let (output, report) = run(dir.path(), &[], &["sh", "-c", "for i in $(seq 50); do sleep 1 & done; wait"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(report["processes_started"].as_u64().unwrap() >= 51);
    let memory = &report["memory"];
    let peak = memory["peak_rss_bytes"].as_u64().expect("peak");
    // Each `sleep` holds a few hundred KiB resident; fifty of them are well over 5 MiB.
    assert!(peak > 5 << 20, "peak {peak} is the sum over the tree");
    assert!(!memory["samples"].as_array().unwrap().is_empty());
    assert!(memory["peak_holder"]["pid"].as_i64().is_some());
    assert_eq!(memory["trend"]["verdict"], "flat");
}

#[test]
fn max_memory_stops_the_tree_with_the_allocating_stack() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "hog.py",
        "chunks = []\n\ndef grab():\n    chunks.append(b'x' * (20 << 20))\n\nwhile True:\n    grab()\n",
    );
    let (output, report) = run(dir.path(), &["--max-memory", "300MiB"], &["python3", &prog]);
    assert_eq!(report["outcome"], "oom", "stderr:\n{}", stderr(&output));
    assert_eq!(report["memory"]["limit_bytes"], 300u64 << 20);
    let snapshot = &report["memory"]["snapshot"];
    let frames = all_frames(snapshot);
    if !frames.is_empty() {
        // Stopped by the watchdog: the stack says where it was allocating.
        assert!(frames
            .iter()
            .any(|f| f["kind"] == "python" && (f["function"] == "grab" || f["function"] == "<module>")));
    } else {
        // Outrun by one allocation: the hard cap's OOM kill is reported instead.
        assert!(!report["memory"]["oom_killed"].as_array().unwrap().is_empty(), "{}", report["memory"]);
    }
}

#[test]
fn memory_warn_prints_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "grow.py",
        "import time\nblocks = [b'x' * (10 << 20) for _ in range(10)]\ntime.sleep(0.5)\n",
    );
    let (output, report) = run(dir.path(), &["--memory-warn", "50MiB"], &["python3", &prog]);
    assert_eq!(report["outcome"], "passed");
    let warnings = stderr(&output).lines().filter(|l| l.contains("warning: the process tree uses")).count();
    assert_eq!(warnings, 1, "stderr:\n{}", stderr(&output));
}

#[test]
fn a_program_that_allocates_once_then_works_is_flat() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "once.py",
        "import time\nblock = b'x' * (150 << 20)\nend = time.time() + 2\nwhile time.time() < end:\n    sum(range(1000))\n",
    );
    let (_, report) = run(dir.path(), &[], &["python3", &prog]);
    assert_eq!(report["memory"]["trend"]["verdict"], "flat", "{}", report["memory"]["trend"]);
}

#[test]
fn isolate_tmp_gives_a_private_dir_removed_even_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "crash.py",
        "import ctypes, os, tempfile\nd = tempfile.gettempdir()\nopen(os.path.join(d, 'left-behind'), 'w').write('x')\nprint(d, os.environ['TMP'], os.environ['TEMP'], flush=True)\nctypes.string_at(0)\n",
    );
    let (output, report) = run(dir.path(), &["--isolate-tmp"], &["python3", &prog]);
    assert_eq!(report["outcome"], "crashed");
    let printed = stdout(&output);
    let dirs: Vec<&str> = printed.split_whitespace().collect();
    assert_eq!(dirs.len(), 3, "{printed}");
    assert!(dirs.iter().all(|d| *d == dirs[0]), "TMPDIR, TMP and TEMP agree: {printed}");
    assert!(dirs[0].contains("faultline-"), "a private dir, not the shared one: {}", dirs[0]);
    assert!(!Path::new(dirs[0]).exists(), "{} was left behind", dirs[0]);
}

#[test]
fn environment_options_reach_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "env.py",
        "import os, resource\n\
         for k in ['QT_QPA_PLATFORM', 'MPLBACKEND', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'GREETING']:\n    print(k, os.environ.get(k))\n\
         print('DISPLAY', os.environ.get('DISPLAY'))\n\
         print('NOFILE', *resource.getrlimit(resource.RLIMIT_NOFILE))\n\
         soft, hard = resource.getrlimit(resource.RLIMIT_CORE)\nprint('CORE', soft == hard)\n",
    );
    let mut cmd = Command::new(FAULTLINE);
    cmd.args([
        "run",
        "--headless",
        "--single-thread",
        "--env",
        "GREETING=hello world",
        "--max-fds",
        "256",
        "--core-dumps",
        "--",
        "python3",
        &prog,
    ])
    .current_dir(dir.path())
    .env("DISPLAY", ":99");
    let output = cmd.output().expect("run faultline");
    let out = stdout(&output);
    for line in [
        "QT_QPA_PLATFORM offscreen",
        "MPLBACKEND Agg",
        "OMP_NUM_THREADS 1",
        "OPENBLAS_NUM_THREADS 1",
        "MKL_NUM_THREADS 1",
        "GREETING hello world",
        "DISPLAY None",
        "NOFILE 256 256",
        "CORE True",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in:\n{out}\nstderr:\n{}", stderr(&output));
    }
}

#[test]
fn project_settings_apply_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = 'x'\n\n[tool.faultline]\ntimeout = \"30s\"\nheadless = true\n\n[tool.faultline.env]\nFROM_FILE = \"yes\"\n",
    )
    .unwrap();
    let prog = script(
        dir.path(),
        "env.py",
        "import os\nprint(os.environ.get('FROM_FILE'), os.environ.get('QT_QPA_PLATFORM'))\nimport time\ntime.sleep(30)\n",
    );
    let (output, report) = run(dir.path(), &["--timeout", "1s"], &["python3", &prog]);
    assert_eq!(stdout(&output).trim(), "yes offscreen");
    assert_eq!(report["outcome"], "timeout");
    assert_eq!(report["timeout"]["limit_ms"], 1000.0, "the command line's timeout wins over the file's");

    std::fs::write(dir.path().join("faultline.toml"), "timeout = \"soon\"\n").unwrap();
    let output = Command::new(FAULTLINE).args(["run", "--", "true"]).current_dir(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("timeout"), "the error names the key: {}", stderr(&output));
}

#[test]
fn the_log_records_events_and_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let log_arg = log.to_str().unwrap();
    for _ in 0..6 {
        let output = Command::new(FAULTLINE)
            .args(["run", "--log", log_arg, "--log-max-size", "600", "--log-keep", "2", "--", "sh", "-c", "exit 3"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("exit"), "{text}");
    assert!(dir.path().join("run.log.1").exists());
    assert!(dir.path().join("run.log.2").exists());
    assert!(!dir.path().join("run.log.3").exists(), "only --log-keep old files are kept");
}

#[test]
fn the_report_describes_the_system() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = run(dir.path(), &[], &["python3", "-c", "import ctypes; ctypes.string_at(0)"]);
    let system = &report["system"];
    assert!(system["cpu_count"].as_u64().unwrap() >= 1);
    assert!(system["memory_total_bytes"].as_u64().unwrap() > 0);
    assert!(system["kernel"].as_str().is_some());
    assert!(system["python_version"].as_str().is_some_and(|v| v.starts_with('3')), "{system}");
    // A run with nothing to explain does not start the interpreter once more to ask.
    let (_, passed) = run(dir.path(), &[], &["python3", "-c", "pass"]);
    assert!(passed["system"]["kernel"].as_str().is_some());
    assert!(passed["system"]["python_version"].is_null(), "{}", passed["system"]);
}

#[test]
fn a_second_interrupt_kills_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(
        dir.path(),
        "deaf.py",
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.05)\n",
    );
    let report = dir.path().join("r.json");
    let mut child = Command::new(FAULTLINE)
        .args(["run", "--json", report.to_str().unwrap(), "--", "python3", &prog])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_line(child.stdout.as_mut().unwrap(), "ready");
    // SAFETY: signalling the faultline this test started. Two signals sent at once would
    // merge into one pending signal, so the second waits until the first was taken.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    wait_for_line_starting(child.stderr.as_mut().unwrap(), "faultline: interrupted");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(Some(common::shell_status(&status)), Some(128 + libc::SIGKILL));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["outcome"], "killed");
}

#[test]
fn killing_faultline_with_sigkill_takes_the_tree_down() {
    let dir = tempfile::tempdir().unwrap();
    let prog = script(dir.path(), "sleeper.py", "import time\nprint('ready', flush=True)\ntime.sleep(600)\n");
    let mut child = Command::new(FAULTLINE)
        .args(["run", "--", "python3", &prog])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_line(child.stdout.as_mut().unwrap(), "ready");
    let python: Vec<i32> = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
        .unwrap()
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    assert_eq!(python.len(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
    // The kernel kills tracees when their tracer dies (PTRACE_O_EXITKILL). The bound only
    // turns a broken promise into a failure instead of a hung test.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(format!("/proc/{}/stat", python[0]))
        .is_ok_and(|stat| !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
    {
        assert!(std::time::Instant::now() < give_up, "pid {} outlived faultline", python[0]);
        std::thread::yield_now();
    }
}

fn wait_for_line(out: &mut impl std::io::Read, want: &str) {
    wait_for(out, want, |line, want| line == want)
}

fn wait_for_line_starting(out: &mut impl std::io::Read, want: &str) {
    wait_for(out, want, |line, want| line.starts_with(want))
}

fn wait_for(out: &mut impl std::io::Read, want: &str, matches: fn(&str, &str) -> bool) {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while out.read(&mut byte).unwrap() == 1 {
        if byte[0] == b'\n' {
            if matches(&String::from_utf8_lossy(&line), want) {
                return;
            }
            line.clear();
        } else {
            line.push(byte[0]);
        }
    }
    panic!("the stream ended before a line {want:?}");
}
