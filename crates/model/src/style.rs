//! Terminal styling: whether to color, and the few ANSI attributes faultline's reports use
//! (the crash report and `doctor` alike).

use std::ffi::OsStr;

/// How the terminal report looks. Decided once by the caller, frozen into the reporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalStyle {
    /// ANSI colors and bold.
    pub color: bool,
}

impl TerminalStyle {
    pub fn new(color: bool) -> TerminalStyle {
        TerminalStyle { color }
    }

    /// No colors: for files, pipes and tests.
    pub fn plain() -> TerminalStyle {
        TerminalStyle { color: false }
    }

    /// Color only when stderr is a terminal and `NO_COLOR` is unset or empty
    /// (<https://no-color.org>). The caller passes the environment value and the tty check,
    /// so this stays a pure function.
    pub fn detect(no_color: Option<&OsStr>, stderr_is_tty: bool) -> TerminalStyle {
        let opted_out = no_color.is_some_and(|v| !v.is_empty());
        TerminalStyle { color: stderr_is_tty && !opted_out }
    }

    pub fn paint(&self, role: Role, text: &str) -> String {
        if !self.color || text.is_empty() {
            return text.to_string();
        }
        let code = match role {
            Role::Alarm => "1;31",
            Role::Strong => "1",
            Role::Faint => "2",
            Role::Hint => "1;33",
            Role::Good => "1;32",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

impl Default for TerminalStyle {
    fn default() -> TerminalStyle {
        TerminalStyle::plain()
    }
}

/// What a piece of text is, for styling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The signal and kind in the header, the culprit marker.
    Alarm,
    /// The user's own frames.
    Strong,
    /// Folded runs, the signature, stderr.
    Faint,
    /// The `hint:` label.
    Hint,
    /// A run without a crash.
    Good,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_and_tty() {
        assert!(TerminalStyle::detect(None, true).color);
        assert!(!TerminalStyle::detect(None, false).color);
        assert!(!TerminalStyle::detect(Some(OsStr::new("1")), true).color);
        // An empty NO_COLOR does not opt out.
        assert!(TerminalStyle::detect(Some(OsStr::new("")), true).color);
    }

    #[test]
    fn painting() {
        assert_eq!(TerminalStyle::plain().paint(Role::Alarm, "x"), "x");
        assert_eq!(TerminalStyle::new(true).paint(Role::Strong, "x"), "\x1b[1mx\x1b[0m");
        assert_eq!(TerminalStyle::new(true).paint(Role::Strong, ""), "");
    }
}
