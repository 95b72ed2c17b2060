//! Argument parsing and the subcommands. Exit codes: the command's own status for `run`
//! (faultline dies of the signal that killed the command); faultline's own are listed in
//! `exit_codes`, the README's table.

mod args;
mod bisect;
mod crashes;
mod doctor;
mod exit_codes;
mod files;
mod keep_going;
mod live;
mod report;
mod run;
mod store;
mod stress;
mod trial;
mod unstored;

use clap::Parser;

/// How faultline ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// The command was killed by this signal: faultline dies of it too.
    Signal(i32),
}

pub fn main() -> Exit {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            if let Some(line) = args::one_line_usage_error(&err) {
                faultline::say!("faultline: {line}");
                return Exit::Code(exit_codes::USAGE);
            }
            let code = if err.use_stderr() { exit_codes::USAGE } else { exit_codes::OK };
            let _ = err.print();
            return Exit::Code(code);
        }
    };
    let code = match cli.command {
        args::Command::Run(run_args) => {
            if run_args.preflight {
                if let Some(code) = doctor::preflight(run_args.python.as_deref()) {
                    return Exit::Code(code);
                }
            }
            return run::run(run_args);
        }
        args::Command::Doctor(doctor_args) => doctor::doctor(doctor_args),
        args::Command::Crashes(crashes_args) => crashes::crashes(crashes_args),
        args::Command::Report(report_args) => report::report(report_args),
        args::Command::Stress(stress_args) => stress::stress(stress_args),
        args::Command::Bisect(bisect_args) => bisect::bisect(bisect_args),
    };
    Exit::Code(code)
}
