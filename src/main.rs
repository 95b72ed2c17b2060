//! The `faultline` command line: parse arguments, run, map errors to exit codes.

mod cli;
mod internal_error;

fn main() {
    internal_error::install_hook();
    // A panic anywhere is faultline's bug, never the user's: one line, then exit 125.
    // (`run` fences what it does after the command ended, so its status survives.)
    let exit = std::panic::catch_unwind(cli::main).unwrap_or(cli::Exit::Code(internal_error::EXIT_CODE));
    match exit {
        cli::Exit::Code(code) => std::process::exit(code),
        cli::Exit::Signal(signal) => faultline::trace::die_by_signal(signal),
    }
}
