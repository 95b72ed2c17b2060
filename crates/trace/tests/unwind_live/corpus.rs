//! The crash corpus (`../shared/crash-corpus`, or `$FAULTLINE_CORPUS`): real Python programs
//! with C extensions. Each single-process crash must show its `native_function` near the
//! top of the crashing thread's stack, and frame 0 in `native_module`. Skipped when the
//! corpus is not there.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tracee::run_command_until_crash;
use super::{names, unwind};
use faultline_unwind::NativeStacks;

/// Crashes in the root process, deterministic. (Child-process and flaky cases need the
/// supervisor's fork handling; they are the trace module's to test.)
const CASES: &[&str] = &[
    "cext-null-deref",
    "ctypes-null",
    "c-assert",
    "c-stack-overflow",
    "double-free",
    "fpe",
    "thread-crash",
    "use-after-reinit",
    "pytest-crash-in-suite",
    "shutdown-static-dtor",
    "shutdown-static-dtor-abort",
];

/// How deep into the stack `native_function` may be ("near the top").
const TOP_FRAMES: usize = 40;

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("FAULTLINE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crash-corpus"),
    };
    dir.is_dir().then_some(dir)
}

/// `key = "value"  # comment` → value.
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, rest) = line.split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let rest = rest.trim().strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_string())
    })
}

fn command_of(run_sh: &str) -> Vec<String> {
    run_sh
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("exec "))
        .map(|c| c.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

#[test]
fn corpus_crashes_show_their_native_function() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("crash corpus not found; skipped");
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let mut stacks = NativeStacks::new();
    let mut failures = Vec::new();
    // `FAULTLINE_CORPUS_CASES=a,b` runs only those cases.
    let only = std::env::var("FAULTLINE_CORPUS_CASES").ok();
    let selected = CASES.iter().filter(|c| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == **c)));
    for case in selected {
        let dir = work.path().join(case);
        let copied = Command::new("cp").arg("-r").arg(corpus.join(case)).arg(&dir).status();
        assert!(copied.is_ok_and(|s| s.success()), "copying {case}");
        let built = Command::new("sh").arg("build.sh").current_dir(&dir).output().expect("build.sh");
        assert!(built.status.success(), "{case}: {}", String::from_utf8_lossy(&built.stderr));
        let toml = std::fs::read_to_string(dir.join("case.toml")).expect("case.toml");
        let command = command_of(&std::fs::read_to_string(dir.join("run.sh")).expect("run.sh"));
        let (Some(program), Some(function), Some(module)) =
            (command.first(), toml_string(&toml, "native_function"), toml_string(&toml, "native_module"))
        else {
            panic!("{case}: no command, native_function or native_module");
        };
        let mut traced = Command::new(program);
        traced.args(&command[1..]).current_dir(&dir);
        let crashed = run_command_until_crash(traced);
        let unwound = unwind(&mut stacks, &crashed, 4096);
        drop(crashed);
        let top = &unwound.normalized[..unwound.normalized.len().min(TOP_FRAMES)];
        let started = std::time::Instant::now();
        let frames = stacks.symbolize(top);
        let symbolized = started.elapsed();
        eprintln!(
            "{case}: {} pcs, unwind cold {:?}, warm {:?}, symbolize {:?}; top: {:?}",
            unwound.pcs.len(),
            unwound.cold,
            unwound.warm,
            symbolized,
            frames[..frames.len().min(8)]
                .iter()
                .map(|f| format!("{} ({})", f.function.as_deref().unwrap_or("?"), f.module.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
        );
        if std::env::var_os("FAULTLINE_CORPUS_DEBUG").is_some() {
            eprintln!("{frames:#?}");
        }
        let found = frames[..frames.len().min(TOP_FRAMES)]
            .iter()
            .any(|f| f.function.as_deref().is_some_and(|name| name.contains(&function)));
        if !found {
            failures.push(format!("{case}: no {function} in {:?}", names(&frames)));
        }
        if !frames[0].module.as_deref().is_some_and(|m| m.starts_with(&module)) {
            failures.push(format!("{case}: frame 0 is in {:?}, not {module}", frames[0].module));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
