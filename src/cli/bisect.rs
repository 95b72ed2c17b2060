//! `faultline bisect -- python -m pytest ARGS`: why a test crashes in the suite and not alone.
//!
//! 1. The whole command runs once (a quiet trial) and its first crash in a test is the one
//!    to explain: test T, signature S, and the tests that ran before T in that process.
//! 2. T alone: if it crashes with S, nothing before it is needed.
//! 3. The earlier tests then T, in their order: if that does not crash with S in
//!    `--attempts` runs, the crash is flaky (with its rate).
//! 4. T alone, repeated 2, 4, 8, … times, then the least count between: a crash that needs
//!    the test itself many times (an arena that fills up).
//! 5. ddmin over the earlier tests, `-j` trials at a time: the fewest that still make T
//!    crash with S.
//!
//! Every trial is a child `faultline run --trial` on a selection file (`trial`); a trial
//! counts only when T crashes with the same signature.

use super::args::BisectArgs;
use super::exit_codes;
use super::trial::{TrialEnd, Trials};
use faultline::escape::escape_controls;
use faultline::model::{BisectReport, BisectVerdict, Crash, Rate};
use faultline::pytest::ddmin::ddmin;
use faultline::pytest::selection::Selection;
use faultline::pytest::ProcessLog;
use faultline::report::TerminalBuilder;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

/// Set by SIGINT/SIGTERM: start no more trials.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// The most repetitions of the test alone that are tried.
const MAX_REPETITIONS: u32 = 64;

pub fn bisect(args: BisectArgs) -> i32 {
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32)).max(1);
    if let Some(Err(message)) = args.json.as_deref().map(|path| super::files::check_destination("--json", path)) {
        faultline::say!("faultline: {message}");
        return exit_codes::USAGE;
    }
    let scratch = match tempfile::Builder::new().prefix("faultline-bisect-").tempdir() {
        Ok(dir) => dir,
        Err(err) => {
            faultline::say!("faultline: cannot create a folder for the trials: {err}");
            return exit_codes::INTERNAL;
        }
    };
    let options = super::trial::run_options(args.no_config, args.no_redact, args.timeout);
    let trials = match Trials::new(scratch.path(), options, args.command.clone()) {
        Ok(trials) => trials,
        Err(message) => {
            faultline::say!("faultline: {message}");
            return exit_codes::INTERNAL;
        }
    };
    install_interrupt_handlers();
    let mut search = Search { trials, jobs: jobs as usize, count: AtomicU32::new(0) };
    let started = Instant::now();
    let mut report = search.run(&args);
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report.trials = search.count.load(Ordering::SeqCst);
    if INTERRUPTED.load(Ordering::SeqCst) && report.stopped.is_none() {
        report.stopped = Some("interrupted".into());
    }
    print_result(&report, &args);
    if let Some(path) = &args.json {
        let written = super::files::write_atomically(path, |out| {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)
        });
        if let Err(err) = written {
            faultline::say!("faultline: could not write the JSON result to {}: {err}", path.display());
            return exit_codes::USAGE;
        }
    }
    match report.verdict {
        BisectVerdict::OrderDependent | BisectVerdict::CrashesAlone | BisectVerdict::OutsideTests => exit_codes::OK,
        BisectVerdict::Flaky | BisectVerdict::NoCrash => exit_codes::FOUND_PROBLEMS,
    }
}

struct Search {
    trials: Trials,
    jobs: usize,
    count: AtomicU32,
}

/// The crash being explained.
struct Target {
    test: String,
    signature: String,
}

impl Search {
    fn run(&mut self, args: &BisectArgs) -> BisectReport {
        let mut report = BisectReport {
            command: args.command.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
            verdict: BisectVerdict::NoCrash,
            test: None,
            signature: None,
            earlier_tests: 0,
            needed: Vec::new(),
            repetitions: None,
            reproduced: None,
            trials: 0,
            duration_ms: 0.0,
            stopped: None,
            crash: None,
        };
        say("running the whole command to find the crash");
        let Some((whole, crash)) = self.first_crash(args.attempts) else {
            say(&format!("the command did not crash in {} runs", args.attempts));
            return report;
        };
        let Some(test) = crash.test.as_ref().map(|t| t.nodeid.clone()) else {
            say("it crashed outside any test (collection, start-up or interpreter exit): there is no test order to search");
            report.verdict = BisectVerdict::OutsideTests;
            report.signature = Some(crash.signature.clone());
            report.crash = Some(crash);
            return report;
        };
        let log = u32::try_from(crash.pid.0).ok().and_then(|pid| ProcessLog::read(&whole.logs, pid));
        let earlier: Vec<String> = match &log {
            Some(log) => log.ended().iter().map(|t| t.nodeid.clone()).collect(),
            None => {
                say("faultline's pytest plugin did not load in the crashed process, so the tests before it are not known");
                Vec::new()
            }
        };
        if log.as_ref().is_some_and(|log| log.worker.is_some()) {
            // The order matters: every trial runs its tests in one process, not on xdist workers.
            self.trials = self.trials.with_args(&["-n0"]);
        }
        let target = Target { test: test.clone(), signature: crash.signature.clone() };
        report.test = Some(test.clone());
        report.signature = Some(crash.signature.clone());
        report.earlier_tests = u32::try_from(earlier.len()).unwrap_or(u32::MAX);
        report.crash = Some(crash.clone());
        say(&format!(
            "{} crashed ({} {}, signature {}); {} ran before it in that process",
            shown(&test),
            crash.signature.split('/').next().unwrap_or_default(),
            crash.kind.as_str(),
            crash.signature,
            tests_count(earlier.len())
        ));

        let alone = self.batch(&[Selection::of(vec![test.clone()])]);
        if let Some(crash) = self.same_crash(&alone[0], &target) {
            say("alone, it crashes the same way: no earlier test is needed");
            report.verdict = BisectVerdict::CrashesAlone;
            report.crash = Some(crash);
            return report;
        }
        if self.interrupted(&mut report) {
            return report;
        }
        let search: &Search = self;
        let with_earlier = |tests: &[String]| {
            let mut all = tests.to_vec();
            all.push(test.clone());
            Selection { ordered: true, ..Selection::of(all) }
        };
        // The same tests in the same order, until it crashes again.
        let mut runs = 0;
        let mut crashed = 0;
        while runs < args.attempts && crashed == 0 && !INTERRUPTED.load(Ordering::SeqCst) {
            let n = (args.attempts - runs).min(search.jobs as u32) as usize;
            let ends = search.batch(&vec![with_earlier(&earlier); n]);
            runs += n as u32;
            crashed += ends.iter().filter(|end| search.same_crash(end, &target).is_some()).count() as u32;
        }
        if crashed == 0 {
            if search.interrupted(&mut report) {
                return report;
            }
            say(&format!(
                "the same {} then the test did not crash in {runs} runs: the crash is flaky (try `faultline stress`)",
                tests_count(earlier.len())
            ));
            report.verdict = BisectVerdict::Flaky;
            report.reproduced = Some(Rate { crashed: 1, runs: runs + 1 });
            return report;
        }
        report.verdict = BisectVerdict::OrderDependent;
        say("alone, it passes: it needs tests that ran before it");

        report.repetitions = search.repetitions(&test, &target);
        if let Some(times) = report.repetitions {
            say(&format!("run alone {times} times in a row, it crashes"));
        }
        if search.interrupted(&mut report) {
            return report;
        }
        say(&format!("searching the {} before it, {} trials at a time", tests_count(earlier.len()), search.jobs));
        let found = ddmin(earlier, search.jobs, |candidates| {
            if INTERRUPTED.load(Ordering::SeqCst) {
                return vec![false; candidates.len()];
            }
            let selections: Vec<Selection> = candidates.iter().map(|c| with_earlier(c)).collect();
            search.batch(&selections).iter().map(|end| search.same_crash(end, &target).is_some()).collect()
        });
        search.interrupted(&mut report);
        // The crash as the smallest set reproduces it.
        let smallest = search.batch(&[with_earlier(&found.items)]);
        if let Some(crash) = search.same_crash(&smallest[0], &target) {
            report.crash = Some(crash);
        }
        report.needed = found.items;
        report
    }

    /// The whole command's first crash, trying up to `attempts` times.
    fn first_crash(&self, attempts: u32) -> Option<(TrialEnd, Crash)> {
        for _ in 0..attempts {
            if INTERRUPTED.load(Ordering::SeqCst) {
                return None;
            }
            let mut ends = self.batch(&[Selection::default()]);
            let end = ends.pop()?;
            let crash = end
                .report
                .as_ref()
                .and_then(|r| r.crashes.iter().find(|c| c.test.is_some()).or(r.crashes.first()))
                .cloned();
            if let Some(crash) = crash {
                return Some((end, crash));
            }
            let output = end.output.display().to_string();
            if end.report.is_none() {
                say(&format!("the run wrote no report (its output: {output})"));
                return None;
            }
        }
        None
    }

    /// The least number of runs in a row of the test alone that crash it, up to
    /// `MAX_REPETITIONS`; `None` when repeating it never does.
    fn repetitions(&self, test: &str, target: &Target) -> Option<u32> {
        let repeated = |times: u32| Selection { repeat: times, ..Selection::of(vec![test.to_owned()]) };
        let mut counts = Vec::new();
        let mut times = 2;
        while times <= MAX_REPETITIONS {
            counts.push(times);
            times *= 2;
        }
        let mut below = 1;
        let mut crashing = None;
        for chunk in counts.chunks(self.jobs) {
            if INTERRUPTED.load(Ordering::SeqCst) {
                return None;
            }
            let ends = self.batch(&chunk.iter().map(|&n| repeated(n)).collect::<Vec<_>>());
            match ends.iter().position(|end| self.same_crash(end, target).is_some()) {
                Some(at) => {
                    crashing = Some(chunk[at]);
                    below = if at == 0 { below } else { chunk[at - 1] };
                    break;
                }
                None => below = *chunk.last().unwrap_or(&below),
            }
        }
        let mut high = crashing?;
        // The least crashing count is in (below, high].
        let mut low = below;
        while high - low > 1 && !INTERRUPTED.load(Ordering::SeqCst) {
            let middle = low + (high - low) / 2;
            let end = &self.batch(&[repeated(middle)])[0];
            if self.same_crash(end, target).is_some() {
                high = middle;
            } else {
                low = middle;
            }
        }
        Some(high)
    }

    /// Runs the selections at once (at most `jobs`, the callers' batches are that small).
    fn batch(&self, selections: &[Selection]) -> Vec<TrialEnd> {
        let numbers: Vec<u32> = selections.iter().map(|_| self.count.fetch_add(1, Ordering::SeqCst)).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = selections
                .iter()
                .zip(&numbers)
                .map(|(selection, &n)| scope.spawn(move || self.trials.run(n, selection)))
                .collect();
            handles.into_iter().map(|h| h.join().expect("a trial thread panicked")).collect()
        })
    }

    /// The trial's crash when the target test crashed with the target signature.
    fn same_crash(&self, end: &TrialEnd, target: &Target) -> Option<Crash> {
        let crash =
            end.report.as_ref()?.crashes.iter().find(|c| c.test.as_ref().is_some_and(|t| t.nodeid == target.test))?;
        (crash.signature == target.signature).then(|| crash.clone())
    }

    fn interrupted(&self, report: &mut BisectReport) -> bool {
        let interrupted = INTERRUPTED.load(Ordering::SeqCst);
        if interrupted {
            report.stopped = Some("interrupted".into());
        }
        interrupted
    }
}

fn print_result(report: &BisectReport, args: &BisectArgs) {
    let stderr = std::io::stderr();
    let style = args.color.style(stderr.is_terminal());
    let mut out = stderr.lock();
    if let Some(crash) = &report.crash {
        let _ = TerminalBuilder::new().style(style).build().write_crash(crash, &mut out);
        let _ = writeln!(out);
    }
    let test = report.test.as_deref().map(shown).unwrap_or_default();
    let cost = format!(
        "{} trial{}, {}",
        report.trials,
        if report.trials == 1 { "" } else { "s" },
        faultline::units::format_duration(std::time::Duration::from_millis(report.duration_ms as u64))
    );
    let line = match report.verdict {
        BisectVerdict::OrderDependent => {
            let mut line = match report.needed.len() {
                0 => format!("{test} crashes only after tests ran before it"),
                1 => format!("{test} crashes only after {} ran before it", shown(&report.needed[0])),
                n => format!("{test} crashes only after these {n} tests ran before it, in this order:"),
            };
            let needed = format!("{} of {} earlier tests needed", report.needed.len(), report.earlier_tests);
            let repeated = report
                .repetitions
                .map(|n| format!("; alone it crashes when run {n} times in a row"))
                .unwrap_or_default();
            line = format!("{line} ({needed}{repeated}; {cost})");
            if report.needed.len() > 1 {
                for id in &report.needed {
                    line.push_str(&format!("\n  {}", shown(id)));
                }
            }
            line
        }
        BisectVerdict::CrashesAlone => format!("{test} crashes when run alone too: no earlier test is needed ({cost})"),
        BisectVerdict::Flaky => {
            let rate = report.reproduced.map(|r| format!("{} of {} runs", r.crashed, r.runs)).unwrap_or_default();
            format!(
                "{test} crashed in {rate} of the same tests in the same order: the crash is flaky, not order-dependent \
                 ({cost}); measure it with `faultline stress -n 50 -- ...`"
            )
        }
        BisectVerdict::NoCrash => format!("the command did not crash in a test ({cost}): nothing to bisect"),
        BisectVerdict::OutsideTests => {
            format!("the crash happened outside any test ({cost}): run `faultline run` for its report")
        }
    };
    let stopped = report.stopped.as_deref().map(|why| format!(" [{why}: the result is partial]")).unwrap_or_default();
    let _ = writeln!(out, "faultline: {line}{stopped}");
}

fn say(line: &str) {
    faultline::say!("faultline bisect: {line}");
}

/// A node id as the terminal may show it.
fn shown(nodeid: &str) -> String {
    escape_controls(nodeid).into_owned()
}

fn tests_count(n: usize) -> String {
    if n == 1 {
        "1 test".into()
    } else {
        format!("{n} tests")
    }
}

fn install_interrupt_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(signal, on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
}
