//! `faultline doctor` and `run --preflight` on real processes: this machine's own Python,
//! core dumps disabled, a GUI backend without a display, a pre-flight refusal.

mod common;

use common::FAULTLINE;
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

const IDS: &[&str] = &[
    "machine.memory",
    "machine.disk.cwd",
    "machine.disk.tmp",
    "machine.open-files",
    "machine.processes",
    "machine.overcommit",
    "capture.ptrace",
    "capture.core-size",
    "capture.core-pattern",
    "python.version",
    "python.build",
    "python.venv",
    "python.dependencies",
    "gui.display",
    "threads.blas",
    "tests.pytest",
    "tests.faulthandler",
    "tests.timeout",
    "extensions.plugins",
    "extensions.examined",
];

/// `faultline doctor --json R` in a scratch folder; `prepare` adjusts the command.
fn doctor(prepare: impl FnOnce(&mut Command)) -> (Output, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("doctor.json");
    let mut command = Command::new(FAULTLINE);
    command.arg("doctor").arg("--json").arg(&json).current_dir(dir.path()).env("NO_COLOR", "1");
    prepare(&mut command);
    let output = command.output().expect("run faultline doctor");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!("no JSON ({e}); stdout:\n{}\nstderr:\n{}", stdout(&output), String::from_utf8_lossy(&output.stderr))
    });
    (output, serde_json::from_str(&text).expect("doctor JSON"), dir)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn validate(json_file: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/doctor-schema.json");
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  jsonschema.Draft202012Validator.check_schema(schema)\n\
                  jsonschema.validate(json.load(open(sys.argv[2])), schema, cls=jsonschema.Draft202012Validator)\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&schema)
        .arg(json_file)
        .output()
        .expect("run python3 for jsonschema");
    assert!(output.status.success(), "schema validation failed:\n{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn doctor_on_this_machines_python_has_no_failure_and_matches_the_schema() {
    let (output, report, dir) = doctor(|c| {
        c.env_remove("VIRTUAL_ENV");
    });
    let failures: Vec<&Value> = report["checks"].as_array().unwrap().iter().filter(|c| c["status"] == "fail").collect();
    assert!(failures.is_empty(), "false failures: {failures:#?}\n{report:#}");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    for id in IDS {
        check(&report, id);
    }
    assert_eq!(report["schema_version"], 1);
    assert!(report["python"]["soabi"].is_string(), "{report:#}");
    assert!(stdout(&output).starts_with("faultline doctor: 0 failures"), "{}", stdout(&output));
    validate(&dir.path().join("doctor.json"));
}

#[test]
fn doctor_warns_when_core_dumps_are_disabled() {
    let (output, report, _dir) = doctor(|c| {
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            c.pre_exec(|| {
                let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                if libc::setrlimit(libc::RLIMIT_CORE, &zero) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    let core = check(&report, "capture.core-size");
    assert_eq!(core["status"], "warn", "{core:#}");
    assert!(core["fix"].as_str().unwrap().contains("faultline run --core-dumps"), "{core:#}");
    let text = stdout(&output);
    assert!(text.contains("warn capture.core-size"), "{text}");
    assert!(text.contains("fix: use `faultline run --core-dumps`"), "{text}");
}

#[test]
fn doctor_warns_about_a_gui_backend_without_display() {
    let (_output, report, _dir) = doctor(|c| {
        c.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").env("MPLBACKEND", "QtAgg");
    });
    let gui = check(&report, "gui.display");
    assert_eq!(gui["status"], "warn", "{gui:#}");
    assert!(gui["fix"].as_str().unwrap().contains("--headless"), "{gui:#}");
}

#[test]
fn doctor_strict_and_missing_python_exit_codes() {
    let (output, report, _dir) = doctor(|c| {
        c.arg("--python").arg("/nonexistent/python");
    });
    assert_eq!(check(&report, "python.version")["status"], "fail", "{report:#}");
    assert_eq!(check(&report, "python.dependencies")["status"], "skip");
    assert!(report["python"].is_null());
    assert_eq!(output.status.code(), Some(1));
    // Core dumps off is a warning: exit 0 without --strict, 1 with it.
    let limit = |c: &mut Command| unsafe {
        c.pre_exec(|| {
            let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            Ok(())
        });
    };
    let (plain, _, _d1) = doctor(|c| limit(c));
    assert_eq!(plain.status.code(), Some(0), "{}", stdout(&plain));
    let (strict, _, _d2) = doctor(|c| {
        limit(c);
        c.arg("--strict");
    });
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
}

#[test]
fn doctor_preflight_refuses_to_start_on_a_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    let output = Command::new(FAULTLINE)
        .args(["run", "--preflight", "--python", "/nonexistent/python", "--", "touch"])
        .arg(&marker)
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run faultline");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!marker.exists(), "the command ran despite the failed pre-flight check");
    assert!(stderr.contains("pre-flight check failed"), "{stderr}");
    assert!(stderr.contains("fail python.version"), "{stderr}");
}

#[test]
fn doctor_preflight_passes_into_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    let output = Command::new(FAULTLINE)
        .args(["run", "--preflight", "--", "touch"])
        .arg(&marker)
        .current_dir(dir.path())
        .env_remove("VIRTUAL_ENV")
        .output()
        .expect("run faultline");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(marker.exists(), "the command did not run");
}

#[test]
fn doctor_names_an_extension_built_for_another_python() {
    // A real extension of this interpreter, renamed to say CPython 3.10, on PYTHONPATH.
    let dynload = Command::new("python3")
        .args(["-c", "import _json, sys; print(_json.__file__ if sys.version_info[:2] != (3, 10) else '')"])
        .output()
        .expect("python3");
    let source = String::from_utf8_lossy(&dynload.stdout).trim().to_owned();
    if source.is_empty() {
        eprintln!("skipped: this interpreter is 3.10 or has no _json extension file");
        return;
    }
    let site = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&source, site.path().join("m.cpython-310-x86_64-linux-gnu.so")).expect("copy extension");
    let (output, report, _dir) = doctor(|c| {
        c.env_remove("VIRTUAL_ENV").env("PYTHONPATH", site.path());
    });
    let problem = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["id"] == "extensions.extension-abi-mismatch" && c["finding"].as_str().unwrap().contains("m.cpython-310")
        })
        .unwrap_or_else(|| panic!("no ABI mismatch for m.cpython-310: {report:#}"));
    assert!(matches!(problem["status"].as_str(), Some("warn" | "fail")), "{problem:#}");
    assert!(problem["fix"].is_string(), "{problem:#}");
    assert!(stdout(&output).contains("extensions.extension-abi-mismatch"), "{}", stdout(&output));
}

/// Compiles C into a shared object with `cc`, panicking with the compiler's words.
fn cc(dir: &Path, args: &[&str]) {
    let output = Command::new("cc").args(args).current_dir(dir).output().expect("run cc");
    assert!(output.status.success(), "cc {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// The doctor check with `id` whose finding mentions `needle`.
fn problem<'a>(report: &'a Value, id: &str, needle: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id && c["finding"].as_str().is_some_and(|f| f.contains(needle)))
        .unwrap_or_else(|| panic!("no {id} mentioning {needle:?}: {report:#}"))
}

fn suffix() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn doctor_names_a_needed_library_that_does_not_exist() {
    let site = tempfile::tempdir().expect("tempdir");
    let dir = site.path();
    std::fs::write(dir.join("gone.c"), "int gone(void) { return 1; }\n").unwrap();
    std::fs::write(dir.join("ext.c"), "int gone(void);\nint use(void) { return gone(); }\n").unwrap();
    cc(dir, &["-shared", "-fPIC", "-o", "libgone.so", "gone.c"]);
    let ext = format!("needsgone{}", suffix());
    cc(dir, &["-shared", "-fPIC", "-o", &ext, "ext.c", "-L.", "-lgone"]);
    std::fs::remove_file(dir.join("libgone.so")).unwrap();
    let (_, report, _dir) = doctor(|c| {
        c.env_remove("VIRTUAL_ENV").env("PYTHONPATH", dir);
    });
    problem(&report, "extensions.extension-missing-library", "libgone.so");
}

#[test]
fn doctor_names_a_symbol_version_newer_than_the_system_has() {
    let site = tempfile::tempdir().expect("tempdir");
    let dir = site.path();
    // A library whose newer version (FAKE_2.0) the extension links against, then replaced
    // by an older build that only has FAKE_1.0: what a newer glibc build meets on an older system.
    std::fs::write(dir.join("fake.c"), "int old_api(void) { return 1; }\nint new_api(void) { return 2; }\n").unwrap();
    std::fs::write(
        dir.join("new.map"),
        "FAKE_1.0 { global: old_api; local: *; };\nFAKE_2.0 { global: new_api; } FAKE_1.0;\n",
    )
    .unwrap();
    std::fs::write(dir.join("old.map"), "FAKE_1.0 { global: old_api; local: *; };\n").unwrap();
    std::fs::write(dir.join("ext.c"), "int new_api(void);\nint use(void) { return new_api(); }\n").unwrap();
    cc(dir, &["-shared", "-fPIC", "-Wl,--version-script=new.map", "-o", "libfake.so", "fake.c"]);
    let ext = format!("needsnew{}", suffix());
    cc(dir, &["-shared", "-fPIC", "-o", &ext, "ext.c", "-L.", "-lfake", "-Wl,-rpath,$ORIGIN"]);
    cc(dir, &["-shared", "-fPIC", "-Wl,--version-script=old.map", "-o", "libfake.so", "fake.c"]);
    let (_, report, _dir) = doctor(|c| {
        c.env_remove("VIRTUAL_ENV").env("PYTHONPATH", dir);
    });
    problem(&report, "extensions.extension-library-too-old", "FAKE_2.0");
}

#[test]
fn doctor_names_a_module_installed_twice_on_the_path() {
    let first = tempfile::tempdir().expect("tempdir");
    let second = tempfile::tempdir().expect("tempdir");
    let ext = format!("twice{}", suffix());
    for dir in [first.path(), second.path()] {
        std::fs::write(dir.join("twice.c"), "int twice(void) { return 2; }\n").unwrap();
        cc(dir, &["-shared", "-fPIC", "-o", &ext, "twice.c"]);
    }
    let path = format!("{}:{}", first.path().display(), second.path().display());
    let (_, report, _dir) = doctor(|c| {
        c.env_remove("VIRTUAL_ENV").env("PYTHONPATH", &path);
    });
    let found = problem(&report, "extensions.extension-duplicate-module", "twice");
    let text = found.to_string();
    assert!(text.contains(&first.path().display().to_string()), "names the copy that wins: {text}");
}

#[test]
fn doctor_examines_the_virtualenv_it_is_pointed_at() {
    let root = tempfile::tempdir().expect("tempdir");
    let venv = root.path().join("venv");
    let made =
        Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&venv).output().expect("python3 -m venv");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let site = Command::new(venv.join("bin/python"))
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        .output()
        .expect("venv python");
    let site = std::path::PathBuf::from(String::from_utf8_lossy(&site.stdout).trim());
    std::fs::write(site.join("old.c"), "int old(void) { return 3; }\n").unwrap();
    cc(&site, &["-shared", "-fPIC", "-o", "oldabi.cpython-39-x86_64-linux-gnu.so", "old.c"]);
    let python = venv.join("bin/python");
    let (_, report, _dir) = doctor(|c| {
        c.arg("--python").arg(&python).env_remove("PYTHONPATH");
    });
    assert!(check(&report, "python.venv")["finding"].as_str().unwrap().contains("venv"), "{report:#}");
    problem(&report, "extensions.extension-abi-mismatch", "oldabi.cpython-39");
}
