//! Stacks of every thread of every process, as taken when a time limit stopped the run.

use std::io::{self, Write};

use crate::model::{ProcessRole, ProcessSnapshot};
use crate::report::stack::{stack_lines, StackView};
use crate::report::text::Paths;
use crate::report::TerminalConfig;

pub(crate) fn write_snapshots(
    config: &TerminalConfig,
    title: &str,
    processes: &[ProcessSnapshot],
    paths: &Paths,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{} {title}",
        config.style.paint(crate::report::style::Role::Strong, "faultline:")
    )?;
    for p in processes {
        let role = match p.process {
            ProcessRole::Main => "main",
            ProcessRole::Child => "child",
        };
        let argv = if p.argv.is_empty() {
            p.executable.clone().unwrap_or_default()
        } else {
            p.argv.join(" ")
        };
        writeln!(out)?;
        writeln!(out, "  pid {} {role}: {argv}", p.pid)?;
        for t in &p.threads {
            let name = t.name.clone().unwrap_or_else(|| "(unnamed)".into());
            let gil = if t.holds_gil == Some(true) {
                ", holds the GIL"
            } else {
                ""
            };
            writeln!(out, "  thread {name} (tid {}{gil}):", t.tid)?;
            for line in stack_lines(
                &StackView {
                    frames: &t.frames,
                    culprit: None,
                },
                paths,
                &config.style,
            ) {
                writeln!(out, "{line}")?;
            }
        }
    }
    writeln!(out)
}
