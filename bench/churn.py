#!/usr/bin/env python3
"""What starting threads and processes costs under faultline, side by side with bare runs.

Workloads (each a separate Python program, the interpreter called directly, not through a
launcher such as a pyenv shim):
  threads     3,000 x threading.Thread(target=noop).start(); join()
  processes   300 x subprocess.run(["/bin/true"])
  pool        a multiprocessing pool of 2 workers running 1,000 tasks (fork)
  xdist       pytest -n 2 over 200 trivial tests (needs pytest-xdist; skipped without)

For each: N alternating rounds (the order turns each round) of a bare run, a faultline run
and a run under the least a ptrace supervisor can do (bench/floor_supervisor.c, built with
gcc: the stops the kernel makes any tracer take, resumed at once), and the median ratios
faultline / bare and floor / bare with their min and max.

Usage: bench/churn.py [--faultline target/release/faultline] [--pairs 10] [--only threads,processes]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from overhead import timed  # noqa: E402  (one way of timing a run for every benchmark)

THREADS = """
import threading
def noop():
    pass
for _ in range(3000):
    t = threading.Thread(target=noop)
    t.start()
    t.join()
"""

PROCESSES = """
import subprocess
for _ in range(300):
    subprocess.run(["/bin/true"])
"""

POOL = """
import multiprocessing
def square(x):
    return x * x
if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    with multiprocessing.Pool(2) as pool:
        assert sum(pool.map(square, range(1000), chunksize=1)) == sum(x * x for x in range(1000))
"""

XDIST_TESTS = """
import pytest
@pytest.mark.parametrize("n", range(200))
def test_trivial(n):
    assert n >= 0
"""


def interpreter():
    """The interpreter running this script: already the real program (a pyenv shim has
    exec'd it), so that no launcher's helpers are counted; a venv's python keeps its venv."""
    return sys.executable


def workloads(work):
    python = interpreter()
    (work / "threads.py").write_text(THREADS)
    (work / "processes.py").write_text(PROCESSES)
    (work / "pool.py").write_text(POOL)
    (work / "test_churn.py").write_text(XDIST_TESTS)
    found = {
        "threads": [python, "threads.py"],
        "processes": [python, "processes.py"],
        "pool": [python, "pool.py"],
    }
    has_xdist = subprocess.run([python, "-c", "import xdist"], capture_output=True).returncode == 0
    if has_xdist:
        found["xdist"] = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "test_churn.py"]
    else:
        print("xdist: skipped (pytest-xdist is not installed for this interpreter)")
    return found


def build_floor(work):
    source = ROOT / "bench" / "floor_supervisor.c"
    binary = work / "floor_supervisor"
    built = subprocess.run(["gcc", "-O2", "-o", str(binary), str(source)], capture_output=True, text=True)
    if built.returncode != 0:
        sys.exit(f"churn.py: cannot build {source}:\n{built.stderr}")
    return str(binary)


def measure(name, cmd, faultline, floor, pairs, cwd):
    timed(cmd, cwd)  # warm the page cache and .pyc files
    ratios, floor_ratios = [], []
    for i in range(pairs):
        runs = [("bare", cmd), ("faultline", [faultline, "run", "--no-store", "--", *cmd]), ("floor", [floor, *cmd])]
        runs = runs[i % 3:] + runs[:i % 3]
        result = {}
        for side, command in runs:
            result[side], status = timed(command, cwd)
            if status != 0:
                sys.exit(f"churn.py: {name}: the {side} run exited {status}")
        ratios.append(result["faultline"] / result["bare"])
        floor_ratios.append(result["floor"] / result["bare"])
        print(f"  {name} round {i + 1:2d}: bare {result['bare']:.3f} s  faultline {result['faultline']:.3f} s"
              f"  floor {result['floor']:.3f} s  ratio {ratios[-1]:.3f} (floor {floor_ratios[-1]:.3f})", flush=True)
    return ratios, floor_ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faultline", default=str(ROOT / "target" / "release" / "faultline"))
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--only", help="comma-separated workloads to run (threads, processes, pool, xdist)")
    args = parser.parse_args()
    faultline = os.path.abspath(args.faultline)
    if not os.access(faultline, os.X_OK):
        sys.exit(f"churn.py: {faultline} is not an executable; build it with `cargo build --release`")
    work = Path(tempfile.mkdtemp(prefix="faultline-churn-"))
    try:
        chosen = workloads(work)
        floor = build_floor(work)
        if args.only:
            wanted = args.only.split(",")
            unknown = [w for w in wanted if w not in ("threads", "processes", "pool", "xdist")]
            if unknown:
                sys.exit(f"churn.py: unknown workload {', '.join(unknown)}; choose from threads, processes, pool, xdist")
            chosen = {k: v for k, v in chosen.items() if k in wanted}
        summary = []
        for name, cmd in chosen.items():
            summary.append((name, *measure(name, cmd, faultline, floor, args.pairs, work)))
        print()
        print(f"| workload | faultline / bare wall, median of {args.pairs} rounds (min–max) | floor / bare |")
        print("|---|---|---|")
        spread = lambda r: f"{statistics.median(r):.3f} ({min(r):.3f}–{max(r):.3f})"
        for name, ratios, floor_ratios in summary:
            print(f"| {name} | {spread(ratios)} | {spread(floor_ratios)} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
