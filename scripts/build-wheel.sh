#!/usr/bin/env bash
# Builds the portable wheel (manylinux2014, glibc 2.17) from this checkout and prints its
# path on stdout (everything else goes to stderr). maturin links with zig (the `ziglang`
# package from PyPI) against glibc 2.17's symbols, and its auditwheel check fails the build,
# instead of bundling anything, if the binary needs a library or symbol outside the tag.
#
# Everything stays under target/: the build venv (target/wheel-build/venv, reused), zig's
# and maturin's caches, and a cargo target dir of its own (target/zig: the linker and the C
# compiler differ from a plain `cargo build`, whose target/release stays as it was).
set -euo pipefail
cd "$(dirname "$0")/.."

MATURIN_VERSION=1.16.0
ZIGLANG_VERSION=0.17.1
COMPATIBILITY=manylinux2014

build=target/wheel-build
venv=$build/venv
if [ "$("$venv/bin/maturin" --version 2>/dev/null)" != "maturin $MATURIN_VERSION" ] \
    || [ "$("$venv/bin/python" -m ziglang version 2>/dev/null)" != "$ZIGLANG_VERSION" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
        "maturin==$MATURIN_VERSION" "ziglang==$ZIGLANG_VERSION" >&2
fi

# zig's caches, and maturin's zig wrappers (written to XDG_CACHE_HOME/cargo-zigbuild).
export ZIG_GLOBAL_CACHE_DIR="$PWD/$build/zig-cache" ZIG_LOCAL_CACHE_DIR="$PWD/$build/zig-cache"
export XDG_CACHE_HOME="$PWD/$build/cache"
export CARGO_TARGET_DIR="$PWD/target/zig"
out=$build/dist
rm -rf "$out"
started=$(date +%s)
# maturin finds zig through the venv's python (`python -m ziglang`).
PATH="$PWD/$venv/bin:$PATH" maturin build --release --locked --zig --compatibility "$COMPATIBILITY" \
    --auditwheel check --out "$out" >&2
wheel=$(ls "$out"/faultline-*.whl)
echo "build-wheel: $(basename "$wheel"), $(du -h "$wheel" | cut -f1), built in $(($(date +%s) - started)) s" >&2
echo "$PWD/$wheel"
