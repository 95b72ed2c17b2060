//! The threads beside the one a report shows in full, one line each. Threads whose stacks are
//! the same frame for frame share one line that says how many they are: a pool of 1,000 idle
//! workers is one line, not 1,000. The crash report, the stopped-tree report and the HTML
//! page all group this way; the JSON report keeps every thread.

use std::io::{self, Write};

use crate::model::Thread;
use crate::units::count;
use crate::view::threads::same_stack_groups;

/// Past this many lines the terminal says how many threads were left out.
pub(crate) const MAX_THREAD_LINES: usize = 20;

/// The lines of `threads`, grouped, at most [`MAX_THREAD_LINES`], each `indent`ed;
/// `line` writes one group's text (its first thread stands for the rest).
pub(crate) fn write_thread_lines(
    threads: &[&Thread],
    indent: &str,
    line: impl Fn(&[&Thread]) -> String,
    out: &mut dyn Write,
) -> io::Result<()> {
    let groups = same_stack_groups(threads);
    for group in groups.iter().take(MAX_THREAD_LINES) {
        writeln!(out, "{indent}{}", line(group))?;
    }
    let left: usize = groups.iter().skip(MAX_THREAD_LINES).map(Vec::len).sum();
    if left > 0 {
        writeln!(out, "{indent}… {}", count(left as u64, "more thread", "more threads"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Frame;
    use crate::view::threads::tests::thread;

    #[test]
    fn lines_are_capped_and_the_rest_counted() {
        // Distinct stacks (a different line each), so that nothing groups.
        let threads: Vec<Thread> = (0..MAX_THREAD_LINES as i32 + 1)
            .map(|i| thread(i, "t", vec![Frame::python("f".into(), "/a.py".into(), Some(i as u32 + 1), None)]))
            .collect();
        let refs: Vec<&Thread> = threads.iter().collect();
        let mut out = Vec::new();
        write_thread_lines(&refs, "  ", |g| format!("tid {}", g[0].tid), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), MAX_THREAD_LINES + 1);
        assert_eq!(text.lines().last(), Some("  … 1 more thread"));
    }
}
