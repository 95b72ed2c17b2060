//! Native extension modules examined as ELF without importing them: built for another
//! Python, a needed library the loader cannot find, symbol versions newer than the system's
//! libraries define, one module installed twice on `sys.path`, numpy 1.x builds under numpy 2.
//!
//! Files are parsed in parallel (std threads over a shared work index); the loader's cache
//! and the system libraries' version sets are read once and shared.

pub mod elf;
pub mod loader;
pub mod naming;

use loader::Loader;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One finding about one extension file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionProblem {
    pub id: &'static str,
    pub path: PathBuf,
    pub finding: String,
    pub fix: String,
}

pub const ABI_MISMATCH: &str = "extension-abi-mismatch";
pub const MISSING_LIBRARY: &str = "extension-missing-library";
pub const GLIBC_TOO_NEW: &str = "extension-glibc-too-new";
pub const LIBSTDCXX_TOO_NEW: &str = "extension-libstdcxx-too-new";
/// A symbol version missing from any other library (not glibc or libstdc++).
pub const LIBRARY_TOO_OLD: &str = "extension-library-too-old";
pub const DUPLICATE_MODULE: &str = "extension-duplicate-module";
pub const NUMPY_ABI: &str = "extension-numpy-abi";

/// What the checks need to know about the interpreter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonFacts {
    /// `sysconfig.get_config_var("SOABI")`, e.g. `cpython-311-x86_64-linux-gnu`.
    pub soabi: String,
    /// `importlib.machinery.EXTENSION_SUFFIXES`.
    pub ext_suffixes: Vec<String>,
    /// `sys.path`, in order; `""` means the current directory.
    pub sys_path: Vec<PathBuf>,
    /// The installed numpy's version, if any.
    pub numpy_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionReport {
    /// How many `.so` files were examined.
    pub examined: usize,
    pub problems: Vec<ExtensionProblem>,
    pub elapsed: Duration,
}

/// One `.so` file found under a sys.path entry.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    /// Index of the sys.path entry it was found under.
    entry: usize,
    /// Path relative to that entry.
    relative: PathBuf,
}

pub fn check_extensions(python: &PythonFacts) -> ExtensionReport {
    check_extensions_with(python, &Loader::from_system())
}

/// [`check_extensions`] with a given loader view (tests pass their own).
pub fn check_extensions_with(python: &PythonFacts, loader: &Loader) -> ExtensionReport {
    let started = Instant::now();
    let found = find_extensions(&python.sys_path);
    let mut problems = duplicate_modules(&found, python);
    let numpy2 = python.numpy_version.as_deref().and_then(naming::major).is_some_and(|m| m >= 2);

    // Each file once, even when sys.path entries overlap.
    let mut seen = HashSet::new();
    let unique: Vec<&Found> = found
        .iter()
        .filter(|f| seen.insert(std::fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())))
        .collect();

    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = unique.get(i) else { break };
                    mine.extend(examine(file, python, loader, numpy2));
                }
                results.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
            });
        }
    });
    problems.extend(results.into_inner().unwrap_or_else(|e| e.into_inner()));
    problems.sort_by(|a, b| (a.id, &a.path, &a.finding).cmp(&(b.id, &b.path, &b.finding)));
    ExtensionReport { examined: unique.len(), problems, elapsed: started.elapsed() }
}

/// Directories never worth walking for importable extensions.
fn skip_dir(name: &str) -> bool {
    name.starts_with('.') || matches!(name, "__pycache__" | "node_modules" | "target")
}

fn find_extensions(sys_path: &[PathBuf]) -> Vec<Found> {
    let mut found = Vec::new();
    let mut entries_seen = HashSet::new();
    for (entry, dir) in sys_path.iter().enumerate() {
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.clone() };
        let Ok(canonical) = std::fs::canonicalize(&dir) else {
            continue;
        };
        if !canonical.is_dir() || !entries_seen.insert(canonical.clone()) {
            continue;
        }
        walk(&canonical, &canonical, entry, 0, &mut found);
    }
    found
}

fn walk(root: &Path, dir: &Path, entry: usize, depth: usize, found: &mut Vec<Found>) {
    if depth > 16 {
        return;
    }
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    let mut items: Vec<_> = read.flatten().collect();
    items.sort_by_key(|e| e.file_name());
    for item in items {
        let name = item.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = item.file_type() else { continue };
        let path = item.path();
        if kind.is_dir() {
            if !skip_dir(&name) {
                walk(root, &path, entry, depth + 1, found);
            }
        } else if name.ends_with(".so") && path.is_file() {
            let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
            found.push(Found { path, entry, relative });
        }
    }
}

fn duplicate_modules(found: &[Found], python: &PythonFacts) -> Vec<ExtensionProblem> {
    let mut first: HashMap<String, &Found> = HashMap::new();
    let mut problems = Vec::new();
    for f in found {
        let Some(name) = naming::module_name(&f.relative, &python.ext_suffixes) else {
            continue;
        };
        match first.get(&name) {
            None => {
                first.insert(name, f);
            }
            Some(winner) if winner.entry != f.entry => problems.push(ExtensionProblem {
                id: DUPLICATE_MODULE,
                path: f.path.clone(),
                finding: format!(
                    "module {name} is installed twice on sys.path: {} is imported, this copy is shadowed",
                    winner.path.display()
                ),
                fix: format!(
                    "remove one copy (sys.path entries {} and {}), or make sure the one you test is first",
                    python.sys_path[winner.entry].display(),
                    python.sys_path[f.entry].display()
                ),
            }),
            Some(_) => {}
        }
    }
    problems
}

fn examine(file: &Found, python: &PythonFacts, loader: &Loader, numpy2: bool) -> Vec<ExtensionProblem> {
    let mut problems = Vec::new();
    let path = &file.path;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let problem = |id, finding: String, fix: String| ExtensionProblem { id, path: path.clone(), finding, fix };

    if let Some(tag) = naming::abi_mismatch(&file_name, &python.soabi, &python.ext_suffixes) {
        problems.push(problem(
            ABI_MISMATCH,
            format!(
                "built for {} ({tag}), but the interpreter is {} ({}): it will not import, or will crash",
                naming::describe_tag(&tag),
                naming::describe_tag(&python.soabi),
                python.soabi
            ),
            "reinstall the package for this interpreter (pip install --force-reinstall --no-cache-dir ...)".into(),
        ));
    }

    let Ok(facts) = elf::parse(path) else {
        return problems;
    };
    let origin = path.parent().unwrap_or(Path::new("/"));
    let mut resolved: HashMap<&str, PathBuf> = HashMap::new();
    for name in &facts.needed {
        if loader::provided_by_process(name) {
            continue;
        }
        match loader.resolve(name, origin, &facts) {
            Some(p) => {
                resolved.insert(name, p);
            }
            None => problems.push(problem(
                MISSING_LIBRARY,
                format!("needs {name}, which the dynamic loader cannot find (RPATH/RUNPATH, LD_LIBRARY_PATH, ld.so.cache, system dirs)"),
                format!("install the package that provides {name}, or reinstall this one so it bundles it"),
            )),
        }
    }

    for need in &facts.version_needs {
        if loader::provided_by_process(&need.file) {
            continue;
        }
        let library = match resolved.get(need.file.as_str()) {
            Some(p) => p.clone(),
            None => match loader.resolve(&need.file, origin, &facts) {
                Some(p) => p,
                None => continue, // reported as missing when it is also DT_NEEDED
            },
        };
        let Some(defs) = loader.version_defs(&library) else {
            continue;
        };
        let missing: Vec<&str> =
            need.versions.iter().map(String::as_str).filter(|v| !defs.iter().any(|d| d == v)).collect();
        let Some(top) = naming::highest(&missing) else {
            continue;
        };
        let (prefix, _) = naming::split_version(top);
        let have = naming::highest(
            &defs.iter().map(String::as_str).filter(|d| naming::split_version(d).0 == prefix).collect::<Vec<_>>(),
        )
        .map(|h| format!("; the system's {} has up to {h}", library.display()))
        .unwrap_or_else(|| format!("; {} does not define it", library.display()));
        let (id, fix) = match prefix {
            "GLIBC_" => (
                GLIBC_TOO_NEW,
                "install a wheel built for an older glibc (manylinux tag at or below the system's), or upgrade the OS",
            ),
            "GLIBCXX_" | "CXXABI_" => (
                LIBSTDCXX_TOO_NEW,
                "install a newer libstdc++ (e.g. a newer GCC runtime), or a wheel built with an older compiler",
            ),
            _ => (LIBRARY_TOO_OLD, "install the library version the package was built against, or rebuild the package"),
        };
        problems.push(problem(id, format!("needs {top} from {}{have}", need.file), fix.into()));
    }

    if numpy2 && naming::module_name(&file.relative, &python.ext_suffixes).is_some() && !is_numpy_own(&file.relative) {
        if let Some(range) = facts.rodata {
            let needles: [&[u8]; 2] = [b"numpy.core._multiarray_umath\0", b"numpy._core._multiarray_umath\0"];
            if let Ok(hits) = elf::find_in_range(path, range, &needles) {
                if hits[0] && !hits[1] {
                    problems.push(problem(
                        NUMPY_ABI,
                        format!(
                            "compiled against numpy 1.x headers, but numpy {} is installed: importing it may fail or crash",
                            python.numpy_version.as_deref().unwrap_or("2")
                        ),
                        "upgrade the package to a release built for numpy 2, or install numpy<2".into(),
                    ));
                }
            }
        }
    }
    problems
}

fn is_numpy_own(relative: &Path) -> bool {
    relative.components().next().is_some_and(|c| c.as_os_str() == "numpy")
}

#[cfg(test)]
mod tests;
