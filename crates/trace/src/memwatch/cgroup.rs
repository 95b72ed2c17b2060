//! A child cgroup of our own cgroup (`faultline-<our pid>`, named by the caller) with a hard memory cap, for
//! cgroup v2 and for the v1 `memory` hierarchy. Every step may fail (no permission, no
//! delegation, no controller): creation then undoes what it did and returns `None`, so the
//! caller falls back to the next mechanism. Nothing outside our own cgroup is touched.
//!
//! cgroup v2 only gives a child the memory controller if our cgroup lists `memory` in
//! `cgroup.subtree_control`, and a non-root cgroup that has processes cannot turn it on
//! ("no internal processes"). When we are the only process of our cgroup we first move
//! ourselves into a leaf (`faultline-<pid>-self`), turn the controller on, and undo both at
//! removal; when others share our cgroup (a login shell) we give up and fall back.

use super::oom::parse_counter;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// The file operations a cgroup needs, so the v2 rules can be exercised on a fake.
pub(crate) trait CgroupFs {
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes to an existing control file; never creates one (a directory that is not a
    /// cgroup has none, so a misdetected hierarchy fails here instead of pretending).
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    fn rmdir(&self, path: &Path) -> io::Result<()>;
}

pub(crate) struct RealFs;

impl CgroupFs for RealFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        // One write call: the kernel takes each write to a control file as one command.
        std::fs::OpenOptions::new().write(true).open(path)?.write_all(value.as_bytes())
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

#[derive(Debug)]
pub(crate) struct Cgroup {
    version: Version,
    /// Our own cgroup, the parent of everything we create.
    own: PathBuf,
    /// The cgroup the tree runs in.
    dir: PathBuf,
    /// v2: we turned the memory controller on in our cgroup's `subtree_control`.
    enabled_memory: bool,
    /// v2: the leaf we moved ourselves into to make that possible.
    relocated: Option<PathBuf>,
    oom_baseline: u64,
    /// Set by `remove`: the kill count then, since the counters went with the directory.
    kills_at_removal: Option<u64>,
}

fn has_word(text: &str, word: &str) -> bool {
    text.split_ascii_whitespace().any(|w| w == word)
}

fn pids_in(fs: &dyn CgroupFs, dir: &Path) -> Vec<u32> {
    let text = fs.read(&dir.join("cgroup.procs")).unwrap_or_default();
    text.split_ascii_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// Moves every process of `from` to `to`; false if any stayed behind.
fn move_all(fs: &dyn CgroupFs, from: &Path, to: &Path) -> bool {
    let target = to.join("cgroup.procs");
    pids_in(fs, from).into_iter().all(|pid| fs.write(&target, &pid.to_string()).is_ok())
}

impl Cgroup {
    fn new(version: Version, own: &Path, name: &str) -> Cgroup {
        Cgroup {
            version,
            own: own.to_path_buf(),
            dir: own.join(name),
            enabled_memory: false,
            relocated: None,
            oom_baseline: 0,
            kills_at_removal: None,
        }
    }

    /// A v2 child `name` of `own` (we are process `self_pid`) with `memory.max = cap` and `memory.high = high` (the kernel
    /// throttles above `high`, which gives the watchdog time to act before `cap` kills).
    pub(crate) fn create_v2(
        fs: &dyn CgroupFs,
        own: &Path,
        name: &str,
        self_pid: u32,
        high: u64,
        cap: u64,
    ) -> Option<Cgroup> {
        if !has_word(&fs.read(&own.join("cgroup.controllers")).ok()?, "memory") {
            return None;
        }
        let mut cgroup = Cgroup::new(Version::V2, own, name);
        let subtree = own.join("cgroup.subtree_control");
        if !has_word(&fs.read(&subtree).unwrap_or_default(), "memory") {
            if fs.write(&subtree, "+memory").is_ok() {
                cgroup.enabled_memory = true;
            } else {
                cgroup.relocate_self(fs, self_pid)?;
            }
        }
        if !cgroup.make_dir(fs) || fs.write(&cgroup.dir.join("memory.max"), &cap.to_string()).is_err() {
            let _ = fs.rmdir(&cgroup.dir);
            cgroup.restore_own(fs);
            return None;
        }
        let _ = fs.write(&cgroup.dir.join("memory.high"), &high.to_string());
        // Swapping would keep RSS under the limit while the tree crawls: no swap for it.
        let _ = fs.write(&cgroup.dir.join("memory.swap.max"), "0");
        cgroup.oom_baseline = cgroup.oom_counter(fs);
        Some(cgroup)
    }

    /// A v1 `memory` child `name` of `own` with `memory.limit_in_bytes = cap`.
    pub(crate) fn create_v1(fs: &dyn CgroupFs, own: &Path, name: &str, cap: u64) -> Option<Cgroup> {
        let mut cgroup = Cgroup::new(Version::V1, own, name);
        if !cgroup.make_dir(fs) {
            return None;
        }
        if fs.write(&cgroup.dir.join("memory.limit_in_bytes"), &cap.to_string()).is_err() {
            let _ = fs.rmdir(&cgroup.dir);
            return None;
        }
        // With swap accounting on, cap memory + swap too, or the tree swaps instead of dying.
        let _ = fs.write(&cgroup.dir.join("memory.memsw.limit_in_bytes"), &cap.to_string());
        cgroup.oom_baseline = cgroup.oom_counter(fs);
        Some(cgroup)
    }

    /// v2, our cgroup has no controllers for its children: if we are its only process,
    /// move into a leaf of our own and turn the memory controller on.
    fn relocate_self(&mut self, fs: &dyn CgroupFs, self_pid: u32) -> Option<()> {
        if pids_in(fs, &self.own) != [self_pid] {
            return None;
        }
        let mut leaf_name = self.dir.file_name().unwrap_or_default().to_os_string();
        leaf_name.push("-self");
        let leaf = self.own.join(leaf_name);
        fs.mkdir(&leaf).ok()?;
        if fs.write(&leaf.join("cgroup.procs"), &self_pid.to_string()).is_err() {
            let _ = fs.rmdir(&leaf);
            return None;
        }
        self.relocated = Some(leaf);
        if fs.write(&self.own.join("cgroup.subtree_control"), "+memory").is_err() {
            self.restore_own(fs);
            return None;
        }
        self.enabled_memory = true;
        Some(())
    }

    /// Puts our own cgroup back as we found it (controller off, ourselves back in it).
    fn restore_own(&mut self, fs: &dyn CgroupFs) {
        if self.enabled_memory {
            let _ = fs.write(&self.own.join("cgroup.subtree_control"), "-memory");
            self.enabled_memory = false;
        }
        if let Some(leaf) = self.relocated.take() {
            if move_all(fs, &leaf, &self.own) {
                let _ = fs.rmdir(&leaf);
            }
        }
    }

    /// Creates the tree's directory, replacing a stale empty one left by an earlier run
    /// that had our pid.
    fn make_dir(&self, fs: &dyn CgroupFs) -> bool {
        match fs.mkdir(&self.dir) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs.rmdir(&self.dir).is_ok() && fs.mkdir(&self.dir).is_ok()
            }
            Err(_) => false,
        }
    }

    pub(crate) fn version(&self) -> Version {
        self.version
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn add(&self, fs: &dyn CgroupFs, pid: i32) -> io::Result<()> {
        fs.write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    fn oom_counter(&self, fs: &dyn CgroupFs) -> u64 {
        let file = match self.version {
            Version::V2 => "memory.events",
            Version::V1 => "memory.oom_control",
        };
        fs.read(&self.dir.join(file)).ok().and_then(|t| parse_counter(&t, "oom_kill")).unwrap_or(0)
    }

    /// OOM kills inside the cgroup since it was made.
    pub(crate) fn oom_kills(&self, fs: &dyn CgroupFs) -> u64 {
        match self.kills_at_removal {
            Some(kills) => kills,
            None => self.oom_counter(fs).saturating_sub(self.oom_baseline),
        }
    }

    /// Removes what we created. Processes still inside (daemons that outlived the run) are
    /// moved out first, back where they came from. Safe to call twice.
    pub(crate) fn remove(&mut self, fs: &dyn CgroupFs) {
        if self.kills_at_removal.is_some() {
            return;
        }
        self.kills_at_removal = Some(self.oom_kills(fs));
        let home = self.relocated.clone().unwrap_or_else(|| self.own.clone());
        move_all(fs, &self.dir, &home);
        let _ = fs.rmdir(&self.dir);
        self.restore_own(fs);
    }
}
