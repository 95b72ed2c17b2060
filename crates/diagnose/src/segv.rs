//! SIGSEGV from first principles: where the fault address falls (near NULL, below a
//! stack, in a read-only or non-executable mapping, in a hole among the mappings, nowhere
//! near anything), the registers, and the crashed thread's stack (deep recursion, glibc's
//! malloc internals).

use crate::capture::{Capture, Mapping};
use crate::frames::{is_signal_plumbing, is_system_module, module_basename, normalized_name};
use crate::kind::Verdict;
use crate::memmap::{self, format_size, NULL_ZONE, PAGE, USER_SPACE_END};
use crate::model::{hex, parse_hex, CrashKind, Frame, FrameKind};
use crate::recursion::{deepest_recursion, looks_truncated, Recursion};
use crate::signals;
use crate::units::{count, thousands};

/// How far below the stack pointer a fault can be and still be the stack growing: a
/// function's frame (plus `-fstack-clash-protection`'s page probes) rarely exceeds this.
const NEAR_SP: u64 = 64 * 1024;

/// The kernel keeps `stack_guard_gap` (256 pages) free below `[stack]`; a fault there is
/// the main thread's stack trying to grow past its limit.
const MAIN_GUARD_GAP: u64 = 256 * PAGE + NEAR_SP;

/// An unmapped address this close to a mapping looks like a pointer that was valid once.
const ONCE_VALID_DISTANCE: u64 = 256 << 20;

pub(crate) fn segv(capture: &Capture, frames: &[Frame]) -> Verdict {
    let code = capture.signal.code;
    let recursion = deepest_recursion(frames).filter(Recursion::is_deep);
    if let Some(verdict) = smashed_stack(capture, frames) {
        return verdict;
    }
    if code == signals::SI_KERNEL {
        // x86_64 reports a general-protection fault with no address: typically a
        // non-canonical pointer (0xdeadbeef… poison, garbage bits).
        if let Some(function) = heap_internals(frames) {
            return Verdict::new(
                CrashKind::HeapCorruption,
                format!("a general-protection fault inside glibc's {function}: a heap chunk holds a garbage pointer"),
            );
        }
        return Verdict::new(
            CrashKind::WildPointer,
            "a general-protection fault, so the kernel gives no address: the pointer was not canonical (garbage or poison bits such as 0xdeadbeef…)",
        );
    }
    let Some(address) = capture.signal.fault_address else {
        if recursion.is_some() {
            return stack_overflow_by_recursion(recursion.as_ref(), looks_truncated(frames));
        }
        return Verdict::new(CrashKind::WildPointer, "the kernel reported no fault address");
    };
    if let Some(detail) = stack_guard_evidence(capture, address, recursion.is_some()) {
        return Verdict::new(CrashKind::StackOverflow, detail);
    }
    if let Some(function) = heap_internals(frames) {
        return Verdict::new(
            CrashKind::HeapCorruption,
            format!(
                "{} faulted inside glibc's {function}: the allocator followed a corrupted chunk pointer",
                hex(address)
            ),
        );
    }
    let ip = capture.registers.map(|r| r.ip);
    if let Some(detail) = null_detail(address, ip == Some(address)) {
        return Verdict::new(CrashKind::NullDeref, detail);
    }
    let mapping = capture.mapping_at(address);
    if recursion.is_some() && mapping.is_none_or(Mapping::is_inaccessible) {
        return stack_overflow_by_recursion(recursion.as_ref(), looks_truncated(frames));
    }
    if ip == Some(address) {
        let where_ = match mapping {
            Some(m) => format!("in {}, which is not executable", memmap::describe(m)),
            None => "where nothing is mapped".to_string(),
        };
        return Verdict::new(CrashKind::ExecNonCode, format!("the program jumped to {}, {where_}", hex(address)));
    }
    match (code, mapping) {
        (signals::SEGV_ACCERR, Some(m)) if m.readable && !m.writable => {
            return Verdict::new(
                CrashKind::WriteToReadonly,
                format!("{} is in {}: a write to read-only memory", hex(address), memmap::describe(m)),
            );
        }
        (signals::SEGV_ACCERR, Some(m)) => {
            return Verdict::new(
                CrashKind::WildPointer,
                format!(
                    "{} is in {}, which allows no access: a reserved or guard region",
                    hex(address),
                    memmap::describe(m)
                ),
            );
        }
        (signals::SEGV_PKUERR, _) => {
            return Verdict::new(
                CrashKind::Unknown,
                format!("{} is protected by a memory protection key", hex(address)),
            );
        }
        (signals::SEGV_BNDERR, _) => {
            return Verdict::new(CrashKind::WildPointer, format!("{} failed a hardware bounds check", hex(address)));
        }
        _ => {}
    }
    unmapped(capture, address)
}

fn stack_overflow_by_recursion(recursion: Option<&Recursion>, truncated: bool) -> Verdict {
    let at_least = if truncated { "at least " } else { "" };
    let detail = match recursion {
        Some(r) => format!(
            "the stack is exhausted: {at_least}{} nested frames of {}",
            thousands(r.frames as u64),
            r.functions.join(" → ")
        ),
        None => "the stack is exhausted".into(),
    };
    Verdict::new(CrashKind::StackOverflow, detail)
}

/// Evidence from the address alone that a stack ran out.
///
/// - Main thread: the address is in the gap the kernel keeps free below `[stack]`.
/// - Other threads: the address is in a `---p` mapping directly below a thread's stack
///   (glibc's guard page), and the stack pointer is right there or the stack recurses.
/// - Any thread: nothing is mapped at the address and it is just below the stack pointer.
fn stack_guard_evidence(capture: &Capture, address: u64, deep_recursion: bool) -> Option<String> {
    let sp = capture.registers.map(|r| r.sp);
    let mapping = capture.mapping_at(address);
    if let Some(stack) = memmap::main_stack(&capture.maps) {
        if mapping.is_none() && address < stack.start && stack.start - address <= MAIN_GUARD_GAP {
            return Some(format!(
                "{} is {} below the main thread's {} stack, in the guard gap the kernel keeps free",
                hex(address),
                format_size(stack.start - address),
                format_size(stack.end.saturating_sub(stack.start)),
            ));
        }
    }
    if let Some(guard) = mapping {
        if let Some(stack) = memmap::stack_above_guard(&capture.maps, guard) {
            let sp_near = sp.is_some_and(|sp| sp >= guard.start && sp < stack.end && sp.abs_diff(address) <= NEAR_SP);
            if sp_near || deep_recursion {
                let owner = thread_label(capture);
                return Some(format!(
                    "{} is in the guard page below {owner}'s stack ({} of stack above it)",
                    hex(address),
                    format_size(stack.end.saturating_sub(stack.start)),
                ));
            }
        }
    }
    let sp = sp?;
    let below_sp = address < sp.saturating_add(PAGE) && sp.saturating_sub(address) <= NEAR_SP;
    if mapping.is_none() && below_sp && !capture.maps.is_empty() {
        return Some(format!(
            "{} is {} below the stack pointer, where nothing is mapped: the stack ran out",
            hex(address),
            format_size(sp.saturating_sub(address)),
        ));
    }
    None
}

fn thread_label(capture: &Capture) -> String {
    match capture.crashed_thread().and_then(|t| t.name.as_deref()) {
        Some(name) => format!("thread {name}"),
        None => format!("thread {}", capture.tid),
    }
}

/// A few words for an address near NULL, if it is near NULL.
fn null_detail(address: u64, jumped: bool) -> Option<String> {
    let negative = address >= u64::MAX - (NULL_ZONE - 1);
    if address >= NULL_ZONE && !negative {
        return None;
    }
    if jumped {
        return Some(format!("the program jumped to {}: a call through a NULL function pointer", hex(address)));
    }
    Some(if address == 0 {
        "0x0 is NULL itself".to_string()
    } else if negative {
        let back = u64::MAX - address + 1;
        format!("{} is {} before NULL", hex(address), count(back, "byte", "bytes"))
    } else {
        format!("{} is {} past NULL", hex(address), count(address, "byte", "bytes"))
    })
}

/// An address where nothing is mapped, beyond the NULL zone.
///
/// Heuristic, stated honestly: from outside, a use-after-free and a wild pointer look the
/// same (an unmapped address). Memory that was freed or munmapped leaves a hole *among*
/// the mappings: glibc returns large blocks with munmap, and the hole sits next to the
/// mappings that were made around the same time. So an address in user space within
/// A linear overrun of a stack buffer overwrites the saved frame pointer and the return
/// address with the data written: when the instruction pointer, the frame pointer, the
/// fault address, or a return address the unwinder read off the stack is one byte repeated
/// (`0x4141414141414141`, or its low 32 bits alone), the function returned into, or
/// dereferenced, or was called from, what an overrun wrote. An overrun that runs on until
/// it faults stops just past the end of the mapping it wrote through (the top of the stack).
fn smashed_stack(capture: &Capture, frames: &[Frame]) -> Option<Verdict> {
    let registers = capture.registers?;
    let return_addresses = frames
        .iter()
        .filter(|f| f.kind == FrameKind::Native && f.function.is_none())
        .filter_map(|f| f.address.as_deref().and_then(parse_hex));
    let (what, value) = [
        ("the return address", Some(registers.ip)),
        ("the saved frame pointer", Some(registers.bp)),
        ("the fault address", capture.signal.fault_address),
    ]
    .into_iter()
    .chain(return_addresses.map(|a| ("a return address on the stack", Some(a))))
    .find_map(|(what, value)| value.filter(|&v| is_fill_pattern(v)).map(|v| (what, v)))?;
    let intact = frames
        .iter()
        .filter(|f| f.kind == FrameKind::Native)
        .find_map(|f| f.function.as_deref().filter(|_| crate::frames::is_culprit_candidate(f)))
        .map(|f| format!("; the last intact frame is `{}`", crate::frames::short_function(f)))
        .unwrap_or_default();
    let ran_off = capture
        .signal
        .fault_address
        .and_then(|address| ran_off_the_end(capture, address))
        .map(|m| format!("; the write ran off the end of {}", memmap::describe(m)))
        .unwrap_or_default();
    Some(Verdict::new(
        CrashKind::BufferOverflow,
        format!(
            "{what} is {}, one byte repeated: a buffer overrun wrote over the stack's saved registers{intact}{ran_off}",
            hex(value)
        ),
    ))
}

/// The writable mapping that ends at most a page before `address`, where nothing is mapped:
/// where a linear write that went on too long faults.
fn ran_off_the_end(capture: &Capture, address: u64) -> Option<&Mapping> {
    if capture.mapping_at(address).is_some() {
        return None;
    }
    let (below, _) = memmap::neighbours(&capture.maps, address);
    below.filter(|m| m.writable && address - m.end < PAGE)
}

/// One byte repeated over 8 bytes, or over the low 4 with the high half clear: the fill of a
/// linear overrun, never a real pointer. 0x00 and 0xff fills are left out (NULL and -1 say
/// something else).
fn is_fill_pattern(value: u64) -> bool {
    let byte = value & 0xff;
    if byte == 0 || byte == 0xff {
        return false;
    }
    let repeated = |bytes: u32| (0..bytes).all(|i| (value >> (8 * i)) & 0xff == byte);
    repeated(8) || (value >> 32 == 0 && repeated(4))
}

/// 256 MiB of a mapping is called a use-after-free ("looks like a once-valid pointer");
/// anything farther away (a small integer taken for a pointer, random bits, a kernel-space
/// address) is a wild pointer. A read just past the end of a buffer also lands next to a
/// mapping and is reported as use-after-free; the detail gives the distances so a reader
/// can tell.
fn unmapped(capture: &Capture, address: u64) -> Verdict {
    if address >= USER_SPACE_END {
        return Verdict::new(
            CrashKind::WildPointer,
            format!("{} is a kernel-space address: not a user pointer", hex(address)),
        );
    }
    if capture.maps.is_empty() {
        return Verdict::new(
            CrashKind::WildPointer,
            format!("{} is unmapped (no memory map was captured)", hex(address)),
        );
    }
    let (below, above) = memmap::neighbours(&capture.maps, address);
    let past_below = below.map(|m| address - m.end);
    let before_above = above.map(|m| m.start - address);
    let nearest = [past_below, before_above].into_iter().flatten().min();
    match (below, above, nearest) {
        (Some(b), Some(a), Some(near)) if near <= ONCE_VALID_DISTANCE => Verdict::new(
            CrashKind::UseAfterFree,
            format!(
                "{} is unmapped: it lies in a {} hole between {}, the kind a munmapped or freed block leaves",
                hex(address),
                format_size(a.start - b.end),
                memmap::describe_pair(b, a),
            ),
        ),
        (_, _, Some(near)) if near <= ONCE_VALID_DISTANCE => Verdict::new(
            CrashKind::UseAfterFree,
            format!(
                "{} is unmapped, {} from the nearest mapping: it looks like a once-valid pointer",
                hex(address),
                format_size(near)
            ),
        ),
        (_, _, Some(near)) => Verdict::new(
            CrashKind::WildPointer,
            format!("{} is unmapped: nothing is mapped within {}", hex(address), format_size(near)),
        ),
        _ => Verdict::new(CrashKind::WildPointer, format!("{} is unmapped", hex(address))),
    }
}

/// glibc malloc's internal functions at the top of the stack, if the fault is inside them.
fn heap_internals(frames: &[Frame]) -> Option<String> {
    const INTERNALS: &[&str] = &[
        "_int_malloc",
        "_int_free",
        "_int_realloc",
        "_int_memalign",
        "_int_free_merge_chunk",
        "_int_free_create_chunk",
        "_int_free_maybe_consolidate",
        "malloc_consolidate",
        "unlink_chunk",
        "sysmalloc",
        "tcache_get",
        "tcache_put",
        "tcache_init",
        "malloc",
        "free",
        "realloc",
        "calloc",
        "memalign",
        "posix_memalign",
        "aligned_alloc",
    ];
    for frame in frames {
        let in_libc = frame.kind == FrameKind::Native
            && frame.module.as_deref().map(module_basename).is_none_or(is_system_module);
        if !in_libc {
            return None;
        }
        let Some(name) = normalized_name(frame) else {
            continue;
        };
        if is_signal_plumbing(&name) {
            continue;
        }
        if INTERNALS.contains(&name.as_str()) {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SignalInfo;
    use crate::fixtures::{self, kind_of, nat, LIBC};

    #[test]
    fn a_return_into_overrun_data_is_a_buffer_overflow() {
        assert!(is_fill_pattern(0x4141_4141_4141_4141));
        assert!(is_fill_pattern(0x4343_4343));
        assert!(!is_fill_pattern(0));
        assert!(!is_fill_pattern(u64::MAX));
        assert!(!is_fill_pattern(0x7f12_3456_789a));
        assert!(!is_fill_pattern(0x4141_4141_4141_4142));
        let mut c = fixtures::cext_null_deref();
        if let Some(r) = c.registers.as_mut() {
            r.ip = 0x4141_4141_4141_4141;
            r.bp = 0x4141_4141_4141_4141;
        }
        c.signal.code = signals::SI_KERNEL;
        c.signal.fault_address = None;
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::BufferOverflow);
        assert!(detail.contains("0x4141414141414141"), "{detail}");
    }

    #[test]
    fn a_fill_pattern_return_address_on_the_stack_and_a_fault_past_the_stack_top_are_an_overrun() {
        let mut c = fixtures::cext_null_deref();
        let stack_end = c.maps.iter().find(|m| m.path.as_deref() == Some("[stack]")).expect("fixture stack").end;
        c.signal.code = signals::SEGV_MAPERR;
        c.signal.fault_address = Some(stack_end);
        let smashed = Frame::native(None, None, 0x4141_4141_4141_4141);
        c.threads[0].frames = vec![
            nat("__memset_avx2_unaligned_erms", LIBC, ""),
            nat("fill_record", "liboverrun.so", "overrun.c:4"),
            nat("format_label", "liboverrun.so", "overrun.c:8"),
            smashed,
        ];
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::BufferOverflow, "{detail}");
        assert!(detail.contains("a return address on the stack is 0x4141414141414141"), "{detail}");
        assert!(detail.contains("the last intact frame is `fill_record`"), "{detail}");
        assert!(detail.contains("the write ran off the end of [stack]"), "{detail}");
        // Without the fill pattern, the same fault is not called an overrun.
        c.threads[0].frames.pop();
        assert_ne!(kind_of(&c).0, CrashKind::BufferOverflow);
    }

    #[test]
    fn null_dereferences() {
        assert_eq!(kind_of(&fixtures::cext_null_deref()), (CrashKind::NullDeref, "0x8 is 8 bytes past NULL".into()));
        assert_eq!(kind_of(&fixtures::pytest_null_deref()), (CrashKind::NullDeref, "0x0 is NULL itself".into()));
        assert_eq!(kind_of(&fixtures::ctypes_null()).0, CrashKind::NullDeref);
        assert_eq!(kind_of(&fixtures::thread_crash()).0, CrashKind::NullDeref);
        assert_eq!(kind_of(&fixtures::shutdown_static_dtor()).0, CrashKind::NullDeref);

        let mut c = fixtures::cext_null_deref();
        c.signal.fault_address = Some(u64::MAX - 7);
        assert_eq!(kind_of(&c), (CrashKind::NullDeref, "0xfffffffffffffff8 is 8 bytes before NULL".into()));
        // A big offset from NULL is still below mmap_min_addr.
        c.signal.fault_address = Some(0x2040);
        assert_eq!(kind_of(&c).0, CrashKind::NullDeref);
    }

    #[test]
    fn a_call_through_a_null_function_pointer() {
        let mut c = fixtures::cext_null_deref();
        c.signal.fault_address = Some(0);
        c.registers.as_mut().unwrap().ip = 0;
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::NullDeref);
        assert!(detail.contains("NULL function pointer"), "{detail}");
    }

    #[test]
    fn general_protection_fault_is_not_a_null_deref() {
        let mut c = fixtures::cext_null_deref();
        c.signal = SignalInfo { signo: 11, code: signals::SI_KERNEL, fault_address: Some(0), sender_pid: None };
        assert_eq!(kind_of(&c).0, CrashKind::WildPointer);
    }

    #[test]
    fn main_thread_stack_overflow() {
        let (kind, detail) = kind_of(&fixtures::stack_overflow(15_900));
        assert_eq!(kind, CrashKind::StackOverflow);
        assert!(detail.contains("below the main thread's 8 MiB stack, in the guard gap"), "{detail}");
        // Without maps and registers, the recursion alone tells it.
        let mut c = fixtures::stack_overflow(15_900);
        c.maps.clear();
        c.registers = None;
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::StackOverflow);
        assert_eq!(detail, "the stack is exhausted: 15,900 nested frames of path_length");
        // Without recursion, the address alone tells it.
        let mut c = fixtures::stack_overflow(3);
        assert_eq!(kind_of(&c).0, CrashKind::StackOverflow);
        c.registers = None;
        assert_eq!(kind_of(&c).0, CrashKind::StackOverflow);
    }

    #[test]
    fn worker_thread_stack_overflow_in_guard_page() {
        let mut c = fixtures::thread_crash();
        c.signal = fixtures::segv(signals::SEGV_ACCERR, 0x7f3a_2a5f_ff58);
        c.registers.as_mut().unwrap().sp = 0x7f3a_2a60_0010;
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::StackOverflow);
        assert!(detail.contains("guard page below thread worker-1's stack"), "{detail}");
        // The same ---p page far from sp and with no recursion is not a stack overflow.
        c.registers.as_mut().unwrap().sp = 0x7f3a_2adf_ed50;
        assert_eq!(kind_of(&c).0, CrashKind::WildPointer);
    }

    #[test]
    fn use_after_unmap() {
        let (kind, detail) = kind_of(&fixtures::use_after_reinit());
        assert_eq!(kind, CrashKind::UseAfterFree);
        assert!(detail.contains("64 KiB hole"), "{detail}");
    }

    #[test]
    fn wild_pointers() {
        let mut c = fixtures::use_after_reinit();
        c.signal.fault_address = Some(0x0000_0000_dead_beef);
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::WildPointer);
        assert!(detail.contains("nothing is mapped within"), "{detail}");
        c.signal.fault_address = Some(0xffff_8880_0000_0000);
        assert_eq!(kind_of(&c).0, CrashKind::WildPointer);
    }

    #[test]
    fn write_to_readonly_and_exec_non_code() {
        let mut c = fixtures::cext_null_deref();
        c.signal = fixtures::segv(signals::SEGV_ACCERR, 0x7f3a_2c1f_2010);
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::WriteToReadonly);
        assert!(detail.contains("_pixfmt.cpython-311-x86_64-linux-gnu.so (r--)"), "{detail}");

        c.signal = fixtures::segv(signals::SEGV_ACCERR, 0x55d4_c9e6_0000);
        c.registers.as_mut().unwrap().ip = 0x55d4_c9e6_0000;
        let (kind, detail) = kind_of(&c);
        assert_eq!(kind, CrashKind::ExecNonCode);
        assert!(detail.contains("[heap] (rw-), which is not executable"), "{detail}");
    }

    #[test]
    fn segv_inside_malloc_is_heap_corruption() {
        let mut c = fixtures::cext_null_deref();
        let frames = &mut c.threads[0].frames;
        frames.insert(0, nat("_int_malloc", LIBC, "./malloc/malloc.c:4125"));
        frames.insert(1, nat("__GI___libc_malloc", LIBC, "./malloc/malloc.c:3329"));
        c.signal.fault_address = Some(0x5555_0000_0010);
        assert_eq!(kind_of(&c).0, CrashKind::HeapCorruption);
    }
}
