//! Real shared objects built with gcc in a temp dir, shaped like what wheels install:
//! extension modules (they export `PyInit_<name>`), the libraries they bundle, plugins.

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

/// The C of an extension module `stem` whose import calls `body` (enough for the loader and
/// for doctor: the module is not imported here).
fn module_c(stem: &str, declarations: &str, body: &str) -> String {
    format!("{declarations}\nvoid *PyInit_{stem}(void) {{ {body}; return 0; }}\n")
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
        write(dir, "ext.c", &module_c("ext", "int gone(void);", "gone()"));
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
    write(dir, "ext.c", &module_c("ext", "int new_f(void);", "new_f()"));
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

/// A virtualenv this test makes, with nothing installed: whatever the machine's global
/// site-packages holds (PySide6, say), the venv's own interpreter has no problem.
#[test]
fn a_fresh_venv_has_no_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    let made = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&venv).output().expect("python3 runs");
    assert!(made.status.success(), "python3 -m venv: {}", String::from_utf8_lossy(&made.stderr));
    let out = Command::new(venv.join("bin/python"))
        .arg("-c")
        .arg(crate::python::PROBE_SCRIPT)
        .env_remove("PYTHONPATH")
        .current_dir(tmp.path())
        .output()
        .expect("the venv's python runs");
    let probed = crate::python::parse_probe(&String::from_utf8_lossy(&out.stdout)).expect("probe output");
    let py = PythonFacts {
        soabi: probed.info.soabi.clone().unwrap_or_default(),
        ext_suffixes: probed.ext_suffixes.clone(),
        // "" is the working directory: the probe's, not this test's (the repository).
        sys_path: probed
            .sys_path
            .iter()
            .map(|p| if p.is_empty() { tmp.path().to_owned() } else { PathBuf::from(p) })
            .collect(),
        numpy_version: probed.numpy_version.clone(),
    };
    let report = check_extensions(&py);
    eprintln!("examined {} extension modules in {:?}", report.modules, report.elapsed);
    assert!(report.modules > 0, "the standard library's extension modules were not found: {py:#?}");
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
}

/// A module whose bundled library needs one that is gone fails to import: the problem is the
/// module's, and names the library in between.
#[test]
fn a_library_the_module_loads_misses_its_own_dependency() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let lib = pkg.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    write(&lib, "gone.c", "int gone(void) { return 1; }\n");
    write(&lib, "mid.c", "int gone(void);\nint mid(void) { return gone(); }\n");
    write(&pkg, "core.c", &module_c("_core", "int mid(void);", "mid()"));
    gcc(&lib, &["-shared", "-fPIC", "gone.c", "-Wl,-soname,libgone.so.1", "-o", "libgone.so.1"]);
    gcc(
        &lib,
        &[
            "-shared",
            "-fPIC",
            "mid.c",
            "-L.",
            "-l:libgone.so.1",
            "-Wl,-rpath,$ORIGIN",
            "-Wl,-soname,libmid.so",
            "-o",
            "libmid.so",
        ],
    );
    gcc(
        &pkg,
        &[
            "-shared",
            "-fPIC",
            "core.c",
            "-Llib",
            "-lmid",
            "-Wl,-rpath,$ORIGIN/lib",
            "-o",
            "_core.cpython-311-x86_64-linux-gnu.so",
        ],
    );
    let clean = check_extensions(&facts(&[tmp.path()]));
    assert!(clean.problems.is_empty(), "{clean:#?}");
    std::fs::remove_file(lib.join("libgone.so.1")).unwrap();

    let report = check_extensions(&facts(&[tmp.path()]));
    assert_eq!(ids(&report), vec![MISSING_LIBRARY], "{report:#?}");
    let p = &report.problems[0];
    assert!(p.path.ends_with("pkg/_core.cpython-311-x86_64-linux-gnu.so"), "{p:?}");
    assert!(p.finding.contains("lib/libmid.so, which needs libgone.so.1"), "{}", p.finding);
    assert_eq!(p.owner.as_deref(), Some("pkg"));
}

/// The shape of a Qt wheel: a module that loads the package's `libhost.so` from its bundled
/// folder; plugins that need `libhost.so` by soname only (Qt loads them into a process that
/// has it); a plugin for an optional system library that is absent; a plugin with a wrong
/// RPATH whose library is in the bundled folder; and a library Python code opens itself.
#[test]
fn plugins_are_judged_inside_their_host() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("hostpkg");
    let (lib, platforms, sql) = (pkg.join("lib"), pkg.join("plugins/platforms"), pkg.join("plugins/sqldrivers"));
    for dir in [&lib, &platforms, &sql] {
        std::fs::create_dir_all(dir).unwrap();
    }
    write(&lib, "host.c", "int host(void) { return 1; }\n");
    write(&lib, "widgets.c", "int widgets(void) { return 1; }\n");
    write(&lib, "optional.c", "int optional(void) { return 1; }\n");
    write(&lib, "sysgone.c", "int sysgone(void) { return 1; }\n");
    gcc(&lib, &["-shared", "-fPIC", "host.c", "-Wl,-soname,libhost.so", "-o", "libhost.so"]);
    gcc(&lib, &["-shared", "-fPIC", "widgets.c", "-Wl,-soname,libwidgets.so", "-o", "libwidgets.so"]);
    gcc(&lib, &["-shared", "-fPIC", "optional.c", "-Wl,-soname,libfl_optional.so.1", "-o", "libfl_optional.so.1"]);
    gcc(&lib, &["-shared", "-fPIC", "sysgone.c", "-Wl,-soname,libfl_sysgone.so.1", "-o", "libfl_sysgone.so.1"]);
    write(&pkg, "core.c", &module_c("_core", "int host(void);", "host()"));
    gcc(&pkg, &["-shared", "-fPIC", "core.c", "-Llib", "-lhost", "-Wl,-rpath,$ORIGIN/lib", "-o", "_core.abi3.so"]);
    write(&platforms, "plug.c", "int host(void);\nint plug(void) { return host(); }\n");
    gcc(&platforms, &["-shared", "-fPIC", "plug.c", "-L../../lib", "-lhost", "-o", "libplug.so"]);
    write(
        &platforms,
        "designer.c",
        "int host(void); int widgets(void);\nint designer(void) { return host() + widgets(); }\n",
    );
    gcc(
        &platforms,
        &[
            "-shared",
            "-fPIC",
            "designer.c",
            "-L../../lib",
            "-lhost",
            "-lwidgets",
            "-Wl,-rpath,$ORIGIN/wrong",
            "-o",
            "libdesigner.so",
        ],
    );
    write(&sql, "driver.c", "int host(void); int optional(void);\nint driver(void) { return host() + optional(); }\n");
    gcc(
        &sql,
        &["-shared", "-fPIC", "driver.c", "-L../../lib", "-lhost", "-l:libfl_optional.so.1", "-o", "libdriver.so"],
    );
    write(&lib, "alone.c", "int sysgone(void);\nint alone(void) { return sysgone(); }\n");
    gcc(&lib, &["-shared", "-fPIC", "alone.c", "-L.", "-l:libfl_sysgone.so.1", "-o", "libalone.so"]);
    for gone in ["libfl_optional.so.1", "libfl_sysgone.so.1"] {
        std::fs::remove_file(lib.join(gone)).unwrap();
    }

    let report = check_extensions(&facts(&[tmp.path()]));
    assert_eq!(report.modules, 1, "{report:#?}");
    // Only the library no module loads and no plugin host explains: libalone.so.
    assert_eq!(ids(&report), vec![MISSING_LIBRARY], "{report:#?}");
    assert!(report.problems[0].path.ends_with("lib/libalone.so"), "{report:#?}");
    assert!(report.problems[0].finding.contains("libfl_sysgone.so.1"), "{report:#?}");
    assert_eq!(
        report.optional_plugins,
        vec![OptionalPlugin {
            path: sql.join("libdriver.so").canonicalize().unwrap(),
            missing: vec!["libfl_optional.so.1".into()]
        }]
    );
    // libplug.so, libdesigner.so, libdriver.so, libalone.so, libwidgets.so (libhost.so is the module's).
    assert_eq!(report.others, 5, "{report:#?}");
}

/// Files Python cannot import from where they lie are not judged as modules: a stale build
/// for another Python under `build/lib.linux-…`, the global site-packages seen from a venv's
/// standard library folder, a virtualenv in the project folder.
#[test]
fn only_what_the_interpreter_can_import_is_a_module() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let stale = root.join("build/lib.linux-x86_64-cpython-310/pkg");
    let global = root.join("lib/python3.11/site-packages");
    let venv = root.join("venv");
    for dir in [&stale, &global, &venv] {
        std::fs::create_dir_all(dir).unwrap();
    }
    small_so(&stale, "m.cpython-310-x86_64-linux-gnu.so");
    small_so(&global, "g.cpython-39-x86_64-linux-gnu.so");
    std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    small_so(&venv, "v.cpython-39-x86_64-linux-gnu.so");
    let report = check_extensions(&facts(&[root, &root.join("lib/python3.11")]));
    assert!(report.problems.is_empty(), "{report:#?}");
    assert_eq!(report.modules, 0, "{report:#?}");
    // On sys.path, the same site-packages is walked, and its stale module found.
    let report = check_extensions(&facts(&[&root.join("lib/python3.11"), &global]));
    assert_eq!(ids(&report), vec![ABI_MISMATCH], "{report:#?}");
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
        write(dir, "ext.c", &module_c("ext", "int new_f(void);", "new_f()"));
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
