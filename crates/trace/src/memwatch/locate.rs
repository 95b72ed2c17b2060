//! Where our own cgroup is: in the cgroup2 hierarchy and in the v1 `memory` hierarchy, from
//! the texts of `/proc/self/mountinfo` and `/proc/self/cgroup`. Pure.

use std::path::{Component, Path, PathBuf};

/// Our own cgroup's directory in each hierarchy that could limit memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OwnCgroups {
    pub v2: Option<PathBuf>,
    pub v1_memory: Option<PathBuf>,
}

struct Mount {
    root: PathBuf,
    mount_point: PathBuf,
    fs_type: String,
    super_options: String,
}

pub(crate) fn locate(mountinfo: &str, proc_cgroup: &str) -> OwnCgroups {
    let mounts: Vec<Mount> = mountinfo.lines().filter_map(parse_mount).collect();
    let mut own = OwnCgroups::default();
    for line in proc_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            let v2 = mounts.iter().filter(|m| m.fs_type == "cgroup2");
            own.v2 = v2.filter_map(|m| dir_in(m, path)).next();
        } else if controllers.split(',').any(|c| c == "memory") {
            let v1 = mounts.iter().filter(|m| m.fs_type == "cgroup" && has_option(&m.super_options, "memory"));
            own.v1_memory = v1.filter_map(|m| dir_in(m, path)).next();
        }
    }
    own
}

fn has_option(options: &str, name: &str) -> bool {
    options.split(',').any(|o| o == name)
}

/// `36 25 0:32 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory`
fn parse_mount(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let mut right = right.split(' ');
    Some(Mount {
        root: PathBuf::from(unescape(left.get(3)?)),
        mount_point: PathBuf::from(unescape(left.get(4)?)),
        fs_type: right.next()?.to_owned(),
        super_options: right.nth(1).unwrap_or("").to_owned(),
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| u8::try_from(d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0'))).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of cgroup `path` under mount `m`, if the mount shows it. A path outside
/// our cgroup namespace (`/../..`) is never followed.
fn dir_in(m: &Mount, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path).strip_prefix(&m.root).ok()?;
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    if relative.as_os_str().is_empty() {
        return Some(m.mount_point.clone());
    }
    Some(m.mount_point.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
4:memory:/process_api/0577d0501c3b6ff81b5b0dd783518933
1:cpu:/
0::/
";

    #[test]
    fn hybrid_machine() {
        let own = locate(HYBRID_MOUNTS, HYBRID_CGROUP);
        assert_eq!(
            own.v1_memory.as_deref(),
            Some(Path::new("/sys/fs/cgroup/memory/process_api/0577d0501c3b6ff81b5b0dd783518933"))
        );
        assert_eq!(own.v2.as_deref(), Some(Path::new("/sys/fs/cgroup/unified")));
    }

    #[test]
    fn pure_v2_machine() {
        let mounts = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        let own = locate(mounts, "0::/user.slice/user-1000.slice/session-3.scope\n");
        assert_eq!(own.v2.as_deref(), Some(Path::new("/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope")));
        assert_eq!(own.v1_memory, None);
    }

    #[test]
    fn mount_of_a_subtree_and_escaped_paths() {
        // A container that sees only its own part of the hierarchy, mounted at a path with a space.
        let mounts = "50 40 0:32 /docker/abc /sys/fs/my\\040cgroup ro,relatime - cgroup cgroup rw,memory,cpu\n";
        let own = locate(mounts, "5:cpu,memory:/docker/abc/job\n");
        assert_eq!(own.v1_memory.as_deref(), Some(Path::new("/sys/fs/my cgroup/job")));
        // Our cgroup is outside what that mount shows.
        assert_eq!(locate(mounts, "5:cpu,memory:/docker/other\n").v1_memory, None);
        assert_eq!(locate(mounts, "5:cpu,memory:/docker/abcd\n").v1_memory, None);
        assert_eq!(unescape("a\\134b\\777\\04"), "a\\b\\777\\04");
    }

    #[test]
    fn paths_outside_the_namespace_are_not_followed() {
        let mounts = "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(locate(mounts, "0::/../../user.slice\n").v2, None);
        assert_eq!(locate("", HYBRID_CGROUP), OwnCgroups::default());
        assert_eq!(locate("garbage\n", "nonsense\n"), OwnCgroups::default());
    }
}

/// Property test (issue 9, A4): any mountinfo and cgroup text parses without a panic.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(faultline_model::fixtures::config())]

        #[test]
        fn any_mountinfo(mountinfo in faultline_model::fixtures::strategies::text(), cgroup in faultline_model::fixtures::strategies::text()) {
            let _ = super::locate(&mountinfo, &cgroup);
            let _ = super::unescape(&mountinfo);
        }
    }
}
