#!/bin/sh
# replay-multi.sh - nntop --replay RUN_A RUN_B ... under tmux, on fixture
# runs made here (the spiral at three learning rates, a few hundred
# steps each): every run's loss curve is on screen with its letter and
# named in the legend, under NO_COLOR and in ASCII too; the header and
# the layer table are the selected run's and r selects the next; the
# histogram of the selected layer is drawn over the other run's.  More
# than four runs, or a directory that is not a run, is one line and
# exit status 2; r on a single replay says what it is for.
#
# Exit 77 (skip) only when tmux or nntop is missing.  Progress lines
# start with "# replay-multi: ".
set -u
NAME=replay-multi
SESSION=rm
. "${top_srcdir:-.}/tests/tmux-lib.sh"
case $top_srcdir in /*) SRC=$top_srcdir ;; *) SRC=$(pwd)/$top_srcdir ;; esac
ON_FAIL=:

# A failure on the dashboard shows the screen.
fail_screen() {
    fail "$@"
    show_screen
}
# The loss panel's inside: the left box of rows 3 to 13 (the plot and its x axis).
loss_plot() { pane | sed -n 3,13p | awk -F'│' '{print $2}'; }
# The histogram panel's title line.
hist_title() { pane | grep -E '^┌ [0-9]+ |^\+ [0-9]+ ' | head -n 1; }

# start LANG ARGS...: nntop in a fresh 100x30 tmux session without colour.
start() {
    lang=$1
    shift
    tmux_run "env LANG=$lang LC_ALL=$lang TERM=screen NO_COLOR=1 $NNTOP $*"
}

# ---- fixture runs: the spiral at lr 1, 0.05 and 0.3 ------------------------

for spec in base:1.0 slow:0.05 mid:0.3; do
    name=${spec%%:*}
    lr=${spec#*:}
    run -H -o "$TMP/runs" --steps 300 --set "name=$name" --set "optim.lr=$lr" \
        "$SRC/configs/spiral.yaml"
    check "fixture $name" 0 || exit 1
done
rm -f "$TMP/out" "$TMP/err"
A=$(ls -d "$TMP"/runs/*-base)
B=$(ls -d "$TMP"/runs/*-slow)
C=$(ls -d "$TMP"/runs/*-mid)

# ---- three runs overlaid, UTF-8, NO_COLOR ----------------------------------

start C.UTF-8 --replay "'$A'" "'$B'" "'$C'"
if wait_for '^ nntop base .*run A of 3' 20 && wait_for 'loss · 3 runs' 5; then
    pass "header: run A of 3 selected, the loss panel says 3 runs"
else
    fail_screen "no 'run A of 3' header or '3 runs' loss title"
fi
# the legend names each run beside its letter and its latest loss
if pane | grep -E -q '│A base( [0-9.]+)? +B slow( [0-9.]+)? +C mid'; then
    pass "legend: A base, B slow, C mid (and their last losses where they fit)"
else
    fail_screen "legend does not name the three runs"
fi
# each run's letter marks its curve (without colour: the letters tell them apart)
for l in A B C; do
    if loss_plot | grep -q "$l"; then
        pass "curve of run $l carries its letter"
    else
        fail_screen "no letter $l on the curves"
    fi
done
# the curves differ: base ends lower than slow, so A's last mark sits lower
last_row() { loss_plot | grep -n "$1" | tail -n 1 | cut -d: -f1; }
if [ "$(last_row A)" -gt "$(last_row B)" ]; then
    pass "run A (lr 1) ends below run B (lr 0.05) on the plot"
else
    fail_screen "run A's curve should end below run B's (rows $(last_row A), $(last_row B))"
fi
if pane | grep -q 'layers of run A' && header | grep -q ' lr 1 '; then
    pass "layer table and header are run A's (lr 1)"
else
    fail_screen "layer table or header is not run A's"
fi
row_a=$(pane | grep -E '▸ 0 dense' | awk -F'│' '{print $4}')
if hist_title | grep -q 'activations A vs B' && pane | grep -q 'A bars n .* B letters n'; then
    pass "histogram: run A's bars with run B's letters over them"
else
    fail_screen "no 'A vs B' histogram overlay"
fi
# B's letters draw its histogram over A's bars (a profile, more than a few cells)
nb=$(pane | sed -n 17,26p | awk -F'│' '{print $2}' | tr -cd 'B' | wc -c)
if [ "$nb" -ge 5 ]; then
    pass "run B's histogram is drawn over A's ($nb letter cells)"
else
    fail_screen "run B's histogram has $nb letter cells"
fi

# r selects the next run: header, layer table and histogram follow
$TM send-keys -t rm r
if wait_for '^ nntop slow .*run B of 3' 5 && header | grep -q ' lr 0.05 ' &&
    wait_for 'layers of run B' 5; then
    pass "r: run B selected, header and layer table are B's (lr 0.05)"
else
    fail_screen "r should select run B"
fi
row_b=$(pane | grep -E '▸ 0 dense' | awk -F'│' '{print $4}')
if [ -n "$row_a" ] && [ "$row_a" != "$row_b" ]; then
    pass "the layer row changed with the selected run"
else
    fail_screen "layer 0's row is the same for runs A and B: '$row_a'"
fi
if hist_title | grep -q 'activations B vs A'; then
    pass "histogram: run B over run A"
else
    fail_screen "histogram title should say B vs A: $(hist_title)"
fi
if pane | grep -q "run B selected: .*-slow"; then
    pass "the message line names the selected run's directory"
else
    fail_screen "no 'run B selected' message"
fi
$TM send-keys -t rm r r
if wait_for '^ nntop base .*run A of 3' 5; then
    pass "r wraps round to run A"
else
    fail_screen "r r should come back to run A"
fi
$TM send-keys -t rm q

# ---- ASCII: the letters and the legend still tell the runs apart -----------

start C --replay "'$A'" "'$B'"
if wait_for '^ nntop base .*run A of 2' 20 && wait_for '\|A base [0-9.]+ +B slow' 5; then
    pass "ASCII: header and legend"
else
    fail_screen "ASCII: no header or legend"
fi
for l in A B; do
    if pane | sed -n 3,13p | cut -d'|' -f2 | grep -q "$l"; then
        pass "ASCII: curve of run $l carries its letter"
    else
        fail_screen "ASCII: no letter $l on the curves"
    fi
done
$TM send-keys -t rm q

# ---- one run: r says what it is for ----------------------------------------

start C.UTF-8 --replay "'$A'"
if wait_for '^ nntop base ' 20; then
    $TM send-keys -t rm r
    if wait_for 'one run: r selects among the runs of nntop --replay RUN_A RUN_B' 5 &&
        ! header | grep -q 'run A of'; then
        pass "single replay: r explains itself, no run letter in the header"
    else
        fail_screen "single replay: r should explain itself"
    fi
else
    fail_screen "single replay did not start"
fi
$TM send-keys -t rm q

# ---- bad input: one line, exit 2 -------------------------------------------

run --replay "$A" "$B" "$C" "$A" "$B"
if check "five runs: exit 2 and the message" 2 err '^nntop: --replay: at most 4 runs can be compared, got 5$'; then
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "five runs: more than one line"
fi
mkdir "$TMP/notarun"
run --replay "$A" "$TMP/notarun"
if check "not a run: exit 2 and the message" 2 err "^nntop: $TMP/notarun/config.yaml: "; then
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "not a run: more than one line"
fi
# Compared runs without a terminal print one after the other, under their letters.
run --replay "$A" "$B"
check "headless compare" 0 out "^run A: $A" out "^run B: $B"

finish
