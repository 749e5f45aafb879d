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

echo "== cargo build and cargo test share one build of every dependency"
./scripts/check-features.sh

echo "== build (release, once)"
cargo build --release --workspace --bins

echo "== rust tests"
cargo test --release --workspace

echo "== pymilvus compatibility suite (local filesystem storage)"
export QUIVER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/quiver"
.venv/bin/python -m pytest tests/compat -q -p no:cacheprovider

echo "== pymilvus compatibility suite (roles behind a loopback quiver.internal gRPC hop)"
QUIVER_LOOPBACK_ROLES=1 .venv/bin/python -m pytest tests/compat -q -p no:cacheprovider \
  --deselect tests/compat/test_recall.py --deselect tests/compat/test_proto_drift.py

echo "== pymilvus compatibility suite (S3 storage: moto_server on 127.0.0.1)"
S3_PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$S3_PORT" > /tmp/quiver-moto.log 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break
  sleep 0.2
done
curl -s -f -X PUT "http://127.0.0.1:$S3_PORT/quiver-test" -o /dev/null
export AWS_ENDPOINT="http://127.0.0.1:$S3_PORT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
       AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
QUIVER_TEST_STORAGE="s3://quiver-test/compat" \
  .venv/bin/python -m pytest tests/compat -q -p no:cacheprovider \
  --deselect tests/compat/test_recall.py --deselect tests/compat/test_proto_drift.py
