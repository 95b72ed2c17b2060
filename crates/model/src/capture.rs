//! The raw evidence taken from a process at the moment of a fatal signal.
//!
//! A `Capture` is plain data: the supervisor fills it while the thread is held stopped,
//! and `diagnose` turns it into a `model::Crash`. Keeping it free of OS handles lets the
//! diagnosis be tested on hand-made captures.

use crate::model::{Pid, ProcessRole, Thread, Tid};

/// One line of `/proc/<pid>/maps`: the one view of a process's memory map, read once per
/// capture while the process is held, for the unwinder, the Python reader, the globals
/// and the diagnosis alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
    /// Offset of `start` in the backing file.
    pub offset: u64,
    /// (major, minor) of the backing file's device; `(0, 0)` for anonymous memory.
    pub dev: (i32, i32),
    pub inode: u64,
    /// A file path, or a pseudo name such as `[stack]`, `[heap]`; `None` for anonymous memory.
    /// A file no longer there keeps the kernel's ` (deleted)` marker.
    pub path: Option<String>,
}

impl Mapping {
    pub fn contains(&self, address: u64) -> bool {
        self.start <= address && address < self.end
    }

    /// A `---p` mapping: the shape of a thread stack's guard page.
    pub fn is_inaccessible(&self) -> bool {
        !self.readable && !self.writable && !self.executable
    }

    /// The mapped file's path without the ` (deleted)` marker, and whether the marker was
    /// there; `None` for anonymous memory, pseudo names and System V shared memory
    /// (`/SYSV0000002a`, which names a key, not a file).
    pub fn file(&self) -> Option<(&str, bool)> {
        const DELETED: &str = " (deleted)";
        let path = self.path.as_deref().filter(|p| p.starts_with('/') && !is_sysv_name(p))?;
        Some(match path.strip_suffix(DELETED) {
            Some(stripped) => (stripped, true),
            None => (path, false),
        })
    }

    /// The kernel's vDSO: an ELF image that exists only in memory.
    pub fn is_vdso(&self) -> bool {
        self.path.as_deref() == Some("[vdso]")
    }
}

/// `/SYSV` and the key in 8 hex digits, as the kernel names a System V segment.
fn is_sysv_name(path: &str) -> bool {
    let key = path.strip_prefix("/SYSV").map(|rest| rest.strip_suffix(" (deleted)").unwrap_or(rest));
    key.is_some_and(|k| k.len() == 8 && k.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The signal as the kernel described it in siginfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalInfo {
    pub signo: i32,
    pub code: i32,
    /// `si_addr` for fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP).
    pub fault_address: Option<u64>,
    /// `si_pid` for signals sent with kill/tgkill/sigqueue.
    pub sender_pid: Option<Pid>,
}

/// The faulting thread's registers that diagnosis reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registers {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
    /// The thread pointer; on x86_64 glibc it equals `pthread_self()`.
    pub fs_base: u64,
}

/// What the Python stack reader found in the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpreterState {
    /// A live interpreter whose thread states were read.
    Running,
    /// The process looks like Python, but no usable interpreter state was found:
    /// not initialized yet, or already finalized.
    Unavailable(String),
    /// Not a Python process at all.
    NotPython,
}

/// pytest's view of the process, read from the live environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PytestState {
    /// Raw `PYTEST_CURRENT_TEST`: `tests/test_x.py::test_y (call)`.
    pub current_test: Option<String>,
    /// `PYTEST_VERSION` is set: the process is (or was) running pytest.
    pub running_pytest: bool,
    /// `PYTEST_XDIST_WORKER` (`gw0`): the process is a pytest-xdist worker.
    pub xdist_worker: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub pid: Pid,
    pub tid: Tid,
    pub role: ProcessRole,
    pub executable: Option<String>,
    pub argv: Vec<String>,
    pub signal: SignalInfo,
    pub registers: Option<Registers>,
    pub maps: Vec<Mapping>,
    /// Every thread, merged Python + native frames, innermost first; the faulting one has
    /// `crashed: true`.
    pub threads: Vec<Thread>,
    pub interpreter: InterpreterState,
    pub pytest: PytestState,
    /// glibc's `__abort_msg`, or a fatal message recognized on stderr.
    pub abort_message: Option<String>,
    pub stderr_tail: Vec<String>,
    /// The process had installed a handler for this signal (faulthandler, a runtime).
    pub handler_installed: bool,
    /// How long the faulting thread was held stopped, in ms.
    pub held_ms: f64,
    /// The command line of the process that sent the signal, read while it still ran.
    pub sender_command: Option<String>,
    /// What a sanitizer wrote to its log file (`log_path`) for this process, read at the
    /// crash: faultline's `--asan` sends the report there instead of stderr.
    pub sanitizer_log: Option<String>,
}

impl Capture {
    pub fn mapping_at(&self, address: u64) -> Option<&Mapping> {
        self.maps.iter().find(|m| m.contains(address))
    }

    pub fn crashed_thread(&self) -> Option<&Thread> {
        self.threads.iter().find(|t| t.crashed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(path: Option<&str>) -> Mapping {
        Mapping {
            start: 0x1000,
            end: 0x2000,
            readable: true,
            writable: false,
            executable: true,
            offset: 0,
            dev: (8, 1),
            inode: 42,
            path: path.map(str::to_owned),
        }
    }

    #[test]
    fn files_are_told_from_pseudo_names_and_shared_memory_keys() {
        assert_eq!(mapping(Some("/usr/lib/libc.so.6")).file(), Some(("/usr/lib/libc.so.6", false)));
        assert_eq!(mapping(Some("/tmp/my lib.so (deleted)")).file(), Some(("/tmp/my lib.so", true)));
        assert_eq!(mapping(Some("/memfd:jit (deleted)")).file(), Some(("/memfd:jit", true)));
        for not_a_file in [None, Some("[heap]"), Some("[vdso]"), Some("/SYSV0000002a"), Some("/SYSV0000002a (deleted)")]
        {
            assert_eq!(mapping(not_a_file).file(), None, "{not_a_file:?}");
        }
        assert!(mapping(Some("/SYSV_not_a_key")).file().is_some());
        assert!(mapping(Some("[vdso]")).is_vdso());
        assert!(!mapping(Some("/usr/lib/vdso")).is_vdso());
    }
}
