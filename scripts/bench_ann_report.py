#!/usr/bin/env python3
"""Merges the JSON lines of `bench_ann` (quiver) and `bench_ann_peers.py` (hnswlib, faiss,
faiss_sq8, usearch_i8, usearch_f16), prints a summary per engine, the QPS at recall@10
>= 0.95 and >= 0.99 per engine with its ratio to quiver, the ratios the targets of issues
3 and 12 are stated in, and the merged JSON object as the last line.

QPS at a recall target is interpolated between the two ef grid points that bracket it
(linear in recall, geometric in QPS), so a coarse grid step does not decide it; when the
smallest ef measured already reaches the target, that point's QPS is reported (marked
">=", a lower bound); when no ef reaches it, "-".

usage: bench_ann_report.py QUIVER_LOG [PEERS_LOG]
"""
import json
import math
import sys

TARGETS = (0.95, 0.99)
PEERS = ("hnswlib", "faiss", "faiss_sq8", "usearch_i8", "usearch_f16")


def last_json(path):
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"no JSON line in {path}")
    return json.loads(lines[-1])


def at_recall(engine, target, key="qps"):
    """(ef, qps, exact) at recall `target`: ef of the first grid point reaching it, QPS
    interpolated from the point below; exact is False when the first point already
    reaches it (QPS is then a lower bound). (None, None, False) when never reached."""
    pts = sorted(engine["curve"], key=lambda p: p["ef"])
    for i, p in enumerate(pts):
        if p["recall"] < target:
            continue
        if i == 0:
            return p["ef"], p.get(key), False
        a = pts[i - 1]
        qa, qb = a.get(key), p.get(key)
        if not qa or not qb or p["recall"] <= a["recall"]:
            return p["ef"], qb, True
        t = (target - a["recall"]) / (p["recall"] - a["recall"])
        return p["ef"], math.exp(math.log(qa) + t * (math.log(qb) - math.log(qa))), True
    return None, None, False


def fmt_qps(r):
    ef, qps, exact = r
    if qps is None:
        return "-"
    return f"{'' if exact else '>='}{qps:.0f}"


def main():
    q = last_json(sys.argv[1])
    peers = last_json(sys.argv[2]) if len(sys.argv) > 2 else {"engines": {}}
    out = {"threads": q["threads"], "n": q["n"], "dim": q["dim"], "engines": {}}
    out["engines"]["quiver"] = q["engines"]["quiver"]
    out["engines"].update(peers.get("engines", {}))
    for k, v in q["engines"].items():
        if k != "quiver":
            out["engines"][k] = v
    eng = out["engines"]
    th = out["threads"]
    print(f"\nsummary (n={out['n']}, dim={out['dim']}, threads={th}; QPS at {th} threads, "
          "interpolated at the recall target):")
    print(f"  {'engine':<13} {'build_s':>8} {'B/vec':>8} {'ef@.95':>6} {'qps@.95':>9} {'qps_1t@.95':>10} "
          f"{'ef@.99':>6} {'qps@.99':>9} {'qps_1t@.99':>10} {'filt_min':>8}")
    for name, e in eng.items():
        r95, r99 = at_recall(e, 0.95), at_recall(e, 0.99)
        bpv = e.get("bytes_per_vector")
        fm = e.get("filtered_recall_min")
        print(f"  {name:<13} {e['build_s']:>8.2f} {bpv if bpv is not None else '-':>8} {r95[0] or '-':>6} "
              f"{fmt_qps(r95):>9} {fmt_qps(at_recall(e, 0.95, 'qps_1t')):>10} {r99[0] or '-':>6} "
              f"{fmt_qps(r99):>9} {fmt_qps(at_recall(e, 0.99, 'qps_1t')):>10} {fm if fm is not None else '-':>8}")
    if "quiver" not in eng:
        print(json.dumps(out))
        return
    qv = eng["quiver"]
    keys = (("qps", f"{th} threads"), ("qps_1t", "1 thread"))
    for target in TARGETS:
        for key, label in keys if th > 1 else keys[1:]:
            mine = at_recall(qv, target, key)[1]
            print(f"  QPS at recall >= {target} ({label}): quiver {mine or 0:.0f}" if mine else
                  f"  QPS at recall >= {target} ({label}): quiver never reaches it")
            for p in [p for p in PEERS if p in eng]:
                theirs = at_recall(eng[p], target, key)[1]
                ratio = f"{mine / theirs:.2f}x" if mine and theirs else "-"
                print(f"    vs {p:<12} {theirs or 0:>9.0f}  quiver / {p} = {ratio}")
    present = [p for p in PEERS if p in eng]
    if present:
        for target, goal in ((0.95, "2x"), (0.99, "1.5x")):
            best = max((at_recall(eng[p], target)[1] or 0) for p in present)
            mine = at_recall(qv, target)[1] or 0
            if best:
                print(f"  QPS @recall>={target}: quiver / best peer = {mine / best:.2f}x (issue 12 target >= {goal})")
        fastest = min(eng[p]["build_s"] for p in present)
        print(f"  build time: quiver / fastest peer = {qv['build_s'] / fastest:.2f}x (target <= 0.8x)")
        mems = [eng[p]["bytes_per_vector"] for p in present if eng[p].get("bytes_per_vector")]
        if mems and qv.get("bytes_per_vector"):
            print(f"  memory: quiver / smallest peer = {qv['bytes_per_vector'] / min(mems):.2f}x")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
