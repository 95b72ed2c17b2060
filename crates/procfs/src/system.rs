//! The report's `system` section: the machine and interpreter a run happened on, so that a
//! crash report read later (or on another machine) says where it came from.
//!
//! Every field is best effort: a value that cannot be read is `None`, never an error.
//! The `/proc` parsers are pure and tested on pasted text.

use crate::model::SystemInfo;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the interpreter may take to print its version. A healthy one needs ~20 ms;
/// this only guards against a wedged filesystem or a wrapper script that waits on stdin.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(2);

pub fn collect_system(python: Option<&Path>) -> SystemInfo {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    // These two files are uname(2)'s nodename and release, without needing `unsafe`.
    let host = read("/proc/sys/kernel/hostname").and_then(|t| non_empty(t.trim()));
    let kernel = read("/proc/sys/kernel/osrelease").and_then(|t| non_empty(t.trim()));
    let (memory_total_bytes, memory_available_bytes) =
        read("/proc/meminfo").map(|t| parse_meminfo(&t)).unwrap_or_default();
    SystemInfo {
        host,
        kernel,
        cpu_count: std::thread::available_parallelism().ok().map(usize::from),
        cpu_model: read("/proc/cpuinfo").and_then(|t| parse_cpu_model(&t)),
        memory_total_bytes,
        memory_available_bytes,
        python_version: python.and_then(|p| python_version(p, PYTHON_TIMEOUT)),
        faultline_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// (MemTotal, MemAvailable) in bytes from `/proc/meminfo` (which counts in kB = KiB).
pub fn parse_meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
            kib.checked_mul(1024)
        })
    };
    (field("MemTotal"), field("MemAvailable"))
}

/// The CPU's name from `/proc/cpuinfo`: `model name` on x86; older ARM kernels say
/// `Processor`, POWER says `cpu`. Modern arm64 kernels give only part numbers: `None`.
pub fn parse_cpu_model(text: &str) -> Option<String> {
    ["model name", "Processor", "cpu model", "cpu"].iter().find_map(|wanted| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == *wanted).then(|| non_empty(value.trim())).flatten()
        })
    })
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// Runs `<python> -S -c "import sys; print(sys.version.split()[0])"`. `-S` skips `site`
/// (and the project's `.pth` files and sitecustomize), which cannot change the version but
/// can be slow or print.
fn python_version(python: &Path, timeout: Duration) -> Option<String> {
    let mut child = Command::new(python)
        .args(["-S", "-c", "import sys; print(sys.version.split()[0])"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let (send, receive) = mpsc::channel();
    // A reader thread, so that waiting has a deadline; if the interpreter hangs we kill it,
    // which closes the pipe and ends the thread.
    std::thread::spawn(move || {
        let mut text = String::new();
        let ok = stdout.by_ref().take(4096).read_to_string(&mut text).is_ok();
        let _ = send.send(ok.then_some(text));
    });
    let output = receive.recv_timeout(timeout).ok().flatten();
    if output.is_none() {
        let _ = child.kill();
    }
    let status = child.wait().ok()?;
    status.success().then(|| output.and_then(|text| parse_python_version(&text))).flatten()
}

/// `3.12.1` from the interpreter's output, or `None` if it printed something else.
pub fn parse_python_version(output: &str) -> Option<String> {
    let version = output.trim();
    let looks_right = version.len() <= 32
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version.contains('.')
        && version.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '+');
    looks_right.then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "\
MemTotal:       32768000 kB
MemFree:         1234567 kB
MemAvailable:   20480000 kB
Buffers:          345678 kB
";

    #[test]
    fn meminfo_in_bytes() {
        assert_eq!(parse_meminfo(MEMINFO), (Some(32_768_000 * 1024), Some(20_480_000 * 1024)));
        // Kernels before 3.14 have no MemAvailable.
        assert_eq!(parse_meminfo("MemTotal: 1000 kB\nMemFree: 10 kB\n"), (Some(1_024_000), None));
        assert_eq!(parse_meminfo(""), (None, None));
    }

    #[test]
    fn cpu_model_on_x86_arm_and_power() {
        let x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\n\
                   model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\nstepping\t: 4\n\n\
                   processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz\n";
        assert_eq!(parse_cpu_model(x86).as_deref(), Some("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"));
        let old_arm = "Processor\t: ARMv7 Processor rev 4 (v7l)\nprocessor\t: 0\nBogoMIPS\t: 38.40\n";
        assert_eq!(parse_cpu_model(old_arm).as_deref(), Some("ARMv7 Processor rev 4 (v7l)"));
        let power = "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\nclock\t\t: 2166.000000MHz\n";
        assert_eq!(parse_cpu_model(power).as_deref(), Some("POWER9 (architected), altivec supported"));
        let arm64 = "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n";
        assert_eq!(parse_cpu_model(arm64), None);
    }

    #[test]
    fn python_versions() {
        assert_eq!(parse_python_version("3.12.1\n").as_deref(), Some("3.12.1"));
        assert_eq!(parse_python_version("3.13.0rc1\n").as_deref(), Some("3.13.0rc1"));
        assert_eq!(parse_python_version("Traceback (most recent call last):"), None);
        assert_eq!(parse_python_version(""), None);
    }

    #[test]
    fn collects_this_machine() {
        let info = collect_system(None);
        assert_eq!(info.faultline_version, env!("CARGO_PKG_VERSION"));
        assert!(info.cpu_count.is_some_and(|n| n >= 1));
        assert!(info.kernel.is_some());
        assert!(info.memory_total_bytes.is_some_and(|total| total >= info.memory_available_bytes.unwrap_or(0)));
        assert_eq!(info.python_version, None);
    }

    #[test]
    fn asks_the_interpreter_for_its_version() {
        // Any program that prints a version-like line will do; a shell script stands in for Python.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("python3");
        std::fs::write(&fake, "#!/bin/sh\necho 3.11.4\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        assert_eq!(python_version(&fake, PYTHON_TIMEOUT).as_deref(), Some("3.11.4"));
        assert_eq!(python_version(&dir.path().join("missing"), PYTHON_TIMEOUT), None);
    }

    #[test]
    fn a_hanging_interpreter_is_killed_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("python3");
        std::fs::write(&fake, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(python_version(&fake, Duration::from_millis(200)), None);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_failing_interpreter_gives_none() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("python3");
        std::fs::write(&fake, "#!/bin/sh\necho 3.11.4\nexit 1\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        assert_eq!(python_version(&fake, PYTHON_TIMEOUT), None);
    }
}
