//! `faultline doctor`: find what will make native code crash before it does.
//!
//! Each check is a pure function of text or numbers read from the system (tested on pasted
//! input); the reads themselves are thin and live beside them. The result is plain
//! serializable data ([`DoctorReport`]), rendered by [`render`] for people and as JSON
//! (`docs/doctor-schema.json`) for machines.

use faultline_model::units;
use faultline_trace as trace;

pub mod capture;
pub mod extensions;
pub mod machine;
pub mod python;
pub mod render;
pub mod setup;

use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// The version of the JSON format (`docs/doctor-schema.json`).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Fail,
    Warn,
    Ok,
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Ok => "ok",
            Status::Skip => "skip",
        }
    }
}

/// One finding: a stable id, how bad, what was seen, and what to do when not ok.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: String,
    pub status: Status,
    pub finding: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(id: &str, finding: impl Into<String>) -> Check {
        Check { id: id.to_owned(), status: Status::Ok, finding: finding.into(), fix: None }
    }
    pub fn skip(id: &str, finding: impl Into<String>) -> Check {
        Check { id: id.to_owned(), status: Status::Skip, finding: finding.into(), fix: None }
    }
    pub fn warn(id: &str, finding: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { id: id.to_owned(), status: Status::Warn, finding: finding.into(), fix: Some(fix.into()) }
    }
    pub fn fail(id: &str, finding: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { id: id.to_owned(), status: Status::Fail, finding: finding.into(), fix: Some(fix.into()) }
    }
}

/// The interpreter that was examined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PythonInfo {
    pub executable: String,
    pub version: String,
    pub implementation: String,
    pub soabi: Option<String>,
    pub debug: bool,
    pub shared: bool,
    pub gil_disabled: bool,
    pub venv: bool,
    pub prefix: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub schema_version: u32,
    pub checks: Vec<Check>,
    pub duration_ms: f64,
    pub python: Option<PythonInfo>,
}

impl DoctorReport {
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
    pub fn failed(&self) -> bool {
        self.count(Status::Fail) > 0
    }
    /// The documented exit status: 1 on a failure (or a warning with `strict`), else 0.
    pub fn exit_code(&self, strict: bool) -> i32 {
        if self.failed() || (strict && self.count(Status::Warn) > 0) {
            1
        } else {
            0
        }
    }
}

/// What to examine.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// `--python PATH`; else `$VIRTUAL_ENV/bin/python`, else `python3` on PATH.
    pub python: Option<PathBuf>,
    /// Where the project's pytest config is looked for (and whose disk is checked).
    pub cwd: PathBuf,
}

/// The interpreter doctor examines: `--python`, else the active virtualenv's, else `python3`.
pub fn choose_python(explicit: Option<&std::path::Path>, virtual_env: Option<&std::ffi::OsStr>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    if let Some(venv) = virtual_env.filter(|v| !v.is_empty()) {
        let candidate = PathBuf::from(venv).join("bin").join("python");
        if candidate.exists() {
            return candidate;
        }
    }
    PathBuf::from("python3")
}

/// Runs every check. Never fails: what cannot be read becomes a `skip` or `fail` check.
pub fn run_doctor(options: &DoctorOptions) -> DoctorReport {
    let started = Instant::now();
    let interpreter = choose_python(options.python.as_deref(), std::env::var_os("VIRTUAL_ENV").as_deref());
    // The interpreter is the slow part: start it first, check the machine meanwhile.
    let probe = std::thread::spawn(move || python::probe(&interpreter));
    let mut checks = machine::checks(&options.cwd);
    checks.extend(capture::checks());
    let probed = probe.join().unwrap_or_else(|_| Err("the interpreter probe panicked".to_owned()));
    let facts = probed.as_ref().ok();
    checks.extend(python::checks(&probed));
    let extensions = facts.map(|f| extensions::check_extensions(&extension_facts(f)));
    checks.extend(extension_checks(extensions.as_ref()));
    let xcb_missing = extensions.as_ref().and_then(|r| r.optional_plugin("platforms/libqxcb.so"));
    checks.extend(setup::gui_check(
        &env_of(&["DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND", "QT_QPA_PLATFORM"]),
        facts,
        xcb_missing.map(|p| p.missing.as_slice()),
    ));
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    checks.push(setup::threads_check(&env_of(&["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]), cpus));
    checks.extend(setup::test_checks(&options.cwd, facts));
    DoctorReport {
        schema_version: SCHEMA_VERSION,
        checks,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        python: facts.map(|f| f.info.clone()),
    }
}

/// The native code on the interpreter's `sys.path`: one check per problem and distribution
/// (`extensions.<problem id>`, warn: a broken module only hurts when imported), then the
/// `extensions.plugins` count and the `extensions.examined` summary.
fn extension_checks(report: Option<&extensions::ExtensionReport>) -> Vec<Check> {
    match report {
        Some(report) => extensions::checks::checks(report),
        None => {
            let skipped = "skipped: the interpreter could not be examined";
            vec![Check::skip(extensions::checks::PLUGINS, skipped), Check::skip(extensions::checks::EXAMINED, skipped)]
        }
    }
}

fn extension_facts(facts: &python::ProbeFacts) -> extensions::PythonFacts {
    extensions::PythonFacts {
        soabi: facts.info.soabi.clone().unwrap_or_default(),
        ext_suffixes: facts.ext_suffixes.clone(),
        sys_path: facts.sys_path.iter().map(PathBuf::from).collect(),
        numpy_version: facts.numpy_version.clone(),
    }
}

fn env_of(names: &[&str]) -> Vec<(String, Option<String>)> {
    names.iter().map(|name| ((*name).to_owned(), std::env::var(name).ok().filter(|v| !v.is_empty()))).collect()
}

/// Looks a variable up in the list `env_of` made.
pub(crate) fn env_get<'a>(env: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref())
}

/// The report as JSON.
pub fn write_json(report: &DoctorReport, out: &mut impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
