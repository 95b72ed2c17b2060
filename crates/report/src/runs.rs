//! `faultline crashes runs`: every stored run, newest first, one line each: how it ended
//! (crashes, but also timeouts and memory stops, which form no group), its exit status,
//! how long it took and its crash groups.
//!
//! ```text
//! Crash store .faultline/crashes.sqlite3: 3 runs
//!
//! RUN  STORED                   OUTCOME  EXIT           DURATION  GROUPS        COMMAND
//!   3  2026-11-22 10:41:03 UTC  timeout  143 (SIGTERM)  10.0 s    -             python3 hang.py
//!   2  2026-11-22 10:40:12 UTC  crashed  139 (SIGSEGV)  0.42 s    1a2b3c4d5e6f  python3 -m pytest
//!   1  2026-11-22 10:39:58 UTC  passed   0              3.1 s     -             python3 -m pytest
//! ```

use std::collections::BTreeSet;
use std::io::{self, Write};

use crate::store::RunSummary;
use crate::units::count;
use crate::units::format_timestamp_ms;
use crate::units::readable_duration_ms;
use crate::view::text::brief_command;
use faultline_model::style::{Role, TerminalStyle};

/// Characters of the command shown; the JSON has all of it.
const COMMAND_WIDTH: usize = 60;

/// The list of `runs` (newest first) out of `total` stored in `store`.
pub fn write_run_list(
    runs: &[RunSummary],
    store: &str,
    total: u64,
    style: &TerminalStyle,
    out: &mut impl Write,
) -> io::Result<()> {
    let shown = if (runs.len() as u64) < total { format!(", the latest {} shown", runs.len()) } else { String::new() };
    writeln!(
        out,
        "{}",
        style.paint(Role::Strong, &format!("Crash store {store}: {}{shown}", count(total as u64, "run", "runs")))
    )?;
    if runs.is_empty() {
        writeln!(out, "No runs recorded yet.")?;
        return Ok(());
    }
    // The host says something only when several machines share the store.
    let hosts: BTreeSet<Option<&str>> = runs.iter().map(|r| r.host.as_deref()).collect();
    let with_host = hosts.len() > 1;

    let mut header = vec!["RUN", "STORED", "OUTCOME", "EXIT", "DURATION", "GROUPS"];
    if with_host {
        header.push("HOST");
    }
    header.push("COMMAND");
    let rows: Vec<Vec<String>> = runs.iter().map(|r| cells(r, with_host)).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    writeln!(out)?;
    let heading: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    writeln!(out, "{}", style.paint(Role::Faint, &line(&heading, &widths)))?;
    for (run, row) in runs.iter().zip(&rows) {
        // Padded first, painted after: escape codes have no width.
        let text = line(row, &widths);
        let (before, rest) = text.split_at(widths[0] + 2 + widths[1] + 2);
        let (outcome, after) = rest.split_at(widths[2]);
        writeln!(out, "{before}{}{after}", style.paint(outcome_role(&run.outcome), outcome))?;
    }
    let older = total.saturating_sub(runs.len() as u64);
    writeln!(out)?;
    if older > 0 {
        writeln!(
            out,
            "{}",
            style.paint(
                Role::Faint,
                &format!("{} not shown: --limit N or --all.", count(older as u64, "older run", "older runs"))
            )
        )?;
    }
    writeln!(
        out,
        "{}",
        style.paint(
            Role::Faint,
            "`faultline report --html FILE RUN` makes a page of a run; `faultline crashes show GROUP` shows a group."
        )
    )
}

/// The cells of one run, in header order.
fn cells(run: &RunSummary, with_host: bool) -> Vec<String> {
    let exit = match &run.exit_signal {
        Some(signal) => format!("{} ({signal})", run.exit_code),
        None => run.exit_code.to_string(),
    };
    let groups = match run.groups.as_slice() {
        [] => "-".to_owned(),
        [one] => one.clone(),
        [first, more @ ..] => format!("{first} +{}", more.len()),
    };
    let mut row = vec![
        run.id.to_string(),
        format_timestamp_ms(run.recorded_at_ms),
        run.outcome.clone(),
        exit,
        run.duration_ms.map_or_else(|| "?".to_owned(), readable_duration_ms),
        groups,
    ];
    if with_host {
        row.push(run.host.clone().unwrap_or_else(|| "-".to_owned()));
    }
    row.push(brief_command(&run.command, COMMAND_WIDTH));
    row
}

/// Cells padded to their column's width, two spaces apart; the run number right-aligned,
/// the last column not padded.
fn line(cells: &[String], widths: &[usize]) -> String {
    let last = cells.len() - 1;
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (cell, &width))| match i {
            0 => format!("{cell:>width$}"),
            _ if i == last => cell.clone(),
            _ => format!("{cell:<width$}"),
        })
        .collect();
    padded.join("  ")
}

fn outcome_role(outcome: &str) -> Role {
    match outcome {
        "passed" => Role::Good,
        "failed" => Role::Strong,
        _ => Role::Alarm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, outcome: &str, code: i32, signal: Option<&str>, groups: &[&str], host: &str) -> RunSummary {
        RunSummary {
            id,
            recorded_at_ms: 1_763_808_063_000,
            host: Some(host.to_owned()),
            command: vec!["/usr/bin/python3".into(), "hang.py".into(), "\x1b]0;title\x07".into()],
            outcome: outcome.into(),
            exit_code: code,
            exit_signal: signal.map(str::to_owned),
            duration_ms: Some(10_000.0),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    fn render(runs: &[RunSummary], total: u64) -> String {
        let mut out = Vec::new();
        write_run_list(runs, "s.sqlite3", total, &TerminalStyle::plain(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_aligned_line_per_run_with_outcome_exit_duration_and_groups() {
        let runs = [
            run(12, "timeout", 143, Some("SIGTERM"), &[], "ci"),
            run(9, "crashed", 139, Some("SIGSEGV"), &["1a2b3c4d5e6f", "0f0f0f0f0f0f"], "ci"),
            run(8, "passed", 0, None, &[], "ci"),
        ];
        let text = render(&runs, 20);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Crash store s.sqlite3: 20 runs, the latest 3 shown");
        assert_eq!(
            lines[2],
            "RUN  STORED                   OUTCOME  EXIT           DURATION  GROUPS           COMMAND"
        );
        assert!(
            lines[3].starts_with(
                " 12  2025-11-22 10:41:03 UTC  timeout  143 (SIGTERM)  10.0 s    -                python3 hang.py "
            ),
            "{text}"
        );
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "control characters are escaped\n{text}");
        assert!(
            lines[4].starts_with("  9  2025-11-22 10:41:03 UTC  crashed  139 (SIGSEGV)  10.0 s    1a2b3c4d5e6f +1  ")
        );
        assert!(lines[5].starts_with("  8  2025-11-22 10:41:03 UTC  passed   0              10.0 s    -  "));
        assert!(text.contains("17 older runs not shown: --limit N or --all."), "{text}");
        assert!(!text.contains("HOST"), "one host: no column\n{text}");
    }

    #[test]
    fn the_host_is_shown_when_several_machines_share_the_store() {
        let text =
            render(&[run(2, "oom", 137, Some("SIGKILL"), &[], "ci-2"), run(1, "oom", 137, None, &[], "ci-1")], 2);
        assert!(text.contains("HOST  COMMAND"), "{text}");
        assert!(text.contains("  ci-2  python3"), "{text}");
        assert!(!text.contains("not shown"), "{text}");
    }

    #[test]
    fn an_empty_store_says_so() {
        assert_eq!(render(&[], 0), "Crash store s.sqlite3: 0 runs\nNo runs recorded yet.\n");
    }
}
