//! Reading C globals (`__environ`, `__abort_msg`) out of a live, stopped process.
//!
//! An address comes from the ELF symbol tables of the mapped file plus the load bias seen in
//! `/proc/<pid>/maps`; the value behind it is read through `ReadMemory`. Nothing here attaches
//! to or stops the process: the caller already holds it stopped.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use object::read::StringTable;
use object::{Endianness, ReadCache, SectionIndex};

use crate::capture::Mapping;
use crate::memory::ReadMemory;

/// At most this many `environ` entries are read (a corrupt array must not loop for long).
const MAX_ENV_ENTRIES: u64 = 10_000;
/// At most this many bytes of one environment string.
const MAX_ENV_STRING: usize = 32 * 1024;
/// At most this many bytes of the abort message.
const MAX_ABORT_MESSAGE: usize = 64 * 1024;
const PAGE_SIZE: u64 = 4096;

/// The C library's file name, by basename prefix: glibc, then musl.
const LIBC_PREFIXES: &[&str] = &["libc.so", "libc.musl", "ld-musl"];

/// A mapped file's path without the ` (deleted)` marker the kernel appends.
fn file_path(mapping: &Mapping) -> Option<&str> {
    mapping.file().map(|(path, _)| path)
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

// ---------------------------------------------------------------------------------------
// ELF symbols

/// Where one loaded ELF file sits in the process.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LoadedModule {
    /// The path as the maps show it (inside the process's mount namespace).
    path: String,
    /// Lowest mapped address of the file: where its first `PT_LOAD` went.
    lowest_start: u64,
    /// The mapping at `lowest_start`, for `/proc/<pid>/map_files`.
    lowest_end: u64,
}

/// The loaded module whose file matches `wanted`, as found in `maps`.
fn loaded_module(maps: &[Mapping], wanted: impl Fn(&str) -> bool) -> Option<LoadedModule> {
    let path = maps.iter().filter_map(file_path).find(|p| wanted(p))?;
    let first = maps.iter().filter(|m| file_path(m) == Some(path)).min_by_key(|m| m.start)?;
    Some(LoadedModule { path: path.to_string(), lowest_start: first.start, lowest_end: first.end })
}

/// Opens the module's file as the process sees it: through its root (containers, chroots),
/// then through `map_files` (deleted or replaced files), then by plain path.
fn open_module_file(pid: i32, module: &LoadedModule) -> Option<File> {
    let candidates = [
        PathBuf::from(format!("/proc/{pid}/root{}", module.path)),
        PathBuf::from(format!("/proc/{pid}/map_files/{:x}-{:x}", module.lowest_start, module.lowest_end)),
        PathBuf::from(&module.path),
    ];
    candidates.iter().find_map(|p| File::open(p).ok())
}

/// Which symbol tables to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tables {
    /// `.dynsym` only: what the file exports; small even in huge binaries.
    Dynamic,
    /// `.dynsym`, then `.symtab` (static and hidden symbols, when not stripped).
    All,
}

impl Tables {
    fn section_types(self) -> &'static [elf::SectionType] {
        match self {
            Tables::Dynamic => &[elf::SHT_DYNSYM],
            Tables::All => &[elf::SHT_DYNSYM, elf::SHT_SYMTAB],
        }
    }
}

/// The link-time value (`st_value`) of the first defined symbol called `symbol` in `tables`,
/// and the lowest `PT_LOAD` address rounded down to a page.
fn symbol_in_file(file: File, symbol: &str, tables: Tables) -> Option<(u64, u64)> {
    // ReadCache reads only the headers and the symbol and string tables, not the whole file.
    let cache = ReadCache::new(file);
    match object::FileKind::parse(&cache).ok()? {
        object::FileKind::Elf64 => symbol_in_elf::<elf::FileHeader64<Endianness>>(&cache, symbol, tables),
        object::FileKind::Elf32 => symbol_in_elf::<elf::FileHeader32<Endianness>>(&cache, symbol, tables),
        _ => None,
    }
}

fn symbol_in_elf<Elf: FileHeader<Endian = Endianness>>(
    data: &ReadCache<File>,
    symbol: &str,
    tables: Tables,
) -> Option<(u64, u64)> {
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let lowest_vaddr = header
        .program_headers(endian, data)
        .ok()?
        .iter()
        .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
        .map(|ph| ph.p_vaddr(endian).into())
        .min()
        .unwrap_or(0);
    let sections = header.sections(endian, data).ok()?;
    let value = tables.section_types().iter().find_map(|&kind| {
        sections.iter().filter(|s| s.sh_type(endian) == kind).find_map(|table| {
            // Each table and its string table are read once, then searched in memory
            // (ReadCache would otherwise issue one read per symbol name).
            let symbols: &[Elf::Sym] = table.data_as_array(endian, data).ok()?;
            let strings =
                sections.section(SectionIndex(table.sh_link(endian) as usize)).ok()?.data(endian, data).ok()?;
            let strings = StringTable::new(strings, 0, strings.len() as u64);
            symbols
                .iter()
                .find(|s| !s.is_undefined(endian) && s.name(endian, strings).ok() == Some(symbol.as_bytes()))
                .map(|s| s.st_value(endian).into())
        })
    })?;
    Some((value, lowest_vaddr & !(PAGE_SIZE - 1)))
}

fn find_global_where(
    pid: i32,
    maps: &[Mapping],
    wanted: impl Fn(&str) -> bool,
    symbol: &str,
    tables: Tables,
) -> Option<u64> {
    let module = loaded_module(maps, wanted)?;
    let file = open_module_file(pid, &module)?;
    let (value, lowest_vaddr) = symbol_in_file(file, symbol, tables)?;
    // Load bias: where the first PT_LOAD landed minus where it was linked.
    let bias = module.lowest_start.checked_sub(lowest_vaddr)?;
    value.checked_add(bias)
}

/// Address of a global symbol of a loaded ELF module in a live process (module chosen by
/// basename prefix, e.g. `"libc.so"`), from `.dynsym`/`.symtab` plus the load bias from the maps.
pub fn find_global(pid: i32, maps: &[Mapping], module_prefix: &str, symbol: &str) -> Option<u64> {
    find_global_where(pid, maps, |p| basename(p).starts_with(module_prefix), symbol, Tables::All)
}

/// Address of a symbol the process's executable exports (`.dynsym` only, so that a huge
/// unstripped binary costs little): tells, for example, whether it embeds an interpreter.
pub fn find_executable_export(pid: i32, maps: &[Mapping], symbol: &str) -> Option<u64> {
    let exe = executable_path(pid, maps)?;
    find_global_where(pid, maps, |p| p == exe, symbol, Tables::Dynamic)
}

/// The executable's path as the maps show it.
fn executable_path(pid: i32, maps: &[Mapping]) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let exe = exe.to_string_lossy();
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe).to_string();
    // The exe link names the file in our namespace; fall back to the first mapped file.
    if maps.iter().any(|m| file_path(m) == Some(exe.as_str())) {
        Some(exe)
    } else {
        maps.iter().find_map(file_path).map(str::to_string)
    }
}

/// Finds a C library global the way the dynamic linker binds it: the executable comes first
/// in the lookup scope, so a copy-relocated `environ` in the executable (always exported in
/// its `.dynsym`) is the live variable; otherwise the C library's own. A static executable
/// carries libc inside: its `.symtab` is searched last, as it can be large.
fn find_libc_global(pid: i32, maps: &[Mapping], names: &[&str]) -> Option<u64> {
    let exe = executable_path(pid, maps);
    let in_executable = |tables: Tables| {
        let exe = exe.as_deref()?;
        names.iter().find_map(|name| find_global_where(pid, maps, |p| p == exe, name, tables))
    };
    in_executable(Tables::Dynamic)
        .or_else(|| {
            LIBC_PREFIXES.iter().find_map(|prefix| names.iter().find_map(|name| find_global(pid, maps, prefix, name)))
        })
        .or_else(|| in_executable(Tables::All))
}

// ---------------------------------------------------------------------------------------
// The live environment

/// The live value of environment variables (not `/proc/<pid>/environ`, which is the
/// environment at exec): follows libc's `__environ` (`char**`) and reads the strings.
/// Variables not set, or memory that cannot be read, are simply absent from the result.
pub fn read_live_env(pid: i32, mem: &dyn ReadMemory, maps: &[Mapping], names: &[&str]) -> HashMap<String, String> {
    match find_libc_global(pid, maps, &["__environ", "environ"]) {
        Some(environ) => env_from_environ(mem, environ, names),
        None => HashMap::new(),
    }
}

/// Reads the variables `names` from the `char**` stored at `environ_address`.
/// The first entry of a name wins, as with `getenv`.
pub fn env_from_environ(mem: &dyn ReadMemory, environ_address: u64, names: &[&str]) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let Ok(array) = mem.read_u64(environ_address) else {
        return found;
    };
    if array == 0 || names.is_empty() {
        return found;
    }
    // Reading just `NAME=` of each entry first avoids copying long unrelated values.
    let prefix_len = names.iter().map(|n| n.len()).max().unwrap_or(0) + 1;
    for index in 0..MAX_ENV_ENTRIES {
        let Some(slot) = array.checked_add(index * 8) else {
            break;
        };
        let Ok(entry) = mem.read_u64(slot) else { break };
        if entry == 0 {
            break;
        }
        let Ok(head) = mem.read_c_string(entry, prefix_len) else {
            continue;
        };
        let Some(name) =
            names.iter().find(|n| head.len() > n.len() && head.starts_with(*n) && head.as_bytes()[n.len()] == b'=')
        else {
            continue;
        };
        if found.contains_key(*name) {
            continue;
        }
        if let Ok(full) = mem.read_c_string(entry, MAX_ENV_STRING) {
            if let Some((_, value)) = full.split_once('=') {
                found.insert(name.to_string(), value.to_string());
            }
        }
        if found.len() == names.len() {
            break;
        }
    }
    found
}

// ---------------------------------------------------------------------------------------
// glibc's abort message

/// glibc's last abort message (`__abort_msg`, e.g. `free(): double free detected in tcache 2`
/// or `prog: f.c:8: mean: Assertion `count > 0' failed.`), trailing newline trimmed.
/// `None` when libc never set one or it cannot be read.
pub fn read_abort_message(pid: i32, mem: &dyn ReadMemory, maps: &[Mapping]) -> Option<String> {
    let address = find_libc_global(pid, maps, &["__abort_msg"])?;
    abort_message_at(mem, address)
}

/// Reads `struct abort_msg_s { unsigned int size; char msg[]; } *` stored at `address`.
pub fn abort_message_at(mem: &dyn ReadMemory, address: u64) -> Option<String> {
    let message = mem.read_u64(address).ok()?;
    if message == 0 {
        return None;
    }
    // `size` is the whole mmap'd block; it bounds the string when it looks sane.
    let size = mem.read_u32(message).ok()? as usize;
    let max = if (5..=MAX_ABORT_MESSAGE).contains(&size) { size - 4 } else { MAX_ABORT_MESSAGE };
    let text = mem.read_c_string(message.checked_add(4)?, max).ok()?;
    let text = text.trim_end_matches(['\n', '\r']);
    (!text.is_empty()).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::BufferMemory;

    use crate::maps::parse_maps_text;
    use crate::maps::tests::MAPS;

    #[test]
    fn finds_the_loaded_module_by_basename() {
        let maps = parse_maps_text(MAPS);
        let libc = loaded_module(&maps, |p| basename(p).starts_with("libc.so")).unwrap();
        assert_eq!(libc.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!(libc.lowest_start, 0x7f0a1e028000);
        let deleted = loaded_module(&maps, |p| basename(p).starts_with("my lib")).unwrap();
        assert_eq!(deleted.path, "/tmp/my lib.so");
        assert!(loaded_module(&maps, |p| basename(p).starts_with("libstack")).is_none());
    }

    /// Builds a fake address space: `environ` at 0x1000 pointing to an array at 0x1100.
    fn fake_environ(entries: &[&str]) -> BufferMemory {
        let base = 0x1000u64;
        let mut bytes = vec![0u8; 0x4000];
        let array = 0x1100u64;
        bytes[0..8].copy_from_slice(&array.to_le_bytes());
        let mut string_at = 0x2000u64;
        for (i, entry) in entries.iter().enumerate() {
            let slot = (array - base) as usize + i * 8;
            bytes[slot..slot + 8].copy_from_slice(&string_at.to_le_bytes());
            let s = (string_at - base) as usize;
            bytes[s..s + entry.len()].copy_from_slice(entry.as_bytes());
            string_at += entry.len() as u64 + 1;
        }
        BufferMemory { base, bytes }
    }

    #[test]
    fn reads_wanted_variables_from_an_environ_array() {
        let mem = fake_environ(&[
            "PATH=/usr/bin",
            "PYTEST_CURRENT_TEST_X=no",
            "PYTEST_CURRENT_TEST=tests/t.py::test_x (call)",
            "PYTEST_VERSION=8.0.0",
            "PYTEST_CURRENT_TEST=second wins not",
        ]);
        let env = env_from_environ(&mem, 0x1000, &["PYTEST_CURRENT_TEST", "PYTEST_VERSION", "HOME"]);
        assert_eq!(env.get("PYTEST_CURRENT_TEST").unwrap(), "tests/t.py::test_x (call)");
        assert_eq!(env.get("PYTEST_VERSION").unwrap(), "8.0.0");
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn environ_garbage_gives_nothing_and_no_panic() {
        let mem = BufferMemory { base: 0x1000, bytes: vec![0xff; 64] };
        assert!(env_from_environ(&mem, 0x1000, &["A"]).is_empty());
        assert!(env_from_environ(&mem, 0x9000, &["A"]).is_empty());
        let null = BufferMemory { base: 0x1000, bytes: vec![0; 64] };
        assert!(env_from_environ(&null, 0x1000, &["A"]).is_empty());
    }

    #[test]
    fn reads_an_abort_message_struct() {
        let text = b"free(): double free detected in tcache 2\n\0";
        let mut bytes = vec![0u8; 0x1000];
        bytes[0..8].copy_from_slice(&0x1100u64.to_le_bytes());
        bytes[0x100..0x104].copy_from_slice(&4096u32.to_le_bytes());
        bytes[0x104..0x104 + text.len()].copy_from_slice(text);
        let mem = BufferMemory { base: 0x1000, bytes };
        assert_eq!(abort_message_at(&mem, 0x1000).as_deref(), Some("free(): double free detected in tcache 2"));
        let null = BufferMemory { base: 0x1000, bytes: vec![0; 16] };
        assert_eq!(abort_message_at(&null, 0x1000), None);
        let wild = BufferMemory { base: 0x1000, bytes: vec![0x41; 16] };
        assert_eq!(abort_message_at(&wild, 0x1000), None);
    }

    #[cfg(target_os = "linux")]
    mod live {
        use super::super::*;
        use crate::memory::ProcessMemory;
        use nix::sys::signal::{kill, Signal};
        use nix::sys::wait::{waitpid, WaitStatus};
        use nix::unistd::Pid;
        use std::os::unix::process::CommandExt;
        use std::path::Path;
        use std::process::{Child, Command};
        use std::time::{Duration, Instant};

        fn compile(dir: &Path, name: &str, source: &str) -> PathBuf {
            compile_with(dir, name, source, &[])
        }

        fn compile_with(dir: &Path, name: &str, source: &str, flags: &[&str]) -> PathBuf {
            let src = dir.join(format!("{name}.c"));
            std::fs::write(&src, source).unwrap();
            let exe = dir.join(name);
            let status = Command::new("cc").arg("-O0").args(flags).arg("-o").arg(&exe).arg(&src).status().unwrap();
            assert!(status.success(), "cc failed for {name}");
            exe
        }

        /// Waits until the process is in group-stop (state `T`), polling /proc.
        fn wait_stopped(pid: i32) {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
                let state = stat.rsplit_once(") ").map(|(_, rest)| rest.as_bytes()[0]);
                if state == Some(b'T') {
                    return;
                }
                assert!(Instant::now() < deadline, "process {pid} never stopped");
                std::thread::sleep(Duration::from_millis(5));
            }
        }

        fn kill_and_reap(child: &mut Child) {
            let _ = child.kill();
            let _ = child.wait();
        }

        const SETENV_C: &str = r#"
#include <stdlib.h>
#include <signal.h>
int main(void) {
    setenv("PYTEST_CURRENT_TEST", "tests/t.py::test_x (call)", 1);
    setenv("PYTEST_VERSION", "8.3.0", 1);
    raise(SIGSTOP);
    return 0;
}
"#;

        // Touching `environ` directly makes the linker copy-relocate it into the executable.
        const SETENV_COPYRELOC_C: &str = r#"
#include <stdlib.h>
#include <signal.h>
extern char **environ;
char **volatile seen;
int main(void) {
    setenv("PYTEST_CURRENT_TEST", "tests/t.py::test_y (setup)", 1);
    seen = environ;
    raise(SIGSTOP);
    return 0;
}
"#;

        fn check_live_env(exe: &Path, expected: &str) {
            let mut child = Command::new(exe)
                .env_remove("PYTEST_CURRENT_TEST")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let pid = child.id() as i32;
            wait_stopped(pid);
            let maps = crate::maps::read_maps(pid).unwrap();
            let mem = ProcessMemory::new(pid);
            let started = Instant::now();
            let env = read_live_env(pid, &mem, &maps, &["PYTEST_CURRENT_TEST", "PYTEST_VERSION", "NOPE"]);
            eprintln!("read_live_env took {:?}", started.elapsed());
            let at_exec = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
            kill_and_reap(&mut child);
            assert_eq!(env.get("PYTEST_CURRENT_TEST").map(String::as_str), Some(expected));
            assert!(!env.contains_key("NOPE"));
            let at_exec = String::from_utf8_lossy(&at_exec);
            assert!(!at_exec.contains("PYTEST_CURRENT_TEST="), "/proc environ is the exec-time one");
        }

        #[test]
        fn reads_the_live_environment_of_a_stopped_process() {
            let dir = tempfile::tempdir().unwrap();
            let exe = compile(dir.path(), "setenv", SETENV_C);
            check_live_env(&exe, "tests/t.py::test_x (call)");
            let exe = compile(dir.path(), "setenv_copyreloc", SETENV_COPYRELOC_C);
            check_live_env(&exe, "tests/t.py::test_y (setup)");
        }

        /// A static executable carries libc (and `__environ`, `__abort_msg`) in its `.symtab`.
        #[test]
        fn reads_globals_of_a_static_executable() {
            if !Path::new("/usr/lib/x86_64-linux-gnu/libc.a").exists() {
                eprintln!("no static libc here; skipped");
                return;
            }
            let dir = tempfile::tempdir().unwrap();
            let exe = compile_with(dir.path(), "setenv_static", SETENV_C, &["-static"]);
            check_live_env(&exe, "tests/t.py::test_x (call)");
            let exe = compile_with(dir.path(), "double_free_static", DOUBLE_FREE_C, &["-static"]);
            assert_eq!(abort_message_of(&exe).as_deref(), Some("free(): double free detected in tcache 2"));
        }

        #[test]
        fn finds_libc_globals_in_our_own_process() {
            let pid = std::process::id() as i32;
            let maps = crate::maps::read_maps(pid).unwrap();
            let environ = find_global(pid, &maps, "libc.so", "__environ").unwrap();
            // libc's .bss is anonymous memory right after its file mappings.
            let libc_start = maps
                .iter()
                .filter(|m| m.path.as_deref().is_some_and(|p| p.contains("/libc.so")))
                .map(|m| m.start)
                .min()
                .unwrap();
            // Only the address arithmetic is checked here: other test threads map and unmap
            // memory meanwhile, so our own maps are a moving target (the live-child tests
            // read real values).
            assert!(environ > libc_start && environ < libc_start + (64 << 20));
            assert!(find_global(pid, &maps, "libc.so", "no_such_symbol_here").is_none());
            assert!(find_global(pid, &maps, "libnothing.so", "__environ").is_none());
        }

        const DOUBLE_FREE_C: &str =
            "#include <stdlib.h>\nint main(void){ char * volatile p = malloc(32); free(p); free(p); return 0; }\n";

        /// Runs `exe` traced (PTRACE_TRACEME), continues past the exec stop, and returns the
        /// abort message read at the SIGABRT signal-delivery-stop.
        fn abort_message_of(exe: &Path) -> Option<String> {
            let mut command = Command::new(exe);
            command.stderr(std::process::Stdio::null());
            // SAFETY: traceme is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                command.pre_exec(|| nix::sys::ptrace::traceme().map_err(std::io::Error::from));
            }
            let mut child = command.spawn().unwrap();
            let pid = Pid::from_raw(child.id() as i32);
            let mut message = None;
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                match waitpid(pid, None).unwrap() {
                    WaitStatus::Stopped(_, Signal::SIGABRT) => {
                        let maps = crate::maps::read_maps(pid.as_raw()).unwrap();
                        let mem = ProcessMemory::new(pid.as_raw());
                        message = read_abort_message(pid.as_raw(), &mem, &maps);
                        break;
                    }
                    WaitStatus::Stopped(_, Signal::SIGTRAP) => {
                        nix::sys::ptrace::cont(pid, None).unwrap();
                    }
                    WaitStatus::Stopped(_, signal) => {
                        nix::sys::ptrace::cont(pid, signal).unwrap();
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            let _ = kill(pid, Signal::SIGKILL);
            let _ = child.wait();
            message
        }

        #[test]
        fn reads_glibc_abort_messages() {
            let dir = tempfile::tempdir().unwrap();
            let double_free = compile(dir.path(), "double_free", DOUBLE_FREE_C);
            assert_eq!(abort_message_of(&double_free).as_deref(), Some("free(): double free detected in tcache 2"));
            let failed_assert = compile(
                dir.path(),
                "assert",
                "#include <assert.h>\nint mean(int count) {\n  assert(count > 0);\n  return 1;\n}\nint main(void){ return mean(0); }\n",
            );
            let message = abort_message_of(&failed_assert).unwrap();
            assert!(message.ends_with("assert.c:3: mean: Assertion `count > 0' failed."), "{message}");
            let plain_abort = compile(dir.path(), "plain_abort", "#include <stdlib.h>\nint main(void){ abort(); }\n");
            assert_eq!(abort_message_of(&plain_abort), None);
        }
    }
}
