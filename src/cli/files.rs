//! Writing output files so that a reader never sees half of one.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// Writes `FILE.partial` beside `path` with `write`, syncs it, then renames it over `path`;
/// the partial file is removed when anything fails.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) -> io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let tmp = PathBuf::from(partial);
    let result = (|| {
        let mut file = BufWriter::new(File::create(&tmp)?);
        write(&mut file)?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Whether an output file can be written at `path` (`what` names where the path came
/// from: `--json`, ``the `json` setting:``): not a folder, and inside one that exists.
/// Checked before any work, so that a typo does not cost a run its report.
pub fn check_destination(what: &str, path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("cannot write {what} {}: it is a folder; name a file in it", path.display()));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(format!(
            "cannot write {what} {}: folder {} does not exist; create it first",
            path.display(),
            parent.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_is_a_file_in_a_folder_that_exists() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check_destination("--json", &dir.path().join("r.json")), Ok(()));
        assert_eq!(check_destination("--json", Path::new("r.json")), Ok(()));
        let folder = check_destination("--html", dir.path()).unwrap_err();
        assert!(folder.starts_with("cannot write --html ") && folder.ends_with(": it is a folder; name a file in it"));
        let missing = check_destination("the `junit` setting:", &dir.path().join("no/such/j.xml")).unwrap_err();
        assert!(missing.contains("no/such does not exist; create it first"), "{missing}");
    }
}
