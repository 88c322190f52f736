#!/bin/sh
# ui-hist.sh - the histogram panel and the update-ratio strip on the real
# dashboard under tmux, read off the screen: the fixed bins said on the
# panel, the percentile bands (p), the overlay on step 0 (b) and on a
# pinned step (M), the whole range (z), :export hist writing the bins as
# CSV and a failed export named on the message line with the dashboard
# going on, the strip (u) with one cell per snapshot and the 1e-3 band
# marked on its scale, its ASCII twin under LANG=C NO_COLOR=1, and at
# 200x60 the strip in its own row and a histogram per layer beside the
# selected one; --replay draws the bands from histograms.csv.
#
# The run starts paused (--paused) and moves only by n, one snapshot a
# step (telemetry.every=1), so what is on screen never depends on speed.
# Exit 77 (skip) when tmux or nntop is missing.  Lines start "# ui-hist: ".
set -u
NAME=ui-hist
SESSION=h
SCREEN_LC=C.UTF-8
. "${top_srcdir:-.}/tests/tmux-lib.sh"

# cols FROM TO: columns FROM..TO (1-based, characters, not bytes) of the screen.
cols() {
    pane | python3 -c 'import sys
a, b = int(sys.argv[1]), int(sys.argv[2])
for l in sys.stdin.read().split("\n"): print(l[a - 1:b])' "$1" "$2"
}

# start COLS ROWS LANG [ENV...] -- ARGS...: nntop in a fresh session.
start() {
    COLS=$1 ROWS=$2
    lang=$3
    shift 3
    envs=
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs="$envs $1"; shift; done
    [ $# -gt 0 ] && shift
    tmux_run "env $envs NNTOP_DEMO=spiral LANG=$lang LC_ALL=$lang TERM=screen $NNTOP $*"
}

# step N: press n N times, each after the header shows the step before it.
step() {
    k=0
    while [ "$k" -lt "$1" ]; do
        s=$(step_now)
        $TM send-keys -t h n
        wait_for "^ nntop .* step $((s + 1))[/ ]" 10 || fail "n should reach step $((s + 1))"
        k=$((k + 1))
    done
}

# ---- 100x30, UTF-8: the histogram's views --------------------------------

start 100 30 C.UTF-8 -- --paused -o "$TMP/runs" --set telemetry.every=1
expect_screen "the histogram says its fixed bins" '40 bins'
step 3
$TM send-keys -t h p
expect_screen "p: percentile bands over time" 'activations percentiles'
expect_screen "p: the bands' legend and the steps they span" '░7-93 ▒16-84 ▓31-69 ━50 %  steps 0-3'
$TM send-keys -t h p
expect_screen "p again: the bins" '40 bins'
$TM send-keys -t h b
expect_screen "b: the overlay on the first histogram" 'histogram overlay: the first histogram'
expect_screen "b: the overlay says its step" '40 bins  • step 0'
$TM send-keys -t h M
expect_screen "M: pins this step's histograms" 'histograms pinned at step 3'
expect_screen "M: the overlay compares to the pinned step" '40 bins  • step 3'
$TM send-keys -t h b
expect_screen "b after the pin: overlay off" 'histogram overlay: off'
$TM send-keys -t h z
expect_screen "z: the whole range" 'histogram: the whole range'

# :export hist FILE writes the bins; a bad path is named and nothing stops.
$TM send-keys -t h ":export hist $TMP/h.csv" Enter
wait_until 10 test -s "$TMP/h.csv"
if [ -s "$TMP/h.csv" ] && [ "$(head -n 1 "$TMP/h.csv")" = "lo,hi,count" ] &&
    [ "$(wc -l <"$TMP/h.csv")" -eq 43 ] && sed -n 2p "$TMP/h.csv" | grep -q '^-inf,' &&
    tail -n 1 "$TMP/h.csv" | grep -q ',inf,'; then
    pass ":export hist writes a header, under, 40 bins and over"
else
    fail ":export hist: $TMP/h.csv is not the 40 bins as CSV"
    cat "$TMP/h.csv" 2>/dev/null | head -5
fi
$TM send-keys -t h ":export hist $TMP/no/such/dir.csv" Enter
expect_screen "a failed export names the file on the message line" \
    "export: .*/no/such/dir.csv: No such file or directory"
step 1
pass "the dashboard goes on after a failed export"

# The strip: one cell per snapshot (steps 0..4), the 1e-3 band on the scale.
$TM send-keys -t h u
expect_screen "u: the update-ratio strip in the histogram's place" 'update/weight ratio · steps 0-4  \[u\]'
expect_screen "u: a row per weight layer, a cell per snapshot" \
    '│▸0 dense 2→256 +[·▁▂▃▄▆▇█!]{5} '
expect_screen "u: the last weight layer's row" '│ 4 dense 256→5 +[·▁▂▃▄▆▇█!]{5} '
expect_screen "u: the scale marks the 1e-3 band" '1e-6 ·▁▂▃\[▄\]▆▇█ 0.1'
$TM send-keys -t h u
expect_screen "u again: the histogram" '0 dense 2→256 · activations'
$TM send-keys -t h q
wait_exit 10 >/dev/null
run=$(ls -d "$TMP"/runs/*/ 2>/dev/null | head -n 1)

# ---- the replay draws the bands from histograms.csv ----------------------

if [ -n "$run" ]; then
    start 100 30 C.UTF-8 -- --replay "$run"
    expect_screen "--replay: the histogram" '0 dense 2→256 · activations'
    $TM send-keys -t h p
    expect_screen "--replay: p draws the bands over the recorded steps" '━50 %  steps [0-9]+-[0-9]+'
else
    fail "the first run left no run directory"
fi

# ---- LANG=C NO_COLOR=1: the ASCII twins ----------------------------------

start 100 30 C NO_COLOR=1 -- --paused --no-log --set telemetry.every=1
expect_screen "ASCII: the histogram" '0 dense 2->256 - activations'
step 2
$TM send-keys -t h u
expect_screen "ASCII: the strip's rows" '\|>0 dense 2->256 +[._~=+*#!-]{3} '
expect_screen "ASCII: the 1e-3 band on the scale" '1e-6 \._-~\[=\]\+\*# 0\.1'
$TM send-keys -t h u p
expect_screen "ASCII: the bands' legend" '\.7-93 :16-84 #31-69 =50 %'
if pane_e | grep -q "$(printf '\033')\[[0-9;]*3[0-7]m"; then
    fail "NO_COLOR: the screen has SGR colours"
else
    pass "NO_COLOR: no SGR colours"
fi
$TM send-keys -t h q

# ---- 200x60: the strip has its own row, a histogram per layer -------------

start 200 60 C.UTF-8 -- --paused --no-log --set telemetry.every=1
expect_screen "200x60: the strip without a key" 'update/weight ratio · steps 0-0'
expect_screen "200x60: the histograms of every layer" '┌ every layer · activations \(zoomed\)  \[h z\]'
step 1
mid=$(cols 76 150)
n=0
for l in '0 dense 2→256' '1 relu' '2 dense 256→256' '3 relu' '4 dense 256→5'; do
    echo "$mid" | grep -q "$l" && n=$((n + 1))
done
if [ "$n" -eq 5 ]; then pass "200x60: a histogram for each of the 5 layers"
else
    fail "200x60: $n of 5 layers have a histogram in the middle column"
    echo "$mid" | sed 's/^/    /'
fi
$TM send-keys -t h h
expect_screen "h switches every layer's histogram" '┌ every layer · weights'
$TM send-keys -t h q

finish
