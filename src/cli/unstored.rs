//! Where a report goes when the crash store cannot take it, so that it is never only on the
//! terminal: the project's `.faultline/unstored/`, else the user's state folder
//! (`$XDG_STATE_HOME/faultline/unstored`, `~/.local/state/faultline/unstored`), else the
//! temp folder. A read-only checkout or a cwd too long for a path still leaves one of them.

use faultline::model::Report;
use faultline::store::{location, Location};
use std::path::{Path, PathBuf};

/// The folders to try, best first.
pub fn folders(cwd: &Path) -> Vec<PathBuf> {
    let mut folders = vec![Location::unstored_dir(cwd)];
    let absolute = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(state) = absolute("XDG_STATE_HOME") {
        folders.push(state.join("faultline").join("unstored"));
    }
    if let Some(home) = absolute("HOME") {
        folders.push(home.join(".local/state/faultline/unstored"));
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    folders.push(std::env::temp_dir().join(format!("faultline-{uid}")).join("unstored"));
    folders
}

/// Writes the report into the first folder that takes it; the errors of those that did not
/// come back with it, to say why the report is not where the user looks first.
pub fn keep_aside(report: &Report, cwd: &Path) -> Result<(PathBuf, Vec<String>), Vec<String>> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let name = format!("run-{stamp}-{}.json", std::process::id());
    let mut failures = Vec::new();
    for folder in folders(cwd) {
        let path = folder.join(&name);
        let written = location::create_store_dir(&folder)
            .and_then(|()| super::files::write_atomically(&path, |file| faultline::report::write_json(report, file)));
        match written {
            Ok(()) => return Ok((path, failures)),
            Err(err) => failures.push(format!("{}: {err}", folder.display())),
        }
    }
    Err(failures)
}

/// Whether `path` is a report faultline kept aside (and may remove once it is stored).
pub fn is_kept_aside(path: &Path, cwd: &Path) -> bool {
    let Some(parent) = path.parent().and_then(|p| p.canonicalize().ok()) else { return false };
    let is_report = path.file_name().is_some_and(|n| {
        let n = n.to_string_lossy();
        n.starts_with("run-") && n.ends_with(".json")
    });
    is_report && folders(cwd).iter().filter_map(|f| f.canonicalize().ok()).any(|f| f == parent)
}
