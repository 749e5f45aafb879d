#!/usr/bin/env python3
"""PNG plots from the last-line JSON of `scripts/bench-ann.sh` runs (issue 12, item 7).

For every LOG: QPS (log scale, THREADS query threads) against recall@10 per engine, and
bytes per vector per engine; when the logs hold more than one `n`, build time against n
per engine as well (log-log, so the slope is the growth exponent).

usage: bench_ann_plot.py OUT.png LOG [LOG ...] [--titles "standard,hard"] [--min-recall 0.85]
needs matplotlib (pip install matplotlib).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ann_report import last_json  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--titles", default="")
    ap.add_argument("--min-recall", type=float, default=0.85)
    a = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [last_json(p) for p in a.logs]
    titles = a.titles.split(",") if a.titles else [os.path.basename(p) for p in a.logs]
    sizes = sorted({r["n"] for r in runs})
    cols = len(runs) + 1 + (1 if len(sizes) > 1 else 0)
    fig, axes = plt.subplots(1, cols, figsize=(5.2 * cols, 4.4))
    names = sorted({e for r in runs for e in r["engines"]}, key=lambda x: (not x.startswith("quiver"), x))
    colours = {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}
    for ax, run, title in zip(axes, runs, titles):
        for name, e in run["engines"].items():
            pts = [p for p in sorted(e["curve"], key=lambda p: p["ef"]) if p["recall"] >= a.min_recall]
            if pts:
                ax.plot([p["recall"] for p in pts], [p["qps"] for p in pts], marker=".", label=name,
                        color=colours[name], linewidth=2.2 if name.startswith("quiver") else 1.2)
        ax.set_yscale("log")
        ax.set_xlabel("recall@10")
        ax.set_ylabel(f"QPS ({run['threads']} threads)")
        ax.set_title(f"{title}: n={run['n']}, dim={run['dim']}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[len(runs)]
    last = runs[-1]["engines"]
    ax.barh(list(last), [last[n].get("bytes_per_vector") or 0 for n in last], color=[colours[n] for n in last])
    ax.set_xlabel("bytes per vector (graph included)")
    ax.set_title("memory per vector")
    ax.invert_yaxis()
    if len(sizes) > 1:
        ax = axes[-1]
        for name in names:
            pts = sorted((r["n"], r["engines"][name]["build_s"]) for r in runs if name in r["engines"])
            if len(pts) > 1:
                ax.plot(*zip(*pts), marker="o", label=name, color=colours[name])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n")
        ax.set_ylabel("build seconds")
        ax.set_title("build time vs n")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out, dpi=90)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
