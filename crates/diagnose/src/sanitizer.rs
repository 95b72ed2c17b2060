//! A sanitizer's own report of the crash (AddressSanitizer, UndefinedBehaviorSanitizer):
//! the error's name, the bad access, and the stacks the runtime recorded at the allocation
//! and the free, which no debugger can recover afterwards.
//!
//! The report comes from the sanitizer's log file (`--asan` sets `log_path`, so it is this
//! process's for sure) or, when the user set the sanitizer up, from the stderr tail: an ASan
//! report names its process (`==4960==ERROR: AddressSanitizer: …`), and one of another
//! process is not this crash's. A UBSan `runtime error:` line names no process: it counts
//! only when the sanitizer's fatal path is on the crashed thread.
//!
//! The format is the sanitizer runtime's (compiler-rt's `sanitizer_common`, shared by GCC's
//! libasan and clang's): a header, the access line, `#N 0xADDR in FUNCTION FILE:LINE[:COL]`
//! or `#N 0xADDR (MODULE+0xOFFSET)` frames, `… by thread T0 here:` headings, a `SUMMARY:`.

use crate::capture::Capture;
use crate::frames::module_basename;
use crate::model::{parse_hex, CrashKind, Frame, SanitizerReport, SanitizerStack};

/// What the sanitizer said, read into faultline's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub report: SanitizerReport,
    /// The one line for `crash.message`.
    pub message: String,
}

/// The sanitizer report of this crash: from its log file, else from the stderr tail.
pub fn read(capture: &Capture) -> Option<Reading> {
    let pid = capture.pid.0;
    if let Some(log) = capture.sanitizer_log.as_deref() {
        let lines: Vec<String> = log.lines().map(str::to_owned).collect();
        if let Some(reading) = parse(&lines, None, capture) {
            return Some(reading);
        }
    }
    let reading = parse(&capture.stderr_tail, Some(pid), capture)?;
    // UBSan's lines carry no pid: only with its fatal path on this crash's stack.
    let tied = reading.report.tool != UBSAN
        || crate::runtimes::SANITIZER.on_fatal_path(crate::location::crashed_frames(capture));
    tied.then_some(reading)
}

const UBSAN: &str = "UndefinedBehaviorSanitizer";

/// Reads the last sanitizer report in `lines`. With `pid`, an ASan report must name it.
pub fn parse(lines: &[String], pid: Option<i32>, capture: &Capture) -> Option<Reading> {
    let asan_start =
        lines.iter().rposition(|l| error_header(l).is_some_and(|(p, _, _)| pid.is_none_or(|pid| p == pid)));
    let ubsan_start = lines.iter().rposition(|l| l.contains(": runtime error: "));
    match (asan_start, ubsan_start) {
        (Some(a), Some(u)) if u > a => ubsan(&lines[u..], capture),
        (Some(a), _) => asan(&lines[a..], capture),
        (None, Some(u)) => ubsan(&lines[u..], capture),
        (None, None) => None,
    }
}

/// `==4960==ERROR: AddressSanitizer: heap-buffer-overflow on address …` → (4960, tool, rest).
fn error_header(line: &str) -> Option<(i32, &str, &str)> {
    let rest = line.trim_start().strip_prefix("==")?;
    let (pid, rest) = rest.split_once("==")?;
    let pid = pid.parse().ok()?;
    let rest = rest.strip_prefix("ERROR: ")?;
    let (tool, what) = rest.split_once(": ")?;
    tool.ends_with("Sanitizer").then_some((pid, tool, what.trim()))
}

fn asan(lines: &[String], capture: &Capture) -> Option<Reading> {
    let (_, tool, what) = error_header(&lines[0])?;
    let summary_class = lines.iter().find_map(|l| summary(l).map(|(_, class)| class.to_owned()));
    let class = summary_class.unwrap_or_else(|| header_class(what));
    let mut access = None;
    let mut location = None;
    let mut stacks: Vec<SanitizerStack> = Vec::new();
    let mut current =
        Some(SanitizerStack { role: SanitizerStack::ACCESS.to_owned(), heading: None, frames: Vec::new() });
    for line in &lines[1..] {
        let text = line.trim();
        if text.starts_with("SUMMARY: ") || text.starts_with("Shadow bytes") || text.ends_with("==ABORTING") {
            break;
        }
        if let Some(frame) = frame_line(text, capture) {
            if let Some(stack) = current.as_mut() {
                stack.frames.push(frame);
            }
            continue;
        }
        if text.ends_with(" here:") {
            stacks.extend(current.take().filter(|s| !s.frames.is_empty()));
            current = Some(SanitizerStack { role: role_of(text), heading: Some(text.to_owned()), frames: Vec::new() });
            continue;
        }
        if access.is_none() && (text.starts_with("READ of size") || text.starts_with("WRITE of size")) {
            access = Some(text.to_owned());
        } else if let Some(memory_access) = text.split_once("==The signal is caused by a ").map(|(_, a)| a) {
            access = Some(memory_access.trim_end_matches('.').to_owned());
        } else if location.is_none() && (text.contains(" is located ") || text.contains("==Hint: ")) {
            location = Some(text.split_once("==Hint: ").map_or(text, |(_, hint)| hint).to_owned());
        }
    }
    stacks.extend(current.take().filter(|s| !s.frames.is_empty()));
    for stack in &mut stacks {
        mark_inlined(&mut stack.frames);
    }
    let message = match &access {
        Some(access) => format!("{tool}: {class}: {access}"),
        None => format!("{tool}: {}", what.split(" (pc ").next().unwrap_or(what)),
    };
    let report = SanitizerReport { tool: tool.to_owned(), class, access, location, stacks };
    Some(Reading { report, message })
}

/// The class from the header when there is no SUMMARY: `attempting double-free on …`.
fn header_class(what: &str) -> String {
    let what = what.strip_prefix("attempting ").unwrap_or(what);
    what.split([' ', ':']).next().unwrap_or(what).to_owned()
}

/// `SUMMARY: AddressSanitizer: heap-buffer-overflow /tmp/ext.c:11 in copy_name` → (tool, class).
fn summary(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("SUMMARY: ")?;
    let (tool, rest) = rest.split_once(": ")?;
    Some((tool, rest.split_whitespace().next()?))
}

/// `freed by thread T0 here:` → `freed`; `previously allocated by …` → `allocated`;
/// `Thread T1 created by T0 here:` → `thread T1 created`.
fn role_of(heading: &str) -> String {
    let lower = heading.to_ascii_lowercase();
    if lower.contains("allocated by") {
        "allocated".to_owned()
    } else if lower.contains("freed by") {
        "freed".to_owned()
    } else {
        lower.split(" by ").next().unwrap_or(&lower).trim_end_matches(" here:").to_owned()
    }
}

/// UBSan: `FILE:LINE:COL: runtime error: MESSAGE`, then (with `print_stacktrace=1`) its stack.
fn ubsan(lines: &[String], capture: &Capture) -> Option<Reading> {
    let first = lines[0].trim();
    let (place, error) = first.split_once(": runtime error: ")?;
    let class = lines.iter().find_map(|l| summary(l).map(|(_, class)| class.to_owned()));
    let frames: Vec<Frame> = lines[1..]
        .iter()
        .map(|l| l.trim())
        .take_while(|l| !l.starts_with("SUMMARY: ") && !l.contains(": runtime error: "))
        .filter_map(|l| frame_line(l, capture))
        .collect();
    let stacks = match frames.is_empty() {
        true => Vec::new(),
        false => vec![SanitizerStack { role: SanitizerStack::ACCESS.to_owned(), heading: None, frames }],
    };
    let report = SanitizerReport {
        tool: UBSAN.to_owned(),
        class: class.unwrap_or_else(|| "undefined-behavior".to_owned()),
        access: None,
        location: Some(place.to_owned()),
        stacks,
    };
    Some(Reading { report, message: format!("{place}: runtime error: {error}") })
}

/// One `#N 0xADDR …` line of a sanitizer stack.
fn frame_line(text: &str, capture: &Capture) -> Option<Frame> {
    let rest = text.strip_prefix('#')?;
    let (number, rest) = rest.split_once(' ')?;
    number.parse::<u32>().ok()?;
    let (address, rest) = rest.trim_start().split_once(' ').unwrap_or((rest.trim(), ""));
    let address_value = parse_hex(address)?;
    // `(BuildId: 0123abcd)` at the end says nothing a frame keeps.
    let mut rest = rest.trim();
    if let Some(at) = rest.rfind(" (BuildId: ") {
        rest = rest[..at].trim_end();
    }
    let rest = rest.strip_prefix("in ").unwrap_or(rest);
    let mut frame = Frame::native(None, None, address_value);
    let (function, module_path) = match rest.strip_suffix(')').and_then(|r| r.rsplit_once('(')) {
        // `FUNCTION (MODULE+0xOFFSET)` or `(MODULE+0xOFFSET)`
        Some((function, inside)) if inside.contains("+0x") => {
            (function.trim(), inside.rsplit_once('+').map(|(m, _)| m.to_owned()))
        }
        _ => match rest.rsplit_once(' ') {
            Some((function, place)) if file_and_line(place).is_some() => {
                let (file, line) = file_and_line(place)?;
                frame.file = Some(file.to_owned());
                frame.line = Some(line);
                (function.trim(), None)
            }
            _ => (rest, None),
        },
    };
    frame.function = Some(function.to_owned()).filter(|f| !f.is_empty() && f != "<null>");
    let module_path = module_path
        .or_else(|| capture.mapping_at(address_value).and_then(|m| m.file()).map(|(path, _)| path.to_owned()));
    frame.module = module_path.map(|path| module_basename(&path).to_owned());
    Some(frame)
}

/// `/tmp/ext.c:11` or `/tmp/ext.c:11:5` → (file, line).
fn file_and_line(place: &str) -> Option<(&str, u32)> {
    let mut parts = place.rsplitn(3, ':');
    let last = parts.next()?;
    let middle = parts.next()?;
    match (middle.parse::<u32>(), last.parse::<u32>(), parts.next()) {
        (Ok(line), Ok(_column), Some(file)) if !file.is_empty() => Some((file, line)),
        (_, Ok(line), _) if !middle.is_empty() => Some((&place[..place.len() - last.len() - 1], line)),
        _ => None,
    }
}

/// The sanitizer prints one line per inlined function at the same address: all but the
/// outermost of such a run were inlined into the frame below them.
fn mark_inlined(frames: &mut [Frame]) {
    for i in 0..frames.len().saturating_sub(1) {
        if frames[i].address.is_some() && frames[i].address == frames[i + 1].address {
            frames[i].inlined = true;
        }
    }
}

/// The schema kind nearest the sanitizer's own name for the error.
pub fn nearest_kind(report: &SanitizerReport, message: &str) -> CrashKind {
    let class = report.class.as_str();
    match class {
        c if c.ends_with("buffer-overflow") || c.ends_with("buffer-underflow") => CrashKind::BufferOverflow,
        "container-overflow" | "intra-object-overflow" => CrashKind::BufferOverflow,
        "heap-use-after-free" | "stack-use-after-return" | "stack-use-after-scope" | "use-after-poison" => {
            CrashKind::UseAfterFree
        }
        "double-free" => CrashKind::DoubleFree,
        "bad-free" | "alloc-dealloc-mismatch" | "new-delete-type-mismatch" | "invalid-free" => {
            CrashKind::HeapCorruption
        }
        "SEGV" => {
            let zero_page = report.location.as_deref().is_some_and(|l| l.contains("zero page"));
            if zero_page {
                CrashKind::NullDeref
            } else {
                CrashKind::WildPointer
            }
        }
        "stack-overflow" => CrashKind::StackOverflow,
        "FPE" => CrashKind::Fpe,
        "BUS" => CrashKind::BusError,
        "ILL" => CrashKind::IllegalInstruction,
        _ if report.tool == UBSAN => {
            if message.contains("null pointer") {
                CrashKind::NullDeref
            } else if message.contains("out of bounds") {
                CrashKind::BufferOverflow
            } else if message.contains("division by zero") {
                CrashKind::Fpe
            } else {
                CrashKind::Abort
            }
        }
        _ => CrashKind::Abort,
    }
}

/// The sentence about the memory: ASan's own (`… is located 0 bytes after 5-byte region`),
/// else what stopped the process.
pub fn detail(report: &SanitizerReport) -> String {
    match &report.location {
        Some(location) if report.tool != UBSAN => location.clone(),
        _ => format!("{} found the error and aborted the process at the bad operation", report.tool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    const HEAP_OVERFLOW: &str = "\
=================================================================
==4960==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000c15 at pc 0x7f6bea3c6250 bp 0x7ffd34fbfd40 sp 0x7ffd34fbfd38
WRITE of size 1 at 0x602000000c15 thread T0
    #0 0x7f6bea3c624f in copy_name /tmp/asan/ext.c:11
    #1 0x7f6bebda6ee1 in cfunction_vectorcall_O Objects/methodobject.c:514
    #2 0x7f6bebd58ba2 in _PyObject_VectorcallTstate Include/internal/pycore_call.h:92
    #3 0x7f6bebd58ba2 in PyObject_Vectorcall Objects/call.c:299
    #21 0x561463e60080 in _start (/root/.pyenv/versions/3.11.7/bin/python3.11+0x1080)

0x602000000c15 is located 0 bytes to the right of 5-byte region [0x602000000c10,0x602000000c15)
allocated by thread T0 here:
    #0 0x7f6bec2b89cf in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x7f6bea3c61f4 in copy_name /tmp/asan/ext.c:9:17
    #2 0x7f6bebda6ee1 (/usr/lib/libpython3.11.so.1.0+0x1a6ee1) (BuildId: 0123abcd)

SUMMARY: AddressSanitizer: heap-buffer-overflow /tmp/asan/ext.c:11 in copy_name
Shadow bytes around the buggy address:
  0x0c047fff8130: fa fa fd fa fa fa fd fa fa fa 01 fa fa fa fd fa
==4960==ABORTING";

    #[test]
    fn a_heap_overflow_report_gives_class_access_and_both_stacks() {
        let capture = fixtures::cext_null_deref();
        let reading = parse(&lines(HEAP_OVERFLOW), Some(4960), &capture).expect("report");
        let report = &reading.report;
        assert_eq!((report.tool.as_str(), report.class.as_str()), ("AddressSanitizer", "heap-buffer-overflow"));
        assert_eq!(report.access.as_deref(), Some("WRITE of size 1 at 0x602000000c15 thread T0"));
        assert!(report.location.as_deref().unwrap().contains("0 bytes to the right of 5-byte region"));
        assert_eq!(
            reading.message,
            "AddressSanitizer: heap-buffer-overflow: WRITE of size 1 at 0x602000000c15 thread T0"
        );
        let roles: Vec<&str> = report.stacks.iter().map(|s| s.role.as_str()).collect();
        assert_eq!(roles, ["access", "allocated"]);
        let access = &report.stacks[0].frames;
        assert_eq!(access.len(), 5);
        assert_eq!(
            (access[0].function.as_deref(), access[0].file.as_deref(), access[0].line),
            (Some("copy_name"), Some("/tmp/asan/ext.c"), Some(11))
        );
        assert!(access[2].inlined && !access[3].inlined, "same address: the inner one was inlined");
        assert_eq!(access[4].module.as_deref(), Some("python3.11"));
        let allocated = &report.stacks[1].frames;
        assert_eq!((allocated[1].file.as_deref(), allocated[1].line), (Some("/tmp/asan/ext.c"), Some(9)));
        assert_eq!(allocated[2].function, None);
        assert_eq!(allocated[2].module.as_deref(), Some("libpython3.11.so.1.0"));
        assert_eq!(report.stacks[1].heading.as_deref(), Some("allocated by thread T0 here:"));
        assert_eq!(nearest_kind(report, &reading.message), CrashKind::BufferOverflow);
    }

    #[test]
    fn another_process_report_on_the_shared_stderr_is_not_this_crash() {
        let capture = fixtures::cext_null_deref();
        assert_eq!(parse(&lines(HEAP_OVERFLOW), Some(4961), &capture), None);
        // The log file is the process's own: no pid to check.
        assert!(parse(&lines(HEAP_OVERFLOW), None, &capture).is_some());
    }

    #[test]
    fn use_after_free_double_free_and_segv() {
        let capture = fixtures::cext_null_deref();
        let uaf = "==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020 at pc 0x1 bp 0x2 sp 0x3
READ of size 4 at 0x6020 thread T0
    #0 0x401 in read_it /src/a.c:20:12
0x6020 is located 0 bytes inside of 4-byte region [0x6020,0x6024)
freed by thread T0 here:
    #0 0x7f1 in __interceptor_free ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:52
    #1 0x402 in release /src/a.c:14
previously allocated by thread T0 here:
    #0 0x7f2 in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x403 in make /src/a.c:8
SUMMARY: AddressSanitizer: heap-use-after-free /src/a.c:20:12 in read_it";
        let reading = parse(&lines(uaf), Some(7), &capture).unwrap();
        let roles: Vec<&str> = reading.report.stacks.iter().map(|s| s.role.as_str()).collect();
        assert_eq!(roles, ["access", "freed", "allocated"]);
        assert_eq!(nearest_kind(&reading.report, &reading.message), CrashKind::UseAfterFree);

        let double = "==8==ERROR: AddressSanitizer: attempting double-free on 0x6020 in thread T0:
    #0 0x7f1 in __interceptor_free ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:52
    #1 0x402 in release /src/a.c:14";
        let reading = parse(&lines(double), Some(8), &capture).unwrap();
        assert_eq!(reading.report.class, "double-free");
        assert_eq!(reading.message, "AddressSanitizer: attempting double-free on 0x6020 in thread T0:");
        assert_eq!(nearest_kind(&reading.report, &reading.message), CrashKind::DoubleFree);

        let segv = "==9==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000 (pc 0x401 bp 0x2 sp 0x3 T0)
==9==The signal is caused by a READ memory access.
==9==Hint: address points to the zero page.
    #0 0x401 in deref /src/a.c:3:10
SUMMARY: AddressSanitizer: SEGV /src/a.c:3:10 in deref";
        let reading = parse(&lines(segv), Some(9), &capture).unwrap();
        assert_eq!(reading.report.access.as_deref(), Some("READ memory access"));
        assert_eq!(reading.report.location.as_deref(), Some("address points to the zero page."));
        assert_eq!(nearest_kind(&reading.report, &reading.message), CrashKind::NullDeref);
    }

    #[test]
    fn a_ubsan_runtime_error_gives_the_message_and_its_place() {
        let capture = fixtures::cext_null_deref();
        let text = "starting\n/src/m.c:5:12: runtime error: signed integer overflow: 2147483647 + 1 cannot be represented in type 'int'
    #0 0x401 in add /src/m.c:5
SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior /src/m.c:5:12 in ";
        let reading = parse(&lines(text), Some(1), &capture).unwrap();
        assert_eq!(reading.report.tool, "UndefinedBehaviorSanitizer");
        assert_eq!(reading.report.class, "undefined-behavior");
        assert!(reading.message.starts_with("/src/m.c:5:12: runtime error: signed integer overflow"));
        assert_eq!(reading.report.stacks[0].frames[0].function.as_deref(), Some("add"));
        assert_eq!(nearest_kind(&reading.report, &reading.message), CrashKind::Abort);
        // Without the sanitizer's fatal path on the stack, a stray line is not this crash's.
        let mut stray = capture.clone();
        stray.stderr_tail = lines(text);
        assert_eq!(read(&stray), None);
    }

    #[test]
    fn frame_lines_of_every_shape() {
        let capture = fixtures::cext_null_deref();
        let cpp = frame_line("#0 0x4011 in operator delete(void*, unsigned long) /x/new.cpp:164:3", &capture).unwrap();
        assert_eq!(cpp.function.as_deref(), Some("operator delete(void*, unsigned long)"));
        assert_eq!((cpp.file.as_deref(), cpp.line), (Some("/x/new.cpp"), Some(164)));
        let bare = frame_line("#4 0x7f10 (/lib/x86_64-linux-gnu/libc.so.6+0x271ca)", &capture).unwrap();
        assert_eq!((bare.function, bare.module.as_deref()), (None, Some("libc.so.6")));
        assert_eq!(frame_line("#x 0x1 in f", &capture), None);
        assert_eq!(frame_line("0x602000000c15 is located", &capture), None);
    }
}
