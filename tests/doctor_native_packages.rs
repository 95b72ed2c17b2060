//! `faultline doctor` on real native packages in virtualenvs the tests build: a clean install
//! of PySide6, numpy and lxml gives no extension warning (Qt's plugins load inside a process
//! that already has Qt), while a module that cannot import is still named. What doctor says
//! is checked against what Python and the dynamic loader really do with the same files.
//!
//! The PyPI venv is built once under the clone's `target/tmp` (about 30 s and 400 MB, kept
//! for the next run); the hand-built packages live in temp dirs.

mod common;

use common::FAULTLINE;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What the issue measured (issue 9, D13), pinned so that the test means the same thing on
/// every machine.
const QT_NUMPY_LXML: &[&str] = &["PySide6-Essentials==6.12.0", "numpy==2.4.6", "lxml==6.1.3"];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn succeeded(command: &mut Command) -> Output {
    let output = run(command);
    assert!(output.status.success(), "{command:?} failed:\n{}{}", text(&output.stdout), text(&output.stderr));
    output
}

/// `python3 -m venv` at `dir`, and its interpreter.
fn make_venv(dir: &Path, with_pip: bool) -> PathBuf {
    let mut command = Command::new("python3");
    command.args(["-m", "venv"]);
    if !with_pip {
        command.arg("--without-pip");
    }
    succeeded(command.arg(dir));
    dir.join("bin/python")
}

/// A venv with `packages` pip-installed, built once under `target/tmp/venvs` and reused while
/// the same interpreter and package list ask for it. Built aside and renamed into place under
/// a lock, so that an interrupted build is never taken for a finished one, nor built twice.
fn cached_venv(name: &str, packages: &[&str]) -> PathBuf {
    let interpreter = succeeded(Command::new("python3").args(["-c", "import sys; print(sys.version)"])).stdout;
    let key = format!("{}\n{}", text(&interpreter).trim(), packages.join("\n"));
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venvs");
    std::fs::create_dir_all(&base).expect("create target/tmp/venvs");
    let lock = std::fs::File::create(base.join(format!("{name}.lock"))).expect("create the lock file");
    // SAFETY: flock on a descriptor this function owns; released when `lock` is dropped.
    assert_eq!(unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) }, 0, "flock");
    let venv = base.join(name);
    if std::fs::read_to_string(venv.join("faultline-test-key")).is_ok_and(|k| k == key) {
        return venv.join("bin/python");
    }
    let building = base.join(format!("{name}.building"));
    let _ = std::fs::remove_dir_all(&building);
    let python = make_venv(&building, true);
    let started = std::time::Instant::now();
    succeeded(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "--no-cache-dir"])
            .args(packages),
    );
    eprintln!("pip installed {packages:?} in {:.1} s", started.elapsed().as_secs_f64());
    std::fs::write(building.join("faultline-test-key"), &key).expect("write the venv key");
    // The venv finds itself through bin/python's folder (pyvenv.cfg), so it may move.
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::rename(&building, &venv).expect("move the venv into place");
    venv.join("bin/python")
}

/// `faultline doctor --python PYTHON --json`, in a scratch folder, with `pythonpath`.
fn doctor(python: &Path, pythonpath: Option<&Path>) -> Value {
    doctor_with(python, |command| {
        if let Some(path) = pythonpath {
            command.env("PYTHONPATH", path);
        }
    })
}

/// [`doctor`], with the command adjusted by `prepare`.
fn doctor_with(python: &Path, prepare: impl FnOnce(&mut Command)) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("doctor.json");
    let mut command = Command::new(FAULTLINE);
    command
        .arg("doctor")
        .arg("--python")
        .arg(python)
        .arg("--json")
        .arg(&json)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONPATH");
    prepare(&mut command);
    let output = run(&mut command);
    let report = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}{}", text(&output.stdout), text(&output.stderr)));
    serde_json::from_str(&report).expect("doctor JSON")
}

/// The extension checks that warn or fail.
fn extension_problems(report: &Value) -> Vec<&Value> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["id"].as_str().is_some_and(|id| id.starts_with("extensions.")) && c["status"] != "ok")
        .collect()
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id}: {report:#}"))
}

fn finding<'a>(report: &'a Value, id: &str) -> &'a str {
    check(report, id)["finding"].as_str().unwrap_or_else(|| panic!("no finding in {id}: {report:#}"))
}

/// The first number in a finding (`160 plugins and libraries …` → 160).
fn leading_number(finding: &str) -> usize {
    finding.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no count in {finding:?}"))
}

fn site_packages(python: &Path) -> PathBuf {
    let out = succeeded(Command::new(python).args(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]));
    PathBuf::from(text(&out.stdout).trim())
}

#[test]
fn a_clean_install_of_pyside6_numpy_and_lxml_gives_no_extension_warning() {
    let python = cached_venv("pyside6-numpy-lxml", QT_NUMPY_LXML);
    // The install works: what doctor must not cry wolf about.
    succeeded(
        Command::new(&python)
            .args(["-c", "import PySide6.QtCore, PySide6.QtGui, PySide6.QtWidgets, PySide6.QtQml, numpy, lxml.etree"]),
    );
    let report = doctor(&python, None);
    let problems = extension_problems(&report);
    assert!(problems.is_empty(), "{} false warnings:\n{problems:#?}", problems.len());
    // It was all looked at: PySide6's modules, and Qt's plugins judged inside PySide6.
    let plugins = finding(&report, "extensions.plugins");
    assert!(leading_number(plugins) >= 100, "Qt's plugins were not examined: {plugins}");
    let examined = finding(&report, "extensions.examined");
    assert!(leading_number(examined) >= 40, "PySide6's, numpy's and lxml's modules were not examined: {examined}");
}

/// Under an X display Qt picks its xcb plugin and aborts when that cannot load (on a machine
/// without libxcb-icccm4, say): the one optional plugin doctor names, in `gui.display`.
/// Whether it loads is asked of Qt itself, with a display that does not exist.
#[test]
fn an_x_display_with_a_qt_whose_xcb_plugin_cannot_load_is_named() {
    let python = cached_venv("pyside6-numpy-lxml", QT_NUMPY_LXML);
    let start = run(Command::new(&python)
        .args(["-c", "from PySide6.QtWidgets import QApplication; QApplication([])"])
        .env("DISPLAY", ":99")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("QT_QPA_PLATFORM"));
    let cannot_load = text(&start.stderr).contains("Could not load the Qt platform plugin \"xcb\"");
    let report = doctor_with(&python, |c| {
        c.env("DISPLAY", ":99").env_remove("WAYLAND_DISPLAY").env_remove("QT_QPA_PLATFORM");
    });
    let gui = check(&report, "gui.display");
    let named = gui["status"] == "warn" && gui["finding"].as_str().unwrap().contains("xcb platform plugin cannot load");
    assert_eq!(named, cannot_load, "Qt said:\n{}\ndoctor said: {gui:#}", text(&start.stderr));
}

#[test]
fn a_real_module_moved_away_from_its_bundled_libraries_is_named() {
    let python = cached_venv("pyside6-numpy-lxml", QT_NUMPY_LXML);
    let stray = tempfile::tempdir().expect("tempdir");
    // PySide6's QtCore finds Qt through RPATH $ORIGIN/Qt/lib: alone on PYTHONPATH it cannot.
    std::fs::copy(site_packages(&python).join("PySide6/QtCore.abi3.so"), stray.path().join("QtCore.abi3.so"))
        .expect("copy QtCore");
    let import = run(Command::new(&python).args(["-c", "import QtCore"]).env("PYTHONPATH", stray.path()));
    assert!(!import.status.success(), "the stray QtCore imported");
    assert!(text(&import.stderr).contains("cannot open shared object file"), "{}", text(&import.stderr));

    let report = doctor(&python, Some(stray.path()));
    let problems = extension_problems(&report);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let problem = problems[0];
    assert_eq!(problem["id"], "extensions.extension-missing-library", "{problem:#}");
    let text = problem["finding"].as_str().unwrap();
    assert!(text.contains("QtCore.abi3.so") && text.contains("libQt6Core.so.6"), "{text}");
}

/// A package shaped like a Qt wheel, built with cc and installed into a fresh venv with its
/// dist-info: `hostpkg/_core` (a real, importable module) loads `hostpkg/lib/libhost.so`;
/// `plugins/platforms/libplug.so` needs `libhost.so` by soname only, as Qt's plugins do;
/// `plugins/sqldrivers/libdriver.so` also needs `libfl_optional.so.1`, absent like the client
/// library of a database nobody here uses.
struct HostPackage {
    _dir: tempfile::TempDir,
    python: PathBuf,
    pkg: PathBuf,
}

/// The C of a module the interpreter really imports, written without Python.h (which a
/// Python without its -dev package lacks): a PyModuleDef laid out by hand for multi-phase
/// init, whose PyInit calls `host()` so that the library is needed and bound.
const MODULE_C: &str = r#"
#include <stddef.h>
typedef struct { ptrdiff_t refcnt; void *type; void *init; ptrdiff_t index; void *copy; } Base;
typedef struct { Base base; const char *name; const char *doc; ptrdiff_t size;
                 void *methods, *slots, *traverse, *clear, *free_; } Def;
void *PyModuleDef_Init(Def *);
int host(void);
static Def def = { {1000000, 0, 0, 0, 0}, "_core", 0, 0, 0, 0, 0, 0, 0 };
void *PyInit__core(void) { host(); return PyModuleDef_Init(&def); }
"#;

fn cc(dir: &Path, args: &[&str]) {
    succeeded(Command::new("cc").args(args).current_dir(dir));
}

fn host_package(host_needs_deep: bool) -> HostPackage {
    let dir = tempfile::tempdir().expect("tempdir");
    let python = make_venv(&dir.path().join("venv"), false);
    let site = site_packages(&python);
    let suffix = text(
        &succeeded(
            Command::new(&python).args(["-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"]),
        )
        .stdout,
    )
    .trim()
    .to_owned();
    let pkg = site.join("hostpkg");
    let (lib, platforms, sql) = (pkg.join("lib"), pkg.join("plugins/platforms"), pkg.join("plugins/sqldrivers"));
    for d in [&lib, &platforms, &sql] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let write = |dir: &Path, name: &str, source: &str| std::fs::write(dir.join(name), source).expect("write C");
    write(&lib, "deep.c", "int deep(void) { return 1; }\n");
    write(&lib, "optional.c", "int optional(void) { return 1; }\n");
    cc(&lib, &["-shared", "-fPIC", "-Wl,-soname,libfl_deep.so.1", "-o", "libfl_deep.so.1", "deep.c"]);
    cc(&lib, &["-shared", "-fPIC", "-Wl,-soname,libfl_optional.so.1", "-o", "libfl_optional.so.1", "optional.c"]);
    if host_needs_deep {
        write(&lib, "host.c", "int deep(void);\nint host(void) { return deep(); }\n");
        cc(
            &lib,
            &[
                "-shared",
                "-fPIC",
                "-Wl,-soname,libhost.so",
                "-Wl,-rpath,$ORIGIN",
                "-o",
                "libhost.so",
                "host.c",
                "-L.",
                "-l:libfl_deep.so.1",
            ],
        );
    } else {
        write(&lib, "host.c", "int host(void) { return 1; }\n");
        cc(&lib, &["-shared", "-fPIC", "-Wl,-soname,libhost.so", "-o", "libhost.so", "host.c"]);
    }
    write(&pkg, "core.c", MODULE_C);
    let module = format!("_core{suffix}");
    cc(&pkg, &["-shared", "-fPIC", "-Wl,-rpath,$ORIGIN/lib", "-o", &module, "core.c", "-Llib", "-lhost"]);
    write(&platforms, "plug.c", "int host(void);\nint plug(void) { return host(); }\n");
    cc(&platforms, &["-shared", "-fPIC", "-o", "libplug.so", "plug.c", "-L../../lib", "-lhost"]);
    write(&sql, "driver.c", "int host(void); int optional(void);\nint driver(void) { return host() + optional(); }\n");
    cc(
        &sql,
        &["-shared", "-fPIC", "-o", "libdriver.so", "driver.c", "-L../../lib", "-lhost", "-l:libfl_optional.so.1"],
    );
    std::fs::remove_file(lib.join("libfl_optional.so.1")).expect("remove the optional library");
    std::fs::write(pkg.join("__init__.py"), "").expect("write __init__.py");

    let info = site.join("hostpkg-1.0.dist-info");
    std::fs::create_dir_all(&info).expect("mkdir dist-info");
    std::fs::write(info.join("METADATA"), "Metadata-Version: 2.1\nName: hostpkg\nVersion: 1.0\n").expect("METADATA");
    let mut record = String::new();
    for entry in walk(&pkg) {
        record.push_str(&format!("{},,\n", entry.strip_prefix(&site).unwrap().display()));
    }
    record.push_str("hostpkg-1.0.dist-info/METADATA,,\nhostpkg-1.0.dist-info/RECORD,,\n");
    std::fs::write(info.join("RECORD"), record).expect("RECORD");
    HostPackage { _dir: dir, python, pkg }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Python, with the host imported first or not, loading a plugin as Qt does (dlopen).
fn load_plugin(host: &HostPackage, plugin: &str, import_host: bool) -> Output {
    let script = format!(
        "import ctypes\n{}ctypes.CDLL({:?})\n",
        if import_host { "import hostpkg._core\n" } else { "" },
        host.pkg.join(plugin).display().to_string()
    );
    run(Command::new(&host.python).arg("-c").arg(script))
}

#[test]
fn plugins_that_need_their_hosts_libraries_are_no_problem() {
    let host = host_package(false);
    // What really happens: the plugin loads only inside the host; the SQL driver never here.
    succeeded(Command::new(&host.python).args(["-c", "import hostpkg._core"]));
    assert!(load_plugin(&host, "plugins/platforms/libplug.so", true).status.success());
    assert!(!load_plugin(&host, "plugins/platforms/libplug.so", false).status.success());
    assert!(!load_plugin(&host, "plugins/sqldrivers/libdriver.so", true).status.success());

    let report = doctor(&host.python, None);
    let problems = extension_problems(&report);
    assert!(problems.is_empty(), "false warnings: {problems:#?}");
    let plugins = finding(&report, "extensions.plugins");
    assert!(
        plugins.contains("1 optional plugin cannot load here") && plugins.contains("libfl_optional.so.1"),
        "{plugins}"
    );
}

#[test]
fn a_module_whose_bundled_library_is_gone_is_named_with_its_distribution() {
    let host = host_package(false);
    std::fs::remove_file(host.pkg.join("lib/libhost.so")).expect("remove libhost.so");
    let import = run(Command::new(&host.python).args(["-c", "import hostpkg._core"]));
    assert!(!import.status.success(), "imported without libhost.so");

    let report = doctor(&host.python, None);
    let problems = extension_problems(&report);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let text = problems[0]["finding"].as_str().unwrap();
    assert_eq!(problems[0]["id"], "extensions.extension-missing-library");
    assert!(
        text.starts_with("hostpkg 1.0: ") && text.contains("hostpkg/_core") && text.contains("needs libhost.so"),
        "{text}"
    );
}

#[test]
fn a_library_the_module_loads_that_misses_its_own_dependency_is_named() {
    let host = host_package(true);
    succeeded(Command::new(&host.python).args(["-c", "import hostpkg._core"]));
    assert!(extension_problems(&doctor(&host.python, None)).is_empty());

    std::fs::remove_file(host.pkg.join("lib/libfl_deep.so.1")).expect("remove libfl_deep.so.1");
    let import = run(Command::new(&host.python).args(["-c", "import hostpkg._core"]));
    assert!(text(&import.stderr).contains("libfl_deep.so.1"), "{}", text(&import.stderr));
    let report = doctor(&host.python, None);
    let problems = extension_problems(&report);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let text = problems[0]["finding"].as_str().unwrap();
    assert!(text.contains("hostpkg/lib/libhost.so, which needs libfl_deep.so.1"), "{text}");
}
