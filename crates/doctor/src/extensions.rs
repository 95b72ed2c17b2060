//! Native code on `sys.path` examined as ELF without importing it.
//!
//! Extension modules, the files Python imports (by import suffix, see [`is_module`]), must
//! import: built for this Python, every library they load ([`closure`]) found, every symbol
//! version defined, installed once, built for the installed numpy. Every other shared object
//! (Qt's plugins, bundled libraries) is judged inside the package that hosts it
//! ([`plugins`]): an optional plugin that cannot load for want of an optional library is
//! counted, not reported. Problems name the distribution that installed the file ([`owners`]).
//!
//! Files are parsed in parallel (std threads over a shared work index); the loader's cache
//! and every parsed library are shared.

pub mod checks;
pub mod closure;
pub mod elf;
pub mod loader;
pub mod naming;
pub mod owners;
pub mod plugins;

use loader::Loader;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One finding about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionProblem {
    pub id: &'static str,
    /// The module that fails to import (or the shadowed copy, or a library Python code loads).
    pub path: PathBuf,
    /// The distribution that installed it (`numpy 2.1.0`), else its top-level folder; `None`
    /// for a loose file directly on sys.path.
    pub owner: Option<String>,
    pub finding: String,
    pub fix: String,
    /// For a missing library: its name, and the library that needs it.
    pub missing: Option<closure::Missing>,
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

/// A plugin that cannot load here, and what it misses (`libfoo.so.1`, `RHPG_9.6 of libpq.so.5`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionalPlugin {
    pub path: PathBuf,
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionReport {
    /// How many extension modules (files Python imports) were examined.
    pub modules: usize,
    /// How many distinct libraries those modules load.
    pub libraries: usize,
    /// How many other shared objects (plugins, libraries no module loads) were examined.
    pub others: usize,
    /// Plugins of a package that cannot load here for want of an optional library.
    pub optional_plugins: Vec<OptionalPlugin>,
    pub problems: Vec<ExtensionProblem>,
    pub elapsed: Duration,
}

impl ExtensionReport {
    /// The optional plugin whose path ends with `tail` (`platforms/libqxcb.so`), when one
    /// cannot load here.
    pub fn optional_plugin(&self, tail: &str) -> Option<&OptionalPlugin> {
        self.optional_plugins.iter().find(|p| p.path.ends_with(tail))
    }
}

/// One `.so` file found under a sys.path entry.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    /// Index of the sys.path entry it was found under.
    entry: usize,
    /// The entry's folder, canonical.
    root: PathBuf,
    /// Path relative to that entry.
    relative: PathBuf,
}

impl Found {
    /// The package folder it ships in, which hosts it: (sys.path entry, top-level folder).
    fn host_key(&self) -> Option<(usize, String)> {
        owners::top_folder(&self.relative).map(|top| (self.entry, top))
    }
}

/// A file examined, with what its ELF header says.
struct Parsed<'a> {
    file: &'a Found,
    facts: Arc<elf::ElfFacts>,
    module: bool,
}

pub fn check_extensions(python: &PythonFacts) -> ExtensionReport {
    check_extensions_with(python, &Loader::from_system())
}

/// [`check_extensions`] with a given loader view (tests pass their own).
pub fn check_extensions_with(python: &PythonFacts, loader: &Loader) -> ExtensionReport {
    let started = Instant::now();
    let found = find_extensions(&python.sys_path);

    // Each file once, even when sys.path entries overlap.
    let mut seen = HashSet::new();
    let unique: Vec<&Found> = found.iter().filter(|f| seen.insert(canonical(&f.path))).collect();

    let mut problems: Vec<(&Found, closure::Finding)> = Vec::new();
    for file in &unique {
        if let Some(finding) = abi_mismatch(file, python) {
            problems.push((file, finding));
        }
    }
    let parsed: Vec<Parsed> = parallel_map(&unique, |file| {
        let facts = loader.facts(&file.path)?;
        let module = is_module(file, &facts, python);
        Some(Parsed { file, facts, module })
    })
    .into_iter()
    .flatten()
    .collect();
    let module_paths: HashSet<PathBuf> = parsed.iter().filter(|p| p.module).map(|p| canonical(&p.file.path)).collect();
    problems.extend(duplicate_modules(&found, python, |f| module_paths.contains(&canonical(&f.path))));

    let modules: Vec<&Parsed> = parsed.iter().filter(|p| p.module).collect();
    let judged = judge_modules(&modules, python, loader);
    problems.extend(judged.problems);
    let others: Vec<&Parsed> =
        parsed.iter().filter(|p| !p.module && !judged.loaded.contains(&canonical(&p.file.path))).collect();
    let mut optional_plugins = Vec::new();
    for (other, verdict) in others.iter().zip(judge_others(&others, &judged.hosts, loader)) {
        match verdict {
            plugins::Verdict::Loads => {}
            plugins::Verdict::OptionalPlugin(missing) => {
                optional_plugins.push(OptionalPlugin { path: other.file.path.clone(), missing })
            }
            plugins::Verdict::Broken(findings) => problems.extend(findings.into_iter().map(|f| (other.file, f))),
        }
    }

    // Named by distribution only when there is something to say: reading every RECORD costs.
    let owners = if problems.is_empty() {
        owners::Owners::default()
    } else {
        let roots: HashSet<&Path> = problems.iter().map(|(f, _)| f.root.as_path()).collect();
        owners::Owners::read(&roots.into_iter().collect::<Vec<_>>())
    };
    let mut problems: Vec<ExtensionProblem> = problems
        .into_iter()
        .map(|(file, f)| ExtensionProblem {
            id: f.id,
            path: file.path.clone(),
            owner: owners.label(&file.path, &file.relative),
            finding: f.finding,
            fix: f.fix,
            missing: f.missing,
        })
        .collect();
    problems.sort_by(|a, b| (&a.owner, a.id, &a.path, &a.finding).cmp(&(&b.owner, b.id, &b.path, &b.finding)));
    problems.dedup();
    ExtensionReport {
        modules: modules.len(),
        libraries: judged.loaded.len(),
        others: others.len(),
        optional_plugins,
        problems,
        elapsed: started.elapsed(),
    }
}

/// What the modules' imports map: their problems, what each host package brings into the
/// process, every library loaded (real paths).
struct Judged<'a> {
    problems: Vec<(&'a Found, closure::Finding)>,
    hosts: HashMap<(usize, String), plugins::Host>,
    loaded: HashSet<PathBuf>,
}

fn judge_modules<'a>(modules: &[&'a Parsed<'a>], python: &PythonFacts, loader: &Loader) -> Judged<'a> {
    let numpy2 = python.numpy_version.as_deref().and_then(naming::major).is_some_and(|m| m >= 2);
    let closures = parallel_map(modules, |p| {
        let closure = closure::of_module(&p.file.path, p.facts.clone(), loader);
        let numpy = numpy_abi(p.file, &p.facts, python, numpy2);
        (closure, numpy)
    });
    let mut judged = Judged { problems: Vec::new(), hosts: HashMap::new(), loaded: HashSet::new() };
    for (module, (closure, numpy)) in modules.iter().zip(closures) {
        // A library the module needs but lacks is the module's problem, reported once: a
        // plugin that needs it too is a plugin of this host, not another problem.
        let lacking: Vec<String> =
            closure.findings.iter().filter_map(|f| f.missing.as_ref().map(|m| m.name.clone())).collect();
        judged.problems.extend(closure.findings.into_iter().chain(numpy).map(|f| (module.file, f)));
        if let Some(key) = module.file.host_key() {
            let host = judged.hosts.entry(key).or_insert_with_key(|(_, top)| plugins::Host {
                roots: vec![module.file.root.join(top), module.file.root.join(format!("{top}.libs"))],
                ..plugins::Host::default()
            });
            host.names.extend(closure.names);
            host.names.extend(lacking);
            for library in &closure.libraries {
                if host.contains(library) {
                    host.lib_dirs.extend(library.parent().map(Path::to_path_buf));
                }
            }
        }
        judged.loaded.extend(closure.libraries);
    }
    judged
}

/// Everything no module loads: plugins and libraries, judged inside the package that hosts them.
fn judge_others(
    others: &[&Parsed],
    hosts: &HashMap<(usize, String), plugins::Host>,
    loader: &Loader,
) -> Vec<plugins::Verdict> {
    parallel_map(others, |p| {
        let host = p.file.host_key().and_then(|key| hosts.get(&key));
        plugins::examine(&p.file.path, &p.facts, host, loader)
    })
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// `f` over the items on a few threads (the files are independent; the loader's caches are
/// shared), results in the items' order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(items.len()));
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(items.len()) {
            scope.spawn(|| {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    mine.push((i, f(item)));
                }
                results.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// A file Python imports: at an importable path (package folders named like identifiers),
/// its name carries a Python ABI tag (`.cpython-311-….so`, `.abi3.so`, or another Python's),
/// or it is a plain `name.so` that exports `PyInit_name`. Qt's `libqxcb.so` ends in `.so`
/// too, but exports no such function.
fn is_module(file: &Found, facts: &elf::ElfFacts, python: &PythonFacts) -> bool {
    let Some(name) = file.path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if !naming::importable_dir(&file.relative) {
        return false;
    }
    if naming::abi_tag(name).is_some_and(naming::is_python_tag) {
        return true;
    }
    let Some(dotted) = naming::module_name(&file.relative, &python.ext_suffixes) else {
        return false;
    };
    let stem = dotted.rsplit('.').next().unwrap_or(&dotted);
    elf::exports_module_init(&file.path, facts, stem)
}

/// Directories never worth walking for importable extensions.
fn skip_dir(name: &str) -> bool {
    name.starts_with('.') || matches!(name, "__pycache__" | "node_modules" | "target")
}

fn find_extensions(sys_path: &[PathBuf]) -> Vec<Found> {
    let entries: Vec<(usize, PathBuf)> = sys_path
        .iter()
        .enumerate()
        .filter_map(|(i, dir)| {
            let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir.as_path() };
            let canonical = std::fs::canonicalize(dir).ok()?;
            canonical.is_dir().then_some((i, canonical))
        })
        .collect();
    // Another entry inside this one (site-packages under the working directory) is walked as
    // itself, so that each file is seen from the entry it is imported from.
    let roots: HashSet<&Path> = entries.iter().map(|(_, root)| root.as_path()).collect();
    let mut found = Vec::new();
    let mut walked = HashSet::new();
    for (entry, root) in &entries {
        if walked.insert(root) {
            walk(&Walk { root, entry: *entry, others: &roots }, root, 0, &mut found);
        }
    }
    found
}

struct Walk<'a> {
    root: &'a Path,
    entry: usize,
    others: &'a HashSet<&'a Path>,
}

fn walk(walk_of: &Walk, dir: &Path, depth: usize, found: &mut Vec<Found>) {
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
            // A site-packages folder not on sys.path (the global one, seen from a venv's stdlib
            // entry) holds nothing this interpreter imports; a virtualenv in the project folder
            // is another interpreter's.
            let elsewhere = walk_of.others.contains(path.as_path())
                || matches!(&*name, "site-packages" | "dist-packages")
                || path.join("pyvenv.cfg").exists();
            if !skip_dir(&name) && !elsewhere {
                walk(walk_of, &path, depth + 1, found);
            }
        } else if name.ends_with(".so") && path.is_file() {
            let relative = path.strip_prefix(walk_of.root).unwrap_or(&path).to_owned();
            found.push(Found { path, entry: walk_of.entry, root: walk_of.root.to_owned(), relative });
        }
    }
}

fn duplicate_modules<'a>(
    found: &'a [Found],
    python: &PythonFacts,
    is_module: impl Fn(&Found) -> bool,
) -> Vec<(&'a Found, closure::Finding)> {
    let mut first: HashMap<String, &Found> = HashMap::new();
    let mut problems = Vec::new();
    for f in found {
        let Some(name) = naming::module_name(&f.relative, &python.ext_suffixes).filter(|_| is_module(f)) else {
            continue;
        };
        match first.get(&name) {
            None => {
                first.insert(name, f);
            }
            Some(winner) if winner.entry != f.entry => problems.push((
                f,
                closure::Finding::new(
                    DUPLICATE_MODULE,
                    format!(
                        "module {name} is installed twice on sys.path: {} is imported, this copy is shadowed",
                        winner.path.display()
                    ),
                    format!(
                        "remove one copy (sys.path entries {} and {}), or make sure the one you test is first",
                        python.sys_path[winner.entry].display(),
                        python.sys_path[f.entry].display()
                    ),
                ),
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Only where the file could be imported from: a stale build in `build/lib.linux-…-cpython-310/`
/// is no module of this interpreter's.
fn abi_mismatch(file: &Found, python: &PythonFacts) -> Option<closure::Finding> {
    if !naming::importable_dir(&file.relative) {
        return None;
    }
    let file_name = file.path.file_name()?.to_string_lossy();
    let tag = naming::abi_mismatch(&file_name, &python.soabi, &python.ext_suffixes)?;
    Some(closure::Finding::new(
        ABI_MISMATCH,
        format!(
            "built for {} ({tag}), but the interpreter is {} ({}): it will not import, or will crash",
            naming::describe_tag(&tag),
            naming::describe_tag(&python.soabi),
            python.soabi
        ),
        "reinstall the package for this interpreter (pip install --force-reinstall --no-cache-dir ...)".into(),
    ))
}

fn numpy_abi(file: &Found, facts: &elf::ElfFacts, python: &PythonFacts, numpy2: bool) -> Option<closure::Finding> {
    if !numpy2 || naming::module_name(&file.relative, &python.ext_suffixes).is_none() || is_numpy_own(&file.relative) {
        return None;
    }
    let range = facts.rodata?;
    let needles: [&[u8]; 2] = [b"numpy.core._multiarray_umath\0", b"numpy._core._multiarray_umath\0"];
    let hits = elf::find_in_range(&file.path, range, &needles).ok()?;
    (hits[0] && !hits[1]).then(|| {
        closure::Finding::new(
            NUMPY_ABI,
            format!(
                "compiled against numpy 1.x headers, but numpy {} is installed: importing it may fail or crash",
                python.numpy_version.as_deref().unwrap_or("2")
            ),
            "upgrade the package to a release built for numpy 2, or install numpy<2".into(),
        )
    })
}

fn is_numpy_own(relative: &Path) -> bool {
    relative.components().next().is_some_and(|c| c.as_os_str() == "numpy")
}

#[cfg(test)]
mod tests;
