//! Names and meanings of Linux signals and `si_code` values: pure tables.
//!
//! The numbers are Linux's own (x86, arm, riscv share them; mips, sparc and alpha do not,
//! and faultline does not run there). They are written out rather than taken from `libc`
//! so that the tables mean the same thing when the diagnosis is tested on another OS; a
//! Linux-only test checks them against `libc`.

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGSTKFLT: i32 = 16;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGXCPU: i32 = 24;
pub const SIGXFSZ: i32 = 25;
pub const SIGVTALRM: i32 = 26;
pub const SIGPROF: i32 = 27;
pub const SIGWINCH: i32 = 28;
pub const SIGIO: i32 = 29;
pub const SIGPWR: i32 = 30;
pub const SIGSYS: i32 = 31;
/// The kernel's first real-time signal. glibc reserves 32 and 33 for itself and reports
/// `SIGRTMIN` as 34, but the kernel numbering is what siginfo carries.
pub const SIGRTMIN_KERNEL: i32 = 32;
pub const SIGRTMAX: i32 = 64;

/// `si_code` values any signal can carry (`<asm-generic/siginfo.h>`).
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_MESGQ: i32 = -3;
pub const SI_ASYNCIO: i32 = -4;
pub const SI_SIGIO: i32 = -5;
pub const SI_TKILL: i32 = -6;
pub const SI_DETHREAD: i32 = -7;
pub const SI_ASYNCNL: i32 = -60;

pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const SEGV_BNDERR: i32 = 3;
pub const SEGV_PKUERR: i32 = 4;

pub const BUS_ADRALN: i32 = 1;
pub const BUS_ADRERR: i32 = 2;
pub const BUS_OBJERR: i32 = 3;

pub const FPE_INTDIV: i32 = 1;

pub const SYS_SECCOMP: i32 = 1;

const NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// `SIGSEGV`, `SIGRTMIN+2`; an unknown number gives `SIG<n>`.
pub fn signal_name(signo: i32) -> String {
    match signo {
        1..=31 => NAMES[(signo - 1) as usize].to_string(),
        SIGRTMIN_KERNEL => "SIGRTMIN".to_string(),
        33..=SIGRTMAX => format!("SIGRTMIN+{}", signo - SIGRTMIN_KERNEL),
        _ => format!("SIG{signo}"),
    }
}

/// The inverse of [`signal_name`] for the classic signals (`"SIGSEGV"` → 11).
pub fn signal_number(name: &str) -> Option<i32> {
    NAMES.iter().position(|n| *n == name).map(|i| i as i32 + 1)
}

/// The symbolic name of an `si_code` for a given signal (`SEGV_MAPERR`, `SI_TKILL`, ...).
///
/// Positive codes mean different things per signal; the generic ones (`SI_USER`,
/// `SI_KERNEL` and the negative ones) mean the same for every signal.
pub fn si_code_name(signo: i32, code: i32) -> Option<String> {
    let generic = match code {
        SI_USER => Some("SI_USER"),
        SI_KERNEL => Some("SI_KERNEL"),
        SI_QUEUE => Some("SI_QUEUE"),
        SI_TIMER => Some("SI_TIMER"),
        SI_MESGQ => Some("SI_MESGQ"),
        SI_ASYNCIO => Some("SI_ASYNCIO"),
        SI_SIGIO => Some("SI_SIGIO"),
        SI_TKILL => Some("SI_TKILL"),
        SI_DETHREAD => Some("SI_DETHREAD"),
        SI_ASYNCNL => Some("SI_ASYNCNL"),
        _ => None,
    };
    if let Some(name) = generic {
        return Some(name.to_string());
    }
    let table: &[&str] = match signo {
        SIGSEGV => &[
            "SEGV_MAPERR",
            "SEGV_ACCERR",
            "SEGV_BNDERR",
            "SEGV_PKUERR",
            "SEGV_ACCADI",
            "SEGV_ADIDERR",
            "SEGV_ADIPERR",
            "SEGV_MTEAERR",
            "SEGV_MTESERR",
            "SEGV_CPERR",
        ],
        SIGBUS => &["BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"],
        SIGFPE => &[
            "FPE_INTDIV",
            "FPE_INTOVF",
            "FPE_FLTDIV",
            "FPE_FLTOVF",
            "FPE_FLTUND",
            "FPE_FLTRES",
            "FPE_FLTINV",
            "FPE_FLTSUB",
        ],
        SIGILL => &[
            "ILL_ILLOPC",
            "ILL_ILLOPN",
            "ILL_ILLADR",
            "ILL_ILLTRP",
            "ILL_PRVOPC",
            "ILL_PRVREG",
            "ILL_COPROC",
            "ILL_BADSTK",
            "ILL_BADIADDR",
        ],
        SIGTRAP => &["TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"],
        SIGSYS => &["SYS_SECCOMP", "SYS_USER_DISPATCH"],
        SIGCHLD => &["CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"],
        SIGIO => &["POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP"],
        _ => &[],
    };
    let index = usize::try_from(code).ok()?.checked_sub(1)?;
    table.get(index).map(|name| name.to_string())
}

/// Whether the default action of this signal ends the process (terminate or core dump).
/// Ignored-by-default (`SIGCHLD`, `SIGURG`, `SIGWINCH`) and job-control signals are not.
pub fn is_fatal_by_default(signo: i32) -> bool {
    match signo {
        SIGCHLD | SIGCONT | SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU | SIGURG | SIGWINCH => false,
        1..=SIGRTMAX => true,
        _ => false,
    }
}

/// Whether the default action writes a core file (signal(7): "Core").
pub fn dumps_core_by_default(signo: i32) -> bool {
    matches!(signo, SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ | SIGSYS)
}

/// Whether the kernel itself raised the signal because of what the thread did (a fault, a
/// trap, a seccomp kill), as opposed to someone calling kill/tgkill/sigqueue.
///
/// Linux marks kernel-generated siginfo with `si_code > 0` (`SI_FROMKERNEL`). That includes
/// `SI_KERNEL` (0x80), which on x86_64 is what a general-protection fault gives, e.g. for a
/// non-canonical pointer: a real fault, just without an address. A process can forge a
/// positive code only for a signal to itself (`rt_sigqueueinfo` refuses it for any other
/// target since Linux 2.6.39), which no real program does, so this is taken at its word.
pub fn is_kernel_fault(code: i32) -> bool {
    code > 0
}

/// Whether the code says the signal was sent by a process (kill, tgkill, sigqueue), so that
/// `si_pid` names the sender.
pub fn is_sent_by_process(code: i32) -> bool {
    matches!(code, SI_USER | SI_TKILL | SI_QUEUE)
}

/// A few plain words for a signal, as a shell would print them.
pub fn describe_signal(signo: i32) -> &'static str {
    match signo {
        SIGHUP => "hangup",
        SIGINT => "interrupt",
        SIGQUIT => "quit",
        SIGILL => "illegal instruction",
        SIGTRAP => "trace/breakpoint trap",
        SIGABRT => "aborted",
        SIGBUS => "bus error",
        SIGFPE => "floating-point exception",
        SIGKILL => "killed",
        SIGUSR1 => "user-defined signal 1",
        SIGSEGV => "segmentation fault",
        SIGUSR2 => "user-defined signal 2",
        SIGPIPE => "broken pipe",
        SIGALRM => "alarm clock",
        SIGTERM => "terminated",
        SIGSTKFLT => "stack fault",
        SIGCHLD => "child exited",
        SIGCONT => "continued",
        SIGSTOP => "stopped (signal)",
        SIGTSTP => "stopped",
        SIGTTIN => "stopped (tty input)",
        SIGTTOU => "stopped (tty output)",
        SIGURG => "urgent I/O condition",
        SIGXCPU => "CPU time limit exceeded",
        SIGXFSZ => "file size limit exceeded",
        SIGVTALRM => "virtual timer expired",
        SIGPROF => "profiling timer expired",
        SIGWINCH => "window changed",
        SIGIO => "I/O possible",
        SIGPWR => "power failure",
        SIGSYS => "bad system call",
        SIGRTMIN_KERNEL..=SIGRTMAX => "real-time signal",
        _ => "unknown signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_classic_and_realtime_signals() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(6), "SIGABRT");
        assert_eq!(signal_name(31), "SIGSYS");
        assert_eq!(signal_name(34), "SIGRTMIN+2");
        assert_eq!(signal_name(0), "SIG0");
        assert_eq!(signal_name(99), "SIG99");
        assert_eq!(signal_number("SIGBUS"), Some(7));
        assert_eq!(signal_number("SIGNOPE"), None);
    }

    #[test]
    fn si_codes_depend_on_the_signal() {
        let name = |s, c| si_code_name(s, c);
        assert_eq!(name(SIGSEGV, 1).as_deref(), Some("SEGV_MAPERR"));
        assert_eq!(name(SIGSEGV, 2).as_deref(), Some("SEGV_ACCERR"));
        assert_eq!(name(SIGSEGV, 4).as_deref(), Some("SEGV_PKUERR"));
        assert_eq!(name(SIGBUS, 2).as_deref(), Some("BUS_ADRERR"));
        assert_eq!(name(SIGBUS, 4).as_deref(), Some("BUS_MCEERR_AR"));
        assert_eq!(name(SIGFPE, 1).as_deref(), Some("FPE_INTDIV"));
        assert_eq!(name(SIGFPE, 8).as_deref(), Some("FPE_FLTSUB"));
        assert_eq!(name(SIGILL, 2).as_deref(), Some("ILL_ILLOPN"));
        assert_eq!(name(SIGILL, 8).as_deref(), Some("ILL_BADSTK"));
        assert_eq!(name(SIGTRAP, 4).as_deref(), Some("TRAP_HWBKPT"));
        assert_eq!(name(SIGSYS, 1).as_deref(), Some("SYS_SECCOMP"));
        assert_eq!(name(SIGFPE, 99), None);
        assert_eq!(name(SIGTERM, 1), None);
    }

    #[test]
    fn generic_codes_are_the_same_for_every_signal() {
        for signo in [SIGSEGV, SIGABRT, SIGTERM] {
            assert_eq!(si_code_name(signo, 0).as_deref(), Some("SI_USER"));
            assert_eq!(si_code_name(signo, 0x80).as_deref(), Some("SI_KERNEL"));
            assert_eq!(si_code_name(signo, -1).as_deref(), Some("SI_QUEUE"));
            assert_eq!(si_code_name(signo, -2).as_deref(), Some("SI_TIMER"));
            assert_eq!(si_code_name(signo, -3).as_deref(), Some("SI_MESGQ"));
            assert_eq!(si_code_name(signo, -4).as_deref(), Some("SI_ASYNCIO"));
            assert_eq!(si_code_name(signo, -5).as_deref(), Some("SI_SIGIO"));
            assert_eq!(si_code_name(signo, -6).as_deref(), Some("SI_TKILL"));
        }
    }

    #[test]
    fn fatal_and_core_defaults() {
        for signo in [SIGSEGV, SIGABRT, SIGTERM, SIGKILL, SIGPIPE, SIGUSR1, 40] {
            assert!(is_fatal_by_default(signo), "{signo}");
        }
        for signo in [SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGWINCH, SIGURG, 0, 65] {
            assert!(!is_fatal_by_default(signo), "{signo}");
        }
        assert!(dumps_core_by_default(SIGSEGV));
        assert!(!dumps_core_by_default(SIGTERM));
    }

    #[test]
    fn kernel_faults_versus_sent_signals() {
        assert!(is_kernel_fault(SEGV_MAPERR));
        assert!(is_kernel_fault(SI_KERNEL));
        for code in [SI_USER, SI_TKILL, SI_QUEUE, SI_TIMER] {
            assert!(!is_kernel_fault(code));
        }
        assert!(is_sent_by_process(SI_TKILL));
        assert!(!is_sent_by_process(SEGV_MAPERR));
        assert!(!is_sent_by_process(SI_TIMER));
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe_signal(SIGSEGV), "segmentation fault");
        assert_eq!(describe_signal(SIGFPE), "floating-point exception");
        assert_eq!(describe_signal(50), "real-time signal");
        assert_eq!(describe_signal(0), "unknown signal");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn numbers_match_libc() {
        let pairs = [
            (SIGILL, libc::SIGILL),
            (SIGTRAP, libc::SIGTRAP),
            (SIGABRT, libc::SIGABRT),
            (SIGBUS, libc::SIGBUS),
            (SIGFPE, libc::SIGFPE),
            (SIGSEGV, libc::SIGSEGV),
            (SIGTERM, libc::SIGTERM),
            (SIGCHLD, libc::SIGCHLD),
            (SIGSYS, libc::SIGSYS),
            (SIGWINCH, libc::SIGWINCH),
            (SI_USER, libc::SI_USER),
            (SI_KERNEL, libc::SI_KERNEL),
            (SI_QUEUE, libc::SI_QUEUE),
            (SI_TKILL, libc::SI_TKILL),
        ];
        for (ours, theirs) in pairs {
            assert_eq!(ours, theirs);
        }
    }
}
