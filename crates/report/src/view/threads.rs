//! The other threads of a process, grouped: threads with the same stack are told once.

use crate::model::{Frame, Thread};
use crate::units::count;
use crate::view::stack::list;

/// Threads with the same stack, in the order the first of each came; every group has at
/// least one thread.
pub(crate) fn same_stack_groups<'a>(threads: &[&'a Thread]) -> Vec<Vec<&'a Thread>> {
    let mut groups: Vec<Vec<&Thread>> = Vec::new();
    for &t in threads {
        match groups.iter_mut().find(|g| same_stack(g[0], t)) {
            Some(group) => group.push(t),
            None => groups.push(vec![t]),
        }
    }
    groups
}

/// Same frames (addresses aside: the same code is the same place), same GIL and scheduler
/// state: nothing a line about the thread would tell apart.
fn same_stack(a: &Thread, b: &Thread) -> bool {
    a.holds_gil == b.holds_gil
        && a.state == b.state
        && a.frames.len() == b.frames.len()
        && a.frames.iter().zip(&b.frames).all(|(x, y)| same_frame(x, y))
}

fn same_frame(a: &Frame, b: &Frame) -> bool {
    a.kind == b.kind
        && a.function == b.function
        && a.qualname == b.qualname
        && a.module == b.module
        && a.file == b.file
        && a.line == b.line
        && a.inlined == b.inlined
        && a.repeated == b.repeated
}

/// Who a line is about: the thread's own label alone, or for a group
/// `999 threads with this stack (Thread-1, Thread-2, Thread-3 and 996 more)`.
pub(crate) fn group_label(group: &[&Thread], label: impl Fn(&Thread) -> String) -> String {
    match group {
        [one] => label(one),
        _ => {
            let names: Vec<String> = group.iter().map(|t| short_name(t)).collect();
            format!("{} with this stack ({})", count(group.len() as u64, "thread", "threads"), list(&names))
        }
    }
}

/// `Thread-1 (wait)`, else `tid 123`.
fn short_name(t: &Thread) -> String {
    t.name.clone().unwrap_or_else(|| format!("tid {}", t.tid))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::diagnose::fixtures::{nat, LIBC};
    use crate::model::{Frame, Tid};

    pub(crate) fn thread(tid: i32, name: &str, frames: Vec<Frame>) -> Thread {
        Thread {
            tid: Tid(tid),
            name: Some(name.into()),
            crashed: false,
            holds_gil: Some(false),
            state: None,
            python_frames_from: None,
            frames,
        }
    }

    pub(crate) fn waiting() -> Vec<Frame> {
        vec![
            nat("__futex_abstimed_wait_common", LIBC, "futex-internal.c:57"),
            Frame::python("wait".into(), "/usr/lib/python3.11/threading.py".into(), Some(327), None),
        ]
    }

    #[test]
    fn identical_stacks_share_a_group_in_first_seen_order() {
        let busy = vec![Frame::python("run".into(), "/app/work.py".into(), Some(9), None)];
        let a = thread(1, "w-1", waiting());
        let b = thread(2, "busy", busy);
        let c = thread(3, "w-2", waiting());
        let mut gil = thread(4, "w-3", waiting());
        gil.holds_gil = Some(true);
        let all = [&a, &b, &c, &gil];
        let groups = same_stack_groups(&all);
        let tids: Vec<Vec<i32>> = groups.iter().map(|g| g.iter().map(|t| t.tid.0).collect()).collect();
        assert_eq!(tids, vec![vec![1, 3], vec![2], vec![4]]);
    }

    #[test]
    fn a_group_says_how_many_and_who() {
        let threads: Vec<Thread> = (1..=5).map(|i| thread(i, &format!("w-{i}"), waiting())).collect();
        let refs: Vec<&Thread> = threads.iter().collect();
        let label = |t: &Thread| format!("{} (tid {})", t.name.as_deref().unwrap_or("?"), t.tid);
        assert_eq!(group_label(&refs[..1], label), "w-1 (tid 1)");
        assert_eq!(group_label(&refs, label), "5 threads with this stack (w-1, w-2, w-3 and 2 more)");
    }
}
