//! The `faultline` command line: parse arguments, run, map errors to exit codes.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
