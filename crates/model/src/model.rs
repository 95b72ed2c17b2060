//! The report contract (`../shared/report-schema.json`, version 1) as Rust types.
//!
//! Everything here is plain data: no OS code, no I/O. The supervisor turns live values
//! (wait statuses, siginfo, registers) into these types before anyone reports them.

use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

/// The project file whose `[tool.faultline]` table holds settings (`Report.settings_file`
/// names it, or a `faultline.toml`).
pub const PYPROJECT_TOML: &str = "pyproject.toml";

/// A process id (the kernel's thread-group id), as the report names processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pid(pub i32);

/// A thread id (the kernel's task id); a process's main thread has the process's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tid(pub i32);

impl Pid {
    /// The id of the process's main thread.
    pub fn main_thread(self) -> Tid {
        Tid(self.0)
    }
}

impl Tid {
    /// Whether this is the main thread of `pid`.
    pub fn is_main_of(self, pid: Pid) -> bool {
        self.0 == pid.0
    }
}

impl std::fmt::Display for Pid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for Tid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How a whole run ended. Exhaustive: every run gets exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The root command exited 0 and nothing crashed.
    Passed,
    /// The root command exited non-zero and nothing crashed.
    Failed,
    /// At least one process of the tree died from a captured fatal signal.
    Crashed,
    /// faultline stopped the run at its time limit.
    Timeout,
    /// A memory limit stopped the run, or the kernel OOM killer took a process.
    Oom,
    /// Ended by a signal from outside with no fault.
    Killed,
    /// faultline could not run the command.
    Error,
}

/// How the root command ended, as a shell would see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit code, or 128 + signal number.
    pub code: i32,
    pub signal: Option<String>,
    pub core_dumped: bool,
}

impl ExitInfo {
    /// The number of the signal that killed the command (`code` is 128 + it then).
    pub fn signal_number(&self) -> Option<i32> {
        self.signal.as_ref().map(|_| self.code - 128)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameKind {
    Native,
    Python,
}

/// One stack frame, native or Python.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub kind: FrameKind,
    pub function: Option<String>,
    /// Python: the qualified name (`App.draw_frame`, `outer.<locals>.inner`) when it differs
    /// from `function`, which is the plain name as Python's `co_name` has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualname: Option<String>,
    /// Native: basename of the ELF object. Python: dotted module name when known.
    pub module: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// Hex string (`0x7f12...`); native frames only.
    pub address: Option<String>,
    /// A native frame that DWARF says was inlined into the frame below it.
    #[serde(default)]
    pub inlined: bool,
    /// How many identical frames directly below this one were folded into it (recursion).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeated: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Frame {
    pub fn native(function: Option<String>, module: Option<String>, address: u64) -> Frame {
        Frame {
            kind: FrameKind::Native,
            function,
            qualname: None,
            module,
            file: None,
            line: None,
            address: Some(hex(address)),
            inlined: false,
            repeated: 0,
        }
    }

    /// A Python frame; `function` may be qualified (`App.draw_frame`): the plain name goes
    /// to `function` and the qualified one to `qualname`.
    pub fn python(function: String, file: String, line: Option<u32>, module: Option<String>) -> Frame {
        let (plain, qualname) = match function.rsplit_once('.') {
            Some((_, plain)) if !plain.is_empty() => (plain.to_owned(), Some(function)),
            _ => (function, None),
        };
        Frame {
            kind: FrameKind::Python,
            function: Some(plain),
            qualname,
            module,
            file: Some(file),
            line,
            address: None,
            inlined: false,
            repeated: 0,
        }
    }

    /// The name to show people: the qualified one when known.
    pub fn display_name(&self) -> Option<&str> {
        self.qualname.as_deref().or(self.function.as_deref())
    }

    /// A frame of Python code (as opposed to native code). Whether a *program* is Python is
    /// another question: `faultline_python::is_interpreter_name`.
    pub fn is_python(&self) -> bool {
        self.kind == FrameKind::Python
    }
}

/// Formats an address the way the schema wants it: a hex string.
pub fn hex(address: u64) -> String {
    format!("{address:#x}")
}

/// The address a [`hex`] string names (`0x7f12…`), as a frame's `address` holds it.
pub fn parse_hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// One thread of a process, innermost frame first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub tid: Tid,
    pub name: Option<String>,
    #[serde(default)]
    pub crashed: bool,
    pub holds_gil: Option<bool>,
    /// Extension: the OS scheduler state when the stack was taken, from
    /// `/proc/<pid>/task/<tid>/stat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ThreadState>,
    /// Extension: where the Python frames came from, when not the usual way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_frames_from: Option<PythonFramesFrom>,
    pub frames: Vec<Frame>,
}

/// An allocator variant as a run used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunVariant {
    pub name: String,
    /// `KEY=value`, in the order they were set.
    pub env: Vec<String>,
}

/// How a thread's Python frames were found, when the thread state's pointer to its current
/// frame could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PythonFramesFrom {
    /// The interpreter's data stack (CPython 3.11 and 3.12 keep frames in heap chunks while
    /// the pointer to the current one is reached through the C stack, which an overrun
    /// overwrites).
    DataStack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessRole {
    /// The root command's own process (after any exec chain).
    Main,
    /// Any descendant.
    Child,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSnapshot {
    pub pid: Pid,
    pub process: ProcessRole,
    pub executable: Option<String>,
    pub argv: Vec<String>,
    pub threads: Vec<Thread>,
}

/// What went wrong, as far as can be told from outside the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashKind {
    NullDeref,
    WildPointer,
    UseAfterFree,
    WriteToReadonly,
    ExecNonCode,
    StackOverflow,
    DoubleFree,
    HeapCorruption,
    /// A linear overrun of a buffer into memory it does not own.
    BufferOverflow,
    Abort,
    Assert,
    Fpe,
    BusError,
    IllegalInstruction,
    /// A Rust panic that aborted (panic = "abort", or a panic that could not unwind).
    Panic,
    /// A C++ exception that reached std::terminate.
    UncaughtException,
    SelfSignal,
    ExternalSignal,
    Unknown,
}

impl CrashKind {
    /// The schema's spelling (`null-deref`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CrashKind::NullDeref => "null-deref",
            CrashKind::WildPointer => "wild-pointer",
            CrashKind::UseAfterFree => "use-after-free",
            CrashKind::WriteToReadonly => "write-to-readonly",
            CrashKind::ExecNonCode => "exec-non-code",
            CrashKind::StackOverflow => "stack-overflow",
            CrashKind::DoubleFree => "double-free",
            CrashKind::HeapCorruption => "heap-corruption",
            CrashKind::BufferOverflow => "buffer-overflow",
            CrashKind::Abort => "abort",
            CrashKind::Assert => "assert",
            CrashKind::Fpe => "fpe",
            CrashKind::BusError => "bus-error",
            CrashKind::IllegalInstruction => "illegal-instruction",
            CrashKind::Panic => "panic",
            CrashKind::UncaughtException => "uncaught-exception",
            CrashKind::SelfSignal => "self-signal",
            CrashKind::ExternalSignal => "external-signal",
            CrashKind::Unknown => "unknown",
        }
    }

    /// What the kind means, in a few words for people (`a null pointer was dereferenced`).
    pub fn describe(self) -> &'static str {
        match self {
            CrashKind::NullDeref => "a null pointer was dereferenced",
            CrashKind::WildPointer => "an invalid pointer was dereferenced",
            CrashKind::UseAfterFree => "memory was used after it was freed",
            CrashKind::WriteToReadonly => "read-only memory was written to",
            CrashKind::ExecNonCode => "the program jumped to memory that is not code",
            CrashKind::StackOverflow => "the stack overflowed",
            CrashKind::DoubleFree => "memory was freed twice",
            CrashKind::HeapCorruption => "the heap was corrupted",
            CrashKind::BufferOverflow => "a buffer was overrun into memory it does not own",
            CrashKind::Abort => "the program aborted",
            CrashKind::Assert => "an assertion failed",
            CrashKind::Fpe => "an arithmetic error (division by zero)",
            CrashKind::BusError => "a bus error (misaligned or unmapped file memory)",
            CrashKind::IllegalInstruction => "an illegal instruction",
            CrashKind::Panic => "a Rust panic aborted the process",
            CrashKind::UncaughtException => "a C++ exception was not caught",
            CrashKind::SelfSignal => "the process signalled itself",
            CrashKind::ExternalSignal => "another process sent a fatal signal",
            CrashKind::Unknown => "a fatal signal of unknown cause",
        }
    }
}

/// Where in the life of the program the crash happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Before the interpreter ran any Python code.
    Startup,
    /// Inside an extension's `PyInit_*` or the import machinery.
    Import,
    /// Ordinary program code.
    Run,
    /// Inside a pytest test (setup, call or teardown).
    Test,
    /// After the interpreter began finalizing: exit handlers, static destructors.
    Shutdown,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Startup => "startup",
            Phase::Import => "import",
            Phase::Run => "run",
            Phase::Test => "test",
            Phase::Shutdown => "shutdown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRef {
    /// `tests/test_x.py::TestC::test_y[param]`
    pub nodeid: String,
    /// `setup`, `call` or `teardown`, as pytest announces it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonLocation {
    pub function: String,
    pub file: String,
    pub line: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Culprit {
    pub function: Option<String>,
    pub module: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    /// Stable identifier (`shutdown-static-destructor`), for machines.
    pub id: String,
    /// One or two sentences, for people.
    pub text: String,
}

/// One captured crash: the diagnosis plus the evidence it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crash {
    pub pid: Pid,
    pub tid: Tid,
    pub process: ProcessRole,
    pub executable: Option<String>,
    pub argv: Vec<String>,
    pub thread_name: Option<String>,
    pub signal: String,
    pub si_code: Option<String>,
    pub fault_address: Option<String>,
    pub sender_pid: Option<Pid>,
    pub kind: CrashKind,
    pub phase: Phase,
    pub message: Option<String>,
    pub test: Option<TestRef>,
    pub python: Option<PythonLocation>,
    pub culprit: Option<Culprit>,
    pub signature: String,
    pub hints: Vec<Hint>,
    pub threads: Vec<Thread>,
    /// Extension: one sentence on the faulting address (`in the guard page below the stack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_detail: Option<String>,
    /// Extension: the last lines the crashed process wrote to its stderr.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_tail: Vec<String>,
    /// Extension: how long faultline held the faulting thread stopped, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_ms: Option<f64>,
    /// Extension: ms from the fault stop until this report was complete (symbols, diagnosis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_ready_ms: Option<f64>,
    /// Extension: set when `message` was read from stderr but the crashed thread's stack does
    /// not show the runtime path that prints it: the tree shares one stderr, so another
    /// process may have written the line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub message_untied: bool,
    /// Extension: what pytest had done in the crashed process, from faultline's pytest
    /// channel; absent when the process was not pytest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pytest: Option<PytestProgress>,
    /// A sanitizer's own report of this crash (AddressSanitizer, UBSan), when one was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitizer: Option<SanitizerReport>,
}

/// What a sanitizer said about a crash: its name for the error, the bad access, and the
/// stacks it recorded (the access, the allocation, the free).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SanitizerReport {
    /// `AddressSanitizer`, `UndefinedBehaviorSanitizer`, ...
    pub tool: String,
    /// The sanitizer's own name for the error: `heap-buffer-overflow`, `double-free`, ...
    pub class: String,
    /// `WRITE of size 1 at 0x602000000015 thread T0`.
    pub access: Option<String>,
    /// Where the memory lies: `0x602000000015 is located 0 bytes after 5-byte region [...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Innermost first; the access stack first when the sanitizer printed one.
    pub stacks: Vec<SanitizerStack>,
}

impl SanitizerReport {
    /// The stacks other than the access one (which is the crashed thread's own stack).
    pub fn extra_stacks(&self) -> impl Iterator<Item = &SanitizerStack> {
        self.stacks.iter().filter(|s| s.role != SanitizerStack::ACCESS)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SanitizerStack {
    /// `access`, `allocated`, `freed`, or the sanitizer's own words for others
    /// (`thread T1 created`).
    pub role: String,
    /// The sanitizer's heading line, as printed (`freed by thread T0 here:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    pub frames: Vec<Frame>,
}

impl SanitizerStack {
    pub const ACCESS: &'static str = "access";
}

impl Crash {
    pub fn crashed_thread(&self) -> Option<&Thread> {
        self.threads.iter().find(|t| t.crashed).or_else(|| self.threads.iter().find(|t| t.tid == self.tid))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeoutInfo {
    pub limit_ms: f64,
    pub processes: Vec<ProcessSnapshot>,
    /// Extension: how the tree was stopped: `SIGTERM` when it ended within the grace period,
    /// `SIGKILL` when it had to be killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_with: Option<String>,
    /// Extension: what the stacks show the tree was doing, most telling first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<HangFinding>,
}

/// One observation about a hung tree, made once by the diagnosis when the tree was stopped
/// (`faultline_diagnose::hang`); every renderer reads it from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HangFinding {
    pub id: HangFindingId,
    pub pid: Pid,
    /// The thread it is about; for a whole process, its main thread.
    pub tid: Option<Tid>,
    /// One or two sentences, for people.
    pub text: String,
}

/// What a hang finding says, for machines (serialized as the kebab-case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HangFindingId {
    /// A thread holding the GIL waits on a lock.
    LockWhileHoldingGil,
    /// A thread holding the GIL is blocked in a system call.
    BlockingWhileHoldingGil,
    /// A thread waits on a lock it holds itself.
    SelfDeadlock,
    /// Two threads each hold what the other waits for, one of them the GIL.
    GilLockInversion,
    /// A thread waits for the GIL.
    WaitingForGil,
    /// A thread runs native code without waiting.
    NativeBusyLoop,
    /// A thread runs Python code without waiting.
    PythonBusy,
    /// A thread is in uninterruptible sleep (I/O).
    DiskSleep,
    /// Every thread of a process waits.
    AllThreadsWaiting,
}

impl HangFindingId {
    /// The name machines read (the JSON value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LockWhileHoldingGil => "lock-while-holding-gil",
            Self::BlockingWhileHoldingGil => "blocking-while-holding-gil",
            Self::SelfDeadlock => "self-deadlock",
            Self::GilLockInversion => "gil-lock-inversion",
            Self::WaitingForGil => "waiting-for-gil",
            Self::NativeBusyLoop => "native-busy-loop",
            Self::PythonBusy => "python-busy",
            Self::DiskSleep => "disk-sleep",
            Self::AllThreadsWaiting => "all-threads-waiting",
        }
    }
}

/// A thread's scheduler state, the letter of its `stat` line, named (serialized in
/// kebab-case: `running`, `sleeping`, `disk-sleep`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadState {
    /// `R`: on a CPU or ready to run.
    Running,
    /// `S`: waiting (a lock, a read, a sleep), interruptible.
    Sleeping,
    /// `D`: uninterruptible wait, nearly always I/O.
    DiskSleep,
    /// `T`: stopped by a signal.
    Stopped,
    /// `t`: stopped by a tracer.
    TracingStop,
    /// `Z`: ended, not yet reaped.
    Zombie,
    /// `X`: being torn down.
    Dead,
    /// `I`: an idle kernel thread.
    Idle,
    /// A letter this version does not know.
    Unknown,
}

impl ThreadState {
    pub const ALL: [ThreadState; 9] = [
        ThreadState::Running,
        ThreadState::Sleeping,
        ThreadState::DiskSleep,
        ThreadState::Stopped,
        ThreadState::TracingStop,
        ThreadState::Zombie,
        ThreadState::Dead,
        ThreadState::Idle,
        ThreadState::Unknown,
    ];

    /// The state of a `stat` letter.
    pub fn from_letter(letter: char) -> ThreadState {
        match letter {
            'R' => ThreadState::Running,
            'S' => ThreadState::Sleeping,
            'D' => ThreadState::DiskSleep,
            'T' => ThreadState::Stopped,
            't' => ThreadState::TracingStop,
            'Z' => ThreadState::Zombie,
            'X' => ThreadState::Dead,
            'I' => ThreadState::Idle,
            _ => ThreadState::Unknown,
        }
    }

    /// The name people and machines read (the JSON value).
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadState::Running => "running",
            ThreadState::Sleeping => "sleeping",
            ThreadState::DiskSleep => "disk-sleep",
            ThreadState::Stopped => "stopped",
            ThreadState::TracingStop => "tracing-stop",
            ThreadState::Zombie => "zombie",
            ThreadState::Dead => "dead",
            ThreadState::Idle => "idle",
            ThreadState::Unknown => "unknown",
        }
    }
}

/// Whether the tree's memory grows over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendVerdict {
    /// A steady rise: the fit is good and the slope is a leak's.
    Growing,
    /// Anything else.
    Flat,
}

/// Whether memory grows steadily over the run: a least-squares line through the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryTrend {
    pub verdict: TrendVerdict,
    pub bytes_per_s: f64,
    /// Coefficient of determination of the fit, 0..1.
    pub r2: f64,
    /// How many samples the fit used.
    pub samples: usize,
}

/// The process that held the most memory at the tree's peak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryHolder {
    pub pid: Pid,
    pub rss_bytes: u64,
    pub argv: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryReport {
    /// Peak resident memory of the whole tree (the sum over its processes).
    pub peak_rss_bytes: u64,
    pub limit_bytes: Option<u64>,
    /// `[ms since start, tree RSS bytes]`; thinned out for long runs.
    pub samples: Vec<(f64, u64)>,
    pub trend: Option<MemoryTrend>,
    /// Stacks taken when a memory limit stopped the run.
    pub snapshot: Option<Vec<ProcessSnapshot>>,
    /// Extension: the process holding the most at the peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_holder: Option<MemoryHolder>,
    /// Extension: the `--memory-warn` threshold, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_bytes: Option<u64>,
    /// Extension: how the limit was enforced (`cgroup v2`, `cgroup v1`, `watchdog + RLIMIT_AS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
    /// Extension: processes the kernel's OOM killer took.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oom_killed: Vec<i32>,
}

/// The machine the run happened on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub host: Option<String>,
    pub kernel: Option<String>,
    pub cpu_count: Option<usize>,
    pub cpu_model: Option<String>,
    pub memory_total_bytes: Option<u64>,
    pub memory_available_bytes: Option<u64>,
    /// Version of the Python interpreter the run used, when one ran.
    pub python_version: Option<String>,
    pub faultline_version: String,
}

/// The whole run, as written by `faultline run --json FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub faultline_version: String,
    pub command: Vec<String>,
    pub cwd: Option<String>,
    pub started_at: Option<String>,
    pub duration_ms: f64,
    pub outcome: Outcome,
    pub exit: ExitInfo,
    pub crashes: Vec<Crash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeoutInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemInfo>,
    /// Extension: how many processes the tree started (the root included).
    #[serde(default)]
    pub processes_started: u32,
    /// Extension: the settings file the run applied (`faultline.toml`, or `pyproject.toml`
    /// for its `[tool.faultline]` table), as an absolute path; absent when none was found or
    /// `--no-config` was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_file: Option<String>,
    /// Extension: the allocator variant the command ran under (`--variant`), and the
    /// variables it set, so that a stored crash says how it was run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<RunVariant>,
    /// Extension: set when the command was a launcher (a shim script, `env`) that exec'd
    /// the real program, and which of the processes were only its helpers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher: Option<Launcher>,
    /// Extension: with `--keep-going`, every test of the suite and how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<SuiteResult>,
}

/// What pytest had done in a crashed process when it crashed: the breadcrumbs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PytestProgress {
    /// False when the process ran pytest but faultline's pytest plugin did not load in it
    /// (`python -I`, a runner that clears PYTHONPATH, `-p no:...`): then the test is named
    /// from `PYTEST_CURRENT_TEST` alone and nothing else below is known.
    pub channel: bool,
    /// The pytest-xdist worker (`gw0`), when the process was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// How many tests the process had collected (after any selection), once it had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected: Option<u32>,
    /// Tests this process finished before the crash, by pytest's outcome words.
    pub passed_before: u32,
    pub failed_before: u32,
    /// The last tests that ran in this process before the crashed one, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<RecentTest>,
    /// The session had ended (pytest_sessionfinish) before the crash: it happened at exit.
    pub session_finished: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentTest {
    pub nodeid: String,
    /// pytest's word for how it ended: passed, failed, error, skipped, xfailed, xpassed.
    pub outcome: String,
}

/// Extension of the report, for `faultline run --keep-going`: every collected test of the
/// suite with its real outcome, over all the restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteResult {
    /// How many times pytest was started again after a crash.
    pub restarts: u32,
    /// The tests, in the order they ran.
    pub tests: Vec<SuiteTest>,
    /// Why faultline stopped before every test had run (an interrupt, the time limit,
    /// `--maxfail`, a crash outside any test), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteTest {
    pub nodeid: String,
    pub outcome: TestOutcome,
    /// Setup, call and teardown together.
    pub duration_ms: f64,
    /// The failure's one line (`assert 1 == 2`), for failed and error outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For a crashed test: its crash, an index into the report's `crashes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<usize>,
    /// For a crashed test: it passed when run alone, so the crash needs tests that ran
    /// before it (`faultline bisect` finds which).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub order_dependent: bool,
}

/// pytest's words for a test's end, and faultline's `crashed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestOutcome {
    Passed,
    Failed,
    Crashed,
    Error,
    Skipped,
    Xfailed,
    Xpassed,
    /// Collected but never run (the run was stopped first).
    NotRun,
}

impl TestOutcome {
    /// The word pytest's summary uses (`3 failed`, `2 errors`: see `words`).
    pub fn word(self) -> &'static str {
        match self {
            TestOutcome::Passed => "passed",
            TestOutcome::Failed => "failed",
            TestOutcome::Crashed => "crashed",
            TestOutcome::Error => "error",
            TestOutcome::Skipped => "skipped",
            TestOutcome::Xfailed => "xfailed",
            TestOutcome::Xpassed => "xpassed",
            TestOutcome::NotRun => "not run",
        }
    }

    /// Whether the suite fails because of it.
    pub fn is_problem(self) -> bool {
        matches!(self, TestOutcome::Failed | TestOutcome::Crashed | TestOutcome::Error)
    }
}

/// What `faultline bisect` found (`faultline bisect --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisectReport {
    pub command: Vec<String>,
    pub verdict: BisectVerdict,
    /// The test that crashed in the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// How many tests ran before it in the process that crashed.
    pub earlier_tests: u32,
    /// The fewest of those that still make it crash (order kept): every one is needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needed: Vec<String>,
    /// How many times in a row the test alone must run to crash, when repeating it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetitions: Option<u32>,
    /// For a crash that did not come back every time: how often it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduced: Option<Rate>,
    /// Supervised runs made, the first whole run included.
    pub trials: u32,
    pub duration_ms: f64,
    /// Why the search ended early (an interrupt), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The crash, as the smallest reproducing trial reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<Crash>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BisectVerdict {
    /// It crashes only after some of the earlier tests ran (see `needed`, `repetitions`).
    OrderDependent,
    /// It crashes when run alone too: nothing before it is needed.
    CrashesAlone,
    /// The crash did not come back with the same tests in the same order.
    Flaky,
    /// The command did not crash in a test.
    NoCrash,
    /// The crash happened in no test (collection, start-up, exit): there is nothing to order.
    OutsideTests,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub crashed: u32,
    pub runs: u32,
}

/// A command that only launched the real program: the root process exec'd other programs
/// first (pyenv's `python3` shim is a bash script that runs ~40 helpers, then execs the real
/// `python3`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launcher {
    /// The command's program as found on PATH: `/root/.pyenv/shims/python3`.
    pub program: String,
    /// The program the root process finally became: `/root/.pyenv/versions/3.11.7/bin/python3.11`.
    pub became: Option<String>,
    /// How many of `processes_started` served only the launcher: they ended before the real
    /// program started.
    pub processes: u32,
}
