//! Issue 9, part C (stderr and stop signals): the command behaves as it would without
//! faultline. Each test runs the real binary on a real process tree.

mod common;

use common::FAULTLINE;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest any single step may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);

/// The status as a shell reports it: the exit code, or 128 + the signal that killed it.
/// faultline may end either way when the command died of a signal.
fn shell_status(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Starts `command` as the leader of a process group of its own; if the test fails, the
/// guard kills the whole group, processes that outlived faultline included.
fn spawn_group(command: &mut Command) -> (Child, GroupGuard) {
    let child = command.process_group(0).spawn().expect("start");
    let guard = GroupGuard(child.id() as i32);
    (child, guard)
}

struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // SAFETY: killing the process group this test started.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }
}

/// Waits for `child` in a thread, so that a faultline that waits when it should not fails
/// the test instead of hanging it.
fn wait_with_patience(mut child: Child, what: &str) -> ExitStatus {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    rx.recv_timeout(PATIENCE).unwrap_or_else(|_| panic!("{what}: no exit within {PATIENCE:?}")).expect("wait")
}

/// Reads `reader` to its end in a thread.
fn read_all_in_background(mut reader: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = reader.read_to_end(&mut bytes);
        let _ = tx.send(bytes);
    });
    rx
}

/// Opens the FIFO (which waits for its writer) and reads it to its end, in a thread.
fn read_fifo_in_background(path: &Path) -> mpsc::Receiver<Vec<u8>> {
    let path = path.to_owned();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Ok(mut fifo) = std::fs::File::open(&path) {
            let _ = fifo.read_to_end(&mut bytes);
        }
        let _ = tx.send(bytes);
    });
    rx
}

fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.to_str().expect("utf-8 path")).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

/// Opens the FIFO for writing (which waits for its reader) and says `go`, in a thread so a
/// reader that never comes fails the test.
fn say_go(fifo: &Path) {
    let fifo = fifo.to_owned();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sent = std::fs::OpenOptions::new().write(true).open(&fifo).and_then(|mut f| f.write_all(b"go\n"));
        let _ = tx.send(sent);
    });
    rx.recv_timeout(PATIENCE).expect("the outliving process never opened its FIFO").expect("write to FIFO");
}

/// C9: a background process writes to stderr only after faultline has exited (it waits for
/// a FIFO the test opens once faultline's status is in). faultline must neither wait for it
/// nor cut it off: every line arrives, in order, after faultline's own report.
#[test]
fn stderr_written_after_the_root_exits_all_arrives_after_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    mkfifo(&go);
    let script = format!("(read x < '{}'; seq 1 20000 >&2) & echo 'root done' >&2; exit 7", go.display());
    let (mut child, _guard) = spawn_group(
        Command::new(FAULTLINE)
            .args(["run", "--no-store", "--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    let stderr = read_all_in_background(child.stderr.take().unwrap());
    let status = wait_with_patience(child, "faultline with a process that outlives the root");
    assert_eq!(status.code(), Some(7), "the root's status, at the root's exit: {status:?}");
    say_go(&go);

    let stderr = stderr.recv_timeout(PATIENCE).expect("stderr reaches end-of-file once the writer is done");
    let text = String::from_utf8_lossy(&stderr);
    let lines: Vec<&str> = text.lines().collect();
    let summary = lines.iter().position(|l| l.starts_with("faultline: ")).expect("faultline's summary line");
    assert_eq!(&lines[..summary], ["root done"], "{text}");
    let late: Vec<String> = lines[summary + 1..].iter().map(|l| l.to_string()).collect();
    let expected: Vec<String> = (1..=20000).map(|n| n.to_string()).collect();
    assert!(late == expected, "{} late lines, expected 20000 in order; first: {:?}", late.len(), late.first());
}

/// C9, the brief's repro: 100 KB written half a second after the root exited, read by the
/// caller until end-of-file.
#[test]
fn a_background_child_keeps_all_its_stderr() {
    let output = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--", "sh", "-c"])
        .arg("(sleep 0.5; head -c 100000 /dev/zero | tr '\\0' x >&2) & exit 0")
        .stdin(Stdio::null())
        .output()
        .expect("run faultline");
    assert_eq!(output.status.code(), Some(0), "{:?}", output.status);
    let text = String::from_utf8_lossy(&output.stderr);
    let theirs: String = text.lines().filter(|l| !l.starts_with("faultline: ")).collect();
    assert!(theirs == "x".repeat(100_000), "{} bytes of the command's stderr, expected 100000 x", theirs.len());
}

/// A process that is forking as the root exits: its new child is traced before faultline
/// hears of it, and must be let go too, not killed when faultline exits (EXITKILL). Each run
/// races once per fork; twelve runs of 300 forks lost lines in about one run of five before
/// the fix.
#[test]
fn a_background_loop_forking_as_the_root_exits_keeps_every_child() {
    for attempt in 1..=12 {
        let output = Command::new(FAULTLINE)
            .args(["run", "--no-store", "--", "sh", "-c"])
            .arg("for i in $(seq 1 300); do /bin/echo $i >&2; done & exit 0")
            .stdin(Stdio::null())
            .output()
            .expect("run faultline");
        assert_eq!(output.status.code(), Some(0), "{:?}", output.status);
        let text = String::from_utf8_lossy(&output.stderr);
        let theirs: Vec<&str> = text.lines().filter(|l| !l.starts_with("faultline: ")).collect();
        let expected: Vec<String> = (1..=300).map(|n| n.to_string()).collect();
        assert!(theirs == expected, "run {attempt}: {} of 300 lines; last: {:?}", theirs.len(), theirs.last());
    }
}

/// A2 and C9: when the reader of stderr is gone, a process that outlives the root and then
/// writes gets SIGPIPE, as it would without faultline, instead of blocking or being
/// swallowed; faultline keeps the root's status.
#[test]
fn a_background_writer_sees_sigpipe_when_the_reader_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let done = dir.path().join("done");
    mkfifo(&go);
    mkfifo(&done);
    let script = format!("(read x < '{}'; yes >&2; echo $? > '{}') & exit 5", go.display(), done.display());
    let (mut child, _guard) = spawn_group(
        Command::new(FAULTLINE)
            .args(["run", "--no-store", "--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    );
    drop(child.stderr.take());
    let status = wait_with_patience(child, "faultline with its stderr reader gone");
    assert_eq!(status.code(), Some(5), "{status:?}");
    say_go(&go);
    let ended = read_fifo_in_background(&done);
    let ended = ended.recv_timeout(PATIENCE).expect("`yes` never stopped: its stderr was not closed");
    assert_eq!(String::from_utf8_lossy(&ended).trim(), (128 + libc::SIGPIPE).to_string());
}

/// A2: the command writes a lot after the reader of stderr went away: it dies of SIGPIPE
/// as it would bare, and faultline hands that status back without panicking.
#[test]
fn a_command_writing_to_a_closed_stderr_dies_as_it_would_bare() {
    let run = |program: &str, args: &[&str]| {
        let (mut child, _guard) = spawn_group(
            Command::new(program).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()),
        );
        drop(child.stdout.take());
        drop(child.stderr.take());
        wait_with_patience(child, program)
    };
    let command = ["sh", "-c", "sleep 0.3; yes >&2"];
    let bare = run(command[0], &command[1..]);
    let mut wrapped_args = vec!["run", "--no-store", "--"];
    wrapped_args.extend(command);
    let wrapped = run(FAULTLINE, &wrapped_args);
    assert_eq!(shell_status(bare), 128 + libc::SIGPIPE, "bare: {bare:?}");
    assert_eq!(shell_status(wrapped), shell_status(bare), "under faultline: {wrapped:?}");
}

const SEGV_AFTER_A_LINE: &str = "import ctypes, sys\n\
    print('the line written by this run', file=sys.stderr, flush=True)\n\
    ctypes.string_at(0)\n";

/// Runs the crashing script with `stderr` as faultline's stderr (and stdout when given) and
/// returns the crash's stderr tail from the JSON report.
fn crash_tail_with_stderr(stderr: std::fs::File, also_stdout: bool) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("segv.py");
    std::fs::write(&script, SEGV_AFTER_A_LINE).unwrap();
    let report = dir.path().join("report.json");
    let stdout = if also_stdout { Stdio::from(stderr.try_clone().unwrap()) } else { Stdio::null() };
    let status = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--json"])
        .arg(&report)
        .arg("--")
        .arg("python3")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .status()
        .expect("run faultline");
    assert_eq!(shell_status(status), 128 + libc::SIGSEGV, "{status:?}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let tail = report["crashes"][0]["stderr_tail"].as_array().expect("a stderr tail").clone();
    tail.iter().map(|l| l.as_str().unwrap().to_owned()).collect()
}

/// C10: `(echo old >&2; faultline run -- python3 segv.py) 2>err.log`: what was in the file
/// before the run is not the crash's.
#[test]
fn the_stderr_tail_leaves_out_what_the_file_had_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("err.log");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"old line from before the run\n").unwrap();
    let tail = crash_tail_with_stderr(file, false);
    assert_eq!(tail, ["the line written by this run"]);
    let log = std::fs::read_to_string(&path).unwrap();
    assert!(log.starts_with("old line from before the run\nthe line written by this run\n"), "{log}");
}

/// C10 in CI: `faultline run … >> build.log 2>&1` after earlier steps wrote to build.log.
#[test]
fn the_stderr_tail_leaves_out_earlier_steps_of_an_appended_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("build.log");
    std::fs::write(&path, "step 1: compiling\nerror: an earlier step's failure\n").unwrap();
    let file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    let tail = crash_tail_with_stderr(file, true);
    assert_eq!(tail, ["the line written by this run"]);
}

/// A command that handles (and so survives) the stop signal `signal`, with a grandchild
/// that ignores it. It prints `ready <grandchild pid>`, then `got <n>` for each signal.
const STUBBORN_TREE: &str = "import signal, subprocess, sys, time\n\
    sig = int(sys.argv[1])\n\
    child = subprocess.Popen(['sleep', '1000'], preexec_fn=lambda: signal.signal(sig, signal.SIG_IGN))\n\
    signal.signal(sig, lambda n, _: print('got', n, flush=True))\n\
    print('ready', child.pid, flush=True)\n\
    while True:\n    time.sleep(1)\n";

/// The lines a reader yields, through a channel, so that each wait has a deadline.
fn lines_of(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_line(lines: &mpsc::Receiver<String>, what: &str) -> String {
    lines.recv_timeout(PATIENCE).unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}"))
}

/// The first line containing `needle`.
fn line_containing(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = next_line(lines, needle);
        if line.contains(needle) {
            return line;
        }
    }
}

fn send(pid: u32, signal: i32) {
    // SAFETY: sending a signal to a process this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

/// Waits until `pid` (not our child) has ended, through a pidfd.
fn wait_until_gone(pid: i32) -> bool {
    // SAFETY: pidfd_open takes a pid and flags; the result is a descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        // ESRCH: already gone (and reaped).
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let mut pollfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: polling one valid pollfd, then closing our descriptor.
    let ready = unsafe { libc::poll(&mut pollfd, 1, PATIENCE.as_millis() as i32) };
    unsafe { libc::close(fd) };
    ready == 1
}

fn is_alive(pid: i32) -> bool {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    state.and_then(|s| s.rsplit(')').next().map(|rest| !rest.trim_start().starts_with(['Z', 'X']))).unwrap_or(false)
}

/// C11: the first `signal` is passed on with a line saying so, and the tree survives it
/// (it handles or ignores it); a second one kills the whole tree with SIGKILL, and faultline
/// ends with the root's status: death by SIGKILL.
fn second_stop_signal_kills_a_tree_that_survives_the_first(signal: i32, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("stubborn.py");
    std::fs::write(&script, STUBBORN_TREE).unwrap();
    let (mut child, _guard) = spawn_group(
        Command::new(FAULTLINE)
            .args(["run", "--no-store", "--", "python3"])
            .arg(&script)
            .arg(signal.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = lines_of(child.stdout.take().unwrap());
    let err = lines_of(child.stderr.take().unwrap());
    let ready = next_line(&out, "ready line");
    let grandchild: i32 = ready.strip_prefix("ready ").and_then(|p| p.parse().ok()).expect(&ready);

    send(child.id(), signal);
    let said = line_containing(&err, "faultline: interrupted");
    assert_eq!(
        said,
        format!("faultline: interrupted by {name}: waiting for the command to stop ({name} again to kill it)")
    );
    assert_eq!(next_line(&out, "the command's reply"), format!("got {signal}"), "the signal reached the command");
    assert!(is_alive(grandchild), "the grandchild ignores {name} and lives on");

    send(child.id(), signal);
    assert_eq!(line_containing(&err, "faultline: second"), format!("faultline: second {name}: killing the command"));
    let status = wait_with_patience(child, "faultline after a second stop signal");
    assert_eq!(shell_status(status), 128 + libc::SIGKILL, "{status:?}");
    assert!(wait_until_gone(grandchild), "the grandchild {grandchild} was killed too");
}

#[test]
fn a_second_sigterm_kills_the_tree() {
    second_stop_signal_kills_a_tree_that_survives_the_first(libc::SIGTERM, "SIGTERM");
}

#[test]
fn a_second_sigint_kills_the_tree() {
    second_stop_signal_kills_a_tree_that_survives_the_first(libc::SIGINT, "SIGINT");
}
