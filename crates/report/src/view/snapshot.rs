//! The words about a stopped tree's processes that every rendering uses.

use crate::model::Tid;
use crate::model::{HangFinding, HangFindingId, ProcessSnapshot, Thread, ThreadState};

/// Findings whose thread is stuck in native code of the program's own: its stack marks
/// that frame with `→`, as a crash marks its culprit.
pub(crate) const NATIVE_FAULT_FINDINGS: &[HangFindingId] = &[
    HangFindingId::LockWhileHoldingGil,
    HangFindingId::BlockingWhileHoldingGil,
    HangFindingId::SelfDeadlock,
    HangFindingId::GilLockInversion,
    HangFindingId::NativeBusyLoop,
];

/// The thread shown in full: the one the process's first finding is about, else the one
/// holding the GIL, else the main thread, else the first.
pub(crate) fn focus_thread<'a>(p: &'a ProcessSnapshot, finding: Option<&HangFinding>) -> Option<&'a Thread> {
    let by_tid = |tid: Tid| p.threads.iter().find(|t| t.tid == tid);
    finding
        .and_then(|f| f.tid)
        .and_then(by_tid)
        .or_else(|| p.threads.iter().find(|t| t.holds_gil == Some(true)))
        .or_else(|| by_tid(p.pid.main_thread()))
        .or_else(|| p.threads.first())
}

/// `MainThread (tid 48213, holds the GIL, running)`: the scheduler state only when it is
/// news (a thread in a hang is expected to be sleeping).
pub(crate) fn thread_label(t: &Thread) -> String {
    let mut details = Vec::new();
    if t.holds_gil == Some(true) {
        details.push("holds the GIL".to_string());
    }
    if let Some(state) = t.state.filter(|s| *s != ThreadState::Sleeping) {
        details.push(state.as_str().to_string());
    }
    match &t.name {
        Some(name) => {
            details.insert(0, format!("tid {}", t.tid));
            format!("{name} ({})", details.join(", "))
        }
        None if details.is_empty() => format!("tid {}", t.tid),
        None => format!("tid {} ({})", t.tid, details.join(", ")),
    }
}
