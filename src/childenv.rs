//! What the command gets beyond our own environment: a private temp dir, headless and
//! single-thread variables, the user's `env` pairs, resource limits, and the mark that it
//! runs under faultline (`FAULTLINE_SUPERVISED`, see `supervised`).
//!
//! Everything is prepared here, before the fork: the child may only call async-signal-safe
//! functions between fork and exec, so it receives finished C strings and plain numbers.

mod limits;
mod sanitizer_logs;
mod tmp;

use crate::settings::{check_env_name, RunSettings};
use crate::variants::Placement;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use faultline_trace::ChildRlimit;
pub use limits::{parse_proc_limit, resource_name, RLIM_INFINITY};
pub use sanitizer_logs::SanitizerLogs;
pub use tmp::PrivateTmp;

/// Set by `--headless`. Each makes a GUI or media library pick its no-display backend.
const HEADLESS: [(&str, &str); 7] = [
    ("QT_QPA_PLATFORM", "offscreen"),
    ("MPLBACKEND", "Agg"),
    ("SDL_VIDEODRIVER", "dummy"),
    ("SDL_AUDIODRIVER", "dummy"),
    ("PYGAME_HIDE_SUPPORT_PROMPT", "1"),
    ("ETS_TOOLKIT", "null"),
    ("PYVISTA_OFF_SCREEN", "true"),
];

/// Unset by `--headless`. With a display variable present, Tk, GTK, VTK and Qt's xcb plugin
/// connect to it: on CI or over ssh that display is stale, forwarded or absent, and the
/// test hangs, pops up windows, or aborts inside the toolkit. Without it they take their
/// headless path (or fail fast with a clear "no display" error).
const DISPLAY_VARS: [&str; 2] = ["DISPLAY", "WAYLAND_DISPLAY"];

/// Set to 1 by `--single-thread`: OpenMP, OpenBLAS, MKL, numexpr, Apple Accelerate, BLIS.
const THREAD_VARS: [&str; 6] = [
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
];

/// The variables `--isolate-tmp` points at the private dir (Python's `tempfile` reads all three).
const TMP_VARS: [&str; 3] = ["TMPDIR", "TEMP", "TMP"];

/// The child's environment and limits, built before fork. Owns the isolated temp dir, which
/// goes when this is dropped, whatever way the run ended.
pub struct ChildEnv {
    envp: Vec<CString>,
    /// faultline's pytest channel, loaded into any pytest of the tree (`faultline_pytest`).
    pytest: Option<faultline_pytest::Channel>,
    rlimits: Vec<ChildRlimit>,
    described: Vec<String>,
    // Declared last so the directory outlives everything that mentions it.
    temp: Option<PrivateTmp>,
    variant: Option<crate::variants::Variant>,
    sanitizer_logs: Option<SanitizerLogs>,
}

impl ChildEnv {
    pub fn new(settings: &RunSettings) -> io::Result<ChildEnv> {
        for (key, _) in &settings.env {
            check_env_name(key).map_err(|problem| invalid(format!("--env: {problem}")))?;
        }
        let base = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute() && dir.is_dir())
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let mut variant = match &settings.variant {
            Some(name) => Some(crate::variants::resolve(name, &settings.variants).map_err(invalid)?),
            None => None,
        };
        let sanitizer_logs = match variant.as_mut().filter(|v| v.sanitizer_runtime.is_some()) {
            Some(variant) => {
                let logs = SanitizerLogs::create_in(&base)?;
                for (_, value) in variant.env.iter_mut().filter(|(k, _)| k == "ASAN_OPTIONS" || k == "UBSAN_OPTIONS") {
                    *value = format!("{value}:log_path={}", logs.prefix().display());
                }
                Some(logs)
            }
            None => None,
        };
        let temp = if settings.isolate_tmp == Some(true) { Some(PrivateTmp::create_in(&base)?) } else { None };
        let (mut vars, mut described) =
            build_vars(std::env::vars_os().collect(), settings, variant.as_ref(), temp.as_ref().map(PrivateTmp::path));
        crate::supervised::mark(&mut vars, std::process::id());
        let pytest = match faultline_pytest::Channel::create_in(&base) {
            Ok(channel) => {
                channel.add_to(&mut vars);
                Some(channel)
            }
            Err(err) => {
                crate::say!(
                    "faultline: warning: {err}; a crash under pytest is reported without the tests that ran before it"
                );
                None
            }
        };
        let envp = to_envp(&vars)?;
        let (rlimits, limit_lines) = limits::plan(settings, &limits::CurrentLimits::read()?).map_err(invalid)?;
        described.extend(limit_lines);
        Ok(ChildEnv { envp, pytest, rlimits, described, temp, variant, sanitizer_logs })
    }

    /// For the tracer: the sanitizer runtime to keep to Python processes, and where the
    /// sanitizer writes its reports (`--asan`).
    pub fn sanitizer_setup(&self) -> Option<faultline_trace::SanitizerSetup> {
        let runtime = self.variant.as_ref()?.sanitizer_runtime.as_ref()?;
        Some(faultline_trace::SanitizerSetup {
            python_only_preload: Some(runtime.display().to_string()),
            log_prefix: self.sanitizer_logs.as_ref().map(SanitizerLogs::prefix),
        })
    }

    /// The folder of the sanitizer's own reports, when it wrote any (kept after the run).
    pub fn sanitizer_reports(&self) -> Option<&Path> {
        self.sanitizer_logs.as_ref()?.written()
    }

    /// The allocator variant the command runs under, if one was asked for.
    pub fn variant(&self) -> Option<&crate::variants::Variant> {
        self.variant.as_ref()
    }

    /// The folder where the command's pytest processes write what they did, when the
    /// channel could be set up.
    pub fn pytest_log_dir(&self) -> Option<PathBuf> {
        self.pytest.as_ref().map(faultline_pytest::Channel::log_dir)
    }

    /// The pytest channel, for runs of the same command again (keep-going, bisect).
    pub fn pytest_channel(&self) -> Option<&faultline_pytest::Channel> {
        self.pytest.as_ref()
    }

    /// [`ChildEnv::envp`] with `extra` variables set too (replacing any of the same name).
    pub fn envp_with(&self, extra: &[(&str, &OsStr)]) -> io::Result<Vec<CString>> {
        let mut envp: Vec<CString> = self
            .envp
            .iter()
            .filter(|entry| {
                !extra.iter().any(|(key, _)| {
                    entry.as_bytes().strip_prefix(key.as_bytes()).is_some_and(|rest| rest.first() == Some(&b'='))
                })
            })
            .cloned()
            .collect();
        let vars: Vec<(OsString, OsString)> =
            extra.iter().map(|(k, v)| (OsString::from(k), v.to_os_string())).collect();
        envp.extend(to_envp(&vars)?);
        Ok(envp)
    }

    /// The full environment for execve, as prepared C strings (our env + overrides), built BEFORE fork.
    pub fn envp(&self) -> &[CString] {
        &self.envp
    }

    /// Resource limits to set in the child between fork and exec, in order (a later entry
    /// for the same resource wins; one that fails leaves the earlier ones in place).
    pub fn rlimits(&self) -> &[ChildRlimit] {
        &self.rlimits
    }

    /// Adds a limit from elsewhere (the memory module's RLIMIT_AS).
    pub fn add_rlimit(&mut self, r: ChildRlimit) {
        let value = limits::show_limit(r.resource, r.soft);
        self.described.push(format!("limit: {} = {value}", resource_name(r.resource)));
        self.rlimits.push(r);
    }

    pub fn temp_dir(&self) -> Option<&Path> {
        self.temp.as_ref().map(PrivateTmp::path)
    }

    /// One line per setting applied, for the log/terminal ("headless: QT_QPA_PLATFORM=offscreen, MPLBACKEND=Agg, ...").
    pub fn describe(&self) -> Vec<String> {
        self.described.clone()
    }

    /// Removes the temp dir now and says whether that worked; dropping does the same quietly
    /// except for a warning on stderr.
    pub fn close(mut self) -> io::Result<()> {
        match self.temp.take() {
            Some(temp) => temp.remove(),
            None => Ok(()),
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// An environment as an ordered list: inherited variables keep their order, new ones go last.
struct Vars(Vec<(OsString, OsString)>);

impl Vars {
    fn set(&mut self, key: &str, value: impl Into<OsString>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.into(), value)),
        }
    }

    fn get(&self, key: &str) -> Option<&OsStr> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_os_str())
    }

    fn unset(&mut self, key: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(k, _)| k != key);
        self.0.len() != before
    }
}

/// Applies the settings to `base` (our environment). The user's `env` pairs go last and win;
/// the options never touch a key the user set, so `--headless --env MPLBACKEND=QtAgg` means
/// what it says.
fn build_vars(
    base: Vec<(OsString, OsString)>,
    settings: &RunSettings,
    variant: Option<&crate::variants::Variant>,
    temp: Option<&Path>,
) -> (Vec<(OsString, OsString)>, Vec<String>) {
    let mut vars = Vars(base);
    let mut described = Vec::new();
    let user_set = |key: &str| settings.env.iter().any(|(k, _)| k == key);

    if let Some(dir) = temp {
        let keys: Vec<&str> = TMP_VARS.iter().copied().filter(|k| !user_set(k)).collect();
        for key in &keys {
            vars.set(key, dir.as_os_str());
        }
        described.push(match keys.is_empty() {
            false => format!("isolate-tmp: {}={} (removed after the run)", keys.join("="), dir.display()),
            true => format!("isolate-tmp: {} created, but env sets TMPDIR, TEMP and TMP", dir.display()),
        });
    }
    if settings.headless == Some(true) {
        let mut applied = Vec::new();
        for (key, value) in HEADLESS.iter().filter(|(k, _)| !user_set(k)) {
            vars.set(key, *value);
            applied.push(format!("{key}={value}"));
        }
        let unset: Vec<&str> = DISPLAY_VARS.iter().copied().filter(|k| !user_set(k) && vars.unset(k)).collect();
        if !unset.is_empty() {
            applied.push(format!("{} unset", unset.join(" and ")));
        }
        described.push(format!("headless: {}", or_all_set_by_env(&applied)));
    }
    if settings.single_thread == Some(true) {
        let applied: Vec<String> = THREAD_VARS
            .iter()
            .filter(|k| !user_set(k))
            .map(|key| {
                vars.set(key, "1");
                format!("{key}=1")
            })
            .collect();
        described.push(format!("single-thread: {}", or_all_set_by_env(&applied)));
    }
    if let Some(variant) = variant {
        let mut applied = Vec::new();
        for (key, value) in variant.env.iter().filter(|(k, _)| !user_set(k)) {
            // A list (LD_PRELOAD, GLIBC_TUNABLES) keeps what the command already had.
            let existing = vars.get(key).filter(|v| !v.is_empty());
            let merged = match (crate::variants::list_separator(key), existing) {
                (Some((separator, placement)), Some(existing)) => {
                    let (first, second) = match placement {
                        Placement::Before => (OsStr::new(value), existing),
                        Placement::After => (existing, OsStr::new(value)),
                    };
                    let mut merged = first.to_owned();
                    merged.push(separator.to_string());
                    merged.push(second);
                    merged
                }
                _ => OsString::from(value),
            };
            vars.set(key, merged);
            let only_python = key == "LD_PRELOAD" && variant.sanitizer_runtime.is_some();
            applied.push(format!("{key}={value}{}", if only_python { " (Python processes only)" } else { "" }));
        }
        described.push(format!("variant {}: {}", variant.name, or_all_set_by_env(&applied)));
    }
    if !settings.env.is_empty() {
        for (key, value) in &settings.env {
            vars.set(key, value.as_str());
        }
        // The terminal and the log are shared more widely than the environment.
        let shown: Vec<String> = settings
            .env
            .iter()
            .map(|(key, value)| {
                let value = if crate::redact::is_secret_name(key) { crate::redact::REDACTED } else { value.as_str() };
                format!("{key}={value}")
            })
            .collect();
        described.push(format!("env: {}", shown.join(", ")));
    }
    (vars.0, described)
}

fn or_all_set_by_env(applied: &[String]) -> String {
    if applied.is_empty() {
        "nothing to change (env sets every variable)".to_owned()
    } else {
        applied.join(", ")
    }
}

fn to_envp(vars: &[(OsString, OsString)]) -> io::Result<Vec<CString>> {
    vars.iter()
        .map(|(key, value)| {
            let mut entry = Vec::with_capacity(key.len() + value.len() + 1);
            entry.extend_from_slice(key.as_bytes());
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            CString::new(entry).map_err(|_| {
                invalid(format!("environment variable {} contains a NUL byte", OsStr::new(key).to_string_lossy()))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
