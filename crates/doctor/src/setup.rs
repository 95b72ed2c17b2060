//! How things are set up around the code: display and GUI backends, BLAS/OpenMP threads,
//! pytest and its faulthandler/timeout settings.

use super::python::ProbeFacts;
use super::{env_get, Check};
use std::path::{Path, PathBuf};

const INTERACTIVE_BACKENDS: &[&str] = &["qt5agg", "qtagg", "qt4agg", "tkagg", "gtk3agg", "gtk4agg", "wxagg", "macosx"];

/// `env`: DISPLAY, WAYLAND_DISPLAY, MPLBACKEND, QT_QPA_PLATFORM (unset or empty: None).
/// `xcb_missing`: what Qt's xcb platform plugin lacks here, when it cannot load.
pub fn gui_check(
    env: &[(String, Option<String>)],
    facts: Option<&ProbeFacts>,
    xcb_missing: Option<&[String]>,
) -> Option<Check> {
    const ID: &str = "gui.display";
    const FIX: &str = "use `faultline run --headless` (or set QT_QPA_PLATFORM=offscreen and MPLBACKEND=Agg)";
    let qt_platform = env_get(env, "QT_QPA_PLATFORM");
    let qt = facts.map(|f| f.qt_bindings.as_slice()).unwrap_or_default();
    let qt_uses_xcb = !qt.is_empty() && qt_platform.is_none_or(|p| p == "xcb" || p.starts_with("xcb:"));
    if let Some(display) = env_get(env, "DISPLAY") {
        // With an X display, Qt picks its xcb plugin, and aborts when that cannot load: the
        // one optional plugin that is not optional here.
        if let Some(missing) = xcb_missing.filter(|_| qt_uses_xcb && env_get(env, "WAYLAND_DISPLAY").is_none()) {
            return Some(Check::warn(
                ID,
                format!(
                    "display {display} is set and {} is installed, but Qt's xcb platform plugin cannot load here (absent: {}): Qt will abort when it starts",
                    qt.join(", "),
                    missing.join(", ")
                ),
                format!(
                    "install the packages that provide them (Debian/Ubuntu: `apt-get install {}`), or use `faultline run --headless`",
                    missing.iter().map(|m| debian_package(m)).collect::<Vec<_>>().join(" ")
                ),
            ));
        }
    }
    if let Some(display) = env_get(env, "DISPLAY").or(env_get(env, "WAYLAND_DISPLAY")) {
        return Some(Check::ok(ID, format!("display {display} is set")));
    }
    if let Some(backend) = env_get(env, "MPLBACKEND") {
        if INTERACTIVE_BACKENDS.contains(&backend.to_ascii_lowercase().as_str()) {
            return Some(Check::warn(
                ID,
                format!(
                    "no DISPLAY or WAYLAND_DISPLAY, but MPLBACKEND={backend} needs one: the GUI toolkit will abort"
                ),
                FIX,
            ));
        }
    }
    if qt_uses_xcb {
        return Some(Check::warn(
            ID,
            format!(
                "no DISPLAY or WAYLAND_DISPLAY, {} is installed and QT_QPA_PLATFORM is {}: Qt will abort without a display",
                qt.join(", "),
                qt_platform.unwrap_or("unset")
            ),
            FIX,
        ));
    }
    Some(Check::ok(ID, "no display, and nothing configured that needs one"))
}

/// The Debian package that ships a library, by Debian's naming rule: the soname without
/// `.so.`, with a `-` before the version when the name ends in a digit
/// (`libxcb-icccm.so.4` → `libxcb-icccm4`, `libxkbcommon-x11.so.0` → `libxkbcommon-x11-0`).
pub fn debian_package(soname: &str) -> String {
    match soname.split_once(".so.") {
        Some((name, version)) => {
            let major = version.split('.').next().unwrap_or(version);
            let dash = if name.ends_with(|c: char| c.is_ascii_digit()) { "-" } else { "" };
            format!("{name}{dash}{major}")
        }
        None => soname.to_owned(),
    }
}

/// `env`: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS.
pub fn threads_check(env: &[(String, Option<String>)], cpus: usize) -> Check {
    const ID: &str = "threads.blas";
    let mut over = Vec::new();
    let mut set = Vec::new();
    for (name, value) in env {
        let Some(value) = value else { continue };
        set.push(format!("{name}={value}"));
        let first = value.split(',').next().unwrap_or("").trim();
        if first.parse::<usize>().is_ok_and(|n| n > cpus) {
            over.push(format!("{name}={value}"));
        }
    }
    if !over.is_empty() {
        return Check::warn(
            ID,
            format!(
                "{} asks for more threads than the {} (oversubscription)",
                over.join(", "),
                crate::units::count(cpus as u64, "CPU", "CPUs")
            ),
            format!("set them to {cpus} or fewer (divide by the number of pytest-xdist workers), or use `faultline run --single-thread`"),
        );
    }
    if set.is_empty() {
        if cpus > 1 {
            return Check::ok(
                ID,
                format!("BLAS/OpenMP thread variables unset: each library starts one thread per CPU ({cpus}); with parallel workers consider `--single-thread`"),
            );
        }
        return Check::ok(ID, "BLAS/OpenMP thread variables unset (1 CPU)");
    }
    Check::ok(ID, format!("{} (within {cpus} CPUs)", set.join(", ")))
}

/// The pytest settings doctor cares about, from the first config file that has any.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PytestConfig {
    pub file: PathBuf,
    pub addopts: String,
    pub faulthandler_timeout: Option<String>,
    pub timeout: Option<String>,
}

/// The `[section]` of an ini-style file as key → value (continuation lines joined).
pub fn ini_section(text: &str, section: &str) -> Option<Vec<(String, String)>> {
    let mut inside = false;
    let mut found = false;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            inside = &trimmed[1..trimmed.len() - 1] == section;
            found |= inside;
            continue;
        }
        if !inside || trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = pairs.last_mut() {
                value.push(' ');
                value.push_str(trimmed);
            }
        } else if let Some((key, value)) = trimmed.split_once(['=', ':']) {
            pairs.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    found.then_some(pairs)
}

fn from_pairs(file: &Path, pairs: Vec<(String, String)>) -> PytestConfig {
    let mut config = PytestConfig { file: file.to_path_buf(), ..PytestConfig::default() };
    for (key, value) in pairs {
        match key.as_str() {
            "addopts" => config.addopts = value,
            "faulthandler_timeout" => config.faulthandler_timeout = Some(value),
            "timeout" => config.timeout = Some(value),
            _ => {}
        }
    }
    config
}

fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(toml_text).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// The pytest config of one file, if it has one (pytest's own precedence within a folder).
pub fn parse_pytest_config(name: &str, path: &Path, text: &str) -> Option<PytestConfig> {
    match name {
        "pytest.ini" | ".pytest.ini" => Some(from_pairs(path, ini_section(text, "pytest").unwrap_or_default())),
        "pyproject.toml" => {
            let doc: toml::Table = text.parse().ok()?;
            let options = doc.get("tool")?.get("pytest")?.get("ini_options")?.as_table()?;
            let pairs = options.iter().map(|(k, v)| (k.clone(), toml_text(v))).collect();
            Some(from_pairs(path, pairs))
        }
        "tox.ini" => ini_section(text, "pytest").map(|pairs| from_pairs(path, pairs)),
        "setup.cfg" => ini_section(text, "tool:pytest").map(|pairs| from_pairs(path, pairs)),
        _ => None,
    }
}

/// pytest's rootdir search: the first folder from `cwd` upwards with a config file.
pub fn find_pytest_config(cwd: &Path) -> Option<PytestConfig> {
    for dir in cwd.ancestors() {
        for name in ["pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"] {
            let path = dir.join(name);
            if let Ok(text) = std::fs::read_to_string(&path) {
                if let Some(config) = parse_pytest_config(name, &path, &text) {
                    return Some(config);
                }
            }
        }
    }
    None
}

pub fn disables_faulthandler(addopts: &str) -> bool {
    let words: Vec<&str> = addopts.split_whitespace().collect();
    words
        .iter()
        .enumerate()
        .any(|(i, w)| *w == "-pno:faulthandler" || (*w == "-p" && words.get(i + 1) == Some(&"no:faulthandler")))
}

pub fn faulthandler_check(config: Option<&PytestConfig>) -> Check {
    const ID: &str = "tests.faulthandler";
    let Some(config) = config else {
        return Check::ok(ID, "no pytest config: faulthandler is on (pytest's default)");
    };
    if disables_faulthandler(&config.addopts) {
        return Check::warn(
            ID,
            format!("{} disables faulthandler (-p no:faulthandler)", config.file.display()),
            "remove `-p no:faulthandler` from addopts: faultline still captures the crash, but the Python traceback on stderr is lost",
        );
    }
    match &config.faulthandler_timeout {
        Some(t) => Check::ok(
            ID,
            format!(
                "faulthandler on; faulthandler_timeout = {t} dumps tracebacks of slow tests ({})",
                config.file.display()
            ),
        ),
        None => Check::ok(ID, format!("faulthandler on ({})", config.file.display())),
    }
}

pub fn timeout_check(config: Option<&PytestConfig>, pytest_timeout: Option<&str>) -> Check {
    const ID: &str = "tests.timeout";
    match (config.and_then(|c| c.timeout.as_deref()), pytest_timeout) {
        (Some(t), Some(_)) => Check::ok(ID, format!("pytest-timeout stops a test after {t} s")),
        (Some(t), None) => Check::warn(
            ID,
            format!("timeout = {t} is configured but pytest-timeout is not installed: it has no effect"),
            "install pytest-timeout, or use `faultline run --timeout` for the whole run",
        ),
        (None, _) => Check::ok(
            ID,
            "no per-test timeout configured; `faultline run --timeout` stops a hung run with every thread's stack",
        ),
    }
}

pub fn test_checks(cwd: &Path, facts: Option<&ProbeFacts>) -> Vec<Check> {
    let pytest = match facts {
        None => Check::skip("tests.pytest", "skipped: the interpreter could not be examined"),
        Some(f) => match &f.pytest_version {
            Some(v) => Check::ok("tests.pytest", format!("pytest {v}")),
            None => Check::skip("tests.pytest", "pytest is not installed for this interpreter"),
        },
    };
    let config = find_pytest_config(cwd);
    vec![
        pytest,
        faulthandler_check(config.as_ref()),
        timeout_check(config.as_ref(), facts.and_then(|f| f.pytest_timeout_version.as_deref())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn env(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
    }

    #[test]
    fn display() {
        let headless_qt = env(&[("DISPLAY", None), ("MPLBACKEND", Some("QtAgg"))]);
        assert_eq!(gui_check(&headless_qt, None, None).unwrap().status, Status::Warn);
        let with_display = env(&[("DISPLAY", Some(":0")), ("MPLBACKEND", Some("QtAgg"))]);
        assert_eq!(gui_check(&with_display, None, None).unwrap().status, Status::Ok);
        let agg = env(&[("MPLBACKEND", Some("Agg"))]);
        assert_eq!(gui_check(&agg, None, None).unwrap().status, Status::Ok);
    }

    #[test]
    fn an_x_display_with_a_qt_whose_xcb_plugin_cannot_load() {
        let facts = crate::python::parse_probe(
            r#"{"executable": "/v/bin/python", "version": "3.11.7", "implementation": "cpython", "debug": false,
            "shared": true, "gil_disabled": false, "soabi": "cpython-311-x86_64-linux-gnu", "ext_suffixes": [".so"],
            "sys_path": [], "venv": true, "prefix": "/v", "numpy": null, "pytest": null, "pytest_timeout": null,
            "qt_bindings": ["pyside6"], "conflicts": []}"#,
        )
        .unwrap();
        let missing = vec!["libxcb-cursor.so.0".to_owned()];
        let x11 = env(&[("DISPLAY", Some(":0")), ("WAYLAND_DISPLAY", None), ("QT_QPA_PLATFORM", None)]);
        let check = gui_check(&x11, Some(&facts), Some(&missing)).unwrap();
        assert_eq!(check.status, Status::Warn);
        assert!(check.finding.contains("libxcb-cursor.so.0"), "{}", check.finding);
        assert!(check.fix.unwrap().contains("apt-get install libxcb-cursor0"));
        assert_eq!(debian_package("libxkbcommon-x11.so.0"), "libxkbcommon-x11-0");
        assert_eq!(debian_package("libxcb-icccm.so.4.0.0"), "libxcb-icccm4");
        assert_eq!(gui_check(&x11, Some(&facts), None).unwrap().status, Status::Ok);
        let offscreen = env(&[("DISPLAY", Some(":0")), ("QT_QPA_PLATFORM", Some("offscreen"))]);
        assert_eq!(gui_check(&offscreen, Some(&facts), Some(&missing)).unwrap().status, Status::Ok);
        let wayland = env(&[("DISPLAY", Some(":0")), ("WAYLAND_DISPLAY", Some("wayland-0"))]);
        assert_eq!(gui_check(&wayland, Some(&facts), Some(&missing)).unwrap().status, Status::Ok);
    }

    #[test]
    fn threads() {
        assert_eq!(threads_check(&env(&[("OMP_NUM_THREADS", Some("64"))]), 2).status, Status::Warn);
        assert_eq!(threads_check(&env(&[("OMP_NUM_THREADS", Some("2"))]), 2).status, Status::Ok);
        assert!(threads_check(&env(&[("OMP_NUM_THREADS", None)]), 4).finding.contains("unset"));
    }

    #[test]
    fn pytest_configs() {
        let ini = "[pytest]\naddopts = -ra\n    -p no:faulthandler\ntimeout = 30\n";
        let config = parse_pytest_config("pytest.ini", Path::new("pytest.ini"), ini).unwrap();
        assert!(disables_faulthandler(&config.addopts), "{config:?}");
        assert_eq!(faulthandler_check(Some(&config)).status, Status::Warn);
        assert_eq!(timeout_check(Some(&config), None).status, Status::Warn);
        let pyproject = "[tool.pytest.ini_options]\naddopts = [\"-pno:faulthandler\"]\nfaulthandler_timeout = 60\n";
        let config = parse_pytest_config("pyproject.toml", Path::new("p"), pyproject).unwrap();
        assert!(disables_faulthandler(&config.addopts));
        assert_eq!(config.faulthandler_timeout.as_deref(), Some("60"));
        assert!(parse_pytest_config("pyproject.toml", Path::new("p"), "[project]\nname='x'\n").is_none());
        let cfg = "[metadata]\nname = x\n[tool:pytest]\naddopts = -q\n";
        let config = parse_pytest_config("setup.cfg", Path::new("s"), cfg).unwrap();
        assert!(!disables_faulthandler(&config.addopts));
        assert!(parse_pytest_config("tox.ini", Path::new("t"), "[tox]\n").is_none());
    }
}
