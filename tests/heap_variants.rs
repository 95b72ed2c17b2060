//! Allocator variants on real processes: a use after free in a library Python loads with
//! ctypes, which default glibc lets pass most of the time, crashes every time under
//! `heap-check`; `stress --variants` counts both with their intervals; project variants and
//! unknown names.

mod common;

use common::{compile, shell_status, FAULTLINE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The node is freed, then read: its `name` field sits past the 16 bytes tcache writes into
/// a freed chunk, so by default the stale pointer still points at mapped memory and the
/// read passes. One run in ten the chunk is handed out again and overwritten first (the
/// allocator's luck of a real program): then it crashes. Freed memory perturbed by glibc
/// makes `name` 0xa5a5… every time.
const UAF_C: &str = r#"
#include <stdlib.h>
#include <string.h>

struct node { long id; long flags; char *name; };

static int unlucky(void) { return (rand() % 10) == 0; }

int read_stale_name(unsigned seed) {
    srand(seed);
    struct node *n = malloc(sizeof *n);
    n->id = 1; n->flags = 0; n->name = strdup("sensor-7");
    free(n->name);
    free(n);
    if (unlucky()) {
        long *again = malloc(sizeof(struct node));
        again[2] = 0x10; /* what the next owner writes there */
    }
    return n->name[0];
}
"#;

fn build(dir: &Path) -> PathBuf {
    let lib = compile(dir, "gcc", &["-O0", "-g", "-shared", "-fPIC"], "uaf.c", UAF_C, "libuaf.so");
    std::fs::write(
        dir.join("app.py"),
        format!(
            "import ctypes, os\nlib = ctypes.CDLL({:?})\nlib.read_stale_name(int(os.environ.get('FAULTLINE_STRESS_RUN', '0')) * 7919 + 1)\n",
            lib.display().to_string()
        ),
    )
    .unwrap();
    lib
}

fn faultline(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(FAULTLINE).args(args).current_dir(dir).output().expect("run faultline")
}

#[test]
fn heap_check_turns_a_lucky_use_after_free_into_a_crash_and_the_report_says_how_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let plain = faultline(dir.path(), &["run", "--no-store", "--", "python3", "app.py"]);
    assert_eq!(shell_status(&plain.status), 0, "this seed is a lucky one: {}", String::from_utf8_lossy(&plain.stderr));

    let report = dir.path().join("report.json");
    let checked = faultline(
        dir.path(),
        &["run", "--no-store", "--heap-check", "--json", report.to_str().unwrap(), "--", "python3", "app.py"],
    );
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(shell_status(&checked.status), 128 + libc::SIGSEGV, "{stderr}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let crash = &json["crashes"][0];
    assert_eq!(crash["culprit"]["function"], "read_stale_name", "{stderr}");
    assert_eq!(json["variant"]["name"], "heap-check");
    let env: Vec<&str> = json["variant"]["env"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(env.iter().any(|e| e.starts_with("GLIBC_TUNABLES=") && e.contains("glibc.malloc.perturb=")), "{env:?}");
    assert!(stderr.contains("variant heap-check"), "the settings line names the variant: {stderr}");
}

#[test]
fn stress_compares_variants_with_their_intervals() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let summary = dir.path().join("summary.json");
    let output = faultline(
        dir.path(),
        &[
            "stress",
            "-n",
            "12",
            "-j",
            "2",
            "--no-store",
            "--variants",
            "default,heap-check",
            "--json",
            summary.to_str().unwrap(),
            "--",
            "python3",
            "app.py",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let rows = json["variants"].as_array().expect("one row per variant");
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("no row {name}: {json}"));
    let (default, checked) = (row("default"), row("heap-check"));
    assert_eq!(default["rate"]["runs"], 12);
    assert_eq!(checked["rate"]["runs"], 12);
    let crashed = |row: &Value| row["rate"]["crashed"].as_u64().unwrap();
    assert!(crashed(checked) > crashed(default), "heap-check crashes more often: {json}");
    assert_eq!(crashed(checked), 12, "every run under heap-check: {stderr}");
    assert!(checked["rate"]["low"].as_f64().unwrap() > 0.7, "{json}");
    assert!(stderr.contains("by variant:"), "{stderr}");
    assert!(stderr.contains("with 95% confidence"), "{stderr}");
}

#[test]
fn a_project_variant_is_applied_and_an_unknown_one_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.faultline.variants.one-arena]\nMALLOC_ARENA_MAX = \"1\"\nPOOL_SIZE = 2\n",
    )
    .unwrap();
    let output = faultline(
        dir.path(),
        &["run", "--no-store", "--variant", "one-arena", "--", "sh", "-c", "echo \"$MALLOC_ARENA_MAX/$POOL_SIZE\""],
    );
    assert_eq!(shell_status(&output.status), 0, "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "1/2");

    let unknown = faultline(dir.path(), &["run", "--no-store", "--variant", "heap-chek", "--", "true"]);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(shell_status(&unknown.status), 2, "{stderr}");
    assert!(stderr.contains("unknown variant `heap-chek`") && stderr.contains("heap-check"), "{stderr}");
    assert!(stderr.contains("one-arena"), "the project's variants are listed too: {stderr}");
    let stress = faultline(dir.path(), &["stress", "-n", "1", "--variants", "default,nope", "--", "true"]);
    assert_eq!(shell_status(&stress.status), 2);
    assert!(String::from_utf8_lossy(&stress.stderr).contains("--variants: unknown variant `nope`"));
}

/// A stale write into a freed block clears the key tcache marks freed blocks with, so
/// glibc's tcache takes the second free without a word (and would hand the block out twice).
/// With tcache off (`arena-1`) the second free meets the fastbin's check and aborts.
const DOUBLE_FREE_C: &str = r#"
#include <stdlib.h>

int release_twice(void) {
    long *block = malloc(24);
    free(block);
    block[1] = 0; /* the stale owner still writes its "cleared" flag */
    free(block);
    return 0;
}
"#;

#[test]
fn a_double_free_tcache_hides_is_caught_with_tcache_off() {
    let dir = tempfile::tempdir().unwrap();
    let lib = compile(dir.path(), "gcc", &["-O0", "-g", "-shared", "-fPIC"], "twice.c", DOUBLE_FREE_C, "libtwice.so");
    let script = format!("import ctypes\nctypes.CDLL({:?}).release_twice()\n", lib.display().to_string());
    std::fs::write(dir.path().join("twice.py"), script).unwrap();

    let plain = faultline(dir.path(), &["run", "--no-store", "--", "python3", "twice.py"]);
    assert_eq!(shell_status(&plain.status), 0, "tcache hides it: {}", String::from_utf8_lossy(&plain.stderr));

    let report = dir.path().join("report.json");
    let caught = faultline(
        dir.path(),
        &["run", "--no-store", "--variant", "arena-1", "--json", report.to_str().unwrap(), "--", "python3", "twice.py"],
    );
    let stderr = String::from_utf8_lossy(&caught.stderr);
    assert_eq!(shell_status(&caught.status), 128 + libc::SIGABRT, "{stderr}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["crashes"][0]["kind"], "double-free", "{stderr}");
    assert_eq!(json["crashes"][0]["culprit"]["function"], "release_twice", "{stderr}");
    assert_eq!(json["variant"]["name"], "arena-1");
}
