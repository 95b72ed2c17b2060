//! A report turned into template-ready rows: plain strings and lists, decided here so the
//! templates only lay them out (and escape them).

use crate::html::chart::{memory_chart, LineChart};
use crate::html::prose::Prose;
use crate::html::stacks::{other_threads, processes, stack_rows, ProcessView, StackRow, ThreadView};
use crate::model::{Crash, MemoryReport, Outcome, ProcessRole, Report, SystemInfo, Thread, TimeoutInfo, TrendVerdict};
use crate::units::{count, readable_duration_ms, readable_limit_ms, readable_size, thousands};
use crate::view::crash::{
    kind_label, location, phase_text, python_frames_note, sanitizer_stack_title, sent_by_a_process,
};
use crate::view::stderr::{shown_tail, tail_heading};
use crate::view::summary::{launcher_note, summary_line};
use crate::view::text::{brief_command, Paths};
use crate::TerminalStyle;

/// How many stderr lines a crash shows (the terminal shows 8; a page has room).
const STDERR_LINES: usize = 40;

/// A labelled value in a facts table.
pub(crate) struct Fact {
    pub label: &'static str,
    pub value: Prose,
}

/// A fact shown as it is (a command line, a path).
pub(crate) fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    Fact { label, value: Prose::plain(value) }
}

pub(crate) struct ReportView {
    /// `1 crash (SIGSEGV null-deref) · exit 139 · 0.42 s · peak 45 MiB`.
    pub headline: String,
    /// CSS class of the headline: `bad` or `good`.
    pub tone: &'static str,
    /// No crash, no timeout, no memory stop.
    pub clean: bool,
    pub clean_text: String,
    pub facts: Vec<Fact>,
    pub crashes: Vec<CrashView>,
    pub timeout: Option<TimeoutView>,
    pub memory: Option<MemoryView>,
    pub system: Vec<Fact>,
}

pub(crate) struct CrashView {
    /// `crash-1`: the element id.
    pub anchor: String,
    /// `SIGSEGV (null-deref)`.
    pub title: String,
    /// `in bbox (_geom.c:53)`, or empty.
    pub place: String,
    pub message: Option<String>,
    pub facts: Vec<Fact>,
    pub hints: Vec<Prose>,
    /// `stack of thread MainThread (tid 48213), innermost first`.
    pub stack_title: String,
    pub stack: Vec<StackRow>,
    /// The stacks a sanitizer recorded (allocation, free): title and rows.
    pub sanitizer_stacks: Vec<(String, Vec<StackRow>)>,
    pub others: Vec<ThreadView>,
    /// `stderr (last 2 lines)`.
    pub stderr_heading: String,
    pub stderr: Vec<String>,
}

pub(crate) struct TimeoutView {
    /// `timed out after 10 s — stopped with SIGTERM`.
    pub title: String,
    pub findings: Vec<Prose>,
    pub processes: Vec<ProcessView>,
}

pub(crate) struct MemoryView {
    /// Set for a run stopped for memory: `stopped at the memory limit (1.0 GiB)`.
    pub stopped: Option<String>,
    pub facts: Vec<Fact>,
    pub chart: Option<LineChart>,
    /// Where the threads were when a memory limit stopped the run.
    pub processes: Vec<ProcessView>,
}

pub(crate) fn report_view(report: &Report) -> ReportView {
    let paths = Paths::new(report.cwd.as_deref());
    let headline = summary_line(report, &TerminalStyle::plain());
    let headline = headline.strip_prefix("faultline: ").unwrap_or(&headline).to_string();
    let clean = report.crashes.is_empty() && report.timeout.is_none() && report.outcome != Outcome::Oom;
    let tone = if clean && report.exit.code == 0 { "good" } else { "bad" };
    let clean_text = match report.exit.code {
        0 => "No crash: the command exited 0 and no process of its tree died from a fatal signal.".to_string(),
        code => format!("No crash: the command exited {code}, and no process of its tree died from a fatal signal."),
    };
    ReportView {
        headline,
        tone,
        clean,
        clean_text,
        facts: run_facts(report),
        crashes: report.crashes.iter().enumerate().map(|(i, c)| crash_view(i, c, &paths)).collect(),
        timeout: report.timeout.as_ref().map(|t| timeout_view(t, &paths)),
        memory: report.memory.as_ref().map(|m| memory_view(report, m, &paths)),
        system: report.system.as_ref().map(system_facts).unwrap_or_default(),
    }
}

/// A page title: `SIGSEGV (null-deref) in bbox (_geom.c:53) — python3 main.py`.
pub(crate) fn title(report: &Report) -> String {
    let command = brief_command(&report.command, 60);
    let what = match report.crashes.first() {
        Some(c) => match location(c) {
            Some(place) => format!("{} ({}) in {place}", c.signal, kind_label(c)),
            None => format!("{} ({})", c.signal, kind_label(c)),
        },
        None => summary_line(report, &TerminalStyle::plain())
            .trim_start_matches("faultline: ")
            .split(" · ")
            .next()
            .unwrap_or("")
            .to_string(),
    };
    format!("{what} — {command}")
}

fn run_facts(report: &Report) -> Vec<Fact> {
    let mut facts = vec![
        fact("command", report.command.join(" ")),
        fact("outcome", outcome_text(report.outcome)),
        fact("exit status", exit_text(report)),
        fact("duration", readable_duration_ms(report.duration_ms)),
    ];
    if let Some(cwd) = &report.cwd {
        facts.push(fact("directory", cwd.clone()));
    }
    if let Some(at) = &report.started_at {
        facts.push(fact("started", at.clone()));
    }
    if let Some(variant) = &report.variant {
        let env = if variant.env.is_empty() { "nothing set".to_owned() } else { variant.env.join(" ") };
        facts.push(fact("variant", format!("{}: {env}", variant.name)));
    }
    if report.processes_started > 0 {
        let all = thousands(u64::from(report.processes_started));
        facts.push(fact(
            "processes",
            match launcher_note(report) {
                Some(note) => format!("{all} ({note})"),
                None => all,
            },
        ));
    }
    facts
}

fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Crashed => "crashed",
        Outcome::Timeout => "timeout",
        Outcome::Oom => "out of memory",
        Outcome::Killed => "killed",
        Outcome::Error => "error",
    }
}

/// `139 (SIGSEGV, core dumped)`.
fn exit_text(report: &Report) -> String {
    let mut details = Vec::new();
    if let Some(signal) = &report.exit.signal {
        details.push(signal.clone());
    }
    if report.exit.core_dumped {
        details.push("core dumped".into());
    }
    if details.is_empty() {
        report.exit.code.to_string()
    } else {
        format!("{} ({})", report.exit.code, details.join(", "))
    }
}

fn crash_view(index: usize, crash: &Crash, paths: &Paths) -> CrashView {
    let mut facts = Vec::new();
    let kind = match &crash.fault_detail {
        Some(detail) => format!("{} — {detail}", crash.kind.as_str()),
        None => crash.kind.as_str().to_string(),
    };
    // faultline's own sentence: it may quote a command in backticks.
    facts.push(Fact { label: "kind", value: Prose::marked(&kind) });
    if let Some(sanitizer) = &crash.sanitizer {
        facts.push(fact("sanitizer", format!("{}: {}", sanitizer.tool, sanitizer.class)));
        if let Some(access) = &sanitizer.access {
            facts.push(fact("access", access.clone()));
        }
    }
    if let Some(c) = &crash.culprit {
        facts.push(fact("culprit", c.function.clone().unwrap_or_else(|| "??".into())));
        if let Some(module) = &c.module {
            facts.push(fact("module", module.clone()));
        }
        if let Some(file) = &c.file {
            let line = c.line.map(|l| format!(":{l}")).unwrap_or_default();
            facts.push(fact("source", format!("{file}{line}")));
        }
    }
    if let Some(p) = &crash.python {
        let line = p.line.map(|l| format!(":{l}")).unwrap_or_default();
        facts.push(fact("python", format!("{} ({}{line})", p.function, paths.python_file(&p.file))));
    }
    if let Some(test) = &crash.test {
        let when = test.when.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
        facts.push(fact("test", format!("{}{when}", test.nodeid)));
    }
    facts.push(fact("phase", phase_text(crash)));
    let role = match crash.process {
        ProcessRole::Main => "main",
        ProcessRole::Child => "child",
    };
    facts.push(fact("process", format!("pid {} ({role})", crash.pid)));
    facts.push(fact("command", crash.argv.join(" ")));
    if let Some(exe) = &crash.executable {
        facts.push(fact("executable", exe.clone()));
    }
    let thread = match &crash.thread_name {
        Some(name) => format!("{name} (tid {})", crash.tid),
        None => format!("tid {}", crash.tid),
    };
    facts.push(fact("thread", thread));
    let mut signal = crash.signal.clone();
    if let Some(code) = &crash.si_code {
        signal.push_str(&format!(" ({code})"));
    }
    facts.push(fact("signal", signal));
    if let Some(address) = &crash.fault_address {
        let label = if sent_by_a_process(crash) { "signal address" } else { "fault address" };
        facts.push(fact(label, address.clone()));
    }
    if let Some(sender) = crash.sender_pid {
        facts.push(fact("sent by", format!("pid {sender}")));
    }
    facts.push(fact("signature", crash.signature.clone()));

    let crashed = crash.crashed_thread();
    let (stack_title, stack) = match crashed {
        Some(t) => {
            let who = match &t.name {
                Some(name) => format!("thread {name} (tid {})", t.tid),
                None if t.tid == crash.pid.main_thread() => format!("the main thread (tid {})", t.tid),
                None => format!("tid {}", t.tid),
            };
            if t.frames.is_empty() {
                (format!("No stack was captured for {who}."), Vec::new())
            } else {
                let note = python_frames_note(t).map(|n| format!(" ({n})")).unwrap_or_default();
                (format!("Stack of {who}, innermost first{note}"), stack_rows(&t.frames, crash.culprit.as_ref(), paths))
            }
        }
        None => ("No stack was captured.".to_string(), Vec::new()),
    };
    let others: Vec<&Thread> = crash.threads.iter().filter(|t| Some(t.tid) != crashed.map(|c| c.tid)).collect();
    let others = other_threads(&others, paths);
    let stderr = shown_tail(&crash.stderr_tail, STDERR_LINES);
    let sanitizer_stacks = match &crash.sanitizer {
        Some(s) => s
            .extra_stacks()
            .map(|stack| (sanitizer_stack_title(&s.tool, stack), stack_rows(&stack.frames, None, paths)))
            .collect(),
        None => Vec::new(),
    };
    CrashView {
        anchor: format!("crash-{}", index + 1),
        title: format!("{} ({})", crash.signal, kind_label(crash)),
        place: location(crash).map(|p| format!("in {p}")).unwrap_or_default(),
        message: crash.message.clone(),
        facts,
        hints: crash.hints.iter().map(|h| Prose::marked(&h.text)).collect(),
        stack_title,
        stack,
        sanitizer_stacks,
        others,
        stderr_heading: tail_heading(stderr.len()),
        stderr,
    }
}

fn timeout_view(timeout: &TimeoutInfo, paths: &Paths) -> TimeoutView {
    let stopped = match timeout.stopped_with.as_deref() {
        Some("SIGKILL") => " — stopped with SIGKILL after the grace period".to_string(),
        Some(signal) => format!(" — stopped with {signal}"),
        None => String::new(),
    };
    let mut texts: Vec<String> = timeout.findings.iter().map(|f| f.text.clone()).collect();
    if timeout.processes.is_empty() {
        texts.push("No stacks could be taken before the tree was stopped.".into());
    }
    TimeoutView {
        title: format!("Timed out after {}{stopped}", readable_limit_ms(timeout.limit_ms)),
        findings: texts.iter().map(|t| Prose::marked(t)).collect(),
        processes: processes(&timeout.processes, &timeout.findings, paths),
    }
}

fn memory_view(report: &Report, m: &MemoryReport, paths: &Paths) -> MemoryView {
    let mut facts = vec![fact("peak", readable_size(m.peak_rss_bytes))];
    if let Some(h) = &m.peak_holder {
        facts.push(fact(
            "largest process",
            format!("pid {} ({}): {}", h.pid, brief_command(&h.argv, 80), readable_size(h.rss_bytes)),
        ));
    }
    if let Some(t) = &m.trend {
        let trend = match t.verdict {
            TrendVerdict::Growing => format!(
                "growing ~{}/s (r² {:.2}, {})",
                readable_size(t.bytes_per_s.max(0.0).round() as u64),
                t.r2,
                count(t.samples as u64, "sample", "samples")
            ),
            TrendVerdict::Flat => format!("flat ({})", count(t.samples as u64, "sample", "samples")),
        };
        facts.push(fact("trend", trend));
    }
    if let Some(limit) = m.limit_bytes {
        facts.push(fact("limit", readable_size(limit)));
    }
    if let Some(warn) = m.warn_bytes {
        facts.push(fact("warn at", readable_size(warn)));
    }
    if let Some(how) = &m.enforcement {
        facts.push(fact("enforced by", how.clone()));
    }
    if !m.oom_killed.is_empty() {
        let pids: Vec<String> = m.oom_killed.iter().map(|p| p.to_string()).collect();
        facts.push(fact("OOM killer took", format!("pid {}", pids.join(", "))));
    }
    let stopped = (report.outcome == Outcome::Oom).then(|| match m.limit_bytes {
        Some(limit) if m.snapshot.is_some() || m.oom_killed.is_empty() => {
            format!(
                "Stopped at the memory limit ({}): the tree reached {}",
                readable_size(limit),
                readable_size(m.peak_rss_bytes)
            )
        }
        _ => "Out of memory".to_string(),
    });
    MemoryView {
        stopped,
        facts,
        chart: memory_chart(&m.samples, m.limit_bytes, m.warn_bytes),
        processes: m.snapshot.as_deref().map(|p| processes(p, &[], paths)).unwrap_or_default(),
    }
}

fn system_facts(s: &SystemInfo) -> Vec<Fact> {
    let mut facts = Vec::new();
    if let Some(host) = &s.host {
        facts.push(fact("host", host.clone()));
    }
    if let Some(kernel) = &s.kernel {
        facts.push(fact("kernel", kernel.clone()));
    }
    match (&s.cpu_model, s.cpu_count) {
        (Some(model), Some(n)) => facts.push(fact("CPU", format!("{n} × {model}"))),
        (Some(model), None) => facts.push(fact("CPU", model.clone())),
        (None, Some(n)) => facts.push(fact("CPU", count(n as u64, "CPU", "CPUs"))),
        (None, None) => {}
    }
    match (s.memory_total_bytes, s.memory_available_bytes) {
        (Some(total), Some(free)) => {
            facts.push(fact("memory", format!("{} ({} available)", readable_size(total), readable_size(free))))
        }
        (Some(total), None) => facts.push(fact("memory", readable_size(total))),
        _ => {}
    }
    if let Some(v) = &s.python_version {
        facts.push(fact("Python", v.clone()));
    }
    facts.push(fact("faultline", s.faultline_version.clone()));
    facts
}
