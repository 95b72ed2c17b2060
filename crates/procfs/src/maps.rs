//! `/proc/<pid>/maps`, parsed with procfs into the one [`Mapping`] type every reader of a
//! process uses.

use std::io;

use crate::capture::Mapping;

/// Reads `/proc/<pid>/maps`. A capture reads it once, while the process is held.
pub fn read_maps(pid: i32) -> io::Result<Vec<Mapping>> {
    let maps = procfs::process::Process::new(pid).and_then(|p| p.maps()).map_err(io::Error::other)?;
    Ok(maps.iter().map(mapping_of).collect())
}

/// Parses the text of `/proc/<pid>/maps`; empty when it does not parse.
pub fn parse_maps_text(text: &str) -> Vec<Mapping> {
    use procfs::FromBufRead;
    procfs::process::MemoryMaps::from_buf_read(text.as_bytes())
        .map(|maps| maps.iter().map(mapping_of).collect())
        .unwrap_or_default()
}

/// One mapping, with the path or pseudo name as the kernel prints it (`[heap]`,
/// `/usr/lib/libc.so.6 (deleted)`), `None` for anonymous memory.
fn mapping_of(m: &procfs::process::MemoryMap) -> Mapping {
    use procfs::process::{MMPermissions, MMapPath};
    let path = match &m.pathname {
        MMapPath::Path(path) => Some(path.to_string_lossy().into_owned()),
        MMapPath::Heap => Some("[heap]".to_owned()),
        MMapPath::Stack => Some("[stack]".to_owned()),
        MMapPath::TStack(tid) => Some(format!("[stack:{tid}]")),
        MMapPath::Vdso => Some("[vdso]".to_owned()),
        MMapPath::Vvar => Some("[vvar]".to_owned()),
        MMapPath::Vsyscall => Some("[vsyscall]".to_owned()),
        MMapPath::Rollup => Some("[rollup]".to_owned()),
        MMapPath::Vsys(key) => Some(format!("/SYSV{key:08x}")),
        MMapPath::Other(name) => Some(name.clone()),
        MMapPath::Anonymous => None,
    };
    Mapping {
        start: m.address.0,
        end: m.address.1,
        readable: m.perms.contains(MMPermissions::READ),
        writable: m.perms.contains(MMPermissions::WRITE),
        executable: m.perms.contains(MMPermissions::EXECUTE),
        offset: m.offset,
        dev: m.dev,
        inode: m.inode,
        path,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const MAPS: &str = "\
55d4c3a00000-55d4c3a01000 r--p 00000000 00:2a 1234 /root/.pyenv/versions/3.11.7/bin/python3.11
55d4c3a01000-55d4c3a02000 r-xp 00001000 00:2a 1234 /root/.pyenv/versions/3.11.7/bin/python3.11
55d4c4b00000-55d4c4c00000 rw-p 00000000 00:00 0                          [heap]
7f0a1c000000-7f0a1c021000 rw-p 00000000 00:00 0 
7f0a1d5ff000-7f0a1d600000 ---p 00000000 00:00 0 
7f0a1e028000-7f0a1e04e000 r--p 00000000 08:01 5678                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f0a1e04e000-7f0a1e1a3000 r-xp 00026000 08:01 5678                       /usr/lib/x86_64-linux-gnu/libc.so.6
7f0a1e200000-7f0a1e201000 r--p 00000000 08:01 99                         /tmp/my lib.so (deleted)
7ffc8e5a2000-7ffc8e5c3000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";

    #[test]
    fn parses_maps_text() {
        let maps = parse_maps_text(MAPS);
        assert_eq!(maps.len(), 10);
        assert_eq!(maps[0].start, 0x55d4c3a00000);
        assert_eq!(maps[0].end, 0x55d4c3a01000);
        assert!(maps[1].readable && maps[1].executable && !maps[1].writable);
        assert_eq!((maps[1].offset, maps[1].dev, maps[1].inode), (0x1000, (0, 0x2a), 1234));
        assert_eq!(maps[2].path.as_deref(), Some("[heap]"));
        assert_eq!(maps[3].path, None);
        assert_eq!(maps[4].path, None);
        assert!(maps[4].is_inaccessible());
        assert_eq!((maps[6].offset, maps[6].dev, maps[6].inode), (0x26000, (8, 1), 5678));
        assert_eq!(maps[7].path.as_deref(), Some("/tmp/my lib.so (deleted)"));
        assert_eq!(maps[7].file(), Some(("/tmp/my lib.so", true)));
        assert_eq!(maps[8].path.as_deref(), Some("[stack]"));
        assert_eq!(maps[9].path.as_deref(), Some("[vsyscall]"));
    }

    #[test]
    fn reads_our_own_maps() {
        let maps = read_maps(std::process::id() as i32).expect("own maps");
        let here = reads_our_own_maps as *const () as u64;
        assert!(maps.iter().any(|m| m.contains(here) && m.executable && m.file().is_some()));
    }
}
