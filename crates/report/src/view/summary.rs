//! The last line of every run: what happened, the exit status, how long, the memory peak,
//! how many processes.
//!
//! `faultline: 1 crash (SIGSEGV null-deref) · exit 139 · 0.42 s · peak 45 MiB · 3 processes`
//!
//! Under a launcher (a pyenv shim) the count says how many were the launcher's:
//! `41 processes (40 of them the launcher's: /root/.pyenv/shims/python3)`.

use crate::model::{Outcome, Report};
use crate::units::{count, readable_duration_ms, readable_limit_ms, readable_size, thousands};
use faultline_model::style::{Role, TerminalStyle};

pub(crate) fn summary_line(report: &Report, style: &TerminalStyle) -> String {
    let mut parts = Vec::new();
    // A whole suite's run says first what the tests did, as pytest would.
    if let Some(suite) = &report.suite {
        let problems = suite.tests.iter().any(|t| t.outcome.is_problem());
        let role = if problems { Role::Alarm } else { Role::Good };
        parts.push(style.paint(role, &crate::suite::summary_words(suite)));
    }
    let crashes = crash_part(report);
    let outcome = outcome_part(report);
    match (crashes, outcome) {
        (Some(c), Some(o)) => parts.push(style.paint(Role::Alarm, &format!("{o}, {c}"))),
        (Some(c), None) => parts.push(style.paint(Role::Alarm, &c)),
        (None, Some(o)) => parts.push(style.paint(Role::Alarm, &o)),
        (None, None) => {
            let role = if report.exit.code == 0 { Role::Good } else { Role::Strong };
            parts.push(style.paint(role, "no crash"));
        }
    }
    parts.push(format!("exit {}", report.exit.code));
    parts.push(readable_duration_ms(report.duration_ms));
    if let Some(m) = report.memory.as_ref().filter(|m| m.peak_rss_bytes > 0) {
        parts.push(format!("peak {}", readable_size(m.peak_rss_bytes)));
    }
    // 0 only in reports that never counted (an error before launch).
    if report.processes_started > 0 {
        let all = count(u64::from(report.processes_started), "process", "processes");
        parts.push(match launcher_note(report) {
            Some(note) => format!("{all} ({note})"),
            None => all,
        });
    }
    format!("{} {}", style.paint(Role::Strong, "faultline:"), parts.join(" · "))
}

/// `40 of them the launcher's: /root/.pyenv/shims/python3`, when the command's launcher ran
/// helper processes before the real program: a count of 41 says little about the program.
pub(crate) fn launcher_note(report: &Report) -> Option<String> {
    let launcher = report.launcher.as_ref().filter(|l| l.processes > 0)?;
    Some(format!("{} of them the launcher's: {}", thousands(u64::from(launcher.processes)), launcher.program))
}

/// `2 crashes (SIGSEGV null-deref ×2)`: crashes of one signal and kind counted together.
fn crash_part(report: &Report) -> Option<String> {
    if report.crashes.is_empty() {
        return None;
    }
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for c in &report.crashes {
        let key = format!("{} {}", c.signal, c.kind.as_str());
        match kinds.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => kinds.push((key, 1)),
        }
    }
    let described: Vec<String> =
        kinds.into_iter().map(|(k, n)| if n == 1 { k } else { format!("{k} ×{}", thousands(n as u64)) }).collect();
    Some(format!("{} ({})", count(report.crashes.len() as u64, "crash", "crashes"), described.join(", ")))
}

/// What ended the run when it was not the program itself.
fn outcome_part(report: &Report) -> Option<String> {
    match report.outcome {
        Outcome::Passed | Outcome::Failed | Outcome::Crashed => None,
        Outcome::Timeout => Some(match &report.timeout {
            Some(t) => format!("timed out after {}", readable_limit_ms(t.limit_ms)),
            None => "timed out".into(),
        }),
        Outcome::Oom => Some(match &report.memory {
            Some(m) if !m.oom_killed.is_empty() && m.snapshot.is_none() => "out of memory (OOM killer)".into(),
            Some(m) => match m.limit_bytes {
                Some(limit) => format!("out of memory (limit {})", readable_size(limit)),
                None => "out of memory".into(),
            },
            None => "out of memory".into(),
        }),
        Outcome::Killed => Some(match &report.exit.signal {
            Some(signal) => format!("killed by {signal}"),
            None => "killed".into(),
        }),
        Outcome::Error => Some("could not run the command".into()),
    }
}
