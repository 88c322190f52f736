#!/bin/sh
# layers-csv.sh - layers.csv as the people who load it see it: a short
# headless run, then Python's csv module reads the file and checks every
# cell's type (integers, floats, empty where a column does not apply, the
# layer label in the name column).  Exit 77 (skip) without nntop or python3.
set -u

top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
if [ ! -x "$NNTOP" ]; then
    echo "# layers-csv: SKIP: no nntop binary at $NNTOP"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "# layers-csv: SKIP: no python3"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
NNTOP_DEMO=spiral "$NNTOP" -H -n 12 -s telemetry.every=4 -s log.tfevents=false -o "$TMP" \
    >"$TMP/out" 2>&1 </dev/null || {
    echo "# layers-csv: FAIL the run failed:"; cat "$TMP/out"; exit 1; }
csv=$(ls "$TMP"/*/layers.csv 2>/dev/null | head -n 1)
[ -n "$csv" ] || { echo "# layers-csv: FAIL no layers.csv"; exit 1; }
python3 - "$csv" <<'PY'
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert rows, "no rows"
act = ["act_mean", "act_std", "act_min", "act_max"]
norms = ["w_norm", "g_norm", "update_norm", "update_ratio"]
label = re.compile(r"^(dense \d+->\d+|relu|leaky_relu [0-9.e+-]+|tanh|sigmoid|dropout [0-9.e+-]+|batchnorm \d+)$")
bad = []
for i, r in enumerate(rows, 2):
    def num(k, kind=float):
        try:
            kind(r[k])
        except ValueError:
            bad.append("line %d: %s = %r is not a number" % (i, k, r[k]))
    num("step", int); num("layer", int); num("nan_count", int); num("inf_count", int)
    if int(r["step"]) < 1:
        bad.append("line %d: step %s (global steps start at 1)" % (i, r["step"]))
    if not label.match(r["name"]):
        bad.append("line %d: name %r is not a layer label" % (i, r["name"]))
    tensor = r["tensor"] != ""
    for k in act + ["dead_frac", "sat_frac"] if tensor else norms:
        if r[k] != "":
            bad.append("line %d: %s = %r, empty expected (does not apply)" % (i, k, r[k]))
    for k in norms if tensor else act:
        num(k)
    if not tensor:
        dead = r["name"] == "relu"
        for k, applies in (("dead_frac", dead), ("sat_frac", r["name"] in ("tanh", "sigmoid"))):
            if applies:
                num(k)
                if r[k] != "" and not 0.0 <= float(r[k]) <= 1.0:
                    bad.append("line %d: %s = %s outside [0, 1]" % (i, k, r[k]))
            elif r[k] != "":
                bad.append("line %d: %s = %r on a %s layer" % (i, k, r[k], r["name"]))
    else:
        if int(r["tensor"].split(".")[0]) != int(r["layer"]):
            bad.append("line %d: tensor %s on layer %s" % (i, r["tensor"], r["layer"]))
if bad:
    print("\n".join("# layers-csv: FAIL " + b for b in bad[:20]))
    sys.exit(1)
print("# layers-csv: %d rows, every cell of the right type" % len(rows))
PY
