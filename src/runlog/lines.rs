//! The text of each log line: pure functions of events and the report.

use crate::events::{InternalStage, RunEvent};
use crate::model::{ExitInfo, ProcessRole, Report};
use crate::signals::signal_name;
use crate::units::{format_duration, format_size};
use std::path::Path;
use std::time::Duration;

/// `run-started faultline=0.1.0 pid=42 cwd=/src command: python -m pytest -x`. The command is
/// redacted like the report (the log is shared as widely) and comes last, unquoted, so it
/// reads as typed.
pub fn started_line(command: &[String], cwd: Option<&Path>, our_pid: u32) -> String {
    let shown: Vec<String> = crate::redact::redact_argv(command).iter().map(|a| shell_word(a)).collect();
    let cwd = cwd.map(|c| value(&c.display().to_string())).unwrap_or_else(|| "?".to_owned());
    format!("run-started faultline={} pid={our_pid} cwd={cwd} command: {}", env!("CARGO_PKG_VERSION"), shown.join(" "))
}

/// `run-finished outcome=crashed exit=139 signal=SIGSEGV duration=12.3s peak-memory=1.2GiB processes=3 crashes=1`.
pub fn finished_line(report: &Report) -> String {
    let outcome = serde_json::to_value(report.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", report.outcome));
    let mut line = format!("run-finished outcome={outcome} exit={}", report.exit.code);
    if let Some(signal) = &report.exit.signal {
        line.push_str(&format!(" signal={signal}"));
    }
    let duration = Duration::try_from_secs_f64(report.duration_ms / 1000.0).unwrap_or_default();
    line.push_str(&format!(" duration={}", compact(&format_duration(duration))));
    if let Some(memory) = &report.memory {
        line.push_str(&format!(" peak-memory={}", compact(&format_size(memory.peak_rss_bytes))));
    }
    line.push_str(&format!(" processes={} crashes={}", report.processes_started, report.crashes.len()));
    line
}

/// One line per event. Exhaustive on purpose: a new kind of event should get a log line.
pub fn event_line(event: &RunEvent) -> String {
    match event {
        RunEvent::Started { root_pid, untraced: None } => format!("started pid={root_pid}"),
        RunEvent::Started { root_pid, untraced: Some(why) } => {
            format!("started pid={root_pid} untraced={}", value(why))
        }
        RunEvent::ProcessStarted { pid, parent } => {
            format!("process-started pid={pid} parent={parent}")
        }
        RunEvent::ProcessExec { pid, executable } => {
            format!("exec pid={pid} executable={}", executable.as_deref().map(value).unwrap_or_else(|| "?".to_owned()))
        }
        RunEvent::Crash(crash) => {
            let mut line = format!(
                "crash pid={} tid={} process={} signal={} kind={}",
                crash.pid,
                crash.tid,
                role(crash.process),
                crash.signal,
                crash.kind.as_str()
            );
            // Redacted like the command line: the event comes before the report is.
            if let Some(test) = &crash.test {
                line.push_str(&format!(" test={}", value(&crate::redact::redact_text(&test.nodeid))));
            }
            if let Some(function) = crash.culprit.as_ref().and_then(|c| c.function.as_deref()) {
                line.push_str(&format!(" culprit={}", value(&crate::redact::redact_text(function))));
            }
            line.push_str(&format!(" signature={}", value(&crash.signature)));
            line
        }
        RunEvent::ProcessExited { pid, role: r, exit } => {
            format!("exited pid={pid} process={}{}", role(*r), exit_fields(exit))
        }
        RunEvent::MemoryWarning { tree_bytes } => {
            format!("memory-warning tree={}", compact(&format_size(*tree_bytes)))
        }
        RunEvent::MemoryLimit { tree_bytes, limit } => format!(
            "memory-limit tree={} limit={}: taking stacks, then stopping the tree",
            compact(&format_size(*tree_bytes)),
            compact(&format_size(*limit))
        ),
        RunEvent::TimedOut { limit } => {
            format!("timeout limit={}: taking stacks, then stopping the tree", compact(&format_duration(*limit)))
        }
        RunEvent::Escalated { signal } => format!("escalated signal={}", signal_name(*signal)),
        RunEvent::InternalError { pid, stage } => format!("internal-error pid={pid} while={}", stage_name(*stage)),
    }
}

fn stage_name(stage: InternalStage) -> &'static str {
    match stage {
        InternalStage::TakingStacks => "taking-stacks",
        InternalStage::Capturing => "capturing",
        InternalStage::Explaining => "explaining",
    }
}

fn exit_fields(exit: &ExitInfo) -> String {
    let mut fields = format!(" code={}", exit.code);
    if let Some(signal) = &exit.signal {
        fields.push_str(&format!(" signal={signal}"));
    }
    if exit.core_dumped {
        fields.push_str(" core-dumped");
    }
    fields
}

fn role(role: ProcessRole) -> &'static str {
    match role {
        ProcessRole::Main => "main",
        ProcessRole::Child => "child",
    }
}

/// `1.2 GiB` → `1.2GiB`, `1m 30s` → `1m30s`: one token, still accepted by `units`.
fn compact(text: &str) -> String {
    text.replace(' ', "")
}

/// A value as one `key=value` token: quoted (Rust string syntax) when it has spaces, quotes
/// or nothing at all.
fn value(text: &str) -> String {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\' || c.is_control()) {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

/// An argument as a shell would need it typed.
fn shell_word(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Keeps one entry on one line: embedded line breaks become `\n`, `\r`.
pub(super) fn one_line(text: &str) -> String {
    text.replace('\n', "\\n").replace('\r', "\\r")
}
