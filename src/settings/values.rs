//! Turning one TOML table (`faultline.toml`, or `[tool.faultline]` of pyproject.toml) into
//! [`RunSettings`], with errors that say what the key accepts.

use super::ranges::{self, Bytes, Range};
use super::{Problem, RunSettings, SettingsError};
use crate::units;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Value;

/// Every key, in the order `docs/configuration.md` documents them; named like the CLI's
/// long options so that one spelling works in both places.
pub(super) const KEYS: [&str; 19] = [
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
    "variant",
    "variants",
];

const DURATION: &str = "a duration: a string such as \"90s\", \"5m\" or \"250ms\", or a number of seconds";
const SIZE: &str = "a size: a string such as \"512MiB\", \"2GiB\" or \"100MB\", or a whole number of bytes";
const BOOL: &str = "true or false";
const COUNT: &str = "a whole number";
const PATH: &str = "a path (a string)";
const STORE: &str = "a SQLite file path, a postgres:// URL, or \"none\" (a string)";
const ENV_TABLE: &str = "a table of variables, such as env = { OMP_NUM_THREADS = \"4\" }";
const ENV_VALUE: &str = "a string (or a number)";
const VARIANT_NAME: &str = "a variant's name (a string such as \"heap-check\")";
const VARIANTS_TABLE: &str =
    "a table of variants, each a table of variables, such as variants = { small-pool = { POOL_SIZE = \"1\" } }";

/// Reads one settings table. `at` names it in errors; `top_level` says the keys sit at the
/// top of `faultline.toml` (which changes the hint for a stray `[tool.faultline]`); relative
/// paths are taken from `base_dir`, the file's directory, so the file means the same thing
/// whichever subdirectory faultline runs from.
///
/// Every key is read even after a bad one, so that one error lists all there is to fix.
pub(super) fn settings_from_table(
    table: &toml::Table,
    at: &str,
    top_level: bool,
    base_dir: &Path,
) -> Result<RunSettings, SettingsError> {
    let mut s = RunSettings::default();
    let mut problems = Vec::new();
    for (key, value) in table {
        let mut field = Field { key, value, problems: &mut problems };
        match key.as_str() {
            "timeout" => s.timeout = field.duration(&ranges::TIMEOUT),
            "kill-after" => s.kill_after = field.duration(&ranges::KILL_AFTER),
            "memory-interval" => s.memory_interval = field.duration(&ranges::MEMORY_INTERVAL),
            "memory-warn" => s.memory_warn = field.size(&ranges::MEMORY_SIZE),
            "max-memory" => s.max_memory = field.size(&ranges::MEMORY_SIZE),
            "isolate-tmp" => s.isolate_tmp = field.boolean(),
            "headless" => s.headless = field.boolean(),
            "single-thread" => s.single_thread = field.boolean(),
            "keep-going" => s.keep_going = field.boolean(),
            "env" => s.env = field.env(),
            "core-dumps" => s.core_dumps = field.boolean(),
            "max-fds" => s.max_fds = field.count(&ranges::MAX_FDS),
            "log" => s.log = field.path().map(|p| base_dir.join(p)),
            "log-max-size" => s.log_max_size = field.size(&ranges::LOG_MAX_SIZE),
            // In range means at most 1000: it fits.
            "log-keep" => s.log_keep = field.count(&ranges::LOG_KEEP).map(|n| n as u32),
            "json" => s.json = field.path().map(|p| base_dir.join(p)),
            "store" => s.store = field.store(base_dir),
            "junit" => s.junit = field.path().map(|p| base_dir.join(p)),
            "variant" => s.variant = field.variant_name(),
            "variants" => s.variants = field.variants(),
            _ => problems.push(Problem::UnknownKey { key: key.clone(), hint: unknown_key_hint(key, top_level) }),
        }
    }
    if problems.is_empty() {
        Ok(s)
    } else {
        Err(SettingsError::Invalid { at: at.to_owned(), problems })
    }
}

/// One `key = value` being read. Each reader returns the value, or `None` after noting why
/// it cannot be used in `problems`.
struct Field<'a> {
    key: &'a str,
    value: &'a Value,
    problems: &'a mut Vec<Problem>,
}

impl Field<'_> {
    fn wrong_type<T>(&mut self, expected: &'static str) -> Option<T> {
        let found = describe_value(self.value);
        self.problems.push(Problem::WrongType { key: self.key.to_owned(), expected, found });
        None
    }

    fn bad_value<T>(&mut self, message: impl Into<String>) -> Option<T> {
        self.problems.push(Problem::BadValue { key: self.key.to_owned(), message: message.into() });
        None
    }

    /// `value` if `check` passes it, else `None` with the reason noted.
    fn in_range<T>(&mut self, checked: Result<T, String>) -> Option<T> {
        match checked {
            Ok(value) => Some(value),
            Err(message) => self.bad_value(message),
        }
    }

    /// A store location: URLs and `none` as written, a SQLite path relative to the file.
    fn store(&mut self, base_dir: &Path) -> Option<String> {
        let Value::String(text) = self.value else {
            return self.wrong_type(STORE);
        };
        match crate::store::Location::parse(text, base_dir) {
            Some(crate::store::Location::Sqlite(path)) => Some(path.display().to_string()),
            _ => Some(text.clone()),
        }
    }

    fn duration(&mut self, range: &Range<Duration>) -> Option<Duration> {
        let seconds = match self.value {
            Value::String(text) => {
                let parsed = units::parse_duration(text).map_err(|e| e.to_string());
                return self.in_range(parsed.and_then(|d| range.check(d)));
            }
            Value::Integer(n) => *n as f64,
            Value::Float(n) => *n,
            _ => return self.wrong_type(DURATION),
        };
        if seconds < 0.0 {
            return self.bad_value(format!("{seconds} is negative; expected {DURATION}"));
        }
        let Ok(duration) = Duration::try_from_secs_f64(seconds) else {
            return self.bad_value(format!("{seconds} seconds is too long"));
        };
        self.in_range(range.check(duration))
    }

    fn size(&mut self, range: &Range<Bytes>) -> Option<u64> {
        let bytes = match self.value {
            Value::String(text) => units::parse_size(text).map_err(|e| e.to_string()),
            Value::Integer(n) => u64::try_from(*n).map_err(|_| format!("{n} is negative; expected {SIZE}")),
            _ => return self.wrong_type(SIZE),
        };
        self.in_range(bytes.and_then(|b| range.check(Bytes(b))).map(|b| b.0))
    }

    fn boolean(&mut self) -> Option<bool> {
        match self.value.as_bool() {
            Some(b) => Some(b),
            None => self.wrong_type(BOOL),
        }
    }

    fn count(&mut self, range: &Range<u64>) -> Option<u64> {
        let Value::Integer(n) = self.value else {
            return self.wrong_type(COUNT);
        };
        let n = *n;
        let checked = u64::try_from(n)
            .map_err(|_| format!("{n} is out of range: expected {}", range.describe()))
            .and_then(|n| range.check(n));
        self.in_range(checked)
    }

    fn path(&mut self) -> Option<PathBuf> {
        match self.value {
            Value::String(text) if !text.is_empty() => Some(PathBuf::from(text)),
            Value::String(_) => self.bad_value("the path is empty"),
            _ => self.wrong_type(PATH),
        }
    }

    /// `env = { KEY = "value" }`. Numbers are accepted because `OMP_NUM_THREADS = 4` is the
    /// obvious way to write it; booleans are not, since programs disagree on how to spell them.
    /// Every bad variable is noted; the good ones are kept.
    fn variant_name(&mut self) -> Option<String> {
        match self.value {
            Value::String(name) if is_variant_name(name) => Some(name.clone()),
            Value::String(name) => self.bad_value(format!("{name:?} is not a variant name (letters, digits, - and _)")),
            _ => self.wrong_type(VARIANT_NAME),
        }
    }

    /// `[variants]`: each variant a table of variables, read like `env`.
    fn variants(&mut self) -> Vec<(String, Vec<(String, String)>)> {
        let Value::Table(table) = self.value else {
            return self.wrong_type(VARIANTS_TABLE).unwrap_or_default();
        };
        let mut variants = Vec::with_capacity(table.len());
        for (name, value) in table {
            let key = format!("variants.{name}");
            let mut field = Field { key: &key, value, problems: &mut *self.problems };
            if !is_variant_name(name) {
                field.bad_value::<()>(format!("{name:?} is not a variant name (letters, digits, - and _)"));
                continue;
            }
            if crate::variants::BUILT_IN.contains(&name.as_str()) || name.starts_with("arena-") {
                field.bad_value::<()>(format!("`{name}` is a built-in variant; give yours another name"));
                continue;
            }
            let env = field.env();
            variants.push((name.clone(), env));
        }
        variants
    }

    fn env(&mut self) -> Vec<(String, String)> {
        let Value::Table(table) = self.value else {
            return self.wrong_type(ENV_TABLE).unwrap_or_default();
        };
        let mut pairs = Vec::with_capacity(table.len());
        for (name, value) in table {
            let key = format!("env.{name}");
            let mut field = Field { key: &key, value, problems: &mut *self.problems };
            if let Err(problem) = check_env_name(name) {
                field.bad_value::<()>(problem);
                continue;
            }
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Integer(n) => n.to_string(),
                Value::Float(n) => n.to_string(),
                _ => {
                    field.wrong_type::<()>(ENV_VALUE);
                    continue;
                }
            };
            if text.contains('\0') {
                field.bad_value::<()>("the value contains a NUL byte");
                continue;
            }
            pairs.push((name.clone(), text));
        }
        pairs
    }
}

fn is_variant_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
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
