//! An in-memory cgroup v2 tree that follows the kernel rules the cgroup code depends on:
//! controllers flow from a parent's `subtree_control`, no internal processes outside the
//! root, control files exist only where the kernel makes them, busy cgroups cannot go.

use super::cgroup::CgroupFs;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    pub procs: BTreeSet<u32>,
    pub controllers: BTreeSet<String>,
    pub subtree: BTreeSet<String>,
    pub files: BTreeMap<String, String>,
}

pub(crate) struct FakeV2 {
    pub root: PathBuf,
    pub nodes: Mutex<BTreeMap<PathBuf, Node>>,
}

fn busy() -> io::Error {
    io::Error::from_raw_os_error(libc::EBUSY)
}

fn not_found() -> io::Error {
    io::Error::from(io::ErrorKind::NotFound)
}

impl FakeV2 {
    /// A root with the memory controller, and `own` (created) holding `procs`.
    pub(crate) fn new(own: &Path, procs: &[u32]) -> FakeV2 {
        let root = PathBuf::from("/sys/fs/cgroup");
        let mut nodes = BTreeMap::new();
        let all: BTreeSet<String> = ["cpu", "memory", "pids"].iter().map(|s| s.to_string()).collect();
        nodes.insert(root.clone(), Node { controllers: all.clone(), subtree: all.clone(), ..Node::default() });
        let own_node = Node { procs: procs.iter().copied().collect(), controllers: all, ..Node::default() };
        nodes.insert(own.to_path_buf(), own_node);
        FakeV2 { root, nodes: Mutex::new(nodes) }
    }

    pub(crate) fn node(&self, path: &Path) -> Option<Node> {
        self.nodes.lock().ok()?.get(path).cloned()
    }

    pub(crate) fn children(&self, path: &Path) -> Vec<PathBuf> {
        let nodes = self.nodes.lock().expect("lock");
        nodes.keys().filter(|p| p.parent() == Some(path)).cloned().collect()
    }
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let dir = path.parent().ok_or_else(not_found)?.to_path_buf();
    let file = path.file_name().ok_or_else(not_found)?.to_string_lossy().into_owned();
    Ok((dir, file))
}

fn words(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(" ") + "\n"
}

impl CgroupFs for FakeV2 {
    fn read(&self, path: &Path) -> io::Result<String> {
        let (dir, file) = split(path)?;
        let nodes = self.nodes.lock().map_err(|_| busy())?;
        let node = nodes.get(&dir).ok_or_else(not_found)?;
        match file.as_str() {
            "cgroup.procs" => Ok(node.procs.iter().map(|p| format!("{p}\n")).collect()),
            "cgroup.controllers" => Ok(words(&node.controllers)),
            "cgroup.subtree_control" => Ok(words(&node.subtree)),
            other => node.files.get(other).cloned().ok_or_else(not_found),
        }
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        let (dir, file) = split(path)?;
        let is_root = dir == self.root;
        let mut nodes = self.nodes.lock().map_err(|_| busy())?;
        let node = nodes.get(&dir).ok_or_else(not_found)?.clone();
        match file.as_str() {
            "cgroup.subtree_control" => {
                let (on, name) = value.split_at(1);
                let mut node = node;
                if on == "+" {
                    if !node.controllers.contains(name) || (!is_root && !node.procs.is_empty()) {
                        return Err(busy());
                    }
                    node.subtree.insert(name.to_owned());
                } else {
                    node.subtree.remove(name);
                }
                nodes.insert(dir, node);
            }
            "cgroup.procs" => {
                let pid: u32 = value.trim().parse().map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                if !is_root && !node.subtree.is_empty() {
                    return Err(busy());
                }
                for other in nodes.values_mut() {
                    other.procs.remove(&pid);
                }
                nodes.get_mut(&dir).ok_or_else(not_found)?.procs.insert(pid);
            }
            other => {
                let slot = nodes.get_mut(&dir).ok_or_else(not_found)?.files.get_mut(other).ok_or_else(not_found)?;
                *slot = value.to_owned();
            }
        }
        Ok(())
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        let parent = path.parent().ok_or_else(not_found)?;
        let mut nodes = self.nodes.lock().map_err(|_| busy())?;
        if nodes.contains_key(path) {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        let controllers = nodes.get(parent).ok_or_else(not_found)?.subtree.clone();
        let mut files = BTreeMap::new();
        if controllers.contains("memory") {
            for (name, value) in [("memory.max", "max"), ("memory.high", "max"), ("memory.swap.max", "max")] {
                files.insert(name.to_owned(), value.to_owned());
            }
            files.insert("memory.events".to_owned(), "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n".to_owned());
        }
        nodes.insert(path.to_path_buf(), Node { controllers, files, ..Node::default() });
        Ok(())
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        let mut nodes = self.nodes.lock().map_err(|_| busy())?;
        let node = nodes.get(path).ok_or_else(not_found)?;
        let has_children = nodes.keys().any(|p| p.parent() == Some(path));
        if !node.procs.is_empty() || has_children {
            return Err(busy());
        }
        nodes.remove(path);
        Ok(())
    }
}
