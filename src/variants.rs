//! Allocator variants: named sets of environment settings that turn a heap bug's luck into
//! a crash at (or near) the bad access. `faultline run --variant NAME` (`--heap-check`) applies
//! one to the command's tree; `faultline stress --variants A,B` compares crash rates across
//! them. The report names the variant and what it set, so a stored crash says how it ran.
//!
//! Built in: `default` (nothing), `heap-check` (glibc's malloc checking and perturbation),
//! `arena-N` (N malloc arenas, tcache off), `jemalloc` and `tcmalloc` (preloaded when
//! installed, with their debug options), `asan` (the AddressSanitizer runtime of the
//! compiler, preloaded into Python processes only, for extensions built with
//! `-fsanitize=address`; `--asan`). Projects add their own in `[tool.faultline.variants]`:
//! a name and a table of variables.

use std::path::{Path, PathBuf};

/// What glibc's perturbation fills: freed memory becomes 0xa5 bytes (the complement, 0x5a,
/// fills fresh allocations), so a pointer read from freed memory is poison, not luck.
const PERTURB_BYTE: u32 = 0xa5;

/// A variant as applied: its name and the variables it sets, in order. `LD_PRELOAD` and
/// `GLIBC_TUNABLES` are added to any value the command already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub env: Vec<(String, String)>,
    /// A sanitizer runtime (`asan`): first in `LD_PRELOAD` for Python processes only, and
    /// its reports go to log files faultline reads (`log_path`, added by the run).
    pub sanitizer_runtime: Option<PathBuf>,
}

/// The names of the built-in variants, for help and errors.
pub const BUILT_IN: [&str; 7] = ["default", "heap-check", "arena-1", "arena-N", "jemalloc", "tcmalloc", "asan"];

/// What `--asan` sets: ASan aborts at its first report (a signal faultline catches, with
/// the process still there to read); leaks are not checked (CPython does not free
/// everything at exit: every run would "fail"), and faults are left to faultline, which
/// explains them with the Python stack. The user's own ASAN_OPTIONS come after these and win.
const ASAN_OPTIONS: &str =
    "abort_on_error=1:detect_leaks=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0:symbolize=1";
/// UBSan (often built in with ASan): stop at the first undefined behaviour, with its stack.
const UBSAN_OPTIONS: &str = "print_stacktrace=1:halt_on_error=1:abort_on_error=1";

/// The variant called `name`: a project's own (from its settings) first, then the built-in
/// ones. Errors say what names exist, or what is missing for a built-in one.
pub fn resolve(name: &str, project: &[(String, Vec<(String, String)>)]) -> Result<Variant, String> {
    if let Some((_, env)) = project.iter().find(|(n, _)| n == name) {
        return Ok(Variant { name: name.to_owned(), env: env.clone(), sanitizer_runtime: None });
    }
    if name == "asan" {
        return asan();
    }
    let env = match name {
        "default" => Vec::new(),
        "heap-check" => heap_check(),
        "jemalloc" => jemalloc()?,
        "tcmalloc" => tcmalloc()?,
        _ => match name.strip_prefix("arena-").map(str::parse::<u32>) {
            Some(Ok(arenas)) if arenas >= 1 => arenas_without_tcache(arenas),
            Some(_) => return Err(format!("variant `{name}`: the number of arenas must be a whole number from 1")),
            None => {
                let mut known: Vec<String> = BUILT_IN.iter().map(|s| s.to_string()).collect();
                known.extend(project.iter().map(|(n, _)| n.clone()));
                return Err(format!(
                    "unknown variant `{name}`; the variants are {} (a project adds its own under [tool.faultline.variants])",
                    known.join(", ")
                ));
            }
        },
    };
    Ok(Variant { name: name.to_owned(), env, sanitizer_runtime: None })
}

fn asan() -> Result<Variant, String> {
    let runtime = asan_runtime()?;
    let env = vec![
        ("LD_PRELOAD".to_owned(), runtime.display().to_string()),
        ("ASAN_OPTIONS".to_owned(), ASAN_OPTIONS.to_owned()),
        ("UBSAN_OPTIONS".to_owned(), UBSAN_OPTIONS.to_owned()),
    ];
    Ok(Variant { name: "asan".to_owned(), env, sanitizer_runtime: Some(runtime) })
}

/// The ASan runtime of the compiler that built the extensions: `$CC`'s when it is set (as
/// setuptools uses it), else gcc's, else clang's. A runtime of another compiler than the
/// one that built the extension refuses to load, so `$CC` is how to choose.
fn asan_runtime() -> Result<PathBuf, String> {
    let from_env = std::env::var("CC").ok().and_then(|cc| cc.split_whitespace().next().map(str::to_owned));
    let compilers: Vec<String> = from_env.into_iter().chain(["gcc".to_owned(), "clang".to_owned()]).collect();
    let mut tried = Vec::new();
    for compiler in &compilers {
        let names: &[&str] = if compiler.contains("clang") {
            &["libclang_rt.asan-x86_64.so", "libclang_rt.asan.so"]
        } else {
            &["libasan.so"]
        };
        for name in names {
            tried.push(format!("{compiler} -print-file-name={name}"));
            if let Some(path) = compiler_file(compiler, name) {
                return Ok(path);
            }
        }
    }
    Err(format!(
        "--asan: no AddressSanitizer runtime found ({} found no file); install the one of the compiler that built the extension (Debian/Ubuntu: apt install libasan8 for gcc 12, libclang-rt-dev for clang), or set CC to that compiler",
        tried.join(", ")
    ))
}

/// What `COMPILER -print-file-name=NAME` names, when that is a file: both gcc and clang
/// answer the bare name when they have no such file.
fn compiler_file(compiler: &str, name: &str) -> Option<PathBuf> {
    let output = std::process::Command::new(compiler).arg(format!("-print-file-name={name}")).output().ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !output.status.success() || !path.is_absolute() {
        return None;
    }
    // The loader is given the real file: the link-time name is a symlink to it.
    std::fs::canonicalize(&path).ok().filter(|p| p.is_file())
}

/// glibc's malloc checking (checks at every heap call, aborts on corruption) and
/// perturbation. Since glibc 2.34 the checks live in `libc_malloc_debug.so`, which must be
/// preloaded; perturbation needs nothing.
fn heap_check() -> Vec<(String, String)> {
    let mut env = vec![(
        "GLIBC_TUNABLES".to_owned(),
        format!("glibc.malloc.check=3:glibc.malloc.perturb={PERTURB_BYTE}:glibc.malloc.tcache_count=0"),
    )];
    // Older glibc reads these instead of the tunables.
    env.push(("MALLOC_CHECK_".to_owned(), "3".to_owned()));
    env.push(("MALLOC_PERTURB_".to_owned(), PERTURB_BYTE.to_string()));
    if let Some(debug) = find_library(&["libc_malloc_debug.so.0"]) {
        env.push(("LD_PRELOAD".to_owned(), debug.display().to_string()));
    }
    env
}

/// Fewer arenas put every thread's blocks side by side, and without tcache every free goes
/// through the checks of the arena (a double free tcache would hide is caught).
fn arenas_without_tcache(arenas: u32) -> Vec<(String, String)> {
    vec![
        ("MALLOC_ARENA_MAX".to_owned(), arenas.to_string()),
        ("GLIBC_TUNABLES".to_owned(), format!("glibc.malloc.arena_max={arenas}:glibc.malloc.tcache_count=0")),
    ]
}

fn jemalloc() -> Result<Vec<(String, String)>, String> {
    let library = find_library(&["libjemalloc.so.2", "libjemalloc.so"])
        .ok_or("variant `jemalloc`: libjemalloc.so.2 is not installed (Debian/Ubuntu: apt install libjemalloc2)")?;
    Ok(vec![
        ("LD_PRELOAD".to_owned(), library.display().to_string()),
        // Junk-fill allocations and frees; abort on a bad option instead of ignoring it.
        ("MALLOC_CONF".to_owned(), "junk:true,abort_conf:true,tcache:false".to_owned()),
    ])
}

fn tcmalloc() -> Result<Vec<(String, String)>, String> {
    // The debug build checks frees and fences pages; the plain one is the fallback.
    let library = find_library(&["libtcmalloc_debug.so.4", "libtcmalloc.so.4", "libtcmalloc_minimal.so.4"])
        .ok_or("variant `tcmalloc`: libtcmalloc is not installed (Debian/Ubuntu: apt install libgoogle-perftools4)")?;
    let mut env = vec![("LD_PRELOAD".to_owned(), library.display().to_string())];
    if library.to_string_lossy().contains("_debug") {
        env.push(("TCMALLOC_PAGE_FENCE".to_owned(), "1".to_owned()));
    }
    Ok(env)
}

/// A shared library found where the dynamic loader looks: `LD_LIBRARY_PATH`, the folders of
/// `/etc/ld.so.conf` (and its includes), then the system folders.
pub fn find_library(names: &[&str]) -> Option<PathBuf> {
    let dirs = library_dirs();
    names.iter().find_map(|name| dirs.iter().map(|dir| dir.join(name)).find(|path| path.is_file()))
}

fn library_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var("LD_LIBRARY_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    ld_so_conf(Path::new("/etc/ld.so.conf"), &mut dirs, 0);
    for dir in ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"] {
        dirs.push(PathBuf::from(dir));
    }
    dirs
}

/// The folders an ld.so.conf file names, following `include` globs (`ld.so.conf.d/*.conf`).
fn ld_so_conf(file: &Path, dirs: &mut Vec<PathBuf>, depth: u32) {
    let Ok(text) = std::fs::read_to_string(file) else { return };
    for line in text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()) {
        match line.strip_prefix("include") {
            Some(pattern) if depth < 4 => {
                for included in expand_conf_glob(pattern.trim()) {
                    ld_so_conf(&included, dirs, depth + 1);
                }
            }
            Some(_) => {}
            None => dirs.push(PathBuf::from(line)),
        }
    }
}

/// `/etc/ld.so.conf.d/*.conf`: the one glob form ld.so.conf uses, a `*` in the file name.
fn expand_conf_glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let Some((prefix, suffix)) = name.split_once('*') else {
        return vec![path.to_owned()];
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Where a variant's part of a list goes among what the command already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Before: a preloaded library must come first to take effect (a sanitizer runtime
    /// refuses to run otherwise); for sanitizer options the later (the user's) win.
    Before,
    /// After: for tunables and allocator options the later (the variant's) win.
    After,
}

/// Variables that hold lists: a variant's value joins what the command already has, with
/// the list's separator, rather than replacing it.
pub fn list_separator(key: &str) -> Option<(char, Placement)> {
    match key {
        "LD_PRELOAD" | "ASAN_OPTIONS" | "UBSAN_OPTIONS" => Some((':', Placement::Before)),
        "GLIBC_TUNABLES" => Some((':', Placement::After)),
        "MALLOC_CONF" => Some((',', Placement::After)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_variants_and_their_settings() {
        let check = resolve("heap-check", &[]).unwrap();
        let tunables = &check.env.iter().find(|(k, _)| k == "GLIBC_TUNABLES").unwrap().1;
        assert!(tunables.contains("glibc.malloc.check=3") && tunables.contains("glibc.malloc.perturb=165"));
        let arenas = resolve("arena-2", &[]).unwrap();
        assert!(arenas.env.contains(&("MALLOC_ARENA_MAX".to_owned(), "2".to_owned())));
        assert!(resolve("default", &[]).unwrap().env.is_empty());
        assert!(resolve("arena-0", &[]).unwrap_err().contains("from 1"));
        assert!(resolve("arena-x", &[]).unwrap_err().contains("whole number"));
    }

    #[test]
    fn a_project_variant_wins_and_unknown_names_list_them_all() {
        let project = vec![("small-pool".to_owned(), vec![("POOL_SIZE".to_owned(), "1".to_owned())])];
        assert_eq!(resolve("small-pool", &project).unwrap().env, project[0].1);
        let error = resolve("heap-chek", &project).unwrap_err();
        assert!(error.contains("unknown variant `heap-chek`") && error.contains("heap-check"), "{error}");
        assert!(error.contains("small-pool"), "{error}");
    }

    #[test]
    fn ld_so_conf_includes_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(dir.path().join("conf.d/a.conf"), "/opt/a/lib\n# comment\n").unwrap();
        std::fs::write(dir.path().join("conf.d/b.txt"), "/opt/b/lib\n").unwrap();
        let main = dir.path().join("ld.so.conf");
        std::fs::write(&main, format!("include {}/conf.d/*.conf\n/opt/c/lib\n", dir.path().display())).unwrap();
        let mut dirs = Vec::new();
        ld_so_conf(&main, &mut dirs, 0);
        assert_eq!(dirs, [PathBuf::from("/opt/a/lib"), PathBuf::from("/opt/c/lib")]);
    }
}
