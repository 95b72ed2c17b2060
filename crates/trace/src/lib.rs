//! Linux process control under ptrace: launching the command traced, the wait loop,
//! capturing crashes, snapshots for timeouts and memory limits, forwarding signals. The one
//! home of `unsafe` process control.

pub mod memwatch;
pub mod supervised;

use crate::model::Pid;
use faultline_model::{capture, events, model};
use faultline_procfs::{maps, memory, process_globals};
use faultline_python as python;
use faultline_unwind as native;

mod collect;
mod die;
mod forward;
mod launch;
mod preload_gate;
mod probe;
mod ptrace;
mod status;
mod stderr_tail;
mod supervisor;
mod tasks;
mod tree;

pub use die::die_by_signal;
pub use forward::stop_requested;
pub use launch::{resolve_program, ChildRlimit, LaunchError};
pub use probe::ptrace_kills_the_caller;

use crate::events::{exit_info, Captured, EventSink, Notice, Notices, RunEvent};
use crate::memwatch::{LimitEnforcer, MemoryConfig, MemoryWatch, OomCounter};
use crate::model::{ExitInfo, MemoryReport, ProcessSnapshot};
use launch::{LaunchSpec, Launched};
use std::ffi::{CString, OsString};
use std::time::Duration;

/// How to run the command beyond its argv.
pub struct RunOptions {
    /// The child's whole environment; `None` inherits ours.
    pub envp: Option<Vec<CString>>,
    pub rlimits: Vec<ChildRlimit>,
    pub timeout: Option<Duration>,
    /// Grace period between SIGTERM and SIGKILL when faultline stops the tree.
    pub kill_after: Duration,
    pub memory: MemoryConfig,
    /// Where the tracer's threads send what the user should hear while the run goes on.
    pub notices: Notices,
    /// A sanitizer run (`--asan`): its runtime goes to Python processes only, and its
    /// reports are read from its log files at a crash.
    pub sanitizer: Option<SanitizerSetup>,
}

/// How a sanitizer run is set up; the environment itself (`LD_PRELOAD`, `ASAN_OPTIONS`)
/// comes with `envp`.
#[derive(Debug, Clone, Default)]
pub struct SanitizerSetup {
    /// The runtime library, first in `LD_PRELOAD`: kept there for Python programs only.
    pub python_only_preload: Option<String>,
    /// The sanitizer's `log_path`: it writes `PREFIX.PID` for each process that reports.
    pub log_prefix: Option<std::path::PathBuf>,
}

/// A tree faultline stopped at its time limit, with the stacks taken first; the run
/// session adds the hang findings they show (`hang::timeout_info`, outside the tracer).
#[derive(Debug, Clone)]
pub struct TimeoutStop {
    pub limit_ms: f64,
    pub processes: Vec<ProcessSnapshot>,
    /// `SIGTERM` when the tree ended within the grace period, `SIGKILL` when it was killed.
    pub stopped_with: String,
}

/// How the run ended.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub exit: ExitInfo,
    pub processes_started: u32,
    pub timeout: Option<TimeoutStop>,
    pub memory: Option<MemoryReport>,
    /// faultline stopped the run at `--max-memory`.
    pub stopped_for_memory: bool,
}

/// Runs `argv` (program first) to completion under supervision and returns how it ended.
/// If ptrace is refused, the command still runs, untraced, and its status still comes back.
pub fn run(argv: &[OsString], options: RunOptions, sink: &mut dyn EventSink<Captured>) -> Result<RunEnd, LaunchError> {
    let program_name = argv.first().map(|a| a.as_os_str()).unwrap_or_default();
    let program = resolve_program(program_name, std::env::var_os("PATH").as_deref())?;
    // Before any thread starts, so that every thread has them blocked.
    block_sigchld();
    let members = tree::TreeMembers::default();
    let _forwarder = forward::SignalForwarder::start(members.clone(), options.notices.clone());
    let mut stderr_tail = stderr_tail::StderrTail::setup();

    let mut enforcer = options.memory.limit_bytes.map(LimitEnforcer::prepare);
    let mut rlimits = options.rlimits.clone();
    if let Some(bytes) = enforcer.as_ref().and_then(LimitEnforcer::child_address_space_limit) {
        rlimits.push(ChildRlimit { resource: libc::RLIMIT_AS, soft: bytes, hard: bytes });
    }
    let oom_counter = OomCounter::start();
    let on_forked = |pid: i32| {
        if let Some(enforcer) = &enforcer {
            let _ = enforcer.add_process(pid);
        }
    };
    let spec = LaunchSpec {
        program: &program,
        argv,
        envp: options.envp.as_deref(),
        rlimits: &rlimits,
        stderr_redirect: stderr_tail.child_redirect(),
        on_forked: &on_forked,
        ptrace_kills: probe::ptrace_kills_the_caller(),
        supervised_by: crate::supervised::supervising_faultline(),
    };
    let launched = launch::launch(&spec);
    stderr_tail.child_started();
    let end = match launched? {
        Launched::Traced(root) => {
            sink.event(RunEvent::Started { root_pid: Pid(root), untraced: None });
            let limits = supervisor::Limits {
                timeout: options.timeout,
                kill_after: options.kill_after,
                memory: Some(MemoryWatch::new(options.memory.clone())),
                memory_limit: options.memory.limit_bytes,
            };
            let end = supervisor::Supervisor::new(root, sink, &stderr_tail, members.clone(), limits)
                .with_sanitizer(options.sanitizer.clone(), options.notices.clone())
                .run();
            let oom_kills = enforcer.as_ref().map_or(0, LimitEnforcer::oom_kills) + oom_counter.kills_since_start();
            // SIGKILLs while the kernel's OOM killer was active are its doing.
            let oom_killed = if oom_kills > 0 { end.sigkilled.clone() } else { Vec::new() };
            let enforcement = enforcer.as_ref().map(LimitEnforcer::describe);
            let memory = end.memory_watch.map(|watch| watch.finish(end.memory_snapshot, oom_killed, enforcement));
            RunEnd {
                exit: end.exit,
                processes_started: end.processes_started,
                timeout: end.timeout,
                memory,
                stopped_for_memory: end.stopped_for_memory,
            }
        }
        Launched::Untraced { pid, reason } => {
            members.set(vec![pid]);
            let why = reason.to_string();
            sink.event(RunEvent::Started { root_pid: Pid(pid), untraced: Some(why) });
            let exit = wait_plainly(pid);
            members.set(Vec::new());
            RunEnd { exit, processes_started: 1, timeout: None, memory: None, stopped_for_memory: false }
        }
    };
    if let Some(enforcer) = enforcer.as_mut() {
        enforcer.cleanup();
    }
    // Let the tree's last output reach the real stderr before anyone prints after it.
    if let Some(error) = stderr_tail.finish(Duration::from_millis(300)) {
        (options.notices)(Notice::StderrRelayFailed { error });
    }
    Ok(end)
}

/// Blocks SIGCHLD in this thread (threads started later inherit it): the supervisor waits
/// for it with `sigtimedwait`, so that it can also wake for deadlines.
fn block_sigchld() {
    let set = forward::signal_set(&[libc::SIGCHLD]);
    // SAFETY: set is initialized; blocking in this thread only.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

fn wait_plainly(pid: i32) -> ExitInfo {
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            if libc::WIFEXITED(status) {
                return exit_info(Some(libc::WEXITSTATUS(status)), None, false);
            }
            if libc::WIFSIGNALED(status) {
                return exit_info(None, Some(libc::WTERMSIG(status)), libc::WCOREDUMP(status));
            }
        } else if ret < 0 && nix::errno::Errno::last() != nix::errno::Errno::EINTR {
            return exit_info(None, None, false);
        }
    }
}
