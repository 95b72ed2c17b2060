//! Reading a fault address against the memory map: what is there, what is nearby, and how
//! to say it in a few words.

use crate::capture::Mapping;

/// Linux never maps anything below `vm.mmap_min_addr` (64 KiB by default), so an address
/// there is NULL plus a field offset or index, whatever the pointer was meant to be.
pub const NULL_ZONE: u64 = 0x1_0000;

/// The top of x86_64 user space (47-bit addresses).
pub const USER_SPACE_END: u64 = 0x0000_8000_0000_0000;

pub const PAGE: u64 = 4096;

/// The mappings directly below and above an address that none contains.
pub fn neighbours(maps: &[Mapping], address: u64) -> (Option<&Mapping>, Option<&Mapping>) {
    let below = maps.iter().filter(|m| m.end <= address).max_by_key(|m| m.end);
    let above = maps.iter().filter(|m| m.start > address).min_by_key(|m| m.start);
    (below, above)
}

/// `rw-`, `r-x`, `---`.
pub fn perms(m: &Mapping) -> String {
    let flag = |on: bool, c: char| if on { c } else { '-' };
    [flag(m.readable, 'r'), flag(m.writable, 'w'), flag(m.executable, 'x')].iter().collect()
}

/// `[heap]`, `libc.so.6`, `anonymous memory`, each with its permissions.
pub fn describe(m: &Mapping) -> String {
    let what = match m.path.as_deref() {
        Some(p) if p.starts_with('[') => p.to_string(),
        Some(p) if !p.is_empty() => p.rsplit('/').next().unwrap_or(p).to_string(),
        _ => "anonymous memory".to_string(),
    };
    format!("{what} ({})", perms(m))
}

/// `[heap] (rw-) and libc.so.6 (r--)`, or `two mappings of anonymous memory (rw-)`.
pub fn describe_pair(a: &Mapping, b: &Mapping) -> String {
    let (first, second) = (describe(a), describe(b));
    if first == second {
        format!("two mappings of {first}")
    } else {
        format!("{first} and {second}")
    }
}

/// `8 bytes`, `12 KiB`, `1.5 MiB`, `3.2 GiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return crate::units::count(bytes, "byte", "bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

/// The mapping that is a thread's stack guard: an inaccessible mapping directly below a
/// readable, writable one (glibc maps thread stacks that way).
pub fn stack_above_guard<'a>(maps: &'a [Mapping], guard: &Mapping) -> Option<&'a Mapping> {
    if !guard.is_inaccessible() {
        return None;
    }
    maps.iter().find(|m| m.start == guard.end && m.readable && m.writable)
}

/// The main thread's `[stack]` mapping.
pub fn main_stack(maps: &[Mapping]) -> Option<&Mapping> {
    maps.iter().find(|m| m.path.as_deref() == Some("[stack]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(start: u64, end: u64, perms: &str, path: Option<&str>) -> Mapping {
        let b = perms.as_bytes();
        Mapping {
            start,
            end,
            readable: b[0] == b'r',
            writable: b[1] == b'w',
            executable: b[2] == b'x',
            offset: 0,
            dev: (0, 0),
            inode: 0,
            path: path.map(String::from),
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(format_size(1), "1 byte");
        assert_eq!(format_size(8), "8 bytes");
        assert_eq!(format_size(12 * 1024), "12 KiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(8 << 20), "8 MiB");
        assert_eq!(format_size(3_435_973_837), "3.2 GiB");
    }

    #[test]
    fn neighbours_and_descriptions() {
        let maps = vec![
            map(0x1000_0000, 0x1000_1000, "r-x", Some("/usr/bin/python3.11")),
            map(0x2000_0000, 0x2000_4000, "rw-", Some("[heap]")),
            map(0x3000_0000, 0x3000_1000, "---", None),
            map(0x3000_1000, 0x3080_1000, "rw-", None),
        ];
        let (below, above) = neighbours(&maps, 0x2000_8000);
        assert_eq!(below.map(describe).as_deref(), Some("[heap] (rw-)"));
        assert_eq!(above.map(describe).as_deref(), Some("anonymous memory (---)"));
        assert_eq!(describe(&maps[0]), "python3.11 (r-x)");
        assert_eq!(stack_above_guard(&maps, &maps[2]), Some(&maps[3]));
        assert_eq!(stack_above_guard(&maps, &maps[1]), None);
        assert_eq!(main_stack(&maps), None);
    }
}
