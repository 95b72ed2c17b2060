//! faultline's own lines on stderr, written so that a closed or broken stderr never costs
//! the user the command's status.
//!
//! `eprintln!` panics when the write fails (`faultline run -- pytest 2>&1 | head` closes
//! the pipe early): every line faultline prints goes through `say!`, which drops it then.
//! A line may name things the command chose (a path, a test id): its control characters
//! are escaped ([`crate::escape`]), so no line can carry an escape sequence to the terminal.

/// Like `eprintln!`, but a failed write is ignored instead of panicking, and control
/// characters other than line breaks are shown escaped.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let line = ::std::format!($($arg)*);
        let _ = ::std::writeln!(::std::io::stderr(), "{}", $crate::escape::escape_controls_keeping_lines(&line));
    }};
}
