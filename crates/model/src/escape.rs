//! Text from the traced processes, made harmless for a terminal.
//!
//! A thread name, a test id, a function name, a stderr line can hold escape sequences: a
//! window title (`ESC ] 0 ; … BEL`), a cleared screen (`ESC [ 2 J`), a clipboard write
//! (OSC 52), a disguised link (OSC 8). Every terminal output shows such text with its
//! control characters written out instead:
//! - C0 controls and DEL as `\x1b`, `\x07`, `\x7f` (`\t`, `\r`, `\n` by name);
//! - C1 controls (U+0080–U+009F, `\u{9b}` is a CSI on its own) as `\u{9b}`;
//! - the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069), which
//!   reorder what a line appears to say, as `\u{202e}`.
//!
//! The terminal renderers take whole values through [`for_terminal`] (every text field of
//! them, as [`crate::texts`] lists them) before writing a line, and add faultline's own
//! colors after: those are never escaped. Lines that end structurally (the stderr tail is
//! split into lines) keep their breaks; a line break inside one field is shown as `\n`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use crate::texts::{map_strings, Texts};

/// Whether `c` is shown escaped.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character written out (see the module's documentation).
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    escape_with(text, false)
}

/// Like [`escape_controls`], but line breaks stay: for messages of several lines whose
/// breaks are faultline's own.
pub fn escape_controls_keeping_lines(text: &str) -> Cow<'_, str> {
    escape_with(text, true)
}

fn escape_with(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let wanted = |c: char| is_control(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(wanted) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if wanted(c) {
            push_escaped(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_escaped(c: char, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = match c {
        '\t' => out.write_str("\\t"),
        '\r' => out.write_str("\\r"),
        '\n' => out.write_str("\\n"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// Shows a string with its control characters escaped: `say!("… {}", Escaped(&name))`.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_controls(self.0))
    }
}

/// A copy of `value` whose every text field is escaped, for a terminal renderer.
pub fn for_terminal<T: Texts + Clone>(value: &T) -> T {
    let mut copy = value.clone();
    map_strings(&mut copy, &|s| match escape_controls(s) {
        Cow::Owned(escaped) => Some(escaped),
        Cow::Borrowed(_) => None,
    });
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_written_out() {
        assert_eq!(escape_controls("plain text, ünïcödé, エラー"), "plain text, ünïcödé, エラー");
        assert_eq!(escape_controls("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(escape_controls("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");
        assert_eq!(escape_controls("a\tb\rc\nd\x7f"), "a\\tb\\rc\\nd\\x7f");
        assert_eq!(escape_controls("\u{9b}31m \u{85}"), "\\u{9b}31m \\u{85}");
        assert_eq!(escape_controls("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape_controls("\0"), "\\x00");
        assert_eq!(escape_controls_keeping_lines("one\ntwo\x1b"), "one\ntwo\\x1b");
        assert_eq!(Escaped("\x1b]52;c;aGk=\x07").to_string(), "\\x1b]52;c;aGk=\\x07");
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        let once = escape_controls("\x1b[31mred\u{9b}\n").into_owned();
        assert!(matches!(escape_controls(&once), Cow::Borrowed(_)));
    }
}
