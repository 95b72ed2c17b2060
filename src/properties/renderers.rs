//! Every renderer, fed reports whose every text is hostile: none panics, and no terminal
//! output (the report, `crashes`, `crashes show`, the stress summary, GitHub annotations)
//! carries a control character that faultline did not put there itself.

use proptest::prelude::*;

use super::strategies::{report, text, texts};
use crate::model::Report;
use crate::report::{TerminalBuilder, TerminalStyle};
use crate::store::{GroupDetail, GroupSummary, Occurrence, StoredRun};

/// What a terminal would act on in `out`: control characters but the line break, and with
/// `colors`, escape sequences other than faultline's own `ESC [ digits ; … m`.
fn foreign_controls(out: &str, colors: bool) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = out;
    while let Some(at) = rest.find(|c: char| c != '\n' && crate::escape::is_control(c)) {
        let tail = &rest[at..];
        let sgr_len = colors
            .then(|| tail.strip_prefix("\x1b["))
            .flatten()
            .and_then(|args| args.find('m').filter(|&end| args[..end].bytes().all(|b| b.is_ascii_digit() || b == b';')))
            .map(|end| end + 3);
        match sgr_len {
            Some(len) => rest = &tail[len..],
            None => {
                found.push(tail.chars().take(12).collect());
                rest = &tail[tail.chars().next().map_or(1, char::len_utf8)..];
            }
        }
    }
    found
}

fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the renderers write UTF-8")
}

fn check_terminal(what: &str, out: &str, colors: bool) -> Result<(), TestCaseError> {
    let found = foreign_controls(out, colors);
    prop_assert!(found.is_empty(), "{}: raw controls {:?} in\n{}", what, found, out);
    Ok(())
}

fn group_of(report: &Report, at_ms: i64) -> Option<GroupDetail> {
    let crash = report.crashes.first()?;
    let summary = GroupSummary::of_crash(crash, at_ms);
    let occurrences = vec![Occurrence {
        run_id: 1,
        at_ms,
        host: report.system.as_ref().and_then(|s| s.host.clone()),
        test: crash.test.as_ref().map(|t| t.nodeid.clone()),
        phase: crash.phase.as_str().to_owned(),
    }];
    let latest = StoredRun { id: 1, recorded_at_ms: at_ms, host: None, report: report.clone() };
    Some(GroupDetail { summary, occurrences, runs_since_first_seen: 1, latest })
}

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn terminal_reports(report in report(crate::diagnose::diagnose)) {
        for colors in [false, true] {
            let style = TerminalStyle::new(colors);
            let reporter = TerminalBuilder::new().style(style).stderr_lines(20).build();
            let out = render(|out| reporter.write_report(&report, out));
            check_terminal("report", &out, colors)?;
            for crash in &report.crashes {
                check_terminal("crash", &render(|out| reporter.write_crash(crash, out)), colors)?;
            }
        }
        let mut redacted = report.clone();
        crate::redact::redact_report(&mut redacted);
        let _ = render(|out| crate::report::render_report(&redacted, &TerminalStyle::plain(), out));
    }

    #[test]
    fn machine_reports(report in report(crate::diagnose::diagnose), workspace in text()) {
        let json = render(|out| crate::report::write_json(&report, out));
        prop_assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok(), "{}", json);
        let xml = render(|out| crate::report::write_junit(&report, out));
        prop_assert!(quick_junit::Report::deserialize_from_str(&xml).is_ok(), "{}", xml);
        for workspace in [None, Some(std::path::Path::new(&workspace))] {
            let lines = render(|out| crate::report::github::write_annotations(&report, workspace, out));
            check_terminal("annotations", &lines, false)?;
        }
        let _ = crate::html::render_report(&report);
    }

    #[test]
    fn store_and_stress_views(report in report(crate::diagnose::diagnose), store in text(), at_ms in any::<i64>(), command in texts(4)) {
        for colors in [false, true] {
            let style = TerminalStyle::new(colors);
            let groups: Vec<GroupSummary> = report.crashes.iter().map(|c| GroupSummary::of_crash(c, at_ms)).collect();
            let list = render(|out| crate::report::write_group_list(&groups, &store, 3, &style, out));
            check_terminal("crashes", &list, colors)?;
            if let Some(group) = group_of(&report, at_ms) {
                check_terminal("crashes show", &render(|out| crate::report::write_group(&group, &style, out)), colors)?;
                let _ = crate::html::render_group(&group);
                let _ = crate::html::render_run(&group.latest);
            }
            let result = crate::stress::RunResult {
                run: 1,
                exit_code: report.exit.code,
                report: Some(report.clone()),
                report_path: "/tmp/run-1.json".into(),
                log_path: "/tmp/run-1.log".into(),
                finished_ms: at_ms,
                variant: Some("heap-check".into()),
            };
            let summary = crate::stress::summarize(command.clone(), 2, 1, &[result], report.duration_ms, None, None);
            check_terminal("stress", &render(|out| crate::report::write_stress_summary(&summary, &style, out)), colors)?;
        }
    }
}
