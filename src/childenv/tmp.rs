//! `--isolate-tmp`: a private directory that is gone after the run, whatever the command
//! left in it.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A fresh `faultline-XXXXXX` directory, mode 0700, removed on drop.
#[derive(Debug)]
pub struct PrivateTmp {
    path: PathBuf,
    removed: bool,
}

impl PrivateTmp {
    pub fn create_in(base: &Path) -> io::Result<PrivateTmp> {
        let context = |e: io::Error| {
            io::Error::new(e.kind(), format!("cannot create a private temp dir in {}: {e}", base.display()))
        };
        let dir = tempfile::Builder::new().prefix("faultline-").tempdir_in(base).map_err(context)?;
        // tempfile already uses 0700; say so explicitly, since other users must not see in.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).map_err(context)?;
        Ok(PrivateTmp { path: dir.keep(), removed: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory and everything in it.
    pub fn remove(mut self) -> io::Result<()> {
        self.removed = true;
        remove_tree(&self.path)
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        if let Err(err) = remove_tree(&self.path) {
            // Drop has no caller to return this to, and a silently leaked private dir
            // (maybe large) is worse than one line on stderr.
            crate::say!("faultline: warning: could not remove the temp dir {}: {err}", self.path.display());
        }
    }
}

/// `remove_dir_all`, but first making directories writable when that fails: tests chmod
/// their fixtures read-only, and a file cannot be unlinked from a read-only directory.
fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Ok(()) => Ok(()),
        Err(_) => {
            make_writable(path);
            match fs::remove_dir_all(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        }
    }
}

/// Gives the owner full access to every directory under `dir` and write access to every
/// file. Symlinks are never followed (the file type comes from the entry itself), so nothing
/// outside the tree is touched.
fn make_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            make_writable(&entry.path());
        } else if kind.is_file() {
            let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o600));
        }
    }
}
