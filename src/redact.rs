//! Hiding secrets that the crashed process put in front of us.
//!
//! Reports carry text from the process (argv, its stderr, messages) and end up in CI logs
//! and crash stores. A value is hidden when its name says it is a secret: a name made of
//! parts (split on `_`, `-`, `.`) one of which is `KEY`, or that ends in `TOKEN`, `SECRET`,
//! `PASSWORD`, `PASSWD`, `APIKEY`, `CREDENTIAL(S)` or `AUTH`. So `GITHUB_TOKEN=…`,
//! `--api-key …`, `AWS_SECRET_ACCESS_KEY=…`, `db.password: …` are hidden, and `keyword=…`
//! or `monkey=…` are not.

use crate::model::Report;

pub const REDACTED: &str = "[redacted]";

const SECRET_ENDINGS: [&str; 8] =
    ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY", "CREDENTIAL", "CREDENTIALS", "AUTH"];

/// Whether a variable, option or key name names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.trim_start_matches('-').to_ascii_uppercase();
    name.split(['_', '-', '.'])
        .filter(|part| !part.is_empty())
        .any(|part| part == "KEY" || SECRET_ENDINGS.iter().any(|end| part.ends_with(end)))
}

/// Redacts an argument vector: `NAME=value` and `--name=value` with a secret name, and the
/// value after a `--secret-name` option.
pub fn redact_argv(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for arg in argv {
        if hide_next && !arg.starts_with('-') {
            out.push(REDACTED.to_owned());
            hide_next = false;
            continue;
        }
        hide_next = false;
        match arg.split_once('=') {
            Some((name, _)) if is_secret_name(name) => out.push(format!("{name}={REDACTED}")),
            Some(_) => out.push(arg.clone()),
            None => {
                hide_next = arg.starts_with('-') && is_secret_name(arg);
                out.push(arg.clone());
            }
        }
    }
    out
}

/// Redacts `name=value`, `name: value` and `name value`-free forms inside free text (one
/// line of stderr, a message): the value after a secret name and `=` or `:` is hidden.
pub fn redact_text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(['=', ':']) {
        let (before, after) = rest.split_at(at);
        let separator = &after[..1];
        let after = &after[1..];
        let name_start =
            before.rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))).map_or(0, |i| i + 1);
        let name = &before[name_start..];
        out.push_str(before);
        out.push_str(separator);
        if !name.is_empty() && is_secret_name(name) {
            let spaces = after.len() - after.trim_start().len();
            let value_end = after[spaces..]
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '&'))
                .map_or(after.len(), |i| i + spaces);
            if value_end > spaces {
                out.push_str(&after[..spaces]);
                out.push_str(REDACTED);
                rest = &after[value_end..];
                continue;
            }
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Redacts every field of a report that holds text from the traced processes.
pub fn redact_report(report: &mut Report) {
    report.command = redact_argv(&report.command);
    for crash in &mut report.crashes {
        crash.argv = redact_argv(&crash.argv);
        crash.message = crash.message.as_deref().map(redact_text);
        for line in &mut crash.stderr_tail {
            *line = redact_text(line);
        }
    }
    if let Some(timeout) = report.timeout.as_mut() {
        for process in &mut timeout.processes {
            process.argv = redact_argv(&process.argv);
        }
    }
    if let Some(memory) = report.memory.as_mut() {
        if let Some(holder) = memory.peak_holder.as_mut() {
            holder.argv = redact_argv(&holder.argv);
        }
        for process in memory.snapshot.iter_mut().flatten() {
            process.argv = redact_argv(&process.argv);
        }
    }
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
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["keyword", "monkey", "PATH", "HOME", "tokenizer", "--verbose"] {
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
}
