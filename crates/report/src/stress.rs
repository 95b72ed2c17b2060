//! What `faultline stress` prints at the end: how many runs crashed, and how.

use std::io::{self, Write};

use super::groups::write_group_heading;
use crate::escape::for_terminal;
use crate::units::{count, format_duration};
use faultline_model::style::{Role, TerminalStyle};
use faultline_store::stress::StressSummary;

/// Runs listed after a group before "and N more".
const RUNS_SHOWN: usize = 10;

pub fn write_stress_summary(s: &StressSummary, style: &TerminalStyle, out: &mut impl Write) -> io::Result<()> {
    let s = &for_terminal(s);
    let duration = format_duration(crate::units::duration_from_ms(s.duration_ms));
    let parallel = if s.jobs == 1 { "one at a time".to_owned() } else { format!("{} at a time", s.jobs) };
    writeln!(
        out,
        "{}",
        style.paint(
            Role::Strong,
            &format!(
                "faultline stress: {} of `{}`, {parallel}, {duration}",
                count(u64::from(s.runs_done), "run", "runs"),
                s.command.join(" ")
            )
        )
    )?;
    if let Some(why) = &s.stopped_early {
        writeln!(
            out,
            "stopped early ({why}): {} of {} made",
            s.runs_done,
            count(u64::from(s.runs_planned), "run", "runs")
        )?;
    }
    writeln!(out)?;
    let crashed = s.counts.crashed;
    if s.groups.is_empty() {
        let line = format!("No crash in {}.", count(u64::from(s.runs_done), "run", "runs"));
        writeln!(out, "{}", style.paint(if s.all_passed() { Role::Good } else { Role::Strong }, &line))?;
    } else {
        let percent = 100.0 * f64::from(crashed) / f64::from(s.runs_done.max(1));
        writeln!(
            out,
            "{}",
            style.paint(
                Role::Alarm,
                &format!(
                    "{crashed} of {} crashed ({percent:.0}%), in {}:",
                    count(u64::from(s.runs_done), "run", "runs"),
                    count(s.groups.len() as u64, "group", "groups")
                )
            )
        )?;
        for group in &s.groups {
            let g = &group.summary;
            let mut runs: Vec<String> = group.runs.iter().take(RUNS_SHOWN).map(|r| format!("#{r}")).collect();
            if group.runs.len() > RUNS_SHOWN {
                runs.push(format!("and {} more", group.runs.len() - RUNS_SHOWN));
            }
            writeln!(out)?;
            let how_many = format!("{}: {}", count(group.runs.len() as u64, "run", "runs"), runs.join(", "));
            write_group_heading(g, &how_many, style, out)?;
            if !g.tests.is_empty() {
                writeln!(out, "    tests: {}", g.tests.join(", "))?;
            }
            writeln!(out, "    report: {}", group.first_report.display())?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", rate_sentence(&s.rate))?;
    if !s.variants.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", style.paint(Role::Strong, "by variant:"))?;
        let width = s.variants.iter().map(|v| v.name.chars().count()).max().unwrap_or(0);
        for v in &s.variants {
            let groups = match v.groups.len() {
                0 => "no crash group".to_owned(),
                _ => format!("{}: {}", count(v.groups.len() as u64, "group", "groups"), v.groups.join(", ")),
            };
            let time = v
                .median_ms
                .map(|ms| format!(", median {}", format_duration(crate::units::duration_from_ms(ms))))
                .unwrap_or_default();
            writeln!(
                out,
                "  {:width$}  {} of {} crashed, {} (95%: {}–{}), {groups}{time}",
                v.name,
                v.rate.crashed,
                v.rate.runs,
                percent(v.rate.rate),
                percent(v.rate.low),
                percent(v.rate.high),
            )?;
        }
    }
    let c = &s.counts;
    let parts: Vec<String> = [
        (c.passed, "passed"),
        (c.failed, "failed"),
        (c.crashed, "crashed"),
        (c.timeout, "timed out"),
        (c.oom, "out of memory"),
        (c.killed, "killed"),
        (c.error, "could not run"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    writeln!(out, "runs: {}", if parts.is_empty() { "none".to_owned() } else { parts.join(", ") })?;
    match &s.logs {
        Some(dir) => {
            writeln!(out, "{}", style.paint(Role::Faint, &format!("each run's report and output: {}", dir.display())))
        }
        None => Ok(()),
    }
}

/// `3 of 50 crashed: the rate is 6% (2–16% with 95% confidence)`; with none, the bound a
/// user needs to believe a fix.
pub fn rate_sentence(rate: &faultline_store::stress::Rate) -> String {
    if rate.crashed == 0 {
        format!(
            "{} of {} crashed: the rate is below {} with 95% confidence",
            rate.crashed,
            rate.runs,
            percent(rate.high)
        )
    } else {
        format!(
            "{} of {} crashed: the rate is {} ({}–{} with 95% confidence)",
            rate.crashed,
            rate.runs,
            percent(rate.rate),
            percent(rate.low),
            percent(rate.high)
        )
    }
}

fn percent(fraction: f64) -> String {
    let value = fraction * 100.0;
    if value > 0.0 && value < 1.0 {
        format!("{value:.1}%")
    } else {
        format!("{value:.0}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;

    #[test]
    fn rates_say_their_interval() {
        use faultline_store::stress::wilson;
        assert_eq!(rate_sentence(&wilson(0, 50)), "0 of 50 crashed: the rate is below 7% with 95% confidence");
        assert_eq!(rate_sentence(&wilson(3, 50)), "3 of 50 crashed: the rate is 6% (2%–16% with 95% confidence)");
    }
    use faultline_store::stress::{fixture_result, summarize, RunResult};

    fn result(run: u32, crashes: &[crate::capture::Capture]) -> RunResult {
        fixture_result(run, crashes, "/tmp/faultline-stress-42")
    }

    fn render(s: &StressSummary) -> String {
        let mut out = Vec::new();
        write_stress_summary(s, &TerminalStyle::plain(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn crashes_in_two_groups() {
        let mut results: Vec<RunResult> = (1..=20).map(|run| result(run, &[])).collect();
        results[3] = result(4, &[fixtures::pytest_null_deref()]);
        results[10] = result(11, &[fixtures::pytest_null_deref()]);
        results[16] = result(17, &[fixtures::double_free()]);
        let command = vec!["python3".into(), "-m".into(), "pytest".into(), "tests/test_race.py".into()];
        let s = summarize(command, 20, 2, &results, 41_200.0, None, Some("/tmp/faultline-stress-42".into()));
        insta::assert_snapshot!(render(&s));
    }

    #[test]
    fn no_crash_and_stopped_early() {
        let results: Vec<RunResult> = (1..=3).map(|run| result(run, &[])).collect();
        let s = summarize(vec!["./flaky".into()], 50, 1, &results, 900.0, Some("interrupted".into()), None);
        let text = render(&s);
        assert!(text.contains("stopped early (interrupted): 3 of 50 runs made"), "{text}");
        assert!(text.contains("No crash in 3 runs."), "{text}");
        assert!(text.contains("runs: 3 passed"), "{text}");
        assert!(text.contains("one at a time"), "{text}");
    }
}
