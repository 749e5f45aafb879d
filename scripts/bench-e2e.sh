#!/usr/bin/env bash
# End-to-end benchmark of the Quiver server through unmodified pymilvus (MilvusClient).
#
#   scripts/bench-e2e.sh DATA_DIR [THREADS...] [--no-partition-key | --both] [bench_e2e.py options]
#
# If DATA_DIR has no dataset, generates it with shared/bench/gen_dataset.py
# (--n $N, default 100000, --seed 42). Builds target/release/quiver if missing, then runs
# scripts/bench_e2e.py: client-side limit (scripts/null_milvus.py), then the release server on
# a free 127.0.0.1 port with a temp data dir: insert (batches of 1,000; 1 thread, then 2 and 4
# threads on fresh collections), flush, HNSW COSINE M=16 efConstruction=256, load, search at
# ef=64 with each THREADS count (default 1 4), tenant-filtered search. Prints a table and, as
# the last line, one JSON object with every figure.
# Environment: N (rows to generate, default 100000), PYTHON (default .venv/bin/python),
# BENCH_DIR (default ../shared/bench beside the repo), BENCH_TMPDIR (where the server's temp data dir
# goes), PHASE_TIMEOUT (s per phase, default 1800), TOTAL_TIMEOUT (s, default 10800),
# KEEP_DATA=1 keeps the temp dirs.
set -euo pipefail
if [ $# -lt 1 ]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
DATA=$1
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
export BENCH_DIR
N=${N:-100000}

have_data=1
for f in base.fvecs query.fvecs tenant_base.u32 tenant_query.u32 gt.ivecs gt_tenant.ivecs; do
    [ -s "$DATA/$f" ] || have_data=0
done
if [ $have_data = 0 ]; then
    echo "== generating dataset: n=$N seed=42 -> $DATA" >&2
    mkdir -p "$DATA"
    "$PY" "$BENCH_DIR/gen_dataset.py" --n "$N" --seed 42 --out "$DATA" >&2
else
    have_n=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["params"]["n"])' "$DATA/meta.json" 2>/dev/null || echo "?")
    echo "== using existing dataset in $DATA (n=$have_n)" >&2
fi

BIN="$ROOT/target/release/quiver"
if [ ! -x "$BIN" ]; then
    echo "== building release binary" >&2
    (cd "$ROOT" && cargo build --release) >&2
fi

exec "$PY" -u "$ROOT/scripts/bench_e2e.py" "$DATA" --binary "$BIN" "$@"
