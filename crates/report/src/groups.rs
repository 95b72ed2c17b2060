//! The crash store for people: the list of groups (`faultline crashes`) and one group with
//! its history and latest report (`faultline crashes show ID`).

use std::io::{self, Write};

use super::TerminalBuilder;
use crate::escape::{escape_controls, for_terminal};
use crate::store::{GroupDetail, GroupSummary};
use crate::units::{count, format_timestamp_ms};
use faultline_model::style::{Role, TerminalStyle};

/// Tests listed under a group before "and N more".
const TESTS_SHOWN: usize = 3;
/// Occurrences listed in `show` before the older ones are summed up.
const OCCURRENCES_SHOWN: usize = 20;

/// `faultline crashes`: every group, most recently seen first.
pub fn write_group_list(
    groups: &[GroupSummary],
    store: &str,
    runs: u64,
    style: &TerminalStyle,
    out: &mut impl Write,
) -> io::Result<()> {
    let groups: Vec<GroupSummary> = groups.iter().map(for_terminal).collect();
    let store = escape_controls(store);
    let crashes: u64 = groups.iter().map(|g| g.count).sum();
    writeln!(
        out,
        "{}",
        style.paint(
            Role::Strong,
            &format!(
                "Crash store {store}: {}, {} in {}",
                count(groups.len() as u64, "group", "groups"),
                count(crashes, "crash", "crashes"),
                count(runs, "run", "runs")
            )
        )
    )?;
    if groups.is_empty() {
        writeln!(out, "No crashes recorded yet.")?;
        return Ok(());
    }
    for group in &groups {
        writeln!(out)?;
        write_group_heading(group, &count(group.count, "crash", "crashes"), style, out)?;
        writeln!(
            out,
            "    first seen {}, last seen {}",
            format_timestamp_ms(group.first_seen_ms),
            format_timestamp_ms(group.last_seen_ms)
        )?;
        if !group.tests.is_empty() {
            let shown: Vec<&str> = group.tests.iter().take(TESTS_SHOWN).map(String::as_str).collect();
            let more = group.tests.len().saturating_sub(TESTS_SHOWN);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            writeln!(out, "    tests: {}{more}", shown.join(", "))?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        style.paint(
            Role::Faint,
            "`faultline crashes show ID` shows a group; `faultline report --html FILE ID` makes a page of it."
        )
    )
}

/// The first lines of a group in a list: id, signal and kind, `how_many`; the signature;
/// the culprit and the message when known.
pub(super) fn write_group_heading(
    g: &GroupSummary,
    how_many: &str,
    style: &TerminalStyle,
    out: &mut impl Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{}  {}  {how_many}",
        style.paint(Role::Strong, &g.id),
        style.paint(Role::Alarm, &format!("{} {}", g.signal, g.kind))
    )?;
    writeln!(out, "    {}", style.paint(Role::Faint, &g.signature))?;
    if let Some(culprit) = culprit(g) {
        writeln!(out, "    in {culprit}")?;
    }
    if let Some(message) = &g.message {
        writeln!(out, "    {}", first_line(message))?;
    }
    Ok(())
}

/// `faultline crashes show ID`: the group, where and when it happened, then its latest report.
pub fn write_group(group: &GroupDetail, style: &TerminalStyle, out: &mut impl Write) -> io::Result<()> {
    let group = &for_terminal(group);
    let g = &group.summary;
    writeln!(
        out,
        "{} {}",
        style.paint(Role::Strong, &format!("Crash group {}:", g.id)),
        style.paint(Role::Alarm, &format!("{} {}", g.signal, g.kind))
    )?;
    let row = |out: &mut dyn Write, label: &str, value: &str| writeln!(out, "  {label:<12}{value}");
    row(out, "signature", &g.signature)?;
    if let Some(culprit) = culprit(g) {
        row(out, "culprit", &culprit)?;
    }
    if let Some(message) = &g.message {
        row(out, "message", first_line(message))?;
    }
    row(
        out,
        "seen",
        &format!(
            "{} in {} since it was first seen",
            count(g.count, "time", "times"),
            count(group.runs_since_first_seen, "run", "runs")
        ),
    )?;
    row(out, "first seen", &format_timestamp_ms(g.first_seen_ms))?;
    row(out, "last seen", &format_timestamp_ms(g.last_seen_ms))?;
    for (i, test) in g.tests.iter().enumerate() {
        let times = group.occurrences.iter().filter(|o| o.test.as_deref() == Some(test.as_str())).count() as u64;
        row(out, if i == 0 { "tests" } else { "" }, &format!("{test} ({})", count(times, "time", "times")))?;
    }

    writeln!(out)?;
    writeln!(out, "{}", style.paint(Role::Strong, "Occurrences:"))?;
    let hidden = group.occurrences.len().saturating_sub(OCCURRENCES_SHOWN);
    if hidden > 0 {
        writeln!(out, "  {}", style.paint(Role::Faint, &format!("({hidden} earlier not shown)")))?;
    }
    for o in group.occurrences.iter().skip(hidden) {
        let mut line = format!("  run {:<6} {}  {:<8}", o.run_id, format_timestamp_ms(o.at_ms), o.phase);
        if let Some(host) = &o.host {
            line.push_str(&format!(" on {host}"));
        }
        if let Some(test) = &o.test {
            line.push_str(&format!("  {test}"));
        }
        writeln!(out, "{}", line.trim_end())?;
    }

    writeln!(out)?;
    let latest = &group.latest;
    let host = latest.host.as_deref().map(|h| format!(" on {h}")).unwrap_or_default();
    writeln!(
        out,
        "{}",
        style.paint(
            Role::Strong,
            &format!("Latest report (run {}, {}{host}):", latest.id, format_timestamp_ms(latest.recorded_at_ms))
        )
    )?;
    TerminalBuilder::new().style(*style).build().write_report(&latest.report, out)
}

/// `draw_frame at src/draw.c:42 (_draw.so)`, from what the group knows of its culprit.
pub(super) fn culprit(g: &GroupSummary) -> Option<String> {
    let function = g.culprit_function.as_deref()?;
    let mut text = function.to_owned();
    if let Some(file) = &g.culprit_file {
        text.push_str(&format!(" at {file}"));
        if let Some(line) = g.culprit_line {
            text.push_str(&format!(":{line}"));
        }
    }
    if let Some(module) = &g.culprit_module {
        text.push_str(&format!(" ({module})"));
    }
    Some(text)
}

pub(super) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::fixtures;
    use crate::store::{Occurrence, StoredRun};

    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_763_800_000_000;

    fn summary(id: &str, kind: &str, count: u64, tests: &[&str]) -> GroupSummary {
        GroupSummary {
            id: id.into(),
            signature: format!("SIGSEGV/{kind}/draw_frame@_draw/{id}"),
            signal: "SIGSEGV".into(),
            kind: kind.into(),
            culprit_function: Some("draw_frame".into()),
            culprit_module: Some("_draw.cpython-311-x86_64-linux-gnu.so".into()),
            culprit_file: Some("src/draw.c".into()),
            culprit_line: Some(42),
            message: None,
            count,
            first_seen_ms: T0,
            last_seen_ms: T0 + 2 * DAY,
            tests: tests.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn render(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn group_list() {
        let mut abort = summary("9f8e7d6c5b4a", "assert", 1, &[]);
        abort.signal = "SIGABRT".into();
        abort.culprit_file = None;
        abort.message = Some("python3: src/mod.c:12: check: Assertion `n > 0' failed.".into());
        let groups = vec![
            summary(
                "1a2b3c4d5e6f",
                "null-deref",
                7,
                &[
                    "tests/test_a.py::test_x",
                    "tests/test_b.py::test_y[1]",
                    "tests/test_b.py::test_y[2]",
                    "tests/test_c.py::test_z",
                ],
            ),
            abort,
        ];
        let text =
            render(|out| write_group_list(&groups, ".faultline/crashes.sqlite3", 12, &TerminalStyle::plain(), out));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn empty_store() {
        let text =
            render(|out| write_group_list(&[], "postgres://ci:[redacted]@db/crashes", 3, &TerminalStyle::plain(), out));
        assert_eq!(text, "Crash store postgres://ci:[redacted]@db/crashes: 0 groups, 0 crashes in 3 runs\nNo crashes recorded yet.\n");
    }

    #[test]
    fn one_group_with_its_latest_report() {
        let report = fixtures::report(&[fixtures::pytest_null_deref()]);
        let test = report.crashes[0].test.as_ref().unwrap().nodeid.clone();
        let occurrences: Vec<Occurrence> = (0..23)
            .map(|i| Occurrence {
                run_id: 3 + i,
                at_ms: T0 + i * DAY / 10,
                host: Some(if i % 2 == 0 { "ci-runner-1" } else { "ci-runner-2" }.into()),
                test: Some(test.clone()),
                phase: "test".into(),
            })
            .collect();
        let group = GroupDetail {
            summary: summary("1a2b3c4d5e6f", "null-deref", 23, &[&test]),
            occurrences,
            runs_since_first_seen: 40,
            latest: StoredRun { id: 25, recorded_at_ms: T0 + 2 * DAY, host: Some("ci-runner-1".into()), report },
        };
        let text = render(|out| write_group(&group, &TerminalStyle::plain(), out));
        insta::assert_snapshot!(text);
    }
}
