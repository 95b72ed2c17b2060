#!/usr/bin/env python3
"""What `pytest --faultline` costs over `faultline run -- pytest` (target: < 100 ms).

The plugin starts pytest, which imports itself and its plugins, then replaces the process
with `faultline run -- <the same pytest>`: the cost is that first start, up to the hook
that re-executes. Both arms run the same suite (the corpus's pytest-crash-in-suite without
its crashing test: 19 tests, one native extension) with the same binary, from a fresh venv
with the wheel installed. Pairs alternate which arm goes first; prints each pair, then the
median of the per-pair differences with its spread (min, quartiles, max), and each arm's
median wall time. A third arm, `python -c "import pytest"` in the same venv, is the floor: a
pytest plugin runs only once pytest has imported itself, so no plugin can re-execute sooner.

Usage: bench/plugin_reexec.py [--wheel target/wheel-build/dist/faultline-*.whl] [--pairs 21]
(without --wheel it runs scripts/build-wheel.sh, which prints the wheel's path).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE = "pytest-crash-in-suite"
CRASHING_TEST = "tests/test_bbox.py::test_bbox_of_empty_polygon"


def timed(cmd, cwd, env):
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"plugin_reexec.py: {cmd} exited {proc.returncode}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path)
    parser.add_argument("--pairs", type=int, default=21)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "crash-corpus")
    args = parser.parse_args()
    wheel = args.wheel
    if wheel is None:
        built = subprocess.run([str(ROOT / "scripts" / "build-wheel.sh")], check=True, stdout=subprocess.PIPE, text=True)
        wheel = Path(built.stdout.strip().splitlines()[-1])

    scratch = Path(tempfile.mkdtemp(prefix="faultline-bench-plugin-"))
    try:
        venv = scratch / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-cache-dir", str(wheel), "pytest>=8"], check=True)
        work = scratch / CASE
        shutil.copytree(args.corpus / CASE, work)
        for path in [work, *work.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        subprocess.run(["./build.sh"], cwd=work, check=True)

        env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE")}
        env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
        pytest = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--deselect", CRASHING_TEST, "tests"]
        arms = {
            "faultline run -- pytest": [str(venv / "bin" / "faultline"), "run", "--no-store", "--", *pytest],
            "pytest --faultline": [*pytest, "--faultline", "--faultline-args=--no-store"],
        }
        floor_name = "python -c 'import pytest' (floor)"
        arms[floor_name] = [str(python), "-c", "import pytest"]
        names = list(arms)
        for name in names:  # warm the page cache and the .pyc files
            timed(arms[name], work, env)
        times = {name: [] for name in names}
        diffs = []
        floors = []
        print(f"{args.pairs} pairs on {CASE} (19 tests), wheel {wheel.name}")
        for i in range(args.pairs):
            order = names if i % 2 == 0 else names[::-1]
            pair = {name: timed(arms[name], work, env) for name in order}
            for name in names:
                times[name].append(pair[name])
            diff = pair["pytest --faultline"] - pair["faultline run -- pytest"]
            diffs.append(diff)
            floors.append(pair[floor_name])
            print(f"  pair {i + 1:2}: run {pair[names[0]] * 1000:6.0f} ms, plugin {pair[names[1]] * 1000:6.0f} ms,"
                  f" plugin - run {diff * 1000:+5.0f} ms, import pytest {pair[floor_name] * 1000:4.0f} ms")
        q1, _, q3 = statistics.quantiles(diffs, n=4)
        for name in names:
            print(f"{name}: median {statistics.median(times[name]) * 1000:.0f} ms")
        print(f"re-exec cost (plugin - run): median {statistics.median(diffs) * 1000:+.0f} ms;"
              f" min {min(diffs) * 1000:+.0f}, quartiles {q1 * 1000:+.0f} / {q3 * 1000:+.0f}, max {max(diffs) * 1000:+.0f} ms"
              f" (target < 100 ms)")
        beyond = [d - f for d, f in zip(diffs, floors)]
        print(f"of which the floor (interpreter start + import pytest): median {statistics.median(floors) * 1000:.0f} ms;"
              f" the plugin's own share (cost - floor): median {statistics.median(beyond) * 1000:+.0f} ms")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
