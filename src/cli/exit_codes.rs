//! faultline's own exit codes: the one list the README's "Exit status" table documents.
//! `run` passes the command's status through (or dies of its signal); these are what
//! faultline says when the status is its own.

use faultline::trace::LaunchError;

/// The subcommand did what was asked and found nothing wrong.
pub const OK: i32 = 0;
/// The subcommand worked and found a problem: a failed `doctor` check (and `run
/// --preflight`), a `stress` run that did not pass, reports `crashes import` could not take.
pub const FOUND_PROBLEMS: i32 = 1;
/// A usage error: an unknown option, a bad value or settings file, an unwritable report path.
pub const USAGE: i32 = 2;
/// faultline's own failure before the command started (or an internal error).
pub const INTERNAL: i32 = 125;
/// The command is not executable.
pub const NOT_EXECUTABLE: i32 = 126;
/// The command was not found.
pub const NOT_FOUND: i32 = 127;

/// The status for a command that could not be started, as a shell would give it.
pub fn launch_failed(err: &LaunchError) -> i32 {
    match err {
        LaunchError::NotFound(_) => NOT_FOUND,
        LaunchError::NotExecutable(_) => NOT_EXECUTABLE,
        // An argument with a NUL byte cannot reach exec (no shell can pass one): a usage error.
        LaunchError::NulByte(_) => USAGE,
        LaunchError::Fork(_) => INTERNAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_cannot_start_gets_the_shells_status() {
        assert_eq!(launch_failed(&LaunchError::NotFound("x".into())), 127);
        assert_eq!(launch_failed(&LaunchError::NotExecutable("x".into())), 126);
        assert_eq!(launch_failed(&LaunchError::NulByte("x".into())), USAGE);
    }

    /// The README's table and this list agree: every code it names is here, with its meaning.
    #[test]
    fn the_readme_documents_every_code() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let table = &readme[readme.find("### Exit status").unwrap()..];
        let table = &table[..table.find("\n### ").unwrap_or(table.len())];
        for (code, words) in [
            (FOUND_PROBLEMS, "found a problem"),
            (USAGE, "usage errors"),
            (INTERNAL, "faultline's own failure"),
            (NOT_EXECUTABLE, "not executable"),
            (NOT_FOUND, "not found"),
        ] {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("| {code} |")))
                .unwrap_or_else(|| panic!("no row {code}"));
            assert!(row.contains(words), "{row}");
        }
    }
}
