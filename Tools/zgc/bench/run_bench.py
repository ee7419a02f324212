"""`make bench`: pyzgc beside stock CPython, one run, one table.

    python3 Tools/zgc/bench/run_bench.py [--quick] [--svg FILE] \\
        pyzgc=./python stock-ft=build-stock-ft/python stock-gil=...

Runs, against every interpreter in turn:
- gcpause.py at several live-heap sizes, with garbage that dies young and
  garbage that survives young collections: collector pause p50/p99/max,
  worst probe-thread stall, cyclic-churn throughput;
- workloads.py: GC-heavy micro-workloads (gc_collect, gc_traversal, btree,
  deepcopy, async_tree), allocation rate, RSS after dropping a large
  structure (and with scattered survivors), 2-thread scaling (allocation
  rate and scaling: several rounds, the interpreters alternating, best
  kept, because single runs vary by 20% on a noisy 2-core machine);
then prints markdown tables with ratios against the first interpreter, and
writes an SVG chart of pause against live-heap size (log scales), drawn by
this script.  Standard library only.  --quick keeps the whole run under
about five minutes on a 2-core machine.
"""

import argparse
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]


def run_json(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(value):
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title, rows, names):
    """rows: (label, {name: value}, lower_is_better)."""
    base = names[0]
    print(f"\n### {title}\n")
    head = ["metric"] + names + [f"{n} / {base}" for n in names[1:]]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label, values, _ in rows:
        cells = [label] + [fmt(values.get(n, "-")) for n in names]
        for n in names[1:]:
            a, b = values.get(n), values.get(base)
            cells.append(f"{a / b:.2f}x" if isinstance(a, (int, float))
                         and isinstance(b, (int, float)) and b else "-")
        print("| " + " | ".join(cells) + " |")


def svg_chart(path, series, title):
    """series: {label: [(x, y), ...]}, both axes log10."""
    points = [p for pts in series.values() for p in pts if p[1] > 0]
    if not points:
        return
    w, h, left, right, top, bottom = 720, 440, 70, 170, 40, 50
    xs = [math.log10(x) for x, _ in points]
    ys = [math.log10(y) for _, y in points]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    x1 = max(x1, x0 + 1)
    y1 = max(y1, y0 + 1)

    def px(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * (w - left - right)

    def py(y):
        return h - bottom - (math.log10(y) - y0) / (y1 - y0) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">'
           f'{title}</text>']
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y}" x2="{w - right}" y2="{y}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">'
                   f'{10 ** e:g} ms</text>')
    for e in range(x0, x1 + 1):
        x = px(10 ** e)
        out.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{h - bottom}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{x}" y="{h - bottom + 18}" '
                   f'text-anchor="middle">{10 ** e:,.0f}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - 10}" '
               f'text-anchor="middle">live objects</text>')
    interps = []
    for label in series:
        interp = label.split(" (")[0]
        if interp not in interps:
            interps.append(interp)
    for i, (label, pts) in enumerate(series.items()):
        pts = sorted(p for p in pts if p[1] > 0)
        color = COLORS[interps.index(label.split(" (")[0]) % len(COLORS)]
        dash = ' stroke-dasharray="6,4"' if "old" in label else ""
        path_d = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}"
                          for j, (x, y) in enumerate(pts))
        out.append(f'<path d="{path_d}" fill="none" stroke="{color}" '
                   f'stroke-width="2"{dash}/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" '
                       f'fill="{color}"/>')
        ly = top + 10 + 18 * i
        out.append(f'<line x1="{w - right + 10}" y1="{ly}" '
                   f'x2="{w - right + 34}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{w - right + 40}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def best_of(workload, runs):
    """One figure from several runs of a workload (see main())."""
    if len(runs) == 1:
        return runs[0]
    if workload == "alloc_rate":
        best = dict(max(runs, key=lambda r: r["objects_per_second"]))
    elif workload == "scaling":
        one = min(r["one_thread_s"] for r in runs)
        two = min(r["two_threads_s"] for r in runs)
        best = {"one_thread_s": one, "two_threads_s": two,
                "speedup": round(one / two, 3)}
    else:
        best = dict(min(runs, key=lambda r: r["seconds"]))
    best["runs"] = len(runs)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("interpreters", nargs="+", metavar="NAME=PYTHON")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--svg", default="bench-pauses.svg")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    names, pythons = [], {}
    for spec in args.interpreters:
        name, sep, path = spec.partition("=")
        if not sep or not os.path.exists(path):
            parser.error(f"expected NAME=PYTHON with an existing PYTHON: {spec}")
        names.append(name)
        pythons[name] = path
    sizes = args.sizes or ([100_000, 1_000_000] if args.quick
                           else [1_000_000, 4_000_000, 8_000_000])
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    scale = 0.25 if args.quick else 1.0

    results = {"pauses": [], "workloads": {}}
    for size in sizes:
        for garbage in ("young", "old"):
            for name in names:
                print(f"# pauses {name} live={size:,} garbage={garbage}",
                      file=sys.stderr, flush=True)
                res = run_json([pythons[name],
                                os.path.join(HERE, "gcpause.py"),
                                "--live", str(size), "--garbage", garbage,
                                "--seconds", str(seconds)])
                res["interpreter"] = name
                results["pauses"].append(res)
    workloads = ["alloc_rate", "rss_after_drop", "rss_fragmented",
                 "scaling", "gc_collect",
                 "gc_traversal", "btree", "deepcopy", "async_tree"]
    # Single runs of these vary by 20% on a noisy 2-core machine, more than
    # the differences they are meant to show: run them ROUNDS times, the
    # interpreters alternating, and keep the best (for scaling, the best
    # 1-thread and the best 2-thread time).
    rounds = {"alloc_rate": 3 if args.quick else 5,
              "scaling": 3 if args.quick else 5}
    for wl in workloads:
        runs = {name: [] for name in names}
        for k in range(rounds.get(wl, 1)):
            for name in names:
                print(f"# {wl} {name}" + (f" (round {k + 1})" if k else ""),
                      file=sys.stderr, flush=True)
                runs[name].append(run_json(
                    [pythons[name], os.path.join(HERE, "workloads.py"), wl,
                     "--scale", str(scale)]))
        for name in names:
            results["workloads"].setdefault(wl, {})[name] = best_of(
                wl, runs[name])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)

    print(f"\n## pyzgc benchmark ({'quick' if args.quick else 'full'} mode, "
          f"churn {seconds:g} s per run)")
    for garbage in ("young", "old"):
        rows = []
        for size in sizes:
            by = {r["interpreter"]: r for r in results["pauses"]
                  if r["live"] == size and r["garbage"] == garbage}
            for key, label in (("pause_p50_ms", "pause p50 ms"),
                               ("pause_p99_ms", "pause p99 ms"),
                               ("pause_max_ms", "pause max ms"),
                               ("probe_max_stall_ms", "probe stall max ms"),
                               ("cycles_per_second", "cycles/s"),
                               ("collections", "collections")):
                rows.append((f"{size:,} live: {label}",
                             {n: by[n][key] for n in names}, True))
        what = ("dies young" if garbage == "young"
                else "survives young collections (~100k allocations)")
        table(f"Pauses, garbage that {what}", rows, names)

    w = results["workloads"]
    rows = [
        ("allocation rate, objects/s (best of alternating runs)",
         {n: w["alloc_rate"][n]["objects_per_second"] for n in names}, False),
        ("RSS retained after dropping a row structure, % of peak growth",
         {n: w["rss_after_drop"][n]["retained_percent"] for n in names},
         True),
        ("peak RSS of that structure, MB",
         {n: w["rss_after_drop"][n]["peak_mb"] for n in names}, True),
        ("RSS retained with 5% survivors scattered, % of peak growth",
         {n: w["rss_fragmented"][n]["retained_percent"] for n in names},
         True),
        ("2-thread speedup of cyclic churn (best times of alternating runs)",
         {n: w["scaling"][n]["speedup"] for n in names}, False),
    ]
    for wl in ("gc_collect", "gc_traversal", "btree", "deepcopy",
               "async_tree"):
        rows.append((f"{wl}, s", {n: w[wl][n]["seconds"] for n in names},
                     True))
    table("Throughput and memory", rows, names)
    pause_src = {r["interpreter"]: r["pause_source"] for r in results["pauses"]}
    print("\nPause source: " + ", ".join(f"{k}: {v}" for k, v in
                                          pause_src.items()) +
          " (collector = the collector's own stop-the-world timing; "
          "callbacks = gc.callbacks start..stop).")

    series = {}
    for r in results["pauses"]:
        series.setdefault(f"{r['interpreter']} ({r['garbage']})", []).append(
            (r["live"], max(r["pause_p99_ms"], 1e-3)))
    svg_chart(args.svg, series, "GC pause p99 (ms) against live heap size")
    print(f"\nChart: {args.svg}")


if __name__ == "__main__":
    main()
