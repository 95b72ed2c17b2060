//! The unwinder on real crashing processes, traced here (integration tests of the trace
//! crate: they drive live processes under ptrace): unwind at the signal-delivery-stop,
//! normalize while the process exists, symbolize after it is gone.

#[path = "unwind_live/corpus.rs"]
mod corpus;
#[path = "unwind_live/tracee.rs"]
mod tracee;

use std::time::{Duration, Instant};

use faultline_model::model::Frame;
use faultline_procfs::maps::read_maps;
use faultline_procfs::memory::ProcessMemory;
use faultline_unwind::{CodeAddress, NativeStacks, NormalizedPc};
use tracee::{fixtures, run_command_until_crash, run_until_crash, Crashed};

struct Unwound {
    pcs: Vec<CodeAddress>,
    normalized: Vec<NormalizedPc>,
    cold: Duration,
    warm: Duration,
}

/// Reads the held process's maps, as a capture does once.
fn load_maps(stacks: &mut NativeStacks, crashed: &Crashed) {
    let maps = read_maps(crashed.pid).expect("maps of the held process");
    stacks.load_maps(crashed.pid, maps, &ProcessMemory::new(crashed.tid));
}

/// Unwinds twice (cold caches, then warm) and normalizes.
fn unwind(stacks: &mut NativeStacks, crashed: &Crashed, max_frames: usize) -> Unwound {
    let mem = ProcessMemory::new(crashed.tid);
    let started = Instant::now();
    load_maps(stacks, crashed);
    let first = stacks.unwind(crashed.pid, &crashed.regs, &mem, max_frames);
    let cold = started.elapsed();
    let started = Instant::now();
    let pcs = stacks.unwind(crashed.pid, &crashed.regs, &mem, max_frames);
    let warm = started.elapsed();
    assert_eq!(first, pcs, "a second walk gives the same stack");
    let normalized = stacks.normalize(crashed.pid, &pcs);
    Unwound { pcs, normalized, cold, warm }
}

fn names(frames: &[Frame]) -> Vec<&str> {
    frames.iter().map(|f| f.function.as_deref().unwrap_or("?")).collect()
}

fn position(frames: &[Frame], function: &str) -> usize {
    frames
        .iter()
        .position(|f| f.function.as_deref() == Some(function))
        .unwrap_or_else(|| panic!("no frame {function} in {:?}", names(frames)))
}

#[test]
fn inlined_helper_between_crash_and_main() {
    let mut stacks = NativeStacks::new();
    let unwound = {
        let crashed = run_until_crash(&fixtures().crash, &["inline"]);
        unwind(&mut stacks, &crashed, 128)
        // The process is killed here: symbols must come from the files alone.
    };
    eprintln!("inline: {} frames, cold {:?}, warm {:?}", unwound.pcs.len(), unwound.cold, unwound.warm);
    let frames = stacks.symbolize(&unwound.normalized);
    assert_eq!(names(&frames)[..4], ["crash", "helper", "outer", "main"], "{frames:#?}");
    assert!(!frames[0].inlined && frames[1].inlined && !frames[2].inlined);
    for f in &frames[..4] {
        assert_eq!(f.module.as_deref(), Some("crash"));
        assert!(f.file.as_deref().is_some_and(|p| p.ends_with("crash.c")), "{f:?}");
    }
    // helper's frame is at the call of crash(); outer's at the inlined call of helper().
    assert_eq!(frames[1].address, frames[2].address);
    assert_ne!(frames[1].line, frames[2].line);
    assert!(matches!(unwound.normalized[0].pc, CodeAddress::Exact(_)));
    assert!(matches!(unwound.normalized[1].pc, CodeAddress::Return(_)));
    assert!(unwound.normalized[0].build_id.is_some());
    let start = &frames[4];
    assert!(start.function.as_deref().is_some_and(|f| f.starts_with("__libc_start")), "{start:?}");
    assert_eq!(start.module.as_deref(), Some("libc.so.6"));
}

#[test]
fn crosses_libc_frames_without_frame_pointers() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["libc"]);
    let unwound = unwind(&mut stacks, &crashed, 128);
    let frames = stacks.symbolize(&unwound.normalized);
    assert_eq!(names(&frames)[..2], ["crash", "compare"], "{frames:#?}");
    let sort = position(&frames, "sort_values");
    assert!(sort > 2, "qsort's own frames sit between compare and sort_values");
    assert!(frames[2..sort].iter().all(|f| f.module.as_deref() == Some("libc.so.6")), "{frames:#?}");
    assert_eq!(frames[sort + 1].function.as_deref(), Some("main"));
}

#[test]
fn names_frames_of_a_shared_library() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["lib"]);
    let unwound = unwind(&mut stacks, &crashed, 128);
    let frames = stacks.symbolize(&unwound.normalized);
    assert_eq!(names(&frames)[..4], ["lib_crash", "lib_helper", "lib_outer", "main"], "{frames:#?}");
    assert!(frames[1].inlined);
    let modules: Vec<_> = frames[..4].iter().map(|f| f.module.as_deref()).collect();
    assert_eq!(modules, [Some("libfault.so"), Some("libfault.so"), Some("libfault.so"), Some("crash")]);
}

#[test]
fn deep_recursion_is_capped_and_fully_walkable() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["recurse"]);
    let capped = unwind(&mut stacks, &crashed, 4096);
    eprintln!("recurse capped: {} frames, cold {:?}, warm {:?}", capped.pcs.len(), capped.cold, capped.warm);
    assert_eq!(capped.pcs.len(), 4096);
    let frames = stacks.symbolize(&capped.normalized[..3]);
    assert_eq!(names(&frames), ["crash", "recurse", "recurse"]);

    // The whole 20,000-frame stack reaches main: the bulk stack buffer grows as needed.
    let full = unwind(&mut stacks, &crashed, 30_000);
    eprintln!("recurse full: {} frames, cold {:?}, warm {:?}", full.pcs.len(), full.cold, full.warm);
    assert!(full.pcs.len() > 20_002);
    let tail = stacks.symbolize(&full.normalized[20_000..20_004]);
    assert!(names(&tail).contains(&"main"), "{:?}", names(&tail));
}

#[test]
fn stack_overflow_is_capped() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["overflow"]);
    let unwound = unwind(&mut stacks, &crashed, 4096);
    eprintln!("overflow: {} frames, cold {:?}, warm {:?}", unwound.pcs.len(), unwound.cold, unwound.warm);
    assert_eq!(unwound.pcs.len(), 4096);
    let frames = stacks.symbolize(&unwound.normalized[..8]);
    assert!(names(&frames).iter().all(|n| *n == "overflow"), "{:?}", names(&frames));
}

#[test]
fn walks_out_of_a_signal_handler() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["signal"]);
    load_maps(&mut stacks, &crashed);
    let frames_pc = stacks.unwind(crashed.pid, &crashed.regs, &ProcessMemory::new(crashed.tid), 128);
    let normalized = stacks.normalize(crashed.pid, &frames_pc);
    let frames = stacks.symbolize(&normalized);
    assert_eq!(names(&frames)[..2], ["crash", "on_usr1"], "{frames:#?}");
    let raise = position(&frames, "raise_usr1");
    assert_eq!(frames[raise + 1].function.as_deref(), Some("main"), "{frames:#?}");
    // The interrupted pc (inside libc's raise) is exact, not a return address.
    assert!(frames_pc.iter().filter(|f| matches!(f, CodeAddress::Exact(_))).count() >= 3);
}

/// The line of crash.c that holds `marker`.
fn fixture_line(marker: &str) -> u32 {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/native/crash.c");
    let text = std::fs::read_to_string(source).expect("crash.c");
    let index = text.lines().position(|l| l.contains(marker)).unwrap_or_else(|| panic!("no {marker:?} in crash.c"));
    index as u32 + 1
}

/// A timer signal interrupts `spin()`, a loop of one instruction, and its handler crashes:
/// the frame after the signal frame has an exact pc, at the start of the loop's line. Read
/// as a return address (what the untyped path assumed of every frame after the first), the
/// byte before it belongs to other code, and the frame is named wrongly.
#[test]
fn the_frame_a_signal_interrupted_is_looked_up_at_its_exact_pc() {
    let mut stacks = NativeStacks::new();
    let (pcs, normalized) = {
        let crashed = run_until_crash(&fixtures().crash, &["interrupted"]);
        load_maps(&mut stacks, &crashed);
        let pcs = stacks.unwind(crashed.pid, &crashed.regs, &ProcessMemory::new(crashed.tid), 128);
        let normalized = stacks.normalize(crashed.pid, &pcs);
        (pcs, normalized)
    };
    let frames = stacks.symbolize(&normalized);
    let handler = position(&frames, "on_alarm");
    let spin = position(&frames, "spin");
    assert!(spin > handler + 1, "the trampoline sits between them: {:?}", names(&frames));
    assert_eq!(frames[spin].line, Some(fixture_line("the interrupted line")), "{frames:#?}");
    assert_eq!(names(&frames)[spin + 1..spin + 3], ["interrupt_spin", "main"], "{frames:#?}");

    // The trampoline and the interrupted pc are exact; the frames around them return addresses.
    let kinds: Vec<bool> = pcs.iter().map(|pc| matches!(pc, CodeAddress::Exact(_))).collect();
    assert_eq!(kinds[..5], [true, false, true, true, false], "{pcs:x?}");
    let interrupted = &normalized[3];
    let mut named = |pc: &NormalizedPc| {
        let frame = stacks.symbolize(std::slice::from_ref(pc)).pop().expect("one frame");
        (frame.function, frame.line)
    };
    assert_eq!(named(interrupted), (Some("spin".to_owned()), Some(fixture_line("the interrupted line"))));
    let as_return_address = NormalizedPc { pc: CodeAddress::Return(interrupted.pc.address()), ..interrupted.clone() };
    assert_ne!(named(&as_return_address), named(interrupted), "the untyped path's reading differs");
}

#[test]
fn walks_out_of_a_handler_on_an_alternate_signal_stack() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["altstack"]);
    let unwound = unwind(&mut stacks, &crashed, 128);
    let frames = stacks.symbolize(&unwound.normalized);
    assert_eq!(names(&frames)[..2], ["crash", "on_usr1"], "{frames:#?}");
    let raise = position(&frames, "raise_usr1_on_altstack");
    assert_eq!(frames[raise + 1].function.as_deref(), Some("main"), "{frames:#?}");
}

#[test]
fn call_through_a_null_function_pointer() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["null-call"]);
    let unwound = unwind(&mut stacks, &crashed, 128);
    let frames = stacks.symbolize(&unwound.normalized);
    assert_eq!(unwound.pcs[0], CodeAddress::Exact(0));
    assert_eq!(frames[0].function, None);
    assert_eq!(frames[0].module, None);
    assert_eq!(names(&frames)[1..3], ["call_null", "main"], "{frames:#?}");
}

#[test]
fn crash_in_a_worker_thread() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["thread"]);
    assert_ne!(crashed.pid, crashed.tid);
    let unwound = unwind(&mut stacks, &crashed, 128);
    let frames = stacks.symbolize(&unwound.normalized);
    assert_eq!(names(&frames)[..4], ["crash", "helper", "outer", "worker"], "{frames:#?}");
    assert!(!names(&frames).contains(&"main"));
    assert_eq!(frames.last().and_then(|f| f.module.as_deref()), Some("libc.so.6"));
}

#[test]
fn demangles_an_inlined_cpp_destructor() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash_cpp, &[]);
    let unwound = unwind(&mut stacks, &crashed, 128);
    let frames = stacks.symbolize(&unwound.normalized);
    let names = names(&frames);
    assert_eq!(names[..3], ["shapes::Guard::~Guard()", "shapes::release(int)", "main"], "{frames:#?}");
    assert!(frames[0].inlined);
}

#[test]
fn forgetting_a_process_reloads_its_maps() {
    let mut stacks = NativeStacks::new();
    let crashed = run_until_crash(&fixtures().crash, &["inline"]);
    let before = unwind(&mut stacks, &crashed, 64).pcs;
    assert!(stacks.knows(crashed.pid));
    stacks.forget(crashed.pid);
    assert!(!stacks.knows(crashed.pid));
    // Without maps nothing is walked: only the registers' pc is known.
    let mem = ProcessMemory::new(crashed.tid);
    assert_eq!(stacks.unwind(crashed.pid, &crashed.regs, &mem, 64), [CodeAddress::Exact(crashed.regs.ip)]);
    assert_eq!(unwind(&mut stacks, &crashed, 64).pcs, before);
}

#[test]
fn unknown_addresses_still_give_frames() {
    let mut stacks = NativeStacks::new();
    let pc = NormalizedPc {
        pc: CodeAddress::Return(0x1234),
        object: Some("/nonexistent/libgone.so".into()),
        file_offset: Some(0x234),
        build_id: None,
    };
    let frames = stacks.symbolize(&[pc]);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].function, None);
    assert_eq!(frames[0].module.as_deref(), Some("libgone.so"));
    assert_eq!(frames[0].address.as_deref(), Some("0x1234"));
}

#[test]
fn unwinds_through_a_library_deleted_while_mapped() {
    // A private copy of the library, found first through LD_LIBRARY_PATH (the fixture's
    // rpath is a RUNPATH), deleted while the process is held.
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("libfault.so");
    std::fs::copy(&fixtures().libfault, &copy).expect("copy libfault.so");
    let mut command = std::process::Command::new(&fixtures().crash);
    command.arg("lib").env("LD_LIBRARY_PATH", dir.path());
    let crashed = run_command_until_crash(command);
    std::fs::remove_file(&copy).expect("delete libfault.so");

    let mut stacks = NativeStacks::new();
    let unwound = unwind(&mut stacks, &crashed, 128);
    drop(crashed);
    assert_eq!(unwound.normalized[0].object.as_deref(), Some(copy.as_path()));
    let frames = stacks.symbolize(&unwound.normalized);
    // The file is gone: no names for its frames, but they keep their module.
    assert_eq!(frames[0].function, None);
    assert_eq!(frames[0].module.as_deref(), Some("libfault.so"));
    // Its unwind info was read through /proc/<pid>/map_files (root only), so the walk
    // reaches main, through code without frame pointers.
    if can_open_map_files() {
        assert!(names(&frames).contains(&"main"), "{frames:#?}");
    }
}

/// Following `/proc/<pid>/map_files` links needs CAP_SYS_ADMIN.
fn can_open_map_files() -> bool {
    let Ok(mut entries) = std::fs::read_dir("/proc/self/map_files") else {
        return false;
    };
    entries.next().and_then(Result::ok).is_some_and(|e| std::fs::File::open(e.path()).is_ok())
}
