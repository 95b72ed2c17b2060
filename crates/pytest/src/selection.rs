//! Which tests a pytest should run: a JSON file named by `FAULTLINE_PYTEST_SELECT`, read by
//! the plugin at collection. The ids go through a file, not argv: 20,000 node ids (with
//! brackets, spaces, any characters) are one small file, and pytest's command line stays
//! the user's.

use serde::Serialize;
use std::io;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Selection {
    /// The node ids to run; every other collected test is deselected.
    pub tests: Vec<String>,
    /// Run them in this order (bisect's trials); otherwise pytest's own order is kept.
    pub ordered: bool,
    /// Run the last test this many times in a row (1: once).
    pub repeat: u32,
    /// pytest's `--maxfail` for this run, replacing the command line's (0: unset).
    pub maxfail: u32,
}

impl Selection {
    pub fn of(tests: Vec<String>) -> Selection {
        Selection { tests, ordered: false, repeat: 1, maxfail: 0 }
    }

    /// Writes the file for the plugin.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let text = serde_json::to_vec(self).map_err(io::Error::other)?;
        std::fs::write(path, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_any_node_id_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("select.json");
        let ids = vec!["t.py::test_x[a b]".to_owned(), "t.py::test_é[\"q\"]".to_owned()];
        Selection { ordered: true, repeat: 5, ..Selection::of(ids.clone()) }.write(&path).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["tests"], serde_json::json!(ids));
        assert_eq!(back["ordered"], true);
        assert_eq!(back["repeat"], 5);
    }
}
