//! What kind of crash it was, from first principles: the signal and its code, where the
//! fault address falls in the memory map, the registers, and the crashed thread's stack.
//!
//! Also the one-sentence `fault_detail` that says what the address was. SIGSEGV has its
//! own file ([`crate::segv`]), and so has SIGABRT ([`crate::abort`]).

use crate::abort::{abort_family, has_abort_call};
use crate::capture::Capture;
use crate::memmap;
use crate::model::Pid;
use crate::model::{hex, CrashKind, Frame, FrameKind};
use crate::segv::segv;
use crate::signals::{self, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGSYS, SIGTRAP};

/// The verdict on a crash and the sentence about its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub kind: CrashKind,
    pub detail: Option<String>,
}

impl Verdict {
    pub(crate) fn new(kind: CrashKind, detail: impl Into<String>) -> Verdict {
        Verdict { kind, detail: Some(detail.into()) }
    }
}

/// Classifies a capture. `message` is the crash message (abort message or fatal stderr
/// line), which decides between the kinds of abort.
pub fn classify(capture: &Capture, message: Option<&str>) -> Verdict {
    let frames = capture.crashed_thread().map(|t| t.frames.as_slice()).unwrap_or(&[]);
    let signal = &capture.signal;
    if !signals::is_kernel_fault(signal.code) {
        return sent_signal(capture, frames, message);
    }
    match signal.signo {
        SIGSEGV => segv(capture, frames),
        SIGABRT => abort_family(frames, message),
        SIGBUS => bus(capture),
        SIGFPE => Verdict::new(CrashKind::Fpe, fpe_detail(signal.code)),
        SIGILL => illegal(capture),
        SIGTRAP => Verdict::new(
            CrashKind::Unknown,
            "a breakpoint trap (int3) with no debugger attached: a compiled-in breakpoint such as __builtin_debugtrap()",
        ),
        SIGSYS => Verdict::new(
            CrashKind::Unknown,
            "blocked by seccomp: the process made a system call its seccomp filter forbids",
        ),
        other => Verdict::new(
            CrashKind::Unknown,
            format!("{} ({}) raised by the kernel", signals::signal_name(other), signals::describe_signal(other)),
        ),
    }
}

/// A signal that some process sent: abort() sending SIGABRT to itself is the usual case.
fn sent_signal(capture: &Capture, frames: &[Frame], message: Option<&str>) -> Verdict {
    let signal = &capture.signal;
    let name = signals::signal_name(signal.signo);
    let from_self = signal.sender_pid == Some(capture.pid);
    if signal.signo == SIGABRT && (from_self || signal.sender_pid.is_none()) {
        let native_known = frames.iter().any(|f| f.kind == FrameKind::Native && f.function.is_some());
        if has_abort_call(frames) || message.is_some() || !native_known {
            return abort_family(frames, message);
        }
    }
    let how = match signal.code {
        signals::SI_USER => "kill()",
        signals::SI_TKILL => "tgkill()",
        signals::SI_QUEUE => "sigqueue()",
        _ => "",
    };
    if !signals::is_sent_by_process(signal.code) {
        let code = signals::si_code_name(signal.signo, signal.code).unwrap_or_else(|| signal.code.to_string());
        return Verdict::new(
            CrashKind::SelfSignal,
            format!("{name} came from a timer or notification the process set up itself ({code}), not from a fault"),
        );
    }
    if from_self {
        return Verdict::new(
            CrashKind::SelfSignal,
            format!("the process sent {name} to itself with {how}: not a fault of the CPU"),
        );
    }
    match signal.sender_pid {
        Some(pid) if pid > Pid(0) => {
            let who = match &capture.sender_command {
                Some(command) => format!("pid {pid} (`{command}`)"),
                None => format!("pid {pid}"),
            };
            Verdict::new(CrashKind::ExternalSignal, format!("{name} was sent by {who} with {how}"))
        }
        _ => Verdict::new(
            CrashKind::ExternalSignal,
            format!("{name} was sent with {how} by the kernel or a process outside this PID namespace"),
        ),
    }
}

fn fpe_detail(code: i32) -> String {
    match signals::si_code_name(SIGFPE, code).as_deref() {
        Some("FPE_INTDIV") => "integer division by zero (or INT_MIN / -1, which x86 traps the same way)".into(),
        Some("FPE_INTOVF") => "integer overflow trap".into(),
        Some("FPE_FLTDIV") => "floating-point division by zero, with FP exceptions unmasked".into(),
        Some("FPE_FLTOVF") => "floating-point overflow, with FP exceptions unmasked".into(),
        Some("FPE_FLTUND") => "floating-point underflow, with FP exceptions unmasked".into(),
        Some("FPE_FLTRES") => "inexact floating-point result, with FP exceptions unmasked".into(),
        Some("FPE_FLTINV") => "invalid floating-point operation, with FP exceptions unmasked".into(),
        Some("FPE_FLTSUB") => "subscript out of range".into(),
        _ => "an arithmetic exception".into(),
    }
}

fn bus(capture: &Capture) -> Verdict {
    let address = capture.signal.fault_address.map(hex).unwrap_or_else(|| "the address".into());
    let detail = match signals::si_code_name(SIGBUS, capture.signal.code).as_deref() {
        Some("BUS_ADRALN") => format!("misaligned access at {address}"),
        Some("BUS_ADRERR") => {
            let what = capture
                .signal
                .fault_address
                .and_then(|a| capture.mapping_at(a))
                .map(|m| format!(" in {}", memmap::describe(m)))
                .unwrap_or_default();
            format!("{address}{what} has no page behind it: a mapped file shorter than its mapping (truncated while mapped?)")
        }
        Some("BUS_OBJERR") => format!("object-specific hardware error at {address}"),
        Some("BUS_MCEERR_AR") | Some("BUS_MCEERR_AO") => {
            format!("a hardware memory error (machine check) at {address}")
        }
        _ => format!("bus error at {address}"),
    };
    Verdict::new(CrashKind::BusError, detail)
}

fn illegal(capture: &Capture) -> Verdict {
    let at = capture
        .registers
        .map(|r| r.ip)
        .or(capture.signal.fault_address)
        .map(|ip| {
            let module = capture.mapping_at(ip).map(memmap::describe).map(|d| format!(" in {d}")).unwrap_or_default();
            format!(" at {}{module}", hex(ip))
        })
        .unwrap_or_default();
    let detail = match signals::si_code_name(SIGILL, capture.signal.code).as_deref() {
        Some("ILL_ILLOPC") | Some("ILL_ILLOPN") => format!("an invalid instruction{at}"),
        Some("ILL_PRVOPC") | Some("ILL_PRVREG") => format!("a privileged instruction{at}"),
        Some("ILL_BADSTK") => format!("an internal stack error{at}"),
        _ => format!("an illegal instruction{at}"),
    };
    Verdict::new(CrashKind::IllegalInstruction, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SignalInfo;
    use crate::fixtures::{self, kind_of, map};

    #[test]
    fn sent_signals() {
        let (kind, detail) = kind_of(&fixtures::external_sigterm());
        assert_eq!(kind, CrashKind::ExternalSignal);
        assert_eq!(detail, "SIGTERM was sent by pid 1207 (`timeout 30 python3 main.py`) with kill()");

        // os.kill(os.getpid(), SIGSEGV): no abort() in the stack.
        let mut c = fixtures::external_sigterm();
        c.signal = SignalInfo { signo: 11, code: signals::SI_USER, fault_address: None, sender_pid: Some(c.pid) };
        assert_eq!(kind_of(&c).0, CrashKind::SelfSignal);
        // raise(SIGABRT) without abort(): self-signal too.
        c.signal = SignalInfo { signo: 6, code: signals::SI_TKILL, fault_address: None, sender_pid: Some(c.pid) };
        assert_eq!(kind_of(&c).0, CrashKind::SelfSignal);
        // SIGABRT from another process.
        c.signal.sender_pid = Some(Pid(4242));
        assert_eq!(kind_of(&c).0, CrashKind::ExternalSignal);
    }

    #[test]
    fn other_fault_signals() {
        let (kind, detail) = kind_of(&fixtures::fpe());
        assert_eq!(kind, CrashKind::Fpe);
        assert!(detail.starts_with("integer division by zero"));

        let mut c = fixtures::fpe();
        c.signal = SignalInfo { signo: 7, code: 2, fault_address: Some(0x7f3a_2b61_0000), sender_pid: None };
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::BusError);
        assert!(detail.contains("truncated while mapped"), "{detail}");

        c.signal = SignalInfo { signo: 4, code: 2, fault_address: Some(0x7f3a_2c1f_1100), sender_pid: None };
        assert_eq!(kind_of(&c).0, CrashKind::IllegalInstruction);

        c.signal = SignalInfo { signo: 31, code: 1, fault_address: None, sender_pid: None };
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::Unknown);
        assert!(detail.contains("seccomp"));

        c.signal = SignalInfo { signo: 5, code: 1, fault_address: None, sender_pid: None };
        assert_eq!(kind_of(&c).0, CrashKind::Unknown);
    }

    #[test]
    fn mapping_helpers_in_tests_are_sane() {
        let m = map(0x1000, 0x2000, "r--", None);
        assert!(m.readable && !m.writable && !m.executable);
    }
}
