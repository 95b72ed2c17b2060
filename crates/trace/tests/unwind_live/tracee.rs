//! Test support: build the C fixtures, run one under ptrace until its fatal signal, and
//! clean up. Each test thread waits only for its own children (`__WNOTHREAD`), so tests
//! can run in parallel.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nix::sys::ptrace;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use faultline_model::capture::Registers;

pub struct Fixtures {
    _dir: tempfile::TempDir,
    pub crash: PathBuf,
    pub libfault: PathBuf,
    pub crash_cpp: PathBuf,
}

/// Compiles the fixtures once per test binary.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/native");
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path();
        let lib = out.join("libfault.so");
        let crash = out.join("crash");
        let crash_cpp = out.join("crash_cpp");
        compile("cc", &[&src.join("libfault.c"), Path::new("-shared"), Path::new("-fPIC"), Path::new("-o"), &lib]);
        let rpath = format!("-Wl,-rpath,{}", out.display());
        let libdir = format!("-L{}", out.display());
        compile(
            "cc",
            &[
                &src.join("crash.c"),
                Path::new("-o"),
                &crash,
                Path::new(&libdir),
                Path::new("-lfault"),
                Path::new(&rpath),
                Path::new("-pthread"),
            ],
        );
        compile("c++", &[&src.join("crash_cpp.cc"), Path::new("-o"), &crash_cpp]);
        Fixtures { _dir: dir, crash, libfault: lib, crash_cpp }
    })
}

fn compile(compiler: &str, args: &[&Path]) {
    let output = Command::new(compiler)
        .args(["-g", "-O1"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {compiler}: {e}"));
    assert!(output.status.success(), "{compiler} {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
}

/// A fixture process held at the signal-delivery-stop of its fatal signal.
pub struct Crashed {
    pub pid: i32,
    pub tid: i32,
    pub signal: Signal,
    pub regs: Registers,
}

impl Drop for Crashed {
    fn drop(&mut self) {
        let leader = Pid::from_raw(self.pid);
        let _ = kill(leader, Signal::SIGKILL);
        // Reap every traced thread; the leader reports last.
        loop {
            match waitpid(None, Some(WaitPidFlag::__WALL | WaitPidFlag::__WNOTHREAD)) {
                Ok(WaitStatus::Exited(pid, _)) | Ok(WaitStatus::Signaled(pid, _, _)) if pid == leader => break,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
}

/// Runs `program args` traced until a thread gets a fatal signal (SIGSEGV, SIGBUS,
/// SIGABRT, SIGFPE, SIGILL); other signals are passed on.
pub fn run_until_crash(program: &Path, args: &[&str]) -> Crashed {
    let mut command = Command::new(program);
    command.args(args);
    run_command_until_crash(command)
}

pub fn run_command_until_crash(mut command: Command) -> Crashed {
    // SAFETY: ptrace(PTRACE_TRACEME) is async-signal-safe: fine between fork and exec.
    unsafe {
        command.pre_exec(|| ptrace::traceme().map_err(std::io::Error::from));
    }
    // Reaped with waitpid in `Crashed::drop`, not `Child::wait`, which would steal
    // the ptrace stops.
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().expect("spawn fixture");
    let pid = Pid::from_raw(child.id() as i32);
    let mut crashed = Crashed {
        pid: pid.as_raw(),
        tid: 0,
        signal: Signal::SIGKILL,
        regs: Registers { ip: 0, sp: 0, bp: 0, fs_base: 0 },
    };
    let flags = WaitPidFlag::__WALL | WaitPidFlag::__WNOTHREAD;
    let mut exec_stop_seen = false;
    loop {
        let status = waitpid(None, Some(flags)).expect("waitpid");
        match status {
            WaitStatus::Stopped(tid, Signal::SIGTRAP) if !exec_stop_seen && tid == pid => {
                exec_stop_seen = true;
                ptrace::setoptions(
                    pid,
                    ptrace::Options::PTRACE_O_TRACECLONE
                        | ptrace::Options::PTRACE_O_TRACEEXEC
                        | ptrace::Options::PTRACE_O_EXITKILL,
                )
                .expect("setoptions");
                ptrace::cont(tid, None).expect("cont");
            }
            WaitStatus::Stopped(
                tid,
                signal @ (Signal::SIGSEGV | Signal::SIGBUS | Signal::SIGABRT | Signal::SIGFPE | Signal::SIGILL),
            ) => {
                let regs = ptrace::getregs(tid).expect("getregs");
                crashed.tid = tid.as_raw();
                crashed.signal = signal;
                crashed.regs = Registers { ip: regs.rip, sp: regs.rsp, bp: regs.rbp, fs_base: regs.fs_base };
                return crashed;
            }
            // A new thread's initial stop: no signal to pass on.
            WaitStatus::Stopped(tid, Signal::SIGSTOP) if tid != pid => ptrace::cont(tid, None).expect("cont"),
            WaitStatus::Stopped(tid, signal) => ptrace::cont(tid, signal).expect("cont"),
            WaitStatus::PtraceEvent(tid, _, _) => ptrace::cont(tid, None).expect("cont"),
            WaitStatus::Exited(p, code) if p == pid => {
                panic!("fixture exited with {code} before crashing")
            }
            WaitStatus::Signaled(p, signal, _) if p == pid => {
                panic!("fixture killed by {signal} unseen")
            }
            _ => {}
        }
    }
}
