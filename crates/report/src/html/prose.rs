//! Sentences faultline writes (hints, findings, fault details) mark names with backticks, as
//! the terminal shows them: ``bbox` in _geom read through a NULL pointer`. On a page the
//! marked names become `<code>`; the template escapes every piece, marked or not.
//!
//! Only faultline's own sentences are read this way: a process's text (a message, argv,
//! stderr) is shown as it is, backticks and all.

/// A piece of a sentence: plain text, or a name to set in `<code>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub text: String,
    pub code: bool,
}

/// A sentence cut into spans.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Prose {
    pub spans: Vec<Span>,
}

impl Prose {
    /// Text shown as it is.
    pub(crate) fn plain(text: impl Into<String>) -> Prose {
        Prose { spans: vec![Span { text: text.into(), code: false }] }
    }

    /// Text whose backtick-quoted names become code. A backtick without its pair, or a pair
    /// with nothing between, stays as it was written.
    pub(crate) fn marked(text: &str) -> Prose {
        let mut spans = Vec::new();
        let mut plain = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('`') {
            let after = &rest[open + 1..];
            match after.find('`') {
                Some(close) if close > 0 => {
                    plain.push_str(&rest[..open]);
                    if !plain.is_empty() {
                        spans.push(Span { text: std::mem::take(&mut plain), code: false });
                    }
                    spans.push(Span { text: after[..close].to_string(), code: true });
                    rest = &after[close + 1..];
                }
                _ => {
                    plain.push_str(&rest[..=open]);
                    rest = after;
                }
            }
        }
        plain.push_str(rest);
        if !plain.is_empty() {
            spans.push(Span { text: plain, code: false });
        }
        Prose { spans }
    }

    /// The text as written, for titles and tests.
    #[cfg(test)]
    pub(crate) fn text(&self) -> String {
        self.spans.iter().map(|s| if s.code { format!("`{}`", s.text) } else { s.text.clone() }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(p: &Prose) -> Vec<(&str, bool)> {
        p.spans.iter().map(|s| (s.text.as_str(), s.code)).collect()
    }

    #[test]
    fn names_in_backticks_become_code() {
        let p = Prose::marked("`bbox` in _geom read through a NULL pointer");
        assert_eq!(shape(&p), vec![("bbox", true), (" in _geom read through a NULL pointer", false)]);
        let p = Prose::marked("blocked on a lock (`pthread_mutex_lock`) from f; does `flush` hold it?");
        assert_eq!(
            shape(&p),
            vec![
                ("blocked on a lock (", false),
                ("pthread_mutex_lock", true),
                (") from f; does ", false),
                ("flush", true),
                (" hold it?", false)
            ]
        );
    }

    #[test]
    fn unpaired_and_empty_backticks_stay_text() {
        assert_eq!(shape(&Prose::marked("a ` b")), vec![("a ` b", false)]);
        assert_eq!(shape(&Prose::marked("a `` b")), vec![("a `` b", false)]);
        assert_eq!(shape(&Prose::marked("`x` and `y")), vec![("x", true), (" and `y", false)]);
        assert_eq!(shape(&Prose::marked("")), vec![]);
        assert_eq!(Prose::marked("see `a`, `b`.").text(), "see `a`, `b`.");
    }

    #[test]
    fn plain_text_keeps_its_backticks() {
        assert_eq!(shape(&Prose::plain("sh -c `date`")), vec![("sh -c `date`", false)]);
    }
}
