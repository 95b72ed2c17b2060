//! Which installed distribution a file belongs to, so that problems can be grouped by what
//! the user installed: the `*.dist-info/RECORD` that lists the file (named by its METADATA
//! `Name` and `Version`), else the top-level folder it lies in under its sys.path entry.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// The first field of each RECORD line (the path, relative to the site folder), with CSV
/// quoting undone.
pub fn record_paths(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            if let Some(quoted) = line.strip_prefix('"') {
                let mut path = String::new();
                let mut chars = quoted.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    path.push(c);
                }
                Some(path)
            } else {
                line.split(',').next().map(str::to_owned)
            }
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// `Name Version` from a METADATA file's headers, e.g. `PySide6_Essentials 6.12.0`.
pub fn metadata_label(metadata: &str) -> Option<String> {
    let mut name = None;
    let mut version = None;
    for line in metadata.lines() {
        if line.trim().is_empty() {
            break; // the headers end at the first blank line; the description follows
        }
        if let Some(v) = line.strip_prefix("Name:") {
            name.get_or_insert_with(|| v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("Version:") {
            version.get_or_insert_with(|| v.trim().to_owned());
        }
    }
    let name = name.filter(|n| !n.is_empty())?;
    Some(match version {
        Some(v) if !v.is_empty() => format!("{name} {v}"),
        _ => name,
    })
}

/// `numpy-2.1.0.dist-info` → `numpy 2.1.0`, when METADATA cannot be read.
fn label_from_dir_name(dir_name: &str) -> String {
    let stem = dir_name.trim_end_matches(".dist-info");
    match stem.split_once('-') {
        Some((name, version)) => format!("{name} {version}"),
        None => stem.to_owned(),
    }
}

/// The top-level folder a file lies in under its sys.path entry, as a package name:
/// `numpy.libs/x.so` → `numpy`. `None` for a file directly in the entry.
pub fn top_folder(relative: &Path) -> Option<String> {
    let mut components = relative.components();
    let first = components.next()?;
    components.next()?; // a file directly in the entry has no folder
    let name = first.as_os_str().to_string_lossy();
    Some(name.strip_suffix(".libs").unwrap_or(&name).to_owned())
}

/// Joins a RECORD path to the site folder, without `..` escapes (scripts in `bin/`).
fn inside(site: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    if relative.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return None;
    }
    Some(site.join(relative))
}

/// Every file the installed distributions of some site folders list, with their labels.
#[derive(Debug, Default)]
pub struct Owners {
    by_path: HashMap<PathBuf, usize>,
    labels: Vec<String>,
}

impl Owners {
    /// Reads the RECORD of each `*.dist-info` folder directly in the given site folders.
    pub fn read(sites: &[&Path]) -> Owners {
        let mut owners = Owners::default();
        for site in sites {
            let Ok(items) = std::fs::read_dir(site) else { continue };
            let mut dirs: Vec<PathBuf> = items
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "dist-info") && p.is_dir())
                .collect();
            dirs.sort();
            for dir in dirs {
                let Ok(record) = std::fs::read_to_string(dir.join("RECORD")) else { continue };
                let label = std::fs::read_to_string(dir.join("METADATA"))
                    .ok()
                    .and_then(|m| metadata_label(&m))
                    .unwrap_or_else(|| label_from_dir_name(&dir.file_name().unwrap_or_default().to_string_lossy()));
                let index = owners.labels.len();
                owners.labels.push(label);
                for path in record_paths(&record) {
                    if let Some(full) = inside(site, &path) {
                        owners.by_path.entry(full).or_insert(index);
                    }
                }
            }
        }
        owners
    }

    /// The distribution that installed `path` (a path under one of the site folders read),
    /// else its top-level folder; `None` for a loose file directly on sys.path.
    pub fn label(&self, path: &Path, relative: &Path) -> Option<String> {
        if let Some(&index) = self.by_path.get(path) {
            return Some(self.labels[index].clone());
        }
        top_folder(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines() {
        let text = "numpy/__init__.py,sha256=abc,123\n\"odd,name/x.so\",sha256=def,4\n../../../bin/f2py,sha256=x,1\nnumpy-2.1.0.dist-info/RECORD,,\n";
        assert_eq!(
            record_paths(text),
            vec!["numpy/__init__.py", "odd,name/x.so", "../../../bin/f2py", "numpy-2.1.0.dist-info/RECORD"]
        );
        assert_eq!(inside(Path::new("/s"), "../../../bin/f2py"), None);
        assert_eq!(inside(Path::new("/s"), "numpy/x.so"), Some(PathBuf::from("/s/numpy/x.so")));
    }

    #[test]
    fn labels() {
        let metadata = "Metadata-Version: 2.4\nName: PySide6_Essentials\nVersion: 6.12.0\n\nName: not a header\n";
        assert_eq!(metadata_label(metadata).as_deref(), Some("PySide6_Essentials 6.12.0"));
        assert_eq!(label_from_dir_name("lxml-6.1.3.dist-info"), "lxml 6.1.3");
        assert_eq!(top_folder(Path::new("numpy.libs/libx.so")).as_deref(), Some("numpy"));
        assert_eq!(top_folder(Path::new("PySide6/Qt/lib/x.so")).as_deref(), Some("PySide6"));
        assert_eq!(top_folder(Path::new("loose.so")), None);
    }

    #[test]
    fn reads_the_installed_records() {
        let site = tempfile::tempdir().unwrap();
        let info = site.path().join("hostpkg-1.0.dist-info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(info.join("METADATA"), "Metadata-Version: 2.1\nName: HostPkg\nVersion: 1.0\n").unwrap();
        std::fs::write(info.join("RECORD"), "hostpkg/_core.so,sha256=x,1\nhostpkg-1.0.dist-info/RECORD,,\n").unwrap();
        let owners = Owners::read(&[site.path()]);
        let core = site.path().join("hostpkg/_core.so");
        assert_eq!(owners.label(&core, Path::new("hostpkg/_core.so")).as_deref(), Some("HostPkg 1.0"));
        let other = site.path().join("other/x.so");
        assert_eq!(owners.label(&other, Path::new("other/x.so")).as_deref(), Some("other"));
    }
}
