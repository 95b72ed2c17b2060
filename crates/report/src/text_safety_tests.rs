//! The text passes of `faultline_model` (the visitor, terminal escaping) on whole diagnosed
//! reports, as the renderers of this crate show them.

use faultline_model::escape::is_control;
use faultline_model::texts::map_strings;

use crate::diagnose::fixtures;

/// Every string the visitor reaches, marked, must be all the report's strings: the JSON
/// form then holds no unmarked string value.
#[test]
fn every_string_of_a_report_is_visited() {
    let mut report = fixtures::report(&[fixtures::pytest_null_deref(), fixtures::double_free()]);
    map_strings(&mut report, &|s| Some(format!("@{s}")));
    let json = serde_json::to_value(&report).unwrap();
    let mut unmarked = Vec::new();
    collect_unmarked(&json, &mut unmarked);
    assert!(unmarked.is_empty(), "not visited: {unmarked:?}");
}

fn collect_unmarked(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if !s.starts_with('@') => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_unmarked(v, out)),
        // Enums serialize as strings: they hold no text.
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "outcome" | "kind" | "phase" | "process"))
            .for_each(|(_, v)| collect_unmarked(v, out)),
        _ => {}
    }
}

/// A crash whose every name came from a hostile process, as the terminal shows it: each
/// escape sequence written out, faultline's own colors untouched.
#[test]
fn a_hostile_crash_in_the_terminal() {
    use crate::diagnose::fixtures;
    use crate::{render_report, TerminalStyle};
    let title = "\x1b]0;PWNED\x07";
    let mut capture = fixtures::pytest_null_deref();
    capture.pytest.current_test = Some(format!("tests/test_bbox.py::test_{title} (call)"));
    let thread = &mut capture.threads[0];
    thread.name = Some(format!("Main{title}"));
    for frame in thread.frames.iter_mut().filter(|f| f.is_python()) {
        frame.function = frame.function.take().map(|f| format!("{f}\x1b[2J"));
        frame.file = frame.file.take().map(|f| f.replace("shapes", "sha\u{9b}pes"));
    }
    capture.stderr_tail = vec!["copy \x1b]52;c;aGk=\x07 \x1b]8;;https://evil/\x1b\\link\x1b]8;;\x1b\\ done".into()];
    let report = fixtures::report(&[capture]);
    let mut plain = Vec::new();
    render_report(&report, &TerminalStyle::plain(), &mut plain).unwrap();
    let plain = String::from_utf8(plain).unwrap();
    assert!(!plain.chars().any(|c| c != '\n' && is_control(c)), "{plain}");
    insta::assert_snapshot!(plain);

    let mut colored = Vec::new();
    render_report(&report, &TerminalStyle::new(true), &mut colored).unwrap();
    let colored = String::from_utf8(colored).unwrap();
    // Every ESC left is one of faultline's colors, `ESC[…m`.
    for (at, _) in colored.match_indices('\x1b') {
        let args = colored[at + 1..].strip_prefix('[').expect("a CSI");
        let end = args.find('m').expect("an SGR");
        assert!(args[..end].bytes().all(|b| b.is_ascii_digit() || b == b';'), "{:?}", &colored[at..]);
    }
    assert!(colored.contains("thread Main\\x1b]0;PWNED\\x07"), "{colored}");
}
