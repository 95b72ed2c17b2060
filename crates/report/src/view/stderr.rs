//! The crashed process's last stderr lines, as worth showing: Python's faulthandler dump is
//! left out (the stack above says the same, and more), so the lines that remain are the
//! program's own.

/// What faulthandler prints after `Fatal Python error: ` for each fatal signal.
const FAULTHANDLER_HEADERS: &[&str] = &[
    "Segmentation fault",
    "Aborted",
    "Floating point exception",
    "Floating-point exception",
    "Bus error",
    "Illegal instruction",
];

const NOTE: &str = "… faulthandler's traceback left out: the stack above shows it";

/// A line of faulthandler's dump: its header, thread lines, `  File "x", line 3 in f`
/// (no comma after the line number, unlike a Python traceback), the extension list.
fn is_faulthandler_line(line: &str) -> bool {
    if let Some(reason) = line.strip_prefix("Fatal Python error: ") {
        return FAULTHANDLER_HEADERS.contains(&reason.trim());
    }
    let thread = (line.starts_with("Current thread 0x") || line.starts_with("Thread 0x"))
        && line.trim_end().ends_with("(most recent call first):");
    let frame = line.starts_with("  File \"") && line.contains("\", line ") && !line.contains(", in ");
    thread
        || frame
        || line.starts_with("Extension modules: ")
        || matches!(line.trim_end(), "  <no Python frame>" | "  ..." | "  Garbage-collecting")
}

/// The last `max` lines worth showing, without trailing blanks.
pub(crate) fn shown_tail(lines: &[String], max: usize) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    let mut noted = false;
    for line in lines {
        if is_faulthandler_line(line) {
            if !noted {
                kept.push(NOTE.to_string());
                noted = true;
            }
            continue;
        }
        let blank = line.trim().is_empty();
        // faulthandler separates its parts with blank lines: keep at most one in a row.
        if blank && kept.last().is_none_or(|l| l.trim().is_empty() || l == NOTE) {
            continue;
        }
        kept.push(line.clone());
    }
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    let start = kept.len().saturating_sub(max);
    kept.split_off(start)
}

/// `stderr (last line)`, `stderr (last 8 lines)`: the heading above a shown tail.
pub(crate) fn tail_heading(shown: usize) -> String {
    match shown {
        1 => "stderr (last line)".to_string(),
        n => format!("stderr (last {})", crate::units::count(n as u64, "line", "lines")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_say_line_or_lines() {
        assert_eq!(tail_heading(1), "stderr (last line)");
        assert_eq!(tail_heading(2), "stderr (last 2 lines)");
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn faulthandler_dump_is_left_out() {
        let tail = lines(
            "............\n\
             Fatal Python error: Segmentation fault\n\
             \n\
             Current thread 0x00007f3a2c8e5740 (most recent call first):\n  \
               File \"/w/shapes.py\", line 14 in bbox\n  \
               File \"/w/tests/test_bbox.py\", line 14 in test_bbox_of_empty_polygon\n\
             \n\
             Extension modules: _geom (total: 1)\n",
        );
        assert_eq!(shown_tail(&tail, 8), vec!["............".to_string(), NOTE.to_string()]);
    }

    #[test]
    fn python_tracebacks_stay() {
        let tail = lines(
            "Traceback (most recent call last):\n  File \"/w/main.py\", line 3, in <module>\nValueError: bad\n\n\n",
        );
        assert_eq!(
            shown_tail(&tail, 8),
            lines("Traceback (most recent call last):\n  File \"/w/main.py\", line 3, in <module>\nValueError: bad")
        );
        assert_eq!(shown_tail(&tail, 1), vec!["ValueError: bad".to_string()]);
        assert!(shown_tail(&[String::new()], 5).is_empty());
    }
}
