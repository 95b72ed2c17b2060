//! The terminal section of a run stopped at its time limit: how it was stopped, what the
//! threads were doing (the findings of [`crate::diagnose::hang`]), then the stacks.
//!
//! ```text
//! faultline: timed out after 10 s — stopped with SIGTERM
//!   ⚠ MainThread (tid 48213) holds the GIL and is blocked on a lock (`pthread_mutex_lock`) …
//!
//!   pid 48213 main: python3 main.py
//!   stack of thread MainThread (tid 48213, holds the GIL), innermost first:
//! ```

use std::io::{self, Write};

use crate::model::TimeoutInfo;
use crate::snapshot::write_processes;
use crate::units::readable_limit_ms;
use crate::view::text::Paths;
use crate::TerminalConfig;
use faultline_model::style::Role;

/// Findings past this many are counted, not shown (a tree of 50 idle workers).
const MAX_FINDINGS: usize = 10;

pub(crate) fn write_timeout(
    config: &TerminalConfig,
    timeout: &TimeoutInfo,
    paths: &Paths,
    out: &mut dyn Write,
) -> io::Result<()> {
    let style = &config.style;
    let stopped = match timeout.stopped_with.as_deref() {
        Some("SIGKILL") => " — stopped with SIGKILL after the grace period".to_string(),
        Some(signal) => format!(" — stopped with {signal}"),
        None => String::new(),
    };
    writeln!(
        out,
        "{} {}{stopped}",
        style.paint(Role::Strong, "faultline:"),
        style.paint(Role::Alarm, &format!("timed out after {}", readable_limit_ms(timeout.limit_ms)))
    )?;
    let findings = &timeout.findings;
    for f in findings.iter().take(MAX_FINDINGS) {
        writeln!(out, "  {} {}", style.paint(Role::Hint, "⚠"), f.text)?;
    }
    if findings.len() > MAX_FINDINGS {
        writeln!(out, "  … and {} more", findings.len() - MAX_FINDINGS)?;
    }
    if timeout.processes.is_empty() {
        writeln!(out, "  no stacks could be taken before the tree was stopped")?;
    }
    write_processes(config, &timeout.processes, &findings, &|_| None, paths, out)?;
    writeln!(out)
}
