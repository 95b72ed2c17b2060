//! Hiding secrets that the crashed process put in front of us.
//!
//! Reports carry text from the process (argv, its stderr, messages, thread and test names)
//! and end up in CI logs and crash stores. Every text field of a report goes through
//! [`redact_report`] before any output is written (terminal, JSON, JUnit, HTML, the store).
//!
//! **Secret names.** A name says it is a secret when one of its parts (split on `_`, `-`,
//! `.` and spaces) is `KEY` or `PASS`, or ends in `TOKEN`, `SECRET`, `PASSWORD`, `PASSWD`,
//! `APIKEY`, `CREDENTIAL(S)`, `AUTH` or `AUTHORIZATION`. So `GITHUB_TOKEN`, `api-key`,
//! `AWS_SECRET_ACCESS_KEY`, `db.password`, `Authorization` are secret names; `keyword`,
//! `monkey`, `tokenizer`, `passenger` are not.
//!
//! **What is hidden** (the value becomes `[redacted]`, the name stays):
//! - `NAME=value`, `NAME = value`, `NAME: value`, with a secret name, anywhere in a line; a
//!   quoted name and value as JSON or a Python repr writes them (`{"password": "x"}`,
//!   `{'password': 'x'}`, `b'x'`) hide everything between the value's quotes. An unquoted
//!   value ends at a space, `,`, `;`, `&`, a quote or a closing bracket (`f(token=x)`,
//!   `test_login[password=x]`). `==`, `!=`, `<=`, `>=`, `:=` and `::` are not assignments.
//! - an HTTP authorization value keeps its scheme: `Authorization: Bearer [redacted]`
//!   (`Basic`, `Digest`, `Token`, ... alike); `Bearer TOKEN` alone is hidden when the token
//!   has at least 8 characters and a digit or a symbol (so `bearer certificates` stays).
//! - the password of a URL: `https://user:[redacted]@host/`, `postgres://u:[redacted]@db/x`
//!   (a user alone, `ssh://git@host`, is kept).
//! - in argv: the value after an option with a secret name (`--api-key VALUE`); the whole
//!   value of `--name=value`; a password glued to `-p` for the MySQL/MariaDB clients
//!   (`mysql -pSECRET`, `mysqldump`, `mariadb`, ...), `-p` of `sshpass` and `-a` of
//!   `redis-cli` (glued or not); and every rule above inside each argument.
//!
//! Scanning works on ASCII separators only, so any text (UTF-8 of any language, the
//! replacement characters of binary junk) is safe: every cut falls on a character boundary.

use crate::model::Report;
use crate::texts::{Text, Texts};

pub const REDACTED: &str = "[redacted]";

const SECRET_ENDINGS: [&str; 9] =
    ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY", "CREDENTIAL", "CREDENTIALS", "AUTH", "AUTHORIZATION"];
/// Parts that are secret only on their own (`DB_PASS`, but not `BYPASS`).
const SECRET_PARTS: [&str; 2] = ["KEY", "PASS"];

/// HTTP authorization schemes, kept in front of the hidden credentials.
const AUTH_SCHEMES: [&str; 7] = ["bearer", "basic", "digest", "token", "negotiate", "ntlm", "apikey"];

/// Programs whose password option takes its value glued (`mysql -pSECRET`): the letter, and
/// whether the value may also be the next argument (for mysql, `-p db` prompts and `db` is
/// the database).
const PASSWORD_OPTIONS: [(&str, char, bool); 13] = [
    ("mysql", 'p', false),
    ("mysqldump", 'p', false),
    ("mysqladmin", 'p', false),
    ("mysqlimport", 'p', false),
    ("mysqlcheck", 'p', false),
    ("mysqlshow", 'p', false),
    ("mysqlslap", 'p', false),
    ("mysqlpump", 'p', false),
    ("mariadb", 'p', false),
    ("mariadb-dump", 'p', false),
    ("mariadb-admin", 'p', false),
    ("sshpass", 'p', true),
    ("redis-cli", 'a', true),
];

/// Whether a variable, option or key name names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.trim_start_matches('-').to_ascii_uppercase();
    name.split(['_', '-', '.', ' '])
        .filter(|part| !part.is_empty())
        .any(|part| SECRET_PARTS.contains(&part) || SECRET_ENDINGS.iter().any(|end| part.ends_with(end)))
}

/// Redacts an argument vector: `NAME=value` and `--name=value` with a secret name, the value
/// after a `--secret-name` option, the password options of a few clients, and the free-text
/// rules inside every argument.
pub fn redact_argv(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    let mut password_option: Option<(char, bool)> = None;
    for arg in argv {
        if hide_next && !arg.starts_with('-') {
            out.push(REDACTED.to_owned());
            hide_next = false;
            continue;
        }
        hide_next = false;
        if let Some((letter, separate)) = password_option {
            let mut chars = arg.chars();
            if chars.next() == Some('-') && chars.next() == Some(letter) {
                if arg.len() > 2 {
                    out.push(format!("-{letter}{REDACTED}"));
                } else {
                    hide_next = separate;
                    out.push(arg.clone());
                }
                continue;
            }
        }
        if let Some(found) = password_option_of(arg) {
            password_option = Some(found);
        }
        match arg.split_once('=') {
            // The whole value of one assignment; a value with spaces that is not an
            // option's may be a shell line (`sh -c "TOKEN=x prog"`), left to the text rules.
            Some((name, value))
                if is_secret_name(name)
                    && is_name(name)
                    && (name.starts_with('-') || !value.contains(char::is_whitespace))
                    && !value.trim_start_matches(['"', '\'']).starts_with(REDACTED) =>
            {
                out.push(format!("{name}={REDACTED}"))
            }
            Some(_) => out.push(redact_text(arg)),
            None => {
                hide_next = arg.starts_with('-') && is_secret_name(arg) && is_name(arg);
                out.push(redact_text(arg));
            }
        }
    }
    out
}

/// Redacts one line of free text (stderr, a message, one argument): secret assignments,
/// authorization values, URL passwords, client password options.
pub fn redact_text(line: &str) -> String {
    redacted(line).unwrap_or_else(|| line.to_owned())
}

/// The redacted line, or `None` when nothing in it is secret (most lines: no copy made).
fn redacted(line: &str) -> Option<String> {
    let passes: [fn(&str) -> Option<String>; 4] =
        [hide_url_passwords, hide_assignments, hide_bearer_tokens, hide_password_options];
    let mut current: Option<String> = None;
    for pass in passes {
        if let Some(changed) = pass(current.as_deref().unwrap_or(line)) {
            current = Some(changed);
        }
    }
    current
}

/// Redacts every text field of a report (see [`crate::texts`]): argument vectors with
/// [`redact_argv`], every other text with [`redact_text`]; identifiers faultline computed
/// (signatures, signal names) are left as they are.
pub fn redact_report(report: &mut Report) {
    report.visit_texts(&mut |text| match text {
        Text::Argv(argv) => *argv = redact_argv(argv),
        Text::Free(text) => {
            if let Some(changed) = redacted(text) {
                *text = changed;
            }
        }
        Text::Ident(_) => {}
    });
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_name_byte)
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `https://user:pw@host/` → `https://user:[redacted]@host/`.
fn hide_url_passwords(text: &str) -> Option<String> {
    if !text.contains("://") {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let authority_start = search + found + 3;
        search = authority_start;
        let scheme_start = text[..search - 3]
            .bytes()
            .rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
            .map_or(0, |i| i + 1);
        if scheme_start == search - 3 {
            continue;
        }
        let authority_end = bytes[authority_start..]
            .iter()
            .position(|&b| {
                matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`') || b.is_ascii_whitespace()
            })
            .map_or(bytes.len(), |i| authority_start + i);
        let authority = &text[authority_start..authority_end];
        let Some(at) = authority.rfind('@') else { continue };
        let Some(colon) = authority[..at].find(':') else { continue };
        let password = &authority[colon + 1..at];
        if password.is_empty() || password == REDACTED {
            continue;
        }
        out.push_str(&text[copied..authority_start + colon + 1]);
        out.push_str(REDACTED);
        copied = authority_start + at;
        search = authority_end;
    }
    finish(out, text, copied)
}

/// The rewritten text, or `None` when nothing was replaced (`copied` is still 0).
fn finish(mut out: String, text: &str, copied: usize) -> Option<String> {
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// `NAME=value`, `NAME = value`, `NAME: value`, `"NAME": "value"`, `'NAME': 'value'`.
fn hide_assignments(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b == b'=' || b == b':') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let sep = bytes[i];
        if !matches!(sep, b'=' | b':') || !is_assignment(bytes, i) {
            i += 1;
            continue;
        }
        let Some(name) = name_before(text, i) else {
            i += 1;
            continue;
        };
        if !is_secret_name(name) {
            i += 1;
            continue;
        }
        match value_after(text, i + 1) {
            Some((start, end)) => {
                out.push_str(&text[copied..start]);
                out.push_str(REDACTED);
                copied = end;
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    finish(out, text, copied)
}

/// Whether the `=` or `:` at `i` assigns (not `==`, `!=`, `<=`, `>=`, `::`, `:=`).
fn is_assignment(bytes: &[u8], i: usize) -> bool {
    let before = i.checked_sub(1).map(|j| bytes[j]);
    let after = bytes.get(i + 1).copied();
    match bytes[i] {
        b'=' => !matches!(before, Some(b'=' | b'!' | b'<' | b'>' | b':')) && after != Some(b'='),
        _ => before != Some(b':') && !matches!(after, Some(b':' | b'=')),
    }
}

/// The name in front of the separator at `sep`: a quoted name (spaces may come between it
/// and the separator), else a bare name (spaces allowed only before `=`).
fn name_before(text: &str, sep: usize) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut end = sep;
    while end > 0 && is_space(bytes[end - 1]) {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    let last = bytes[end - 1];
    if last == b'"' || last == b'\'' {
        let open = bytes[..end - 1].iter().rposition(|&b| b == last)?;
        return Some(&text[open + 1..end - 1]);
    }
    if end < sep && bytes[sep] == b':' {
        return None;
    }
    let start = bytes[..end].iter().rposition(|&b| !is_name_byte(b)).map_or(0, |i| i + 1);
    (start < end).then(|| &text[start..end])
}

/// The byte range of the value that starts at `from` (after the separator), when there is
/// one to hide: inside its quotes when quoted, after the scheme of an authorization value.
fn value_after(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut start = from;
    while start < bytes.len() && is_space(bytes[start]) {
        start += 1;
    }
    // Python's string prefixes: `{'password': b'x'}`, `r"x"`.
    let prefixed = matches!(bytes.get(start), Some(b'b' | b'r' | b'u' | b'f' | b'B' | b'R' | b'U' | b'F'))
        && matches!(bytes.get(start + 1), Some(b'"' | b'\''));
    let quote_at = if prefixed { start + 1 } else { start };
    let first = *bytes.get(quote_at)?;
    if first == b'"' || first == b'\'' {
        let inner = quote_at + 1;
        let mut j = inner;
        while j < bytes.len() && bytes[j] != first {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(bytes.len());
        return (end > inner && !text[inner..end].starts_with(REDACTED)).then_some((inner, end));
    }
    let end = unquoted_end(bytes, start);
    if end == start || text[start..].starts_with(REDACTED) {
        return None;
    }
    // `Authorization: Bearer abc`: keep the scheme, hide what follows it.
    if AUTH_SCHEMES.iter().any(|s| text[start..end].eq_ignore_ascii_case(s)) {
        let mut credentials = end;
        while credentials < bytes.len() && is_space(bytes[credentials]) {
            credentials += 1;
        }
        let credentials_end = unquoted_end(bytes, credentials);
        if credentials_end > credentials && credentials > end {
            return (!text[credentials..].starts_with(REDACTED)).then_some((credentials, credentials_end));
        }
    }
    Some((start, end))
}

fn unquoted_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| b.is_ascii_whitespace() || matches!(b, b',' | b';' | b'"' | b'\'' | b'&' | b')' | b']' | b'}'))
        .map_or(bytes.len(), |i| start + i)
}

/// `Bearer eyJhbGciOi…` on its own, wherever it is.
fn hide_bearer_tokens(text: &str) -> Option<String> {
    const WORD: &str = "bearer";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i + WORD.len() < bytes.len() {
        let is_word = bytes[i..i + WORD.len()].eq_ignore_ascii_case(WORD.as_bytes())
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && is_space(bytes[i + WORD.len()]);
        if !is_word {
            i += 1;
            continue;
        }
        let mut start = i + WORD.len();
        while start < bytes.len() && is_space(bytes[start]) {
            start += 1;
        }
        let end = bytes[start..]
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')))
            .map_or(bytes.len(), |j| start + j);
        let token = &bytes[start..end];
        let telling = token.iter().any(|b| b.is_ascii_digit() || !b.is_ascii_alphanumeric());
        if token.len() >= 8 && telling {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
        }
        i = end.max(i + 1);
    }
    finish(out, text, copied)
}

/// The password option of the program `arg` names (`/usr/bin/mysql` → `-p`, glued only).
fn password_option_of(word: &str) -> Option<(char, bool)> {
    let word = word.trim_matches(|c| c == '"' || c == '\'');
    let program = word.rsplit('/').next().unwrap_or(word);
    PASSWORD_OPTIONS.iter().find(|(name, _, _)| *name == program).map(|&(_, letter, separate)| (letter, separate))
}

/// `mysql -u root -pSECRET db` inside one line (a shell command, a log line).
fn hide_password_options(text: &str) -> Option<String> {
    if !PASSWORD_OPTIONS.iter().any(|(name, _, _)| text.contains(name)) {
        return None;
    }
    let mut changed = false;
    let mut out = String::with_capacity(text.len());
    let mut option: Option<(char, bool)> = None;
    let mut hide_next = false;
    let mut rest = text;
    while !rest.is_empty() {
        let word_start = rest.find(|c: char| !c.is_whitespace()).unwrap_or(rest.len());
        out.push_str(&rest[..word_start]);
        rest = &rest[word_start..];
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        rest = &rest[word_end..];
        if word.is_empty() {
            break;
        }
        if hide_next && !word.starts_with('-') {
            changed |= word != REDACTED;
            out.push_str(REDACTED);
            hide_next = false;
            continue;
        }
        hide_next = false;
        if let Some((letter, separate)) = option {
            let mut chars = word.chars();
            if chars.next() == Some('-') && chars.next() == Some(letter) {
                if word.len() > 2 && !word[2..].starts_with(REDACTED) {
                    changed = true;
                    out.push('-');
                    out.push(letter);
                    out.push_str(REDACTED);
                } else {
                    hide_next = separate && word.len() == 2;
                    out.push_str(word);
                }
                continue;
            }
        }
        if let Some(found) = password_option_of(word) {
            option = Some(found);
        }
        out.push_str(word);
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn secret_names() {
        for name in [
            "GITHUB_TOKEN",
            "api-key",
            "--api-key",
            "AWS_SECRET_ACCESS_KEY",
            "db.password",
            "APIKEY",
            "passwd",
            "X-Auth",
            "Authorization",
            "Proxy-Authorization",
            "DB_PASS",
            "api key",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["keyword", "monkey", "PATH", "HOME", "tokenizer", "--verbose", "bypass", "passenger", "author"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn redacts_assignments_and_option_values_in_argv() {
        let got = redact_argv(&argv(&[
            "env",
            "GITHUB_TOKEN=abc",
            "python3",
            "--api-key",
            "s3cr3t",
            "--password=hunter2",
            "-v",
            "keyword=x",
        ]));
        assert_eq!(
            got,
            argv(&[
                "env",
                "GITHUB_TOKEN=[redacted]",
                "python3",
                "--api-key",
                "[redacted]",
                "--password=[redacted]",
                "-v",
                "keyword=x"
            ])
        );
    }

    #[test]
    fn an_option_followed_by_another_option_hides_nothing() {
        assert_eq!(redact_argv(&argv(&["--token", "--verbose"])), argv(&["--token", "--verbose"]));
    }

    #[test]
    fn redacts_values_in_free_text() {
        assert_eq!(
            redact_text("connecting with DB_PASSWORD=hunter2, user=bob"),
            "connecting with DB_PASSWORD=[redacted], user=bob"
        );
        assert_eq!(redact_text("api_key: abcdef done"), "api_key: [redacted] done");
        assert_eq!(
            redact_text("Fatal Python error: PyThreadState_Get: boom"),
            "Fatal Python error: PyThreadState_Get: boom"
        );
        assert_eq!(redact_text("url=http://x?a=1&token=zzz"), "url=http://x?a=1&token=[redacted]");
    }

    /// The shapes of issue 9 (B8), each with what must stay.
    #[test]
    fn common_shapes() {
        let cases = [
            (r#"{"password": "hunter3"}"#, r#"{"password": "[redacted]"}"#),
            (r#"{"user": "bob", "api_key": "a b c"}"#, r#"{"user": "bob", "api_key": "[redacted]"}"#),
            ("{'password': 'hunter3'}", "{'password': '[redacted]'}"),
            ("{'password': b'hunter3', 'token': r\"a b\"}", "{'password': b'[redacted]', 'token': r\"[redacted]\"}"),
            (r#"{"password":"hun\"ter3"}"#, r#"{"password":"[redacted]"}"#),
            ("token = x", "token = [redacted]"),
            ("API_TOKEN =abc and more", "API_TOKEN =[redacted] and more"),
            ("Authorization: Bearer abc.def-123", "Authorization: Bearer [redacted]"),
            ("authorization: Basic dXNlcjpwdw==", "authorization: Basic [redacted]"),
            ("header Bearer eyJhbGciOiJIUzI1NiJ9.x", "header Bearer [redacted]"),
            ("https://u:pw@host/path", "https://u:[redacted]@host/path"),
            (
                "clone https://bob:s3cr3t@example.com/r.git failed",
                "clone https://bob:[redacted]@example.com/r.git failed",
            ),
            ("postgres://ci:pw@db:5432/crashes", "postgres://ci:[redacted]@db:5432/crashes"),
            ("postgres://db/x?sslmode=disable&password=pw", "postgres://db/x?sslmode=disable&password=[redacted]"),
            ("mysql -u root -pSECRET shop", "mysql -u root -p[redacted] shop"),
            ("connect(password=\"x\")", "connect(password=\"[redacted]\")"),
            (
                "connect(token=abc) and test_login[password=x]",
                "connect(token=[redacted]) and test_login[password=[redacted]]",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(redact_text(text), want, "{text}");
        }
    }

    #[test]
    fn few_false_positives() {
        for text in [
            "keyword=x monkey: 3 tokenizer=bpe",
            "if token == expected: pass",
            "x != password",
            "std::map<int, int>::at key::value",
            "the bearer certificates expired",
            "ssh://git@github.com/org/repo.git",
            "http://host:8080/path",
            "Größe: 5 エラー: 失敗",
            "pytest -pno:cacheprovider -p xdist",
            "password:",
            "token = ",
        ] {
            assert_eq!(redact_text(text), text, "{text}");
        }
    }

    #[test]
    fn redacting_twice_changes_nothing_more() {
        for text in
            [r#"{"password": "hunter3"} token = x Authorization: Bearer abc12345 https://u:pw@h/"#, "mysql -pSECRET"]
        {
            let once = redact_text(text);
            assert_eq!(redact_text(&once), once);
        }
        let once = redact_argv(&argv(&["mysql", "-pX", "--token", "t", "K_TOKEN=1"]));
        assert_eq!(redact_argv(&once), once);
    }

    #[test]
    fn client_password_options_in_argv() {
        assert_eq!(
            redact_argv(&argv(&["/usr/bin/mysql", "-u", "root", "-pSECRET", "-p", "shop"])),
            argv(&["/usr/bin/mysql", "-u", "root", "-p[redacted]", "-p", "shop"])
        );
        assert_eq!(
            redact_argv(&argv(&["sshpass", "-p", "pw", "ssh", "h"])),
            argv(&["sshpass", "-p", "[redacted]", "ssh", "h"])
        );
        assert_eq!(redact_argv(&argv(&["redis-cli", "-aPW"])), argv(&["redis-cli", "-a[redacted]"]));
        // Other programs' -p is not a password.
        assert_eq!(
            redact_argv(&argv(&["pytest", "-pxdist", "-p", "no:cov"])),
            argv(&["pytest", "-pxdist", "-p", "no:cov"])
        );
        assert_eq!(
            redact_argv(&argv(&["sh", "-c", "mysql -pSECRET db"])),
            argv(&["sh", "-c", "mysql -p[redacted] db"])
        );
    }

    #[test]
    fn argv_elements_get_the_text_rules() {
        assert_eq!(
            redact_argv(&argv(&["curl", "-H", "Authorization: Bearer abcdef123", "https://u:pw@h/"])),
            argv(&["curl", "-H", "Authorization: Bearer [redacted]", "https://u:[redacted]@h/"])
        );
        assert_eq!(
            redact_argv(&argv(&["sh", "-c", "API_TOKEN=abc ./run"])),
            argv(&["sh", "-c", "API_TOKEN=[redacted] ./run"])
        );
        assert_eq!(redact_argv(&argv(&["--password=two words"])), argv(&["--password=[redacted]"]));
    }

    /// Issue 9 (A1): a multi-byte character right before a separator panicked
    /// ("byte index is not a char boundary").
    #[test]
    fn any_language_and_binary_junk() {
        assert_eq!(redact_text("Größe: 5"), "Größe: 5");
        assert_eq!(redact_text("エラー: 失敗"), "エラー: 失敗");
        assert_eq!(redact_text("é=1 ü:2 ß=3"), "é=1 ü:2 ß=3");
        assert_eq!(redact_text("パスワード token=秘密 done"), "パスワード token=[redacted] done");
        let junk = String::from_utf8_lossy(b"\xff\xfe:\x00=\xc3:\x80 password=\xe2\x82").into_owned();
        assert_eq!(redact_text(&junk), "\u{fffd}\u{fffd}:\0=\u{fffd}:\u{fffd} password=[redacted]");
    }
}
