#!/bin/sh
# pyperformance.sh CHECKOUT OUTDIR NAME=PYTHON...: run a GC-heavy subset of
# a pyperformance checkout against each interpreter with pyperf, then print
# pyperf's comparison table (ratios against the first interpreter).
#
# Needs: a pyperformance checkout, and pyperf importable by the python3 that
# runs this script (pip install pyperf).  pyperformance creates a virtual
# environment per interpreter and installs each benchmark's requirements,
# so the benchmarks chosen here need nothing beyond the standard library.
# Override the list with PYPERFORMANCE_BENCHMARKS=name,name,...
set -eu
checkout=${1:-}
outdir=${2:?usage: pyperformance.sh CHECKOUT OUTDIR NAME=PYTHON...}
shift 2
if [ -z "$checkout" ] || [ ! -d "$checkout/pyperformance" ]; then
    echo "usage: make pyperformance PYPERFORMANCE=/path/to/pyperformance-checkout" >&2
    echo "(a git checkout of https://github.com/python/pyperformance)" >&2
    exit 2
fi
host=${PYTHON:-python3}
"$host" -c "import pyperf" 2>/dev/null || {
    echo "pyperf is not importable by $host: pip install pyperf" >&2
    exit 2
}
benchmarks=${PYPERFORMANCE_BENCHMARKS:-gc_collect,gc_traversal,btree,deepcopy,async_tree,richards,nbody,json_dumps,pickle_pure_python}
mkdir -p "$outdir"
files=
for spec; do
    name=${spec%%=*}
    python=${spec#*=}
    echo "# pyperformance: $name ($python)" >&2
    rm -f "$outdir/$name.json"
    PYTHONPATH="$checkout${PYTHONPATH:+:$PYTHONPATH}" "$host" -m pyperformance \
        run --python="$python" --benchmarks="$benchmarks" \
        --output="$outdir/$name.json"
    files="$files $outdir/$name.json"
done
# shellcheck disable=SC2086
"$host" -m pyperf compare_to --table $files
