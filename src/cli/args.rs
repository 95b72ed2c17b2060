//! What the user can type. clap derive; validation of values happens here, before anything runs.

use clap::{Parser, Subcommand, ValueEnum};
use faultline::settings::ranges::{self, Bytes, Range};
use faultline::units;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// A duration the option's [`ranges`] entry accepts; the settings files check the same table.
fn duration_in(range: &'static Range<Duration>) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |text| units::parse_duration(text).map_err(|e| e.to_string()).and_then(|d| range.check(d))
}

fn size_in(range: &'static Range<Bytes>) -> impl Fn(&str) -> Result<u64, String> + Clone {
    move |text| units::parse_size(text).map_err(|e| e.to_string()).and_then(|b| range.check(Bytes(b))).map(|b| b.0)
}

fn count_in(range: &'static Range<u64>) -> impl Fn(&str) -> Result<u64, String> + Clone {
    move |text| {
        let n = text.trim().parse::<u64>().map_err(|_| format!("expected a whole number, {}", range.describe()))?;
        range.check(n)
    }
}

/// A count that fits in `u32` because its range's maximum does.
fn small_count_in(range: &'static Range<u64>) -> impl Fn(&str) -> Result<u32, String> + Clone {
    debug_assert!(range.max.is_some_and(|max| max <= u64::from(u32::MAX)));
    move |text| count_in(range)(text).map(|n| n as u32)
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "faultline",
    version,
    about = "Run a command under ptrace and explain every native crash in its process tree"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run COMMAND; if any process or thread of it dies from a fatal signal, report why.
    ///
    /// The command runs with the same stdin, stdout, stderr and environment, and faultline
    /// exits with its status (its exit code, or 128 + the signal number).
    #[command(override_usage = "faultline run [OPTIONS] -- <COMMAND>...")]
    Run(RunArgs),

    /// Check the machine, the Python environment and the test setup for what makes native
    /// code crash (or crashes go unexplained), before it happens.
    ///
    /// Exit status: 0 when nothing fails, 1 when a check fails (or warns, with --strict).
    Doctor(DoctorArgs),

    /// The crash store: list crash groups, show one, list the runs, or import JSON reports.
    ///
    /// Every `faultline run` stores its report; crashes with the same signature form one
    /// group. The store is .faultline/crashes.sqlite3 in the project unless --store,
    /// FAULTLINE_STORE or the `store` setting names another (a path or a postgres:// URL).
    Crashes(CrashesArgs),

    /// Write a report as one self-contained HTML file (no script, nothing loaded from
    /// anywhere): from a JSON report of `faultline run --json`, or a stored run or group.
    ///
    /// Exit status: 0 when the file was written, 2 when it could not be (the reason is
    /// printed).
    #[command(arg_required_else_help = true)]
    Report(ReportArgs),

    /// Run COMMAND many times, several at once, each under `faultline run`, and group the
    /// crashes found: for a crash that happens once in twenty runs.
    ///
    /// Each run has FAULTLINE_STRESS_RUN=N (1, 2, ...) in its environment and is kept in the
    /// crash store like any run. Exit status: 0 when every run passed, 1 otherwise.
    #[command(override_usage = "faultline stress [OPTIONS] -- <COMMAND>...")]
    Stress(StressArgs),

    /// For a pytest crash that happens only in the whole suite: find the fewest tests that
    /// must run before the crashing one for it to crash (delta debugging over the tests that
    /// ran before it), and how many times in a row the test itself must run.
    ///
    /// Every trial is a supervised run of COMMAND on chosen tests; a trial counts only when
    /// the same test crashes with the same signature. Exit status: 0 when the crash was
    /// explained (order-dependent, or crashing alone), 1 when it did not reproduce (no crash,
    /// or flaky), 2 for a usage error.
    #[command(override_usage = "faultline bisect [OPTIONS] -- python -m pytest [ARGS]...")]
    Bisect(BisectArgs),
}

#[derive(Debug, clap::Args)]
pub struct BisectArgs {
    /// How many trials at once [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N", value_parser = small_count_in(&ranges::STRESS_JOBS))]
    pub jobs: Option<u32>,

    /// How many runs to try before calling a crash not reproducible (and for the rate of a
    /// flaky one).
    #[arg(long, default_value = "3", value_name = "N", value_parser = small_count_in(&ranges::STRESS_RUNS))]
    pub attempts: u32,

    /// Stop each trial after this long (stacks first, as `faultline run --timeout`).
    #[arg(long, value_name = "DURATION", value_parser = duration_in(&ranges::TIMEOUT))]
    pub timeout: Option<Duration>,

    /// Write the result (the tests needed, trials, the crash) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Keep secrets in the reports (as for `faultline run`).
    #[arg(long)]
    pub no_redact: bool,

    /// Ignore [tool.faultline] / faultline.toml (as for `faultline run`).
    #[arg(long)]
    pub no_config: bool,

    /// When to color the output (NO_COLOR is respected with `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, clap::Args)]
pub struct StressArgs {
    /// How many runs.
    #[arg(short = 'n', long, default_value = "20", value_name = "N", value_parser = small_count_in(&ranges::STRESS_RUNS))]
    pub runs: u32,

    /// How many runs at once [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N", value_parser = small_count_in(&ranges::STRESS_JOBS))]
    pub jobs: Option<u32>,

    /// Start no more runs after the first crash.
    #[arg(long)]
    pub until_crash: bool,

    /// Make the runs under each of these variants (comma-separated: default,heap-check,
    /// arena-1, ...), interleaved, and compare their crash rates.
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    pub variants: Vec<String>,

    /// Stop a run after this long (stacks first, as `faultline run --timeout`).
    #[arg(long, value_name = "DURATION", value_parser = duration_in(&ranges::TIMEOUT))]
    pub timeout: Option<Duration>,

    /// Keep each run's JSON report and output here [default: a temporary folder, removed
    /// when every run passed].
    #[arg(long, value_name = "DIR")]
    pub logs: Option<PathBuf>,

    /// Write the summary (counts, groups with their runs) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// The crash store the runs are kept in (as for `faultline run`).
    #[arg(long, value_name = "PATH_OR_URL")]
    pub store: Option<String>,

    /// Do not keep the runs in the crash store.
    #[arg(long, conflicts_with = "store")]
    pub no_store: bool,

    /// Keep secrets in the reports (as for `faultline run`).
    #[arg(long)]
    pub no_redact: bool,

    /// When to color the summary (NO_COLOR is respected with `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// The command to run, after `--`.
    // Not `allow_hyphen_values`: a mistyped option (`--timout`) must be a usage error, not
    // the command. Once the command's first word is seen, every word is the command's
    // (`trailing_var_arg`), and after `--` even its first word may start with `-`.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, clap::Args)]
pub struct CrashesArgs {
    #[command(subcommand)]
    pub action: Option<CrashesAction>,

    /// The store: a SQLite file or a postgres:// URL [default: FAULTLINE_STORE, the `store`
    /// setting, else .faultline/crashes.sqlite3 in the project].
    #[arg(long, global = true, value_name = "PATH_OR_URL")]
    pub store: Option<String>,

    /// Print JSON on stdout instead of the human-readable text.
    #[arg(long, global = true)]
    pub json: bool,

    /// When to color the text (NO_COLOR is respected with `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Ignore `faultline.toml` and `[tool.faultline]` in pyproject.toml.
    #[arg(long, global = true)]
    pub no_config: bool,
}

#[derive(Debug, Subcommand)]
pub enum CrashesAction {
    /// List the crash groups, most recently seen first (the default).
    List,
    /// List the runs, newest first: outcome (crash, timeout, memory stop, ...), exit status,
    /// duration and crash groups of each.
    Runs {
        /// Show at most N runs.
        #[arg(long, value_name = "N", default_value = "50", value_parser = count_in(&ranges::RUNS_LISTED))]
        limit: u64,
        /// Show every run.
        #[arg(long, conflicts_with = "limit")]
        all: bool,
    },
    /// One group: its signature, tests, every occurrence, and its latest report.
    Show {
        /// The group id (its 12 hex digits, or at least the first 4 of them).
        id: String,
    },
    /// Store JSON reports written by `faultline run --json` (or kept aside when the store
    /// could not be reached).
    #[command(arg_required_else_help = true)]
    Import {
        /// Report files.
        #[arg(required = true, value_name = "REPORT")]
        files: Vec<PathBuf>,
        /// Store them as they are, without hiding values that look like secrets.
        #[arg(long)]
        no_redact: bool,
    },
    /// Forget runs (and their crashes) stored longer ago than DURATION (`30d`, `12h`).
    #[command(arg_required_else_help = true)]
    Prune {
        /// Forget what was stored longer ago than this (`30d`, `12h`, `1h30m`; at least `1s`).
        #[arg(long, value_name = "DURATION", value_parser = duration_in(&ranges::PRUNE_AGE))]
        older_than: Duration,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Write the HTML report to this file.
    #[arg(long, value_name = "FILE", required = true)]
    pub html: PathBuf,

    /// Render this JSON report, as written by `faultline run --json`.
    #[arg(long, value_name = "REPORT.json", conflicts_with_all = ["target", "store"])]
    pub from_json: Option<PathBuf>,

    /// A stored run (its number, or run:N) or crash group (its id, or group:ID) to render
    /// [default: the latest run].
    #[arg(value_name = "RUN_OR_GROUP")]
    pub target: Option<String>,

    /// The crash store to read RUN_OR_GROUP from: a SQLite file or a postgres:// URL
    /// [default: FAULTLINE_STORE, the `store` setting, else .faultline/crashes.sqlite3].
    #[arg(long, value_name = "PATH_OR_URL")]
    pub store: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The interpreter to examine [default: $VIRTUAL_ENV/bin/python, else python3 on PATH].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Also write the result as JSON (docs/doctor-schema.json) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Exit 1 on warnings too.
    #[arg(long)]
    pub strict: bool,

    /// When to color the table (NO_COLOR is respected with `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Write the JSON report (schema version 1) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write a JUnit XML report to this file (one failed test case per crash, timeout or
    /// memory stop; one passing case for a clean run), for CI test reporters.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// When to color the terminal report (NO_COLOR is respected with `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Stop the run after this long (`90s`, `5m`, `1h`): take every thread's stack in every
    /// process first, then SIGTERM the tree, then SIGKILL after --kill-after.
    #[arg(long, value_name = "DURATION", value_parser = duration_in(&ranges::TIMEOUT), help_heading = "Limits")]
    pub timeout: Option<Duration>,

    /// Grace period between SIGTERM and SIGKILL when faultline stops the tree [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = duration_in(&ranges::KILL_AFTER), help_heading = "Limits")]
    pub kill_after: Option<Duration>,

    /// Stop the run when the tree's resident memory exceeds SIZE (`512MiB`, `2GiB`): stacks
    /// first (where was it allocating?), then as for a timeout.
    #[arg(long, value_name = "SIZE", value_parser = size_in(&ranges::MEMORY_SIZE), help_heading = "Limits")]
    pub max_memory: Option<u64>,

    /// Print one warning when the tree's resident memory first exceeds SIZE.
    #[arg(long, value_name = "SIZE", value_parser = size_in(&ranges::MEMORY_SIZE), help_heading = "Limits")]
    pub memory_warn: Option<u64>,

    /// How often to sample the tree's memory [default: 100ms].
    #[arg(long, value_name = "DURATION", value_parser = duration_in(&ranges::MEMORY_INTERVAL), help_heading = "Limits")]
    pub memory_interval: Option<Duration>,

    /// Give the command a fresh private TMPDIR (and TEMP, TMP), removed afterwards.
    #[arg(long, help_heading = "Environment")]
    pub isolate_tmp: bool,

    /// Settings that stop GUI toolkits needing a display (QT_QPA_PLATFORM=offscreen,
    /// MPLBACKEND=Agg, SDL_VIDEODRIVER=dummy, ...).
    #[arg(long, help_heading = "Environment")]
    pub headless: bool,

    /// One thread for OpenMP, OpenBLAS, MKL, numexpr, Accelerate and BLIS.
    #[arg(long, help_heading = "Environment")]
    pub single_thread: bool,

    /// Set an environment variable for the command (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env, help_heading = "Environment")]
    pub env: Vec<(String, String)>,

    /// Raise the core-file size limit so crashes leave core dumps.
    #[arg(long, help_heading = "Environment")]
    pub core_dumps: bool,

    /// Limit the number of open files per process.
    #[arg(long, value_name = "N", value_parser = count_in(&ranges::MAX_FDS), help_heading = "Environment")]
    pub max_fds: Option<u64>,

    /// Append the run's events to FILE, rotating it by size.
    #[arg(long, value_name = "FILE", help_heading = "Logging")]
    pub log: Option<PathBuf>,

    /// Rotate the log when it would exceed SIZE [default: 10MiB].
    #[arg(long, value_name = "SIZE", value_parser = size_in(&ranges::LOG_MAX_SIZE), help_heading = "Logging")]
    pub log_max_size: Option<u64>,

    /// How many rotated logs to keep [default: 5].
    #[arg(long, value_name = "N", value_parser = small_count_in(&ranges::LOG_KEEP), help_heading = "Logging")]
    pub log_keep: Option<u32>,

    /// Run `faultline doctor` first; on any failed check print the failures and exit 1
    /// without starting the command.
    #[arg(long)]
    pub preflight: bool,

    /// With --preflight: the interpreter to examine [default: $VIRTUAL_ENV/bin/python, else python3].
    #[arg(long, value_name = "PATH", requires = "preflight")]
    pub python: Option<PathBuf>,

    /// Ignore `faultline.toml` and `[tool.faultline]` in pyproject.toml.
    #[arg(long)]
    pub no_config: bool,

    /// Keep the report in this crash store: a SQLite file or a postgres:// URL [default:
    /// FAULTLINE_STORE, the `store` setting, else .faultline/crashes.sqlite3 in the project].
    #[arg(long, value_name = "PATH_OR_URL", help_heading = "Reports")]
    pub store: Option<String>,

    /// Do not keep the report in the crash store.
    #[arg(long, conflicts_with = "store", help_heading = "Reports")]
    pub no_store: bool,

    /// Show secrets in the report: by default values whose names look like TOKEN, SECRET,
    /// PASSWORD or KEY (in argv, stderr lines, messages) are replaced by `[redacted]`.
    #[arg(long)]
    pub no_redact: bool,

    /// When a pytest process crashes in a test, keep that crash's report and run the same
    /// pytest command again on the collected tests that have not run yet, until every test
    /// has run or crashed; then one summary for the whole suite (exit status: see README)
    #[arg(long, help_heading = "Test suites")]
    pub keep_going: bool,

    /// Run under an allocator variant: heap-check, arena-N, jemalloc, tcmalloc, asan, default, or
    /// one of the project's [tool.faultline.variants] (see README, "Heap variants")
    #[arg(long, value_name = "NAME", help_heading = "Heap variants")]
    pub variant: Option<String>,

    /// Same as --variant heap-check: glibc checks the heap at every call and poisons freed
    /// memory, so a use after free or an overrun crashes at the next heap call
    #[arg(long, conflicts_with = "variant", help_heading = "Heap variants")]
    pub heap_check: bool,

    /// Same as --variant asan: for extensions built with -fsanitize=address, preload the
    /// compiler's AddressSanitizer runtime into Python processes and turn its report
    /// (the bad access, the allocation and free stacks) into faultline's
    #[arg(long, conflicts_with_all = ["variant", "heap_check"], help_heading = "Heap variants")]
    pub asan: bool,

    /// One run for `faultline bisect` and `--keep-going`'s checks: the report goes only to
    /// --json (no JUnit, log, store, annotations or settings-file outputs).
    #[arg(long, hide = true)]
    pub trial: bool,

    /// The command to run, after `--`.
    // Not `allow_hyphen_values`: a mistyped option (`--timout`) must be a usage error, not
    // the command. Once the command's first word is seen, every word is the command's
    // (`trailing_var_arg`), and after `--` even its first word may start with `-`.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// The one line to print instead of clap's message, for the usage errors a one-line answer
/// serves better: an unknown option (with the one meant, when one is close) and a missing
/// command. `None` for every other error, which clap words well enough.
pub fn one_line_usage_error(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let usage = match err.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(usage)) => usage.to_string(),
        _ => return None,
    };
    // "Usage: faultline run --timeout <DURATION> <COMMAND>..." → "faultline run".
    let words: Vec<&str> = usage
        .trim_start()
        .trim_start_matches("Usage:")
        .split_whitespace()
        .take_while(|w| !w.starts_with(['-', '[', '<']))
        .collect();
    let command = words.join(" ");
    // `run` and `stress` take a command ("<COMMAND>..."); the top level's "<COMMAND>" is a
    // subcommand.
    let runs_a_command = usage.contains("<COMMAND>...");
    match err.kind() {
        ErrorKind::UnknownArgument => {
            let Some(ContextValue::String(option)) = err.get(ContextKind::InvalidArg) else { return None };
            let line = format!("unknown option `{option}` for `{command}`");
            Some(match err.get(ContextKind::SuggestedArg) {
                Some(ContextValue::String(meant)) => format!("{line}: did you mean `{meant}`?"),
                _ if runs_a_command => format!(
                    "{line} (`{command} --help` lists them; a command whose name starts with `-` goes after `--`)"
                ),
                _ => format!("{line} (`{command} --help` lists them)"),
            })
        }
        ErrorKind::MissingRequiredArgument if runs_a_command => {
            let Some(ContextValue::Strings(missing)) = err.get(ContextKind::InvalidArg) else { return None };
            if !missing.iter().any(|m| m.starts_with("<COMMAND>")) {
                return None;
            }
            Some(format!("no command to run: give it after `--`, as in `{command} -- python3 -m pytest`"))
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// The style for output going to a stream that `is_tty` or not; `auto` respects NO_COLOR.
    pub fn style(self, is_tty: bool) -> faultline::report::TerminalStyle {
        use faultline::report::TerminalStyle;
        match self {
            ColorChoice::Always => TerminalStyle::new(true),
            ColorChoice::Never => TerminalStyle::new(false),
            ColorChoice::Auto => TerminalStyle::detect(std::env::var_os("NO_COLOR").as_deref(), is_tty),
        }
    }
}
