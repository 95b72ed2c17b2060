//! Native stacks: unwinding a stopped thread (framehop over DWARF CFI), turning its
//! program counters into (object, file offset, build id) while the process exists, and
//! naming them later (blazesym, inlined functions expanded).
//!
//! The steps are separate because they run at different times: `load_maps` and `unwind`
//! while the thread is held stopped (fast, addresses only; the maps are the ones the
//! capture read once), `normalize` before the process can go away, `symbolize` after the
//! signal is delivered (slow, DWARF). What each address means
//! (an exact pc, or a return address whose call is the instruction before it) travels with
//! it as a [`CodeAddress`], from the walk to the symbol lookup.

use faultline_model::{capture, model};
use faultline_procfs::memory;

mod elf;
mod error;
mod fallback_symbols;
mod files;
mod maps;
mod process;
mod stack;
mod symbolize;
mod unwind;

use std::collections::HashMap;
use std::path::PathBuf;

use crate::capture::{Mapping, Registers};
use crate::memory::ReadMemory;
use crate::model::Frame;

use files::ElfCache;
use maps::Maps;
use process::{ObjectRef, ProcessModules};
use symbolize::FrameSymbolizer;

/// One program counter of an unwound stack, and what it means (framehop's `FrameAddress`):
/// symbols and lines are looked up at [`CodeAddress::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAddress {
    /// The instruction the thread was at: frame 0, the frame a signal interrupted, and the
    /// signal trampoline a handler returns into.
    Exact(u64),
    /// A return address: the call is the instruction before it.
    Return(u64),
}

impl CodeAddress {
    /// The address itself, as the stack holds it.
    pub fn address(self) -> u64 {
        match self {
            CodeAddress::Exact(address) | CodeAddress::Return(address) => address,
        }
    }

    /// Where to look the frame up: for a return address, inside the call instruction, so
    /// that the line reported is the call's, not the line after it.
    pub fn lookup(self) -> u64 {
        match self {
            CodeAddress::Exact(address) => address,
            CodeAddress::Return(address) => address.saturating_sub(1),
        }
    }
}

/// A program counter tied to the object it is in, so it can be symbolized later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPc {
    pub pc: CodeAddress,
    /// The mapped file (`[vdso]` for the vDSO); `None` outside any mapped object.
    pub object: Option<PathBuf>,
    /// Offset of `pc.address()` in `object`.
    pub file_offset: Option<u64>,
    pub build_id: Option<Vec<u8>>,
}

impl NormalizedPc {
    /// The offset in `object` to look the frame up at (see [`CodeAddress::lookup`]).
    pub fn lookup_offset(&self) -> Option<u64> {
        let offset = self.file_offset?;
        Some(match self.pc {
            CodeAddress::Exact(_) => offset,
            CodeAddress::Return(_) => offset.saturating_sub(1),
        })
    }
}

/// Per-run caches shared by every capture of a run: parsed ELF unwind sections (by file),
/// per-process module tables and unwind rule caches (by pid), and the symbolizer.
pub struct NativeStacks {
    files: ElfCache,
    processes: HashMap<i32, ProcessModules>,
    /// The bulk copy of the stack being walked, kept to reuse its pages.
    stack_buf: Vec<u8>,
    symbolizer: FrameSymbolizer,
}

impl Default for NativeStacks {
    fn default() -> Self {
        NativeStacks::new()
    }
}

impl NativeStacks {
    pub fn new() -> NativeStacks {
        NativeStacks {
            files: ElfCache::default(),
            processes: HashMap::new(),
            stack_buf: Vec::new(),
            symbolizer: FrameSymbolizer::new(),
        }
    }

    /// While the process is held: its memory map as the capture just read it. The module
    /// table is rebuilt only when the code mappings changed; the walks and normalization
    /// of this capture then need no other read of the maps.
    pub fn load_maps(&mut self, pid: i32, maps: Vec<Mapping>, mem: &dyn ReadMemory) {
        let maps = Maps { entries: maps };
        match self.processes.get_mut(&pid) {
            // Only new code needs new modules (and a cold unwind rule cache); heap and stack
            // mappings change all the time.
            Some(p) if p.maps.same_code(&maps) => p.maps = maps,
            _ => {
                let modules = ProcessModules::build(pid, maps, &mut self.files, mem);
                self.processes.insert(pid, modules);
            }
        }
    }

    /// While the thread is stopped: walk its stack, over the maps last loaded for `pid`.
    /// Returns its program counters innermost first, each saying whether it is exact or a
    /// return address: the first is `regs.ip`, and after a signal frame the interrupted pc
    /// is exact again. At most `max_frames`. Never panics; returns what it got so far when
    /// unwinding fails (only `regs.ip` without maps).
    pub fn unwind(&mut self, pid: i32, regs: &Registers, mem: &dyn ReadMemory, max_frames: usize) -> Vec<CodeAddress> {
        match self.processes.get_mut(&pid) {
            Some(process) => unwind::walk(process, regs, mem, &mut self.stack_buf, max_frames),
            None => vec![CodeAddress::Exact(regs.ip)],
        }
    }

    /// While the process still exists: tie the pcs of [`unwind`](Self::unwind) to their
    /// objects.
    pub fn normalize(&self, pid: i32, frames: &[CodeAddress]) -> Vec<NormalizedPc> {
        let process = self.processes.get(&pid);
        frames
            .iter()
            .map(|&pc| {
                let module = process.and_then(|p| p.module_at(pc.lookup()));
                NormalizedPc {
                    pc,
                    object: module.map(|m| match &m.object {
                        ObjectRef::File(path) => path.clone(),
                        ObjectRef::Vdso => PathBuf::from(symbolize::VDSO_OBJECT),
                    }),
                    file_offset: module.map(|m| m.file_offset(pc.address())),
                    build_id: module.and_then(|m| m.info.as_ref()?.build_id.clone()),
                }
            })
            .collect()
    }

    /// Drops what is known about `pid`'s address space (call it after an exec or exit).
    pub fn forget(&mut self, pid: i32) {
        self.processes.remove(&pid);
    }

    /// Whether the address space of `pid` is known (its modules read and cached).
    pub fn knows(&self, pid: i32) -> bool {
        self.processes.contains_key(&pid)
    }

    /// Later, possibly after the process died: name the pcs. For each pc, its inlined
    /// frames (innermost first, `inlined: true`), then the function that contains it.
    pub fn symbolize(&mut self, pcs: &[NormalizedPc]) -> Vec<Frame> {
        let vdso = self.files.last_vdso().cloned();
        self.symbolizer.symbolize(pcs, vdso.as_deref())
    }
}
