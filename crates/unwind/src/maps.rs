//! The memory map of a process (`/proc/<pid>/maps`), reduced to what unwinding and
//! address normalization need.

use std::path::PathBuf;

use super::error::NativeError;

/// What backs a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// A file; `deleted` when the kernel marks it `(deleted)` (replaced or unlinked).
    File { path: PathBuf, deleted: bool },
    /// The kernel's vDSO: an ELF image that exists only in memory.
    Vdso,
    /// The main thread's stack.
    Stack,
    /// Anything else: heap, anonymous memory (thread stacks), vvar, ...
    Other,
}

/// One line of `/proc/<pid>/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub start: u64,
    pub end: u64,
    pub readable: bool,
    pub executable: bool,
    /// Offset of `start` in the backing file.
    pub offset: u64,
    /// (major, minor) of the backing file's device.
    pub dev: (i32, i32),
    pub inode: u64,
    pub backing: Backing,
}

impl MapEntry {
    pub fn contains(&self, address: u64) -> bool {
        self.start <= address && address < self.end
    }
}

/// The maps of one process, sorted by address (the kernel lists them that way).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maps {
    pub entries: Vec<MapEntry>,
}

/// How far below a stack mapping the stack pointer may be and still belong to it: the
/// kernel keeps a 1 MiB gap under a growing stack, and a stack overflow faults inside it.
const STACK_GAP: u64 = 1 << 20;

impl Maps {
    pub fn read(pid: i32) -> Result<Maps, NativeError> {
        let process = procfs::process::Process::new(pid).map_err(|e| NativeError::Maps(pid, e))?;
        let maps = process.maps().map_err(|e| NativeError::Maps(pid, e))?;
        Ok(Maps { entries: maps.into_iter().map(from_procfs).collect() })
    }

    /// Both list the same executable mappings.
    pub fn same_code(&self, other: &Maps) -> bool {
        let code = |m: &&MapEntry| m.executable;
        self.entries.iter().filter(code).eq(other.entries.iter().filter(code))
    }

    /// The mapping that holds `address`.
    pub fn find(&self, address: u64) -> Option<&MapEntry> {
        let i = self.entries.partition_point(|m| m.end <= address);
        self.entries.get(i).filter(|m| m.contains(address))
    }

    /// An executable mapping that holds `address`: a plausible code address.
    pub fn find_code(&self, address: u64) -> Option<&MapEntry> {
        self.find(address).filter(|m| m.executable)
    }

    /// The stack mapping for a stack pointer: the one holding it, or, after a stack
    /// overflow, the readable mapping just above it.
    pub fn stack_for(&self, sp: u64) -> Option<&MapEntry> {
        if let Some(m) = self.find(sp) {
            return Some(m);
        }
        let i = self.entries.partition_point(|m| m.end <= sp);
        self.entries.get(i).filter(|m| m.readable && m.start > sp && m.start - sp <= STACK_GAP)
    }
}

fn from_procfs(m: procfs::process::MemoryMap) -> MapEntry {
    use procfs::process::{MMPermissions, MMapPath};
    let backing = match m.pathname {
        MMapPath::Path(path) => file_backing(path),
        MMapPath::Vdso => Backing::Vdso,
        MMapPath::Stack => Backing::Stack,
        _ => Backing::Other,
    };
    MapEntry {
        start: m.address.0,
        end: m.address.1,
        readable: m.perms.contains(MMPermissions::READ),
        executable: m.perms.contains(MMPermissions::EXECUTE),
        offset: m.offset,
        dev: m.dev,
        inode: m.inode,
        backing,
    }
}

/// The kernel appends ` (deleted)` to the path of a file that no longer exists there.
fn file_backing(path: PathBuf) -> Backing {
    const DELETED: &str = " (deleted)";
    match path.to_str().and_then(|s| s.strip_suffix(DELETED)) {
        Some(stripped) => Backing::File { path: PathBuf::from(stripped), deleted: true },
        None => Backing::File { path, deleted: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(start: u64, end: u64, executable: bool, backing: Backing) -> MapEntry {
        MapEntry { start, end, readable: true, executable, offset: 0, dev: (0, 0), inode: 0, backing }
    }

    #[test]
    fn finds_mappings_and_the_stack_above_an_overflowed_sp() {
        let maps = Maps {
            entries: vec![
                entry(0x1000, 0x2000, true, Backing::Other),
                entry(0x1000_0000, 0x1100_0000, false, Backing::Stack),
            ],
        };
        assert_eq!(maps.find(0x1800).map(|m| m.start), Some(0x1000));
        assert!(maps.find(0x2000).is_none());
        assert!(maps.find_code(0x1050_0000).is_none());
        assert_eq!(maps.stack_for(0x0fff_fff0).map(|m| m.start), Some(0x1000_0000));
        assert!(maps.stack_for(0x3000).is_none(), "too far below any mapping");
    }

    #[test]
    fn only_executable_mappings_count_as_code_changes() {
        let code = entry(0x1000, 0x2000, true, Backing::Other);
        let a = Maps { entries: vec![code.clone(), entry(0x5000, 0x6000, false, Backing::Stack)] };
        let b = Maps { entries: vec![code.clone(), entry(0x4000, 0x6000, false, Backing::Stack)] };
        let c = Maps { entries: vec![entry(0x1000, 0x3000, true, Backing::Other)] };
        assert!(a.same_code(&b));
        assert!(!a.same_code(&c));
    }

    #[test]
    fn strips_the_deleted_marker() {
        assert_eq!(
            file_backing(PathBuf::from("/tmp/x.so (deleted)")),
            Backing::File { path: PathBuf::from("/tmp/x.so"), deleted: true }
        );
    }

    #[test]
    fn reads_our_own_maps() {
        let maps = Maps::read(std::process::id() as i32).expect("own maps");
        let here = reads_our_own_maps as *const () as u64;
        assert!(maps.find_code(here).is_some());
    }
}

/// Property test (issue 9, A4): maps text of any shape, and lookups at any address, never
/// panic.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(faultline_model::fixtures::config())]

        #[test]
        fn any_maps_text(text in faultline_model::fixtures::strategies::maps_text(), address in any::<u64>()) {
            use procfs::FromBufRead;
            let Ok(parsed) = procfs::process::MemoryMaps::from_buf_read(text.as_bytes()) else { return Ok(()) };
            let maps = super::Maps { entries: parsed.into_iter().map(super::from_procfs).collect() };
            let _ = maps.find(address);
            let _ = maps.find_code(address);
            let _ = maps.stack_for(address);
            let _ = maps.same_code(&maps);
        }
    }
}
