#!/usr/bin/env python3
"""Merges the JSON lines of `bench_ann` (quiver) and `bench_ann_peers.py` (hnswlib, faiss),
prints the ratios the targets of issue 3 are stated in, and prints the merged JSON
object as the last line.

usage: bench_ann_report.py QUIVER_LOG PEERS_LOG
"""
import json
import sys


def last_json(path):
    with open(path) as f:
        lines = [ln for ln in f.read().splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"no JSON line in {path}")
    return json.loads(lines[-1])


def at_095(engine, key):
    """(ef, value) at the smallest ef whose recall@10 >= 0.95, or (None, None)."""
    for p in sorted(engine["curve"], key=lambda p: p["ef"]):
        if p["recall"] >= 0.95:
            return p["ef"], p.get(key)
    return None, None


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
    print(f"\nsummary (n={out['n']}, dim={out['dim']}, threads={out['threads']}):")
    print(f"  {'engine':<8} {'build_s':>8} {'B/vec':>8} {'ef@.95':>6} {'qps':>9} {'qps_1t':>9} {'filt_min':>8}")
    for name, e in eng.items():
        ef, qps = at_095(e, "qps")
        _, qps1 = at_095(e, "qps_1t")
        bpv = e.get("bytes_per_vector")
        fm = e.get("filtered_recall_min")
        print(f"  {name:<8} {e['build_s']:>8.2f} {bpv if bpv is not None else '-':>8} {ef if ef else '-':>6} "
              f"{qps or 0:>9.1f} {qps1 or 0:>9.1f} {fm if fm is not None else '-':>8}")
    peers_present = [p for p in ("hnswlib", "faiss") if p in eng]
    if "quiver" in eng and peers_present:
        qv = eng["quiver"]
        keys = (("qps", f"{out['threads']} threads"), ("qps_1t", "1 thread"))
        for key, label in keys if out["threads"] > 1 else keys[1:]:
            best = max((at_095(eng[p], key)[1] or 0) for p in peers_present)
            mine = at_095(qv, key)[1] or 0
            if best:
                print(f"  search QPS @recall>=0.95 ({label}): quiver / best peer = {mine / best:.2f}x (target >= 1.3x)")
        fastest = min(eng[p]["build_s"] for p in peers_present)
        print(f"  build time: quiver / fastest peer = {qv['build_s'] / fastest:.2f}x (target <= 0.8x)")
        mems = [eng[p]["bytes_per_vector"] for p in peers_present if eng[p].get("bytes_per_vector")]
        if mems and qv.get("bytes_per_vector"):
            print(f"  memory: quiver / smallest peer = {qv['bytes_per_vector'] / min(mems):.2f}x (target <= 1.1x)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
