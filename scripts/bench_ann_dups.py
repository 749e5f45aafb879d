#!/usr/bin/env python3
"""Duplicate-row variants of the shared ANN dataset, and the table of their results.

    bench_ann_dups.py make DATA_DIR FRACTION OUT_DIR [--group 100] [--seed 7]
    bench_ann_dups.py table FRACTION:REPORT_LOG...   (bench_ann_report.py output, JSON last)

`make` copies DATA_DIR to OUT_DIR with FRACTION of the base rows (random positions)
overwritten by bit-identical copies of source rows (on average `--group` copies per
source, as repeated chunks in a RAG corpus), recomputes the exact ground truth
(gt.ivecs, gt_tenant.ivecs; a copy keeps its row's tenant) and writes gt_kth.f32 /
gt_tenant_kth.f32: the cosine distance of each query's 10th true neighbour. With
those files present, bench_ann and bench_ann_peers.py score recall by distance (a hit
counts when it is at least as close as the 10th true neighbour): tied copies make ids
ambiguous, distances are not. Queries are unchanged.

`table` prints a markdown table: per fraction and engine, recall@10 and QPS at each ef.
"""
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
from gen_dataset import read_fvecs  # noqa: E402

K = 100


def write_fvecs(path, x):
    x = np.ascontiguousarray(x, dtype="<f4")
    rows = np.empty((x.shape[0], x.shape[1] + 1), dtype="<f4")
    rows[:, 0] = np.array([x.shape[1]], dtype="<i4").view("<f4")[0]
    rows[:, 1:] = x
    rows.tofile(path)


def write_ivecs(path, ids):
    ids = np.asarray(ids, dtype="<i4")
    rows = np.empty((ids.shape[0], ids.shape[1] + 1), dtype="<i4")
    rows[:, 0] = ids.shape[1]
    rows[:, 1:] = ids
    rows.tofile(path)


def exact_topk(base_n, queries_n, mask=None):
    """Ids (ties by id) and cosine distances of the exact top-K, float64."""
    sims = queries_n @ base_n.T
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :K]
    dist = 1.0 - np.take_along_axis(sims, order, axis=1)
    return order, dist


def make(data, frac, out, group=100, seed=7):
    base = np.array(read_fvecs(os.path.join(data, "base.fvecs")), dtype=np.float32)
    queries = np.array(read_fvecs(os.path.join(data, "query.fvecs")), dtype=np.float64)
    tb = np.fromfile(os.path.join(data, "tenant_base.u32"), dtype=np.uint32)
    tq = np.fromfile(os.path.join(data, "tenant_query.u32"), dtype=np.uint32)
    n = len(base)
    rng = np.random.default_rng(seed)
    copies = int(round(n * frac))
    if copies:
        perm = rng.permutation(n)
        sources = max(1, copies // group)
        src, dst = perm[:sources], perm[sources:sources + copies]
        base[dst] = base[src[rng.integers(0, sources, size=len(dst))]]
    os.makedirs(out, exist_ok=True)
    write_fvecs(os.path.join(out, "base.fvecs"), base)
    for f in ("query.fvecs", "tenant_base.u32", "tenant_query.u32"):
        shutil.copyfile(os.path.join(data, f), os.path.join(out, f))
    b = base.astype(np.float64)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-30)
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-30)
    ids, dist = exact_topk(b, q)
    write_ivecs(os.path.join(out, "gt.ivecs"), ids)
    dist[:, 9].astype("<f4").tofile(os.path.join(out, "gt_kth.f32"))
    tids = np.empty_like(ids)
    tdist = np.empty(len(q))
    for t in np.unique(tq):
        qs = np.nonzero(tq == t)[0]
        i, d = exact_topk(b, q[qs], mask=(tb == t)[None, :])
        tids[qs] = i
        tdist[qs] = d[:, 9]
    write_ivecs(os.path.join(out, "gt_tenant.ivecs"), tids)
    tdist.astype("<f4").tofile(os.path.join(out, "gt_tenant_kth.f32"))
    distinct = len(np.unique(base.view(np.void(base.shape[1] * 4))))
    with open(os.path.join(out, "dups.json"), "w") as f:
        json.dump({"fraction": frac, "copies": copies, "distinct_rows": distinct, "n": n}, f)
    print(f"wrote {out}: n={n}, {copies} copies ({frac:.0%}), {distinct} distinct rows")


def table(paths):
    print("| dup fraction | engine | build s | " + " | ".join(["ef", "recall@10", "QPS"]) + " |")
    print("|---:|---|---:|---:|---:|---:|")
    for arg in paths:
        frac, p = arg.split(":", 1)
        with open(p) as f:
            lines = [ln for ln in f.read().splitlines() if ln.startswith("{")]
        rep = json.loads(lines[-1])
        for name, e in rep["engines"].items():
            for pt in e["curve"]:
                print(f"| {frac} | {name} | {e['build_s']:.2f} | {pt['ef']} | {pt['recall']:.4f} | {pt['qps']:,.0f} |")


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "make":
        kw = {}
        rest = sys.argv[5:]
        for k, v in zip(rest[::2], rest[1::2]):
            kw[k.lstrip("-")] = int(v)
        make(sys.argv[2], float(sys.argv[3]), sys.argv[4], **kw)
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
