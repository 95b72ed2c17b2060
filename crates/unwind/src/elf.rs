//! The unwinder's ELF reader: what one object contributes to unwinding, normalization and
//! symbolization: its unwind sections, its load segments (to find where it is based in a
//! process) and its build id (also read alone from the file on disk, to refuse symbolizing
//! with a rebuilt file).
//!
//! Parsed once per file and shared by every process that maps it. The section bytes are
//! copied out of the file, so nothing stays mapped: a file rewritten under us cannot fault.

use std::fs::File;
use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

use framehop::ExplicitModuleSectionInfo;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, ReadRef};

use super::error::NativeError;

/// Section bytes shared between the per-file cache and every framehop module built from it.
#[derive(Clone, Default)]
pub struct SectionBytes(Arc<[u8]>);

impl Deref for SectionBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// The page size segments are mapped with (x86_64).
const PAGE: u64 = 4096;

/// A `PT_LOAD` segment: file bytes at `offset` are mapped at `vaddr` (an SVMA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LoadSegment {
    offset: u64,
    vaddr: u64,
    file_size: u64,
}

/// A section: its address as stated in the file, and its bytes when we keep them.
#[derive(Clone)]
struct Section {
    svma: Range<u64>,
    data: SectionBytes,
}

/// A symbol of an in-memory image (the vDSO), which has no file to symbolize from later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSymbol {
    pub svma: u64,
    pub size: u64,
    pub name: String,
}

pub struct ElfInfo {
    pub build_id: Option<Vec<u8>>,
    loads: Vec<LoadSegment>,
    text_svma: Option<Range<u64>>,
    got_svma: Option<Range<u64>>,
    eh_frame: Option<Section>,
    eh_frame_hdr: Option<Section>,
    debug_frame: Option<SectionBytes>,
    /// Only filled for in-memory images.
    pub symbols: Vec<ImageSymbol>,
}

impl ElfInfo {
    /// Reads the object through a small read cache: only headers and unwind sections are
    /// read from disk, not the (possibly huge) debug info.
    pub fn from_file(file: File, path: &Path) -> Result<ElfInfo, NativeError> {
        let cache = object::ReadCache::new(file);
        ElfInfo::parse(&cache, false).map_err(|e| NativeError::Parse(path.to_path_buf(), e))
    }

    /// An image that exists only in memory (the vDSO), with its symbols.
    pub fn from_image(bytes: &[u8]) -> Result<ElfInfo, object::Error> {
        ElfInfo::parse(bytes, true)
    }

    pub(crate) fn parse<'data, R: ReadRef<'data>>(data: R, keep_symbols: bool) -> Result<ElfInfo, object::Error> {
        let file = object::File::parse(data)?;
        let build_id = build_id_of(&file);
        let loads = file
            .segments()
            .filter_map(|s| {
                let (offset, file_size) = s.file_range();
                Some(LoadSegment { offset, vaddr: s.address(), file_size }).filter(|_| file_size > 0)
            })
            .collect();
        let svma = |name: &str| file.section_by_name(name).map(|s| s.address()..s.address().saturating_add(s.size()));
        let section = |name: &str| {
            let s = file.section_by_name(name)?;
            let bytes = s.uncompressed_data().ok()?;
            let svma = s.address()..s.address().saturating_add(bytes.len() as u64);
            Some(Section { svma, data: SectionBytes(Arc::from(&*bytes)) })
        };
        let eh_frame = section(".eh_frame");
        // .debug_frame is only a fallback for objects without .eh_frame; it can be large.
        let debug_frame = match eh_frame {
            Some(_) => None,
            None => section(".debug_frame").map(|s| s.data),
        };
        let symbols = if keep_symbols { image_symbols(&file) } else { Vec::new() };
        Ok(ElfInfo {
            build_id,
            loads,
            text_svma: svma(".text"),
            got_svma: svma(".got"),
            eh_frame,
            eh_frame_hdr: section(".eh_frame_hdr"),
            debug_frame,
            symbols,
        })
    }

    /// The SVMA that a file offset is loaded at, to find the object's base in a process.
    pub fn svma_of_offset(&self, offset: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|l| l.offset <= offset && offset < l.offset.saturating_add(l.file_size))
            .map(|l| l.vaddr.wrapping_add(offset - l.offset))
    }

    /// The SVMA that a mapping starting at file `offset` (page-aligned, as the kernel maps)
    /// begins at. A page can hold the end of one segment and the start of the next (a
    /// read-only segment ending at 0x173d4, the code segment starting there): the mapping is
    /// for the later one, whose page-aligned start is the mapping's offset.
    pub fn svma_of_mapping(&self, offset: u64) -> Option<u64> {
        self.loads
            .iter()
            .filter(|l| l.offset & !(PAGE - 1) <= offset && offset < l.offset.saturating_add(l.file_size))
            .max_by_key(|l| l.offset)
            .map(|l| l.vaddr.wrapping_add(offset).wrapping_sub(l.offset))
    }

    pub fn has_unwind_info(&self) -> bool {
        self.eh_frame.is_some() || self.debug_frame.is_some()
    }

    /// The sections framehop wants, sharing our bytes. ELF objects state SVMAs relative to 0.
    pub fn section_info(&self) -> ExplicitModuleSectionInfo<SectionBytes> {
        ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: self.text_svma.clone(),
            got_svma: self.got_svma.clone(),
            eh_frame_svma: self.eh_frame.as_ref().map(|s| s.svma.clone()),
            eh_frame: self.eh_frame.as_ref().map(|s| s.data.clone()),
            eh_frame_hdr_svma: self.eh_frame_hdr.as_ref().map(|s| s.svma.clone()),
            eh_frame_hdr: self.eh_frame_hdr.as_ref().map(|s| s.data.clone()),
            debug_frame: self.debug_frame.clone(),
            ..Default::default()
        }
    }

    /// The image symbol that covers `svma`, if any.
    pub fn symbol_at(&self, svma: u64) -> Option<&ImageSymbol> {
        self.symbols
            .iter()
            .filter(|s| s.svma <= svma && svma < s.svma.saturating_add(s.size.max(1)))
            .min_by_key(|s| s.size)
    }
}

/// The build id of the object file at `path` as it is on disk now.
pub fn read_build_id(path: &Path) -> Option<Vec<u8>> {
    let cache = object::ReadCache::new(File::open(path).ok()?);
    build_id_of(&object::File::parse(&cache).ok()?)
}

fn build_id_of<'data, R: ReadRef<'data>>(file: &object::File<'data, R>) -> Option<Vec<u8>> {
    file.build_id().ok().flatten().map(<[u8]>::to_vec)
}

fn image_symbols<'data, R: ReadRef<'data>>(file: &object::File<'data, R>) -> Vec<ImageSymbol> {
    file.dynamic_symbols()
        .chain(file.symbols())
        .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
        .filter_map(|s| {
            let name = s.name().ok()?.to_string();
            Some(ImageSymbol { svma: s.address(), size: s.size(), name })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_whose_first_page_ends_the_previous_segment_belongs_to_the_next() {
        // As lld lays out a Rust cdylib: R at 0..0x173d4, R E at 0x173d4 (vaddr 0x183d4).
        let info = ElfInfo {
            build_id: None,
            loads: vec![
                LoadSegment { offset: 0, vaddr: 0, file_size: 0x173d4 },
                LoadSegment { offset: 0x173d4, vaddr: 0x183d4, file_size: 0x430bc },
                LoadSegment { offset: 0x5a490, vaddr: 0x5c490, file_size: 0x3218 },
            ],
            text_svma: None,
            got_svma: None,
            eh_frame: None,
            eh_frame_hdr: None,
            debug_frame: None,
            symbols: Vec::new(),
        };
        // The code mapping starts at file offset 0x17000: SVMA 0x18000, not 0x17000.
        assert_eq!(info.svma_of_mapping(0x17000), Some(0x18000));
        assert_eq!(info.svma_of_mapping(0), Some(0));
        assert_eq!(info.svma_of_mapping(0x5a000), Some(0x5c000));
        // A code address's own offset is inside one segment only.
        assert_eq!(info.svma_of_offset(0x18faa), Some(0x19faa));
    }

    #[test]
    fn parses_our_own_executable() {
        let exe = std::env::current_exe().expect("current exe");
        let file = File::open(&exe).expect("open exe");
        let info = ElfInfo::from_file(file, &exe).expect("parse exe");
        assert!(info.has_unwind_info());
        assert!(info.eh_frame_hdr.is_some());
        // The first load segment starts at offset 0.
        assert!(info.svma_of_offset(0).is_some());
        assert_eq!(info.svma_of_mapping(0), info.svma_of_offset(0));
        assert!(info.build_id.is_some());
        assert_eq!(read_build_id(&exe), info.build_id);
    }
}
