//! The Python package (issue 10): the wheel built from this checkout by
//! scripts/build-wheel.sh (its path in FAULTLINE_TEST_WHEEL; scripts/test.sh builds it
//! first), installed with pip into fresh virtualenvs, used the way a Python developer would.
//! Every command below runs with a bare environment whose PATH is the venv's bin folder and
//! the system's, so no cargo and no target/ folder can stand in for what the wheel brought.

mod common;

use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

const SYSTEM_PATH: &str = "/usr/bin:/bin";

/// The wheel under test. Missing is a failure, not a skip: the suite must not pass by
/// testing nothing.
fn wheel() -> PathBuf {
    let path = std::env::var_os("FAULTLINE_TEST_WHEEL").map(PathBuf::from).unwrap_or_else(|| {
        panic!("FAULTLINE_TEST_WHEEL is not set: build the wheel first, FAULTLINE_TEST_WHEEL=$(scripts/build-wheel.sh)")
    });
    assert!(path.is_file(), "FAULTLINE_TEST_WHEEL={} is not a file", path.display());
    path
}

/// A virtualenv in the temp folder, removed when the test process exits.
struct Venv {
    dir: PathBuf,
}

impl Venv {
    fn create(name: &str) -> Venv {
        let dir = std::env::temp_dir().join(format!("faultline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        remove_at_exit(&dir);
        // The base interpreter is the one the tests run (CPython 3.11 on CI).
        let out = Command::new("python3").args(["-m", "venv"]).arg(&dir).output().expect("run python3 -m venv");
        assert!(out.status.success(), "python3 -m venv failed: {}", String::from_utf8_lossy(&out.stderr));
        Venv { dir }
    }

    fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    fn python(&self) -> PathBuf {
        self.bin().join("python")
    }

    /// `program` (looked up on the bare PATH) with a bare environment.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", format!("{}:{SYSTEM_PATH}", self.bin().display()))
            .env("HOME", std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .env("LANG", "C.UTF-8")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_CACHE_DIR", "1")
            .stdin(Stdio::null());
        command
    }

    fn pip(&self, args: &[&str]) {
        let out = self.command(self.python()).args(["-m", "pip", "--quiet"]).args(args).output().expect("run pip");
        assert!(out.status.success(), "pip {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Every file of the venv, relative, without Python's bytecode caches.
    fn files(&self) -> Vec<String> {
        let mut files = Vec::new();
        list_files(&self.dir, &self.dir, &mut files);
        files.sort();
        files
    }
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read venv dir") {
        let entry = entry.expect("dir entry");
        let path = entry.path();
        if entry.file_name() == "__pycache__" {
            continue;
        }
        if entry.file_type().expect("file type").is_dir() {
            list_files(root, &path, out);
        } else {
            out.push(path.strip_prefix(root).expect("under the venv").display().to_string());
        }
    }
}

static TO_REMOVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The test harness ends with exit(), which runs atexit handlers but drops no static.
fn remove_at_exit(dir: &Path) {
    extern "C" fn remove_all() {
        if let Ok(dirs) = TO_REMOVE.lock() {
            for dir in dirs.iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
    let mut dirs = TO_REMOVE.lock().unwrap();
    if dirs.is_empty() {
        // SAFETY: registers a plain function with no captured state.
        unsafe { libc::atexit(remove_all) };
    }
    dirs.push(dir.to_owned());
}

/// One venv for the tests that only use it: the wheel, pytest and pytest-xdist.
fn venv() -> &'static Venv {
    static VENV: OnceLock<Venv> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = Venv::create("wheel-venv");
        venv.pip(&["install", wheel().to_str().unwrap(), "pytest>=8", "pytest-xdist>=3"]);
        venv
    })
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn report_at(path: &Path, out: &Output) -> Value {
    common::read_report(path, out)
}

fn only_crash(report: &Value) -> &Value {
    let crashes = report["crashes"].as_array().expect("crashes is a list");
    assert_eq!(crashes.len(), 1, "{crashes:#?}");
    &crashes[0]
}

/// The case's folder, built, as a pytest project: the case's pytest.ini replaced by a
/// pyproject.toml with the same setting, plus `extra`.
fn as_pyproject(work: &Path, extra: &str) {
    std::fs::remove_file(work.join("pytest.ini")).expect("remove pytest.ini");
    let text = format!("[tool.pytest.ini_options]\npythonpath = [\".\"]\n{extra}");
    std::fs::write(work.join("pyproject.toml"), text).expect("write pyproject.toml");
}

/// Lines of pytest's output, with what differs between any two runs (durations, thread
/// addresses) masked.
fn masked_lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|line| {
            let words: Vec<String> =
                line.split(' ').map(|w| if w.starts_with("0x") { "0x…".to_owned() } else { w.to_owned() }).collect();
            let line = words.join(" ");
            match line.rfind(" in ") {
                Some(at) if line.ends_with('s') && line[at + 4..].trim_end_matches('s').parse::<f64>().is_ok() => {
                    line[..at].to_owned()
                }
                _ => line,
            }
        })
        .collect()
}

/// glibc's own libraries, which manylinux2014 lets a wheel link without bundling them.
const MANYLINUX_LIBS: [&str; 7] =
    ["libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "ld-linux-x86-64.so.2", "libgcc_s.so.1"];

/// What maturin's auditwheel check claimed, checked again on the wheel's binary: the
/// manylinux2014 tag, only glibc's libraries and symbols no newer than glibc 2.17, and
/// nothing bundled beside the binary.
#[test]
fn the_wheel_is_manylinux2014_and_bundles_nothing() {
    let wheel = wheel();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"), "{name}");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let mut files = Vec::new();
    list_files(dir.path(), dir.path(), &mut files);
    let bundled: Vec<&String> = files.iter().filter(|f| f.contains(".so") || f.contains(".libs/")).collect();
    assert!(bundled.is_empty(), "libraries bundled in the wheel: {bundled:?}");
    let binary = files.iter().find(|f| f.ends_with(".data/scripts/faultline")).expect("the binary in the wheel");

    let out =
        Command::new("readelf").args(["--dynamic", "--version-info"]).arg(dir.path().join(binary)).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.strip_suffix(']'))
        .collect();
    assert!(!needed.is_empty() && needed.iter().all(|lib| MANYLINUX_LIBS.contains(lib)), "NEEDED: {needed:?}");
    let newest = text
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| v.split('.').map(|n| n.parse::<u32>().ok()).collect::<Option<Vec<u32>>>())
        .max()
        .expect("versioned glibc symbols");
    assert!(newest <= vec![2, 17], "needs glibc {newest:?}");
}

#[test]
fn the_venv_has_faultline_on_path_and_no_cargo() {
    let venv = venv();
    let out =
        venv.command("sh").args(["-c", "command -v faultline; command -v cargo || echo no-cargo"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, [venv.bin().join("faultline").to_str().unwrap(), "no-cargo"], "{}", show(&out));
    let out = venv.command("faultline").arg("--version").output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("faultline {}", env!("CARGO_PKG_VERSION")));
}

/// `python -m faultline` is the binary itself: same report, and the status is the binary's
/// (it dies of the command's signal).
#[test]
fn python_m_faultline_runs_a_crashing_case() {
    let venv = venv();
    let (dir, work) = common::prepare_case("ctypes-null");
    let report = dir.path().join("report.json");
    let out = venv
        .command(venv.python())
        .args(["-m", "faultline", "run", "--no-store", "--json", report.to_str().unwrap(), "--", "./run.sh"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{}", show(&out));
    let report = report_at(&report, &out);
    assert_eq!(report["outcome"], "crashed");
    assert_eq!(report["exit"]["code"], 139);
    let crash = only_crash(&report);
    assert_eq!(crash["kind"], "null-deref");
    assert_eq!(crash["python"]["function"], "string_at");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("faultline: SIGSEGV (null-deref) in string_at"),
        "{}",
        show(&out)
    );
}

/// `pytest --faultline`: the same pytest output as without it, then faultline's report with
/// the crashing test; status 139 as a shell sees it.
#[test]
fn pytest_faultline_reports_the_crashing_test() {
    let venv = venv();
    let (dir, work) = common::prepare_case("pytest-crash-in-suite");
    let expected = toml_of(&work)["test_nodeid"].as_str().unwrap().to_owned();
    let pytest = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"];
    let bare = venv.command(venv.python()).args(pytest).current_dir(&work).output().unwrap();
    assert_eq!(common::shell_status(&bare.status), 139, "the case without faultline: {}", show(&bare));

    let report = dir.path().join("report.json");
    let args = format!("--faultline-args=--no-store --json {}", report.display());
    let out =
        venv.command(venv.python()).args(pytest).args(["--faultline", &args]).current_dir(&work).output().unwrap();
    assert_eq!(common::shell_status(&out.status), 139, "{}", show(&out));
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{}", show(&out));
    let crash = only_crash(&report_at(&report, &out)).clone();
    assert_eq!(crash["test"]["nodeid"], expected.as_str(), "{crash:#?}");
    assert_eq!(crash["process"], "main", "pytest is faultline's command itself: {crash:#?}");
    // The wheel's plugin and the one faultline brings are the same channel, active once: each
    // test that passed before the crash (a `.` of pytest -q) is counted once.
    let dots = String::from_utf8_lossy(&bare.stdout).lines().next().unwrap_or_default().matches('.').count();
    assert_eq!(crash["pytest"]["channel"], true, "{crash:#?}");
    assert_eq!(crash["pytest"]["passed_before"], dots as u64, "{crash:#?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("faultline: SIGSEGV (null-deref) in bbox"), "{}", show(&out));
    // pytest's output is what it is without faultline; faultline's report follows on stderr.
    assert_eq!(masked_lines(&out.stdout), masked_lines(&bare.stdout), "pytest's stdout changed");
    let (bare_stderr, stderr_lines) = (masked_lines(&bare.stderr), masked_lines(&out.stderr));
    assert!(bare_stderr.iter().any(|l| l.starts_with("Fatal Python error")), "{}", show(&bare));
    assert!(stderr_lines.len() > bare_stderr.len(), "{}", show(&out));
    assert_eq!(stderr_lines[..bare_stderr.len()], bare_stderr[..], "pytest's stderr changed: {}", show(&out));
    assert!(stderr_lines[bare_stderr.len()].starts_with("faultline: SIGSEGV"), "{}", show(&out));
}

/// `addopts = "--faultline"`: the project's unchanged pytest command (the console script
/// here) is supervised, with faultline's settings from `[tool.faultline]`.
#[test]
fn addopts_in_pyproject_supervises_the_unchanged_command() {
    let venv = venv();
    let (dir, work) = common::prepare_case("pytest-crash-in-suite");
    let expected = toml_of(&work)["test_nodeid"].as_str().unwrap().to_owned();
    as_pyproject(&work, "addopts = \"--faultline\"\n\n[tool.faultline]\njson = \"report.json\"\nstore = \"none\"\n");
    let out =
        venv.command("pytest").args(["-q", "-p", "no:cacheprovider", "tests"]).current_dir(&work).output().unwrap();
    assert_eq!(common::shell_status(&out.status), 139, "{}", show(&out));
    let crash = only_crash(&report_at(&work.join("report.json"), &out)).clone();
    assert_eq!(crash["test"]["nodeid"], expected.as_str(), "{crash:#?}");
    drop(dir);
}

/// Already under `faultline run`, the plugin does nothing: pytest stays the supervisor's own
/// command (the crash is in the root process; nested, it would be a child of a second
/// faultline, which would also say so).
#[test]
fn pytest_faultline_under_faultline_run_does_not_nest() {
    let venv = venv();
    let (dir, work) = common::prepare_case("pytest-crash-in-suite");
    let report = dir.path().join("report.json");
    let out = venv
        .command("faultline")
        .args(["run", "--no-store", "--json", report.to_str().unwrap(), "--"])
        .args(["python", "-m", "pytest", "--faultline", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(common::shell_status(&out.status), 139, "{}", show(&out));
    let crash = only_crash(&report_at(&report, &out)).clone();
    assert_eq!(crash["process"], "main", "{crash:#?}");
    assert!(crash["test"]["nodeid"].is_string(), "{crash:#?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("already under faultline"), "{}", show(&out));
    assert_eq!(stderr.matches("faultline: 1 crash").count(), 1, "{}", show(&out));
}

/// pytest-xdist: the controller is re-executed; the crashing worker is its child, traced,
/// and the status is xdist's own (it replaces the worker and fails the test).
#[test]
fn pytest_faultline_with_xdist_reports_the_workers_crash() {
    let venv = venv();
    let (dir, work) = common::prepare_case("xdist-worker-crash");
    let expected = toml_of(&work);
    let report = dir.path().join("report.json");
    let args = format!("--faultline-args=--no-store --json {}", report.display());
    let out = venv
        .command(venv.python())
        .args(["-m", "pytest", "--faultline", &args, "-q", "-p", "no:cacheprovider", "-n", "2", "tests"])
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(common::shell_status(&out.status), 1, "{}", show(&out));
    let crash = only_crash(&report_at(&report, &out)).clone();
    assert_eq!(crash["test"]["nodeid"], expected["test_nodeid"].as_str().unwrap(), "{crash:#?}");
    assert_eq!(crash["process"], "child", "{crash:#?}");
    assert_eq!(crash["signal"], "SIGSEGV");
}

/// FAULTLINE=1 turns the plugin on without the option; FAULTLINE=0 turns it off with it.
#[test]
fn the_faultline_variable_turns_the_plugin_on_and_off() {
    let venv = venv();
    let (_dir, work) = common::prepare_case("pytest-crash-in-suite");
    let passing = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_basic.py"];
    let on = venv.command(venv.python()).args(passing).env("FAULTLINE", "1").current_dir(&work).output().unwrap();
    assert_eq!(on.status.code(), Some(0), "{}", show(&on));
    assert!(String::from_utf8_lossy(&on.stderr).contains("faultline: no crash · exit 0"), "{}", show(&on));
    let off = venv
        .command(venv.python())
        .args(passing)
        .arg("--faultline")
        .env("FAULTLINE", "0")
        .current_dir(&work)
        .output()
        .unwrap();
    assert_eq!(off.status.code(), Some(0), "{}", show(&off));
    assert!(!String::from_utf8_lossy(&off.stderr).contains("faultline"), "{}", show(&off));
}

/// pytest.main() inside another program cannot be re-executed: one line, and the tests run.
#[test]
fn pytest_main_in_process_runs_unsupervised_with_one_line() {
    let venv = venv();
    let (_dir, work) = common::prepare_case("pytest-crash-in-suite");
    let program = "import sys, pytest\nsys.exit(pytest.main(['--faultline', '-q', '-p', 'no:cacheprovider', 'tests/test_basic.py']))";
    let out = venv.command(venv.python()).args(["-c", program]).current_dir(&work).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("faultline")).collect();
    assert_eq!(lines.len(), 1, "{}", show(&out));
    assert!(lines[0].starts_with("faultline: pytest was started in-process"), "{}", show(&out));
}

/// Where ptrace is refused (a container without CAP_SYS_PTRACE), `faultline run` says so
/// once and the tests run with their status.
#[test]
fn pytest_faultline_where_ptrace_is_refused_runs_the_tests() {
    use std::os::unix::process::CommandExt;
    let venv = venv();
    let (_dir, work) = common::prepare_case("pytest-crash-in-suite");
    let mut command = venv.command(venv.python());
    command.args(["-m", "pytest", "--faultline", "-q", "-p", "no:cacheprovider", "tests"]).current_dir(&work);
    // SAFETY: seccomp_on_ptrace only calls prctl, which is async-signal-safe.
    unsafe { command.pre_exec(|| common::seccomp_on_ptrace(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32)) };
    let out = command.output().unwrap();
    assert_eq!(common::shell_status(&out.status), 139, "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("ptrace is not permitted here").count(), 1, "{}", show(&out));
}

/// pip installs the binary and the package, and uninstalls every file it installed; without
/// its binary, `python -m faultline` says what to do.
#[test]
fn pip_uninstall_leaves_nothing_behind() {
    let venv = Venv::create("wheel-uninstall");
    let before = venv.files();
    venv.pip(&["install", "--no-index", wheel().to_str().unwrap()]);
    let installed = venv.files();
    let added: Vec<&String> = installed.iter().filter(|f| !before.contains(f)).collect();
    assert!(added.iter().any(|f| *f == "bin/faultline"), "{added:#?}");
    for file in ["faultline/__main__.py", "faultline/pytest_plugin.py"] {
        assert!(added.iter().any(|f| f.ends_with(&format!("site-packages/{file}"))), "{file} not in {added:#?}");
    }

    let binary = venv.bin().join("faultline");
    let aside = venv.dir.join("faultline.aside");
    std::fs::rename(&binary, &aside).unwrap();
    let out = venv.command(venv.python()).args(["-m", "faultline", "--version"]).output().unwrap();
    std::fs::rename(&aside, &binary).unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("faultline: the faultline binary of this package is missing"), "{stderr}");
    assert!(stderr.contains("pip install --force-reinstall faultline"), "{stderr}");

    venv.pip(&["uninstall", "--yes", "faultline"]);
    assert_eq!(venv.files(), before, "files left behind or removed by pip uninstall");
}

fn toml_of(work: &Path) -> toml::Table {
    std::fs::read_to_string(work.join("case.toml")).unwrap().parse().unwrap()
}
