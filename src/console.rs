//! faultline's own lines on stderr, written so that a closed or broken stderr never costs
//! the user the command's status.
//!
//! `eprintln!` panics when the write fails (`faultline run -- pytest 2>&1 | head` closes
//! the pipe early): every line faultline prints goes through `say!`, which drops it then.

/// Like `eprintln!`, but a failed write is ignored instead of panicking.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}
