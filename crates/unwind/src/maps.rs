//! The memory map of a process as the unwinder looks addresses up in it: the one
//! [`Mapping`] type, sorted by address (the kernel lists them that way).

use crate::capture::Mapping;

/// The maps of one process, sorted by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maps {
    pub entries: Vec<Mapping>,
}

/// How far below a stack mapping the stack pointer may be and still belong to it: the
/// kernel keeps a 1 MiB gap under a growing stack, and a stack overflow faults inside it.
const STACK_GAP: u64 = 1 << 20;

impl Maps {
    /// Both list the same executable mappings.
    pub fn same_code(&self, other: &Maps) -> bool {
        let code = |m: &&Mapping| m.executable;
        self.entries.iter().filter(code).eq(other.entries.iter().filter(code))
    }

    /// The mapping that holds `address`.
    pub fn find(&self, address: u64) -> Option<&Mapping> {
        let i = self.entries.partition_point(|m| m.end <= address);
        self.entries.get(i).filter(|m| m.contains(address))
    }

    /// An executable mapping that holds `address`: a plausible code address.
    pub fn find_code(&self, address: u64) -> Option<&Mapping> {
        self.find(address).filter(|m| m.executable)
    }

    /// The stack mapping for a stack pointer: the one holding it, or, after a stack
    /// overflow, the readable mapping just above it.
    pub fn stack_for(&self, sp: u64) -> Option<&Mapping> {
        if let Some(m) = self.find(sp) {
            return Some(m);
        }
        let i = self.entries.partition_point(|m| m.end <= sp);
        self.entries.get(i).filter(|m| m.readable && m.start > sp && m.start - sp <= STACK_GAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(start: u64, end: u64, executable: bool, path: Option<&str>) -> Mapping {
        Mapping {
            start,
            end,
            readable: true,
            writable: !executable,
            executable,
            offset: 0,
            dev: (0, 0),
            inode: 0,
            path: path.map(str::to_owned),
        }
    }

    #[test]
    fn finds_mappings_and_the_stack_above_an_overflowed_sp() {
        let maps = Maps {
            entries: vec![entry(0x1000, 0x2000, true, None), entry(0x1000_0000, 0x1100_0000, false, Some("[stack]"))],
        };
        assert_eq!(maps.find(0x1800).map(|m| m.start), Some(0x1000));
        assert!(maps.find(0x2000).is_none());
        assert!(maps.find_code(0x1050_0000).is_none());
        assert_eq!(maps.stack_for(0x0fff_fff0).map(|m| m.start), Some(0x1000_0000));
        assert!(maps.stack_for(0x3000).is_none(), "too far below any mapping");
    }

    #[test]
    fn only_executable_mappings_count_as_code_changes() {
        let code = entry(0x1000, 0x2000, true, None);
        let a = Maps { entries: vec![code.clone(), entry(0x5000, 0x6000, false, Some("[stack]"))] };
        let b = Maps { entries: vec![code.clone(), entry(0x4000, 0x6000, false, Some("[stack]"))] };
        let c = Maps { entries: vec![entry(0x1000, 0x3000, true, None)] };
        assert!(a.same_code(&b));
        assert!(!a.same_code(&c));
    }

    #[test]
    fn finds_our_own_code() {
        let maps = Maps { entries: faultline_procfs::maps::read_maps(std::process::id() as i32).expect("own maps") };
        let here = finds_our_own_code as *const () as u64;
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
            let maps = super::Maps { entries: faultline_procfs::maps::parse_maps_text(&text) };
            let _ = maps.find(address);
            let _ = maps.find_code(address);
            let _ = maps.stack_for(address);
            let _ = maps.same_code(&maps);
        }
    }
}
