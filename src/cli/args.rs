//! What the user can type. clap derive; validation of values happens here, before anything runs.

use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "faultline", version, about = "Run a command under ptrace and explain every native crash in its process tree")]
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
    #[command(arg_required_else_help = true)]
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Write the JSON report (schema version 1) to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// When to color the terminal report (NO_COLOR is respected with `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Show secrets in the report: by default values whose names look like TOKEN, SECRET,
    /// PASSWORD or KEY (in argv, stderr lines, messages) are replaced by `[redacted]`.
    #[arg(long)]
    pub no_redact: bool,

    /// The command to run, after `--`.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
