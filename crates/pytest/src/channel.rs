//! The channel's folder and the environment that makes a pytest load faultline's plugin.
//!
//! The plugin cannot come through the user's files (conftest.py, pytest.ini) nor be
//! installed: it is a module in a private folder that faultline appends to PYTHONPATH, named
//! in PYTEST_PLUGINS, which pytest imports at start-up. The user's PYTHONPATH entries keep
//! their places and precedence; ours comes last and holds that one module, whose name no
//! project uses. A nested `faultline run` replaces the outer run's folder with its own.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The plugin, as the wheel ships it (`faultline._channel`).
pub const PLUGIN_SOURCE: &str = include_str!("../../../python/faultline/_channel.py");
/// The module name the plugin has in the private folder.
pub const PLUGIN_MODULE: &str = "_faultline_channel";
/// Names the folder the plugin writes each process's log into.
pub const CHANNEL_ENV: &str = "FAULTLINE_PYTEST_CHANNEL";
/// Names the selection file (see `selection`).
pub const SELECT_ENV: &str = "FAULTLINE_PYTEST_SELECT";
/// Names the folder faultline appended to PYTHONPATH, so that a nested run can take it out.
pub const PATH_ENV: &str = "FAULTLINE_PYTEST_PATH";

/// A run's private channel folder: `python/` (the plugin) and `log/` (what pytest wrote).
/// Removed when dropped.
#[derive(Debug)]
pub struct Channel {
    root: tempfile::TempDir,
}

impl Channel {
    /// Creates the folder in `base` (the temp dir), mode 0700.
    pub fn create_in(base: &Path) -> io::Result<Channel> {
        let context = |e: io::Error| {
            io::Error::new(e.kind(), format!("cannot create the pytest channel in {}: {e}", base.display()))
        };
        let root = tempfile::Builder::new().prefix("faultline-pytest-").tempdir_in(base).map_err(context)?;
        std::fs::create_dir(root.path().join("python")).map_err(context)?;
        std::fs::create_dir(root.path().join("log")).map_err(context)?;
        std::fs::write(root.path().join("python").join(format!("{PLUGIN_MODULE}.py")), PLUGIN_SOURCE)
            .map_err(context)?;
        Ok(Channel { root })
    }

    /// Where the plugin writes: one `<pid>.jsonl` per pytest process.
    pub fn log_dir(&self) -> PathBuf {
        self.root.path().join("log")
    }

    /// The private folder itself, for the run's other files (selections, trial reports).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    fn python_dir(&self) -> PathBuf {
        self.root.path().join("python")
    }

    /// Empties the log folder, for the next run of the same command (keep-going, bisect).
    pub fn clear(&self) -> io::Result<()> {
        for entry in std::fs::read_dir(self.log_dir())? {
            std::fs::remove_file(entry?.path())?;
        }
        Ok(())
    }

    /// Sets the variables that load the plugin into `vars`, the command's environment.
    pub fn add_to(&self, vars: &mut Vec<(OsString, OsString)>) {
        let ours = self.python_dir().into_os_string();
        let inherited = take(vars, PATH_ENV);
        let python_path = take(vars, "PYTHONPATH");
        vars.push(("PYTHONPATH".into(), append_path(python_path.as_deref(), inherited.as_deref(), &ours)));
        let plugins = take(vars, "PYTEST_PLUGINS");
        vars.push(("PYTEST_PLUGINS".into(), append_plugin(plugins.as_deref())));
        take(vars, CHANNEL_ENV);
        vars.push((CHANNEL_ENV.into(), self.log_dir().into_os_string()));
        vars.push((PATH_ENV.into(), ours));
    }
}

/// Removes `key` from `vars`, returning its last value.
fn take(vars: &mut Vec<(OsString, OsString)>, key: &str) -> Option<OsString> {
    let mut value = None;
    vars.retain(|(k, v)| {
        if k == key {
            value = Some(v.clone());
            false
        } else {
            true
        }
    });
    value
}

/// `existing` with `ours` appended, and without an outer run's folder (`inherited`).
/// An empty entry (the current folder, for Python) is kept where it was.
fn append_path(existing: Option<&OsStr>, inherited: Option<&OsStr>, ours: &OsStr) -> OsString {
    let mut entries: Vec<&[u8]> = match existing {
        Some(value) if !value.is_empty() => value.as_bytes().split(|&b| b == b':').collect(),
        _ => Vec::new(),
    };
    if let Some(outer) = inherited.filter(|o| !o.is_empty()) {
        if let Some(at) = entries.iter().rposition(|entry| *entry == outer.as_bytes()) {
            entries.remove(at);
        }
    }
    entries.push(ours.as_bytes());
    OsString::from(std::ffi::OsStr::from_bytes(&entries.join(&b':')))
}

/// The user's PYTEST_PLUGINS with our module added once.
fn append_plugin(existing: Option<&OsStr>) -> OsString {
    let existing = existing.map(|v| v.to_string_lossy().into_owned()).unwrap_or_default();
    let mut plugins: Vec<&str> =
        existing.split(',').map(str::trim).filter(|p| !p.is_empty() && *p != PLUGIN_MODULE).collect();
    plugins.push(PLUGIN_MODULE);
    plugins.join(",").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(vars: &'a [(OsString, OsString)], key: &str) -> Option<&'a OsStr> {
        vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_os_str())
    }

    #[test]
    fn the_users_pythonpath_keeps_its_entries_first_and_ours_comes_last() {
        let ours = OsStr::new("/tmp/f/python");
        assert_eq!(append_path(None, None, ours), "/tmp/f/python");
        assert_eq!(append_path(Some(OsStr::new("")), None, ours), "/tmp/f/python");
        assert_eq!(append_path(Some(OsStr::new("src:lib")), None, ours), "src:lib:/tmp/f/python");
        // A trailing empty entry means the current folder: it stays.
        assert_eq!(append_path(Some(OsStr::new("src:")), None, ours), "src::/tmp/f/python");
    }

    #[test]
    fn a_nested_run_replaces_the_outer_runs_folder() {
        let ours = OsStr::new("/tmp/inner/python");
        let outer = OsStr::new("/tmp/outer/python");
        assert_eq!(append_path(Some(OsStr::new("src:/tmp/outer/python")), Some(outer), ours), "src:/tmp/inner/python");
    }

    #[test]
    fn the_plugin_is_named_once_after_the_users_plugins() {
        assert_eq!(append_plugin(None), PLUGIN_MODULE);
        assert_eq!(append_plugin(Some(OsStr::new("myplugin"))), OsString::from(format!("myplugin,{PLUGIN_MODULE}")));
        assert_eq!(
            append_plugin(Some(OsStr::new(&format!("{PLUGIN_MODULE},a")))),
            OsString::from(format!("a,{PLUGIN_MODULE}"))
        );
    }

    #[test]
    fn the_channel_folder_holds_the_plugin_and_goes_when_dropped() {
        let base = tempfile::tempdir().unwrap();
        let channel = Channel::create_in(base.path()).unwrap();
        let plugin = channel.python_dir().join(format!("{PLUGIN_MODULE}.py"));
        assert_eq!(std::fs::read_to_string(&plugin).unwrap(), PLUGIN_SOURCE);
        let mut vars = vec![("PYTHONPATH".into(), "src".into()), ("HOME".into(), "/root".into())];
        channel.add_to(&mut vars);
        assert_eq!(value(&vars, CHANNEL_ENV), Some(channel.log_dir().as_os_str()));
        assert_eq!(value(&vars, "PYTHONPATH").unwrap(), format!("src:{}", channel.python_dir().display()).as_str());
        assert_eq!(value(&vars, "HOME").unwrap(), "/root");
        std::fs::write(channel.log_dir().join("1.jsonl"), "{}\n").unwrap();
        channel.clear().unwrap();
        assert_eq!(std::fs::read_dir(channel.log_dir()).unwrap().count(), 0);
        let root = channel.root.path().to_owned();
        drop(channel);
        assert!(!root.exists());
    }
}
