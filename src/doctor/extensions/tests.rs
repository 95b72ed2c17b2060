//! Real shared objects built with gcc in a temp dir.

use super::*;
use std::process::Command;

fn gcc(dir: &Path, args: &[&str]) {
    let status = Command::new("gcc").current_dir(dir).args(args).status().expect("gcc runs");
    assert!(status.success(), "gcc {args:?} failed");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn facts(dirs: &[&Path]) -> PythonFacts {
    PythonFacts {
        soabi: "cpython-311-x86_64-linux-gnu".into(),
        ext_suffixes: [".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"].map(String::from).to_vec(),
        sys_path: dirs.iter().map(|d| d.to_path_buf()).collect(),
        numpy_version: None,
    }
}

fn small_so(dir: &Path, name: &str) {
    write(dir, "small.c", "int small(void) { return 1; }\n");
    gcc(dir, &["-shared", "-fPIC", "small.c", "-o", name]);
    std::fs::remove_file(dir.join("small.c")).unwrap();
}

fn ids(report: &ExtensionReport) -> Vec<&'static str> {
    report.problems.iter().map(|p| p.id).collect()
}

#[test]
fn abi_tag_of_another_python() {
    let tmp = tempfile::tempdir().unwrap();
    let (bad, good) = (tmp.path().join("bad"), tmp.path().join("good"));
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::create_dir_all(&good).unwrap();
    small_so(&bad, "m.cpython-310-x86_64-linux-gnu.so");
    small_so(&good, "m.abi3.so");
    small_so(&good, "n.cpython-311-x86_64-linux-gnu.so");

    let report = check_extensions(&facts(&[&bad]));
    assert_eq!(ids(&report), vec![ABI_MISMATCH], "{report:#?}");
    assert!(report.problems[0].finding.contains("CPython 3.10"), "{}", report.problems[0].finding);
    let report = check_extensions(&facts(&[&good]));
    assert_eq!(report.modules, 2);
    assert!(report.problems.is_empty(), "{report:#?}");
}

#[test]
fn needed_library_that_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let (gone, fine) = (tmp.path().join("gone"), tmp.path().join("fine"));
    for dir in [&gone, &fine] {
        std::fs::create_dir_all(dir).unwrap();
        write(dir, "gone.c", "int gone(void) { return 7; }\n");
        write(dir, "ext.c", "int gone(void);\nint ext(void) { return gone(); }\n");
        gcc(dir, &["-shared", "-fPIC", "gone.c", "-o", "libgone.so"]);
    }
    gcc(&gone, &["-shared", "-fPIC", "ext.c", "-L.", "-lgone", "-o", "ext.so"]);
    std::fs::remove_file(gone.join("libgone.so")).unwrap();
    gcc(&fine, &["-shared", "-fPIC", "ext.c", "-L.", "-lgone", "-Wl,-rpath,$ORIGIN", "-o", "ext.so"]);

    let report = check_extensions(&facts(&[&gone]));
    assert_eq!(ids(&report), vec![MISSING_LIBRARY], "{report:#?}");
    assert!(report.problems[0].finding.contains("libgone.so"));
    assert!(report.problems[0].path.ends_with("ext.so"));
    let report = check_extensions(&facts(&[&fine]));
    assert!(report.problems.is_empty(), "{report:#?}");
}

#[test]
fn symbol_version_the_library_no_longer_defines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "fake.c", "int old_f(void) { return 1; }\nint new_f(void) { return 2; }\n");
    write(dir, "v2.map", "FAKE_1.0 { global: old_f; local: *; };\nFAKE_2.0 { global: new_f; } FAKE_1.0;\n");
    write(dir, "v1.map", "FAKE_1.0 { global: old_f; new_f; local: *; };\n");
    write(dir, "ext.c", "int new_f(void);\nint ext(void) { return new_f(); }\n");
    gcc(dir, &["-shared", "-fPIC", "fake.c", "-Wl,--version-script=v2.map", "-o", "libfake.so"]);
    gcc(dir, &["-shared", "-fPIC", "ext.c", "-L.", "-lfake", "-Wl,-rpath,$ORIGIN", "-o", "ext.so"]);
    let clean = check_extensions(&facts(&[dir]));
    assert!(clean.problems.is_empty(), "{clean:#?}");

    gcc(dir, &["-shared", "-fPIC", "fake.c", "-Wl,--version-script=v1.map", "-o", "libfake.so"]);
    let report = check_extensions(&facts(&[dir]));
    let versioned: Vec<_> = report.problems.iter().filter(|p| p.path.ends_with("ext.so")).collect();
    assert_eq!(versioned.len(), 1, "{report:#?}");
    assert_eq!(versioned[0].id, LIBRARY_TOO_OLD);
    assert!(versioned[0].finding.starts_with("needs FAKE_2.0 from libfake.so"), "{}", versioned[0].finding);
    assert!(versioned[0].finding.contains("up to FAKE_1.0"), "{}", versioned[0].finding);
}

#[test]
fn same_module_in_two_path_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(a.join("pkg")).unwrap();
    std::fs::create_dir_all(b.join("pkg")).unwrap();
    small_so(&a.join("pkg"), "m.cpython-311-x86_64-linux-gnu.so");
    small_so(&b.join("pkg"), "m.abi3.so");
    small_so(&b, "only_here.so");

    let report = check_extensions(&facts(&[&a, &b]));
    assert_eq!(ids(&report), vec![DUPLICATE_MODULE], "{report:#?}");
    let p = &report.problems[0];
    assert!(p.path.ends_with("b/pkg/m.abi3.so"), "{p:?}");
    assert!(p.finding.contains("pkg.m") && p.finding.contains("a/pkg/m.cpython-311"), "{}", p.finding);
}

#[test]
fn numpy_1_build_under_numpy_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
    for (dir, src) in [
        (&old, "const char *name(void) { return \"numpy.core._multiarray_umath\"; }\n"),
        (&new, "const char *a(void) { return \"numpy._core._multiarray_umath\"; }\nconst char *b(void) { return \"numpy.core._multiarray_umath\"; }\n"),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        write(dir, "m.c", src);
        gcc(dir, &["-shared", "-fPIC", "m.c", "-o", "m.cpython-311-x86_64-linux-gnu.so"]);
    }
    let mut py = facts(&[&old]);
    py.numpy_version = Some("2.1.0".into());
    assert_eq!(ids(&check_extensions(&py)), vec![NUMPY_ABI]);
    py.numpy_version = Some("1.26.4".into());
    assert!(check_extensions(&py).problems.is_empty());
    let mut py = facts(&[&new]);
    py.numpy_version = Some("2.1.0".into());
    assert!(check_extensions(&py).problems.is_empty());
}

/// This machine's own interpreter: no false findings. Prints the timing.
#[test]
fn this_machines_python_has_no_problems() {
    let script = "import sys, sysconfig, importlib.machinery\n\
        print(sysconfig.get_config_var('SOABI'))\n\
        print('\\t'.join(importlib.machinery.EXTENSION_SUFFIXES))\n\
        print('\\t'.join(sys.path))\n\
        try:\n    import numpy; print(numpy.__version__)\nexcept ImportError:\n    print('')\n";
    let Ok(out) = Command::new("python3").args(["-c", script]).output() else {
        eprintln!("no python3; skipped");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "{text}");
    let py = PythonFacts {
        soabi: lines[0].into(),
        ext_suffixes: lines[1].split('\t').map(String::from).collect(),
        sys_path: lines[2].split('\t').map(PathBuf::from).collect(),
        numpy_version: Some(lines[3].to_owned()).filter(|v| !v.is_empty()),
    };
    let report = check_extensions(&py);
    eprintln!("examined {} extension files in {:?}", report.modules, report.elapsed);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
}

/// The glibc / libstdc++ wording is chosen by the version name, so a fake library whose
/// versions are named like glibc's stands in for an old system libc.
#[test]
fn glibc_and_libstdcxx_versions_are_named_as_such() {
    for (old, new, id) in
        [("GLIBC_2.0", "GLIBC_99.0", GLIBC_TOO_NEW), ("GLIBCXX_3.4", "GLIBCXX_3.4.99", LIBSTDCXX_TOO_NEW)]
    {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(dir, "fake.c", "int old_f(void) { return 1; }\nint new_f(void) { return 2; }\n");
        write(dir, "v2.map", &format!("{old} {{ global: old_f; local: *; }};\n{new} {{ global: new_f; }} {old};\n"));
        write(dir, "v1.map", &format!("{old} {{ global: old_f; new_f; local: *; }};\n"));
        write(dir, "ext.c", "int new_f(void);\nint ext(void) { return new_f(); }\n");
        gcc(dir, &["-shared", "-fPIC", "fake.c", "-Wl,--version-script=v2.map", "-o", "libold.so"]);
        gcc(dir, &["-shared", "-fPIC", "ext.c", "-L.", "-lold", "-Wl,-rpath,$ORIGIN", "-o", "ext.so"]);
        gcc(dir, &["-shared", "-fPIC", "fake.c", "-Wl,--version-script=v1.map", "-o", "libold.so"]);
        let report = check_extensions(&facts(&[dir]));
        let p: Vec<_> = report.problems.iter().filter(|p| p.path.ends_with("ext.so")).collect();
        assert_eq!(p.len(), 1, "{report:#?}");
        assert_eq!(p[0].id, id);
        assert!(p[0].finding.starts_with(&format!("needs {new} from libold.so")), "{}", p[0].finding);
    }
}

/// The system's libc resolves through the loader view and defines glibc versions.
#[test]
fn system_libc_versions_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    small_so(tmp.path(), "x.so");
    let facts = elf::parse(&tmp.path().join("x.so")).unwrap();
    let loader = Loader::from_system();
    let libc = loader.resolve("libc.so.6", tmp.path(), &facts).expect("libc.so.6 resolves");
    let defs = loader.version_defs(&libc).expect("libc parses");
    assert!(defs.iter().any(|d| d == "GLIBC_2.2.5" || d == "GLIBC_2.17"), "{defs:?}");
}
