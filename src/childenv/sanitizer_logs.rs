//! `--asan`: the folder the sanitizer writes its reports to (`log_path=DIR/report`, one
//! `report.PID` per process that reported). faultline reads a crashed process's report from
//! there; the folder is kept after the run when a report was written, so the sanitizer's
//! own words (shadow bytes and all) are still at hand, and removed when it is empty.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct SanitizerLogs {
    dir: PathBuf,
}

impl SanitizerLogs {
    pub fn create_in(base: &Path) -> io::Result<SanitizerLogs> {
        let dir = tempfile::Builder::new().prefix("faultline-sanitizer-").tempdir_in(base).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("--asan: cannot create a folder for the sanitizer's reports in {}: {e}", base.display()),
            )
        })?;
        let dir = dir.keep();
        if dir.to_string_lossy().contains(':') {
            // The sanitizer's options are `:`-separated: such a path would be cut short.
            let _ = std::fs::remove_dir(&dir);
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--asan: the temp folder {} has a `:` in its path; set TMPDIR to one without", dir.display()),
            ));
        }
        Ok(SanitizerLogs { dir })
    }

    /// The sanitizer's `log_path`: it appends `.PID`.
    pub fn prefix(&self) -> PathBuf {
        self.dir.join("report")
    }

    /// The folder, when the sanitizer wrote something into it.
    pub fn written(&self) -> Option<&Path> {
        let written = std::fs::read_dir(&self.dir).map(|mut entries| entries.next().is_some()).unwrap_or(false);
        written.then_some(self.dir.as_path())
    }
}

impl Drop for SanitizerLogs {
    /// An empty folder goes (remove_dir fails on one with reports in it, which stays).
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_folder_goes_and_a_written_one_stays() {
        let base = tempfile::tempdir().unwrap();
        let empty = SanitizerLogs::create_in(base.path()).unwrap();
        assert!(empty.prefix().starts_with(&empty.dir));
        assert_eq!(empty.written(), None);
        let empty_dir = empty.dir.clone();
        drop(empty);
        assert!(!empty_dir.exists());
        let written = SanitizerLogs::create_in(base.path()).unwrap();
        std::fs::write(format!("{}.42", written.prefix().display()), "==42==ERROR: AddressSanitizer").unwrap();
        assert_eq!(written.written(), Some(written.dir.as_path()));
        let kept = written.dir.clone();
        drop(written);
        assert!(kept.join("report.42").exists());
    }
}
