//! What a hung process tree was doing when its time limit ran out:
//! `analyze_hang(&[ProcessSnapshot]) -> Vec<HangFinding>`, most telling first.
//!
//! Each thread's [`activity`] comes from its scheduler state (read before the threads were
//! stopped) and its merged stack; the findings are the shapes worth a sentence:
//!
//! * a thread that holds the GIL and is blocked on a lock (or any blocking call): no other
//!   Python thread can run; the threads waiting for the GIL are named as blocked behind it,
//!   and who may own the lock is said when the stacks show it (the same function twice —
//!   a self-deadlock —, another thread inside the same module waiting for the GIL — a
//!   lock-order inversion —, or nobody else inside the module — most likely the thread
//!   itself);
//! * a thread on the CPU in native code outside any system call (a tight native loop), or
//!   running Python;
//! * a thread in uninterruptible I/O;
//! * a process whose threads all wait: a deadlock when they all wait on each other, else a
//!   wait for something outside (a timer, I/O, a child).
//!
//! [`describe`] gives the one-line activity of any thread, for the report's thread lists.

pub mod activity;
pub mod waits;

#[cfg(test)]
mod tests;

use crate::frames::{file_basename, is_culprit_candidate, module_stem, normalized_name};
pub use crate::model::HangFinding;
use crate::model::{Frame, HangFindingId, ProcessSnapshot, Thread, TimeoutInfo};
pub use activity::{activity, describe, Activity};
use activity::{native_caller, native_name, native_place, python_place, short_who, waiting_call, who};
use waits::{Wait, WaitKind};

/// The order findings are told in: the cause before its consequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    GilHolderBlocked,
    LockOwner,
    /// Before the GIL's waiters: a thread looping with the GIL is why they wait.
    Running,
    GilWaiter,
    DiskSleep,
    AllWaiting,
}

/// A tree stopped at its time limit, with what its stacks show it was doing: the one place
/// hang findings are made (the run that stopped the tree calls it; renderers read them).
pub fn timeout_info(limit_ms: f64, processes: Vec<ProcessSnapshot>, stopped_with: Option<String>) -> TimeoutInfo {
    let findings = analyze_hang(&processes);
    TimeoutInfo { limit_ms, processes, stopped_with, findings }
}

/// The findings of every process of the tree, most telling first.
pub fn analyze_hang(processes: &[ProcessSnapshot]) -> Vec<HangFinding> {
    let mut found = Vec::new();
    for process in processes {
        process_findings(process, &mut found);
    }
    // Stable: within a rank, processes and threads keep their order.
    found.sort_by_key(|(rank, _)| *rank);
    found.into_iter().map(|(_, finding)| finding).collect()
}

struct Process<'a> {
    snapshot: &'a ProcessSnapshot,
    threads: Vec<(&'a Thread, Activity)>,
}

impl Process<'_> {
    fn finding(&self, id: HangFindingId, thread: Option<&Thread>, text: String) -> HangFinding {
        HangFinding { id, pid: self.snapshot.pid, tid: thread.map(|t| t.tid), text }
    }
}

fn process_findings(snapshot: &ProcessSnapshot, out: &mut Vec<(Rank, HangFinding)>) {
    let p = Process { snapshot, threads: snapshot.threads.iter().map(|t| (t, activity(t))).collect() };
    let holder = p.threads.iter().find(|(t, _)| t.holds_gil == Some(true));
    let gil_waiters: Vec<&Thread> = p.threads.iter().filter(|(_, a)| *a == Activity::Gil).map(|(t, _)| *t).collect();
    let mut holder_blocked = false;
    if let Some((thread, Activity::Blocked(wait))) = holder {
        holder_blocked = true;
        out.push((Rank::GilHolderBlocked, holder_blocked_finding(&p, thread, wait, gil_waiters.len())));
        if let Some(f) = lock_owner_finding(&p, thread, wait) {
            out.push((Rank::LockOwner, f));
        }
    }
    if let Some((holder, _)) = holder {
        for waiter in &gil_waiters {
            let at = python_place(&waiter.frames).map(|p| format!(" at {p}")).unwrap_or_default();
            let text = format!("{} waits for the GIL{at}, blocked behind {}", who(waiter), short_who(holder));
            out.push((Rank::GilWaiter, p.finding(HangFindingId::WaitingForGil, Some(waiter), text)));
        }
    }
    for (thread, act) in &p.threads {
        if let Some(f) = running_or_stuck(&p, thread, act) {
            out.push(f);
        }
    }
    if !holder_blocked {
        if let Some(f) = all_waiting_finding(&p) {
            out.push((Rank::AllWaiting, f));
        }
    }
}

fn holder_blocked_finding(p: &Process, thread: &Thread, wait: &Wait, waiters: usize) -> HangFinding {
    let frames = &thread.frames;
    let call = waiting_call(frames, wait);
    let from = native_caller(frames, wait).map(|i| format!(" from {}", native_place(frames, i))).unwrap_or_default();
    let at = python_place(frames).map(|p| format!(" at {p}")).unwrap_or_default();
    let behind = match waiters {
        0 => String::new(),
        1 => "; 1 other thread waits for the GIL".into(),
        n => format!("; {n} other threads wait for the GIL"),
    };
    if wait.kind.is_sync() {
        let text = format!(
            "{} holds the GIL and is blocked on {} (`{call}`){from}{at}: no other Python thread can run while it waits{behind}",
            who(thread),
            wait.kind.what()
        );
        p.finding(HangFindingId::LockWhileHoldingGil, Some(thread), text)
    } else {
        let text = format!(
            "{} holds the GIL while it waits for {} (`{call}`){from}{at}: code that blocks without releasing the GIL (Py_BEGIN_ALLOW_THREADS) stops every other Python thread{behind}",
            who(thread),
            wait.kind.what()
        );
        p.finding(HangFindingId::BlockingWhileHoldingGil, Some(thread), text)
    }
}

fn same_function(a: &Frame, b: &Frame) -> bool {
    normalized_name(a) == normalized_name(b)
        && a.module.as_deref().map(module_stem) == b.module.as_deref().map(module_stem)
}

/// Who may own the lock the GIL holder waits for, when the stacks tell.
fn lock_owner_finding(p: &Process, thread: &Thread, wait: &Wait) -> Option<HangFinding> {
    if !wait.kind.is_lock() {
        return None;
    }
    let frames = &thread.frames;
    let caller = native_caller(frames, wait)?;
    let taker = &frames[caller];
    let name = native_name(taker);
    let module = module_stem(taker.module.as_deref()?);
    if frames[caller + 1..].iter().any(|f| same_function(f, taker)) {
        let text = format!(
            "`{name}` is on {}'s stack twice: it re-entered itself and most likely waits for the lock its outer call holds — a self-deadlock",
            short_who(thread)
        );
        return Some(p.finding(HangFindingId::SelfDeadlock, Some(thread), text));
    }
    let in_module = |t: &Thread| {
        t.frames.iter().position(|f| {
            is_culprit_candidate(f) && f.module.as_deref().map(module_stem).as_deref() == Some(module.as_str())
        })
    };
    let others: Vec<(&Thread, usize, &Activity)> = p
        .threads
        .iter()
        .filter(|(t, _)| t.tid != thread.tid)
        .filter_map(|(t, a)| in_module(t).map(|i| (*t, i, a)))
        .collect();
    if let Some((other, i, _)) = others.iter().find(|(_, _, a)| **a == Activity::Gil) {
        let text = format!(
            "{} waits for the GIL inside {module} ({}) and may hold the lock {} waits for: the GIL and that lock are taken in opposite orders — a lock-order deadlock",
            who(other),
            native_place(&other.frames, *i),
            short_who(thread)
        );
        return Some(p.finding(HangFindingId::GilLockInversion, Some(other), text));
    }
    if !others.is_empty() {
        // Another thread is inside the module and may own the lock; its own line tells.
        return None;
    }
    // The function the lock-taker was inlined into or called from, in the same module.
    let outer = frames[caller + 1..]
        .iter()
        .take_while(|f| is_culprit_candidate(f))
        .find(|f| !same_function(f, taker) && f.module.as_deref().map(module_stem).as_deref() == Some(module.as_str()));
    let question = match outer {
        Some(outer) => format!("does `{}` already hold it when it calls `{name}`?", native_name(outer)),
        None => "was it taken earlier and never released?".into(),
    };
    let text = format!(
        "no other thread of pid {} is inside {module}: the lock is most likely held by {} itself — {question} A non-recursive mutex taken twice by one thread deadlocks",
        p.snapshot.pid,
        short_who(thread)
    );
    Some(p.finding(HangFindingId::SelfDeadlock, Some(thread), text))
}

fn running_or_stuck(p: &Process, thread: &Thread, act: &Activity) -> Option<(Rank, HangFinding)> {
    let frames = &thread.frames;
    let at = python_place(frames).map(|p| format!(" at {p}")).unwrap_or_default();
    let gil = if thread.holds_gil == Some(true) { " It holds the GIL, so no other Python thread can run." } else { "" };
    let (rank, id, text) = match act {
        Activity::NativeCode(i) => (
            Rank::Running,
            HangFindingId::NativeBusyLoop,
            format!(
                "{} was on the CPU in native code, not in any system call: {}{at} — a loop that does not end?{gil}",
                who(thread),
                native_place(frames, *i)
            ),
        ),
        Activity::Python => (
            Rank::Running,
            HangFindingId::PythonBusy,
            format!(
                "{} was running Python code{at}: a loop that does not end, or work that needs more than the time limit",
                who(thread)
            ),
        ),
        Activity::DiskSleep(wait) => {
            let call = wait.as_ref().map(|w| format!(" (`{}`)", waiting_call(frames, w))).unwrap_or_default();
            (
                Rank::DiskSleep,
                HangFindingId::DiskSleep,
                format!(
                    "{} is in uninterruptible I/O{call}{at}: the kernel waits on a disk or a network filesystem, and no signal can interrupt it",
                    who(thread)
                ),
            )
        }
        _ => return None,
    };
    Some((rank, p.finding(id, Some(thread), text)))
}

/// Every thread of the process waits: on each other (a deadlock) or on the outside world.
fn all_waiting_finding(p: &Process) -> Option<HangFinding> {
    if p.threads.is_empty() {
        return None;
    }
    let mut kinds: Vec<WaitKind> = Vec::new();
    for (_, act) in &p.threads {
        match act {
            Activity::Gil => kinds.push(WaitKind::Mutex),
            Activity::Blocked(wait) => kinds.push(wait.kind),
            _ => return None,
        }
    }
    // The process's main thread first: its wait is usually the one the program is in.
    let mut order: Vec<&Thread> = p.threads.iter().map(|(t, _)| *t).collect();
    order.sort_by_key(|t| t.tid != p.snapshot.pid.main_thread());
    const SHOWN: usize = 3;
    let mut listed: Vec<String> =
        order.iter().take(SHOWN).map(|t| format!("{} {}", short_who(t), describe(t))).collect();
    if order.len() > SHOWN {
        let more = (order.len() - SHOWN) as u64;
        listed.push(crate::units::count(more, "more thread waits too", "more threads wait too"));
    }
    let verdict = if kinds.iter().all(|k| k.is_sync()) {
        if kinds.len() == 1 {
            "a deadlock: nothing else in the process can wake it".to_string()
        } else {
            "a deadlock: each waits for a lock or another thread".to_string()
        }
    } else {
        let mut outside: Vec<&str> = Vec::new();
        for k in kinds.iter().filter(|k| !k.is_sync()) {
            if !outside.contains(&k.what()) {
                outside.push(k.what());
            }
        }
        format!("waiting on something outside the process ({}), not on itself", outside.join(", "))
    };
    let main = order.first().copied();
    let count = match p.threads.len() {
        1 => "its only thread is waiting".to_string(),
        2 => "both threads are waiting, none running".to_string(),
        n => format!("all {n} threads are waiting, none running"),
    };
    let text =
        format!("pid {} ({}): {count} — {verdict}: {}", p.snapshot.pid, command_line(p.snapshot), listed.join("; "));
    Some(p.finding(HangFindingId::AllThreadsWaiting, main, text))
}

/// Text with its control characters escaped (`python3 -c "import x\nx.run()"` holds a
/// newline), so that it stays on one line.
pub fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// The process's command line, shortened for one line of text.
fn command_line(p: &ProcessSnapshot) -> String {
    const MAX: usize = 60;
    // The program by its file name: the path of `python3` says nothing here.
    let mut words: Vec<&str> = p.argv.iter().map(String::as_str).collect();
    if words.is_empty() {
        words.push(p.executable.as_deref().unwrap_or("?"));
    }
    words[0] = file_basename(words[0]);
    let line = one_line(&words.join(" "));
    if line.chars().count() <= MAX {
        return line;
    }
    let cut: String = line.chars().take(MAX - 1).collect();
    format!("{cut}…")
}
