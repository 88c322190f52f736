#!/bin/sh
# torch-doctor.sh - the doctor runs in the viewer on what it reads.  A
# PyTorch loop logged with contrib/python/nntop_torch.py (which runs no
# doctor) with two planted bugs (tests/torch_logger_bug.py: lr 3 for SGD,
# first-layer biases of -20 so every ReLU is dead) replayed headless and
# under tmux gets lr-out-of-range and dead-relu findings: listed, in the
# findings panel, counted in the header, marking the relu row.  The
# logger's histograms.csv (activations through forward hooks, weights and
# gradients) is nntop's format and the replay draws it.  nntop's own
# run (configs/bugs/dead-relu.yaml) shows the findings its trainer logged,
# each once, and the viewer's doctor, run on the same run's logged
# statistics alone (its finding lines and env.txt "doctor: logged" taken
# out), finds exactly the same.
#
# Exit 77 (skip) when /usr/bin/python3 has no torch; the tmux part is
# skipped without tmux.  Lines start with "# torch-doctor: ".
set -u
NAME=torch-doctor
SESSION=doc
TMUX_OPTIONAL=1
. "${top_srcdir:-.}/tests/tmux-lib.sh"
ON_FAIL=:
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    say "SKIP: $PY cannot import torch (Debian: python3-torch)"
    exit 77
fi
case $top_srcdir in /*) SRC=$top_srcdir ;; *) SRC=$(pwd)/$top_srcdir ;; esac

# The findings of a headless replay (file $1), one per line, sorted.
findings() { grep -E '^(OK|INFO|WARN|ERR|ERROR) step ' "$1" | sort; }

# ---- a PyTorch run with planted bugs ----------------------------------------

if ! "$PY" "$SRC/tests/torch_logger_bug.py" "$SRC/contrib/python" "$TMP/runs" >"$TMP/py.out" \
    2>"$TMP/py.err"; then
    fail "the planted-bug PyTorch loop failed: $(tail -n 3 "$TMP/py.err")"
    exit 1
fi
RUN=$(sed -n 1p "$TMP/py.out")
if grep -q '"type":"finding"' "$RUN/events.jsonl" || grep -q '^doctor: ' "$RUN/env.txt"; then
    fail "the logger should journal no findings of its own"
fi
# Histograms as nntop writes them: at each of the 19 snapshots (steps 10-190)
# every layer's activations (3) and every tensor's weights and gradients (4
# each), 40 bins whose counts add up to the total.
rows=$(awk -F, 'NR > 1 { print $1 "," $2 }' "$RUN/histograms.csv" | sort | uniq -c |
    awk '{ print $1 }' | sort -u | tr '\n' ' ')
bad=$(awk -F, 'NR > 1 { n = split($9, c, " "); s = 0; for (i = 1; i <= n; i++) s += c[i]
                        if (s != $8 || n != 40 || $6 != 0 || $7 != 0) bad++ } END { print bad + 0 }' \
    "$RUN/histograms.csv")
nsteps=$(awk -F, 'NR > 1 { print $1 }' "$RUN/histograms.csv" | sort -u | wc -l)
if [ "$(sed -n 1p "$RUN/histograms.csv")" = "step,what,index,lo,hi,under,over,total,counts" ] &&
    [ "$rows" = "3 4 " ] && [ "$bad" = 0 ] && [ "$nsteps" = 19 ]; then
    pass "histograms.csv: act x3, weight x4, grad x4 at each of 19 snapshots, counts add up"
else
    fail "histograms.csv: per-step counts '$rows', $bad bad rows, $nsteps steps"
fi
run --replay "$RUN"
check "replay of the PyTorch run: the viewer's doctor finds the planted bugs" 0 \
    out '^WARN step 0 lr-out-of-range: sgd lr 3 is above 1 ' \
    out '^WARN step [0-9]+ dead-relu layer 1: 100% of units dead \(threshold 70%\)' \
    out '^doctor: [0-9]+ warnings'
# Weights the log does not bound are not judged equal (symmetric-init).
if grep -q 'symmetric-init' "$TMP/out"; then
    fail "symmetric-init raised on weights layers.csv does not bound: $(grep symmetric-init "$TMP/out")"
else
    pass "no symmetric-init from weights the log does not bound"
fi
run attach -H "$RUN"
check "attach -H of the PyTorch run: the same findings" 0 \
    out '^WARN step 0 lr-out-of-range: ' out '^WARN step [0-9]+ dead-relu layer 1: '

if [ -n "$HAVE_TMUX" ]; then
    tmux_run "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP --replay '$RUN'"
    if wait_for '^ nntop torch-bug .*done' 20 && wait_for '⚠ +[0-9]+ dead-relu layer 1: 100%' 5; then
        pass "findings panel: dead-relu of the PyTorch run"
    else
        fail "the findings panel should list dead-relu"
        show_screen
    fi
    # the oldest findings (Home): the lr judged at the start
    $TM send-keys -t doc Home
    if wait_for '⚠ +0 lr-out-of-range: sgd lr 3 is above 1' 5; then
        pass "findings panel: lr-out-of-range of the PyTorch run (Home)"
    else
        fail "the findings panel should list lr-out-of-range after Home"
        show_screen
    fi
    if pane | sed -n 1p | grep -E -q '⚠ [0-9]+ warn' && pane | grep -E -q '│[ ▸] 1⚠relu '; then
        pass "the header counts the warnings and the relu row is marked"
    else
        fail "no warning count in the header or no mark on the relu row"
        show_screen
    fi
    # the logger's activation histograms are drawn (layer 0: 32 samples x 32 units)
    if pane | grep -q '┌ 0 dense 2→32 · activations' && pane | grep -q '│[ ▁▂▃▄▅▆▇█]*█' &&
        pane | grep -E -q '│n 1\.02k  [0-9]+ bins  mean -20'; then
        pass "the histogram panel draws the logger's activation histogram"
    else
        fail "no activation histogram of the PyTorch run on screen"
        show_screen
    fi
    $TM send-keys -t doc h
    if wait_for '┌ 0 dense 2→32 · weights' 5 && wait_for '│n 64  [0-9]+ bins  0\.weight norm' 5; then
        pass "h: the logger's weight histogram of 0.weight"
    else
        fail "h should show the weight histogram of 0.weight"
        show_screen
    fi
    $TM send-keys -t doc q
else
    say "tmux is not installed: the dashboard part is skipped"
fi

# ---- nntop's own run: the trainer's findings, once; the viewer's agree ---------

run -H -o "$TMP/own" "$SRC/configs/bugs/dead-relu.yaml"
check "nntop's own dead-relu run" 0 || exit 1
OWN=$(ls -d "$TMP"/own/*/)
grep -q '^doctor: logged$' "$OWN/env.txt" && pass "env.txt says the trainer logged its findings" ||
    fail "env.txt should say doctor: logged"
run --replay "$OWN"
check "replay of nntop's own run: the logged dead-relu finding" 0 \
    out '^WARN step [0-9]+ dead-relu layer 1: '
findings "$TMP/out" >"$TMP/logged"
raised=$(grep '"type":"finding"' "$OWN/events.jsonl" | grep -c -v '"state":"cleared"')
shown=$(wc -l <"$TMP/logged")
if [ "$shown" -eq "$raised" ]; then
    pass "each logged finding shown once ($shown)"
else
    fail "$raised findings logged, $shown shown: not each once"
fi
STRIP="$TMP/stripped"
cp -r "$OWN" "$STRIP"
sed -i '/^doctor: /d' "$STRIP/env.txt"
grep -v '"type":"finding"' "$OWN/events.jsonl" >"$STRIP/events.jsonl"
run --replay "$STRIP"
findings "$TMP/out" >"$TMP/derived"
if [ -s "$TMP/derived" ] && cmp -s "$TMP/logged" "$TMP/derived"; then
    pass "the viewer's doctor on the logged statistics finds what the trainer logged ($shown)"
else
    fail "the viewer's findings differ from the trainer's: $(diff "$TMP/logged" "$TMP/derived" | head -n 6)"
fi

finish
