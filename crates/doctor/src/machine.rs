//! Machine checks: memory, disk, open-file and process limits, overcommit policy.

use super::Check;
use crate::units::format_size;
use std::path::Path;

const GIB: u64 = 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix("MemAvailable:")?;
        let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    })
}

pub fn memory_check(available: Option<u64>) -> Check {
    const ID: &str = "machine.memory";
    match available {
        None => Check::skip(ID, "MemAvailable not found in /proc/meminfo"),
        Some(bytes) if bytes < 256 * MIB => Check::fail(
            ID,
            format!("only {} of memory available", format_size(bytes)),
            "free memory (close programs, stop containers) or run on a bigger machine: allocations will fail or the OOM killer will strike",
        ),
        Some(bytes) if bytes < GIB => Check::warn(
            ID,
            format!("only {} of memory available", format_size(bytes)),
            "free memory, or run fewer workers (pytest -n); `faultline run --max-memory` stops a runaway test with stacks",
        ),
        Some(bytes) => Check::ok(ID, format!("{} of memory available", format_size(bytes))),
    }
}

pub fn disk_check(id: &str, what: &str, path: &Path, free: Option<u64>) -> Check {
    match free {
        None => Check::skip(id, format!("cannot read free space of {what} {}", path.display())),
        Some(bytes) if bytes < 100 * MIB => Check::fail(
            id,
            format!("only {} free on {what} {}", format_size(bytes), path.display()),
            "free disk space: writes (and core dumps) will fail with ENOSPC",
        ),
        Some(bytes) if bytes < GIB => Check::warn(
            id,
            format!("only {} free on {what} {}", format_size(bytes), path.display()),
            "free disk space: caches, temp files and core dumps may not fit",
        ),
        Some(bytes) => Check::ok(id, format!("{} free on {what} {}", format_size(bytes), path.display())),
    }
}

/// A soft limit; `None` is unlimited.
pub fn open_files_check(soft: Option<u64>) -> Check {
    const ID: &str = "machine.open-files";
    match soft {
        Some(n) if n < 1024 => Check::warn(
            ID,
            format!("open-file limit is {n} (ulimit -n)"),
            "raise it (`ulimit -n 4096`): libraries that open many files or sockets fail with EMFILE, some by crashing",
        ),
        Some(n) => Check::ok(ID, format!("open-file limit is {n}")),
        None => Check::ok(ID, "open-file limit is unlimited"),
    }
}

pub fn processes_check(soft: Option<u64>) -> Check {
    const ID: &str = "machine.processes";
    match soft {
        Some(n) if n < 256 => Check::warn(
            ID,
            format!("process limit is {n} (ulimit -u)"),
            "raise it (`ulimit -u 4096`): thread pools and pytest-xdist workers fail to start (EAGAIN) under a low limit",
        ),
        Some(n) => Check::ok(ID, format!("process limit is {n}")),
        None => Check::ok(ID, "process limit is unlimited"),
    }
}

/// `/proc/sys/vm/overcommit_memory`.
pub fn overcommit_check(text: Option<&str>) -> Check {
    const ID: &str = "machine.overcommit";
    match text.map(str::trim) {
        Some("0") => Check::ok(ID, "memory overcommit: heuristic (0)"),
        Some("1") => Check::ok(ID, "memory overcommit: always (1)"),
        Some("2") => Check::warn(
            ID,
            "memory overcommit is strict (vm.overcommit_memory = 2)",
            "large allocations fail early with MemoryError (or a NULL malloc that C code may not check); set vm.overcommit_memory=0 or raise vm.overcommit_ratio",
        ),
        Some(other) => Check::skip(ID, format!("unknown overcommit policy {other:?}")),
        None => Check::skip(ID, "cannot read /proc/sys/vm/overcommit_memory"),
    }
}

/// A soft resource limit; `Ok(None)` is unlimited.
pub(crate) fn soft_limit(resource: libc::__rlimit_resource_t) -> Option<Option<u64>> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    let rc = unsafe { libc::getrlimit(resource, &mut limit) };
    if rc != 0 {
        return None;
    }
    Some((limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur))
}

fn free_space(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a zeroed statvfs is valid; statvfs writes into it.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

pub fn checks(cwd: &Path) -> Vec<Check> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let tmp = std::env::temp_dir();
    vec![
        memory_check(meminfo.as_deref().and_then(parse_mem_available)),
        disk_check("machine.disk.cwd", "the working directory", cwd, free_space(cwd)),
        disk_check("machine.disk.tmp", "the temp directory", &tmp, free_space(&tmp)),
        match soft_limit(libc::RLIMIT_NOFILE) {
            Some(soft) => open_files_check(soft),
            None => Check::skip("machine.open-files", "cannot read RLIMIT_NOFILE"),
        },
        match soft_limit(libc::RLIMIT_NPROC) {
            Some(soft) => processes_check(soft),
            None => Check::skip("machine.processes", "cannot read RLIMIT_NPROC"),
        },
        overcommit_check(std::fs::read_to_string("/proc/sys/vm/overcommit_memory").ok().as_deref()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn meminfo() {
        let text = "MemTotal:        8049016 kB\nMemFree:          211840 kB\nMemAvailable:    5242880 kB\n";
        assert_eq!(parse_mem_available(text), Some(5242880 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(memory_check(Some(5 * GIB)).status, Status::Ok);
        assert_eq!(memory_check(Some(512 * MIB)).status, Status::Warn);
        assert_eq!(memory_check(Some(100 * MIB)).status, Status::Fail);
    }

    #[test]
    fn disk_and_limits() {
        let p = Path::new("/x");
        assert_eq!(disk_check("d", "x", p, Some(50 * MIB)).status, Status::Fail);
        assert_eq!(disk_check("d", "x", p, Some(500 * MIB)).status, Status::Warn);
        assert_eq!(disk_check("d", "x", p, Some(5 * GIB)).status, Status::Ok);
        assert_eq!(open_files_check(Some(256)).status, Status::Warn);
        assert_eq!(open_files_check(None).status, Status::Ok);
        assert_eq!(processes_check(Some(100)).status, Status::Warn);
    }

    #[test]
    fn overcommit() {
        assert_eq!(overcommit_check(Some("0\n")).status, Status::Ok);
        assert_eq!(overcommit_check(Some("2\n")).status, Status::Warn);
        assert_eq!(overcommit_check(None).status, Status::Skip);
    }
}
