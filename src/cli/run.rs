//! `faultline run`: gather the settings (project file, then command line), supervise the
//! command, then report.

use super::args::{ColorChoice, RunArgs};
use super::live;
use super::{exit_codes, Exit};
use faultline::childenv::ChildEnv;
use faultline::events::{EventSink, RunEvent};
use faultline::memwatch::MemoryConfig;
use faultline::model::{Outcome, Report};
use faultline::recorder::Recorder;
use faultline::report;
use faultline::runlog::RunLog;
use faultline::settings::{self, RunSettings};
use faultline::trace::{self, RunOptions};
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(5);
const DEFAULT_MEMORY_INTERVAL: Duration = Duration::from_millis(100);
const DEFAULT_LOG_MAX_SIZE: u64 = 10 * 1024 * 1024;
const DEFAULT_LOG_KEEP: u32 = 5;

pub fn run(args: RunArgs) -> Exit {
    let session = match Session::prepare(&args) {
        Ok(session) => session,
        Err(exit) => return exit,
    };
    if session.settings.keep_going == Some(true) && !args.trial {
        return super::keep_going::keep_going(session);
    }
    run_once(&session)
}

/// The command, once, and its report in every form asked for.
pub(super) fn run_once(session: &Session) -> Exit {
    let round = session.supervise(session.child_env.envp().to_vec(), session.settings.timeout);
    if session.args.trial {
        session.keep_pytest_logs();
    }
    if let Some(report) = round.report {
        session.finish_fenced(report);
    }
    round.exit
}

/// Everything a `faultline run` sets up once, however many times it runs the command.
pub(super) struct Session<'a> {
    pub(super) args: &'a RunArgs,
    pub(super) settings: RunSettings,
    settings_file: Option<std::path::PathBuf>,
    pub(super) cwd: std::path::PathBuf,
    store_location: Option<faultline::store::Location>,
    pub(super) child_env: ChildEnv,
    log: Option<Rc<RefCell<RunLog>>>,
    pub(super) command: Vec<String>,
    python_seen: Rc<RefCell<Option<String>>>,
}

/// One run of the command: how faultline should end for it, and its report (none when
/// faultline's own recording failed).
pub(super) struct Round {
    pub(super) exit: Exit,
    pub(super) report: Option<Report>,
    /// faultline stopped the tree at the time limit.
    pub(super) timed_out: bool,
}

impl<'a> Session<'a> {
    /// Reads the settings, checks the outputs, prepares the environment and the log; a
    /// problem the user can fix ends faultline here, with its message said.
    pub(super) fn prepare(args: &'a RunArgs) -> Result<Session<'a>, Exit> {
        let usage = |message: String| {
            faultline::say!("faultline: {message}");
            Exit::Code(exit_codes::USAGE)
        };
        let (mut settings, settings_file) = gather_settings(args).map_err(usage)?;
        if args.trial {
            // A trial reports to its --json alone: nothing of the project's outputs.
            settings = RunSettings { junit: None, log: None, keep_going: None, ..settings };
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
        // `settings.store` is the file's value unless --store overrode it; `resolve` puts
        // FAULTLINE_STORE between the command line and the file.
        let store_location = if args.trial {
            None
        } else {
            super::store::resolve(args.store.as_deref(), args.no_store, settings.store.as_deref(), &cwd)
        };
        // Name where the path came from: the command line, or the project's settings file.
        let json_from = if args.json.is_some() { "--json" } else { "the `json` setting:" };
        let junit_from = if args.junit.is_some() { "--junit" } else { "the `junit` setting:" };
        for (flag, path) in [(json_from, &settings.json), (junit_from, &settings.junit)] {
            if let Some(Err(message)) = path.as_deref().map(|path| super::files::check_destination(flag, path)) {
                return Err(usage(message));
            }
        }
        let child_env = ChildEnv::new(&settings)
            .map_err(|err| usage(format!("could not prepare the command's environment: {err}")))?;
        let log = match &settings.log {
            Some(path) => match RunLog::open(
                path,
                settings.log_max_size.unwrap_or(DEFAULT_LOG_MAX_SIZE),
                settings.log_keep.unwrap_or(DEFAULT_LOG_KEEP),
            ) {
                Ok(log) => Some(Rc::new(RefCell::new(log))),
                Err(err) => return Err(usage(format!("cannot open the log {}: {err}", path.display()))),
            },
            None => None,
        };
        if let Some(line) = child_env.describe().iter().find(|line| line.starts_with("variant ")) {
            // Before the command's own output: a crash under a variant is read knowing it.
            faultline::say!("faultline: {}", faultline::escape::Escaped(line));
        }
        let command: Vec<String> = args.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        if let Some(log) = &log {
            log.borrow_mut().run_started(&command, &child_env.describe());
        }
        Ok(Session {
            args,
            settings,
            settings_file,
            cwd,
            store_location,
            child_env,
            log,
            command,
            python_seen: Rc::default(),
        })
    }

    /// Runs the command once under supervision, with `envp`, for at most `timeout`.
    pub(super) fn supervise(&self, envp: Vec<std::ffi::CString>, timeout: Option<Duration>) -> Round {
        let log_events = self.log.clone();
        let python_record = Rc::clone(&self.python_seen);
        let mut recorder = Recorder::new(self.command.clone())
            .with_pytest_log(self.child_env.pytest_log_dir())
            .on_event(move |event| {
                // A bug here must not stop the supervision: the tree is killed when faultline dies.
                let _ = fenced(|| {
                    crate::internal_error::panic_if_injected("event");
                    live::print_event(event);
                    if let RunEvent::ProcessExec { executable: Some(exe), .. } = event {
                        let mut seen = python_record.borrow_mut();
                        if seen.is_none() && is_python(exe) {
                            *seen = Some(exe.clone());
                        }
                    }
                    if let Some(log) = &log_events {
                        log.borrow_mut().event(event.clone());
                    }
                });
            });
        let settings = &self.settings;
        let options = RunOptions {
            notices: std::sync::Arc::new(live::print_notice),
            envp: Some(envp),
            rlimits: self.child_env.rlimits().to_vec(),
            timeout,
            kill_after: settings.kill_after.unwrap_or(DEFAULT_KILL_AFTER),
            memory: MemoryConfig {
                interval: settings.memory_interval.unwrap_or(DEFAULT_MEMORY_INTERVAL),
                warn_bytes: settings.memory_warn,
                limit_bytes: settings.max_memory,
            },
            sanitizer: self.child_env.sanitizer_setup(),
        };
        let started = Instant::now();
        let run = trace::run(&self.args.command, options, &mut recorder);
        // The command's status is known now; nothing below may lose it.
        let (exit, timed_out) = match &run {
            Ok(end) => (command_exit(end), end.timeout.is_some()),
            Err(err) => {
                faultline::say!("faultline: {err}");
                (Exit::Code(exit_codes::launch_failed(err)), false)
            }
        };
        let report = fenced(|| {
            // A command that could not start still gets its report (outcome `error`), so that
            // the JSON, JUnit and the store say what happened instead of nothing.
            let mut report = match run {
                Ok(end) => recorder.finish(end, started.elapsed()),
                Err(err) => recorder.not_started(exit_codes::launch_failed(&err), started.elapsed()),
            };
            report.settings_file = self.settings_file.as_ref().map(|path| path.display().to_string());
            report.variant = self.child_env.variant().map(|v| faultline::model::RunVariant {
                name: v.name.clone(),
                env: v.env.iter().map(|(key, value)| format!("{key}={value}")).collect(),
            });
            crate::internal_error::panic_if_injected("report");
            // Asking the interpreter its version costs a Python start (about 12 ms here, more
            // than the whole supervision of a short run): only for a run with something to explain.
            let explained = !matches!(report.outcome, Outcome::Passed | Outcome::Failed | Outcome::Error);
            // The root's exec names its program; below the root, execs are not stopped at
            // (one stop less per program started), so a crashed process names its own.
            let crashed_python =
                || report.crashes.iter().filter_map(|c| c.executable.clone()).find(|exe| is_python(exe));
            let python = self.python_seen.borrow().clone().or_else(crashed_python).filter(|_| explained);
            report.system = Some(faultline::system::collect_system(python.as_deref().map(std::path::Path::new)));
            if !self.args.no_redact {
                faultline::redact::redact_report(&mut report);
            }
            report
        });
        if report.is_err() {
            faultline::say!(
                "faultline: the report is incomplete because of that error; the command's exit status is kept"
            );
        }
        Round { exit, report: report.ok(), timed_out }
    }

    /// Everything after the command ended: the report in every form asked for, the log, the store.
    pub(super) fn finish(&self, report: Report) {
        if !self.args.trial {
            print_terminal_report(&report, self.args.color);
            if let Some(dir) = self.child_env.sanitizer_reports() {
                faultline::say!("faultline: the sanitizer's own reports are kept in {}", dir.display());
            }
            if std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true") {
                print_github_annotations(&report);
            }
        }
        self.write_outputs(&report);
    }

    /// [`Session::finish`], with a bug in it costing only the report: one line says so.
    pub(super) fn finish_fenced(&self, report: Report) {
        if fenced(|| self.finish(report)).is_err() {
            faultline::say!(
                "faultline: the report is incomplete because of that error; the command's exit status is kept"
            );
        }
    }

    /// For a trial: the pytest channel's logs, kept beside its JSON report (`X.json` →
    /// `X.logs/`), for `bisect` to read which tests ran before the crash.
    fn keep_pytest_logs(&self) {
        let (Some(json), Some(logs)) = (&self.settings.json, self.child_env.pytest_log_dir()) else { return };
        let kept = json.with_extension("logs");
        let copied = std::fs::create_dir_all(&kept).and_then(|()| {
            for entry in std::fs::read_dir(&logs)? {
                let entry = entry?;
                std::fs::copy(entry.path(), kept.join(entry.file_name()))?;
            }
            Ok(())
        });
        if let Err(err) = copied {
            faultline::say!("faultline: could not keep the pytest logs in {}: {err}", kept.display());
        }
    }

    /// The JSON and JUnit files, the log and the store.
    pub(super) fn write_outputs(&self, report: &Report) {
        if let Some(path) = &self.settings.json {
            if let Err(err) = super::files::write_atomically(path, |out| report::write_json(report, out)) {
                faultline::say!("faultline: could not write the JSON report to {}: {err}", path.display());
            }
        }
        if let Some(path) = &self.settings.junit {
            if let Err(err) = super::files::write_atomically(path, |out| report::write_junit(report, out)) {
                faultline::say!("faultline: could not write the JUnit report to {}: {err}", path.display());
            }
        }
        if let Some(log) = &self.log {
            log.borrow_mut().run_finished(report);
        }
        if let Some(location) = &self.store_location {
            super::store::keep_report(location, report, &self.cwd);
        }
    }
}

/// Runs `work`, turning a panic (already described in one line by the panic hook) into an
/// error, so that faultline goes on to hand back the command's status.
pub(super) fn fenced<T>(work: impl FnOnce() -> T) -> Result<T, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|_| ())
}

/// How faultline ends after the run: with the command's exit code, or by the signal that
/// killed it. When faultline itself stopped the tree (time or memory limit), the stop is
/// faultline's doing, not a death to pass on: 128 + N, as the report says.
fn command_exit(end: &trace::RunEnd) -> Exit {
    let stopped_by_us = end.timeout.is_some() || end.stopped_for_memory;
    match end.exit.signal_number() {
        Some(signal) if !stopped_by_us => Exit::Signal(signal),
        _ => Exit::Code(end.exit.code),
    }
}

/// The project's file settings, overlaid by the command line; and the file they came from.
fn gather_settings(args: &RunArgs) -> Result<(RunSettings, Option<std::path::PathBuf>), String> {
    let (from_file, file) = if args.no_config {
        (RunSettings::default(), None)
    } else {
        let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
        match settings::load_project_settings(&cwd) {
            Ok(Some((settings, path))) => (settings, Some(path)),
            Ok(None) => (RunSettings::default(), None),
            Err(err) => return Err(err.to_string()),
        }
    };
    let from_cli = RunSettings {
        json: args.json.clone(),
        junit: args.junit.clone(),
        timeout: args.timeout,
        kill_after: args.kill_after,
        memory_interval: args.memory_interval,
        memory_warn: args.memory_warn,
        max_memory: args.max_memory,
        isolate_tmp: args.isolate_tmp.then_some(true),
        headless: args.headless.then_some(true),
        single_thread: args.single_thread.then_some(true),
        env: args.env.clone(),
        core_dumps: args.core_dumps.then_some(true),
        max_fds: args.max_fds,
        log: args.log.clone(),
        log_max_size: args.log_max_size,
        log_keep: args.log_keep,
        store: args.store.clone(),
        keep_going: args.keep_going.then_some(true),
        variant: match (args.heap_check, args.asan) {
            (true, _) => Some("heap-check".to_owned()),
            (_, true) => Some("asan".to_owned()),
            _ => args.variant.clone(),
        },
        variants: Vec::new(),
    };
    Ok((from_file.overlay(from_cli), file))
}

/// A Python interpreter by its file name (the one rule, `faultline_python`'s).
fn is_python(executable: &str) -> bool {
    std::path::Path::new(executable)
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(faultline::python::is_interpreter_name)
}

/// GitHub reads workflow commands from stdout (its docs: "sent to the runner over stdout").
/// The command has exited by now, so they never interleave with its output.
pub(super) fn print_github_annotations(report: &Report) {
    let workspace = std::env::var_os("GITHUB_WORKSPACE").filter(|w| !w.is_empty()).map(std::path::PathBuf::from);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = report::github::write_annotations(report, workspace.as_deref(), &mut out);
    let _ = out.flush();
}

pub(super) fn print_terminal_report(report: &Report, color: ColorChoice) {
    let stderr = std::io::stderr();
    let style = color.style(stderr.is_terminal());
    let mut out = stderr.lock();
    let _ = report::render_report(report, &style, &mut out);
    let _ = out.flush();
}
