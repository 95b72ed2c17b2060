//! Turning one TOML table (`faultline.toml`, or `[tool.faultline]` of pyproject.toml) into
//! [`RunSettings`], with errors that say what the key accepts.

use super::{RunSettings, SettingsError};
use crate::units;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Value;

/// Every key, in the order `docs/configuration.md` documents them; named like the CLI's
/// long options so that one spelling works in both places.
pub(super) const KEYS: [&str; 17] = [
    "timeout",
    "kill-after",
    "memory-interval",
    "memory-warn",
    "max-memory",
    "isolate-tmp",
    "headless",
    "single-thread",
    "env",
    "core-dumps",
    "max-fds",
    "log",
    "log-max-size",
    "log-keep",
    "json",
    "store",
    "junit",
];

const DURATION: &str = "a duration: a string such as \"90s\", \"5m\" or \"250ms\", or a number of seconds";
const SIZE: &str = "a size: a string such as \"512MiB\", \"2GiB\" or \"100MB\", or a whole number of bytes";
const BOOL: &str = "true or false";
const COUNT: &str = "a whole number";
const PATH: &str = "a path (a string)";
const STORE: &str = "a SQLite file path, a postgres:// URL, or \"none\" (a string)";
const ENV_TABLE: &str = "a table of variables, such as env = { OMP_NUM_THREADS = \"4\" }";
const ENV_VALUE: &str = "a string (or a number)";

/// Reads one settings table. `at` names it in errors; `top_level` says the keys sit at the
/// top of `faultline.toml` (which changes the hint for a stray `[tool.faultline]`); relative
/// paths are taken from `base_dir`, the file's directory, so the file means the same thing
/// whichever subdirectory faultline runs from.
pub(super) fn settings_from_table(
    table: &toml::Table,
    at: &str,
    top_level: bool,
    base_dir: &Path,
) -> Result<RunSettings, SettingsError> {
    let mut s = RunSettings::default();
    for (key, value) in table {
        let field = Field { at, key, value };
        match key.as_str() {
            "timeout" => s.timeout = Some(field.duration()?),
            "kill-after" => s.kill_after = Some(field.duration()?),
            "memory-interval" => s.memory_interval = Some(field.duration()?),
            "memory-warn" => s.memory_warn = Some(field.size()?),
            "max-memory" => s.max_memory = Some(field.size()?),
            "isolate-tmp" => s.isolate_tmp = Some(field.boolean()?),
            "headless" => s.headless = Some(field.boolean()?),
            "single-thread" => s.single_thread = Some(field.boolean()?),
            "env" => s.env = field.env()?,
            "core-dumps" => s.core_dumps = Some(field.boolean()?),
            "max-fds" => s.max_fds = Some(field.count(u64::MAX)?),
            "log" => s.log = Some(base_dir.join(field.path()?)),
            "log-max-size" => s.log_max_size = Some(field.size()?),
            "log-keep" => s.log_keep = Some(field.count(u32::MAX.into())? as u32),
            "json" => s.json = Some(base_dir.join(field.path()?)),
            "store" => s.store = Some(field.store(base_dir)?),
            "junit" => s.junit = Some(base_dir.join(field.path()?)),
            _ => {
                return Err(SettingsError::UnknownKey {
                    at: at.to_owned(),
                    key: key.clone(),
                    hint: unknown_key_hint(key, top_level),
                })
            }
        }
    }
    Ok(s)
}

/// One `key = value` being read, with what an error needs to point at it.
struct Field<'a> {
    at: &'a str,
    key: &'a str,
    value: &'a Value,
}

impl Field<'_> {
    fn wrong_type(&self, expected: &'static str) -> SettingsError {
        SettingsError::WrongType {
            at: self.at.to_owned(),
            key: self.key.to_owned(),
            expected,
            found: describe_value(self.value),
        }
    }

    fn bad_value(&self, message: impl Into<String>) -> SettingsError {
        SettingsError::BadValue { at: self.at.to_owned(), key: self.key.to_owned(), message: message.into() }
    }

    /// A store location: URLs and `none` as written, a SQLite path relative to the file.
    fn store(&self, base_dir: &Path) -> Result<String, SettingsError> {
        let Value::String(text) = self.value else {
            return Err(self.wrong_type(STORE));
        };
        match crate::store::Location::parse(text, base_dir) {
            Some(crate::store::Location::Sqlite(path)) => Ok(path.display().to_string()),
            _ => Ok(text.clone()),
        }
    }

    fn duration(&self) -> Result<Duration, SettingsError> {
        let seconds = match self.value {
            Value::String(text) => return units::parse_duration(text).map_err(|e| self.bad_value(e.to_string())),
            Value::Integer(n) => *n as f64,
            Value::Float(n) => *n,
            _ => return Err(self.wrong_type(DURATION)),
        };
        if seconds < 0.0 {
            return Err(self.bad_value(format!("{seconds} is negative; expected {DURATION}")));
        }
        Duration::try_from_secs_f64(seconds).map_err(|_| self.bad_value(format!("{seconds} seconds is too long")))
    }

    fn size(&self) -> Result<u64, SettingsError> {
        match self.value {
            Value::String(text) => units::parse_size(text).map_err(|e| self.bad_value(e.to_string())),
            Value::Integer(n) => {
                u64::try_from(*n).map_err(|_| self.bad_value(format!("{n} is negative; expected {SIZE}")))
            }
            _ => Err(self.wrong_type(SIZE)),
        }
    }

    fn boolean(&self) -> Result<bool, SettingsError> {
        self.value.as_bool().ok_or_else(|| self.wrong_type(BOOL))
    }

    fn count(&self, max: u64) -> Result<u64, SettingsError> {
        let Value::Integer(n) = self.value else {
            return Err(self.wrong_type(COUNT));
        };
        match u64::try_from(*n) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(self.bad_value(format!("{n} is out of range: expected a whole number from 0 to {max}"))),
        }
    }

    fn path(&self) -> Result<PathBuf, SettingsError> {
        match self.value {
            Value::String(text) if !text.is_empty() => Ok(PathBuf::from(text)),
            Value::String(_) => Err(self.bad_value("the path is empty")),
            _ => Err(self.wrong_type(PATH)),
        }
    }

    /// `env = { KEY = "value" }`. Numbers are accepted because `OMP_NUM_THREADS = 4` is the
    /// obvious way to write it; booleans are not, since programs disagree on how to spell them.
    fn env(&self) -> Result<Vec<(String, String)>, SettingsError> {
        let Value::Table(table) = self.value else {
            return Err(self.wrong_type(ENV_TABLE));
        };
        let mut pairs = Vec::with_capacity(table.len());
        for (name, value) in table {
            let key = format!("env.{name}");
            let field = Field { at: self.at, key: &key, value };
            if let Err(problem) = check_env_name(name) {
                return Err(field.bad_value(problem));
            }
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Integer(n) => n.to_string(),
                Value::Float(n) => n.to_string(),
                _ => return Err(field.wrong_type(ENV_VALUE)),
            };
            if text.contains('\0') {
                return Err(field.bad_value("the value contains a NUL byte"));
            }
            pairs.push((name.clone(), text));
        }
        Ok(pairs)
    }
}

/// Why `name` cannot be an environment variable name, if it cannot: execve splits each entry
/// at its first `=` and ends it at NUL.
pub fn check_env_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("an environment variable name cannot be empty".to_owned())
    } else if name.contains('=') {
        Err(format!("environment variable name {name:?} contains '='"))
    } else if name.contains('\0') {
        Err(format!("environment variable name {name:?} contains a NUL byte"))
    } else {
        Ok(())
    }
}

/// "a string", "an integer", ... with the value when it is short, for "must be X, not Y".
fn describe_value(value: &Value) -> String {
    let kind = describe_type(value);
    match value {
        Value::String(s) if s.chars().count() <= 40 => format!("{kind} ({s:?})"),
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) => format!("{kind} ({value})"),
        _ => kind,
    }
}

pub(super) fn describe_type(value: &Value) -> String {
    match value {
        Value::Integer(_) | Value::Array(_) => format!("an {}", value.type_str()),
        _ => format!("a {}", value.type_str()),
    }
}

/// " (did you mean `max-memory`?)" for the likely typos: snake_case, capitals, a letter or two off.
fn unknown_key_hint(key: &str, top_level: bool) -> String {
    if top_level && key == "tool" {
        return " (in faultline.toml the keys go at the top level, without [tool.faultline])".to_owned();
    }
    let normalized = key.to_ascii_lowercase().replace('_', "-");
    let best = KEYS
        .iter()
        .map(|known| (edit_distance(&normalized, known), *known))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    match best {
        Some((_, known)) => format!(" (did you mean `{known}`?)"),
        None => String::new(),
    }
}

/// Levenshtein distance; keys are short, so the simple table is fine.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substituted = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("max-memroy", "max-memory"), 2);
        assert_eq!(edit_distance("timeout", "timeout"), 0);
        assert_eq!(edit_distance("", "log"), 3);
    }

    #[test]
    fn hints_for_typos() {
        assert_eq!(unknown_key_hint("max_memory", false), " (did you mean `max-memory`?)");
        assert_eq!(unknown_key_hint("Timeout", false), " (did you mean `timeout`?)");
        assert_eq!(unknown_key_hint("isolate-temp", false), " (did you mean `isolate-tmp`?)");
        assert_eq!(unknown_key_hint("color", false), "");
        assert!(unknown_key_hint("tool", true).contains("top level"));
    }
}
