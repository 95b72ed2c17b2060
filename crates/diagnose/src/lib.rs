//! From evidence to diagnosis: `diagnose(&Capture) -> model::Crash`.
//!
//! Every question is a pure function of the capture, in its own file:
//! [`kind`] (what happened, and a sentence about the fault address; SIGSEGV in [`segv`],
//! SIGABRT in [`abort`]), [`phase`] (when in
//! the program's life), [`pytest`] (which test), [`location`] (innermost Python frame,
//! culprit native frame, thread name), [`message`] (the one line of text that says what
//! went wrong), [`signature`] (to group repeats of one bug) and [`hints`] (what to do).
//! [`frames`], [`recursion`] and [`memmap`] hold the shared vocabulary. [`hang`] is the
//! diagnosis of a tree stopped at its time limit: what each thread was doing.
//!
//! The threads are copied into the crash whole, except that a thread of more than 1,000
//! frames is capped (see [`recursion::cap_frames`]); folding for display is the report's job.

use faultline_model::{capture, model, signals, units};

pub mod abort;
pub mod frames;
pub mod hang;
pub mod hints;
pub mod kind;
pub mod location;
pub mod memmap;
pub mod message;
pub mod phase;
pub mod pytest;
pub mod recursion;
pub mod runtimes;
pub mod sanitizer;
pub mod segv;
pub mod signature;

/// Test fixtures for this and the other crates' tests (the `fixtures` feature).
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

use crate::capture::Capture;
use crate::model::{Crash, Thread};

/// How many of the capture's last stderr lines the report keeps (the capture keeps more,
/// to find a runtime's fatal message above what it printed after it).
pub const REPORTED_STDERR_LINES: usize = 20;

/// Turns the evidence of one fatal signal into a diagnosed crash.
pub fn diagnose(capture: &Capture) -> Crash {
    // A sanitizer saw the bad access itself: its words beat anything read from the signal.
    let sanitizer = sanitizer::read(capture);
    let message = match &sanitizer {
        Some(reading) => Some(reading.message.clone()),
        None => message::crash_message(capture),
    };
    let message_untied = sanitizer.is_none() && message.as_deref().is_some_and(|m| !message::tied_to_stack(capture, m));
    // A line the stack does not explain may be another process's: it names no kind and
    // no group (it is still shown, marked).
    let evidence = message.as_deref().filter(|_| !message_untied);
    let verdict = match &sanitizer {
        Some(reading) => kind::Verdict {
            kind: sanitizer::nearest_kind(&reading.report, &reading.message),
            detail: Some(sanitizer::detail(&reading.report)),
        },
        None => kind::classify(capture, evidence),
    };
    let phase = phase::phase(capture);
    let test = capture.pytest.current_test.as_deref().and_then(pytest::parse_current_test);
    let culprit = location::culprit(capture).or_else(|| {
        // The live stack may not reach the access (an unreadable frame): the sanitizer's does.
        let report = &sanitizer.as_ref()?.report;
        let access = report.stacks.iter().find(|s| s.role == model::SanitizerStack::ACCESS)?;
        location::culprit_in(&access.frames)
    });
    let crashed_frames = capture.crashed_thread().map(|t| t.frames.as_slice()).unwrap_or(&[]);
    let recursion = recursion::deepest_recursion(crashed_frames);
    let report = sanitizer.as_ref().map(|reading| &reading.report);
    let facts = hints::Facts {
        capture,
        kind: verdict.kind,
        phase,
        culprit: culprit.as_ref(),
        message: message.as_deref(),
        recursion: recursion.as_ref(),
        test: test.as_ref(),
        sanitizer: report,
    };
    let hints = hints::hints(&facts);
    // The sanitizer's class groups, not its message (addresses and sizes change each run).
    let (evidence, class) = match report {
        Some(report) => (None, Some(report.class.as_str())),
        None => (evidence, None),
    };
    let signature = signature::signature_with_sanitizer(capture, verdict.kind, recursion.as_ref(), evidence, class);
    let signal = &capture.signal;
    // si_addr only means an address for a fault the kernel raised; for kill/tgkill the same
    // bytes of siginfo hold the sender's pid and uid.
    let fault_address = signal.fault_address.filter(|_| signals::is_kernel_fault(signal.code)).map(model::hex);
    let sender_pid = signal.sender_pid.filter(|_| signals::is_sent_by_process(signal.code));
    Crash {
        pid: capture.pid,
        tid: capture.tid,
        process: capture.role,
        executable: capture.executable.clone(),
        argv: capture.argv.clone(),
        thread_name: location::thread_name(capture),
        signal: signals::signal_name(signal.signo),
        si_code: signals::si_code_name(signal.signo, signal.code),
        fault_address,
        sender_pid,
        kind: verdict.kind,
        phase,
        message,
        test,
        python: location::python_location(capture),
        culprit,
        signature,
        hints,
        threads: capture.threads.iter().map(capped).collect(),
        fault_detail: verdict.detail,
        stderr_tail: capture.stderr_tail[capture.stderr_tail.len().saturating_sub(REPORTED_STDERR_LINES)..].to_vec(),
        held_ms: Some(capture.held_ms),
        // Set by the supervisor once symbols and diagnosis are done.
        report_ready_ms: None,
        message_untied,
        // Set by the run session from faultline's pytest channel.
        pytest: None,
        sanitizer: sanitizer.map(|reading| reading.report),
    }
}

fn capped(thread: &Thread) -> Thread {
    Thread { frames: recursion::cap_frames(&thread.frames), ..thread.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CrashKind, Phase, Pid};

    #[test]
    fn pytest_null_deref_end_to_end() {
        let crash = diagnose(&fixtures::pytest_null_deref());
        assert_eq!(crash.signal, "SIGSEGV");
        assert_eq!(crash.si_code.as_deref(), Some("SEGV_MAPERR"));
        assert_eq!(crash.fault_address.as_deref(), Some("0x0"));
        assert_eq!(crash.kind, CrashKind::NullDeref);
        assert_eq!(crash.phase, Phase::Test);
        let test = crash.test.as_ref().expect("test");
        assert_eq!(test.nodeid, "tests/test_bbox.py::test_bbox_of_empty_polygon");
        assert_eq!(test.when.as_deref(), Some("call"));
        assert_eq!(crash.python.as_ref().map(|p| p.function.as_str()), Some("bbox"));
        assert_eq!(crash.culprit.as_ref().and_then(|c| c.function.as_deref()), Some("bbox"));
        assert_eq!(crash.thread_name.as_deref(), Some("MainThread"));
        assert_eq!(crash.message, None);
        assert!(crash.signature.starts_with("SIGSEGV/null-deref/bbox@_geom/"));
        assert_eq!(crash.threads.len(), 1);
        assert!(crash.threads[0].crashed);
    }

    #[test]
    fn import_phase_keeps_the_test() {
        let mut c = fixtures::import_crash();
        c.pytest.current_test = Some("tests/test_x.py::test_lazy_import (call)".into());
        let crash = diagnose(&c);
        assert_eq!(crash.phase, Phase::Import);
        assert_eq!(crash.test.map(|t| t.nodeid).as_deref(), Some("tests/test_x.py::test_lazy_import"));
    }

    #[test]
    fn sent_signals_have_a_sender_and_no_address() {
        let mut c = fixtures::external_sigterm();
        c.signal.fault_address = Some(0x4b7);
        let crash = diagnose(&c);
        assert_eq!(crash.kind, CrashKind::ExternalSignal);
        assert_eq!(crash.sender_pid, Some(Pid(1207)));
        assert_eq!(crash.fault_address, None);
        assert_eq!(crash.si_code.as_deref(), Some("SI_USER"));
    }

    #[test]
    fn corpus_expectations() {
        let cases: Vec<(&str, Capture, CrashKind, Phase)> = vec![
            ("cext-null-deref", fixtures::cext_null_deref(), CrashKind::NullDeref, Phase::Run),
            ("pytest-crash-in-suite", fixtures::pytest_null_deref(), CrashKind::NullDeref, Phase::Test),
            ("shutdown-static-dtor", fixtures::shutdown_static_dtor(), CrashKind::NullDeref, Phase::Shutdown),
            ("shutdown-static-dtor-abort", fixtures::shutdown_static_dtor_abort(), CrashKind::Abort, Phase::Shutdown),
            ("c-stack-overflow", fixtures::stack_overflow(15_900), CrashKind::StackOverflow, Phase::Run),
            ("thread-crash", fixtures::thread_crash(), CrashKind::NullDeref, Phase::Run),
            ("c-assert", fixtures::c_assert(), CrashKind::Assert, Phase::Run),
            ("double-free", fixtures::double_free(), CrashKind::DoubleFree, Phase::Run),
            ("use-after-reinit", fixtures::use_after_reinit(), CrashKind::UseAfterFree, Phase::Run),
            ("fpe", fixtures::fpe(), CrashKind::Fpe, Phase::Run),
            ("ctypes-null", fixtures::ctypes_null(), CrashKind::NullDeref, Phase::Run),
            ("mp-child-crash", fixtures::mp_child_crash(), CrashKind::NullDeref, Phase::Run),
        ];
        for (name, capture, kind, phase) in cases {
            let crash = diagnose(&capture);
            assert_eq!((crash.kind, crash.phase), (kind, phase), "{name}");
            assert!(!crash.hints.is_empty(), "{name} has no hint");
            assert!(crash.fault_detail.is_some(), "{name} has no detail");
        }
        let assert = diagnose(&fixtures::c_assert());
        assert_eq!(
            assert.message.as_deref(),
            Some("/work/cases/c-assert/_stats.c:8: mean: Assertion `count > 0' failed.")
        );
        let abort = diagnose(&fixtures::shutdown_static_dtor_abort());
        assert!(abort
            .message
            .as_deref()
            .is_some_and(|m| m
                .starts_with("Fatal Python error: PyThreadState_Get: the function must be called with the GIL held")));
        assert_eq!(diagnose(&fixtures::thread_crash()).thread_name.as_deref(), Some("worker-1"));
    }

    /// Every corpus-shaped capture's diagnosis, without its threads: the verdicts, details,
    /// hints and signatures as a reviewer reads them.
    #[test]
    fn corpus_diagnoses() {
        let cases = [
            ("cext-null-deref", fixtures::cext_null_deref()),
            ("pytest-crash-in-suite", fixtures::pytest_null_deref()),
            ("shutdown-static-dtor", fixtures::shutdown_static_dtor()),
            ("shutdown-static-dtor-abort", fixtures::shutdown_static_dtor_abort()),
            ("c-stack-overflow", fixtures::stack_overflow(15_900)),
            ("thread-crash", fixtures::thread_crash()),
            ("c-assert", fixtures::c_assert()),
            ("double-free", fixtures::double_free()),
            ("use-after-reinit", fixtures::use_after_reinit()),
            ("fpe", fixtures::fpe()),
            ("ctypes-null", fixtures::ctypes_null()),
            ("mp-child-crash", fixtures::mp_child_crash()),
            ("external-sigterm", fixtures::external_sigterm()),
            ("import-crash", fixtures::import_crash()),
        ];
        let mut all = serde_json::Map::new();
        for (name, capture) in cases {
            let mut value = serde_json::to_value(diagnose(&capture)).expect("serializable");
            if let Some(object) = value.as_object_mut() {
                object.remove("threads");
                object.remove("argv");
                object.remove("executable");
            }
            all.insert(name.to_string(), value);
        }
        insta::assert_json_snapshot!(serde_json::Value::Object(all));
    }

    #[test]
    fn huge_stacks_are_capped() {
        let crash = diagnose(&fixtures::stack_overflow(15_900));
        let frames = &crash.threads[0].frames;
        assert!(frames.len() < 40, "{}", frames.len());
        let folded = frames.iter().find(|f| f.repeated > 0).expect("a folded run");
        assert_eq!(folded.function.as_deref(), Some("path_length"));
        assert_eq!(folded.repeated, 15_898);
    }
}
