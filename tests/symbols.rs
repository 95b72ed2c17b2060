//! Symbols for libraries without a symbol table: a stripped library whose debug file is in
//! the `.debug/` folder beside it (`.gnu_debuglink`), one with MiniDebugInfo
//! (`.gnu_debugdata`, xz), and one with neither, whose frames are named after the nearest
//! exported function and marked approximate.

mod common;

use common::FAULTLINE;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const LIB_C: &str = r#"
int __attribute__((noinline)) exported_entry(int *p);
static int __attribute__((noinline)) hidden_read(int *p);

int __attribute__((noinline)) exported_entry(int *p) { return hidden_read(p) + 1; }

/* Not exported: only a symbol table names it. */
static int __attribute__((noinline)) hidden_read(int *p) { return *p; }
"#;

fn run(dir: &Path, command: &[&str]) {
    let ok = Command::new(command[0]).args(&command[1..]).current_dir(dir).status().expect(command[0]).success();
    assert!(ok, "{command:?} failed");
}

/// Builds `libstripped.so` in `dir` (stripped), and returns its path.
fn stripped_library(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("lib.c"), LIB_C).unwrap();
    run(dir, &["gcc", "-g", "-O0", "-shared", "-fPIC", "-o", "libfull.so", "lib.c"]);
    std::fs::copy(dir.join("libfull.so"), dir.join("libstripped.so")).unwrap();
    run(dir, &["strip", "--strip-all", "libstripped.so"]);
    dir.join("libstripped.so")
}

/// The crashed thread's native frames of `library`, as `function` strings.
fn frames_in(dir: &Path, library: &Path) -> (Vec<String>, String) {
    let json = dir.join("report.json");
    let script = format!("import ctypes\nctypes.CDLL({:?}).exported_entry(None)\n", library.display().to_string());
    let output = Command::new(FAULTLINE)
        .args(["run", "--no-store", "--color", "never", "--json"])
        .arg(&json)
        .args(["--", "python3", "-c", &script])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run faultline");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).expect("a report")).unwrap();
    let name = library.file_name().unwrap().to_str().unwrap();
    let frames = report["crashes"][0]["threads"].as_array().unwrap().iter().find(|t| t["crashed"] == true).unwrap()
        ["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["module"] == name)
        .map(|f| f["function"].as_str().unwrap_or("??").to_owned())
        .collect();
    (frames, stderr)
}

#[test]
fn a_debug_file_in_the_debug_folder_beside_a_stripped_library_names_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let lib = stripped_library(dir.path());
    run(dir.path(), &["objcopy", "--only-keep-debug", "libfull.so", "libstripped.so.debug"]);
    run(dir.path(), &["objcopy", "--add-gnu-debuglink=libstripped.so.debug", "libstripped.so"]);
    std::fs::create_dir(dir.path().join(".debug")).unwrap();
    std::fs::rename(dir.path().join("libstripped.so.debug"), dir.path().join(".debug/libstripped.so.debug")).unwrap();
    let (frames, stderr) = frames_in(dir.path(), &lib);
    assert_eq!(frames, ["hidden_read", "exported_entry"], "{stderr}");
    assert!(stderr.contains("hidden_read (libstripped.so) lib.c:8"), "{stderr}");
}

#[test]
fn mini_debuginfo_names_the_functions_dynsym_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let lib = stripped_library(dir.path());
    // As Fedora builds it: the symbol table alone, xz-compressed, in .gnu_debugdata.
    run(dir.path(), &["objcopy", "--strip-debug", "libfull.so", "mini"]);
    run(dir.path(), &["xz", "--keep", "mini"]);
    run(dir.path(), &["objcopy", "--add-section", ".gnu_debugdata=mini.xz", "libstripped.so"]);
    let (frames, stderr) = frames_in(dir.path(), &lib);
    assert_eq!(frames, ["hidden_read", "exported_entry"], "{stderr}");
}

#[test]
fn without_any_symbol_table_a_frame_is_named_after_the_nearest_export_and_marked_approximate() {
    let dir = tempfile::tempdir().unwrap();
    let lib = stripped_library(dir.path());
    let (frames, stderr) = frames_in(dir.path(), &lib);
    assert_eq!(frames.len(), 2, "{stderr}");
    assert!(frames[0].starts_with("exported_entry+0x") && frames[0].ends_with('?'), "{frames:?}");
    assert_eq!(frames[1], "exported_entry");
    let (again, _) = frames_in(dir.path(), &lib);
    assert_eq!(again, frames, "the same name in every process (ASLR)");
}
