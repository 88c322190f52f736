#!/bin/sh
# run-format.sh - doc/run-format.md keeps up with what nntop writes: the
# CSV headers of a real run, every env.txt key it writes, every event type
# in the vocabulary table (src/train/telemetry.c) and every TensorBoard tag
# prefix are in the document.  A new column, key, event type or tag fails
# here until the contract says what it is.  Lines start with
# "# run-format: ".
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
DOC="$top_srcdir/doc/run-format.md"
say() { echo "# run-format: $*"; }
if [ ! -x "$NNTOP" ]; then
    say "SKIP: no nntop binary at $NNTOP"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL $*"; }

"$NNTOP" -H -n 12 -o "$TMP/runs" -s train.eval_every=6 >/dev/null 2>&1 </dev/null
RUN=$(ls -d "$TMP"/runs/*/ | head -n 1)

for f in metrics.csv layers.csv; do
    h=$(head -n 1 "$RUN/$f")
    if grep -qxF "    $h" "$DOC"; then
        pass "$f's header is the one documented"
    else
        fail "$f's header '$h' is not in doc/run-format.md"
    fi
done

missing=
for k in $(sed 's/: .*//' "$RUN/env.txt" | sort -u); do
    grep -q "\`$k\`" "$DOC" || missing="$missing $k"
done
[ -z "$missing" ] && pass "every env.txt key is documented" || fail "env.txt keys not documented:$missing"

missing=
for t in $(sed -n 's/^ *\[TM_EVT_[A-Z_]*\] = {"\([a-z_]*\)".*/\1/p' "$top_srcdir/src/train/telemetry.c" | sort -u); do
    grep -q "^| .*\`$t\`" "$DOC" || missing="$missing $t"
done
n=$(sed -n 's/^ *\[TM_EVT_[A-Z_]*\] = {"\([a-z_]*\)".*/\1/p' "$top_srcdir/src/train/telemetry.c" | wc -l)
if [ "$n" -gt 10 ] && [ -z "$missing" ]; then
    pass "every event type of the vocabulary ($n rows) is documented"
else
    fail "event types not in doc/run-format.md's table:$missing ($n rows read)"
fi

missing=
for t in $(grep -o '"[a-z_]*/' "$top_srcdir/src/runlog/tfevents.c" "$top_srcdir/src/train/trainer.c" |
    sed 's/.*"//' | grep -v '^nntop/$' | sort -u); do
    grep -q "\`$t" "$DOC" || missing="$missing $t"
done
[ -z "$missing" ] && pass "every TensorBoard tag prefix is documented" || fail "tags not documented:$missing"

grep -qx 'run_format: 1' "$RUN/env.txt" && grep -q '`run_format: 1`' "$DOC" &&
    pass "the version written is the version documented" || fail "run_format"

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
