//! `faultline crashes`: the crash store's groups, one group, its runs, or reports imported
//! into it.

use super::args::{CrashesAction, CrashesArgs};
use super::exit_codes;
use faultline::model::Report;
use faultline::report::{self, TerminalStyle};
use faultline::store::Store;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::Path;

pub fn crashes(args: CrashesArgs) -> i32 {
    let importing = matches!(args.action, Some(CrashesAction::Import { .. }));
    let mut store = match super::store::open_named(args.store.as_deref(), args.no_config, importing) {
        Ok(store) => store,
        Err(message) => {
            faultline::say!("faultline: {message}");
            return exit_codes::USAGE;
        }
    };
    let style = args.color.style(std::io::stdout().is_terminal());
    let result = match args.action.unwrap_or(CrashesAction::List) {
        CrashesAction::List => list(&mut store, args.json, &style),
        CrashesAction::Runs { limit, all } => runs(&mut store, (!all).then_some(limit), args.json, &style),
        CrashesAction::Show { id } => show(&mut store, &id, args.json, &style),
        CrashesAction::Import { files, no_redact } => return import(&mut store, &files, no_redact),
        CrashesAction::Prune { older_than } => prune(&mut store, older_than),
    };
    match result {
        Ok(()) => exit_codes::OK,
        Err(message) => {
            faultline::say!("faultline: {message}");
            exit_codes::USAGE
        }
    }
}

#[derive(Serialize)]
struct GroupList<'a> {
    store: String,
    runs: u64,
    groups: &'a [faultline::store::GroupSummary],
}

fn list(store: &mut Store, json: bool, style: &TerminalStyle) -> Result<(), String> {
    let where_ = store.location().display();
    let groups = store.groups().map_err(|e| e.to_string())?;
    let runs = store.run_count().map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let written = if json {
        write_json(&GroupList { store: where_, runs, groups: &groups }, &mut out)
    } else {
        report::write_group_list(&groups, &where_, runs, style, &mut out)
    };
    finish(written, out)
}

#[derive(Serialize)]
struct RunList<'a> {
    store: String,
    /// Runs in the store; `runs` holds the newest of them.
    total: u64,
    runs: &'a [faultline::store::RunSummary],
}

fn runs(store: &mut Store, limit: Option<u64>, json: bool, style: &TerminalStyle) -> Result<(), String> {
    let where_ = store.location().display();
    let runs = store.runs(limit).map_err(|e| e.to_string())?;
    let total = store.run_count().map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let written = if json {
        write_json(&RunList { store: where_, total, runs: &runs }, &mut out)
    } else {
        report::write_run_list(&runs, &where_, total, style, &mut out)
    };
    finish(written, out)
}

fn show(store: &mut Store, id: &str, json: bool, style: &TerminalStyle) -> Result<(), String> {
    let group = store.group(id).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let written = if json { write_json(&group, &mut out) } else { report::write_group(&group, style, &mut out) };
    finish(written, out)
}

fn prune(store: &mut Store, older_than: std::time::Duration) -> Result<(), String> {
    let (runs, crashes) = store.prune(older_than).map_err(|e| e.to_string())?;
    let _ = writeln!(
        std::io::stdout(),
        "removed {} and {} stored more than {} ago from {}",
        faultline::units::count(runs, "run", "runs"),
        faultline::units::count(crashes, "crash", "crashes"),
        faultline::units::format_duration(older_than),
        store.location().display()
    );
    Ok(())
}

/// Stores each report file; a file that cannot be read or stored is named and skipped.
fn import(store: &mut Store, files: &[std::path::PathBuf], no_redact: bool) -> i32 {
    let mut failed = 0;
    for path in files {
        match read_report(path) {
            Ok(mut report) => {
                if !no_redact {
                    faultline::redact::redact_report(&mut report);
                }
                match store.import(&report) {
                    Ok(saved) => {
                        let how = if saved.already_stored { "already stored" } else { "stored" };
                        let _ = writeln!(std::io::stdout(), "{}: {how} as run {}", path.display(), saved.run_id);
                        forget_kept_aside(path);
                    }
                    Err(err) => {
                        faultline::say!("faultline: {}: could not store it: {err}", path.display());
                        failed += 1;
                    }
                }
            }
            Err(message) => {
                faultline::say!("faultline: {}: {message}", path.display());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        faultline::say!(
            "faultline: {failed} of {} not imported",
            faultline::units::count(files.len() as u64, "report", "reports")
        );
        exit_codes::FOUND_PROBLEMS
    } else {
        exit_codes::OK
    }
}

/// A report faultline kept aside because the store could not take it goes once stored,
/// so that importing the folder again stores nothing twice. Other files are the user's.
fn forget_kept_aside(path: &Path) {
    let cwd = std::env::current_dir().unwrap_or_default();
    if super::unstored::is_kept_aside(path, &cwd) {
        if let Err(err) = std::fs::remove_file(path) {
            faultline::say!("faultline: {}: stored, but could not remove the kept-aside copy: {err}", path.display());
        }
    }
}

fn read_report(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    faultline::read::report_from_json(&text).map_err(|err| match err {
        faultline::read::ReadReportError::NotAReport(e) => {
            format!("not a faultline report ({e}); give files written by `faultline run --json`")
        }
        faultline::read::ReadReportError::NewerSchema { .. } => format!("{err}"),
    })
}

fn write_json(value: &impl Serialize, out: &mut impl Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// A closed pipe (`| head`) is not an error worth reporting.
fn finish(written: std::io::Result<()>, mut out: impl Write) -> Result<(), String> {
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write the output: {e}")),
        _ => Ok(()),
    }
}
