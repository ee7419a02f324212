"""Run gcpause.py against several interpreters side by side; print a table.

    python3 Tools/zgc/bench/compare.py \\
        pyzgc=./python stock-ft=../stock-ft/python \\
        --live 1000000 4000000 --garbage young old --seconds 10

Every interpreter runs every configuration in the same invocation, one after
the other, so the figures are comparable; ratios are against the first
interpreter named.  With --rounds N each configuration runs N times, the
interpreters in a rotated order each round (on the project's VM whichever
runs first at 4M live objects was measured up to 25% slower), and the table
gives the median of each figure over the rounds, except the pause maximum
and the probe stall, which are the worst of the rounds.  Needs only the
standard library.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COLUMNS = [
    ("pause_p50_ms", "pause p50 ms"),
    ("pause_p99_ms", "pause p99 ms"),
    ("pause_max_ms", "pause max ms"),
    ("probe_max_stall_ms", "probe stall max ms"),
    ("collections", "collections"),
    ("cycles_per_second", "cycles/s"),
    ("peak_rss_mb", "peak RSS MB"),
]


def run_one(python, live, garbage, seconds):
    cmd = [python, os.path.join(HERE, "gcpause.py"), "--live", str(live),
           "--garbage", garbage, "--seconds", str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# Over several rounds these are the worst of the rounds, the others the
# median.
WORST_OF = ("pause_max_ms", "probe_max_stall_ms")


def combine(runs):
    """One result from the rounds of one interpreter and configuration."""
    res = dict(runs[-1])
    for key, _ in COLUMNS:
        values = [r[key] for r in runs]
        if key in WORST_OF:
            res[key] = max(values)
        else:
            med = statistics.median(values)
            res[key] = (round(med) if all(isinstance(v, int) for v in values)
                        else round(med, 3))
    res["rounds"] = len(runs)
    return res


def ratio(a, b):
    if not b:
        return "-"
    return f"{a / b:.2f}x"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("interpreters", nargs="+", metavar="NAME=PYTHON")
    parser.add_argument("--live", type=int, nargs="+",
                        default=[1_000_000, 4_000_000])
    parser.add_argument("--garbage", nargs="+", default=["young"],
                        choices=("young", "old"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1,
                        help="runs of each configuration, interpreters in "
                             "a rotated order each round (default 1)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write every result to FILE")
    args = parser.parse_args(argv)

    interps = []
    for spec in args.interpreters:
        name, sep, path = spec.partition("=")
        if not sep:
            parser.error(f"expected NAME=PYTHON, got {spec!r}")
        interps.append((name, path))

    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    results = []
    for live in args.live:
        for garbage in args.garbage:
            runs = {name: [] for name, _ in interps}
            for rnd in range(args.rounds):
                k = rnd % len(interps)
                for name, path in interps[k:] + interps[:k]:
                    print(f"# {name}: live={live} garbage={garbage}"
                          f" round={rnd + 1}", file=sys.stderr, flush=True)
                    runs[name].append(run_one(path, live, garbage,
                                              args.seconds))
            for name, _ in interps:
                res = combine(runs[name])
                res["interpreter"] = name
                results.append(res)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)

    base = interps[0][0]
    head = ["live", "garbage", "interpreter"] + [c[1] for c in COLUMNS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for res in results:
        ref = next(r for r in results if r["interpreter"] == base
                   and r["live"] == res["live"]
                   and r["garbage"] == res["garbage"])
        cells = [f"{res['live']:,}", res["garbage"], res["interpreter"]]
        for key, _ in COLUMNS:
            val = res[key]
            cell = f"{val:,}" if isinstance(val, int) else f"{val}"
            if res["interpreter"] != base and key != "collections":
                cell += f" ({ratio(val, ref[key])} of {base})"
            cells.append(cell)
        print("| " + " | ".join(cells) + " |")
    sources = {r["interpreter"]: r["pause_source"] for r in results}
    print()
    print("Pause source per interpreter (collector = the collector's own "
          "STW timing, callbacks = gc.callbacks start..stop): "
          + ", ".join(f"{k}: {v}" for k, v in sources.items()))


if __name__ == "__main__":
    main()
