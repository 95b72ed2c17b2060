//! Issue 9, A1, B7 and B8: what the traced processes wrote never breaks faultline, never
//! reaches the terminal as escape sequences, and its secrets never reach any output. Each
//! test runs the real binary on a real Python process.

mod common;

use common::FAULTLINE;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

/// The status as a shell shows it: the exit code, or 128 + the signal faultline died of.
fn shell_status(output: &Output) -> i32 {
    output.status.code().or(output.status.signal().map(|s| 128 + s)).unwrap_or(-1)
}

fn faultline(args: &[&str], cwd: &Path) -> Output {
    Command::new(FAULTLINE)
        .args(args)
        .current_dir(cwd)
        .env("XDG_STATE_HOME", cwd.join("state"))
        .env_remove("FAULTLINE_STORE")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("run faultline")
}

/// faultline's own report on stderr: everything from its first crash header on. What comes
/// before is the command's own stderr, passed through untouched.
fn report_part(stderr: &[u8]) -> &[u8] {
    // The header, plain or in color (`ESC[1mfaultline:ESC[0m ESC[1;31mSIGABRT`).
    let at = [&b"faultline: SIG"[..], b"faultline:\x1b[0m \x1b[1;31mSIG"]
        .iter()
        .filter_map(|header| find(stderr, header))
        .min()
        .unwrap_or_else(|| panic!("no crash report on stderr:\n{}", String::from_utf8_lossy(stderr)));
    let line_start = stderr[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    &stderr[line_start..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every byte sequence that a terminal would act on: C0 controls but the line break, DEL,
/// and C1 controls (U+0080–U+009F, `C2 80`–`C2 9F` in UTF-8). With `colors`, faultline's
/// own `ESC [ digits ; … m` are allowed.
fn terminal_controls(bytes: &[u8], colors: bool) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0x1b && colors {
            let sgr = bytes[i + 1..].starts_with(b"[")
                && bytes[i + 2..]
                    .iter()
                    .position(|&c| c == b'm')
                    .is_some_and(|end| bytes[i + 2..i + 2 + end].iter().all(|c| c.is_ascii_digit() || *c == b';'));
            if sgr {
                i += 2;
                continue;
            }
        }
        let c1 = b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n));
        if (b < 0x20 && b != b'\n') || b == 0x7f || c1 {
            let end = (i + 24).min(bytes.len());
            found.push(format!("{:?}", text(&bytes[i..end])));
        }
        i += 1;
    }
    found
}

/// A1: a multi-byte character or binary junk on stderr before a crash panicked the
/// redactor (exit 101, no report, nothing stored).
#[test]
fn non_ascii_or_binary_stderr_before_a_crash_keeps_the_status_and_the_report() {
    let cases = [
        ("german", r#"print("Größe: 5", file=sys.stderr)"#),
        ("japanese", r#"print("エラー: 失敗", file=sys.stderr)"#),
        ("binary", r#"sys.stderr.buffer.write(bytes(range(256)) + b"\xc3:\xe2=\n"); sys.stderr.flush()"#),
    ];
    for (name, write) in cases {
        let dir = tempfile::tempdir().unwrap();
        let code = format!("import sys, os\n{write}\nos.abort()\n");
        let output = faultline(
            &["run", "--json", "report.json", "--store", "crashes.sqlite3", "--", "python3", "-c", &code],
            dir.path(),
        );
        let stderr = text(&output.stderr);
        assert_eq!(shell_status(&output), 134, "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(stderr.contains("faultline: 1 crash (SIGABRT abort)"), "{name}: {stderr}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
        assert_eq!(report["crashes"][0]["kind"], "abort", "{name}");
        assert!(stderr.contains("stored as run 1"), "{name}: {stderr}");
    }
}

/// The script of the injection test: escape sequences in the script's file name, its
/// function name, both thread names, PYTEST_CURRENT_TEST, a stderr line and the message of
/// `Fatal Python error`; then CPython's fatal error aborts.
const HOSTILE_SCRIPT: &str = r#"
import ctypes, os, sys, threading, time
TITLE = "\x1b]0;PWNED-TITLE\x07"
CLEAR = "\x1b[2J\x1b[H"
CLIP = "\x1b]52;c;aGVsbG8=\x07"
LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
C1 = "\u0085\u009b31m"
threading.current_thread().name = "main" + TITLE
ready = threading.Event()
def idle():
    ready.set()
    time.sleep(60)
threading.Thread(target=idle, name="worker" + CLIP, daemon=True).start()
ready.wait()
os.environ["PYTEST_CURRENT_TEST"] = "tests/test_x.py::test_" + CLIP + " (call)"
print("before the crash " + CLEAR + LINK + C1, file=sys.stderr, flush=True)
def crash():
    ctypes.pythonapi.Py_FatalError(b"boom \x1b]0;FATAL-TITLE\x07 here")
crash.__code__ = crash.__code__.replace(co_name="fn" + TITLE, co_qualname="fn" + TITLE)
crash()
"#;

/// B7: escape sequences from the process reached the terminal raw, even with
/// `--color never`, in `run`, `crashes` and `crashes show`.
#[test]
fn escape_sequences_from_the_process_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let script = "evil\x1b[2J.py";
    std::fs::write(dir.path().join(script), HOSTILE_SCRIPT).unwrap();
    for color in ["never", "always"] {
        let output =
            faultline(&["run", "--color", color, "--store", "crashes.sqlite3", "--", "python3", script], dir.path());
        assert_eq!(shell_status(&output), 134, "{}", text(&output.stderr));
        let report = report_part(&output.stderr);
        let shown = text(report);
        let raw = terminal_controls(report, color == "always");
        assert!(raw.is_empty(), "--color {color}: raw controls {raw:?} in\n{shown}");
        // The text is there, escaped: the thread names, the test, the function and file,
        // the message, the stderr line.
        for escaped in [
            "thread main\\x1b]0;PWNED-TITLE\\x07",
            "worker\\x1b]52;c;aGVsbG8=\\x07",
            "test: tests/test_x.py::test_\\x1b]52;c;aGVsbG8=\\x07",
            "evil\\x1b[2J.py:",
            "in fn\\x1b]0;PWNED-TITLE\\x07",
            "Fatal Python error: boom \\x1b]0;FATAL-TITLE\\x07 here",
            "before the crash \\x1b[2J\\x1b[H\\x1b]8;;https://evil.example/",
            "\\u{85}\\u{9b}31m",
        ] {
            assert!(shown.contains(escaped), "--color {color}: no {escaped:?} in\n{shown}");
        }
    }

    let list = faultline(&["crashes", "--json", "--store", "crashes.sqlite3"], dir.path());
    let groups: serde_json::Value = serde_json::from_slice(&list.stdout).expect("crashes --json");
    let id = groups["groups"][0]["id"].as_str().expect("a group id").to_owned();
    for color in ["never", "always"] {
        for args in [vec!["crashes"], vec!["crashes", "show", id.as_str()]] {
            let mut all = args.clone();
            all.extend(["--color", color, "--store", "crashes.sqlite3"]);
            let output = faultline(&all, dir.path());
            assert_eq!(shell_status(&output), 0, "{args:?}: {}", text(&output.stderr));
            let raw = terminal_controls(&output.stdout, color == "always");
            assert!(raw.is_empty(), "{args:?} --color {color}: raw controls {raw:?} in\n{}", text(&output.stdout));
            assert!(text(&output.stdout).contains("\\x1b]0;FATAL-TITLE\\x07"), "{args:?}: {}", text(&output.stdout));
        }
    }
}

/// The secrets of the redaction test: each shape once, each with its own value so that a
/// failure names the shape that leaked.
const SHAPES: [(&str, &str, &str); 8] = [
    ("JSON", r#"{"password": "S3cretJson"}"#, "S3cretJson"),
    ("Python repr", "{'password': 'S3cretRepr'}", "S3cretRepr"),
    ("spaces around =", "token = S3cretSpaced", "S3cretSpaced"),
    ("Authorization: Bearer", "Authorization: Bearer S3cretBearer1", "S3cretBearer1"),
    ("Authorization: Basic", "Authorization: Basic S3cretBasic", "S3cretBasic"),
    ("URL credentials", "fetching https://bob:S3cretUrl@example.com/x", "S3cretUrl"),
    ("environment style", "API_TOKEN=S3cretEnv", "S3cretEnv"),
    ("non-ASCII around", "Größe: 5 パスワード password=S3cretUnicode 失敗", "S3cretUnicode"),
];

/// Shapes in the command line: `-pSECRET` of mysql, an option's value, a URL.
const ARGV_SECRETS: [(&str, &str); 3] =
    [("mysql -pSECRET", "S3cretArgvP"), ("--api-key VALUE", "S3cretArgvOpt"), ("URL in argv", "S3cretArgvUrl")];

/// Runs a process that prints every shape on stderr, carries the argv shapes, names a
/// thread after a secret, and dies of `Fatal Python error` with a secret in the message.
fn run_leaky(dir: &Path, extra: &[&str]) -> Output {
    let prints: String = SHAPES.iter().map(|(_, line, _)| format!("print({line:?}, file=sys.stderr)\n")).collect();
    let script = format!(
        "import ctypes, sys, threading\n\
         threading.current_thread().name = 'token=S3cretThread'\n\
         {prints}sys.stderr.flush()\n\
         ctypes.pythonapi.Py_FatalError(b'cannot connect: password=S3cretFatal')\n"
    );
    std::fs::write(dir.join("leaky.py"), script).unwrap();
    let mut args = vec!["run", "--json", "report.json", "--junit", "junit.xml", "--store", "crashes.sqlite3"];
    args.extend_from_slice(extra);
    // `sh -c` passes the words after it on to the script: the crashed process's argv holds
    // them, and so does the report's command.
    args.extend([
        "--",
        "sh",
        "-c",
        "exec python3 leaky.py \"$0\" \"$@\"",
        "mysql",
        "-u",
        "root",
        "-pS3cretArgvP",
        "--api-key",
        "S3cretArgvOpt",
        "https://ci:S3cretArgvUrl@db.example/x",
    ]);
    faultline(&args, dir)
}

/// Every output of one run: name, bytes.
fn outputs_of(dir: &Path, run: &Output) -> Vec<(String, Vec<u8>)> {
    let html = faultline(&["report", "--html", "report.html", "--store", "crashes.sqlite3"], dir);
    assert_eq!(shell_status(&html), 0, "{}", text(&html.stderr));
    let list = faultline(&["crashes", "--json", "--store", "crashes.sqlite3"], dir);
    let groups: serde_json::Value = serde_json::from_slice(&list.stdout).expect("crashes --json");
    let id = groups["groups"][0]["id"].as_str().expect("a group id").to_owned();
    let show = faultline(&["crashes", "show", &id, "--store", "crashes.sqlite3"], dir);
    let mut outputs = vec![
        ("terminal report".to_owned(), report_part(&run.stderr).to_vec()),
        ("crashes show".to_owned(), show.stdout),
        ("crashes".to_owned(), faultline(&["crashes", "--store", "crashes.sqlite3"], dir).stdout),
    ];
    for file in ["report.json", "junit.xml", "report.html"] {
        outputs.push((file.to_owned(), std::fs::read(dir.join(file)).unwrap()));
    }
    // The store: the database and its write-ahead log, as bytes on disk.
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("crashes.sqlite3")) {
            outputs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    outputs
}

fn all_secrets() -> Vec<(&'static str, &'static str)> {
    let mut secrets: Vec<(&str, &str)> = SHAPES.iter().map(|(shape, _, secret)| (*shape, *secret)).collect();
    secrets.extend(ARGV_SECRETS);
    secrets.push(("thread name", "S3cretThread"));
    secrets.push(("Fatal Python error message", "S3cretFatal"));
    secrets
}

/// B8: secrets in common shapes stayed in clear in the terminal, JSON, HTML and the store.
#[test]
fn secrets_in_common_shapes_are_hidden_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_leaky(dir.path(), &[]);
    assert_eq!(shell_status(&run), 134, "{}", text(&run.stderr));
    let outputs = outputs_of(dir.path(), &run);
    let mut leaks = Vec::new();
    for (shape, secret) in all_secrets() {
        for (output, bytes) in &outputs {
            if find(bytes, secret.as_bytes()).is_some() {
                leaks.push(format!("{shape} ({secret}) in {output}"));
            }
        }
    }
    assert!(leaks.is_empty(), "leaked:\n{}\n\nterminal report:\n{}", leaks.join("\n"), text(&outputs[0].1));
    // The names and the text around them stay, so that the report still reads.
    let json = text(&outputs.iter().find(|(name, _)| name == "report.json").unwrap().1);
    for kept in [
        r#"{\"password\": \"[redacted]\"}"#,
        "token = [redacted]",
        "Authorization: Bearer [redacted]",
        "Authorization: Basic [redacted]",
        "https://bob:[redacted]@example.com/x",
        "-p[redacted]",
        "Größe: 5 パスワード password=[redacted] 失敗",
    ] {
        assert!(json.contains(kept), "no {kept:?} in the JSON report:\n{json}");
    }
}

/// `--no-redact` keeps every secret, for people debugging their own machine.
#[test]
fn no_redact_keeps_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_leaky(dir.path(), &["--no-redact"]);
    assert_eq!(shell_status(&run), 134, "{}", text(&run.stderr));
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    for (shape, secret) in all_secrets() {
        assert!(json.contains(secret), "{shape}: {secret} not kept with --no-redact");
    }
}

/// B8: `--store 'postgres://…'` with a password, in the userinfo or as a parameter, was
/// printed in clear by `run` and `crashes`.
#[test]
fn a_store_url_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 refuses at once: the store cannot be reached and faultline says where it tried.
    for url in [
        "postgres://ci:S3cretUserinfo@127.0.0.1:1/crashes?connect_timeout=2",
        "postgresql://127.0.0.1:1/crashes?connect_timeout=2&password=S3cretParam",
    ] {
        let run = faultline(&["run", "--store", url, "--", "sh", "-c", "exit 3"], dir.path());
        assert_eq!(shell_status(&run), 3, "{}", text(&run.stderr));
        let crashes = faultline(&["crashes", "--store", url], dir.path());
        assert_ne!(shell_status(&crashes), 0);
        for (what, output) in [("run", &run), ("crashes", &crashes)] {
            let shown = text(&output.stderr) + &text(&output.stdout);
            assert!(shown.contains("127.0.0.1:1"), "{what} does not name the store: {shown}");
            assert!(!shown.contains("S3cret"), "{what} printed the password: {shown}");
            assert!(shown.contains("[redacted]"), "{what}: {shown}");
        }
    }
}
