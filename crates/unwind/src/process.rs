//! One process's code modules: its executable mappings, each tied to a parsed ELF object
//! and registered with a framehop unwinder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use framehop::x86_64::{CacheX86_64, UnwinderX86_64};
use framehop::{Module, Unwinder};

use super::elf::{ElfInfo, SectionBytes};
use super::files::ElfCache;
use super::maps::Maps;
use crate::capture::Mapping;
use crate::memory::ReadMemory;

pub type NativeUnwinder = UnwinderX86_64<SectionBytes>;

/// Where a module's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRef {
    File(PathBuf),
    Vdso,
}

/// One executable mapping of an ELF object.
pub struct CodeModule {
    pub start: u64,
    pub end: u64,
    /// File offset of `start`.
    pub offset: u64,
    pub object: ObjectRef,
    pub info: Option<Arc<ElfInfo>>,
    /// Where SVMA 0 of the object sits in this process.
    pub base_avma: u64,
}

impl CodeModule {
    pub fn file_offset(&self, address: u64) -> u64 {
        address.wrapping_sub(self.start).wrapping_add(self.offset)
    }
}

pub struct ProcessModules {
    pub maps: Maps,
    /// Sorted by `start`, non-overlapping (they come from distinct mappings).
    pub modules: Vec<CodeModule>,
    pub unwinder: NativeUnwinder,
    /// framehop's unwind rule cache. Its entries are keyed by a global module generation
    /// that wraps at 65,536 module additions; one cache per module table never sees a
    /// wrapped generation.
    pub rules: CacheX86_64,
    /// Return addresses known to be (or not to be) a sigreturn trampoline.
    pub sigreturn: HashMap<u64, bool>,
}

impl ProcessModules {
    pub fn build(pid: i32, maps: Maps, cache: &mut ElfCache, mem: &dyn ReadMemory) -> ProcessModules {
        let mut modules = Vec::new();
        let mut unwinder = NativeUnwinder::new();
        for entry in maps.entries.iter().filter(|m| m.executable) {
            let Some(module) = code_module(pid, entry, cache, mem) else {
                continue;
            };
            if let Some(info) = module.info.as_ref().filter(|i| i.has_unwind_info()) {
                let name = match &module.object {
                    ObjectRef::File(path) => path.to_string_lossy().into_owned(),
                    ObjectRef::Vdso => "[vdso]".to_string(),
                };
                let range = module.start..module.end;
                unwinder.add_module(Module::new(name, range, module.base_avma, info.section_info()));
            }
            modules.push(module);
        }
        ProcessModules { maps, modules, unwinder, rules: CacheX86_64::new(), sigreturn: HashMap::new() }
    }

    pub fn module_at(&self, address: u64) -> Option<&CodeModule> {
        let i = self.modules.partition_point(|m| m.end <= address);
        self.modules.get(i).filter(|m| m.start <= address && address < m.end)
    }
}

fn code_module(pid: i32, entry: &Mapping, cache: &mut ElfCache, mem: &dyn ReadMemory) -> Option<CodeModule> {
    let (object, info) = match entry.file() {
        Some((path, _)) => (ObjectRef::File(PathBuf::from(path)), cache.file(pid, entry)),
        None if entry.is_vdso() => (ObjectRef::Vdso, cache.vdso(entry, mem)),
        None => return None,
    };
    let svma = info.as_ref().and_then(|i| i.svma_of_mapping(entry.offset)).unwrap_or(entry.offset);
    let base_avma = entry.start.wrapping_sub(svma);
    Some(CodeModule { start: entry.start, end: entry.end, offset: entry.offset, object, info, base_avma })
}
