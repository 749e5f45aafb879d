#!/usr/bin/env bash
# ANN benchmark: quiver vs hnswlib, faiss (IndexHNSWFlat), faiss_sq8 (IndexHNSWSQ QT_8bit),
# usearch_i8 and usearch_f16 on one shared dataset, all in the same run.
#
#   scripts/bench-ann.sh DATA_DIR THREADS [extra bench_ann args, e.g. --efs 16,32,64]
#
# DATA_DIR is the output of shared/bench/gen_dataset.py. Runs the Rust example
# `bench_ann` (quiver-index) and scripts/bench_ann_peers.py (pip: hnswlib faiss-cpu numpy)
# (pip: hnswlib faiss-cpu usearch numpy; installed into $PYTHON's environment when missing)
# on the same files, prints both reports and the ratios, and as the last line one JSON
# object: {"threads", "n", "dim", "engines": {"quiver", "hnswlib", "faiss", "faiss_sq8",
# "usearch_i8", "usearch_f16"}} (plus "quiver_rr<f>" for extra --rerank factors).
# quiver runs with the server's storage mode (f16 rows + int8 codes) unless --storage says
# otherwise. The default ef grid steps by <= 1.25x, so "QPS at recall >= 0.95 / 0.99"
# (interpolated between grid points by bench_ann_report.py) is not decided by a grid step.
# Environment: PYTHON (default .venv/bin/python if present, else python3),
# BUILD_THREADS (e.g. "1,2": also time quiver builds at those thread counts),
# PEERS (default "hnswlib,faiss,faiss_sq8,usearch_i8,usearch_f16"; empty to skip),
# DUP_FRACTIONS (e.g. "0,0.05,0.2,0.5"): run everything once per fraction on a copy of
# DATA_DIR (in a temporary dir) where that fraction of the base rows are bit-identical
# copies of other rows (scripts/bench_ann_dups.py; recall then scored by distance), and
# finish with a markdown table of recall and QPS per fraction and engine.
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
PEERS=${PEERS-hnswlib,faiss,faiss_sq8,usearch_i8,usearch_f16}
# Fine ef grid (<= 1.25x steps) unless the caller passes --efs.
EFS_DEFAULT=10,12,15,19,24,30,37,46,58,72,90,112,140,175,219,274
case " $* " in *" --efs "*) ;; *) set -- --efs "$EFS_DEFAULT" "$@" ;; esac
if [ -n "$PEERS" ]; then
    need=()
    "$PY" -c 'import numpy' 2>/dev/null || need+=(numpy)
    case ",$PEERS," in *,hnswlib,*) "$PY" -c 'import hnswlib' 2>/dev/null || need+=(hnswlib) ;; esac
    case ",$PEERS," in *,faiss*) "$PY" -c 'import faiss' 2>/dev/null || need+=(faiss-cpu) ;; esac
    case ",$PEERS," in *,usearch_*) "$PY" -c 'import usearch' 2>/dev/null || need+=("usearch>=2.26,<2.27") ;; esac
    if [ ${#need[@]} -gt 0 ]; then
        echo "== installing ${need[*]} into $PY's environment"
        "$PY" -m pip install --quiet "${need[@]}"
    fi
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB"
EXTRA=()
if [ -n "${BUILD_THREADS:-}" ]; then EXTRA+=(--build-threads "$BUILD_THREADS"); fi
PEER_ARGS=()
for a in "$@"; do PEER_ARGS+=("$a"); done

# run_one DIR TAG: quiver, then the peers, then the merged report (to $TMP/TAG.report).
run_one() {
    local dir=$1 tag=$2
    echo "== quiver (cargo run --release -p quiver-index --example bench_ann) on $dir"
    (cd "$ROOT" && cargo run --quiet --release -p quiver-index --example bench_ann -- \
        "$dir" --threads "$THREADS" "${EXTRA[@]+"${EXTRA[@]}"}" "${PEER_ARGS[@]+"${PEER_ARGS[@]}"}") \
        | tee "$TMP/$tag.quiver.log"
    run_peers "$dir" "$tag" | tee "$TMP/$tag.report"
}

run_peers() {
    local dir=$1 tag=$2
    if [ -z "$PEERS" ]; then
        "$PY" "$ROOT/scripts/bench_ann_report.py" "$TMP/$tag.quiver.log"
        return
    fi
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
    "$PY" "$ROOT/scripts/bench_ann_peers.py" "$dir" "$THREADS" --engines "$PEERS" \
        "${FWD[@]+"${FWD[@]}"}" | tee "$TMP/$tag.peers.log"
    "$PY" "$ROOT/scripts/bench_ann_report.py" "$TMP/$tag.quiver.log" "$TMP/$tag.peers.log"
}

if [ -z "${DUP_FRACTIONS:-}" ]; then
    run_one "$DATA" base
    exit 0
fi
ROWS=()
for f in ${DUP_FRACTIONS//,/ }; do
    echo "== duplicate fraction $f"
    "$PY" "$ROOT/scripts/bench_ann_dups.py" make "$DATA" "$f" "$TMP/dup-$f"
    run_one "$TMP/dup-$f" "dup-$f"
    rm -rf "$TMP/dup-$f"
    ROWS+=("$f:$TMP/dup-$f.report")
done
echo "== recall@10 and QPS ($THREADS query threads) per duplicate fraction"
"$PY" "$ROOT/scripts/bench_ann_dups.py" table "${ROWS[@]}"
