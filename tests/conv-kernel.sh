#!/bin/sh
# conv-kernel.sh - NNTOP_CONV_KERNEL in the real binary and in the conv
# suites: an unknown value (or a path this CPU lacks) is one line naming
# the variable and exit status 2; every path the CPU has trains the same
# small CSV CNN (padding, stride 2, two convs) to the same loss within
# 1e-5 relative of the blas path and says its path in env.txt; and the
# PyTorch-parity fixtures (check_conv), the gradient checks
# (check_gradcheck) pass with each path
# forced.  The paths come from /proc/cpuinfo's flags, so it holds on any
# x86-64 machine (elsewhere only blas runs).
set -u

top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
if [ ! -x "$NNTOP" ]; then
    echo "# conv-kernel: SKIP: no nntop binary at $NNTOP"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILED=0
PASSED=0
say() { echo "# conv-kernel: $*"; }
pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }
fail() {
    FAILED=$((FAILED + 1))
    say "FAIL $*"
    head -n 10 "$TMP/out" "$TMP/err" 2>/dev/null
}

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
paths=blas
missing=
if has avx2 && has fma; then paths="$paths avx2"; else missing="$missing avx2"; fi
if has avx512f && has avx512bw && has avx512dq && has avx512vl; then
    paths="$paths avx512"
else
    missing="$missing avx512"
fi

awk 'BEGIN { for (r = 0; r < 64; r++) { l = ""; for (j = 0; j < 72; j++) l = l ((r * 7 + j * 3) % 11) ",";
             print l (r % 3) } }' >"$TMP/img.csv"
cat >"$TMP/img.yaml" <<EOF2
name: img
seed: 3
data: {source: csv, path: img.csv, header: false, shape: [2, 6, 6], val_fraction: 0}
model:
  layers:
    - {conv2d: 9, kernel: 3, padding: 1}
    - relu
    - {conv2d: 5, kernel: 3, stride: 2}
    - relu
    - flatten
    - dense: 3
train: {steps: 20, batch_size: 16}
EOF2

NNTOP_CONV_KERNEL=avx1024 "$NNTOP" -H --no-log "$TMP/img.yaml" >"$TMP/out" 2>"$TMP/err" </dev/null
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
    grep -qx 'nntop: NNTOP_CONV_KERNEL=avx1024: unknown conv kernel (blas, avx2 or avx512)' "$TMP/err"; then
    pass "an unknown path: one line, exit 2"
else
    fail "an unknown path: exit $rc"
fi
for k in $missing; do
    NNTOP_CONV_KERNEL=$k "$NNTOP" -H --no-log "$TMP/img.yaml" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
    if [ "$rc" -eq 2 ] && grep -q "^nntop: NNTOP_CONV_KERNEL=$k: this CPU cannot run the $k kernel" "$TMP/err"; then
        pass "$k, which this CPU lacks: refused, exit 2"
    else
        fail "$k, which this CPU lacks: exit $rc"
    fi
done

ref=
for k in $paths; do
    NNTOP_CONV_KERNEL=$k "$NNTOP" -H -o "$TMP/$k" "$TMP/img.yaml" >"$TMP/out" 2>"$TMP/err" </dev/null
    rc=$?
    loss=$(tail -n 1 "$TMP/$k"/*/metrics.csv 2>/dev/null | cut -d, -f4)
    if [ "$rc" -ne 0 ] || [ -z "$loss" ]; then
        fail "$k: the CNN run failed (exit $rc)"
        continue
    fi
    if grep -qx "conv_kernel: $k" "$TMP/$k"/*/env.txt; then
        pass "$k: env.txt says conv_kernel: $k"
    else
        fail "$k: env.txt: $(grep conv_kernel "$TMP/$k"/*/env.txt)"
    fi
    if [ -z "$ref" ]; then
        ref=$loss
    elif awk -v a="$loss" -v b="$ref" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * b) }'; then
        pass "$k: loss after 20 steps $loss, blas $ref"
    else
        fail "$k: loss after 20 steps $loss, blas $ref"
    fi
done

for k in $paths; do
    for suite in check_conv check_gradcheck; do
        if [ ! -x "$top_builddir/tests/$suite" ]; then
            say "SKIP $suite: not built"
            continue
        fi
        if NNTOP_CONV_KERNEL=$k "$top_builddir/tests/$suite" >"$TMP/out" 2>"$TMP/err" </dev/null; then
            pass "$k: $suite"
        else
            fail "$k: $suite"
            tail -n 5 "$TMP/out"
        fi
    done
done

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
