//! Finding and opening the crash store for any subcommand, and keeping a run's report in it.

use faultline::model::Report;
use faultline::store::{location, Location, Store};
use std::path::Path;

/// The store the layers name: `--store`, `FAULTLINE_STORE`, the project's `store` key, the
/// default. `None` when turned off (`--no-store`, or `none` in any layer).
pub fn resolve(cli: Option<&str>, no_store: bool, from_settings: Option<&str>, cwd: &Path) -> Option<Location> {
    if no_store {
        return None;
    }
    let env = std::env::var(location::STORE_ENV).ok().filter(|v| !v.trim().is_empty());
    location::resolve(cli, env.as_deref(), from_settings, cwd, None)
}

/// Opens the store outside a run (`crashes`, `report`): the project's settings are read for
/// the `store` key unless `--no-config`. A SQLite store must already exist unless `create`.
pub fn open_named(cli: Option<&str>, no_config: bool, create: bool) -> Result<Store, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let from_settings = if no_config {
        None
    } else {
        faultline::settings::load_project_settings(&cwd)
            .map_err(|e| e.to_string())?
            .and_then(|(settings, _)| settings.store)
    };
    let location = resolve(cli, false, from_settings.as_deref(), &cwd)
        .ok_or_else(|| "the crash store is turned off (`none`); name one with --store PATH_OR_URL".to_owned())?;
    if let Location::Sqlite(path) = &location {
        if !create && !path.is_file() {
            return Err(format!(
                "no crash store at {} yet: `faultline run` creates it with the first run (or name one with --store)",
                location.display()
            ));
        }
    }
    Store::open(&location).map_err(|e| format!("cannot open the crash store {}: {e}", location.display()))
}

/// Keeps the report of a finished run and says where, in one line on stderr. When the
/// store cannot take it, the report goes to a file to import later: nothing is lost.
pub fn keep_report(location: &Location, report: &Report, cwd: &Path) {
    let saved = Store::open(location).and_then(|mut store| store.save(report));
    match saved {
        Ok(saved) => {
            if report.crashes.is_empty() && report.timeout.is_none() && report.exit.code == 0 {
                return;
            }
            let mut line = format!("faultline: stored as run {} in {}", saved.run_id, location.display());
            for (group, count) in &saved.groups {
                let times = if *count == 1 { "first time".to_owned() } else { format!("{count} times") };
                line.push_str(&format!("; crash group {group} ({times}): faultline crashes show {group}"));
            }
            faultline::say!("{line}");
        }
        Err(err) => {
            faultline::say!("faultline: could not store the report in {}: {err}", location.display());
            match super::unstored::keep_aside(report, cwd) {
                Ok((path, passed_over)) => {
                    for why in passed_over {
                        faultline::say!("faultline: could not keep the report in {why}");
                    }
                    faultline::say!(
                        "faultline: the report is kept in {}; store it later with `faultline crashes import {}`",
                        path.display(),
                        path.display()
                    );
                }
                Err(failures) => faultline::say!(
                    "faultline: could not keep the report aside either ({}); it exists only above",
                    failures.join("; ")
                ),
            }
        }
    }
}
