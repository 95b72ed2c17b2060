//! Helpers shared by the integration tests: locating the corpus, building a case in a
//! scratch folder, running the real faultline binary on it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("FAULTLINE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/crash-corpus"),
    }
}

pub struct CaseRun {
    pub name: String,
    pub expected: toml::Table,
    pub report: Value,
    pub status: i32,
    pub stderr: String,
    pub stdout: String,
    pub dir: tempfile::TempDir,
}

/// Copies a corpus case to a scratch folder, builds it and runs it under faultline with the
/// case's `faultline_args`. Panics with a clear message when the corpus is missing: the
/// tests must not pass by finding nothing.
pub fn run_case(name: &str) -> Option<CaseRun> {
    let source = corpus_dir().join(name);
    assert!(
        source.join("case.toml").is_file(),
        "corpus case {} not found (set FAULTLINE_CORPUS to the crash-corpus folder)",
        source.display()
    );
    let expected: toml::Table =
        std::fs::read_to_string(source.join("case.toml")).expect("read case.toml").parse().expect("parse case.toml");
    let (dir, work) = prepare_case(name);
    let report_path = dir.path().join("report.json");
    let mut args: Vec<String> = vec!["run".into(), "--json".into(), report_path.display().to_string()];
    if let Some(extra) = expected.get("faultline_args").and_then(|v| v.as_array()) {
        args.extend(extra.iter().filter_map(|v| v.as_str().map(str::to_owned)));
    }
    args.push("--".into());
    args.push("./run.sh".into());
    let output = Command::new(FAULTLINE).args(&args).current_dir(&work).output().expect("run faultline");
    let report = read_report(&report_path, &output);
    Some(CaseRun {
        name: name.to_owned(),
        expected,
        report,
        status: shell_status(&output.status),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        dir,
    })
}

/// Copies a corpus case to a scratch folder and builds it there; returns the scratch folder
/// and the case's folder inside it.
pub fn prepare_case(name: &str) -> (tempfile::TempDir, PathBuf) {
    let source = corpus_dir().join(name);
    assert!(
        source.join("build.sh").is_file(),
        "corpus case {} not found (set FAULTLINE_CORPUS to the crash-corpus folder)",
        source.display()
    );
    let dir = tempfile::tempdir().expect("scratch dir");
    let work = dir.path().join(name);
    copy_dir(&source, &work);
    rebuild_case(&work);
    (dir, work)
}

/// Runs a prepared case's `build.sh` (again), after changes the caller made to the case.
pub fn rebuild_case(work: &Path) {
    let build = output_when_not_busy(Command::new("./build.sh").current_dir(work)).expect("run build.sh");
    assert!(build.status.success(), "{}: build failed: {}", work.display(), String::from_utf8_lossy(&build.stderr));
}

/// `Command::output`, retried while exec fails with ETXTBSY. The test threads copy scripts
/// and fork at the same time: a child forked by another thread holds the write descriptor of
/// a script just copied until that child execs, and exec of the script fails meanwhile.
pub fn output_when_not_busy(command: &mut Command) -> std::io::Result<Output> {
    let mut tries = 0;
    loop {
        match command.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

pub fn read_report(path: &Path, output: &Output) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("no report at {}: {e}; faultline stderr:\n{}", path.display(), String::from_utf8_lossy(&output.stderr))
    });
    serde_json::from_str(&text).expect("report is JSON")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read case dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        let skip = name.to_string_lossy();
        if skip.ends_with(".so") || skip == "__pycache__" || skip.starts_with("core") {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy file");
        }
    }
}

/// Writes `code` to `dir/source` and builds it with `compiler` (`gcc`, `g++`) and `flags`
/// into `dir/output`; returns the output's path. The test fails with the compiler's words.
pub fn compile(dir: &Path, compiler: &str, flags: &[&str], source: &str, code: &str, output: &str) -> PathBuf {
    let source = dir.join(source);
    std::fs::write(&source, code).expect("write the source");
    let built = dir.join(output);
    let result = Command::new(compiler)
        .args(flags)
        .arg(&source)
        .arg("-o")
        .arg(&built)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(result.status.success(), "{compiler}: {}", String::from_utf8_lossy(&result.stderr));
    built
}

/// Runs faultline with `args` in `cwd`, writing the report to a temp file; returns
/// (exit status, stderr, report).
pub fn faultline(args: &[&str], cwd: &Path) -> (i32, String, Option<Value>) {
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let report_path = report.path().to_owned();
    let mut all = vec!["run", "--json", report_path.to_str().expect("utf-8 temp path"), "--"];
    all.extend_from_slice(args);
    let output = Command::new(FAULTLINE).args(&all).current_dir(cwd).output().expect("run faultline");
    let json = std::fs::read_to_string(&report_path).ok().and_then(|t| serde_json::from_str(&t).ok());
    (shell_status(&output.status), String::from_utf8_lossy(&output.stderr).into_owned(), json)
}

/// A status as a shell shows it: the exit code, or 128 + the signal faultline died of (it
/// dies of the signal that killed the command).
pub fn shell_status(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Installs a seccomp filter that answers every ptrace call with `action`:
/// `SECCOMP_RET_ERRNO | EPERM` as in a container without CAP_SYS_PTRACE,
/// `SECCOMP_RET_KILL_PROCESS` as systemd's `SystemCallFilter=~ptrace`. For `pre_exec`.
pub fn seccomp_on_ptrace(action: u32) -> std::io::Result<()> {
    const SECCOMP_DATA_NR: u32 = 0;
    let filter = [
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: SECCOMP_DATA_NR,
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: libc::SYS_ptrace as u32,
        },
        libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: action },
        libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: libc::SECCOMP_RET_ALLOW },
    ];
    let program = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
    // SAFETY: installing a filter on this (pre-exec) child only.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &program as *const _ as usize) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Asserts that `report` matches `../shared/report-schema.json`, validated with Python's
/// `jsonschema` (installed by scripts/test.sh from scripts/test-requirements.txt), the
/// reference implementation of JSON Schema.
pub fn assert_matches_report_schema(report: &Value) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/report-schema.json");
    assert!(schema.is_file(), "{} is missing", schema.display());
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    std::fs::write(&report_path, serde_json::to_vec(report).unwrap()).unwrap();
    let check = "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))\n";
    let out = Command::new("python3")
        .args(["-c", check, schema.to_str().unwrap(), report_path.to_str().unwrap()])
        .output()
        .expect("run python3");
    assert!(out.status.success(), "report does not match the schema:\n{}", String::from_utf8_lossy(&out.stderr));
}
