//! `faultline run --keep-going -- python -m pytest ARGS`: every crashing test of a suite in
//! one command.
//!
//! The command runs as usual. When a pytest process crashes in a test, its report is kept
//! and the same command runs again on the collected tests that have not run yet (named to
//! pytest through the channel's selection file, never argv), until every collected test has
//! run or crashed. Not retried: a crash in no test (collection, start-up, interpreter
//! shutdown), an interrupt, the time limit (`--timeout` is the whole suite's budget), and
//! pytest's own `-x`/`--maxfail`, which counts over all the runs. pytest-xdist restarts a
//! crashed worker itself; faultline restarts only what xdist left unrun.
//!
//! Afterwards each crashed test runs once alone (a quiet trial): one that passes alone is
//! order-dependent, and the summary names the `faultline bisect` command that finds why.
//!
//! Exit status: with a crash, faultline dies of the first crash's signal (what the same
//! pytest run would have done without faultline); otherwise the last pytest's status, or 1
//! when an earlier run had failures that the last did not see; an interrupt or the time
//! limit ends as that run ended (128 + N for faultline's own stop, as for one run).

use super::run::{fenced, run_once, Round, Session};
use super::trial::Trials;
use super::Exit;
use faultline::model::{Outcome, Report, TestOutcome};
use faultline::pytest::channel::SELECT_ENV;
use faultline::pytest::selection::Selection;
use faultline::pytest::suite::{RunCrash, Suite};
use faultline::pytest::ProcessLog;
use faultline::signals::signal_name;
use std::ffi::OsString;
use std::time::{Duration, Instant};

pub(super) fn keep_going(session: Session) -> Exit {
    let Some(channel) = session.child_env.pytest_channel() else {
        faultline::say!("faultline: --keep-going needs faultline's pytest channel, which could not be set up; running the command once");
        return run_once(&session);
    };
    let started = Instant::now();
    let budget = session.settings.timeout;
    let mut suite = Suite::default();
    let mut reports: Vec<Report> = Vec::new();
    let mut first_crash_exit: Option<Exit> = None;
    let mut selection: Option<Selection> = None;
    let mut original_maxfail: Option<u32> = None;
    let mut earlier_problems = false;
    // Set by every run; the loop runs the command at least once.
    let mut last_exit = Exit::Code(0);
    // faultline's own stop (the time limit) ended the suite: its status is faultline's.
    let mut stopped_by_limit = false;
    let stopped: Option<String> = loop {
        let _ = channel.clear();
        let envp = match &selection {
            None => Ok(session.child_env.envp().to_vec()),
            Some(selection) => {
                let path = channel.root().join("select.json");
                selection.write(&path).and_then(|()| session.child_env.envp_with(&[(SELECT_ENV, path.as_os_str())]))
            }
        };
        let envp = match envp {
            Ok(envp) => envp,
            Err(err) => {
                faultline::say!("faultline: cannot prepare the next pytest run: {err}");
                last_exit = Exit::Code(super::exit_codes::INTERNAL);
                break Some(format!("faultline could not prepare the next run ({err})"));
            }
        };
        let timeout = match budget.map(|limit| limit.saturating_sub(started.elapsed())) {
            // The budget ran out between two runs: the last one's status stands.
            Some(left) if left.is_zero() => {
                stopped_by_limit = true;
                break Some("the time limit was reached".into());
            }
            other => other,
        };
        let Round { exit, report, timed_out } = session.supervise(envp, timeout);
        last_exit = exit;
        let Some(report) = report else {
            break Some("faultline could not record a run (see above)".into());
        };
        let logs = ProcessLog::read_all(&channel.log_dir());
        let offset: usize = reports.iter().map(|r| r.crashes.len()).sum();
        let crashes: Vec<RunCrash> = report
            .crashes
            .iter()
            .enumerate()
            .map(|(i, c)| RunCrash {
                pid: u32::try_from(c.pid.0).unwrap_or(0),
                env_test: c.test.as_ref().map(|t| t.nodeid.clone()),
                index: offset + i,
            })
            .collect();
        let remaining_before = suite.remaining().len();
        let added = suite.add_run(&logs, &crashes);
        let maxfail = *original_maxfail.get_or_insert(added.maxfail);
        if !report.crashes.is_empty() && first_crash_exit.is_none() {
            first_crash_exit = Some(last_exit);
        }
        if report.outcome == Outcome::Failed {
            earlier_problems = true;
        }
        let crashed_now = report.crashes.len();
        reports.push(report);

        if let Some(signal) = faultline::trace::stop_requested() {
            break Some(format!("interrupted by {}", signal_name(signal)));
        }
        if timed_out {
            stopped_by_limit = true;
            break Some("the time limit was reached".into());
        }
        if added.outside_tests > 0 {
            break Some("a crash outside any test (collection, start-up or interpreter exit) is not retried".into());
        }
        if crashed_now == 0 || added.crashed.is_empty() {
            // pytest ended by itself: the suite ran to its end (or pytest's own rule stopped it).
            break None;
        }
        if maxfail > 0 && suite.problems() >= maxfail {
            break Some(format!("pytest's --maxfail={maxfail} (or -x) was reached"));
        }
        let remaining = suite.remaining();
        if remaining.is_empty() {
            break None;
        }
        if selection.is_some() && remaining.len() >= remaining_before {
            break Some("the last run made no progress".into());
        }
        suite.restarts += 1;
        faultline::say!(
            "faultline: {} crashed; running pytest again on the {} tests not yet run (restart {})",
            added
                .crashed
                .iter()
                .map(|id| faultline::escape::escape_controls(id).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
            remaining.len(),
            suite.restarts
        );
        selection = Some(Selection { maxfail: maxfail.saturating_sub(suite.problems()), ..Selection::of(remaining) });
    };

    let time_left = budget.map(|b| b.saturating_sub(started.elapsed()));
    if faultline::trace::stop_requested().is_none() && time_left.is_none_or(|left| !left.is_zero()) {
        check_alone(&session, &mut suite, &reports, time_left);
    }
    let exit = if faultline::trace::stop_requested().is_some() || stopped_by_limit {
        last_exit
    } else if let Some(crash_exit) = first_crash_exit {
        crash_exit
    } else if last_exit == Exit::Code(0) && (earlier_problems || suite.problems() > 0) {
        Exit::Code(1)
    } else {
        last_exit
    };
    match fenced(|| combined(reports, suite, stopped, started.elapsed(), &exit)) {
        Ok(report) => session.finish_fenced(report),
        Err(()) => faultline::say!(
            "faultline: the report is incomplete because of that error; the command's exit status is kept"
        ),
    }
    exit
}

/// Runs each crashed test once alone; one that does not crash the same way alone is
/// order-dependent.
fn check_alone(session: &Session, suite: &mut Suite, reports: &[Report], time_left: Option<Duration>) {
    let crashed: Vec<(String, String)> = suite
        .result(None)
        .tests
        .into_iter()
        .filter(|t| t.outcome == TestOutcome::Crashed)
        .filter_map(|t| {
            let crash = reports.iter().flat_map(|r| &r.crashes).nth(t.crash?)?;
            Some((t.nodeid, crash.signature.clone()))
        })
        .collect();
    if crashed.is_empty() {
        return;
    }
    let Some(channel) = session.child_env.pytest_channel() else { return };
    let trials = match Trials::new(channel.root(), alone_run_options(session, time_left), session.args.command.clone())
    {
        Ok(trials) => trials,
        Err(message) => {
            faultline::say!("faultline: {message}; crashed tests are not checked alone");
            return;
        }
    };
    faultline::say!(
        "faultline: running each crashed test alone ({}) to see whether it needs the tests before it",
        crashed.len()
    );
    for (n, (nodeid, signature)) in crashed.iter().enumerate() {
        if faultline::trace::stop_requested().is_some() {
            return;
        }
        let end = trials.run(n as u32, &Selection::of(vec![nodeid.clone()]));
        let Some(report) = &end.report else { continue };
        // A run that did not get to the test (pytest's status 2 to 5: interrupted, internal
        // or usage error, nothing collected) says nothing about it.
        let ran = !report.crashes.is_empty() || matches!(report.exit.code, 0 | 1);
        if ran && end.crash_signature(Some(nodeid)) != Some(signature.as_str()) {
            suite.mark_order_dependent(nodeid);
        }
    }
}

/// The options of `faultline run` that shape how the command runs, for its trials.
fn alone_run_options(session: &Session, time_left: Option<Duration>) -> Vec<OsString> {
    let args = session.args;
    let mut options = super::trial::run_options(args.no_config, args.no_redact, time_left);
    for (flag, on) in
        [("--headless", args.headless), ("--isolate-tmp", args.isolate_tmp), ("--single-thread", args.single_thread)]
    {
        if on {
            options.push(flag.into());
        }
    }
    for (key, value) in &args.env {
        options.push("--env".into());
        options.push(format!("{key}={value}").into());
    }
    if let Some(bytes) = args.max_memory {
        options.push("--max-memory".into());
        options.push(bytes.to_string().into());
    }
    options
}

/// One report for the whole suite: every run's crashes, the suite's tests, how it ended.
fn combined(reports: Vec<Report>, suite: Suite, stopped: Option<String>, elapsed: Duration, exit: &Exit) -> Report {
    let mut runs = reports.into_iter();
    let mut report = runs.next().expect("keep-going ran the command at least once");
    for later in runs {
        report.crashes.extend(later.crashes);
        report.processes_started += later.processes_started;
        report.timeout = later.timeout.or(report.timeout);
        report.memory = later.memory.or(report.memory);
        report.outcome = later.outcome;
        report.exit = later.exit;
    }
    // faultline's own stops first, as for one run; then any crash of any run.
    report.outcome = match report.outcome {
        _ if report.timeout.is_some() => Outcome::Timeout,
        Outcome::Oom => Outcome::Oom,
        _ if !report.crashes.is_empty() => Outcome::Crashed,
        other => other,
    };
    match *exit {
        Exit::Code(code) => {
            report.exit.code = code;
        }
        Exit::Signal(signal) => {
            report.exit.code = 128 + signal;
            report.exit.signal = Some(signal_name(signal));
        }
    }
    report.duration_ms = elapsed.as_secs_f64() * 1000.0;
    report.suite = Some(suite.result(stopped));
    report
}
