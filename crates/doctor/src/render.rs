//! The readable table: problems first (fail, then warn) with the fix under each, then the
//! ok and skipped checks one line each.

use super::{Check, DoctorReport, Status};
use faultline_model::style::{Role, TerminalStyle};
use std::io::{self, Write};

fn tag(style: &TerminalStyle, status: Status) -> String {
    let text = format!("{:<4}", status.label());
    match status {
        Status::Fail => style.paint(Role::Alarm, &text),
        Status::Warn => style.paint(Role::Hint, &text),
        Status::Ok => style.paint(Role::Good, &text),
        Status::Skip => style.paint(Role::Faint, &text),
    }
}

pub fn summary_line(report: &DoctorReport) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let python =
        report.python.as_ref().map(|p| format!(" · python {} ({})", p.version, p.executable)).unwrap_or_default();
    format!(
        "faultline doctor: {}, {}, {} ok, {} skipped{python} · {:.2} s",
        plural(report.count(Status::Fail), "failure"),
        plural(report.count(Status::Warn), "warning"),
        report.count(Status::Ok),
        report.count(Status::Skip),
        report.duration_ms / 1000.0
    )
}

fn ordered(checks: &[Check]) -> Vec<&Check> {
    let mut sorted: Vec<&Check> = checks.iter().collect();
    sorted.sort_by_key(|c| c.status); // stable: the check order within a status is kept
    sorted
}

/// Only the failures, for `run --preflight`.
pub fn write_failures(report: &DoctorReport, style: &TerminalStyle, out: &mut impl Write) -> io::Result<()> {
    let failed: Vec<&Check> = report.checks.iter().filter(|c| c.status == Status::Fail).collect();
    write_rows(&failed, style, out)
}

fn write_rows(checks: &[&Check], style: &TerminalStyle, out: &mut impl Write) -> io::Result<()> {
    let width = checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let mut previous: Option<Status> = None;
    for check in checks {
        let problem = matches!(check.status, Status::Fail | Status::Warn);
        if previous.is_some_and(|p| matches!(p, Status::Fail | Status::Warn)) && !problem {
            writeln!(out)?;
        }
        previous = Some(check.status);
        writeln!(out, "{} {:<width$}  {}", tag(style, check.status), check.id, check.finding)?;
        if let Some(fix) = &check.fix {
            writeln!(out, "     {:<width$}  {} {fix}", "", style.paint(Role::Strong, "fix:"))?;
        }
    }
    Ok(())
}

pub fn write_table(report: &DoctorReport, style: &TerminalStyle, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", style.paint(Role::Strong, &summary_line(report)))?;
    writeln!(out)?;
    write_rows(&ordered(&report.checks), style, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_first_with_fixes() {
        let report = DoctorReport {
            schema_version: 1,
            checks: vec![
                Check::ok("machine.memory", "5 GiB available"),
                Check::warn("capture.core-size", "core dumps are disabled", "use `faultline run --core-dumps`"),
                Check::skip("tests.pytest", "pytest is not installed"),
                Check::fail("python.version", "cannot run /nope", "name one with --python"),
            ],
            duration_ms: 120.0,
            python: None,
        };
        let mut out = Vec::new();
        write_table(&report, &TerminalStyle::plain(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = "\
faultline doctor: 1 failure, 1 warning, 1 ok, 1 skipped · 0.12 s

fail python.version     cannot run /nope
                        fix: name one with --python
warn capture.core-size  core dumps are disabled
                        fix: use `faultline run --core-dumps`

ok   machine.memory     5 GiB available
skip tests.pytest       pytest is not installed
";
        assert_eq!(text, expected);
    }
}
