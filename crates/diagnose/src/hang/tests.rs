//! The hang findings on snapshots shaped like real hung trees.

use super::*;
use crate::fixtures::hang::{busy_native_loop, everything_waits, hang_gil, process, sleeping, thread, thread_tail};
use crate::fixtures::{c_call, ext, nat, py, run_file_tail, LIBC, PID};
use crate::model::ProcessRole;
use crate::model::Tid;

fn ids(findings: &[HangFinding]) -> Vec<&str> {
    findings.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn hang_gil_names_the_lock_the_gil_and_the_thread_behind_it() {
    let findings = analyze_hang(&hang_gil());
    assert_eq!(ids(&findings), ["lock-while-holding-gil", "self-deadlock", "waiting-for-gil"]);
    let first = &findings[0];
    assert_eq!((first.pid.0, first.tid.map(|t| t.0)), (PID, Some(PID)));
    assert_eq!(
        first.text,
        "MainThread (tid 48213) holds the GIL and is blocked on a lock (`pthread_mutex_lock`) from \
         log_state (_store.c:15, inlined into flush) at save (main.py:23): no other Python thread \
         can run while it waits; 1 other thread waits for the GIL"
    );
    assert_eq!(
        findings[1].text,
        "no other thread of pid 48213 is inside _store: the lock is most likely held by MainThread \
         itself — does `flush` already hold it when it calls `log_state`? A non-recursive mutex \
         taken twice by one thread deadlocks"
    );
    assert_eq!(findings[2].tid, Some(Tid(PID + 1)));
    assert_eq!(
        findings[2].text,
        "heartbeat (tid 48214) waits for the GIL at heartbeat (main.py:17), blocked behind MainThread"
    );
}

#[test]
fn a_function_twice_on_the_stack_is_a_visible_self_deadlock() {
    let mut tree = hang_gil();
    let so = ext("_store");
    let frames = &mut tree[0].threads[0].frames;
    // log_state → on_flush → log_state: the outer call holds the lock the inner one wants.
    frames.insert(6, nat("on_flush", &so, "/work/cases/hang-gil/_store.c:40"));
    frames.insert(7, nat("log_state", &so, "/work/cases/hang-gil/_store.c:15"));
    let findings = analyze_hang(&tree);
    let f = findings.iter().find(|f| f.id == crate::model::HangFindingId::SelfDeadlock).expect("self-deadlock");
    assert!(f.text.starts_with("`log_state` is on MainThread's stack twice"), "{}", f.text);
}

#[test]
fn a_gil_waiter_inside_the_same_module_is_a_lock_order_inversion() {
    let mut tree = hang_gil();
    let so = ext("_store");
    // The heartbeat thread runs a _store callback that wants the GIL back.
    let frames = &mut tree[0].threads[1].frames;
    frames.truncate(6);
    frames.push(nat("PyGILState_Ensure", crate::fixtures::LIBPY, "Python/pystate.c:1719"));
    frames.push(nat("notify_listener", &so, "/work/cases/hang-gil/_store.c:52"));
    frames.extend(thread_tail());
    let findings = analyze_hang(&tree);
    assert_eq!(ids(&findings), ["lock-while-holding-gil", "gil-lock-inversion", "waiting-for-gil"]);
    assert_eq!(findings[1].tid, Some(Tid(PID + 1)));
    assert!(
        findings[1]
            .text
            .starts_with("heartbeat (tid 48214) waits for the GIL inside _store (notify_listener (_store.c:52))"),
        "{}",
        findings[1].text
    );
}

#[test]
fn holding_the_gil_in_a_blocking_read_is_said_too() {
    let main = "/work/cases/x/main.py";
    let mut frames = vec![nat("__libc_recv", LIBC, ""), nat("poll_device", &ext("_dev"), "/work/cases/x/_dev.c:12")];
    frames.extend(c_call());
    frames.push(py("read_sensor", main, 5));
    let tree = vec![process(
        PID,
        ProcessRole::Main,
        &["python3", "main.py"],
        vec![thread(PID, "MainThread", true, "sleeping", frames)],
    )];
    let findings = analyze_hang(&tree);
    assert_eq!(ids(&findings), ["blocking-while-holding-gil"]);
    assert!(
        findings[0].text.contains("waits for I/O (`recv`) from poll_device (_dev.c:12) at read_sensor (main.py:5)"),
        "{}",
        findings[0].text
    );
}

#[test]
fn a_tree_where_everything_waits_says_what_each_process_waits_on() {
    let findings = analyze_hang(&everything_waits());
    assert_eq!(ids(&findings), ["all-threads-waiting", "all-threads-waiting"]);
    assert_eq!((findings[0].pid.0, findings[0].tid.map(|t| t.0)), (PID, Some(PID)));
    assert_eq!(
        findings[0].text,
        "pid 48213 (python3 main.py): both threads are waiting, none running — waiting on something \
         outside the process (I/O), not on itself: MainThread waits in `Thread.join` at main (main.py:28); \
         fetcher waits in `socket.recv` at fetch (main.py:16)"
    );
    assert_eq!(
        findings[1].text,
        "pid 48218 (python3 child.py): its only thread is waiting — waiting on something outside the \
         process (a timer), not on itself: MainThread waits in `time.sleep` at wait_for_work (child.py:12)"
    );
}

#[test]
fn threads_waiting_on_each_other_are_a_deadlock() {
    let main = "/work/cases/x/main.py";
    let lock = |line| {
        let mut f = vec![
            nat("__futex_abstimed_wait_common", LIBC, ""),
            nat("__new_sem_wait_slow64", LIBC, ""),
            nat("PyThread_acquire_lock_timed", crate::fixtures::LIBPY, ""),
            nat("lock_PyThread_acquire_lock", crate::fixtures::LIBPY, ""),
            py("transfer", main, line),
        ];
        f.extend(thread_tail());
        f
    };
    let tree = vec![process(
        PID,
        ProcessRole::Main,
        &["python3", "main.py"],
        vec![
            thread(PID + 1, "a-to-b", false, "sleeping", lock(10)),
            thread(PID + 2, "b-to-a", false, "sleeping", lock(14)),
        ],
    )];
    let findings = analyze_hang(&tree);
    assert_eq!(ids(&findings), ["all-threads-waiting"]);
    assert!(findings[0].text.contains("a deadlock: each waits for a lock or another thread"), "{}", findings[0].text);
    assert!(
        findings[0].text.contains("a-to-b waits in `Lock.acquire` at transfer (main.py:10)"),
        "{}",
        findings[0].text
    );
}

#[test]
fn a_spinning_extension_and_a_stuck_read() {
    let findings = analyze_hang(&busy_native_loop());
    assert_eq!(ids(&findings), ["native-busy-loop", "waiting-for-gil", "disk-sleep"]);
    assert_eq!(
        findings[0].text,
        "MainThread (tid 48213) was on the CPU in native code, not in any system call: mix_block \
         (_hashy.c:21) at digest (main.py:9) — a loop that does not end? It holds the GIL, so no \
         other Python thread can run."
    );
    assert_eq!(
        findings[2].text,
        "loader (tid 48215) is in uninterruptible I/O (`a file read`) at load (main.py:24): the kernel \
         waits on a disk or a network filesystem, and no signal can interrupt it"
    );
}

#[test]
fn running_python_and_unknown_states() {
    let main = "/work/cases/x/main.py";
    let mut frames =
        vec![nat("_PyEval_EvalFrameDefault", crate::fixtures::LIBPY, "Python/ceval.c:5000"), py("spin", main, 3)];
    frames.extend(run_file_tail());
    let mut t = thread(PID, "MainThread", true, "running", frames);
    let findings = analyze_hang(&[process(PID, ProcessRole::Main, &["python3", "main.py"], vec![t.clone()])]);
    assert_eq!(ids(&findings), ["python-busy"]);
    assert!(findings[0].text.contains("was running Python code at spin (main.py:3)"));
    // Without a scheduler state nothing is claimed about a thread that is not in a call.
    t.state = None;
    assert!(analyze_hang(&[process(PID, ProcessRole::Main, &["python3"], vec![t])]).is_empty());
}

#[test]
fn descriptions_of_single_threads() {
    let tree = hang_gil();
    assert_eq!(
        describe(&tree[0].threads[0]),
        "waits in `pthread_mutex_lock` from log_state (_store.c:15, inlined into flush) at save (main.py:23)"
    );
    assert_eq!(describe(&tree[0].threads[1]), "waits for the GIL at heartbeat (main.py:17)");
    let mut bare = thread(PID, "MainThread", false, "sleeping", sleeping());
    assert_eq!(describe(&bare), "waits in `time.sleep`");
    bare.frames.clear();
    assert_eq!(describe(&bare), "no stack was taken");
    assert!(analyze_hang(&[]).is_empty());
    assert_eq!(one_line("python3 -c import x\nx.run()\t"), "python3 -c import x\\nx.run()\\t");
}

#[test]
fn empty_and_odd_snapshots_do_not_panic() {
    let odd = vec![
        thread(1, "a", true, "sleeping", vec![nat("syscall", LIBC, "")]),
        thread(2, "b", true, "running", vec![]),
        thread(3, "c", false, "zombie", vec![nat("??", "", "")]),
    ];
    let tree = vec![process(1, ProcessRole::Main, &[], odd), process(2, ProcessRole::Child, &[], vec![])];
    let findings = analyze_hang(&tree);
    assert_eq!(ids(&findings), ["blocking-while-holding-gil"]);
}
