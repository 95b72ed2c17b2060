//! Names for the addresses blazesym could not name, because the library has no symbol table
//! (it was stripped), from what a distribution still leaves in it:
//!
//! 1. MiniDebugInfo (`.gnu_debugdata`, as Fedora and RHEL ship): an xz-compressed ELF that
//!    holds a `.symtab` of the functions `.dynsym` lacks. A name found there is exact.
//! 2. Otherwise the nearest exported function (`.dynsym`) below the address, written
//!    `name+0x1a2?`: the `?` says that the address may belong to a static function after it,
//!    so the name is a landmark, never passed off as exact. The offset is the same in every
//!    process, so the signature stays stable.
//!
//! (`.gnu_debuglink` and build-id debug files are blazesym's: beside the library, in
//! `<its folder>/.debug/`, under `/usr/lib/debug`.)

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol};

use super::elf::ElfInfo;

/// Decompressed MiniDebugInfo larger than this is not believed (a section is a few MiB).
const MAX_MINI_DEBUGINFO: u64 = 256 * 1024 * 1024;

#[derive(Default)]
pub struct FallbackSymbols {
    by_object: HashMap<PathBuf, Option<ObjectSymbols>>,
}

struct ObjectSymbols {
    info: ElfInfo,
    /// Functions of the MiniDebugInfo's `.symtab`: (start, size, name).
    mini: Vec<(u64, u64, String)>,
    /// Exported functions, by address: (start, name).
    exported: Vec<(u64, String)>,
}

/// A name for an address, and whether it is exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackName {
    pub name: String,
    pub exact: bool,
}

impl FallbackSymbols {
    /// The name for `file_offset` in `object`, when either source has one.
    pub fn name(&mut self, object: &Path, file_offset: u64) -> Option<FallbackName> {
        let symbols =
            self.by_object.entry(object.to_path_buf()).or_insert_with(|| ObjectSymbols::read(object)).as_ref()?;
        let svma = symbols.info.svma_of_offset(file_offset)?;
        if let Some((_, _, name)) = symbols
            .mini
            .iter()
            .filter(|(start, size, _)| *start <= svma && svma < start + size.max(&1))
            .min_by_key(|s| s.1)
        {
            return Some(FallbackName { name: name.clone(), exact: true });
        }
        let at = symbols.exported.partition_point(|(start, _)| *start <= svma);
        let (start, name) = symbols.exported.get(at.checked_sub(1)?)?;
        Some(FallbackName { name: format!("{name}+{:#x}?", svma - start), exact: false })
    }
}

impl ObjectSymbols {
    fn read(path: &Path) -> Option<ObjectSymbols> {
        // One read of the file serves both parses.
        let cache = object::ReadCache::new(File::open(path).ok()?);
        let info = ElfInfo::parse(&cache, false).ok()?;
        let file = object::File::parse(&cache).ok()?;
        let mini = file
            .section_by_name(".gnu_debugdata")
            .and_then(|section| section.data().ok().and_then(decompress_xz))
            .map(|image| functions_of(&image))
            .unwrap_or_default();
        let mut exported: Vec<(u64, String)> = file
            .dynamic_symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0 && s.is_definition())
            .filter_map(|s| Some((s.address(), demangled(s.name().ok()?))))
            .collect();
        exported.sort();
        Some(ObjectSymbols { info, mini, exported })
    }
}

fn decompress_xz(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut std::io::BufReader::new(data), &mut out).ok()?;
    (out.len() as u64 <= MAX_MINI_DEBUGINFO).then_some(out)
}

/// The functions of an ELF image's symbol table.
fn functions_of(image: &[u8]) -> Vec<(u64, u64, String)> {
    let Ok(file) = object::File::parse(image) else { return Vec::new() };
    file.symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
        .filter_map(|s| Some((s.address(), s.size(), demangled(s.name().ok()?))))
        .collect()
}

/// C++ and Rust names as people read them (as blazesym shows the others); others as they are.
fn demangled(name: &str) -> String {
    if let Ok(rust) = rustc_demangle::try_demangle(name) {
        return format!("{rust:#}");
    }
    if name.starts_with("_Z") {
        if let Ok(symbol) = cpp_demangle::Symbol::new(name.as_bytes()) {
            if let Ok(readable) = symbol.demangle() {
                return readable;
            }
        }
    }
    name.to_owned()
}
