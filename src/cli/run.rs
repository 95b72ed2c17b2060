//! `faultline run`: supervise the command, then report.

use super::args::{ColorChoice, RunArgs};
use faultline::events::RunEvent;
use faultline::model::Report;
use faultline::recorder::Recorder;
use faultline::report;
use std::io::{IsTerminal, Write};
use std::time::Instant;

pub fn run(args: RunArgs) -> i32 {
    if let Err(message) = check_json_destination(args.json.as_deref()) {
        eprintln!("faultline: {message}");
        return 2;
    }
    let command: Vec<String> = args.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut recorder = Recorder::new(command).on_event(|event| {
        if let RunEvent::Started { untraced: Some(why), .. } = event {
            eprintln!("faultline: {why}");
        }
    });
    let started = Instant::now();
    let end = match faultline::trace::run(&args.command, &mut recorder) {
        Ok(end) => end,
        Err(err) => {
            eprintln!("faultline: {err}");
            return err.exit_code();
        }
    };
    let mut report = recorder.finish(end.exit.clone(), end.processes_started, started.elapsed());
    if !args.no_redact {
        faultline::redact::redact_report(&mut report);
    }
    print_terminal_report(&report, args.color);
    if let Some(path) = &args.json {
        if let Err(err) = write_json(&report, path) {
            eprintln!("faultline: could not write the JSON report to {}: {err}", path.display());
        }
    }
    report.exit.code
}

fn print_terminal_report(report: &Report, color: ColorChoice) {
    let stderr = std::io::stderr();
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && stderr.is_terminal(),
    };
    let style = report::TerminalStyle::new(color);
    let mut out = stderr.lock();
    let _ = report::render_report(report, &style, &mut out);
    let _ = out.flush();
}

fn write_json(report: &Report, path: &std::path::Path) -> std::io::Result<()> {
    // Write beside, then rename: a reader never sees half a report.
    let tmp = path.with_extension("json.partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    report::write_json(report, &mut file)?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Fails early, before the command runs, when the report could not be written.
fn check_json_destination(path: Option<&std::path::Path>) -> Result<(), String> {
    let Some(path) = path else { return Ok(()) };
    if path.is_dir() {
        return Err(format!("--json {} is a directory; give a file path", path.display()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!("--json {}: folder {} does not exist", path.display(), parent.display()));
    }
    Ok(())
}
