#!/usr/bin/env bash
# Runs every test: the Rust unit/integration tests of all crates and the
# pymilvus compatibility suite against the real release binary.
# Installs what it needs (a Python venv with tests/requirements.txt) itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== python venv (tests/requirements.txt)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --disable-pip-version-check -q -r tests/requirements.txt

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== build (release, once)"
cargo build --release --workspace --bins

echo "== rust tests"
cargo test --release --workspace

echo "== pymilvus compatibility suite"
export QUIVER_BIN="$PWD/target/release/quiver"
.venv/bin/python -m pytest tests/compat -q -p no:cacheprovider
