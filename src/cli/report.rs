//! `faultline report --html FILE`: one self-contained HTML page of a stored run or crash
//! group (the latest run by default), or of a JSON report.

use super::args::ReportArgs;
use super::exit_codes;
use faultline::html;
use faultline::model::Report;
use faultline::read::{report_from_json, ReadReportError};
use faultline::store::Target;
use std::io::Write;
use std::path::Path;

/// Errors the user can fix, as the one line to print; every one is a usage error.
fn fail(message: impl std::fmt::Display) -> i32 {
    faultline::say!("faultline: {message}");
    exit_codes::USAGE
}

pub fn report(args: ReportArgs) -> i32 {
    if let Err(message) = super::files::check_destination("--html", &args.html) {
        return fail(message);
    }
    let page = if let Some(json) = &args.from_json {
        match read_report(json) {
            Ok(report) => html::render_report(&report),
            Err(message) => return fail(message),
        }
    } else {
        match render_from_store(args.store.as_deref(), args.target.as_deref()) {
            Ok(page) => page,
            Err(message) => return fail(message),
        }
    };
    match super::files::write_atomically(&args.html, |out| out.write_all(page.as_bytes())) {
        Ok(()) => {
            faultline::say!("faultline: HTML report written to {}", args.html.display());
            exit_codes::OK
        }
        Err(err) => fail(format_args!("could not write the HTML report to {}: {err}", args.html.display())),
    }
}

/// `RUN_OR_GROUP` looked up in the store: `run:N`, `group:ID`, a bare number or id, or
/// nothing for the latest run.
fn render_from_store(store: Option<&str>, target: Option<&str>) -> Result<String, String> {
    let mut store = super::store::open_named(store, false, false)?;
    match store.resolve(target).map_err(|e| e.to_string())? {
        Target::Run(run) => Ok(html::render_run(&run)),
        Target::Group(group) => Ok(html::render_group(&group)),
    }
}

fn read_report(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read {}: {e}; give --from-json the file `faultline run --json FILE` wrote", path.display())
    })?;
    report_from_json(&text).map_err(|err| match err {
        ReadReportError::NotAReport(_) => {
            format!("{} is {err}; write one with `faultline run --json {} -- COMMAND`", path.display(), path.display())
        }
        ReadReportError::NewerSchema { .. } => format!("{} was {err}", path.display()),
    })
}
