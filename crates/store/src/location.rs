//! Where the crash store lives.
//!
//! In order: `--store`, then `FAULTLINE_STORE`, then `store` in the project's settings, then
//! the default, `.faultline/crashes.sqlite3` in the project (the nearest folder upward
//! holding `pyproject.toml`, else the working directory). A `postgres://` or
//! `postgresql://` URL selects PostgreSQL; anything else is a SQLite file path; `none`
//! turns the store off.

use std::path::{Path, PathBuf};

/// The folder the default store lives in, inside the project.
pub const STORE_DIR: &str = ".faultline";
/// The default SQLite file inside [`STORE_DIR`].
pub const SQLITE_FILE: &str = "crashes.sqlite3";
/// The environment variable naming the store.
pub const STORE_ENV: &str = "FAULTLINE_STORE";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A libpq-style URL, `postgres://user:password@host:port/db`.
    Postgres(String),
}

impl Location {
    /// Reads one store value (`--store`, the variable, the settings key). `None` means the
    /// store is turned off.
    pub fn parse(value: &str, relative_to: &Path) -> Option<Location> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("none") || value.eq_ignore_ascii_case("off") {
            return None;
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Some(Location::Postgres(value.to_owned()));
        }
        let path = Path::new(value);
        Some(Location::Sqlite(if path.is_absolute() { path.to_owned() } else { relative_to.join(path) }))
    }

    /// The default store of the project that `cwd` belongs to.
    pub fn default_for(cwd: &Path) -> Location {
        Location::Sqlite(project_root(cwd).join(STORE_DIR).join(SQLITE_FILE))
    }

    /// How to show the location to people: a path as given, a URL without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(path) => {
                let cwd = std::env::current_dir().ok();
                match cwd.as_deref().and_then(|cwd| path.strip_prefix(cwd).ok()) {
                    Some(relative) => relative.display().to_string(),
                    None => path.display().to_string(),
                }
            }
            Location::Postgres(url) => without_password(url),
        }
    }

    /// Where a report goes when this store cannot take it: a folder of JSON files beside the
    /// default store, to import later.
    pub fn unstored_dir(cwd: &Path) -> PathBuf {
        project_root(cwd).join(STORE_DIR).join("unstored")
    }
}

/// Decides the store from the layers, first set wins.
pub fn resolve(
    cli: Option<&str>,
    env: Option<&str>,
    settings: Option<&str>,
    cwd: &Path,
    settings_dir: Option<&Path>,
) -> Option<Location> {
    if let Some(value) = cli.or(env) {
        return Location::parse(value, cwd);
    }
    if let Some(value) = settings {
        return Location::parse(value, settings_dir.unwrap_or(cwd));
    }
    Some(Location::default_for(cwd))
}

/// The nearest folder from `cwd` upward with a `pyproject.toml`, else `cwd`.
pub fn project_root(cwd: &Path) -> PathBuf {
    let cwd = std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_owned());
    cwd.ancestors().find(|dir| dir.join("pyproject.toml").is_file()).map(Path::to_owned).unwrap_or(cwd)
}

/// Creates a store folder; a `.faultline` folder gets a `.gitignore` of its own (`*`) so
/// that neither the store nor reports kept aside are ever committed by accident.
pub fn create_store_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for folder in dir.ancestors().filter(|d| d.file_name().is_some_and(|name| name == STORE_DIR)) {
        let ignore = folder.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "# Created by faultline: the crash store is not for version control.\n*\n")?;
        }
    }
    Ok(())
}

/// `postgres://user:secret@host/db?password=x` → `postgres://user:[redacted]@host/db?password=[redacted]`:
/// the password in the URL and any secret parameter, by the redactor's rules.
fn without_password(url: &str) -> String {
    crate::redact::redact_text(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_in_order() {
        let cwd = Path::new("/p");
        let pg = "postgres://u@h/db";
        assert_eq!(resolve(Some("x.db"), Some(pg), None, cwd, None), Some(Location::Sqlite("/p/x.db".into())));
        assert_eq!(resolve(None, Some(pg), Some("y.db"), cwd, None), Some(Location::Postgres(pg.into())));
        assert_eq!(
            resolve(None, None, Some("y.db"), cwd, Some(Path::new("/p/conf"))),
            Some(Location::Sqlite("/p/conf/y.db".into()))
        );
        assert_eq!(resolve(Some("none"), None, None, cwd, None), None);
        assert_eq!(resolve(None, None, Some("off"), cwd, None), None);
    }

    #[test]
    fn default_is_beside_pyproject() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("tests/deep");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(Location::default_for(&sub), Location::Sqlite(sub.join(".faultline/crashes.sqlite3")));
        std::fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        assert_eq!(Location::default_for(&sub), Location::Sqlite(dir.path().join(".faultline/crashes.sqlite3")));
    }

    #[test]
    fn passwords_are_not_shown() {
        let shown =
            Location::Postgres("postgresql://ci:s3cret@db.example:5432/crashes?sslmode=disable".into()).display();
        assert_eq!(shown, "postgresql://ci:[redacted]@db.example:5432/crashes?sslmode=disable");
        assert_eq!(Location::Postgres("postgres://db/crashes".into()).display(), "postgres://db/crashes");
        assert_eq!(Location::Postgres("postgres://ci@db/crashes".into()).display(), "postgres://ci@db/crashes");
        assert_eq!(
            Location::Postgres("postgres://db/x?sslmode=require&password=pw".into()).display(),
            "postgres://db/x?sslmode=require&password=[redacted]"
        );
    }
}
