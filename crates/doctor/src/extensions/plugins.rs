//! Shared objects Python does not import itself: Qt's plugins and QML modules, bundled
//! libraries no module loads, libraries a package opens with ctypes. Each is judged inside its
//! host, the package folder it ships in, because that is the process that loads it: a name
//! the host's modules already loaded is found by soname whatever the object's own RPATH says,
//! and so is a library in one of the host's bundled library folders.
//!
//! An object that links to libraries its host's modules load is a plugin of that host, loaded
//! only into a process that runs it and only when something asks for it (a Qt SQL driver, a
//! platform plugin): one that cannot load here because an optional library is absent is no
//! problem until used, and is only counted. An object that links to nothing its host loads is
//! a library Python code opens itself (ctypes): what it lacks is a problem, reported like a
//! module's.

use super::closure::{self, Finding};
use super::elf::ElfFacts;
use super::loader::{self, Loader};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What a package's own modules bring into the process.
#[derive(Debug, Default)]
pub struct Host {
    /// The folders the package ships in (`numpy/` and `numpy.libs/`).
    pub roots: Vec<PathBuf>,
    /// Names the loader finds already loaded once the package's modules are imported (and
    /// those the modules need but lack: their own problem, reported with them).
    pub names: HashSet<String>,
    /// Folders inside the roots that hold libraries the modules load (`PySide6/Qt/lib`).
    pub lib_dirs: HashSet<PathBuf>,
}

impl Host {
    pub fn contains(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| path.starts_with(root))
    }
}

/// What became of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything it needs is there.
    Loads,
    /// A plugin of its host that cannot load here; what is missing, one short phrase each
    /// (`libfoo.so.1`, `RHPG_9.6 of libpq.so.5`).
    OptionalPlugin(Vec<String>),
    /// A library of no host that cannot load here.
    Broken(Vec<Finding>),
}

pub fn examine(path: &Path, facts: &ElfFacts, host: Option<&Host>, loader: &Loader) -> Verdict {
    let origin = path.parent().unwrap_or(Path::new("/"));
    let mut links_to_host = false;
    let mut resolved: HashMap<&str, PathBuf> = HashMap::new();
    let mut gaps = Vec::new();
    let mut findings = Vec::new();
    for name in &facts.needed {
        if loader::provided_by_process(name) {
            continue;
        }
        if host.is_some_and(|h| h.names.contains(name)) {
            links_to_host = true;
            continue; // already loaded in the host process: found by soname
        }
        let found = loader.resolve(name, origin, facts).or_else(|| {
            let host = host?;
            let mut dirs: Vec<&PathBuf> = host.lib_dirs.iter().collect();
            dirs.sort(); // a stable choice when two folders have the name
            dirs.into_iter().map(|dir| dir.join(name)).find(|p| loader.fits(p, facts))
        });
        match found {
            Some(library) => {
                resolved.insert(name, library);
            }
            None => {
                gaps.push(name.clone());
                findings.push(closure::missing_library(name, None));
            }
        }
    }
    for need in &facts.version_needs {
        let Some(library) = resolved.get(need.file.as_str()) else { continue };
        if let Some(gap) = closure::version_gap(&need.versions, library, loader) {
            gaps.push(format!("{} of {}", gap.missing, need.file));
            findings.push(gap.finding(&need.file, library, None));
        }
    }
    match (findings.is_empty(), links_to_host) {
        (true, _) => Verdict::Loads,
        (false, true) => Verdict::OptionalPlugin(gaps),
        (false, false) => Verdict::Broken(findings),
    }
}
