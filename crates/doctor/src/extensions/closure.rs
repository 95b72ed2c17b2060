//! What the dynamic loader maps when Python imports one extension module: its DT_NEEDED
//! libraries, theirs, and so on, each found the way ld.so finds it (a name already loaded is
//! reused; else RPATH of the requester and the objects that loaded it, LD_LIBRARY_PATH,
//! RUNPATH, the cache, the default dirs), and each one's symbol versions checked against the
//! library that provides them. A problem anywhere in that tree makes the import fail.

use super::elf::ElfFacts;
use super::loader::{self, Loader};
use super::naming;
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A problem without the file it is about (the caller knows that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: &'static str,
    pub finding: String,
    pub fix: String,
    /// For a missing library: which, so that one package's many can be named in one line.
    pub missing: Option<Missing>,
}

impl Finding {
    pub fn new(id: &'static str, finding: String, fix: String) -> Finding {
        Finding { id, finding, fix, missing: None }
    }
}

/// A needed library the loader cannot find, and the library that needs it when that is not
/// the file itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub name: String,
    pub through: Option<PathBuf>,
}

/// Everything one module's import maps, and what goes wrong on the way.
#[derive(Debug, Default)]
pub struct Closure {
    /// The libraries loaded, not counting the module itself, by their real paths.
    pub libraries: Vec<PathBuf>,
    /// The names they satisfy: DT_NEEDED names and DT_SONAMEs (the module's own included).
    pub names: HashSet<String>,
    pub findings: Vec<Finding>,
}

/// What the loader would do when `module` (already parsed as `facts`) is imported.
pub fn of_module(module: &Path, facts: Arc<ElfFacts>, loader: &Loader) -> Closure {
    struct Item {
        path: PathBuf,
        facts: Arc<ElfFacts>,
        /// DT_RPATH dirs of the objects that loaded it.
        inherited: Vec<PathBuf>,
    }
    let mut closure = Closure::default();
    let mut by_name: HashMap<String, PathBuf> = HashMap::new();
    // A module with a DT_SONAME (triton's `libtriton.so`) satisfies that name for the rest.
    if let Some(soname) = &facts.soname {
        closure.names.insert(soname.clone());
        by_name.insert(soname.clone(), module.to_owned());
    }
    let mut visited: HashSet<PathBuf> = HashSet::new();
    let mut reported: HashSet<String> = HashSet::new();
    visited.insert(std::fs::canonicalize(module).unwrap_or_else(|_| module.to_owned()));
    let mut queue = VecDeque::from([Item { path: module.to_owned(), facts, inherited: Vec::new() }]);
    while let Some(item) = queue.pop_front() {
        let origin = item.path.parent().unwrap_or(Path::new("/"));
        let through = (item.path != module).then_some(item.path.as_path());
        let mut chain = loader::own_rpath(&item.facts, origin);
        chain.extend(item.inherited.iter().cloned());
        for name in &item.facts.needed {
            if loader::provided_by_process(name) || by_name.contains_key(name) || reported.contains(name) {
                continue;
            }
            let Some(library) = loader.resolve_from(name, origin, &item.facts, &item.inherited) else {
                reported.insert(name.clone());
                closure.findings.push(missing_library(name, through));
                continue;
            };
            by_name.insert(name.clone(), library.clone());
            closure.names.insert(name.clone());
            let Some(library_facts) = loader.facts(&library) else {
                continue; // an ELF file of the right class the object crate cannot read: trust it
            };
            if let Some(soname) = &library_facts.soname {
                closure.names.insert(soname.clone());
                by_name.entry(soname.clone()).or_insert_with(|| library.clone());
            }
            let real = std::fs::canonicalize(&library).unwrap_or_else(|_| library.clone());
            if visited.insert(real.clone()) {
                closure.libraries.push(real);
                queue.push_back(Item { path: library, facts: library_facts, inherited: chain.clone() });
            }
        }
        for need in &item.facts.version_needs {
            if loader::provided_by_process(&need.file) {
                continue;
            }
            // Version needs name a DT_NEEDED library, so it was resolved (or reported) above.
            let Some(library) = by_name.get(&need.file) else { continue };
            if let Some(gap) = version_gap(&need.versions, library, loader) {
                closure.findings.push(gap.finding(&need.file, library, through));
            }
        }
    }
    closure
}

/// The finding for a needed library the loader cannot find; `through` is the library that
/// needs it when that is not the module itself.
pub fn missing_library(name: &str, through: Option<&Path>) -> Finding {
    let finding = match through {
        None => format!(
            "needs {name}, which the dynamic loader cannot find (RPATH/RUNPATH, LD_LIBRARY_PATH, ld.so.cache, system dirs)"
        ),
        Some(through) => format!(
            "loads {}, which needs {name}: the dynamic loader cannot find it (RPATH/RUNPATH, LD_LIBRARY_PATH, ld.so.cache, system dirs)",
            through.display()
        ),
    };
    Finding {
        id: super::MISSING_LIBRARY,
        finding,
        fix: format!("install the package that provides {name}, or reinstall this one so it bundles it"),
        missing: Some(Missing { name: name.to_owned(), through: through.map(Path::to_path_buf) }),
    }
}

/// The newest symbol version an object needs from a library that the library does not
/// define, and the newest of the same family the library has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionGap {
    pub missing: String,
    pub have: Option<String>,
}

pub fn version_gap(needed: &[String], library: &Path, loader: &Loader) -> Option<VersionGap> {
    let facts = loader.facts(library)?;
    let defs = &facts.version_defs;
    let missing: Vec<&str> = needed.iter().map(String::as_str).filter(|v| !defs.iter().any(|d| d == v)).collect();
    let top = naming::highest(&missing)?;
    let (prefix, _) = naming::split_version(top);
    let same_family: Vec<&str> =
        defs.iter().map(String::as_str).filter(|d| naming::split_version(d).0 == prefix).collect();
    Some(VersionGap { missing: top.to_owned(), have: naming::highest(&same_family).map(str::to_owned) })
}

impl VersionGap {
    pub fn finding(&self, file: &str, library: &Path, through: Option<&Path>) -> Finding {
        let have = match &self.have {
            Some(h) => format!("; the system's {} has up to {h}", library.display()),
            None => format!("; {} does not define it", library.display()),
        };
        let (prefix, _) = naming::split_version(&self.missing);
        let (id, fix) = match prefix {
            "GLIBC_" => (
                super::GLIBC_TOO_NEW,
                "install a wheel built for an older glibc (manylinux tag at or below the system's), or upgrade the OS",
            ),
            "GLIBCXX_" | "CXXABI_" => (
                super::LIBSTDCXX_TOO_NEW,
                "install a newer libstdc++ (e.g. a newer GCC runtime), or a wheel built with an older compiler",
            ),
            _ => (
                super::LIBRARY_TOO_OLD,
                "install the library version the package was built against, or rebuild the package",
            ),
        };
        let needs = format!("needs {} from {file}{have}", self.missing);
        let finding = match through {
            None => needs,
            Some(through) => format!("loads {}, which {needs}", through.display()),
        };
        Finding::new(id, finding, fix.to_owned())
    }
}
