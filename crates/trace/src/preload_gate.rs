//! A library preloaded into Python processes only (`--asan`'s sanitizer runtime).
//!
//! `LD_PRELOAD` is inherited by every program the tree starts, and a sanitizer runtime in
//! `sh`, `git` or a compiler slows them down, prints its own warnings, or breaks them. The
//! dynamic loader reads `LD_PRELOAD` only once, from the new program's environment, after
//! the kernel has finished exec. At the exec stop, before the loader runs, faultline edits
//! that environment in the process's memory: a program that is not Python gets the library's
//! path overwritten with `:` (an empty entry, which the loader skips); a Python one gets
//! the path written back. The entry keeps its length, so a shell in between that passes its
//! environment on unchanged hands the placeholder to the Python it starts, which gets the
//! library again. The library is always the first entry of the value (a sanitizer runtime
//! must come first in the initial library list), so the place to look is known.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const PRELOAD: &[u8] = b"LD_PRELOAD=";

/// Where the loader will read the variable, and what to leave there.
pub struct PreloadGate {
    library: Vec<u8>,
}

/// What the gate did at one exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateAction {
    /// The library stays (or was put back): a Python program.
    Kept,
    /// The library was blanked out: not a Python program.
    Blanked,
    /// The environment had no `LD_PRELOAD` starting with the library or its placeholder:
    /// the program changed the variable itself.
    Absent,
}

impl PreloadGate {
    pub fn new(library: &str) -> PreloadGate {
        PreloadGate { library: library.as_bytes().to_vec() }
    }

    /// Call at the exec stop of `pid`, while it is stopped.
    pub fn apply(&self, pid: i32) -> io::Result<GateAction> {
        let python = super::tasks::read_executable(pid)
            .as_deref()
            .and_then(|exe| exe.rsplit('/').next())
            .is_some_and(faultline_python::is_interpreter_name);
        let (start, end) = environment_area(pid)?;
        let memory = File::options().read(true).write(true).open(format!("/proc/{pid}/mem"))?;
        let mut environment = vec![0u8; end.saturating_sub(start) as usize];
        memory.read_exact_at(&mut environment, start)?;
        let Some(at) = self.library_offset(&environment) else {
            return Ok(GateAction::Absent);
        };
        let wanted = if python { self.library.clone() } else { vec![b':'; self.library.len()] };
        if environment[at..at + wanted.len()] != wanted[..] {
            memory.write_all_at(&wanted, start + at as u64)?;
        }
        Ok(if python { GateAction::Kept } else { GateAction::Blanked })
    }

    /// The offset of the library's path (or its placeholder) in the environment block: the
    /// start of `LD_PRELOAD`'s value, when the value begins with one of them as a whole entry.
    fn library_offset(&self, environment: &[u8]) -> Option<usize> {
        let mut offset = 0;
        for entry in environment.split(|&b| b == 0) {
            if let Some(value) = entry.strip_prefix(PRELOAD) {
                let len = self.library.len();
                let head = value.get(..len)?;
                let whole_entry = matches!(value.get(len), None | Some(b':') | Some(b' '));
                let ours = head == &self.library[..] || head.iter().all(|&b| b == b':');
                return (whole_entry && ours).then_some(offset + PRELOAD.len());
            }
            offset += entry.len() + 1;
        }
        None
    }
}

/// `env_start` and `env_end` of `/proc/PID/stat` (fields 50 and 51): where the kernel put
/// the environment strings of the program just exec'd.
fn environment_area(pid: i32) -> io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_environment_area(&stat).ok_or_else(|| io::Error::other("no env_start/env_end in /proc/PID/stat"))
}

fn parse_environment_area(stat: &str) -> Option<(u64, u64)> {
    // The command name (field 2) may hold spaces and parentheses: count after its last `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 (the state): field N is `fields[N - 3]`.
    let start = fields.get(50 - 3)?.parse().ok()?;
    let end = fields.get(51 - 3)?.parse().ok()?;
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_found_only_as_the_first_whole_entry() {
        let gate = PreloadGate::new("/lib/libasan.so.8");
        let env = b"A=1\0LD_PRELOAD=/lib/libasan.so.8:/opt/x.so\0B=2\0";
        assert_eq!(gate.library_offset(env), Some(4 + PRELOAD.len()));
        let blanked = b"LD_PRELOAD=:::::::::::::::::\0";
        assert_eq!(gate.library_offset(blanked), Some(PRELOAD.len()));
        assert_eq!(gate.library_offset(b"LD_PRELOAD=/opt/x.so:/lib/libasan.so.8\0"), None);
        assert_eq!(gate.library_offset(b"LD_PRELOAD=/lib/libasan.so.88\0"), None);
        assert_eq!(gate.library_offset(b"LD_PRELOAD=/lib\0"), None);
        assert_eq!(gate.library_offset(b"PATH=/bin\0"), None);
    }

    #[test]
    fn the_environment_area_is_read_past_a_strange_command_name() {
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[50 - 3] = "140730000".into();
        fields[51 - 3] = "140730500".into();
        let stat = format!("42 (a) b (c) {}", fields.join(" "));
        assert_eq!(parse_environment_area(&stat), Some((140730000, 140730500)));
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (start, end) = parse_environment_area(&own).expect("own environment");
        assert!(end > start);
    }
}
