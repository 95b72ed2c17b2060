//! Crash-capture readiness: may faultline trace its children, and where do core dumps go.

use super::machine::soft_limit;
use super::Check;
use crate::units::format_size;

/// What `/proc/self/status` says about ptrace: effective capabilities and seccomp mode.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatusFacts {
    pub cap_sys_ptrace: bool,
    pub seccomp: Option<u32>,
}

pub fn parse_status(status: &str) -> StatusFacts {
    let mut facts = StatusFacts::default();
    for line in status.lines() {
        if let Some(hex) = line.strip_prefix("CapEff:") {
            if let Ok(bits) = u64::from_str_radix(hex.trim(), 16) {
                facts.cap_sys_ptrace = bits & (1 << 19) != 0;
            }
        } else if let Some(mode) = line.strip_prefix("Seccomp:") {
            facts.seccomp = mode.trim().parse().ok();
        }
    }
    facts
}

/// Yama's `ptrace_scope` (None: no Yama) with the process's status facts and, when it was
/// tried, the result of actually seizing a child (`Err` holds the error).
pub fn ptrace_check(yama_scope: Option<&str>, status: StatusFacts, tried: Option<Result<(), String>>) -> Check {
    const ID: &str = "capture.ptrace";
    let scope: Option<u32> = yama_scope.and_then(|s| s.trim().parse().ok());
    let seccomp_note = if status.seccomp == Some(2) { ", under a seccomp filter" } else { "" };
    match tried {
        Some(Ok(())) => {
            let how = scope.map(|n| format!("Yama scope {n}")).unwrap_or_else(|| "no Yama".to_owned());
            return Check::ok(ID, format!("ptrace works: seized a test child ({how}{seccomp_note})"));
        }
        Some(Err(err)) => {
            let why = match scope {
                Some(3) => "kernel.yama.ptrace_scope = 3".to_owned(),
                Some(2) if !status.cap_sys_ptrace => "kernel.yama.ptrace_scope = 2 without CAP_SYS_PTRACE".to_owned(),
                _ if status.seccomp == Some(2) => "most likely the seccomp filter".to_owned(),
                _ => "no Yama or seccomp reason found".to_owned(),
            };
            return Check::fail(
                ID,
                format!("ptrace is not permitted: seizing a test child failed with {err} ({why}); crashes cannot be captured"),
                "run with CAP_SYS_PTRACE (`docker run --cap-add SYS_PTRACE`), allow ptrace in the seccomp profile, or lower kernel.yama.ptrace_scope",
            );
        }
        None => {}
    }
    match scope {
        Some(3) => {
            return Check::fail(
                ID,
                "ptrace is disabled (kernel.yama.ptrace_scope = 3)",
                "crashes cannot be captured on this machine: faultline runs the command without capture; scope 3 can only be lowered by a reboot",
            )
        }
        Some(2) if !status.cap_sys_ptrace => {
            return Check::fail(
                ID,
                "ptrace needs CAP_SYS_PTRACE (kernel.yama.ptrace_scope = 2) and this process does not have it",
                "run with CAP_SYS_PTRACE (`docker run --cap-add SYS_PTRACE`) or set kernel.yama.ptrace_scope to 1",
            )
        }
        _ => {}
    }
    if status.seccomp == Some(2) {
        return Check::warn(
            ID,
            "a seccomp filter is active; it may block ptrace",
            "if `faultline run` says ptrace is not permitted, allow ptrace in the container's seccomp profile (`--security-opt seccomp=unconfined` or `--cap-add SYS_PTRACE` with Docker ≥ 19.03)",
        );
    }
    let how = match scope {
        None => "no Yama restrictions".to_owned(),
        Some(2) => "Yama scope 2, with CAP_SYS_PTRACE".to_owned(),
        Some(n) => format!("Yama scope {n}: faultline traces its own children"),
    };
    Check::ok(ID, format!("ptrace allowed ({how}{seccomp_note})"))
}

/// RLIMIT_CORE soft limit (None: unlimited).
pub fn core_size_check(soft: Option<u64>) -> Check {
    const ID: &str = "capture.core-size";
    match soft {
        Some(0) => Check::warn(
            ID,
            "core dumps are disabled (ulimit -c 0)",
            "use `faultline run --core-dumps` (or `ulimit -c unlimited`) to keep a core file for gdb",
        ),
        Some(n) => Check::ok(ID, format!("core-file size limit is {}", format_size(n))),
        None => Check::ok(ID, "core-file size limit is unlimited"),
    }
}

/// `/proc/sys/kernel/core_pattern`: where cores go.
pub fn core_pattern_check(pattern: Option<&str>) -> Check {
    const ID: &str = "capture.core-pattern";
    let Some(pattern) = pattern.map(str::trim) else {
        return Check::skip(ID, "cannot read /proc/sys/kernel/core_pattern");
    };
    if let Some(pipe) = pattern.strip_prefix('|') {
        let program = pipe.split_whitespace().next().unwrap_or("");
        let name = program.rsplit('/').next().unwrap_or(program);
        let finding = if name.contains("systemd-coredump") {
            "core dumps go to systemd-coredump: list them with `coredumpctl list`, open one with `coredumpctl gdb`"
                .to_owned()
        } else if name.contains("apport") {
            "core dumps go to apport: reports land in /var/crash (unpack with `apport-unpack`)".to_owned()
        } else {
            format!("core dumps are piped to {program}")
        };
        return Check::ok(ID, finding);
    }
    if pattern.starts_with('/') {
        Check::ok(ID, format!("core dumps are written to {pattern}"))
    } else {
        Check::ok(ID, format!("core dumps are written as {pattern:?} in the crashing process's working directory"))
    }
}

/// Really tries: starts `sleep`, seizes it (as faultline seizes its command), kills it.
/// `None` when no test child could be started. Under a seccomp filter that kills whoever
/// calls ptrace, a throwaway child finds that out first, so doctor lives to say it.
fn try_ptrace() -> Option<Result<(), String>> {
    use nix::sys::ptrace;
    use nix::unistd::Pid;
    if crate::trace::ptrace_kills_the_caller() {
        return Some(Err("a seccomp filter kills any process that calls ptrace".to_owned()));
    }
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let result = ptrace::seize(Pid::from_raw(child.id() as i32), ptrace::Options::empty())
        .map_err(|errno| errno.desc().to_owned());
    let _ = child.kill();
    let _ = child.wait();
    Some(result)
}

pub fn checks() -> Vec<Check> {
    let yama = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").ok();
    let status = std::fs::read_to_string("/proc/self/status").map(|s| parse_status(&s)).unwrap_or_default();
    vec![
        ptrace_check(yama.as_deref(), status, try_ptrace()),
        match soft_limit(libc::RLIMIT_CORE) {
            Some(soft) => core_size_check(soft),
            None => Check::skip("capture.core-size", "cannot read RLIMIT_CORE"),
        },
        core_pattern_check(std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok().as_deref()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn status_facts() {
        let text = "Name:\tcat\nCapEff:\t00000000a80425fb\nSeccomp:\t2\n";
        assert_eq!(parse_status(text), StatusFacts { cap_sys_ptrace: false, seccomp: Some(2) });
        let root = "CapEff:\t000001ffffffffff\nSeccomp:\t0\n";
        assert!(parse_status(root).cap_sys_ptrace);
    }

    #[test]
    fn ptrace_scopes() {
        let plain = StatusFacts { cap_sys_ptrace: false, seccomp: Some(0) };
        assert_eq!(ptrace_check(Some("1\n"), plain, None).status, Status::Ok);
        assert_eq!(ptrace_check(None, plain, None).status, Status::Ok);
        assert_eq!(ptrace_check(Some("2\n"), plain, None).status, Status::Fail);
        assert_eq!(ptrace_check(Some("2\n"), StatusFacts { cap_sys_ptrace: true, ..plain }, None).status, Status::Ok);
        assert_eq!(ptrace_check(Some("3\n"), plain, None).status, Status::Fail);
        assert_eq!(ptrace_check(Some("1"), StatusFacts { seccomp: Some(2), ..plain }, None).status, Status::Warn);
        assert_eq!(ptrace_check(Some("1"), StatusFacts { seccomp: Some(2), ..plain }, Some(Ok(()))).status, Status::Ok);
        let refused = ptrace_check(Some("3"), plain, Some(Err("Operation not permitted".into())));
        assert_eq!(refused.status, Status::Fail);
        assert!(refused.finding.contains("ptrace_scope = 3"), "{refused:?}");
    }

    #[test]
    fn cores() {
        assert_eq!(core_size_check(Some(0)).status, Status::Warn);
        assert_eq!(core_size_check(None).status, Status::Ok);
        let systemd =
            core_pattern_check(Some("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h\n"));
        assert!(systemd.finding.contains("coredumpctl"), "{systemd:?}");
        let apport = core_pattern_check(Some("|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E"));
        assert!(apport.finding.contains("/var/crash"));
        assert!(core_pattern_check(Some("core")).finding.contains("working directory"));
    }
}
