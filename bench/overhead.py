#!/usr/bin/env python3
"""faultline's speed figures, measured side by side with bare runs.

1. Supervision overhead: numpy's own numpy/_core/tests/test_umath.py under pytest, bare vs
   `faultline run` (whose pytest channel is on in every pytest), N alternating pairs; prints
   each pair and the median wall ratio (target <= 1.02), and the channel's own share (the
   same faultline run with the channel's plugin turned off by `-p no:_faultline_channel`).
2. `faultline doctor` wall time on this machine's Python (target < 2 s), and the memory
   sampler's own cost on a tree of 50 processes at 10 Hz (target < 1% of a core).
3. The crash store: what keeping a report costs at the end of a run (`faultline run -- true`
   with the default SQLite store vs `--no-store`, alternating pairs), and reports stored per
   second by `faultline crashes import` (SQLite; PostgreSQL too with --postgres URL, a
   database the benchmark may fill).
4. Crash capture: runs crash-corpus cases under faultline and prints how long the crashing
   thread was held stopped (`held_ms`, target median <= 20 ms) and how long after the fault
   the report was complete (`report_ready_ms`, target <= 150 ms).

Usage: bench/overhead.py [--faultline target/release/faultline] [--pairs 10] [--corpus DIR]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRASH_CASES = ["cext-null-deref", "ctypes-null", "c-assert", "double-free", "fpe", "thread-crash",
               "use-after-reinit", "pytest-crash-in-suite", "c-stack-overflow", "shutdown-static-dtor",
               "mp-child-crash", "xdist-worker-crash"]


def ensure(module, package):
    try:
        __import__(module)
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package],
                       check=True)


def timed(cmd, cwd):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, proc.returncode


def overhead(faultline, pairs):
    import numpy
    test_file = Path(numpy.__file__).parent / "_core" / "tests" / "test_umath.py"
    if not test_file.exists():
        sys.exit(f"overhead.py: {test_file} is missing (numpy without its tests?)")
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)]
    cwd = tempfile.mkdtemp(prefix="faultline-bench-")
    print(f"numpy {numpy.__version__}: {test_file}")
    timed(pytest, cwd)  # warm the page cache and .pyc files
    ratios = []
    channel_ratios = []
    for i in range(pairs):
        # Alternate which goes first, so drift on a noisy machine hits both sides. The third
        # run turns faultline's pytest channel off (the plugin is not loaded), to show what
        # the channel itself costs.
        runs = [("bare", pytest), ("faultline", [faultline, "run", "--", *pytest]),
                ("no-channel", [faultline, "run", "--", *pytest, "-p", "no:_faultline_channel"])]
        if i % 2:
            runs.reverse()
        result = {}
        for name, cmd in runs:
            result[name], status = timed(cmd, cwd)
            if status not in (0, 1):
                sys.exit(f"overhead.py: {name} run exited {status}")
        ratio = result["faultline"] / result["bare"]
        ratios.append(ratio)
        channel_ratios.append(result["faultline"] / result["no-channel"])
        print(f"  pair {i + 1:2d}: bare {result['bare']:.3f} s  faultline {result['faultline']:.3f} s  ratio {ratio:.4f}"
              f"  (without the pytest channel {result['no-channel']:.3f} s)")
    shutil.rmtree(cwd, ignore_errors=True)
    print(f"supervision overhead: median wall ratio {statistics.median(ratios):.4f} over {pairs} pairs "
          f"(min {min(ratios):.4f}, max {max(ratios):.4f}; target <= 1.02)")
    print(f"pytest channel: median ratio with/without {statistics.median(channel_ratios):.4f} "
          f"(min {min(channel_ratios):.4f}, max {max(channel_ratios):.4f})")


def capture_times(faultline, corpus, repeats):
    held, ready = [], []
    for case in CRASH_CASES:
        src = corpus / case
        if not src.exists():
            continue
        work = Path(tempfile.mkdtemp(prefix=f"faultline-bench-{case}-"))
        dst = work / case
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so", "core", "core.*", "__pycache__"))
        subprocess.run(["./build.sh"], cwd=dst, check=True, capture_output=True)
        for _ in range(repeats):
            report = work / "report.json"
            subprocess.run([faultline, "run", "--json", str(report), "--", "./run.sh"], cwd=dst,
                           capture_output=True)
            for crash in json.loads(report.read_text()).get("crashes", []):
                held.append(crash.get("held_ms"))
                ready.append(crash.get("report_ready_ms"))
                print(f"  {case:28s} held {crash.get('held_ms'):7.2f} ms  report ready {crash.get('report_ready_ms'):7.2f} ms")
        shutil.rmtree(work, ignore_errors=True)
    if held:
        print(f"crash capture: held stopped median {statistics.median(held):.2f} ms (max {max(held):.2f}; target <= 20), "
              f"report complete median {statistics.median(ready):.2f} ms (max {max(ready):.2f}; target <= 150) "
              f"over {len(held)} crashes")


def sampler_cost():
    out = subprocess.run(["cargo", "run", "--quiet", "--release", "--example", "sampler_cost"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"overhead.py: the sampler benchmark failed:\n{out.stderr}")
    print(out.stdout.strip())


def doctor_time(faultline, runs=5):
    times = []
    for _ in range(runs):
        t, status = timed([faultline, "doctor"], ROOT)
        if status not in (0, 1):
            sys.exit(f"overhead.py: faultline doctor exited {status}")
        times.append(t)
    print(f"faultline doctor: median {statistics.median(times):.2f} s over {runs} runs (target < 2 s)")


def store_cost(faultline, postgres, pairs=20, reports=200):
    cwd = tempfile.mkdtemp(prefix="faultline-bench-store-")
    extra = []
    for i in range(pairs):
        runs = [("bare", [faultline, "run", "--no-store", "--", "true"]), ("stored", [faultline, "run", "--", "true"])]
        if i % 2:
            runs.reverse()
        times = dict((name, timed(cmd, cwd)[0]) for name, cmd in runs)
        extra.append(times["stored"] - times["bare"])
    print(f"store: keeping a clean run's report adds median {statistics.median(extra) * 1000:.1f} ms "
          f"to `faultline run` ({pairs} alternating pairs, SQLite)")
    report = os.path.join(cwd, "crash.json")
    subprocess.run([faultline, "run", "--no-store", "--json", report, "--", sys.executable, "-c",
                    "import ctypes; ctypes.string_at(0)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stores = [("SQLite", os.path.join(cwd, "import.sqlite3"))]
    if postgres:
        stores.append(("PostgreSQL", postgres))
    for name, store in stores:
        t, status = timed([faultline, "crashes", "--store", store, "import", *([report] * reports)], cwd)
        if status != 0:
            sys.exit(f"overhead.py: crashes import into {name} exited {status}")
        print(f"store: {name}: {reports} crash reports imported in {t:.2f} s ({t / reports * 1000:.2f} ms each)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faultline", default=str(ROOT / "target" / "release" / "faultline"))
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each crash case")
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "crash-corpus"))
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--postgres", help="also time storing into this PostgreSQL database (URL)")
    args = ap.parse_args()
    faultline = os.path.abspath(args.faultline)
    if not os.access(faultline, os.X_OK):
        sys.exit(f"overhead.py: no faultline binary at {faultline}; run `cargo build --release` first")
    ensure("pytest", "pytest")
    ensure("numpy", "numpy")
    ensure("hypothesis", "hypothesis")  # numpy's test suite imports it
    sampler_cost()
    doctor_time(faultline)
    store_cost(faultline, args.postgres)
    capture_times(faultline, Path(args.corpus), args.repeats)
    if not args.skip_overhead:
        overhead(faultline, args.pairs)


if __name__ == "__main__":
    main()
