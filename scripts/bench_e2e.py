#!/usr/bin/env python3
"""End-to-end benchmark of the Quiver server through unmodified pymilvus (MilvusClient).

    python scripts/bench_e2e.py DATA_DIR [THREADS...] [--no-partition-key | --both] [options]

Normally run through scripts/bench-e2e.sh, which generates the dataset if needed and builds
the release binary. DATA_DIR is the output of shared/bench/gen_dataset.py. THREADS are the
client thread counts for the unfiltered search loop (default: 1 4); the insert loop runs with
1 thread on the measured collection and with --insert-threads (default 2,4) on fresh
collections.

Phases (each bounded by a timeout; servers are killed on exit, Ctrl-C and errors):
  1. client-side limit: scripts/null_milvus.py (answers at once) in a separate process; the
     same insert and search loops run against it.
  2. Quiver: release server on a free 127.0.0.1 port with a temp data dir; collection
     id INT64 pk, vector FLOAT_VECTOR(dim), tenant INT64 (partition key, num_partitions=16,
     unless --no-partition-key); insert in batches of 1,000 (1 thread), flush, create_index
     HNSW COSINE M=16 efConstruction=256, load; disk bytes/row and RSS; search at ef=64,
     limit=10, nq=1 per call with each THREADS count; tenant-filtered search (1 thread);
     then multi-thread inserts into fresh collections (dropped afterwards).
Output: a readable table, then as the last line one JSON object with every figure.
"""

import argparse
import atexit
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.environ.get("BENCH_DIR", os.path.join(ROOT, "..", "shared", "bench"))
sys.path.insert(0, BENCH_DIR)
from gen_dataset import read_fvecs, read_ivecs  # noqa: E402

from pymilvus import DataType, MilvusClient  # noqa: E402

# Milvus 2.3.5 standalone, same data shape (100k x 1536) and client (issues 3 item 9, 4 item 7).
MILVUS = {
    "insert_rows_per_s": 3600.0,
    "flush_index_load_s": 250.0,
    "search_qps_1t": 150.0,
    "search_p50_ms_1t": 6.0,
    "search_p99_ms_1t": 21.0,
    "search_qps_4t": 190.0,
}
BATCH = 1000
TOPK = 10
EF = 64
SEARCH_PARAMS = {"metric_type": "COSINE", "params": {"ef": EF}}
CALL_TIMEOUT = 120.0  # per gRPC call

_children = []  # Popen objects to kill on exit
_tmpdirs = []


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def _cleanup():
    for p in _children:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
    for p in _children:
        try:
            p.wait(timeout=10)
        except Exception:
            pass
    _children.clear()
    if not os.environ.get("KEEP_DATA"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
        _tmpdirs.clear()


atexit.register(_cleanup)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# Also when started from a non-interactive shell with `&` (SIGINT inherited as ignored).
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


class PhaseTimeout(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_process(cmd, log_path, ready_text, timeout):
    logf = open(log_path, "wb")
    p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    _children.append(p)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {p.returncode}; see {log_path}:\n"
                               + open(log_path, errors="replace").read()[-2000:])
        with open(log_path, "rb") as f:
            if ready_text.encode() in f.read():
                return p
        time.sleep(0.05)
    raise PhaseTimeout(f"{cmd} not ready after {timeout}s; see {log_path}")


def stop_process(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
    if p in _children:
        _children.remove(p)


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state); utime/stime are fields 14/15.
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024  # kB -> bytes
    return None


def disk_usage(path):
    """(allocated bytes like `du -s`, apparent bytes) of a directory tree."""
    alloc = apparent = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            alloc += st.st_blocks * 512
            apparent += st.st_size
    return alloc, apparent


def pct(values, p):
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), p))


def ms(v):
    return None if v is None else round(v * 1000.0, 3)


def make_client(uri):
    return MilvusClient(uri=uri, timeout=CALL_TIMEOUT)


def make_schema(dim, partition_key):
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    if partition_key:
        schema.add_field("tenant", DataType.INT64, is_partition_key=True)
    else:
        schema.add_field("tenant", DataType.INT64)
    return schema


def create_collection(client, name, dim, partition_key):
    if client.has_collection(name):
        client.drop_collection(name)
    kw = {"num_partitions": 16} if partition_key else {}
    client.create_collection(name, schema=make_schema(dim, partition_key), timeout=CALL_TIMEOUT, **kw)


def run_workers(threads, uri, work, deadline):
    """Run work(client, tid) in `threads` threads, each with its own MilvusClient."""
    errors = []
    clients = [make_client(uri) for _ in range(threads)]

    def body(tid):
        try:
            work(clients[tid], tid)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(1.0, deadline - time.monotonic() + 30))
    wall = time.perf_counter() - t0
    alive = any(t.is_alive() for t in ts)
    for c in clients:
        try:
            c.close()
        except Exception:
            pass
    if alive:
        raise PhaseTimeout("worker threads did not finish before the phase deadline")
    if errors:
        raise errors[0]
    return wall


class Counter:
    def __init__(self, limit):
        self.i = 0
        self.limit = limit
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            if self.i >= self.limit:
                return None
            v = self.i
            self.i += 1
            return v


def insert_loop(uri, coll, base, tenants, n, threads, timeout, server_pid=None):
    """Insert rows 0..n-1 in batches of BATCH with `threads` client threads."""
    nb = (n + BATCH - 1) // BATCH
    ctr = Counter(nb)
    lat = [[] for _ in range(threads)]
    deadline = time.monotonic() + timeout
    timed_out = [False]
    done_rows = [0] * threads

    def work(client, tid):
        while True:
            b = ctr.next()
            if b is None:
                return
            if time.monotonic() > deadline:
                timed_out[0] = True
                return
            lo, hi = b * BATCH, min(n, (b + 1) * BATCH)
            rows = [{"id": i, "vector": base[i], "tenant": int(tenants[i])} for i in range(lo, hi)]
            t = time.perf_counter()
            res = client.insert(coll, rows, timeout=CALL_TIMEOUT)
            lat[tid].append(time.perf_counter() - t)
            cnt = res["insert_count"] if isinstance(res, dict) else getattr(res, "insert_count", hi - lo)
            if cnt != hi - lo:
                raise RuntimeError(f"insert_count {cnt} != {hi - lo}")
            done_rows[tid] += hi - lo

    cpu0 = cpu_seconds(server_pid) if server_pid else None
    wall = run_workers(threads, uri, work, deadline)
    cpu1 = cpu_seconds(server_pid) if server_pid else None
    rows = sum(done_rows)
    all_lat = [x for l in lat for x in l]
    out = {
        "threads": threads,
        "rows": rows,
        "seconds": round(wall, 3),
        "rows_per_s": round(rows / wall, 1) if wall > 0 else None,
        "p50_ms": ms(pct(all_lat, 50)),
        "p99_ms": ms(pct(all_lat, 99)),
        "max_ms": ms(max(all_lat) if all_lat else None),
        "timed_out": timed_out[0],
    }
    if server_pid:
        out["server_cpu_s"] = round(cpu1 - cpu0, 3)
        out["server_cpu_us_per_row"] = round((cpu1 - cpu0) * 1e6 / rows, 2) if rows else None
    return out


def recall(found, gt, idx, k=TOPK):
    tot = 0.0
    cnt = 0
    for qi in idx:
        if found[qi] is None:  # not run (phase timed out)
            continue
        g = set(int(x) for x in gt[qi, :k] if x >= 0)
        if not g:
            continue
        f = set(int(x) for x in found[qi][:k] if x is not None and x >= 0)
        tot += len(f & g) / len(g)
        cnt += 1
    return tot / cnt if cnt else None


# Untimed warm-up before each search phase. Right after an index is built this VM's
# proactive memory reclaim (DAMON) touches the new, briefly idle pages, which stalls the
# first second or two of queries by 10-30 ms; a real server has long been past that.
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", 5))


def search_loop(uri, coll, queries, threads, timeout, filters=None, warmup=10):
    """One query per call (nq=1, limit=10, ef=64) over all queries with `threads` threads."""
    nq = len(queries)
    ctr = Counter(nq)
    found = [None] * nq
    lat = [[] for _ in range(threads)]
    deadline = time.monotonic() + timeout
    timed_out = [False]
    # Warm-up on a separate client (connection set-up, first-call costs), not timed.
    wc = make_client(uri)
    try:
        until = time.monotonic() + WARMUP_SECONDS
        qi = 0
        while qi < min(warmup, nq) or time.monotonic() < until:
            j = qi % nq
            wc.search(coll, [queries[j]], limit=TOPK, search_params=SEARCH_PARAMS,
                      filter=filters[j] if filters else "", timeout=CALL_TIMEOUT)
            qi += 1
    finally:
        wc.close()

    def work(client, tid):
        while True:
            qi = ctr.next()
            if qi is None:
                return
            if time.monotonic() > deadline:
                timed_out[0] = True
                return
            t = time.perf_counter()
            res = client.search(coll, [queries[qi]], limit=TOPK, search_params=SEARCH_PARAMS,
                                filter=filters[qi] if filters else "", timeout=CALL_TIMEOUT)
            lat[tid].append(time.perf_counter() - t)
            found[qi] = [h["id"] for h in res[0]]

    wall = run_workers(threads, uri, work, deadline)
    all_lat = [x for l in lat for x in l]
    done = len(all_lat)
    return {
        "threads": threads,
        "queries": done,
        "seconds": round(wall, 3),
        "qps": round(done / wall, 1) if wall > 0 else None,
        "p50_ms": ms(pct(all_lat, 50)),
        "p99_ms": ms(pct(all_lat, 99)),
        "max_ms": ms(max(all_lat) if all_lat else None),
        "calls_over_10ms": sum(1 for x in all_lat if x > 0.010),
        "timed_out": timed_out[0],
    }, found


def client_limit(args, base, tenants, queries, qfilters):
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="null-milvus-")
    _tmpdirs.append(tmp)
    p = start_process([sys.executable, os.path.join(ROOT, "scripts", "null_milvus.py"),
                       "--port", str(port), "--dim", str(base.shape[1])],
                      os.path.join(tmp, "null.log"), "listening on", 60)
    uri = f"http://127.0.0.1:{port}"
    try:
        out = {"insert": [], "search": []}
        for t in [1] + args.insert_threads:
            r = insert_loop(uri, "bench", base, tenants, args.n, t, args.phase_timeout)
            log(f"  client-limit insert {t}t: {r['rows_per_s']} rows/s")
            out["insert"].append(r)
        for t in args.threads:
            r, _ = search_loop(uri, "bench", queries, t, args.phase_timeout)
            log(f"  client-limit search {t}t: {r['qps']} qps")
            out["search"].append(r)
        r, _ = search_loop(uri, "bench", queries, 1, args.phase_timeout, filters=qfilters)
        out["search_filtered_1t"] = r
        return out
    finally:
        stop_process(p)


def run_quiver(args, base, tenants, queries, qtenants, qfilters, gt, gt_tenant, partition_key):
    binary = args.binary
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="quiver-e2e-", dir=args.tmp_dir)
    _tmpdirs.append(tmp)
    data_dir = os.path.join(tmp, "data")
    os.makedirs(data_dir)
    cmd = [binary, "serve", "--port", str(port), "--data-dir", data_dir]
    if args.config:
        cmd += ["--config", args.config]
    p = start_process(cmd, os.path.join(tmp, "server.log"), "listening on", 120)
    pid = p.pid
    uri = f"http://127.0.0.1:{port}"
    res = {"partition_key": partition_key, "server_pid": pid}
    n, dim = args.n, base.shape[1]
    try:
        client = make_client(uri)
        coll = "bench"
        create_collection(client, coll, dim, partition_key)

        log(f"  quiver insert 1t ({n} rows) ...")
        ins = insert_loop(uri, coll, base, tenants, n, 1, args.phase_timeout, server_pid=pid)
        res["insert_1t"] = ins
        if ins["timed_out"] or ins["rows"] != n:
            raise PhaseTimeout(f"insert phase exceeded {args.phase_timeout}s after {ins['rows']} rows")
        log(f"  quiver insert 1t: {ins['rows_per_s']} rows/s")

        t = time.perf_counter()
        client.flush(coll, timeout=args.phase_timeout)
        res["flush_s"] = round(time.perf_counter() - t, 3)
        log(f"  flush {res['flush_s']} s")

        ip = client.prepare_index_params()
        ip.add_index(field_name="vector", index_type="HNSW", metric_type="COSINE",
                     params={"M": 16, "efConstruction": 256})
        t = time.perf_counter()
        client.create_index(coll, ip, timeout=args.phase_timeout)
        res["index_s"] = round(time.perf_counter() - t, 3)
        log(f"  create_index {res['index_s']} s")
        alloc, apparent = disk_usage(data_dir)
        res["disk_bytes_after_index"] = alloc
        res["disk_bytes_per_row"] = round(alloc / n, 1)
        res["disk_apparent_bytes_per_row"] = round(apparent / n, 1)
        res["raw_vector_bytes_per_row"] = dim * 4

        t = time.perf_counter()
        client.load_collection(coll, timeout=args.phase_timeout)
        res["load_s"] = round(time.perf_counter() - t, 3)
        res["index_load_s"] = round(res["index_s"] + res["load_s"], 3)
        res["flush_index_load_s"] = round(res["flush_s"] + res["index_s"] + res["load_s"], 3)
        log(f"  load {res['load_s']} s")
        res["rss_bytes_after_load"] = proc_status(pid, "VmRSS")
        res["rss_bytes_per_row_after_load"] = round(res["rss_bytes_after_load"] / n, 1)

        res["search"] = []
        for th in args.threads:
            cpu0 = cpu_seconds(pid)
            r, found = search_loop(uri, coll, queries, th, args.phase_timeout)
            cpu1 = cpu_seconds(pid)
            r["recall_at_10"] = round(recall(found, gt, range(len(queries))), 4)
            r["server_cpu_us_per_query"] = round((cpu1 - cpu0) * 1e6 / max(1, r["queries"]), 1)
            res["search"].append(r)
            log(f"  search {th}t: {r['qps']} qps p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms "
                f"recall {r['recall_at_10']}")

        cpu0 = cpu_seconds(pid)
        r, found = search_loop(uri, coll, queries, 1, args.phase_timeout, filters=qfilters)
        cpu1 = cpu_seconds(pid)
        r["server_cpu_us_per_query"] = round((cpu1 - cpu0) * 1e6 / max(1, r["queries"]), 1)
        r["recall_at_10"] = round(recall(found, gt_tenant, range(len(queries))), 4)
        per = {}
        for tn in sorted(set(int(x) for x in qtenants)):
            idx = [i for i in range(len(queries)) if int(qtenants[i]) == tn]
            per[str(tn)] = {
                "queries": len(idx),
                "base_rows": int((tenants[:n] == tn).sum()),
                "recall_at_10": round(recall(found, gt_tenant, idx), 4),
            }
        r["per_tenant"] = per
        r["recall_min_over_tenants"] = min(v["recall_at_10"] for v in per.values())
        res["search_filtered_1t"] = r
        log(f"  filtered 1t: {r['qps']} qps p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms "
            f"recall {r['recall_at_10']} (min/tenant {r['recall_min_over_tenants']})")

        res["insert_multi"] = []
        for th in args.insert_threads:
            name = f"bench_ins{th}"
            create_collection(client, name, dim, partition_key)
            r = insert_loop(uri, name, base, tenants, n, th, args.phase_timeout, server_pid=pid)
            res["insert_multi"].append(r)
            log(f"  quiver insert {th}t: {r['rows_per_s']} rows/s")
            client.drop_collection(name)
        res["rss_bytes_end"] = proc_status(pid, "VmRSS")
        res["rss_peak_bytes"] = proc_status(pid, "VmHWM")
        client.close()
        return res
    finally:
        stop_process(p)


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "PASS" if v else "FAIL"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return round(a / b, 3)


def summarize(q, lim, threads):
    """Ratios vs Milvus 2.3.5 and vs the client-side limit for one Quiver variant."""
    s = {x["threads"]: x for x in q["search"]}
    lim_s = {x["threads"]: x for x in lim["search"]}
    lim_i = {x["threads"]: x for x in lim["insert"]}
    ins1 = q["insert_1t"]["rows_per_s"]
    r = {
        "insert_vs_milvus": ratio(ins1, MILVUS["insert_rows_per_s"]),
        "insert_vs_client_limit": ratio(ins1, lim_i[1]["rows_per_s"]),
        "flush_index_load_vs_milvus": ratio(q["flush_index_load_s"], MILVUS["flush_index_load_s"]),
        "index_load_vs_milvus": ratio(q["index_load_s"], MILVUS["flush_index_load_s"]),
        "filtered_qps_vs_client_limit": ratio(q["search_filtered_1t"]["qps"],
                                              lim["search_filtered_1t"]["qps"]),
    }
    for th in threads:
        if th in s:
            if th in lim_s:
                r[f"search_qps_{th}t_vs_client_limit"] = ratio(s[th]["qps"], lim_s[th]["qps"])
            ref = MILVUS.get(f"search_qps_{th}t")
            if ref:
                r[f"search_qps_{th}t_vs_milvus"] = ratio(s[th]["qps"], ref)
    for m in q.get("insert_multi", []):
        th = m["threads"]
        if th in lim_i:
            r[f"insert_{th}t_vs_client_limit"] = ratio(m["rows_per_s"], lim_i[th]["rows_per_s"])
    # Targets from issues 3 (item 9) and 4 (item 7).
    s1 = s.get(1)
    lim1 = lim_i[1]["rows_per_s"]
    ins_target = min(2 * MILVUS["insert_rows_per_s"], 0.8 * lim1)
    r["targets"] = {
        "search_qps_1t_ge_3x_milvus": None if not s1 else s1["qps"] >= 3 * MILVUS["search_qps_1t"],
        "search_p99_1t_le_5ms": None if not s1 else s1["p99_ms"] <= 5.0,
        "index_load_le_0.5x_milvus": q["index_load_s"] <= 0.5 * MILVUS["flush_index_load_s"],
        "insert_ge_min(2x_milvus,0.8x_client_limit)": ins1 >= ins_target,
        "insert_target_rows_per_s": round(ins_target, 1),
    }
    return r


def print_table(out, variants):
    lim = out["client_limit"]
    lim_i = {x["threads"]: x for x in lim["insert"]}
    lim_s = {x["threads"]: x for x in lim["search"]}
    names = list(variants)
    w = max([16] + [len(n) + 2 for n in names])
    print()
    print(f"== Quiver end-to-end through pymilvus {out['pymilvus']}  n={out['n']} dim={out['dim']} "
          f"batch={BATCH} ef={EF} limit={TOPK} nq=1/call")
    print(f"   machine: {out['machine']}, load avg {out.get('load_avg_end')} at end")
    if out["n"] != 100000:
        print(f"   NOTE: the Milvus 2.3.5 figures were measured on the 100k set; n={out['n']} here.")
    hdr = f"{'figure':<44}" + "".join(f"{n:>{w}}" for n in names) + f"{'client-limit':>{w}}{'Milvus2.3.5':>{w}}"
    print(hdr)
    print("-" * len(hdr))

    def row(label, key_fn, limit=None, milvus=None, nd=1):
        cells = "".join(f"{fmt(key_fn(out[n]), nd):>{w}}" for n in names)
        print(f"{label:<44}{cells}{fmt(limit, nd):>{w}}{fmt(milvus, nd):>{w}}")

    row("insert rows/s (1 thread)", lambda q: q["insert_1t"]["rows_per_s"], lim_i[1]["rows_per_s"],
        MILVUS["insert_rows_per_s"])
    row("insert call p50 ms (1 thread)", lambda q: q["insert_1t"]["p50_ms"], lim_i[1]["p50_ms"], nd=2)
    row("insert call p99 ms (1 thread)", lambda q: q["insert_1t"]["p99_ms"], lim_i[1]["p99_ms"], nd=2)
    row("server CPU-us per inserted row (1 thread)", lambda q: q["insert_1t"]["server_cpu_us_per_row"])
    for i, th in enumerate(out["insert_threads"][1:]):
        row(f"insert rows/s ({th} threads, fresh coll.)",
            lambda q, i=i: q["insert_multi"][i]["rows_per_s"] if i < len(q["insert_multi"]) else None,
            lim_i.get(th, {}).get("rows_per_s"))
        row(f"server CPU-us per row ({th} threads)",
            lambda q, i=i: q["insert_multi"][i]["server_cpu_us_per_row"] if i < len(q["insert_multi"]) else None)
    row("flush s", lambda q: q["flush_s"], nd=2)
    row("create_index s (HNSW M=16 efC=256)", lambda q: q["index_s"], nd=2)
    row("load s", lambda q: q["load_s"], nd=3)
    row("flush+index+load s", lambda q: q["flush_index_load_s"], None, MILVUS["flush_index_load_s"], nd=2)
    row("disk bytes/row (after flush+index)", lambda q: q["disk_bytes_per_row"])
    row("server RSS MB after load", lambda q: round(q["rss_bytes_after_load"] / 2**20, 1))
    for i, th in enumerate(out["threads"]):
        sel = lambda q, i=i: q["search"][i]  # noqa: E731
        row(f"search QPS ({th} thread{'s' if th > 1 else ''})", lambda q: sel(q)["qps"],
            lim_s.get(th, {}).get("qps"), MILVUS.get(f"search_qps_{th}t"))
        row(f"search p50 ms ({th}t)", lambda q: sel(q)["p50_ms"], lim_s.get(th, {}).get("p50_ms"),
            MILVUS.get("search_p50_ms_1t") if th == 1 else None, nd=2)
        row(f"search p99 ms ({th}t)", lambda q: sel(q)["p99_ms"], lim_s.get(th, {}).get("p99_ms"),
            MILVUS.get("search_p99_ms_1t") if th == 1 else None, nd=2)
        row(f"search calls > 10 ms ({th}t)", lambda q: sel(q)["calls_over_10ms"],
            lim_s.get(th, {}).get("calls_over_10ms"))
        row(f"recall@10 vs gt ({th}t)", lambda q: sel(q)["recall_at_10"], nd=4)
        row(f"server CPU-us per query ({th}t)", lambda q: sel(q)["server_cpu_us_per_query"])
    lf = lim["search_filtered_1t"]
    row("tenant-filtered QPS (1 thread)", lambda q: q["search_filtered_1t"]["qps"], lf["qps"])
    row("tenant-filtered p50 ms", lambda q: q["search_filtered_1t"]["p50_ms"], lf["p50_ms"], nd=2)
    row("tenant-filtered p99 ms", lambda q: q["search_filtered_1t"]["p99_ms"], lf["p99_ms"], nd=2)
    row("tenant-filtered calls > 10 ms", lambda q: q["search_filtered_1t"]["calls_over_10ms"],
        lf["calls_over_10ms"])
    row("tenant-filtered recall@10 vs gt_tenant", lambda q: q["search_filtered_1t"]["recall_at_10"], nd=4)
    row("tenant-filtered recall@10 min over tenants",
        lambda q: q["search_filtered_1t"]["recall_min_over_tenants"], nd=4)
    first = out[names[0]]
    for tn, v in first["search_filtered_1t"]["per_tenant"].items():
        row(f"  tenant {tn} ({v['base_rows']} rows, {v['queries']} q) recall",
            lambda q, tn=tn: q["search_filtered_1t"]["per_tenant"][tn]["recall_at_10"], nd=4)
    print()
    print(f"{'ratio (Quiver / reference)':<52}" + "".join(f"{n:>{w}}" for n in names))
    print("-" * (52 + w * len(names)))
    keys = list(out["ratios"][names[0]].keys())
    for k in keys:
        if k == "targets":
            continue
        print(f"{k:<52}" + "".join(f"{fmt(out['ratios'][n].get(k), 3):>{w}}" for n in names))
    for k in out["ratios"][names[0]]["targets"]:
        print(f"{'target: ' + k:<52}" + "".join(
            f"{fmt(out['ratios'][n]['targets'].get(k)):>{w}}" for n in names))
    print()


def main():
    ap = argparse.ArgumentParser(description="Quiver end-to-end benchmark through pymilvus")
    ap.add_argument("data_dir")
    ap.add_argument("threads", nargs="*", type=int, help="search client threads (default 1 4)")
    ap.add_argument("--no-partition-key", action="store_true",
                    help="tenant is a plain INT64 field instead of the partition key")
    ap.add_argument("--both", action="store_true",
                    help="run the partition-key and the plain-field variants (fresh server each)")
    ap.add_argument("--insert-threads", default="2,4", help="extra insert client threads (default 2,4)")
    ap.add_argument("--n", type=int, default=None, help="use only the first N base rows "
                    "(default: all; recall is only valid for the full set)")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "quiver"))
    ap.add_argument("--config", default=None, help="quiver serve --config FILE")
    ap.add_argument("--tmp-dir", default=os.environ.get("BENCH_TMPDIR"),
                    help="where the temp server data dir goes (default: $TMPDIR)")
    ap.add_argument("--phase-timeout", type=float, default=float(os.environ.get("PHASE_TIMEOUT", 1800)),
                    help="seconds per phase (default 1800)")
    ap.add_argument("--total-timeout", type=float, default=float(os.environ.get("TOTAL_TIMEOUT", 10800)),
                    help="hard limit for the whole run, seconds (default 10800)")
    args = ap.parse_intermixed_args()
    args.threads = args.threads or [1, 4]
    args.insert_threads = [int(x) for x in args.insert_threads.split(",") if x.strip()]

    # Hard watchdog: whatever hangs, the servers die and the process exits.
    def watchdog():
        log(f"bench_e2e: total timeout {args.total_timeout}s exceeded, killing servers")
        _cleanup()
        os._exit(3)

    wd = threading.Timer(args.total_timeout, watchdog)
    wd.daemon = True
    wd.start()

    d = args.data_dir
    base_mm = read_fvecs(os.path.join(d, "base.fvecs"))
    n_total = base_mm.shape[0]
    args.n = min(args.n or n_total, n_total)
    base = np.ascontiguousarray(base_mm[: args.n])  # in RAM: the loops must not page-fault
    dim = base.shape[1]
    tenants = np.fromfile(os.path.join(d, "tenant_base.u32"), dtype="<u4")[: args.n].astype(np.int64)
    queries_np = np.ascontiguousarray(read_fvecs(os.path.join(d, "query.fvecs")))
    queries = [q.tolist() for q in queries_np]
    qtenants = np.fromfile(os.path.join(d, "tenant_query.u32"), dtype="<u4").astype(np.int64)
    qfilters = [f"tenant == {int(t)}" for t in qtenants]
    gt = read_ivecs(os.path.join(d, "gt.ivecs"))
    gt_tenant = read_ivecs(os.path.join(d, "gt_tenant.ivecs"))
    if args.n != n_total:
        log(f"bench_e2e: WARNING using {args.n} of {n_total} rows: recall figures are not valid")

    import pymilvus

    out = {
        "bench": "e2e-pymilvus",
        "data_dir": os.path.abspath(d),
        "n": args.n,
        "dim": dim,
        "nq": len(queries),
        "batch": BATCH,
        "ef": EF,
        "limit": TOPK,
        "threads": args.threads,
        "insert_threads": [1] + args.insert_threads,
        "pymilvus": pymilvus.__version__,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"load avg {os.getloadavg()[0]:.2f} at start",
        "milvus_2_3_5": MILVUS,
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    out["machine"] = line.split(":", 1)[1].strip() + ", " + out["machine"].split(", ", 1)[1]
                    break
    except OSError:
        pass

    variants = []
    if args.both:
        variants = [("quiver", True), ("quiver_no_partition_key", False)]
    elif args.no_partition_key:
        variants = [("quiver_no_partition_key", False)]
    else:
        variants = [("quiver", True)]

    t_start = time.time()
    try:
        log("== client-side limit (scripts/null_milvus.py)")
        out["client_limit"] = client_limit(args, base, tenants, queries, qfilters)
        out["ratios"] = {}
        for name, pk in variants:
            log(f"== {name} (tenant partition key: {pk})")
            out[name] = run_quiver(args, base, tenants, queries, qtenants, qfilters, gt, gt_tenant, pk)
            out["ratios"][name] = summarize(out[name], out["client_limit"], args.threads)
        out["total_s"] = round(time.time() - t_start, 1)
        out["load_avg_end"] = round(os.getloadavg()[0], 2)
        print_table(out, [v[0] for v in variants])
        print(json.dumps(out, separators=(",", ":")), flush=True)
    finally:
        wd.cancel()
        _cleanup()


if __name__ == "__main__":
    main()
