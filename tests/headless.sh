#!/bin/sh
# headless.sh - the headless printer's lines on a pipe, as a log reads
# them: every progress line has its columns at the same offsets, the
# numbers are numfmt's (at most 4 significant digits plain, 3 with an
# exponent, never "-nan" or '#'), and the last progress line of a cosine
# schedule shows its tiny lr in the 7-column lr field ("lr 13.7e-9", once
# printed as the 8-column "13.86e-9"); then the closing summary.
#
# It does not judge the numbers a run computes (tests/check_trainer.c
# does).  Exit 77 (skip) only when there is no nntop binary.  Lines start
# with "# headless: ".
set -u

top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
if [ ! -x "$NNTOP" ]; then
    echo "# headless: SKIP: no nntop binary at $NNTOP"
    exit 77
fi
case $NNTOP in /*) ;; *) NNTOP=$(pwd)/$NNTOP ;; esac

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
NNTOP_DEMO=spiral
export NNTOP_DEMO
PASSED=0
FAILED=0

say() { echo "# headless: $*"; }
pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }
fail() {
    FAILED=$((FAILED + 1))
    say "FAIL $*"
    echo "---- out ----"
    tail -n 15 "$TMP/out"
}

# -v: every evaluation printed too, so the eval columns are checked on many lines.
"$NNTOP" -H -v -n 3000 -s optim.schedule=cosine -s train.eval_every=500 -o "$TMP/runs" \
    >"$TMP/out" 2>"$TMP/err" </dev/null
status=$?
if [ "$status" = 0 ]; then pass "a 3000-step cosine run exits 0"
else fail "the run should exit 0, got $status"; fi

grep '^step ' "$TMP/out" >"$TMP/progress"
grep '^eval ' "$TMP/out" >"$TMP/evals"
if [ "$(wc -l <"$TMP/progress")" -ge 2 ] && [ "$(wc -l <"$TMP/evals")" -ge 6 ]; then
    pass "progress and eval lines on the pipe"
else fail "at least 2 progress and 6 eval lines expected"; fi
if grep -q "$(printf '\r')" "$TMP/out"; then fail "a pipe gets no carriage returns"
else pass "no carriage returns on a pipe"; fi

# Every field starts at the same column on every progress line (and eval line).
offsets() {
    awk -v pat="$2" '{ i = index($0, pat); if (i == 0) print "none"; else print i }' "$1" |
        sort -u | wc -l
}
bad=""
for f in ' ep ' ' loss(ema) ' ' acc ' ' lr ' ' l2 ' ' elapsed ' ' eta '; do
    [ "$(offsets "$TMP/progress" "$f")" = 1 ] || bad="$bad '$f'"
done
for f in ' ep ' ' loss ' ' acc ' '  ('; do
    [ "$(offsets "$TMP/evals" "$f")" = 1 ] || bad="$bad eval'$f'"
done
if [ -z "$bad" ]; then pass "columns aligned on every progress and eval line"
else fail "fields at different columns:$bad"; fi

# The numbers: numfmt's forms only.
nums=$(sed -n 's/.*loss(ema) \([^ ]*\) .* lr \([^ ]*\) .* l2 \([^ ]*\) .*/\1 \2 \3/p' \
    "$TMP/progress"; sed -n 's/.* loss \([^ ]*\) .*/\1/p' "$TMP/evals")
badnum=$(printf '%s\n' $nums | grep -v -E '^-?([0-9]{1,4}|[0-9]*\.[0-9]+)$|^-?[0-9]{1,3}(\.[0-9]{1,2})?e-?[0-9]+$' |
    head -n 3)
sig=$(printf '%s\n' $nums | grep -E 'e' | sed 's/e.*//; s/[-.]//g; s/^0*//' | awk 'length($0) > 3' | head -n 3)
if [ -n "$nums" ] && [ -z "$badnum" ] && [ -z "$sig" ] && ! grep -q -e '-nan\|#' "$TMP/progress"; then
    pass "every number in numfmt's form (4 digits plain, 3 with an exponent)"
else fail "numbers not in numfmt's form: '$badnum' '$sig'"; fi

last=$(tail -n 1 "$TMP/progress")
case $last in
"step 3000/3000 (100.0 %)"*" lr 13.7e-9  l2 "*) pass "the last lr reads 'lr 13.7e-9' in its column" ;;
*) fail "last progress line should have 'lr 13.7e-9  l2': $last" ;;
esac

# The closing summary, after the last progress line.
if grep -q '^summary: finished at step 3000 of 3000 in [0-9.]* s' "$TMP/out" &&
    grep -q '^  best val    loss [0-9.e-]* at step [0-9]*, acc [0-9.]* % at step [0-9]*$' "$TMP/out" &&
    grep -q '^  run         ' "$TMP/out"; then
    pass "closing summary: steps, wall time, best val loss and accuracy, run directory"
else fail "closing summary expected"; fi

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
