//! One quiet run of the command on chosen tests, for `faultline bisect` and for
//! `--keep-going`'s "does the crashed test pass alone?": a child `faultline run --trial`
//! (this same binary) with the tests named in a selection file, its output kept in a file.
//!
//! A child process rather than a run in this one: trials run several at a time, and a
//! tracer reaps with `waitpid(-1)`, which would take the other trials' statuses.

use faultline::model::Report;
use faultline::pytest::channel::SELECT_ENV;
use faultline::pytest::selection::Selection;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What every trial of one bisect or keep-going shares.
pub(super) struct Trials {
    faultline: PathBuf,
    /// Where the selections, reports and outputs go.
    dir: PathBuf,
    /// Options for `faultline run` that shape the command's run (environment, limits).
    run_options: Vec<OsString>,
    command: Vec<OsString>,
}

/// How one trial came out.
#[derive(Debug)]
pub(super) struct TrialEnd {
    /// The trial's report; `None` when the child faultline wrote none (it could not start).
    pub(super) report: Option<Report>,
    /// The command's output.
    pub(super) output: PathBuf,
    /// The pytest channel's logs of the trial (one `<pid>.jsonl` per pytest process).
    pub(super) logs: PathBuf,
}

impl TrialEnd {
    /// The signature of the crash in `nodeid`, or of the first crash when `nodeid` is `None`.
    pub(super) fn crash_signature(&self, nodeid: Option<&str>) -> Option<&str> {
        let crashes = &self.report.as_ref()?.crashes;
        let matches = |c: &&faultline::model::Crash| match nodeid {
            Some(id) => c.test.as_ref().is_some_and(|t| t.nodeid == id),
            None => true,
        };
        crashes.iter().find(matches).map(|c| c.signature.as_str())
    }
}

/// The options of `faultline run` that every trial passes on: settings files, redaction, and
/// the time a trial may take.
pub(super) fn run_options(no_config: bool, no_redact: bool, timeout: Option<std::time::Duration>) -> Vec<OsString> {
    let mut options: Vec<OsString> = Vec::new();
    if no_config {
        options.push("--no-config".into());
    }
    if no_redact {
        options.push("--no-redact".into());
    }
    if let Some(limit) = timeout {
        options.push("--timeout".into());
        options.push(format!("{}ms", limit.as_millis().max(1)).into());
    }
    options
}

impl Trials {
    pub(super) fn new(dir: &Path, run_options: Vec<OsString>, command: Vec<OsString>) -> Result<Trials, String> {
        let faultline = std::env::current_exe()
            .map_err(|err| format!("cannot find faultline's own executable to run trials: {err}"))?;
        Ok(Trials { faultline, dir: dir.to_owned(), run_options, command })
    }

    /// The same trials with `args` after the command's own (`-n0`: no xdist workers).
    pub(super) fn with_args(&self, args: &[&str]) -> Trials {
        let mut command = self.command.clone();
        command.extend(args.iter().map(OsString::from));
        Trials {
            faultline: self.faultline.clone(),
            dir: self.dir.clone(),
            run_options: self.run_options.clone(),
            command,
        }
    }

    /// Runs trial number `n` on `selection` (on every test when it names none) and waits
    /// for it.
    pub(super) fn run(&self, n: u32, selection: &Selection) -> TrialEnd {
        let select = self.dir.join(format!("select-{n}.json"));
        let json = self.dir.join(format!("trial-{n}.json"));
        let output = self.dir.join(format!("trial-{n}.out"));
        let report = selection.write(&select).ok().and_then(|()| std::fs::File::create(&output).ok()).and_then(|out| {
            let err = out.try_clone().ok()?;
            let mut command = Command::new(&self.faultline);
            if !selection.tests.is_empty() {
                command.env(SELECT_ENV, &select);
            }
            let status = command
                .arg("run")
                .args(["--trial", "--no-store", "--color", "never", "--json"])
                .arg(&json)
                .args(&self.run_options)
                .arg("--")
                .args(&self.command)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .status()
                .ok()?;
            let _ = status;
            let text = std::fs::read_to_string(&json).ok()?;
            faultline::read::report_from_json(&text).ok()
        });
        TrialEnd { report, output, logs: json.with_extension("logs") }
    }
}
