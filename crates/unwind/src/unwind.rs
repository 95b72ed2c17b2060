//! Walking one stopped thread's stack with framehop, over the modules of its process.
//!
//! framehop does the DWARF CFI work (and falls back to frame pointers where there is no
//! CFI). On top of it this walk handles what framehop cannot: a jump to a non-code address
//! in frame 0, and signal frames, whose CFI needs memory reads framehop does not do.

use framehop::x86_64::UnwindRegsX86_64;
use framehop::{FrameAddress, Unwinder};

use super::process::ProcessModules;
use super::stack::StackReader;
use super::CodeAddress;
use crate::capture::Registers;
use crate::memory::ReadMemory;

/// `mov $15, %rax; syscall`: glibc's `__restore_rt`, which a signal handler returns into.
const SIGRETURN_CODE: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];

/// Offsets in the `ucontext_t` that a signal handler's frame returns to (x86_64):
/// `uc_mcontext.gregs` starts at 40; REG_RBP is 10, REG_RSP 15, REG_RIP 16.
const UC_RBP: u64 = 40 + 10 * 8;
const UC_RSP: u64 = 40 + 15 * 8;
const UC_RIP: u64 = 40 + 16 * 8;

pub fn walk(
    process: &mut ProcessModules,
    regs: &Registers,
    mem: &dyn ReadMemory,
    stack_buf: &mut Vec<u8>,
    max_frames: usize,
) -> Vec<CodeAddress> {
    let mut frames = Vec::new();
    if max_frames == 0 {
        return frames;
    }
    let mut stack = StackReader::new(mem, stack_buf);
    stack.rebase(stack_region(process, regs.sp));
    let mut uregs = UnwindRegsX86_64::new(regs.ip, regs.sp, regs.bp);
    frames.push(CodeAddress::Exact(regs.ip));
    let mut address = FrameAddress::InstructionPointer(regs.ip);

    // A call through a bad pointer leaves ip outside any code: the caller's return address
    // is still on top of the stack. framehop would walk frame pointers and skip that caller.
    if process.maps.find_code(regs.ip).is_none() {
        match return_from_non_code(process, &mut stack, &mut uregs) {
            Some((ra, next)) => {
                frames.push(CodeAddress::Return(ra));
                address = next;
            }
            None => return frames,
        }
    }

    while frames.len() < max_frames {
        let mut read_stack = |addr: u64| stack.read_u64(addr);
        let ra = match process.unwinder.unwind_frame(address, &mut uregs, &mut process.rules, &mut read_stack) {
            Ok(Some(ra)) if ra != 0 => ra,
            _ => break,
        };
        if is_sigreturn(process, mem, ra) {
            // The handler returns into the trampoline; the interrupted context is saved in
            // the ucontext right above the return address (at the handler's CFA).
            frames.push(CodeAddress::Exact(ra));
            let Some(ip) = restore_signal_context(&mut uregs, &mut read_stack) else {
                break;
            };
            // The handler may have run on an alternate signal stack.
            if !stack.covers(uregs.sp()) {
                stack.rebase(stack_region(process, uregs.sp()));
            }
            if frames.len() < max_frames {
                frames.push(CodeAddress::Exact(ip));
            }
            address = FrameAddress::InstructionPointer(ip);
            continue;
        }
        frames.push(CodeAddress::Return(ra));
        let Some(next) = FrameAddress::from_return_address(ra) else {
            break;
        };
        address = next;
    }
    frames.truncate(max_frames);
    frames
}

/// The region to buffer for a stack pointer: from it to the end of its stack mapping.
fn stack_region(process: &ProcessModules, sp: u64) -> Option<(u64, u64)> {
    process.maps.stack_for(sp).map(|m| (sp.max(m.start), m.end))
}

/// Pops the return address off the top of the stack if it points into code.
fn return_from_non_code(
    process: &ProcessModules,
    stack: &mut StackReader,
    uregs: &mut UnwindRegsX86_64,
) -> Option<(u64, FrameAddress)> {
    let ra = stack.read_u64(uregs.sp()).ok()?;
    process.maps.find_code(ra)?;
    let next = FrameAddress::from_return_address(ra)?;
    uregs.set_sp(uregs.sp().checked_add(8)?);
    uregs.set_ip(ra);
    Some((ra, next))
}

fn is_sigreturn(process: &mut ProcessModules, mem: &dyn ReadMemory, address: u64) -> bool {
    if process.maps.find_code(address).is_none() {
        return false;
    }
    // Cached per address: a deep recursion repeats the same few return addresses.
    *process.sigreturn.entry(address).or_insert_with(|| {
        let mut code = [0u8; SIGRETURN_CODE.len()];
        mem.read_exact_at(address, &mut code).is_ok() && code == SIGRETURN_CODE
    })
}

fn restore_signal_context<F>(uregs: &mut UnwindRegsX86_64, read_stack: &mut F) -> Option<u64>
where
    F: FnMut(u64) -> Result<u64, ()>,
{
    let uc = uregs.sp();
    let ip = read_stack(uc.checked_add(UC_RIP)?).ok()?;
    let sp = read_stack(uc.checked_add(UC_RSP)?).ok()?;
    let bp = read_stack(uc.checked_add(UC_RBP)?).ok()?;
    *uregs = UnwindRegsX86_64::new(ip, sp, bp);
    Some(ip)
}
