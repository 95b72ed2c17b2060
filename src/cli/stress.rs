//! `faultline stress`: run one command many times, several at once, each under its own
//! `faultline run`, and say which crashes came out how often.
//!
//! Each run is a child `faultline run` process (this same binary) rather than a thread of
//! ours: a tracer reaps its tracees with `waitpid(-1)`, which would take the other runs'
//! statuses, and a crash of one run's tree must never disturb another's. Every run's report
//! goes to the crash store as usual, and its JSON report and output to the logs folder.

use super::args::{ColorChoice, StressArgs};
use super::exit_codes;
use faultline::report::{self, TerminalBuilder};
use faultline::stress::{summarize, RunResult, StressSummary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Set by SIGINT/SIGTERM: start no more runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The signal that set it, to pass on to the running runs.
static INTERRUPT_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
/// Full reports printed at the end, one per group, at most.
const REPORTS_SHOWN: usize = 3;

extern "C" fn on_interrupt(signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    INTERRUPT_SIGNAL.store(signal, Ordering::SeqCst);
}

pub fn stress(args: StressArgs) -> i32 {
    if args.runs == 0 {
        faultline::say!("faultline: --runs must be at least 1");
        return exit_codes::USAGE;
    }
    let variants = match check_variants(&args.variants) {
        Ok(variants) => variants,
        Err(message) => {
            faultline::say!("faultline: {message}");
            return exit_codes::USAGE;
        }
    };
    // The same N runs under every variant, interleaved, so that the machine's noise hits all alike.
    let total = args.runs.saturating_mul(variants.len().max(1) as u32);
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32)).max(1);
    let jobs = jobs.min(total);
    let (logs, temporary) = match prepare_logs(args.logs.as_deref()) {
        Ok(found) => found,
        Err(message) => {
            faultline::say!("faultline: {message}");
            return exit_codes::USAGE;
        }
    };
    let Ok(faultline) = std::env::current_exe() else {
        faultline::say!("faultline: cannot find faultline's own executable to start the runs");
        return exit_codes::INTERNAL;
    };
    install_interrupt_handlers();
    let command: Vec<String> = args.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let progress = progress_bar(total);
    let started = Instant::now();
    let plan = Plan { faultline, args: &args, logs: &logs, variants: &variants, total };
    let (results, stopped_early) = run_all(&plan, jobs, &progress);
    progress.finish_and_clear();

    let keep = !temporary || !results.iter().all(|r| r.report.as_ref().is_some_and(|rep| rep.exit.code == 0));
    let summary = summarize(
        command,
        total,
        jobs,
        &results,
        started.elapsed().as_secs_f64() * 1000.0,
        stopped_early,
        keep.then(|| logs.clone()),
    );
    if !keep {
        let _ = std::fs::remove_dir_all(&logs);
    }
    print_summary(&summary, &results, args.color);
    if let Some(path) = &args.json {
        if let Err(err) = write_json(&summary, path) {
            faultline::say!("faultline: could not write the JSON summary to {}: {err}", path.display());
            return exit_codes::USAGE;
        }
    }
    if summary.all_passed() {
        exit_codes::OK
    } else {
        exit_codes::FOUND_PROBLEMS
    }
}

struct Plan<'a> {
    faultline: PathBuf,
    args: &'a StressArgs,
    logs: &'a Path,
    /// `--variants`, checked; run N uses the ((N - 1) mod count)th.
    variants: &'a [String],
    /// Every run to make: `--runs` per variant.
    total: u32,
}

impl Plan<'_> {
    fn variant_of(&self, run: u32) -> Option<&str> {
        let count = self.variants.len() as u32;
        (count > 0).then(|| self.variants[((run - 1) % count) as usize].as_str())
    }
}

/// The `--variants` names, each known (built in, or the project's own) and given once.
fn check_variants(names: &[String]) -> Result<Vec<String>, String> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let project = match faultline::settings::load_project_settings(&cwd) {
        Ok(found) => found.map(|(settings, _)| settings.variants).unwrap_or_default(),
        Err(err) => return Err(err.to_string()),
    };
    let mut checked: Vec<String> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        faultline::variants::resolve(name, &project).map_err(|e| format!("--variants: {e}"))?;
        if checked.iter().any(|c| c == name) {
            return Err(format!("--variants: `{name}` is named twice"));
        }
        checked.push(name.to_owned());
    }
    Ok(checked)
}

/// Runs everything with `jobs` workers; returns the results and why it stopped early.
fn run_all(plan: &Plan, jobs: u32, progress: &ProgressBar) -> (Vec<RunResult>, Option<String>) {
    let next = AtomicU32::new(1);
    let stop = AtomicBool::new(false);
    let running: Arc<Mutex<HashSet<u32>>> = Arc::default();
    let (send, receive) = mpsc::channel::<RunResult>();
    let mut results = Vec::new();
    let mut stopped_early = None;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let send = send.clone();
            let (next, stop, running) = (&next, &stop, Arc::clone(&running));
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) || INTERRUPTED.load(Ordering::SeqCst) {
                    break;
                }
                let run = next.fetch_add(1, Ordering::SeqCst);
                if run > plan.total {
                    break;
                }
                let result = one_run(plan, run, &running);
                // Decided here, before this worker starts another run, not when the main
                // thread gets to the result.
                if plan.args.until_crash && result.report.as_ref().is_some_and(|r| !r.crashes.is_empty()) {
                    stop.store(true, Ordering::SeqCst);
                }
                if send.send(result).is_err() {
                    break;
                }
            });
        }
        drop(send);
        let mut forwarded = false;
        loop {
            match receive.recv_timeout(Duration::from_millis(100)) {
                Ok(result) => {
                    announce(&result, progress);
                    let crashed = result.report.as_ref().is_some_and(|r| !r.crashes.is_empty());
                    if crashed && plan.args.until_crash && stopped_early.is_none() {
                        stop.store(true, Ordering::SeqCst);
                        stopped_early = Some("first crash".to_owned());
                    }
                    results.push(result);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if INTERRUPTED.load(Ordering::SeqCst) && !forwarded {
                forwarded = true;
                stopped_early = Some("interrupted".to_owned());
                pass_on_interrupt(&running);
            }
        }
    });
    if stopped_early.is_some() && results.len() as u32 >= plan.total {
        stopped_early = None;
    }
    (results, stopped_early)
}

/// One `faultline run` of the command, its output to the logs folder.
fn one_run(plan: &Plan, run: u32, running: &Mutex<HashSet<u32>>) -> RunResult {
    let report_path = plan.logs.join(format!("run-{run}.json"));
    let log_path = plan.logs.join(format!("run-{run}.log"));
    let mut command = Command::new(&plan.faultline);
    command.args(["run", "--color", "never", "--json"]).arg(&report_path);
    let args = plan.args;
    if let Some(timeout) = args.timeout {
        command.arg("--timeout").arg(format!("{}ms", timeout.as_millis()));
    }
    if let Some(store) = &args.store {
        command.args(["--store", store]);
    }
    if args.no_store {
        command.arg("--no-store");
    }
    if args.no_redact {
        command.arg("--no-redact");
    }
    let variant = plan.variant_of(run);
    if let Some(name) = variant {
        command.args(["--variant", name]);
    }
    command.arg("--").args(&args.command).env("FAULTLINE_STRESS_RUN", run.to_string()).stdin(Stdio::null());
    let exit_code = match std::fs::File::create(&log_path).and_then(|log| Ok((log.try_clone()?, log))) {
        Ok((out, err)) => {
            command.stdout(out).stderr(err);
            match command.spawn() {
                Ok(mut child) => {
                    running.lock().map(|mut r| r.insert(child.id())).ok();
                    let status = child.wait();
                    running.lock().map(|mut r| r.remove(&child.id())).ok();
                    status.ok().and_then(shell_status).unwrap_or(-1)
                }
                Err(_) => -1,
            }
        }
        Err(_) => -1,
    };
    let report =
        std::fs::read_to_string(&report_path).ok().and_then(|text| faultline::read::report_from_json(&text).ok());
    let finished_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    RunResult { run, exit_code, report, report_path, log_path, finished_ms, variant: variant.map(str::to_owned) }
}

/// A line for each run that did not pass; the bar counts all of them.
fn announce(result: &RunResult, progress: &ProgressBar) {
    progress.inc(1);
    let line = match &result.report {
        None => format!("run #{}: faultline could not run it (see {})", result.run, result.log_path.display()),
        Some(report) if !report.crashes.is_empty() => {
            let crash = &report.crashes[0];
            let place =
                crash.culprit.as_ref().and_then(|c| c.function.clone()).map(|f| format!(" in {f}")).unwrap_or_default();
            let test = crash.test.as_ref().map(|t| format!(" during {}", t.nodeid)).unwrap_or_default();
            format!(
                "run #{}: {} ({}){place}{test}, group {}",
                result.run,
                crash.signal,
                crash.kind.as_str(),
                faultline::store::group_id(&crash.signature)
            )
        }
        Some(report) if report.exit.code != 0 => {
            let outcome = serde_json::to_value(report.outcome).ok().and_then(|v| v.as_str().map(str::to_owned));
            format!("run #{}: {} (exit {})", result.run, outcome.unwrap_or_default(), report.exit.code)
        }
        Some(_) => return,
    };
    if progress.is_hidden() {
        faultline::say!("faultline: {line}");
    } else {
        // The culprit and the test id come from the run's processes.
        progress.println(format!("faultline: {}", faultline::escape::Escaped(&line)));
    }
}

/// SIGTERM (or a SIGINT not from the terminal) reaches only us: pass it on to the runs.
fn pass_on_interrupt(running: &Mutex<HashSet<u32>>) {
    let signal = INTERRUPT_SIGNAL.load(Ordering::SeqCst);
    if let Ok(pids) = running.lock() {
        for pid in pids.iter() {
            // SAFETY: kill(2) with a pid of a child we started and have not reaped.
            unsafe { libc::kill(*pid as libc::pid_t, signal) };
        }
    }
}

fn install_interrupt_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe { libc::signal(signal, on_interrupt as *const () as libc::sighandler_t) };
    }
}

fn progress_bar(runs: u32) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(u64::from(runs)), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("faultline stress {bar:30} {pos}/{len} runs, {elapsed}") {
        bar.set_style(style);
    }
    bar
}

/// The folder for each run's report and output: `--logs DIR` (kept), else a temporary one
/// (removed when every run passed).
fn prepare_logs(dir: Option<&Path>) -> Result<(PathBuf, bool), String> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create --logs folder {}: {e}", dir.display()))?;
            Ok((dir.to_owned(), false))
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("faultline-stress-")
                .tempdir()
                .map_err(|e| format!("cannot create a folder for the runs' logs: {e}; name one with --logs DIR"))?;
            Ok((dir.keep(), true))
        }
    }
}

fn print_summary(summary: &StressSummary, results: &[RunResult], color: ColorChoice) {
    let stderr = std::io::stderr();
    let style = color.style(stderr.is_terminal());
    let reporter = TerminalBuilder::new().style(style).build();
    let mut out = stderr.lock();
    // The first crash of each group in full: the stack is what people came for.
    for group in summary.groups.iter().take(REPORTS_SHOWN) {
        let first = results.iter().find(|r| r.run == group.runs[0]).and_then(|r| r.report.as_ref());
        if let Some(crash) = first.and_then(|rep| rep.crashes.iter().find(|c| c.signature == group.summary.signature)) {
            let _ = writeln!(out, "── run #{} ──", group.runs[0]);
            let _ = reporter.write_crash(crash, &mut out);
            let _ = writeln!(out);
        }
    }
    let _ = report::write_stress_summary(summary, &style, &mut out);
    let _ = out.flush();
}

fn write_json(summary: &StressSummary, path: &Path) -> std::io::Result<()> {
    super::files::write_atomically(path, |file| {
        serde_json::to_writer_pretty(&mut *file, summary)?;
        writeln!(file)
    })
}

/// A run's status as a shell shows it: `faultline run` dies of the signal that killed the
/// command, which is 128 + N here.
fn shell_status(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|signal| 128 + signal))
}
