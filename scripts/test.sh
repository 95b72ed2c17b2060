#!/usr/bin/env bash
# The whole test suite: installs what it needs, runs unit + integration tests (which
# run the real binary on ../shared/crash-corpus), then grades the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

# The corpus builds C and C++ extensions.
if ! command -v g++ >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi

# PostgreSQL (crash store) and headless Chromium (HTML report); exports FAULTLINE_TEST_POSTGRES.
source scripts/services.sh

python3 -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt

cargo build --release --locked
cargo test --release --locked

# Every case of the corpus. (grade.py runs the binary from each case's folder: give it an
# absolute path. It compares faultline's status with "what a shell sees", so it runs
# faultline through a shell: see scripts/faultline-shell-status.)
python3 ../shared/crash-corpus/grade.py --faultline "$PWD/scripts/faultline-shell-status"
