//! Pure functions of file names and version strings.

use std::path::Path;

/// The ABI tag in an extension's file name (`cpython-310-x86_64-linux-gnu` in
/// `m.cpython-310-x86_64-linux-gnu.so`), or `None` for `m.so` and non-`.so` names.
pub fn abi_tag(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".so")?;
    let (_, tag) = stem.split_once('.')?;
    Some(tag)
}

/// Whether the tag names some Python ABI (as opposed to a library's own version digits).
pub fn is_python_tag(tag: &str) -> bool {
    tag == "abi3" || ["cpython-", "pypy", "graalpy"].iter().any(|p| tag.starts_with(p))
}

/// The tag names a Python ABI other than the interpreter's: not `abi3`, not `soabi`, and
/// not one of the interpreter's extension suffixes.
pub fn abi_mismatch(file_name: &str, soabi: &str, ext_suffixes: &[String]) -> Option<String> {
    let tag = abi_tag(file_name)?;
    if !is_python_tag(tag) || tag == "abi3" || tag == soabi {
        return None;
    }
    let suffix = format!(".{tag}.so");
    if ext_suffixes.contains(&suffix) {
        return None;
    }
    Some(tag.to_owned())
}

/// A short human name for an ABI tag: `cpython-310-x86_64-linux-gnu` → `CPython 3.10`,
/// `cpython-312d-…` → `CPython 3.12 (debug)`.
pub fn describe_tag(tag: &str) -> String {
    if let Some(rest) = tag.strip_prefix("cpython-") {
        let ver = rest.split('-').next().unwrap_or("");
        let digits: String = ver.chars().take_while(|c| c.is_ascii_digit()).collect();
        let flags = &ver[digits.len()..];
        if digits.len() >= 2 {
            let mut s = format!("CPython {}.{}", &digits[..1], &digits[1..]);
            if flags.contains('t') {
                s.push_str(" (free-threaded)");
            }
            if flags.contains('d') {
                s.push_str(" (debug)");
            }
            return s;
        }
    }
    tag.to_owned()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Whether every folder between the sys.path entry and the file is named like a package, so
/// that the file can be imported from that entry at all.
pub fn importable_dir(relative: &Path) -> bool {
    relative.parent().is_some_and(|dir| dir.components().all(|c| c.as_os_str().to_str().is_some_and(is_identifier)))
}

/// The dotted module name a file would import as from its sys.path entry, if importable:
/// `pkg/sub/m.cpython-311-x86_64-linux-gnu.so` → `pkg.sub.m`.
pub fn module_name(relative: &Path, ext_suffixes: &[String]) -> Option<String> {
    let file = relative.file_name()?.to_str()?;
    let suffix = ext_suffixes.iter().filter(|s| file.ends_with(s.as_str())).max_by_key(|s| s.len())?;
    let stem = &file[..file.len() - suffix.len()];
    if !is_identifier(stem) {
        return None;
    }
    let mut parts = Vec::new();
    for dir in relative.parent()?.components() {
        let dir = dir.as_os_str().to_str()?;
        if !is_identifier(dir) {
            return None;
        }
        parts.push(dir.to_owned());
    }
    parts.push(stem.to_owned());
    Some(parts.join("."))
}

/// `GLIBC_2.34` → (`GLIBC_`, [2, 34]); versions compare by their numbers.
pub fn split_version(name: &str) -> (&str, Vec<u64>) {
    let at = name.find(|c: char| c.is_ascii_digit()).unwrap_or(name.len());
    let nums = name[at..].split('.').map(|p| p.parse().unwrap_or(0)).collect();
    (&name[..at], nums)
}

/// The highest of the given version names (by number, ties by name).
pub fn highest<'a>(names: &[&'a str]) -> Option<&'a str> {
    names.iter().copied().max_by(|a, b| split_version(a).1.cmp(&split_version(b).1).then(a.cmp(b)))
}

/// The major number of a version string (`2.4.6` → 2).
pub fn major(version: &str) -> Option<u64> {
    version.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn suffixes() -> Vec<String> {
        [".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"].map(String::from).to_vec()
    }

    #[test]
    fn abi_tags() {
        let soabi = "cpython-311-x86_64-linux-gnu";
        assert_eq!(
            abi_mismatch("m.cpython-310-x86_64-linux-gnu.so", soabi, &suffixes()).as_deref(),
            Some("cpython-310-x86_64-linux-gnu")
        );
        assert_eq!(abi_mismatch("m.cpython-311-x86_64-linux-gnu.so", soabi, &suffixes()), None);
        assert!(abi_mismatch("m.cpython-311d-x86_64-linux-gnu.so", soabi, &suffixes()).is_some());
        assert_eq!(abi_mismatch("m.abi3.so", soabi, &suffixes()), None);
        assert_eq!(abi_mismatch("m.so", soabi, &suffixes()), None);
        assert_eq!(abi_mismatch("libfoo.0.3.so", soabi, &suffixes()), None);
        assert_eq!(describe_tag("cpython-312d-x86_64-linux-gnu"), "CPython 3.12 (debug)");
        assert_eq!(describe_tag("cpython-313t-x86_64-linux-gnu"), "CPython 3.13 (free-threaded)");
    }

    #[test]
    fn module_names() {
        let s = suffixes();
        assert_eq!(
            module_name(&PathBuf::from("pkg/sub/m.cpython-311-x86_64-linux-gnu.so"), &s).as_deref(),
            Some("pkg.sub.m")
        );
        assert_eq!(module_name(&PathBuf::from("m.abi3.so"), &s).as_deref(), Some("m"));
        assert_eq!(module_name(&PathBuf::from("numpy.libs/libx-1.so"), &s), None);
        assert_eq!(module_name(&PathBuf::from("m.cpython-310-x86_64-linux-gnu.so"), &s), None);
        assert!(importable_dir(&PathBuf::from("pkg/sub/m.so")));
        assert!(importable_dir(&PathBuf::from("m.so")));
        assert!(!importable_dir(&PathBuf::from(
            "build/lib.linux-x86_64-cpython-310/m.cpython-310-x86_64-linux-gnu.so"
        )));
    }

    #[test]
    fn versions() {
        assert_eq!(split_version("GLIBC_2.34"), ("GLIBC_", vec![2, 34]));
        assert_eq!(highest(&["GLIBC_2.4", "GLIBC_2.34", "GLIBC_2.17"]), Some("GLIBC_2.34"));
        assert_eq!(highest(&["GLIBCXX_3.4.9", "GLIBCXX_3.4.30"]), Some("GLIBCXX_3.4.30"));
        assert_eq!(major("2.4.6"), Some(2));
    }
}
