#!/usr/bin/env python3
"""Peer HNSW engines on the shared ANN dataset, measured the same way as quiver's
`bench_ann` example: single-query loop over THREADS threads, recall@10 against gt.ivecs,
per-tenant filtered recall against gt_tenant.ivecs.

Engines: hnswlib, faiss (IndexHNSWFlat), faiss_sq8 (IndexHNSWSQ, QT_8bit: traversal and
distances on 8-bit codes, no re-rank), usearch_i8 and usearch_f16 (usearch with i8 / f16
vector storage). All get the same M and efConstruction. usearch has no filter callback in
its Python API, so its filtered recall is not measured (null).

usage: bench_ann_peers.py DATA_DIR THREADS [--m 16] [--efc 256] [--efs 16,32,64,128,256]
                          [--filter-ef 64] [--engines hnswlib,faiss,faiss_sq8,usearch_i8,usearch_f16]
Prints a report and, as the last line, {"engines": {"hnswlib": {...}, ...}}.
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
from gen_dataset import read_fvecs, read_ivecs  # noqa: E402


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# Set by main() when the dataset has gt_kth.f32 (duplicate-row variants written by
# bench_ann_dups.py): (normalised base, normalised queries, kth, kth per tenant).
DIST = None


def recall10(res, gt, qids=None, tenant=False):
    """By id; by distance (within 1e-6 of the 10th true neighbour's) when DIST is set."""
    if DIST is not None:
        base_n, q_n, kth, kth_t = DIST
        qids = range(len(res)) if qids is None else qids
        tot = 0.0
        for r, qi in zip(res, qids):
            ids = np.asarray(r[:10], dtype=np.int64)
            d = 1.0 - base_n[ids] @ q_n[qi]
            tot += float(np.sum(d <= (kth_t if tenant else kth)[qi] + 1e-6)) / 10.0
        return tot / len(res)
    tot = 0.0
    for r, g in zip(res, gt):
        g = [x for x in g[:10] if x >= 0]
        if not g:
            tot += 1.0
            continue
        tot += len(set(int(x) for x in r[:10]) & set(int(x) for x in g)) / len(g)
    return tot / len(gt)


def run_queries(search, queries, threads):
    """Returns (results, wall seconds, sorted latencies in microseconds)."""
    nq = len(queries)
    results = [None] * nq
    lat = [0.0] * nq

    def work(t):
        for i in range(t, nq, threads):
            t0 = time.perf_counter()
            results[i] = search(queries[i])
            lat[i] = (time.perf_counter() - t0) * 1e6

    t0 = time.perf_counter()
    if threads == 1:
        work(0)
    else:
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(work, range(threads)))
    wall = time.perf_counter() - t0
    return results, wall, sorted(lat)


def pct(xs, p):
    return xs[int(round((len(xs) - 1) * p))] if xs else 0.0


def curve(name, make_search, queries, gt, efs, threads):
    out = []
    for ef in efs:
        search = make_search(ef)
        run_queries(search, queries[:100], 1)  # warm-up
        res, wall1, lat = run_queries(search, queries, 1)
        wall = run_queries(search, queries, threads)[1] if threads > 1 else wall1
        p = {
            "ef": ef,
            "recall": round(recall10(res, gt), 4),
            "qps": round(len(queries) / wall, 1),
            "qps_1t": round(len(queries) / wall1, 1),
            "p50_us": round(pct(lat, 0.5), 1),
            "p99_us": round(pct(lat, 0.99), 1),
        }
        print(f"  ef={ef:<4} recall@10={p['recall']:.4f}  qps({threads}t)={p['qps']:>9.1f}  "
              f"qps(1t)={p['qps_1t']:>9.1f}  p50={p['p50_us']:>7.1f}us  p99={p['p99_us']:>7.1f}us", flush=True)
        out.append(p)
    return out


def filtered(name, make_filtered, queries, tq, tb, gt_tenant, ef):
    print(f"{name} filtered search (ef={ef}, 1 thread):", flush=True)
    worst = 1.0
    for t in sorted(set(tq.tolist())):
        qs = np.nonzero(tq == t)[0]
        mask = tb == t
        search = make_filtered(mask, ef)
        t0 = time.perf_counter()
        res = [search(queries[i]) for i in qs]
        secs = time.perf_counter() - t0
        r = recall10(res, gt_tenant[qs], qids=qs, tenant=True)
        worst = min(worst, r)
        print(f"  tenant {t:>3}: {100 * mask.mean():5.2f}% of rows  recall@10={r:.4f}  qps={len(qs) / secs:.1f}",
              flush=True)
    return worst


def bench_hnswlib(base, queries, gt, tb, tq, gtt, a):
    import hnswlib
    n, d = base.shape
    r0 = rss()
    t0 = time.perf_counter()
    idx = hnswlib.Index(space="ip", dim=d)
    idx.init_index(max_elements=n, M=a.m, ef_construction=a.efc, random_seed=42)
    idx.add_items(base, np.arange(n), num_threads=a.threads)
    build = time.perf_counter() - t0
    mem = rss() - r0
    print(f"hnswlib build (M={a.m}, efC={a.efc}, {a.threads} threads): {build:.2f} s, RSS growth {mem / 1e6:.1f} MB",
          flush=True)
    print("hnswlib search (single-query loop):", flush=True)

    def make(ef):
        idx.set_ef(ef)
        return lambda q: idx.knn_query(q, k=10, num_threads=1)[0][0]

    c = curve("hnswlib", make, queries, gt, a.efs, a.threads)

    def make_f(mask, ef):
        idx.set_ef(ef)
        return lambda q: idx.knn_query(q, k=10, num_threads=1, filter=lambda i: bool(mask[i]))[0][0]

    fmin = filtered("hnswlib", make_f, queries, tq, tb, gtt, a.filter_ef)
    return {"build_s": round(build, 3), "bytes_per_vector": round(mem / n, 1),
            "filtered_recall_min": round(fmin, 4), "curve": c}


def bench_faiss(base, queries, gt, tb, tq, gtt, a):
    import faiss
    n, d = base.shape
    faiss.omp_set_num_threads(a.threads)
    r0 = rss()
    t0 = time.perf_counter()
    idx = faiss.IndexHNSWFlat(d, a.m, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = a.efc
    idx.add(np.ascontiguousarray(base))
    build = time.perf_counter() - t0
    mem = rss() - r0
    print(f"faiss build (M={a.m}, efC={a.efc}, {a.threads} threads): {build:.2f} s, RSS growth {mem / 1e6:.1f} MB",
          flush=True)
    faiss.omp_set_num_threads(1)
    print("faiss search (single-query loop):", flush=True)

    def make(ef):
        p = faiss.SearchParametersHNSW()
        p.efSearch = ef
        return lambda q: idx.search(q.reshape(1, -1), 10, params=p)[1][0]

    c = curve("faiss", make, queries, gt, a.efs, a.threads)

    def make_f(mask, ef):
        sel = faiss.IDSelectorBatch(np.nonzero(mask)[0].astype(np.int64))
        p = faiss.SearchParametersHNSW()
        p.efSearch = ef
        p.sel = sel
        return lambda q: idx.search(q.reshape(1, -1), 10, params=p)[1][0]

    fmin = filtered("faiss", make_f, queries, tq, tb, gtt, a.filter_ef)
    return {"build_s": round(build, 3), "bytes_per_vector": round(mem / n, 1),
            "filtered_recall_min": round(fmin, 4), "curve": c}


def bench_faiss_sq8(base, queries, gt, tb, tq, gtt, a):
    import faiss
    n, d = base.shape
    faiss.omp_set_num_threads(a.threads)
    r0 = rss()
    t0 = time.perf_counter()
    idx = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, a.m, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = a.efc
    idx.train(np.ascontiguousarray(base))
    idx.add(np.ascontiguousarray(base))
    build = time.perf_counter() - t0
    mem = rss() - r0
    print(f"faiss_sq8 build (IndexHNSWSQ QT_8bit, M={a.m}, efC={a.efc}, {a.threads} threads, train included): "
          f"{build:.2f} s, RSS growth {mem / 1e6:.1f} MB", flush=True)
    faiss.omp_set_num_threads(1)
    print("faiss_sq8 search (single-query loop):", flush=True)

    def make(ef):
        p = faiss.SearchParametersHNSW()
        p.efSearch = ef
        return lambda q: idx.search(q.reshape(1, -1), 10, params=p)[1][0]

    c = curve("faiss_sq8", make, queries, gt, a.efs, a.threads)

    def make_f(mask, ef):
        p = faiss.SearchParametersHNSW()
        p.efSearch = ef
        p.sel = faiss.IDSelectorBatch(np.nonzero(mask)[0].astype(np.int64))
        return lambda q: idx.search(q.reshape(1, -1), 10, params=p)[1][0]

    fmin = filtered("faiss_sq8", make_f, queries, tq, tb, gtt, a.filter_ef)
    return {"build_s": round(build, 3), "bytes_per_vector": round(mem / n, 1),
            "filtered_recall_min": round(fmin, 4), "curve": c}


def bench_usearch(base, queries, gt, a, dtype):
    from usearch.index import Index
    name = f"usearch_{dtype}"
    n, d = base.shape
    r0 = rss()
    t0 = time.perf_counter()
    # Vectors are unit length, so "cos" orders as inner product; usearch's i8 storage
    # is meant for cosine (it scales unit components by 127).
    idx = Index(ndim=d, metric="cos", dtype=dtype, connectivity=a.m, expansion_add=a.efc)
    idx.add(np.arange(n, dtype=np.uint64), base, threads=a.threads)
    build = time.perf_counter() - t0
    mem = rss() - r0
    print(f"{name} build (M={a.m}, efC={a.efc}, {a.threads} threads): {build:.2f} s, RSS growth "
          f"{mem / 1e6:.1f} MB (usearch memory_usage {idx.memory_usage / 1e6:.1f} MB)", flush=True)
    print(f"{name} search (single-query loop):", flush=True)

    def make(ef):
        idx.expansion_search = ef
        return lambda q: idx.search(q, 10, threads=1).keys

    c = curve(name, make, queries, gt, a.efs, a.threads)
    return {"build_s": round(build, 3), "bytes_per_vector": round(mem / n, 1),
            "filtered_recall_min": None, "curve": c}


ENGINES = {
    "hnswlib": bench_hnswlib,
    "faiss": bench_faiss,
    "faiss_sq8": bench_faiss_sq8,
    "usearch_i8": lambda b, q, g, tb, tq, gtt, a: bench_usearch(b, q, g, a, "i8"),
    "usearch_f16": lambda b, q, g, tb, tq, gtt, a: bench_usearch(b, q, g, a, "f16"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("threads", type=int)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=256)
    ap.add_argument("--efs", default="16,32,64,128,256")
    ap.add_argument("--filter-ef", type=int, default=64)
    ap.add_argument("--engines", default=",".join(ENGINES))
    a = ap.parse_args()
    a.efs = [int(x) for x in a.efs.split(",")]
    base = np.ascontiguousarray(read_fvecs(os.path.join(a.data, "base.fvecs")))
    queries = np.ascontiguousarray(read_fvecs(os.path.join(a.data, "query.fvecs")))
    gt = read_ivecs(os.path.join(a.data, "gt.ivecs"))
    gtt = read_ivecs(os.path.join(a.data, "gt_tenant.ivecs"))
    tb = np.fromfile(os.path.join(a.data, "tenant_base.u32"), dtype=np.uint32)
    tq = np.fromfile(os.path.join(a.data, "tenant_query.u32"), dtype=np.uint32)
    kth_path = os.path.join(a.data, "gt_kth.f32")
    if os.path.exists(kth_path):
        global DIST
        b = base.astype(np.float64)
        b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300)
        q = queries.astype(np.float64)
        q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-300)
        DIST = (b, q, np.fromfile(kth_path, dtype="<f4").astype(np.float64),
                np.fromfile(os.path.join(a.data, "gt_tenant_kth.f32"), dtype="<f4").astype(np.float64))
        print("recall by distance (gt_kth.f32 present)", flush=True)
    engines = {}
    for e in a.engines.split(","):
        engines[e] = ENGINES[e](base, queries, gt, tb, tq, gtt, a)
    print(json.dumps({"engines": engines}))


if __name__ == "__main__":
    main()
