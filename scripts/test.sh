#!/usr/bin/env bash
# The whole test suite: installs what it needs, runs unit + integration tests (which
# run the real binary on ../shared/crash-corpus), then grades the release binary.
#
# What it installs, as root on Debian 12: with apt, g++, postgresql, chromium and
# chromium-driver when missing (and python3-venv when Debian's python3 lacks it); a
# PostgreSQL role `faultline` that may create databases (scripts/services.sh); the Python
# packages of scripts/test-requirements.txt into target/test-venv (with CI=true, into the
# python3 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

# The corpus builds C and C++ extensions.
if ! command -v g++ >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi

# PostgreSQL (crash store) and headless Chromium (HTML report); exports FAULTLINE_TEST_POSTGRES.
source scripts/services.sh

# The tests' Python packages (scripts/test-requirements.txt). In CI (CI=true: a machine used
# once) into the python3 on PATH; elsewhere into a virtual environment of this checkout,
# target/test-venv, put first on PATH for the tests, so that no Python of the system or the
# user gets packages installed or upgraded.
pip_install() {
    "$1" -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
}
if [ "${CI:-}" = true ]; then
    pip_install python3
else
    venv="$PWD/target/test-venv"
    if [ ! -x "$venv/bin/pip" ]; then
        # A failed attempt leaves a folder without pip behind.
        rm -rf "$venv"
        if ! python3 -m venv "$venv"; then
            rm -rf "$venv"
            # Debian splits venv (with ensurepip) from python3.
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(command -v python3)" = /usr/bin/python3 ]; then
                apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
                python3 -m venv "$venv"
            else
                echo "test.sh: $(command -v python3) cannot create a virtual environment (on Debian or Ubuntu: apt-get install python3-venv)" >&2
                exit 1
            fi
        fi
    fi
    pip_install "$venv/bin/python3"
    export PATH="$venv/bin:$PATH"
fi

cargo build --release --locked
# The Python package (tests/wheel.rs installs it into fresh venvs): a manylinux2014 wheel
# built with maturin and zig, all under target/.
FAULTLINE_TEST_WHEEL="$(scripts/build-wheel.sh)"
export FAULTLINE_TEST_WHEEL
cargo test --release --locked

# Every case of the corpus. (grade.py runs the binary from each case's folder: give it an
# absolute path. It compares faultline's status with "what a shell sees", so it runs
# faultline through a shell: see scripts/faultline-shell-status.)
python3 ../shared/crash-corpus/grade.py --faultline "$PWD/scripts/faultline-shell-status"
