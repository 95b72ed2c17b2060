//! Normalized addresses → named frames, with inlined functions expanded, using blazesym on
//! the object files (possibly after the process is gone).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use blazesym::symbolize::source::{Elf, Source};
use blazesym::symbolize::{CodeInfo, Input, Sym, Symbolized, Symbolizer};

use super::elf::{read_build_id, ElfInfo};
use super::fallback_symbols::FallbackSymbols;
use super::NormalizedPc;
use crate::model::Frame;

/// The object name given to addresses in the vDSO, which has no file.
pub const VDSO_OBJECT: &str = "[vdso]";

pub struct FrameSymbolizer {
    symbolizer: Symbolizer,
    /// For objects with a `.debug/` folder beside them (GDB's place for debug-link files,
    /// which blazesym does not search): a symbolizer that looks there first, per folder.
    local_debug: HashMap<PathBuf, Symbolizer>,
    /// MiniDebugInfo and the nearest exported function, for what blazesym could not name.
    fallback: FallbackSymbols,
    /// Build ids of the files on disk now, to refuse symbolizing with a rebuilt file.
    disk_build_ids: HashMap<PathBuf, Option<Vec<u8>>>,
}

impl FrameSymbolizer {
    pub fn new() -> FrameSymbolizer {
        let symbolizer = symbolizer_with_debug_dirs(None);
        FrameSymbolizer {
            symbolizer,
            local_debug: HashMap::new(),
            fallback: FallbackSymbols::default(),
            disk_build_ids: HashMap::new(),
        }
    }

    /// The symbolizer for `object`: one that also searches `<its folder>/.debug/` when
    /// that folder exists.
    fn symbolizer_for(&mut self, object: &Path) -> &Symbolizer {
        let Some(local) = object.parent().map(|dir| dir.join(".debug")).filter(|dir| dir.is_dir()) else {
            return &self.symbolizer;
        };
        self.local_debug.entry(local.clone()).or_insert_with(|| {
            symbolizer_with_debug_dirs(Some(&[local, PathBuf::from("/usr/lib/debug"), PathBuf::from("/lib/debug")]))
        })
    }

    pub fn symbolize(&mut self, pcs: &[NormalizedPc], vdso: Option<&ElfInfo>) -> Vec<Frame> {
        // One blazesym call per object: it resolves a batch against one parsed file.
        let mut by_object: HashMap<&Path, Vec<usize>> = HashMap::new();
        for (i, pc) in pcs.iter().enumerate() {
            if let (Some(object), Some(_)) = (&pc.object, pc.file_offset) {
                by_object.entry(object.as_path()).or_default().push(i);
            }
        }
        let mut resolved: Vec<Option<Vec<Frame>>> = vec![None; pcs.len()];
        for (object, indices) in by_object {
            if object == Path::new(VDSO_OBJECT) {
                for &i in &indices {
                    resolved[i] = vdso.and_then(|v| vdso_frame(&pcs[i], v)).map(|f| vec![f]);
                }
                continue;
            }
            if !self.build_id_matches(object, &indices, pcs) {
                continue;
            }
            let offsets: Vec<u64> = indices.iter().map(|&i| pcs[i].lookup_offset().unwrap_or(0)).collect();
            let source = Source::Elf(Elf::new(object));
            let symbols =
                self.symbolizer_for(object).symbolize(&source, Input::FileOffset(&offsets)).unwrap_or_default();
            for (&i, symbolized) in indices.iter().zip(symbols) {
                if let Symbolized::Sym(sym) = symbolized {
                    resolved[i] = Some(frames_of(&pcs[i], &sym));
                }
            }
            for &i in &indices {
                if resolved[i].is_none() {
                    let name = pcs[i].lookup_offset().and_then(|offset| self.fallback.name(object, offset));
                    resolved[i] =
                        name.map(|n| vec![Frame::native(Some(n.name), module_name(&pcs[i]), pcs[i].pc.address())]);
                }
            }
        }
        pcs.iter()
            .zip(resolved)
            .flat_map(|(pc, frames)| {
                frames.unwrap_or_else(|| vec![Frame::native(None, module_name(pc), pc.pc.address())])
            })
            .collect()
    }

    fn build_id_matches(&mut self, object: &Path, indices: &[usize], pcs: &[NormalizedPc]) -> bool {
        let on_disk = self.disk_build_ids.entry(object.to_path_buf()).or_insert_with(|| read_build_id(object));
        indices.iter().all(|&i| match (&pcs[i].build_id, on_disk.as_ref()) {
            (Some(expected), Some(found)) => expected == found,
            _ => true,
        })
    }
}

/// A symbolizer with file:line, inlined functions and demangling, searching `debug_dirs`
/// for debug-link files (blazesym's defaults when `None`).
fn symbolizer_with_debug_dirs(debug_dirs: Option<&[PathBuf]>) -> Symbolizer {
    let builder = Symbolizer::builder().enable_code_info(true).enable_inlined_fns(true).enable_demangling(true);
    match debug_dirs {
        Some(dirs) => builder.set_debug_dirs(Some(dirs)).build(),
        None => builder.build(),
    }
}

/// Frames for one address, innermost first: inlined functions, then the real function.
fn frames_of(pc: &NormalizedPc, sym: &Sym) -> Vec<Frame> {
    let module = module_name(pc);
    let mut frames = Vec::with_capacity(sym.inlined.len() + 1);
    for inlined in sym.inlined.iter().rev() {
        let mut frame = Frame::native(Some(inlined.name.to_string()), module.clone(), pc.pc.address());
        set_location(&mut frame, inlined.code_info.as_ref());
        frame.inlined = true;
        frames.push(frame);
    }
    let mut outer = Frame::native(Some(sym.name.to_string()), module, pc.pc.address());
    set_location(&mut outer, sym.code_info.as_deref());
    frames.push(outer);
    frames
}

fn set_location(frame: &mut Frame, info: Option<&CodeInfo>) {
    if let Some(info) = info {
        frame.file = Some(info.to_path().to_string_lossy().into_owned());
        frame.line = info.line;
    }
}

fn vdso_frame(pc: &NormalizedPc, vdso: &ElfInfo) -> Option<Frame> {
    // The vDSO's file offsets equal its SVMAs: it is one segment loaded at 0.
    let svma = vdso.svma_of_offset(pc.lookup_offset()?)?;
    let symbol = vdso.symbol_at(svma)?;
    Some(Frame::native(Some(symbol.name.clone()), module_name(pc), pc.pc.address()))
}

pub fn module_name(pc: &NormalizedPc) -> Option<String> {
    let object = pc.object.as_ref()?;
    match object.file_name() {
        Some(name) => Some(name.to_string_lossy().into_owned()),
        None => Some(object.to_string_lossy().into_owned()),
    }
}
