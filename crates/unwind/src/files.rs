//! Finding and caching the ELF objects that processes map.
//!
//! Forked children map the same libraries, so parsed objects are keyed by the file's
//! identity (path, device, inode), not by process.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::elf::ElfInfo;
use super::error::NativeError;
use crate::capture::Mapping;
use crate::memory::ReadMemory;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileKey {
    path: PathBuf,
    dev: (i32, i32),
    inode: u64,
}

#[derive(Default)]
pub struct ElfCache {
    /// `None` records a file that could not be opened or parsed, so we do not retry it on
    /// every capture.
    files: HashMap<FileKey, Option<Arc<ElfInfo>>>,
    /// The vDSO image is the same for every process of a boot; keep the last one seen.
    vdso: Option<(Vec<u8>, Arc<ElfInfo>)>,
}

impl ElfCache {
    /// The parsed object behind a file mapping of process `pid`.
    pub fn file(&mut self, pid: i32, entry: &Mapping) -> Option<Arc<ElfInfo>> {
        let (path, deleted) = entry.file()?;
        let path = Path::new(path);
        let key = FileKey { path: path.to_path_buf(), dev: entry.dev, inode: entry.inode };
        self.files
            .entry(key)
            .or_insert_with(|| {
                let (file, opened) = open_mapped_file(pid, entry, path, deleted).ok()?;
                ElfInfo::from_file(file, &opened).ok().map(Arc::new)
            })
            .clone()
    }

    /// The vDSO of a process, read from its memory (there is no file).
    pub fn vdso(&mut self, entry: &Mapping, mem: &dyn ReadMemory) -> Option<Arc<ElfInfo>> {
        let len = usize::try_from(entry.end.saturating_sub(entry.start)).ok()?;
        let mut bytes = vec![0u8; len];
        mem.read_exact_at(entry.start, &mut bytes).ok()?;
        if let Some((seen, info)) = &self.vdso {
            if *seen == bytes {
                return Some(info.clone());
            }
        }
        let info = Arc::new(ElfInfo::from_image(&bytes).ok()?);
        self.vdso = Some((bytes, info.clone()));
        Some(info)
    }

    /// The last vDSO image parsed, for symbolizing after the process is gone.
    pub fn last_vdso(&self) -> Option<&Arc<ElfInfo>> {
        self.vdso.as_ref().map(|(_, info)| info)
    }
}

/// Opens the file a mapping shows, preferring a candidate whose device and inode match
/// the mapping: the process may live in another mount namespace (`/proc/<pid>/root`), or
/// the file may have been replaced on disk (`map_files` still reaches the mapped one, but
/// only with CAP_SYS_ADMIN). Without a match (overlay filesystems report other device
/// numbers) the first file that opens is used, unless the mapped file was deleted.
fn open_mapped_file(pid: i32, entry: &Mapping, path: &Path, deleted: bool) -> Result<(File, PathBuf), NativeError> {
    let map_file = PathBuf::from(format!("/proc/{pid}/map_files/{:x}-{:x}", entry.start, entry.end));
    let mut candidates = vec![map_file];
    if !deleted {
        let relative = path.strip_prefix("/").unwrap_or(path);
        candidates.insert(0, Path::new(&format!("/proc/{pid}/root")).join(relative));
        candidates.push(path.to_path_buf());
    }
    let mut fallback = None;
    let mut last_error = None;
    for candidate in candidates {
        match File::open(&candidate) {
            Ok(file) => {
                if same_file(&file, entry) {
                    return Ok((file, candidate));
                }
                if fallback.is_none() && !deleted {
                    fallback = Some((file, candidate));
                }
            }
            Err(e) => last_error = Some(e),
        }
    }
    fallback.ok_or_else(|| {
        let error = last_error.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound));
        NativeError::Open(path.to_path_buf(), error)
    })
}

fn same_file(file: &File, entry: &Mapping) -> bool {
    let Ok(meta) = file.metadata() else {
        return false;
    };
    let dev = meta.dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    meta.ino() == entry.inode && (major as i32, minor as i32) == entry.dev
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_procfs::maps::read_maps;

    #[test]
    fn opens_and_caches_our_own_libc() {
        let pid = std::process::id() as i32;
        let maps = read_maps(pid).expect("maps");
        let libc = maps
            .iter()
            .find(|m| m.executable && m.file().is_some_and(|(path, _)| path.contains("libc.so")))
            .expect("libc mapped");
        let mut cache = ElfCache::default();
        let first = cache.file(pid, libc).expect("libc parsed");
        let second = cache.file(pid, libc).expect("libc cached");
        assert!(Arc::ptr_eq(&first, &second));
        assert!(first.has_unwind_info());
        assert!(first.build_id.is_some());
    }

    #[test]
    fn reads_the_vdso_from_memory() {
        let pid = std::process::id() as i32;
        let maps = read_maps(pid).expect("maps");
        let Some(vdso) = maps.iter().find(|m| m.is_vdso()) else {
            return; // some kernels run without a vDSO
        };
        let mem = crate::memory::ProcessMemory::new(pid);
        let info = ElfCache::default().vdso(vdso, &mem).expect("vdso parsed");
        assert!(info.symbols.iter().any(|s| s.name.contains("gettimeofday")));
    }
}
