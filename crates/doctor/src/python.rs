//! The Python environment: one run of the interpreter with a small inline script that prints
//! JSON (version, build, venv, sys.path, a few package versions, dependency conflicts).

use super::{Check, PythonInfo};
use serde::Deserialize;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs in the interpreter (no `-S`: site-packages must be on sys.path). Reads metadata only;
/// imports nothing from the environment except `packaging`, when present.
pub const PROBE_SCRIPT: &str = r#"
import json, sys, sysconfig
from importlib import machinery, metadata
def canon(n):
    return n.lower().replace("_", "-").replace(".", "-")
cv = sysconfig.get_config_var
dists = {}
for d in metadata.distributions():
    try:
        name = d.metadata["Name"]
    except Exception:
        continue
    if name and canon(name) not in dists:
        dists[canon(name)] = (name, d.version, d)
try:
    from packaging.requirements import Requirement
except Exception:
    Requirement = None
conflicts = []
for key, (name, ver, d) in sorted(dists.items()):
    try:
        reqs = d.requires or []
    except Exception:
        continue
    for text in reqs:
        if Requirement is not None:
            try:
                req = Requirement(text)
                if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                    continue
            except Exception:
                continue
            rname, spec = req.name, req.specifier
        else:
            if ";" in text:
                continue
            rname = text.split("(")[0].split("[")[0]
            for op in "<>=!~ ":
                rname = rname.split(op)[0]
            rname, spec = rname.strip(), None
        got = dists.get(canon(rname))
        if got is None:
            conflicts.append("%s %s requires %s, which is not installed" % (name, ver, rname))
        elif spec is not None and str(spec) and not spec.contains(got[1], prereleases=True):
            conflicts.append("%s %s requires %s%s, but %s %s is installed" % (name, ver, rname, spec, got[0], got[1]))
def version(n):
    got = dists.get(n)
    return got[1] if got else None
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "implementation": sys.implementation.name,
    "debug": bool(cv("Py_DEBUG")),
    "shared": bool(cv("Py_ENABLE_SHARED")),
    "gil_disabled": bool(cv("Py_GIL_DISABLED")),
    "soabi": cv("SOABI"),
    "ext_suffixes": list(machinery.EXTENSION_SUFFIXES),
    "sys_path": sys.path,
    "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    "prefix": sys.prefix,
    "numpy": version("numpy"),
    "pytest": version("pytest"),
    "pytest_timeout": version("pytest-timeout"),
    "qt_bindings": [n for n in ("pyqt5", "pyqt6", "pyside2", "pyside6", "pyside6-essentials") if n in dists],
    "conflicts": conflicts,
}))
"#;

#[derive(Debug, Clone, Deserialize)]
struct Raw {
    executable: String,
    version: String,
    implementation: String,
    debug: bool,
    shared: bool,
    gil_disabled: bool,
    soabi: Option<String>,
    ext_suffixes: Vec<String>,
    sys_path: Vec<String>,
    venv: bool,
    prefix: String,
    numpy: Option<String>,
    pytest: Option<String>,
    pytest_timeout: Option<String>,
    qt_bindings: Vec<String>,
    conflicts: Vec<String>,
}

/// What the probe script found.
#[derive(Debug, Clone)]
pub struct ProbeFacts {
    pub info: PythonInfo,
    pub ext_suffixes: Vec<String>,
    pub sys_path: Vec<String>,
    pub numpy_version: Option<String>,
    pub pytest_version: Option<String>,
    pub pytest_timeout_version: Option<String>,
    pub qt_bindings: Vec<String>,
    pub conflicts: Vec<String>,
}

/// Parses the probe script's output.
pub fn parse_probe(json: &str) -> Result<ProbeFacts, String> {
    let raw: Raw = serde_json::from_str(json.trim()).map_err(|e| format!("unreadable probe output: {e}"))?;
    Ok(ProbeFacts {
        info: PythonInfo {
            executable: raw.executable,
            version: raw.version,
            implementation: raw.implementation,
            soabi: raw.soabi,
            debug: raw.debug,
            shared: raw.shared,
            gil_disabled: raw.gil_disabled,
            venv: raw.venv,
            prefix: raw.prefix,
        },
        ext_suffixes: raw.ext_suffixes,
        sys_path: raw.sys_path,
        numpy_version: raw.numpy,
        pytest_version: raw.pytest,
        pytest_timeout_version: raw.pytest_timeout,
        qt_bindings: raw.qt_bindings,
        conflicts: raw.conflicts,
    })
}

/// How long the interpreter may take before doctor gives up on it.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(10);

/// Runs the interpreter once. The error says why it could not be examined.
pub fn probe(interpreter: &Path) -> Result<ProbeFacts, String> {
    let child = Command::new(interpreter)
        .arg("-c")
        .arg(PROBE_SCRIPT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("PYTHONSTARTUP")
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", interpreter.display()))?;
    let pid = child.id();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    let output = match receive.recv_timeout(PROBE_DEADLINE) {
        Ok(result) => result.map_err(|e| format!("cannot run {}: {e}", interpreter.display()))?,
        Err(_) => {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
            return Err(format!(
                "{} did not answer within {} s (a hanging sitecustomize or .pth file?)",
                interpreter.display(),
                PROBE_DEADLINE.as_secs()
            ));
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(format!("{} failed ({}): {last}", interpreter.display(), output.status));
    }
    parse_probe(&String::from_utf8_lossy(&output.stdout))
}

pub fn checks(probed: &Result<ProbeFacts, String>) -> Vec<Check> {
    let facts = match probed {
        Ok(facts) => facts,
        Err(why) => {
            let skipped = "skipped: the interpreter could not be examined";
            return vec![
                Check::fail(
                    "python.version",
                    why.clone(),
                    "install Python 3, activate the virtualenv the tests use, or name the interpreter with `--python PATH`",
                ),
                Check::skip("python.build", skipped),
                Check::skip("python.venv", skipped),
                Check::skip("python.dependencies", skipped),
            ];
        }
    };
    let info = &facts.info;
    vec![version_check(info), build_check(info), venv_check(info), dependencies_check(&facts.conflicts)]
}

pub fn version_check(info: &PythonInfo) -> Check {
    const ID: &str = "python.version";
    let minor: Option<(u32, u32)> = {
        let mut parts = info.version.split('.').map(|p| p.parse::<u32>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        }
    };
    let finding = format!("{} {} at {}", info.implementation, info.version, info.executable);
    match minor {
        Some(v) if v < (3, 9) => Check::warn(
            ID,
            format!("{finding}: this Python is past its end of life"),
            "use Python 3.9 or newer: current wheels of numpy and friends no longer exist for it",
        ),
        _ => Check::ok(ID, finding),
    }
}

pub fn build_check(info: &PythonInfo) -> Check {
    let mut parts = vec![if info.debug { "debug build" } else { "release build" }];
    parts.push(if info.shared { "shared libpython" } else { "static libpython" });
    if info.gil_disabled {
        parts.push("free-threaded (no GIL): extensions not built for it re-enable the GIL or race");
    }
    let soabi = info.soabi.as_deref().unwrap_or("no SOABI");
    Check::ok("python.build", format!("{}; ABI {soabi}", parts.join(", ")))
}

pub fn venv_check(info: &PythonInfo) -> Check {
    if info.venv {
        Check::ok("python.venv", format!("virtualenv at {}", info.prefix))
    } else {
        Check::ok("python.venv", format!("no virtualenv: packages come from {}", info.prefix))
    }
}

pub fn dependencies_check(conflicts: &[String]) -> Check {
    const ID: &str = "python.dependencies";
    match conflicts.len() {
        0 => Check::ok(ID, "no dependency conflicts among installed packages"),
        n => {
            let shown: Vec<&str> = conflicts.iter().take(5).map(String::as_str).collect();
            let more = if n > 5 { format!("; and {} more", n - 5) } else { String::new() };
            Check::warn(
                ID,
                format!("{n} dependency conflict{}: {}{more}", if n == 1 { "" } else { "s" }, shown.join("; ")),
                "install compatible versions (`pip install` the named requirement); an extension built against another version of its dependency can crash",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    const SAMPLE: &str = r#"{"executable": "/usr/bin/python3", "version": "3.11.7", "implementation": "cpython",
        "debug": false, "shared": true, "gil_disabled": false, "soabi": "cpython-311-x86_64-linux-gnu",
        "ext_suffixes": [".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"], "sys_path": ["", "/usr/lib/python3.11"],
        "venv": false, "prefix": "/usr", "numpy": "2.1.0", "pytest": "8.3.2", "pytest_timeout": null,
        "qt_bindings": ["pyqt5"], "conflicts": ["a 1.0 requires b>=2, but b 1.0 is installed"]}"#;

    #[test]
    fn parses_probe_output() {
        let facts = parse_probe(SAMPLE).expect("parse");
        assert_eq!(facts.info.soabi.as_deref(), Some("cpython-311-x86_64-linux-gnu"));
        assert_eq!(facts.numpy_version.as_deref(), Some("2.1.0"));
        assert_eq!(facts.qt_bindings, vec!["pyqt5"]);
        let checks = checks(&Ok(facts));
        assert_eq!(checks[0].status, Status::Ok);
        assert!(checks[1].finding.contains("shared libpython"));
        assert_eq!(checks[3].status, Status::Warn);
    }

    #[test]
    fn missing_interpreter_fails_version_and_skips_the_rest() {
        let checks = checks(&Err("cannot run /nope: No such file".into()));
        assert_eq!(checks[0].status, Status::Fail);
        assert!(checks[1..].iter().all(|c| c.status == Status::Skip));
    }

    #[test]
    fn the_script_runs_on_this_machine() {
        let Ok(facts) = probe(Path::new("python3")) else {
            return;
        };
        assert!(!facts.ext_suffixes.is_empty());
    }
}
