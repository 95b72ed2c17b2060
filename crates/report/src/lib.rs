//! Reports for people (the terminal) and for machines (JSON, JUnit XML, GitHub Actions
//! annotations).
//!
//! The terminal reporter is built once (`TerminalBuilder` → frozen `TerminalReporter`) and
//! writes to any `io::Write`, so tests render into a `Vec<u8>`:
//!
//! ```
//! use faultline_report::{TerminalBuilder, TerminalStyle};
//! # fn show(report: &faultline_model::model::Report) -> std::io::Result<()> {
//! let reporter = TerminalBuilder::new().style(TerminalStyle::plain()).build();
//! let mut out = Vec::new();
//! reporter.write_report(report, &mut out)?;
//! # Ok(()) }
//! ```
//!
//! A crash can also be written on its own as soon as it is known
//! ([`TerminalReporter::write_crash`]), and the one-line run summary at the end
//! ([`TerminalReporter::write_summary`]). The report's `system` section is for machines
//! and is left out here.

pub mod html;
#[cfg(test)]
mod text_safety_tests;

use faultline_diagnose as diagnose;
#[cfg(test)]
use faultline_model::{capture, signals};
use faultline_model::{escape, model, units};
use faultline_store as store;

mod crash;
pub mod github;
mod groups;
pub mod junit;
mod memory;
mod runs;
mod settings_line;
mod snapshot;
mod stack;
mod stress;
pub mod suite;
mod threads;
mod timeout;
mod view;

#[cfg(test)]
mod ci_tests;
#[cfg(test)]
mod safe_runner_tests;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

use crate::escape::for_terminal;
use crate::model::{Crash, Outcome, Report};
use view::text::Paths;

pub use faultline_model::style::TerminalStyle;
pub use groups::{write_group, write_group_list};
pub use junit::write_junit;
pub use runs::write_run_list;
pub use stress::write_stress_summary;

/// Settings of the terminal report, frozen by [`TerminalBuilder::build`].
#[derive(Debug, Clone)]
pub(crate) struct TerminalConfig {
    pub style: TerminalStyle,
    pub stderr_lines: usize,
    pub show_signature: bool,
    pub cwd: Option<String>,
}

/// Configures a [`TerminalReporter`].
#[derive(Debug, Clone)]
pub struct TerminalBuilder {
    config: TerminalConfig,
}

impl Default for TerminalBuilder {
    fn default() -> TerminalBuilder {
        TerminalBuilder::new()
    }
}

impl TerminalBuilder {
    pub fn new() -> TerminalBuilder {
        TerminalBuilder {
            config: TerminalConfig { style: TerminalStyle::plain(), stderr_lines: 8, show_signature: true, cwd: None },
        }
    }

    pub fn style(mut self, style: TerminalStyle) -> TerminalBuilder {
        self.config.style = style;
        self
    }

    /// How many of the crashed process's last stderr lines to show (0: none).
    pub fn stderr_lines(mut self, lines: usize) -> TerminalBuilder {
        self.config.stderr_lines = lines;
        self
    }

    /// Whether to print each crash's signature.
    pub fn show_signature(mut self, show: bool) -> TerminalBuilder {
        self.config.show_signature = show;
        self
    }

    /// The directory Python paths are shown relative to; by default the report's `cwd`.
    pub fn cwd(mut self, cwd: impl Into<String>) -> TerminalBuilder {
        self.config.cwd = Some(cwd.into());
        self
    }

    pub fn build(self) -> TerminalReporter {
        TerminalReporter { config: self.config }
    }
}

/// Writes the terminal report. Immutable once built.
#[derive(Debug, Clone)]
pub struct TerminalReporter {
    config: TerminalConfig,
}

impl TerminalReporter {
    /// Every crash; a timeout (what the threads were doing, their stacks) or a memory stop
    /// (the limit, where the threads were); the memory line; then the run summary. Text
    /// from the processes is shown with its control characters escaped.
    pub fn write_report(&self, report: &Report, out: &mut impl Write) -> io::Result<()> {
        let report = &for_terminal(report);
        let paths = Paths::new(self.config.cwd.as_deref().or(report.cwd.as_deref()));
        for c in &report.crashes {
            crash::write_crash(&self.config, c, &paths, out)?;
            writeln!(out)?;
        }
        if let Some(t) = &report.timeout {
            timeout::write_timeout(&self.config, t, &paths, out)?;
        }
        if report.outcome == Outcome::Oom {
            memory::write_oom(&self.config, report, &paths, out)?;
        }
        if let Some(line) = memory::memory_line(report, &self.config.style) {
            writeln!(out, "{line}")?;
        }
        if let Some(suite) = &report.suite {
            suite::write_suite(&self.config, report, suite, out)?;
        }
        let cwd = self.config.cwd.as_deref().or(report.cwd.as_deref());
        if let Some(line) = settings_line::settings_line(report, cwd, &self.config.style) {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "{}", crate::view::summary::summary_line(report, &self.config.style))
    }

    /// One crash, as soon as it is known; paths are relative to the configured `cwd`.
    pub fn write_crash(&self, crash: &Crash, out: &mut impl Write) -> io::Result<()> {
        crash::write_crash(&self.config, &for_terminal(crash), &Paths::new(self.config.cwd.as_deref()), out)
    }

    /// The one-line run summary.
    pub fn write_summary(&self, report: &Report, out: &mut impl Write) -> io::Result<()> {
        writeln!(out, "{}", crate::view::summary::summary_line(&for_terminal(report), &self.config.style))
    }
}

/// The whole terminal report with default settings and the given style.
pub fn render_report(report: &Report, style: &TerminalStyle, out: &mut impl Write) -> io::Result<()> {
    TerminalBuilder::new().style(*style).build().write_report(report, out)
}

/// The JSON report (schema `faultline.report.v1`), pretty-printed, with a final newline.
pub fn write_json(report: &Report, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
