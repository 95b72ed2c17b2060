//! The step between the tracer and everyone else: each capture becomes its diagnosis.
//!
//! The tracer hands over raw evidence (`RunEvent<Captured>`) once the crashed process is
//! gone; explaining it here, not in the wait loop, keeps the tracer free of diagnosis and
//! costs the held-stopped time nothing.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::diagnose::diagnose;
use crate::events::{Captured, InternalStage, RunEvent};

/// The diagnosed crash, with how long its thread was held and how long after the fault it
/// was ready; a bug in the diagnosis costs this crash's report, not the run.
pub(crate) fn explain(captured: Captured) -> RunEvent {
    let Captured { capture, fault_seen } = captured;
    let pid = capture.pid;
    match catch_unwind(AssertUnwindSafe(|| diagnose(&capture))) {
        Ok(mut crash) => {
            crash.held_ms = Some(capture.held_ms);
            crash.report_ready_ms = Some(fault_seen.elapsed().as_secs_f64() * 1000.0);
            RunEvent::Crash(Box::new(crash))
        }
        Err(_) => RunEvent::InternalError { pid, stage: InternalStage::Explaining },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use std::time::Instant;

    #[test]
    fn a_capture_becomes_its_diagnosis_with_its_timings() {
        let mut capture = fixtures::pytest_null_deref();
        capture.held_ms = 7.5;
        let expected = diagnose(&capture);
        let RunEvent::Crash(crash) = explain(Captured { capture, fault_seen: Instant::now() }) else {
            panic!("a crash");
        };
        assert_eq!(crash.signature, expected.signature);
        assert_eq!(crash.held_ms, Some(7.5));
        assert!(crash.report_ready_ms.is_some_and(|ms| ms >= 0.0));
    }
}
