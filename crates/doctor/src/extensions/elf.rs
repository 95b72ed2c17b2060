//! What the checks need from one ELF file, read without loading it: DT_NEEDED, RPATH,
//! RUNPATH, symbol version requirements and definitions, and where `.rodata` lies.
//! Reads go through `object::ReadCache`, so only headers and the needed sections are read.

use object::elf;
use object::read::elf::{Dyn, FileHeader, SectionHeader};
use object::read::ReadCache;
use object::Endianness;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// One `.gnu.version_r` entry: versions needed from one library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNeed {
    pub file: String,
    pub versions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElfFacts {
    pub class64: bool,
    pub machine: u16,
    pub needed: Vec<String>,
    /// `DT_SONAME`: the name other objects find this one by once it is loaded.
    pub soname: Option<String>,
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    pub version_needs: Vec<VersionNeed>,
    pub version_defs: Vec<String>,
    /// File offset and size of `.rodata`, when present.
    pub rodata: Option<(u64, u64)>,
    /// File offset and size of the dynamic string table, when present.
    pub dynstr: Option<(u64, u64)>,
}

/// The ELF class and machine from the first bytes, or `None` when not ELF.
pub fn ident(path: &Path) -> Option<(bool, u16)> {
    let file = File::open(path).ok()?;
    let mut buf = [0u8; 20];
    file.read_exact_at(&mut buf, 0).ok()?;
    if &buf[..4] != b"\x7fELF" {
        return None;
    }
    let class64 = buf[4] == 2; // ELFCLASS64
    let machine = if buf[5] == 2 {
        // ELFDATA2MSB
        u16::from_be_bytes([buf[18], buf[19]])
    } else {
        u16::from_le_bytes([buf[18], buf[19]])
    };
    Some((class64, machine))
}

pub fn parse(path: &Path) -> io::Result<ElfFacts> {
    let (class64, _) = ident(path).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an ELF file"))?;
    let cache = ReadCache::new(File::open(path)?);
    let result = if class64 {
        parse_as::<elf::FileHeader64<Endianness>>(&cache)
    } else {
        parse_as::<elf::FileHeader32<Endianness>>(&cache)
    };
    result.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_as<Elf: FileHeader<Endian = Endianness>>(data: &ReadCache<File>) -> object::read::Result<ElfFacts> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let mut facts =
        ElfFacts { class64: header.is_class_64(), machine: header.e_machine(endian).0, ..ElfFacts::default() };
    if let Some((dyns, link)) = sections.dynamic(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        let table = sections.section(link)?;
        facts.dynstr = Some((table.sh_offset(endian).into(), table.sh_size(endian).into()));
        for d in dyns {
            let tag = d.d_tag(endian);
            let value = || d.string(endian, strings).map(text);
            match tag {
                elf::DT_NEEDED => facts.needed.push(value()?),
                elf::DT_SONAME => facts.soname = Some(value()?),
                elf::DT_RPATH => facts.rpath = Some(value()?),
                elf::DT_RUNPATH => facts.runpath = Some(value()?),
                elf::DT_NULL => break,
                _ => {}
            }
        }
    }
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        while let Some((need, mut auxes)) = needs.next()? {
            let mut versions = Vec::new();
            while let Some(aux) = auxes.next()? {
                versions.push(text(aux.name(endian, strings)?));
            }
            facts.version_needs.push(VersionNeed { file: text(need.file(endian, strings)?), versions });
        }
    }
    if let Some((mut defs, link)) = sections.gnu_verdef(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        while let Some((_def, mut auxes)) = defs.next()? {
            // The first aux names the version itself; later ones name its parents.
            if let Some(aux) = auxes.next()? {
                facts.version_defs.push(text(aux.name(endian, strings)?));
            }
        }
    }
    if let Some((_, section)) = sections.section_by_name(endian, b".rodata") {
        if section.sh_type(endian) == elf::SHT_PROGBITS {
            let offset: u64 = section.sh_offset(endian).into();
            let size: u64 = section.sh_size(endian).into();
            facts.rodata = Some((offset, size));
        }
    }
    Ok(facts)
}

/// Whether the file exports `PyInit_<stem>`, the function `import` calls: what tells an
/// extension module named `stem.so` from a plugin or library that merely ends in `.so`.
/// The name is looked for in the dynamic string table, which holds every exported name.
pub fn exports_module_init(path: &Path, facts: &ElfFacts, stem: &str) -> bool {
    let Some(range) = facts.dynstr else {
        return false;
    };
    let needle = format!("\0PyInit_{stem}\0");
    find_in_range(path, range, &[needle.as_bytes()]).is_ok_and(|found| found[0])
}

/// Which of `needles` occur in the byte range, read in chunks (overlapping by the longest
/// needle) so a large `.rodata` is never held whole.
pub fn find_in_range(path: &Path, range: (u64, u64), needles: &[&[u8]]) -> io::Result<Vec<bool>> {
    const CHUNK: usize = 1 << 20;
    let file = File::open(path)?;
    let overlap = needles.iter().map(|n| n.len()).max().unwrap_or(0);
    let mut found = vec![false; needles.len()];
    let (start, size) = range;
    let end = start + size;
    let mut buf = vec![0u8; CHUNK + overlap];
    let mut pos = start;
    while pos < end {
        let want = ((end - pos) as usize).min(CHUNK + overlap);
        let got = file.read_at(&mut buf[..want], pos)?;
        if got == 0 {
            break;
        }
        let window = &buf[..got];
        for (i, needle) in needles.iter().enumerate() {
            if !found[i] && window.windows(needle.len()).any(|w| w == *needle) {
                found[i] = true;
            }
        }
        if found.iter().all(|f| *f) || got < want {
            break;
        }
        pos += (got.saturating_sub(overlap)).max(1) as u64;
    }
    Ok(found)
}
