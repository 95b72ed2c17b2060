#!/usr/bin/env bash
# The whole test suite: installs what it needs, runs unit + integration tests (which
# run the real binary on ../shared/crash-corpus), then grades the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

# The corpus builds C and C++ extensions.
if ! command -v g++ >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi

python3 -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt

cargo build --release --locked
cargo test --release --locked

# Issue 2's corpus cases; hang-gil, memory-blowup and leak-per-cycle belong to the safe runner.
cases=(c-assert c-stack-overflow cext-null-deref clean-pass ctypes-null double-free flaky-race
       fpe mp-child-crash pytest-crash-in-suite shutdown-static-dtor shutdown-static-dtor-abort
       thread-crash use-after-reinit xdist-worker-crash)
args=()
for c in "${cases[@]}"; do args+=(--case "$c"); done
python3 ../shared/crash-corpus/grade.py --faultline "$PWD/target/release/faultline" "${args[@]}"
