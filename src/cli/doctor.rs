//! `faultline doctor`, and `faultline run --preflight`'s gate.

use super::args::{ColorChoice, DoctorArgs};
use super::exit_codes;
use faultline::doctor::{self, render, DoctorOptions, DoctorReport};
use std::io::{IsTerminal, Write};
use std::path::Path;

fn options(python: Option<&Path>) -> Result<DoctorOptions, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    Ok(DoctorOptions { python: python.map(Path::to_path_buf), cwd })
}

pub fn doctor(args: DoctorArgs) -> i32 {
    let options = match options(args.python.as_deref()) {
        Ok(options) => options,
        Err(message) => {
            faultline::say!("faultline: {message}");
            return exit_codes::USAGE;
        }
    };
    if let Some(Err(message)) = args.json.as_deref().map(|path| super::files::check_destination("--json", path)) {
        faultline::say!("faultline: {message}");
        return exit_codes::USAGE;
    }
    let report = doctor::run_doctor(&options);
    let stdout = std::io::stdout();
    let style = args.color.style(stdout.is_terminal());
    {
        let mut out = stdout.lock();
        let _ = render::write_table(&report, &style, &mut out);
        let _ = out.flush();
    }
    if let Some(path) = &args.json {
        if let Err(err) = write_json(&report, path) {
            faultline::say!("faultline: could not write the JSON result to {}: {err}", path.display());
            return exit_codes::USAGE;
        }
    }
    report.exit_code(args.strict)
}

/// `run --preflight`: `Some(exit_codes::FOUND_PROBLEMS)` (after printing the failures) when a check fails; `None` to
/// go on with the run.
pub fn preflight(python: Option<&Path>) -> Option<i32> {
    let options = match options(python) {
        Ok(options) => options,
        Err(message) => {
            faultline::say!("faultline: {message}");
            return Some(2);
        }
    };
    let report = doctor::run_doctor(&options);
    if !report.failed() {
        return None;
    }
    let stderr = std::io::stderr();
    let style = ColorChoice::Auto.style(stderr.is_terminal());
    let mut out = stderr.lock();
    let _ = writeln!(out, "faultline: pre-flight check failed; not starting the command (details: `faultline doctor`)");
    let _ = render::write_failures(&report, &style, &mut out);
    Some(exit_codes::FOUND_PROBLEMS)
}

fn write_json(report: &DoctorReport, path: &Path) -> std::io::Result<()> {
    let tmp = path.with_extension("json.partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    doctor::write_json(report, &mut file)?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)
}
