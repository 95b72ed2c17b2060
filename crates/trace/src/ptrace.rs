//! Thin wrappers over the ptrace requests the supervisor makes. Raw `libc::ptrace` is used
//! where nix cannot express the request (PTRACE_LISTEN, realtime signal injection).
//! Every call may fail with ESRCH: tasks vanish at any moment, and callers expect that.

use nix::errno::Errno;
use std::time::{Duration, Instant};

pub type Tid = i32;

pub const SEIZE_OPTIONS: libc::c_int = libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_EXITKILL;

fn request(req: libc::c_uint, tid: Tid, addr: usize, data: usize) -> Result<libc::c_long, Errno> {
    // SAFETY: ptrace with plain integer arguments; the kernel validates them.
    let ret = unsafe { libc::ptrace(req, tid, addr as *mut libc::c_void, data as *mut libc::c_void) };
    Errno::result(ret)
}

/// What a process below the root is traced with: no exec stops. Only the root's exec is
/// used (the launcher); a capture reads the executable itself, and a changed address space
/// is noticed from the maps. One stop less for every program the tree starts.
pub const DESCENDANT_OPTIONS: libc::c_int = SEIZE_OPTIONS & !libc::PTRACE_O_TRACEEXEC;

/// Sets the ptrace options of a stopped task; tasks it creates later inherit them.
pub fn set_options(tid: Tid, options: libc::c_int) -> Result<(), Errno> {
    request(libc::PTRACE_SETOPTIONS, tid, 0, options as usize).map(drop)
}

pub fn seize(tid: Tid) -> Result<(), Errno> {
    request(libc::PTRACE_SEIZE, tid, 0, SEIZE_OPTIONS as usize).map(drop)
}

/// Resumes a stopped task, delivering `signal` (0 for none). Any signal number works,
/// realtime ones included.
pub fn cont(tid: Tid, signal: i32) -> Result<(), Errno> {
    request(libc::PTRACE_CONT, tid, 0, signal as usize).map(drop)
}

/// Resumes a task in group-stop without ending the group-stop (job control keeps working).
pub fn listen(tid: Tid) -> Result<(), Errno> {
    request(libc::PTRACE_LISTEN, tid, 0, 0).map(drop)
}

pub fn interrupt(tid: Tid) -> Result<(), Errno> {
    request(libc::PTRACE_INTERRUPT, tid, 0, 0).map(drop)
}

/// Lets go of a stopped task, delivering `signal` (0 for none) as it goes.
pub fn detach(tid: Tid, signal: i32) -> Result<(), Errno> {
    request(libc::PTRACE_DETACH, tid, 0, signal as usize).map(drop)
}

/// The message of the last PTRACE_EVENT stop: the new task's id for fork/clone, the former
/// thread id for exec.
pub fn event_message(tid: Tid) -> Result<u64, Errno> {
    let mut msg: libc::c_ulong = 0;
    request(libc::PTRACE_GETEVENTMSG, tid, 0, &mut msg as *mut _ as usize)?;
    Ok(msg)
}

pub fn siginfo(tid: Tid) -> Result<libc::siginfo_t, Errno> {
    // SAFETY: siginfo_t is plain data; the kernel fills it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    request(libc::PTRACE_GETSIGINFO, tid, 0, &mut info as *mut _ as usize)?;
    Ok(info)
}

pub fn registers(tid: Tid) -> Result<libc::user_regs_struct, Errno> {
    // SAFETY: user_regs_struct is plain data; the kernel fills it.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    request(libc::PTRACE_GETREGS, tid, 0, &mut regs as *mut _ as usize)?;
    Ok(regs)
}

/// `waitpid(pid, __WALL | flags)` returning the raw status, retrying on EINTR.
pub fn wait_raw(pid: i32, flags: libc::c_int) -> Result<Option<(Tid, i32)>, Errno> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: status is a valid out-pointer.
        let ret = unsafe { libc::waitpid(pid, &mut status, libc::__WALL | flags) };
        match Errno::result(ret) {
            Ok(0) => return Ok(None),
            Ok(tid) => return Ok(Some((tid, status))),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Waits for one specific task to report, up to `deadline`. Used while capturing, when
/// other threads were interrupted and must be collected before stacks are read.
pub fn wait_task_until(tid: Tid, deadline: Instant) -> Option<i32> {
    let mut pause = Duration::from_micros(20);
    loop {
        match wait_raw(tid, libc::WNOHANG) {
            Ok(Some((_, status))) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// Decoded siginfo fields, valid for the signal that stopped the task.
pub struct SigInfo {
    pub signo: i32,
    pub code: i32,
    pub addr: u64,
    pub pid: i32,
}

pub fn decode_siginfo(info: &libc::siginfo_t) -> SigInfo {
    // SAFETY: the union fields are read per the layout the kernel used; si_addr is only
    // meaningful for faults and si_pid for kill-style signals, and callers pick by code.
    unsafe { SigInfo { signo: info.si_signo, code: info.si_code, addr: info.si_addr() as u64, pid: info.si_pid() } }
}
