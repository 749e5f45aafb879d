#!/usr/bin/env bash
# ANN benchmark: quiver vs hnswlib vs faiss (IndexHNSWFlat) on one shared dataset.
#
#   scripts/bench-ann.sh DATA_DIR THREADS [extra bench_ann args, e.g. --efs 16,32,64]
#
# DATA_DIR is the output of shared/bench/gen_dataset.py. Runs the Rust example
# `bench_ann` (quiver-index) and scripts/bench_ann_peers.py (pip: hnswlib faiss-cpu numpy)
# on the same files, prints both reports and the ratios, and as the last line one JSON
# object: {"threads", "n", "dim", "engines": {"quiver", "hnswlib", "faiss"}}.
# Environment: PYTHON (default .venv/bin/python if present, else python3),
# BUILD_THREADS (e.g. "1,2": also time quiver builds at those thread counts),
# PEERS (default "hnswlib,faiss"; empty to skip).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 DATA_DIR THREADS [bench_ann args]" >&2
    exit 2
fi
DATA=$1
THREADS=$2
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi
PEERS=${PEERS-hnswlib,faiss}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB"
echo "== quiver (cargo run --release -p quiver-index --example bench_ann)"
EXTRA=()
if [ -n "${BUILD_THREADS:-}" ]; then EXTRA+=(--build-threads "$BUILD_THREADS"); fi
(cd "$ROOT" && cargo run --quiet --release -p quiver-index --example bench_ann -- \
    "$DATA" --threads "$THREADS" "${EXTRA[@]}" "$@") | tee "$TMP/quiver.log"

PEER_ARGS=()
for a in "$@"; do PEER_ARGS+=("$a"); done
if [ -n "$PEERS" ]; then
    echo "== peers ($PEERS) via $PY"
    # Only the options both harnesses understand are forwarded.
    FWD=()
    set -- "${PEER_ARGS[@]+"${PEER_ARGS[@]}"}"
    while [ $# -gt 0 ]; do
        case $1 in
            --m|--efc|--efs|--filter-ef) FWD+=("$1" "$2"); shift 2 ;;
            *) shift ;;
        esac
    done
    "$PY" "$ROOT/scripts/bench_ann_peers.py" "$DATA" "$THREADS" --engines "$PEERS" \
        "${FWD[@]+"${FWD[@]}"}" | tee "$TMP/peers.log"
    "$PY" "$ROOT/scripts/bench_ann_report.py" "$TMP/quiver.log" "$TMP/peers.log"
else
    "$PY" "$ROOT/scripts/bench_ann_report.py" "$TMP/quiver.log"
fi
