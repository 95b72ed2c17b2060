//! Memory in the terminal report: the section of a run stopped for memory (the limit, or
//! the kernel's OOM killer) with where each thread was, and the one `memory:` line of any
//! run that was sampled.
//!
//! ```text
//! faultline: stopped at the memory limit (1.0 GiB): the tree reached 1.1 GiB
//!   memory: peak 214 MiB (pid 123 python3 main.py) · growing ~88 MiB/s (r² 0.99)
//! ```

use crate::model::Pid;
use std::io::{self, Write};

use crate::diagnose::hang::activity::python_place;
use crate::model::{MemoryReport, Outcome, ProcessSnapshot, Report, TrendVerdict};
use crate::snapshot::write_processes;
use crate::units::{readable_size, size_apart};
use crate::view::text::{brief_command, Paths};
use crate::TerminalConfig;
use faultline_model::style::{Role, TerminalStyle};

/// The section of an `oom` run: what stopped it, who was killed, where the threads were.
pub(crate) fn write_oom(
    config: &TerminalConfig,
    report: &Report,
    paths: &Paths,
    out: &mut dyn Write,
) -> io::Result<()> {
    let style = &config.style;
    let strong = style.paint(Role::Strong, "faultline:");
    let Some(m) = &report.memory else {
        return writeln!(out, "{strong} {}\n", style.paint(Role::Alarm, "out of memory"));
    };
    let killed = oom_killed_text(m);
    let at_limit =
        m.limit_bytes.filter(|&limit| m.snapshot.is_some() || m.oom_killed.is_empty() || m.peak_rss_bytes >= limit);
    match at_limit {
        Some(limit) => {
            let what = format!("stopped at the memory limit ({})", readable_size(limit));
            writeln!(
                out,
                "{strong} {}: the tree reached {}",
                style.paint(Role::Alarm, &what),
                size_apart(limit, m.peak_rss_bytes)
            )?;
            if let Some(killed) = &killed {
                writeln!(out, "  {killed}")?;
            }
        }
        None => {
            let killed = killed.map(|k| format!(" — {k}")).unwrap_or_default();
            writeln!(out, "{strong} {}{killed}", style.paint(Role::Alarm, "out of memory"))?;
        }
    }
    let Some(processes) = &m.snapshot else {
        return writeln!(out);
    };
    if let Some(line) = largest_process_line(m, processes) {
        writeln!(out, "  {} {line}", style.paint(Role::Hint, "⚠"))?;
    }
    let note = |p: &ProcessSnapshot| {
        m.peak_holder
            .as_ref()
            .filter(|h| h.pid == p.pid && processes.len() > 1)
            .map(|h| format!("{} at the peak", readable_size(h.rss_bytes)))
    };
    write_processes(config, processes, &[], &note, paths, out)?;
    writeln!(out)
}

/// `the kernel's OOM killer took pid 48213 (python3 main.py)`.
fn oom_killed_text(m: &MemoryReport) -> Option<String> {
    if m.oom_killed.is_empty() {
        return None;
    }
    let named: Vec<String> = m.oom_killed.iter().map(|&pid| process_name(m, pid)).collect();
    let pids = if named.len() == 1 { "pid" } else { "pids" };
    Some(format!("the kernel's OOM killer took {pids} {}", named.join(", ")))
}

/// `48213 (python3 main.py)`, with the command line when the report knows it.
fn process_name(m: &MemoryReport, pid: i32) -> String {
    let from_snapshot = m.snapshot.iter().flatten().find(|p| p.pid == Pid(pid)).map(|p| p.argv.clone());
    let from_holder = m.peak_holder.as_ref().filter(|h| h.pid == Pid(pid)).map(|h| h.argv.clone());
    match from_snapshot.or(from_holder).filter(|a| !a.is_empty()) {
        Some(argv) => format!("{pid} ({})", brief_command(&argv, 60)),
        None => pid.to_string(),
    }
}

/// Where the process holding the most memory was: the Python frame of its thread holding
/// the GIL (else of its first thread in Python), which is most likely the one allocating.
fn largest_process_line(m: &MemoryReport, processes: &[ProcessSnapshot]) -> Option<String> {
    let process = match &m.peak_holder {
        Some(h) => processes.iter().find(|p| p.pid == h.pid),
        None => processes.first(),
    }?;
    let thread = process
        .threads
        .iter()
        .find(|t| t.holds_gil == Some(true))
        .or_else(|| process.threads.iter().find(|t| t.frames.iter().any(|f| f.is_python())))?;
    let place = python_place(&thread.frames)?;
    let name = thread.name.clone().unwrap_or_else(|| format!("tid {}", thread.tid));
    // Among several processes, say which one and how much it held.
    let of_process = match m.peak_holder.as_ref().filter(|h| h.pid == process.pid) {
        Some(h) if processes.len() > 1 => {
            format!(" of pid {}, the largest process ({}),", process.pid, readable_size(h.rss_bytes))
        }
        _ if processes.len() > 1 => format!(" of pid {}", process.pid),
        _ => String::new(),
    };
    Some(format!("{name}{of_process} was in {place} when the tree was stopped"))
}

/// `  memory: peak 214 MiB (pid 123 python3 main.py) · growing ~88 MiB/s (r² 0.99)`, for
/// any run whose memory was sampled.
pub(crate) fn memory_line(report: &Report, style: &TerminalStyle) -> Option<String> {
    let m = report.memory.as_ref()?;
    if m.peak_rss_bytes == 0 && m.samples.is_empty() {
        return None;
    }
    let mut peak = format!("peak {}", readable_size(m.peak_rss_bytes));
    if let Some(h) = &m.peak_holder {
        let argv = brief_command(&h.argv, 40);
        let argv = if argv.is_empty() { String::new() } else { format!(" {argv}") };
        if h.rss_bytes >= m.peak_rss_bytes {
            peak.push_str(&format!(" (pid {}{argv})", h.pid));
        } else if report.launcher.as_ref().is_some_and(|l| l.processes > 0) {
            // The tree's peak may be the launcher's helpers': say whose share this is.
            peak.push_str(&format!(
                " (the program's largest process: pid {}{argv}, {})",
                h.pid,
                readable_size(h.rss_bytes)
            ));
        } else {
            peak.push_str(&format!(" (most in pid {}{argv}: {})", h.pid, readable_size(h.rss_bytes)));
        }
    }
    let mut parts = vec![peak];
    if let Some(t) = &m.trend {
        parts.push(match t.verdict {
            TrendVerdict::Growing => {
                let rate = readable_size(t.bytes_per_s.max(0.0).round() as u64);
                style.paint(Role::Alarm, &format!("growing ~{rate}/s (r² {:.2})", t.r2))
            }
            TrendVerdict::Flat => "flat".to_string(),
        });
    }
    if let Some(warn) = m.warn_bytes.filter(|&w| w <= m.peak_rss_bytes) {
        parts.push(format!("over --memory-warn {}", readable_size(warn)));
    }
    if let Some(limit) = m.limit_bytes.filter(|_| report.outcome != Outcome::Oom) {
        parts.push(format!("limit {}", readable_size(limit)));
    }
    Some(format!("  memory: {}", parts.join(" · ")))
}
