//! `--core-dumps` and `--max-fds`: which limits the child sets, decided from our own limits.
//!
//! Our limits and privileges come from `/proc/self` text (pure parsers below), so the
//! planning is tested on pasted text and no `unsafe` is needed outside `trace`.

use super::ChildRlimit;
use crate::settings::RunSettings;
use std::io;

pub const RLIM_INFINITY: u64 = libc::RLIM_INFINITY;

/// `CAP_SYS_RESOURCE` lets a process raise its hard limits (up to `fs.nr_open` for files).
const CAP_SYS_RESOURCE: u32 = 24;

/// What the plan starts from: our (soft, hard) limits, which the child inherits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CurrentLimits {
    pub core: (u64, u64),
    pub nofile: (u64, u64),
    pub can_raise_hard: bool,
    /// The kernel's ceiling for RLIMIT_NOFILE, even with privilege.
    pub nr_open: Option<u64>,
    /// `kernel.core_pattern`, when it sends cores away from the working directory.
    pub core_pattern: Option<String>,
}

impl CurrentLimits {
    pub fn read() -> io::Result<CurrentLimits> {
        let limits = read_proc("/proc/self/limits")?;
        let status = read_proc("/proc/self/status")?;
        let missing = |what: &str| io::Error::other(format!("/proc/self/limits has no {what:?} line"));
        Ok(CurrentLimits {
            core: parse_proc_limit(&limits, "Max core file size").ok_or_else(|| missing("Max core file size"))?,
            nofile: parse_proc_limit(&limits, "Max open files").ok_or_else(|| missing("Max open files"))?,
            can_raise_hard: has_capability(&status, CAP_SYS_RESOURCE),
            nr_open: std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|t| t.trim().parse().ok()),
            core_pattern: std::fs::read_to_string("/proc/sys/kernel/core_pattern")
                .ok()
                .and_then(|t| remote_core_pattern(&t)),
        })
    }
}

fn read_proc(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path).map_err(|e| io::Error::new(e.kind(), format!("cannot read {path}: {e}")))
}

/// The limits to set and one line describing each option, or why `--max-fds` cannot be met.
pub(super) fn plan(settings: &RunSettings, now: &CurrentLimits) -> Result<(Vec<ChildRlimit>, Vec<String>), String> {
    let mut limits = Vec::new();
    let mut described = Vec::new();
    if settings.core_dumps == Some(true) {
        let (soft, hard) = now.core;
        // Raising soft to hard is always allowed. Raising hard needs CAP_SYS_RESOURCE in the
        // initial user namespace, which the capability set cannot tell from a container's
        // own; so the always-allowed step comes first and a refused second step leaves it in place.
        limits.push(ChildRlimit { resource: libc::RLIMIT_CORE, soft: hard, hard });
        let target = if hard != RLIM_INFINITY && now.can_raise_hard {
            limits.push(ChildRlimit { resource: libc::RLIMIT_CORE, soft: RLIM_INFINITY, hard: RLIM_INFINITY });
            RLIM_INFINITY
        } else {
            hard
        };
        let mut line = format!("core-dumps: core file size limit {} (was {})", show(target), show(soft));
        if let Some(pattern) = &now.core_pattern {
            line.push_str(&format!("; cores go where kernel.core_pattern says: {pattern}"));
        }
        described.push(line);
    }
    if let Some(n) = settings.max_fds {
        check_max_fds(n, now)?;
        limits.push(ChildRlimit { resource: libc::RLIMIT_NOFILE, soft: n, hard: n });
        described.push(format!("max-fds: open files per process limited to {n} (was {})", show(now.nofile.0)));
    }
    Ok((limits, described))
}

fn check_max_fds(n: u64, now: &CurrentLimits) -> Result<(), String> {
    if n == 0 {
        return Err("--max-fds 0: a process needs at least one open file to start".to_owned());
    }
    let hard = now.nofile.1;
    if n <= hard {
        return Ok(());
    }
    if !now.can_raise_hard {
        return Err(format!(
            "--max-fds {n} is above the hard limit on open files ({hard}), which only root \
             (CAP_SYS_RESOURCE) may raise; use at most {hard}, or raise it first (ulimit -Hn)"
        ));
    }
    match now.nr_open {
        Some(ceiling) if n > ceiling => Err(format!(
            "--max-fds {n} is above the kernel's maximum of open files per process (fs.nr_open = {ceiling})"
        )),
        _ => Ok(()),
    }
}

/// `kernel.core_pattern` when it sends cores somewhere other than the working
/// directory (a pipe to systemd-coredump or apport, or an absolute path): people look for
/// `core` files next to the tests and find none.
fn remote_core_pattern(text: &str) -> Option<String> {
    let pattern = text.trim();
    (pattern.starts_with('|') || pattern.starts_with('/')).then(|| pattern.to_owned())
}

/// (soft, hard) from `/proc/<pid>/limits` for the row named `name` (`Max open files`);
/// `unlimited` is RLIM_INFINITY.
pub fn parse_proc_limit(text: &str, name: &str) -> Option<(u64, u64)> {
    let row = text.lines().find_map(|line| line.strip_prefix(name).filter(|rest| rest.starts_with(' ')))?;
    let mut fields = row.split_whitespace();
    let mut value = || match fields.next()? {
        "unlimited" => Some(RLIM_INFINITY),
        number => number.parse().ok(),
    };
    Some((value()?, value()?))
}

/// Whether the `CapEff:` mask of `/proc/<pid>/status` has capability `bit`.
pub(super) fn has_capability(status: &str, bit: u32) -> bool {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << bit) != 0)
}

fn show(value: u64) -> String {
    if value == RLIM_INFINITY {
        "unlimited".to_owned()
    } else {
        value.to_string()
    }
}

/// A limit's value for people: sizes for byte limits, plain numbers for counts.
pub(super) fn show_limit(resource: libc::__rlimit_resource_t, value: u64) -> String {
    match resource {
        _ if value == RLIM_INFINITY => "unlimited".to_owned(),
        libc::RLIMIT_AS
        | libc::RLIMIT_DATA
        | libc::RLIMIT_STACK
        | libc::RLIMIT_CORE
        | libc::RLIMIT_FSIZE
        | libc::RLIMIT_RSS
        | libc::RLIMIT_MEMLOCK => crate::units::format_size(value),
        _ => value.to_string(),
    }
}

pub fn resource_name(resource: libc::__rlimit_resource_t) -> &'static str {
    match resource {
        libc::RLIMIT_AS => "RLIMIT_AS",
        libc::RLIMIT_CORE => "RLIMIT_CORE",
        libc::RLIMIT_CPU => "RLIMIT_CPU",
        libc::RLIMIT_DATA => "RLIMIT_DATA",
        libc::RLIMIT_FSIZE => "RLIMIT_FSIZE",
        libc::RLIMIT_MEMLOCK => "RLIMIT_MEMLOCK",
        libc::RLIMIT_NOFILE => "RLIMIT_NOFILE",
        libc::RLIMIT_NPROC => "RLIMIT_NPROC",
        libc::RLIMIT_RSS => "RLIMIT_RSS",
        libc::RLIMIT_STACK => "RLIMIT_STACK",
        _ => "resource limit",
    }
}
