#!/usr/bin/env python3
"""Markdown tables from the last-line JSON of `scripts/bench-ann.sh` (a log file or the
JSON itself): one row per engine with bytes/vector, build time and QPS at recall@10 >=
0.95 / 0.99 (interpolated as in bench_ann_report.py), then recall@10 per ef per engine.

usage: bench_ann_table.py LOG [--efs 15,19,24,30,46,72,112,175,274]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ann_report import at_recall, fmt_qps, last_json  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--efs", default="")
    a = ap.parse_args()
    out = last_json(a.log)
    eng = out["engines"]
    th = out["threads"]
    print(f"| engine | bytes/vector | build s ({th} t) | ef @0.95 | QPS @0.95 ({th} t) | QPS @0.95 (1 t) "
          f"| ef @0.99 | QPS @0.99 ({th} t) | QPS @0.99 (1 t) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, e in eng.items():
        r95, r99 = at_recall(e, 0.95), at_recall(e, 0.99)
        bpv = e.get("bytes_per_vector")
        print(f"| {name} | {bpv:,.0f} | {e['build_s']:.1f} | {r95[0] or '-'} | {fmt_qps(r95)} | "
              f"{fmt_qps(at_recall(e, 0.95, 'qps_1t'))} | {r99[0] or '-'} | {fmt_qps(r99)} | "
              f"{fmt_qps(at_recall(e, 0.99, 'qps_1t'))} |" if bpv is not None else f"| {name} | - | |")
    efs = sorted({p["ef"] for e in eng.values() for p in e["curve"]})
    if a.efs:
        keep = {int(x) for x in a.efs.split(",")}
        efs = [x for x in efs if x in keep]
    print()
    print("| ef | " + " | ".join(eng) + " |")
    print("|---:|" + "---:|" * len(eng))
    for ef in efs:
        cells = []
        for e in eng.values():
            p = next((p for p in e["curve"] if p["ef"] == ef), None)
            cells.append(f"{p['recall']:.4f}" if p else "-")
        best_peer = max((float(c) for n, c in zip(eng, cells) if not n.startswith("quiver") and c != "-"),
                        default=None)
        cells = [f"**{c}**" if n.startswith("quiver") and c != "-" and best_peer is not None
                 and float(c) >= best_peer else c for n, c in zip(eng, cells)]
        print(f"| {ef} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
