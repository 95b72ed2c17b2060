//! Argument parsing and the subcommands. Exit codes (documented in the README):
//! the command's own status for `run`; 127 command not found; 126 not executable;
//! 2 usage errors; 125 faultline's own failure before the command started.

mod args;
mod crashes;
mod doctor;
mod files;
mod report;
mod run;
mod store;
mod stress;

use clap::Parser;

pub fn main() -> i32 {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            if let Some(line) = args::one_line_usage_error(&err) {
                faultline::say!("faultline: {line}");
                return 2;
            }
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return code;
        }
    };
    match cli.command {
        args::Command::Run(run_args) => {
            if run_args.preflight {
                if let Some(code) = doctor::preflight(run_args.python.as_deref()) {
                    return code;
                }
            }
            run::run(run_args)
        }
        args::Command::Doctor(doctor_args) => doctor::doctor(doctor_args),
        args::Command::Crashes(crashes_args) => crashes::crashes(crashes_args),
        args::Command::Report(report_args) => report::report(report_args),
        args::Command::Stress(stress_args) => stress::stress(stress_args),
    }
}
