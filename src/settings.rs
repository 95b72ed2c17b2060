//! Every option of `faultline run`, from the project's config file and the command line.
//!
//! Both layers produce a [`RunSettings`] in which every option is optional, so they merge
//! with one rule: the command line wins. The keys and value syntax of the files are
//! documented in `docs/configuration.md`; keep the two in step.

pub mod ranges;
#[cfg(test)]
mod tests;
mod values;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use values::check_env_name;

/// The config file that belongs to faultline alone.
pub const FAULTLINE_TOML: &str = "faultline.toml";
/// Python's project file; faultline reads its `[tool.faultline]` table.
pub use faultline_model::model::PYPROJECT_TOML;

/// Everything `faultline run` can be told, each optional so file and CLI layers merge (CLI wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSettings {
    pub json: Option<PathBuf>,
    /// Where to write the JUnit XML report.
    pub junit: Option<PathBuf>,
    pub timeout: Option<Duration>,
    /// Grace period between SIGTERM and SIGKILL; the runner's default is 5 s.
    pub kill_after: Option<Duration>,
    /// How often memory is sampled; the runner's default is 100 ms.
    pub memory_interval: Option<Duration>,
    pub memory_warn: Option<u64>,
    pub max_memory: Option<u64>,
    pub isolate_tmp: Option<bool>,
    pub headless: Option<bool>,
    pub single_thread: Option<bool>,
    /// Variables for the command, in order; a later pair wins over an earlier one.
    pub env: Vec<(String, String)>,
    pub core_dumps: Option<bool>,
    pub max_fds: Option<u64>,
    pub log: Option<PathBuf>,
    /// Size at which the log rotates; the runner's default is 10 MiB.
    pub log_max_size: Option<u64>,
    /// Rotated logs kept; the runner's default is 5.
    pub log_keep: Option<u32>,
    /// The crash store: a SQLite path (made absolute), a `postgres://` URL, or `none`.
    pub store: Option<String>,
    /// After a crash in a test, run pytest again on the tests not yet run (`--keep-going`).
    pub keep_going: Option<bool>,
    /// The allocator variant to run under (`--variant`, `--heap-check`; see `variants.rs`).
    pub variant: Option<String>,
    /// The project's own variants: name → variables, from `[tool.faultline.variants]`.
    pub variants: Vec<(String, Vec<(String, String)>)>,
}

impl RunSettings {
    /// Layers `other` over self: scalar options of `other` win when set; env lists concatenate with `other` last (later wins for the same key).
    pub fn overlay(self, other: RunSettings) -> RunSettings {
        let mut env = self.env;
        env.extend(other.env);
        let mut variants = self.variants;
        variants.extend(other.variants);
        RunSettings {
            json: other.json.or(self.json),
            junit: other.junit.or(self.junit),
            timeout: other.timeout.or(self.timeout),
            kill_after: other.kill_after.or(self.kill_after),
            memory_interval: other.memory_interval.or(self.memory_interval),
            memory_warn: other.memory_warn.or(self.memory_warn),
            max_memory: other.max_memory.or(self.max_memory),
            isolate_tmp: other.isolate_tmp.or(self.isolate_tmp),
            headless: other.headless.or(self.headless),
            single_thread: other.single_thread.or(self.single_thread),
            env,
            core_dumps: other.core_dumps.or(self.core_dumps),
            max_fds: other.max_fds.or(self.max_fds),
            log: other.log.or(self.log),
            log_max_size: other.log_max_size.or(self.log_max_size),
            log_keep: other.log_keep.or(self.log_keep),
            store: other.store.or(self.store),
            keep_going: other.keep_going.or(self.keep_going),
            variant: other.variant.or(self.variant),
            variants,
        }
    }
}

/// Why the project's settings could not be read. Each message names the file, and for a bad
/// value the key and what it accepts: the usual cause is a typo, and the fix is in the file.
///
/// Causes are part of the message (not a `#[source]`) because the CLI prints these with
/// `Display` alone.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    /// Every bad key of one table (`at` names the file and table), so that one run of
    /// faultline shows everything to fix.
    #[error("{}", describe_problems(at, problems))]
    Invalid { at: String, problems: Vec<Problem> },
}

/// What is wrong with one key of a settings table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("unknown key `{key}`{hint}")]
    UnknownKey { key: String, hint: String },
    #[error("`{key}` must be {expected}, not {found}")]
    WrongType { key: String, expected: &'static str, found: String },
    #[error("`{key}`: {message}")]
    BadValue { key: String, message: String },
}

/// One problem on one line; several under a heading, one per line. The list of keys comes
/// once, last, when a key was unknown.
fn describe_problems(at: &str, problems: &[Problem]) -> String {
    let keys = if problems.iter().any(|p| matches!(p, Problem::UnknownKey { .. })) {
        Some(format!("the keys are {}", values::KEYS.join(", ")))
    } else {
        None
    };
    match problems {
        [one] => match keys {
            Some(keys) => format!("{at}: {one}; {keys}"),
            None => format!("{at}: {one}"),
        },
        many => {
            let mut text = format!("{at}: {} problems:", many.len());
            for problem in many {
                text.push_str(&format!("\n  {problem}"));
            }
            if let Some(keys) = keys {
                text.push_str(&format!("\n  ({keys})"));
            }
            text
        }
    }
}

/// Finds the project's settings: from `start` upward, the first directory holding `faultline.toml`
/// or a `pyproject.toml` with a `[tool.faultline]` table (faultline.toml wins when both are in
/// one dir). Returns (settings, path it came from).
///
/// Paths inside (json, junit, log) are relative to that file's directory. Unknown keys, wrong
/// types and values out of [`ranges`] are errors naming the file, every bad key and what it
/// accepts; durations and sizes accept the same strings as the CLI ("90s", "1GiB") and plain
/// numbers (seconds / bytes).
pub fn load_project_settings(start: &Path) -> Result<Option<(RunSettings, PathBuf)>, SettingsError> {
    // `ancestors()` of a relative path stops at its first component, not at `/`.
    let start = std::path::absolute(start).map_err(|error| SettingsError::Read { path: start.to_owned(), error })?;
    for dir in start.ancestors() {
        let own = dir.join(FAULTLINE_TOML);
        if own.is_file() {
            let table = read_toml(&own)?;
            let at = own.display().to_string();
            return values::settings_from_table(&table, &at, true, dir).map(|s| Some((s, own)));
        }
        let pyproject = dir.join(PYPROJECT_TOML);
        if pyproject.is_file() {
            let table = read_toml(&pyproject)?;
            if let Some(ours) = table.get("tool").and_then(|tool| tool.get("faultline")) {
                let at = format!("{} [tool.faultline]", pyproject.display());
                let Some(ours) = ours.as_table() else {
                    return Err(SettingsError::Invalid {
                        at: pyproject.display().to_string(),
                        problems: vec![Problem::WrongType {
                            key: "tool.faultline".to_owned(),
                            expected: "a table",
                            found: values::describe_type(ours),
                        }],
                    });
                };
                return values::settings_from_table(ours, &at, false, dir).map(|s| Some((s, pyproject)));
            }
        }
    }
    Ok(None)
}

fn read_toml(path: &Path) -> Result<toml::Table, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|error| SettingsError::Read { path: path.to_owned(), error })?;
    text.parse::<toml::Table>()
        .map_err(|e| SettingsError::Syntax { path: path.to_owned(), message: e.to_string().trim_end().to_owned() })
}
