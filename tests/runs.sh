#!/bin/sh
# runs.sh - `nntop runs` and `nntop diff` on the fixture runs in
# tests/data/runs (done, failed, interrupted with a torn last line, resumed
# and done), a copy made to look running (its writer is this shell), an
# unreadable run, sorting, the TSV form, a run nntop itself just wrote,
# and the error messages and exit statuses.  Lines start with "# runs: ".
set -u

NAME=runs
FAIL_LINES=30
. "${top_srcdir:-.}/tests/lib.sh"
FIX="$top_srcdir/tests/data/runs"
same() {
    if [ "$STATUS" -eq "$2" ] && cmp -s "$3" "$TMP/out"; then
        pass "$1"
    else
        fail "$1: status $STATUS (want $2); diff:"
        diff "$3" "$TMP/out" | head -n 20
    fi
}
T=$(printf '\t')

# ---- runs ---------------------------------------------------------------------------

cat >"$TMP/want.tsv" <<END
run${T}name${T}start${T}steps${T}wall_s${T}best_val_loss${T}best_val_loss_step${T}best_val_acc${T}test_acc${T}findings_error${T}findings_warning${T}findings_info${T}live_changes${T}status
20260101-100000-alpha${T}alpha${T}2026-01-01T10:00:00+00:00${T}4${T}0.500${T}0.8${T}4${T}0.7${T}0.69${T}0${T}1${T}1${T}3${T}done
20260102-100000-beta${T}beta${T}2026-01-02T10:00:00+00:00${T}2${T}0.200${T}${T}${T}${T}${T}1${T}0${T}0${T}0${T}failed
20260103-100000-gamma${T}gamma${T}2026-01-03T10:00:00+00:00${T}2${T}0.200${T}${T}${T}${T}${T}0${T}0${T}0${T}1${T}interrupted
20260104-100000-delta${T}delta${T}2026-01-04T10:00:00+00:00${T}4${T}4.250${T}0.7${T}2${T}0.62${T}${T}0${T}0${T}0${T}0${T}done
END
run runs "$FIX" --format tsv
same "runs --format tsv: every column of the four fixture runs" 0 "$TMP/want.tsv"

cat >"$TMP/want.txt" <<'END'
RUN                    NAME   START                STEPS      WALL  VAL_LOSS  VAL_ACC  TEST_ACC  E/W/I     CHANGES  STATUS
20260101-100000-alpha  alpha  2026-01-01 10:00         4      0.5s       0.8    70.0%     69.0%  0/1/1           3  done
20260102-100000-beta   beta   2026-01-02 10:00         2      0.2s         -        -         -  1/0/0           0  failed
20260103-100000-gamma  gamma  2026-01-03 10:00         2      0.2s         -        -         -  0/0/0           1  interrupted
20260104-100000-delta  delta  2026-01-04 10:00         4      4.2s       0.7    62.0%         -  0/0/0           0  done
END
run runs "$FIX"
same "runs: the table" 0 "$TMP/want.txt"

run runs "$FIX" --sort val_loss --format tsv
order=$(cut -f1 "$TMP/out" | tail -n +2 | tr '\n' ' ')
if [ "$order" = "20260104-100000-delta 20260101-100000-alpha 20260102-100000-beta 20260103-100000-gamma " ]; then
    pass "--sort val_loss: lowest first, runs without one last"
else
    fail "--sort val_loss: $order"
fi
run runs "$FIX" --sort test_acc --format tsv
if [ "$(sed -n 2p "$TMP/out" | cut -f1)" = 20260101-100000-alpha ]; then
    pass "--sort test_acc: highest first"
else
    fail "--sort test_acc"
fi

# A run whose writer is alive (this shell) and has not ended: running.
mkdir "$TMP/live"
cp -R "$FIX/20260103-100000-gamma" "$TMP/live/"
sed -i -e "s/^pid: .*/pid: $$/" -e "s/^host: .*/host: $(hostname)/" \
    "$TMP/live/20260103-100000-gamma/env.txt"
# An unreadable one beside it, and a directory that is not a run.
mkdir "$TMP/live/broken" "$TMP/live/notes"
printf 'step,what\n1,2\n' >"$TMP/live/broken/metrics.csv"
: >"$TMP/live/broken/events.jsonl"
run runs "$TMP/live" --format tsv
if [ "$STATUS" -eq 0 ] && grep -q "^20260103-100000-gamma${T}.*${T}running\$" "$TMP/out" &&
    grep -q "^broken${T}.*${T}unreadable\$" "$TMP/out" && ! grep -q '^notes' "$TMP/out" &&
    [ "$(wc -l <"$TMP/out")" -eq 3 ]; then
    pass "a live writer is running; a bad run is unreadable; other directories are not runs"
else
    fail "live/broken"
fi
run runs "$TMP/live"
if grep -q "^broken .*unreadable (.*metrics.csv" "$TMP/out"; then
    pass "the table says why a run is unreadable"
else
    fail "unreadable reason"
fi

# A run nntop has just written.
"$NNTOP" -H -n 12 -o "$TMP/real" -s train.eval_every=6 >/dev/null 2>&1 </dev/null
run runs "$TMP/real" --format tsv
row=$(sed -n 2p "$TMP/out")
if [ "$STATUS" -eq 0 ] && [ "$(echo "$row" | cut -f4)" = 12 ] &&
    [ "$(echo "$row" | cut -f14)" = done ] && [ -n "$(echo "$row" | cut -f6)" ]; then
    pass "a real run: 12 steps, a validation loss, done"
else
    fail "a real run: $row"
fi

run runs "$TMP/no-such"
if [ "$STATUS" -eq 2 ] && grep -qx "nntop: runs: $TMP/no-such: No such file or directory" "$TMP/err"; then
    pass "runs on a missing directory: one line, status 2"
else
    fail "runs on a missing directory"
fi
run runs "$FIX" --sort colour
if [ "$STATUS" -eq 2 ] &&
    grep -q "^nntop: runs: --sort: expected one of start, name, .*, got 'colour'$" "$TMP/err"; then
    pass "--sort colour: refused"
else
    fail "--sort colour"
fi
run runs "$FIX" --format json
if [ "$STATUS" -eq 2 ] && grep -q "^nntop: runs: --format: expected table or tsv, got 'json'$" "$TMP/err"; then
    pass "--format json: refused"
else
    fail "--format json"
fi

# ---- diff ---------------------------------------------------------------------------

A="$FIX/20260101-100000-alpha"
B="$FIX/20260102-100000-beta"
cat >"$TMP/want.diff" <<END
a: $A
b: $B
data: differs
  data_file 1: a eacf259c5812e67a5208231daf2b6e4728129db21f0f7666cb9178506f43b411 5000 /home/u/work/moons.csv, b 0000000000000000000000000000000000000000000000000000000000000000 5100 /home/u/work/moons.csv
code: differs
  git_commit: a 1111111111111111111111111111111111111111, b 2222222222222222222222222222222222222222
  git_dirty: a no, b yes
  code.diff: a (none), b 93 bytes (they differ)
config: 2 keys differ
  name: a "alpha", b "beta"
  optim.lr: a 0.1, b 0.5
environment: differs
  blas_core: a Haswell, b SkylakeX
live changes: differ
  a:
    step 2: lr 0.1 -> 0.05
    step 3: paused
    step 3: resumed
  b: none
END
run diff "$A" "$B"
same "diff: data, code, config keys, environment and live changes (exit 1)" 1 "$TMP/want.diff"

run diff "$A" "$A"
if [ "$STATUS" -eq 0 ] && grep -qx 'data: same' "$TMP/out" && grep -qx 'code: same' "$TMP/out" &&
    grep -qx 'config: same' "$TMP/out" && grep -qx 'environment: same' "$TMP/out" &&
    grep -qx 'live changes: same' "$TMP/out"; then
    pass "a run against itself: all the same, exit 0"
else
    fail "diff with itself"
fi
run diff "$A" "$TMP/no-such"
if [ "$STATUS" -eq 2 ] && grep -q "^nntop: diff: $TMP/no-such/events.jsonl: No such file" "$TMP/err"; then
    pass "diff with a missing run: one line, status 2"
else
    fail "diff with a missing run"
fi
run diff "$A"
if [ "$STATUS" -eq 2 ] && grep -qx 'nntop: diff: expected two run directories' "$TMP/err"; then
    pass "diff with one run: refused"
else
    fail "diff with one run"
fi

# ---- what readers tolerate: appended columns, unknown event types -----------------------

mkdir "$TMP/newer"
cp -R "$A" "$TMP/newer/run"
N="$TMP/newer/run"
sed -i -e '1s/$/,gpu_mem_mb/' -e '2,$s/$/,512/' "$N/metrics.csv"
echo '{"step":4,"time":"2026-01-01T10:00:00.600+00:00","wall_s":0.6,"type":"sparkle","severity":"ok","text":"a type from the future"}' >>"$N/events.jsonl"
run runs "$TMP/newer" --format tsv
if [ "$(sed -n 2p "$TMP/out" | cut -f2-)" = "$(sed -n 2p "$TMP/want.tsv" | cut -f2-)" ]; then
    pass "an appended column and an unknown event type are ignored"
else
    fail "tolerance: $(sed -n 2p "$TMP/out")"
fi
sed -i '3s/,512$//' "$N/metrics.csv"
run runs "$TMP/newer"
grep -qF "unreadable ($N/metrics.csv:3: expected 12 fields, found 11)" "$TMP/out" &&
    pass "a row shorter than its header is still an error, with file:line" || fail "short row"

# ---- the format version: every reader checks it ---------------------------------------

mkdir "$TMP/future"
cp -R "$A" "$TMP/future/run"
F="$TMP/future/run"
sed -i '1i run_format: 2' "$F/env.txt"
want="$F/env.txt: run format 2 is newer than this nntop reads (1)"
run diff "$A" "$F"
[ "$STATUS" -eq 2 ] && grep -qxF "nntop: diff: $want" "$TMP/err" && pass "diff refuses run format 2" ||
    fail "diff of run format 2"
run export "$F" --to csv
[ "$STATUS" -eq 2 ] && grep -qxF "nntop: export: $want" "$TMP/err" && pass "export refuses run format 2" ||
    fail "export of run format 2"
run --replay "$F" -H
[ "$STATUS" -eq 2 ] && grep -qxF "nntop: $want" "$TMP/err" && pass "--replay refuses run format 2" ||
    fail "--replay of run format 2"
run runs "$TMP/future" --format tsv
grep -q "${T}unreadable\$" "$TMP/out" && pass "runs lists run format 2 as unreadable" ||
    fail "runs of run format 2"
run runs "$TMP/future"
grep -qF "unreadable ($want)" "$TMP/out" && pass "... and says why" || fail "runs: why"
sed -i '1s/.*/run_format: one/' "$F/env.txt"
run diff "$A" "$F"
[ "$STATUS" -eq 2 ] && grep -qxF "nntop: diff: $F/env.txt:1: malformed 'run_format: one'" "$TMP/err" &&
    pass "a malformed run_format line: file:line and the line" || fail "malformed run_format"
# What nntop writes says version 1 on env.txt's first line.
[ "$(head -n 1 "$(ls -d "$TMP"/real/*/)env.txt")" = "run_format: 1" ] &&
    pass "a new run's env.txt starts with run_format: 1" || fail "run_format line of a new run"

finish
