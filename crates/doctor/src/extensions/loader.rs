//! Where the dynamic loader would find a DT_NEEDED library, and which symbol versions a
//! system library defines. Built once per doctor run and shared by the worker threads.

use super::elf;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// The loader's default directories after the ld.so cache.
pub const DEFAULT_DIRS: &[&str] = &[
    "/lib",
    "/usr/lib",
    "/lib64",
    "/usr/lib64",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
];

/// One `ldconfig -p` line: soname, the flags in parentheses, the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub name: String,
    pub flags: String,
    pub path: PathBuf,
}

/// Parse `ldconfig -p` output (`\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1`).
pub fn parse_ldconfig(text: &str) -> Vec<CacheEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, path) = line.split_once(" => ")?;
            let left = left.trim();
            let (name, flags) = left.split_once(" (")?;
            Some(CacheEntry {
                name: name.trim().to_owned(),
                flags: flags.trim_end_matches(')').to_owned(),
                path: PathBuf::from(path.trim()),
            })
        })
        .collect()
}

fn read_ldconfig() -> Vec<CacheEntry> {
    for exe in ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"] {
        if let Ok(out) = Command::new(exe).arg("-p").output() {
            if out.status.success() {
                return parse_ldconfig(&String::from_utf8_lossy(&out.stdout));
            }
        }
    }
    Vec::new()
}

/// Expand `$ORIGIN` / `${ORIGIN}` and split a colon-separated search path.
pub fn expand_search_path(value: &str, origin: &Path) -> Vec<PathBuf> {
    let origin = origin.to_string_lossy();
    value
        .split(':')
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(p.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin)))
        .collect()
}

/// The library names the interpreter process provides itself or the loader maps always.
pub fn provided_by_process(name: &str) -> bool {
    name.starts_with("libpython")
        || name.starts_with("ld-linux")
        || name.starts_with("ld64.so")
        || name.starts_with("linux-vdso")
        || name.starts_with("linux-gate")
}

pub struct Loader {
    cache: HashMap<String, Vec<PathBuf>>,
    ld_library_path: Vec<String>,
    ident: Mutex<HashMap<PathBuf, Option<(bool, u16)>>>,
    parsed: Mutex<HashMap<PathBuf, Option<Arc<elf::ElfFacts>>>>,
}

impl Loader {
    pub fn from_system() -> Loader {
        let ld_library_path = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
        Loader::new(read_ldconfig(), &ld_library_path)
    }

    pub fn new(entries: Vec<CacheEntry>, ld_library_path: &str) -> Loader {
        let mut cache: HashMap<String, Vec<PathBuf>> = HashMap::new();
        for entry in entries {
            cache.entry(entry.name).or_default().push(entry.path);
        }
        Loader {
            cache,
            ld_library_path: ld_library_path.split(':').filter(|p| !p.is_empty()).map(str::to_owned).collect(),
            ident: Mutex::new(HashMap::new()),
            parsed: Mutex::new(HashMap::new()),
        }
    }

    /// A candidate the loader would accept for `requester`: an ELF file of its class and machine.
    pub fn fits(&self, candidate: &Path, requester: &elf::ElfFacts) -> bool {
        let want = (requester.class64, requester.machine);
        if let Some(known) = self.ident.lock().unwrap_or_else(|e| e.into_inner()).get(candidate) {
            return *known == Some(want);
        }
        let got = elf::ident(candidate);
        self.ident.lock().unwrap_or_else(|e| e.into_inner()).insert(candidate.to_owned(), got);
        got == Some(want)
    }

    /// Resolve `name` needed by the file `facts` describes, in the loader's order.
    pub fn resolve(&self, name: &str, origin: &Path, facts: &elf::ElfFacts) -> Option<PathBuf> {
        self.resolve_from(name, origin, facts, &[])
    }

    /// [`Loader::resolve`] for an object loaded on behalf of others: `inherited` are the
    /// DT_RPATH directories of the objects that (transitively) needed it, which the loader
    /// also searches when the object has no DT_RUNPATH of its own.
    pub fn resolve_from(
        &self,
        name: &str,
        origin: &Path,
        facts: &elf::ElfFacts,
        inherited: &[PathBuf],
    ) -> Option<PathBuf> {
        if name.contains('/') {
            let p = PathBuf::from(
                name.replace("${ORIGIN}", &origin.to_string_lossy()).replace("$ORIGIN", &origin.to_string_lossy()),
            );
            return self.fits(&p, facts).then_some(p);
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        if facts.runpath.is_none() {
            dirs.extend(own_rpath(facts, origin));
            dirs.extend(inherited.iter().cloned());
        }
        dirs.extend(self.ld_library_path.iter().map(PathBuf::from));
        if let Some(runpath) = &facts.runpath {
            dirs.extend(expand_search_path(runpath, origin));
        }
        for dir in &dirs {
            let p = dir.join(name);
            if self.fits(&p, facts) {
                return Some(p);
            }
        }
        if let Some(paths) = self.cache.get(name) {
            for p in paths {
                if self.fits(p, facts) {
                    return Some(p.clone());
                }
            }
        }
        DEFAULT_DIRS.iter().map(|d| Path::new(d).join(name)).find(|p| self.fits(p, facts))
    }

    /// The file's ELF facts, parsed once per path and shared by the worker threads.
    pub fn facts(&self, path: &Path) -> Option<Arc<elf::ElfFacts>> {
        if let Some(known) = self.parsed.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
            return known.clone();
        }
        let got = elf::parse(path).ok().map(Arc::new);
        self.parsed.lock().unwrap_or_else(|e| e.into_inner()).insert(path.to_owned(), got.clone());
        got
    }

    /// The version names a library defines (`.gnu.version_d`).
    pub fn version_defs(&self, library: &Path) -> Option<Vec<String>> {
        self.facts(library).map(|f| f.version_defs.clone())
    }
}

/// The DT_RPATH directories of an object, which count only when it has no DT_RUNPATH; the
/// objects it loads inherit them.
pub fn own_rpath(facts: &elf::ElfFacts, origin: &Path) -> Vec<PathBuf> {
    match (&facts.rpath, &facts.runpath) {
        (Some(rpath), None) => expand_search_path(rpath, origin),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ldconfig_lines() {
        let text = "1234 libs found in cache `/etc/ld.so.cache'\n\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6\nCache generated by: ldconfig\n";
        let entries = parse_ldconfig(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "libz.so.1");
        assert_eq!(entries[1].path, PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"));
        assert_eq!(entries[1].flags, "libc6,x86-64, OS ABI: Linux 3.2.0");
    }

    #[test]
    fn expands_origin() {
        let got = expand_search_path("$ORIGIN/../lib:${ORIGIN}:/opt/x", Path::new("/a/b"));
        assert_eq!(got, vec![PathBuf::from("/a/b/../lib"), PathBuf::from("/a/b"), PathBuf::from("/opt/x")]);
    }
}
