//! Every piece of text a report holds, visited in one place, for the passes that must see
//! all of it: redaction ([`crate::redact`]) and escaping for the terminal
//! ([`crate::escape`]).
//!
//! Each type is taken apart field by field without `..`: a field added to the model does
//! not compile until it is listed here, so no pass can miss it.

use crate::model::{
    Crash, Culprit, ExitInfo, Frame, HangFinding, Hint, Launcher, MemoryHolder, MemoryReport, MemoryTrend,
    ProcessSnapshot, PytestProgress, PythonLocation, RecentTest, Report, SanitizerReport, SanitizerStack, SuiteResult,
    SuiteTest, SystemInfo, TestRef, Thread, TimeoutInfo,
};

/// One text field.
pub enum Text<'a> {
    /// A command line, kept whole so that an option and its value are seen together.
    Argv(&'a mut Vec<String>),
    /// Text that came from the processes, or was written around such text (a message, a
    /// thread name, a stderr line, a hint naming a function).
    Free(&'a mut String),
    /// A name faultline made (a signature, a signal, a kind): escaped, never redacted, so
    /// that redacting cannot split a group.
    Ident(&'a mut String),
}

/// A value whose text fields can be visited.
pub trait Texts {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>));
}

/// Applies `map` to every string of `value` (argument vectors element by element).
pub fn map_strings(value: &mut impl Texts, map: &dyn Fn(&str) -> Option<String>) {
    let mut apply = |s: &mut String| {
        if let Some(new) = map(s) {
            *s = new;
        }
    };
    value.visit_texts(&mut |text| match text {
        Text::Argv(argv) => argv.iter_mut().for_each(&mut apply),
        Text::Free(s) | Text::Ident(s) => apply(s),
    });
}

/// Free text the process chose (a message, a path): redacted and escaped.
pub fn free(s: &mut String, f: &mut dyn FnMut(Text<'_>)) {
    f(Text::Free(s));
}

/// [`free`], when present.
pub fn free_opt(s: &mut Option<String>, f: &mut dyn FnMut(Text<'_>)) {
    if let Some(s) = s {
        f(Text::Free(s));
    }
}

/// A name faultline made (a signature, a signal, a kind): escaped, never redacted.
pub fn ident(s: &mut String, f: &mut dyn FnMut(Text<'_>)) {
    f(Text::Ident(s));
}

/// [`ident`], when present.
pub fn ident_opt(s: &mut Option<String>, f: &mut dyn FnMut(Text<'_>)) {
    if let Some(s) = s {
        f(Text::Ident(s));
    }
}

/// Every item of a list.
pub fn each<T: Texts>(items: &mut [T], f: &mut dyn FnMut(Text<'_>)) {
    for item in items {
        item.visit_texts(f);
    }
}

impl<T: Texts> Texts for Option<T> {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        if let Some(value) = self {
            value.visit_texts(f);
        }
    }
}

impl Texts for Report {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let Report {
            schema_version: _,
            faultline_version,
            command,
            cwd,
            started_at,
            duration_ms: _,
            outcome: _,
            exit,
            crashes,
            timeout,
            memory,
            system,
            processes_started: _,
            settings_file,
            variant,
            launcher,
            suite,
        } = self;
        ident(faultline_version, f);
        f(Text::Argv(command));
        free_opt(cwd, f);
        ident_opt(started_at, f);
        exit.visit_texts(f);
        each(crashes, f);
        timeout.visit_texts(f);
        memory.visit_texts(f);
        system.visit_texts(f);
        free_opt(settings_file, f);
        if let Some(variant) = variant {
            free(&mut variant.name, f);
            // `KEY=value` pairs: redacted as a command line's are.
            f(Text::Argv(&mut variant.env));
        }
        launcher.visit_texts(f);
        suite.visit_texts(f);
    }
}

impl Texts for SuiteResult {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let SuiteResult { restarts: _, tests, stopped } = self;
        each(tests, f);
        free_opt(stopped, f);
    }
}

impl Texts for SuiteTest {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let SuiteTest { nodeid, outcome: _, duration_ms: _, message, crash: _, order_dependent: _ } = self;
        free(nodeid, f);
        free_opt(message, f);
    }
}

impl Texts for PytestProgress {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let PytestProgress {
            channel: _,
            worker,
            collected: _,
            passed_before: _,
            failed_before: _,
            recent,
            session_finished: _,
        } = self;
        free_opt(worker, f);
        each(recent, f);
    }
}

impl Texts for RecentTest {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let RecentTest { nodeid, outcome } = self;
        free(nodeid, f);
        ident(outcome, f);
    }
}

impl Texts for Launcher {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let Launcher { program, became, processes: _ } = self;
        free(program, f);
        free_opt(became, f);
    }
}

impl Texts for ExitInfo {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let ExitInfo { code: _, signal, core_dumped: _ } = self;
        ident_opt(signal, f);
    }
}

impl Texts for Crash {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let Crash {
            pid: _,
            tid: _,
            process: _,
            executable,
            argv,
            thread_name,
            signal,
            si_code,
            fault_address,
            sender_pid: _,
            kind: _,
            phase: _,
            message,
            test,
            python,
            culprit,
            signature,
            hints,
            threads,
            fault_detail,
            stderr_tail,
            held_ms: _,
            report_ready_ms: _,
            message_untied: _,
            pytest,
            sanitizer,
        } = self;
        free_opt(executable, f);
        f(Text::Argv(argv));
        free_opt(thread_name, f);
        ident(signal, f);
        ident_opt(si_code, f);
        ident_opt(fault_address, f);
        free_opt(message, f);
        test.visit_texts(f);
        python.visit_texts(f);
        culprit.visit_texts(f);
        ident(signature, f);
        each(hints, f);
        each(threads, f);
        free_opt(fault_detail, f);
        stderr_tail.iter_mut().for_each(|line| free(line, f));
        pytest.visit_texts(f);
        if let Some(sanitizer) = sanitizer {
            sanitizer.visit_texts(f);
        }
    }
}

impl Texts for SanitizerReport {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let SanitizerReport { tool, class, access, location, stacks } = self;
        free(tool, f);
        free(class, f);
        free_opt(access, f);
        free_opt(location, f);
        for SanitizerStack { role, heading, frames } in stacks {
            free(role, f);
            free_opt(heading, f);
            each(frames, f);
        }
    }
}

impl Texts for TestRef {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let TestRef { nodeid, when } = self;
        free(nodeid, f);
        free_opt(when, f);
    }
}

impl Texts for PythonLocation {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let PythonLocation { function, file, line: _ } = self;
        free(function, f);
        free(file, f);
    }
}

impl Texts for Culprit {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let Culprit { function, module, file, line: _ } = self;
        free_opt(function, f);
        free_opt(module, f);
        free_opt(file, f);
    }
}

impl Texts for Hint {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let Hint { id, text } = self;
        ident(id, f);
        free(text, f);
    }
}

impl Texts for Thread {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        // The state is an enum: no text.
        let Thread { tid: _, name, crashed: _, holds_gil: _, state: _, python_frames_from: _, frames } = self;
        free_opt(name, f);
        each(frames, f);
    }
}

impl Texts for Frame {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let Frame { kind: _, function, qualname, module, file, line: _, address, inlined: _, repeated: _ } = self;
        free_opt(function, f);
        free_opt(qualname, f);
        free_opt(module, f);
        free_opt(file, f);
        ident_opt(address, f);
    }
}

impl Texts for ProcessSnapshot {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let ProcessSnapshot { pid: _, process: _, executable, argv, threads } = self;
        free_opt(executable, f);
        f(Text::Argv(argv));
        each(threads, f);
    }
}

impl Texts for TimeoutInfo {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let TimeoutInfo { limit_ms: _, processes, stopped_with, findings } = self;
        each(processes, f);
        ident_opt(stopped_with, f);
        each(findings, f);
    }
}

impl Texts for HangFinding {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        // The id is an enum: no text.
        let HangFinding { id: _, pid: _, tid: _, text } = self;
        free(text, f);
    }
}

impl Texts for MemoryReport {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let MemoryReport {
            peak_rss_bytes: _,
            limit_bytes: _,
            samples: _,
            trend,
            snapshot,
            peak_holder,
            warn_bytes: _,
            enforcement,
            oom_killed: _,
        } = self;
        trend.visit_texts(f);
        if let Some(processes) = snapshot {
            each(processes, f);
        }
        peak_holder.visit_texts(f);
        ident_opt(enforcement, f);
    }
}

impl Texts for MemoryTrend {
    // The verdict is an enum: no text.
    fn visit_texts(&mut self, _f: &mut dyn FnMut(Text<'_>)) {
        let MemoryTrend { verdict: _, bytes_per_s: _, r2: _, samples: _ } = self;
    }
}

impl Texts for MemoryHolder {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let MemoryHolder { pid: _, rss_bytes: _, argv } = self;
        f(Text::Argv(argv));
    }
}

impl Texts for SystemInfo {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let SystemInfo {
            host,
            kernel,
            cpu_count: _,
            cpu_model,
            memory_total_bytes: _,
            memory_available_bytes: _,
            python_version,
            faultline_version,
        } = self;
        ident_opt(host, f);
        ident_opt(kernel, f);
        ident_opt(cpu_model, f);
        ident_opt(python_version, f);
        ident(faultline_version, f);
    }
}
