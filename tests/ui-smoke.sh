#!/bin/sh
# ui-smoke.sh - drive the real nntop dashboard under tmux and read the
# screen: header, rising step count, loss-curve glyphs, pause, single
# step, lr keys and the ':' prompt (checked on screen and in events.jsonl),
# a bad command, a too-small terminal and recovery, the help overlay, q
# leaving a complete run directory, an ASCII-only screen under LANG=C, and
# --replay of the run showing its final step.
#
# It does not judge layout details or colours (tests/check_ui.c covers
# the layout math); it checks what a user would see and what the run log
# records.  Exit 77 (skip) only when tmux or nntop is missing.
# Progress lines start with "# ui-smoke: " (CI collects them).
set -u

NAME=ui-smoke
SESSION=smoke
. "${top_srcdir:-.}/tests/tmux-lib.sh"

STEPS=100000000          # far more than the test lasts: the run never ends by itself
DEMO=spiral              # the demo start() runs without a config ('' = nntop's own choice)
NOCOLOR=                 # non-empty: start() sets NO_COLOR=1

message() { pane | tail -n 2 | head -n 1; }

# start LANG ARGS...: nntop in a fresh 100x30 tmux session.
start() {
    lang=$1
    shift
    tmux_run "env ${NOCOLOR:+NO_COLOR=1} NNTOP_DEMO=$DEMO LANG=$lang LC_ALL=$lang TERM=screen $NNTOP $*"
}

# start_sized COLS ROWS ARGS...: start, then resize to COLS x ROWS.
start_sized() {
    cols=$1
    rows=$2
    shift 2
    start C.UTF-8 "$@"
    $TM resize-window -t smoke -x "$cols" -y "$rows"
}

# ---- the demo as a newcomer starts it: still running after 20 s ---------

DEMO=
start C.UTF-8 -o "$TMP/runs-demo"
if wait_for '^ nntop demo-.*running' 30; then
    sleep 20
    s20=$(step_now)
    total=$(header | sed -n 's/.* step [0-9]*\/\([0-9]*\) .*/\1/p')
    if header | grep -q 'running' && [ -n "$s20" ] && [ -n "$total" ] && [ "$s20" -lt "$total" ]; then
        pass "the demo is still running 20 s after start (step $s20 of $total)"
    else fail "the demo should still run after 20 s (step '$s20' of '$total')"; fi
    $TM send-keys -t smoke ' '
    if wait_for '^ nntop demo-.*paused' 10; then pass "Space pauses the demo then"
    else fail "Space should pause the demo after 20 s"; fi
else fail "the demo should start"; fi
$TM send-keys -t smoke q
status=$(wait_exit 30)
[ "$status" = 0 ] || fail "demo: q should exit 0, got '$status'"
DEMO=spiral

# ---- --paused: step 0 on screen, n runs exactly one step ----------------

start C.UTF-8 --paused --no-log
if wait_for '^ nntop demo-spiral .*paused .*step 0/' 20 && wait_for 'snapshot at step 0' 10 &&
    wait_for 'initial [0-9.]+ +expected' 10; then
    pass "--paused shows step 0: header, layer snapshot, initial loss"
else fail "--paused should show step 0 with the snapshot and the initial loss"; fi
$TM send-keys -t smoke n
if wait_for '^ nntop .* step 1/' 10; then
    sleep 1
    if [ "$(step_now)" = 1 ] && header | grep -q paused; then pass "--paused: n advances exactly one step"
    else fail "--paused: n should stop at step 1, header: $(header)"; fi
else fail "--paused: n should reach step 1"; fi
$TM send-keys -t smoke q
status=$(wait_exit 30)
[ "$status" = 0 ] || fail "--paused: q should exit 0, got '$status'"

# ---- layout: 80x24 cuts no layer shape, 200x60 shows every layer row -----

start_sized 80 24 --paused --no-log -s train.batch_size=32
if wait_for 'snapshot at step 0' 20; then
    cut=""
    for want in 'dense 2→256' 'dense 256→256' 'dense 256→5'; do
        pane | grep -q -- "$want " || cut="$cut '$want'"
    done
    # Any other "dense" text must be a whole label or end in an ellipsis.
    bad=$(pane | grep -o 'dense [0-9→…]*' | grep -v -E '^dense [0-9]+→[0-9]+$|…$' | head -n 3)
    if [ -z "$cut" ] && [ -z "$bad" ]; then pass "80x24: every layer shape whole (or with an ellipsis)"
    else fail "80x24: layer shapes cut:$cut $bad"; fi
else fail "80x24: the dashboard should show step 0"; fi
$TM send-keys -t smoke q
wait_exit 30 >/dev/null

deep='model.layers=['
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do deep="${deep}{dense: 16}, relu, "; done
deep="${deep}{dense: 5}]"
start_sized 200 60 --paused --no-log -s "'$deep'"
if wait_for 'snapshot at step 0' 20; then
    missing=""
    for i in 0 5 10 15 20 23 24; do
        pane | grep -E -q "│[ ▸] *$i (dense|relu)" || missing="$missing $i"
    done
    if [ -z "$missing" ]; then pass "200x60: all 25 layer rows show"
    else fail "200x60: layer rows missing:$missing"; fi
else fail "200x60: the dashboard should show step 0"; fi
$TM send-keys -t smoke q
wait_exit 30 >/dev/null

# ---- NO_COLOR: no colour codes, a legend that tells the series apart -----

NOCOLOR=1
start C.UTF-8 --paused --no-log
NOCOLOR=
if wait_for 'snapshot at step 0' 20; then
    $TM send-keys -t smoke n
    sleep 1
    # Colour SGR parameters: 30-38, 40-48, 90-97, 100-107 (39/49 only reset to the default).
    sgr=$($TM capture-pane -e -t smoke -p |
        grep -E -c "$(printf '\033')\[([0-9]*;)*(3[0-8]|4[0-8]|9[0-7]|10[0-7])(;[0-9]*)*m")
    if [ "$sgr" = 0 ] && pane | grep -q -- '─ train • val · L2 ─'; then
        pass "NO_COLOR=1: no SGR colour codes, a legend (─ train, • val, · L2)"
    else fail "NO_COLOR=1: $sgr lines with colour codes, or no legend"; fi
else fail "NO_COLOR=1: the dashboard should show step 0"; fi

# ---- the mouse: a click on a layer row selects it ------------------------

# An xterm mouse report (button 1 at column 62, row 6: layer 2's row),
# written into the pane as a terminal would send it.
click=$(printf '\033[M %s%s' "$(printf '\\%03o' $((32 + 62)))" "$(printf '\\%03o' $((32 + 6)))")
click=$(printf "$click")
$TM send-keys -t smoke -l "$click"
if wait_for '│▸ 2 dense 256→256' 10 && wait_for '2 dense 256→256 · activations' 10; then
    pass "a mouse click on a layer row selects it (and its histogram)"
else fail "a click on layer 2's row should select it"; fi
$TM send-keys -t smoke q
wait_exit 30 >/dev/null

# ---- a live run in a UTF-8 locale --------------------------------------

# telemetry.max_hz=0.001: histograms at step 1 only (the end never comes),
# so the replay below must show those of step 1 whatever the machine's speed.
start C.UTF-8 -o "$TMP/runs" -n $STEPS -s telemetry.max_hz=0.001
if wait_for '^ nntop demo-spiral .*running' 20; then pass "header shows the run and 'running'"
else fail "header with 'nntop demo-spiral' and 'running' expected"; fi

s1=$(step_now)
sleep 1
s2=$(step_now)
if [ -n "$s1" ] && [ -n "$s2" ] && [ "$s2" -gt "$s1" ]; then pass "step rises ($s1 -> $s2)"
else fail "step should rise, read '$s1' then '$s2'"; fi

# Braille dots (U+2800..U+28FF: bytes e2 a0..a3 xx) inside the loss panel.
if wait_for 'initial [0-9.]+' 10 && pane | LC_ALL=C grep -q "$(printf '\342[\240-\243]')"; then
    pass "loss curve drawn in braille"
else fail "braille loss curve expected"; fi

$TM send-keys -t smoke ' '
if wait_for '^ nntop demo-spiral .*paused' 10; then pass "Space pauses"
else fail "'paused' expected in the header after Space"; fi
sleep 0.5
p1=$(step_now)
sleep 1
p2=$(step_now)
if [ -n "$p1" ] && [ "$p1" = "$p2" ]; then pass "paused: step stays at $p1"
else fail "step should stay while paused, read '$p1' then '$p2'"; fi

$TM send-keys -t smoke n
want=$((p1 + 1))
if wait_for "^ nntop .* step $want[/ ]" 10; then
    sleep 0.5
    p3=$(step_now)
    if [ "$p3" = "$want" ]; then pass "n advances exactly one step ($p1 -> $p3)"
    else fail "n should advance exactly one step from $p1, now at $p3"; fi
else fail "n should advance to step $want"; fi

run=$(ls -d "$TMP"/runs/*/ 2>/dev/null | head -n 1)
events="${run}events.jsonl"
lr0=$(lr_now)
$TM send-keys -t smoke +
want=$(awk -v x="$lr0" 'BEGIN { printf "%g", 2 * x }')
want_re=$(printf '%s' "$want" | sed 's/[.+]/\\&/g')
if wait_for "^ nntop .* lr $want_re " 10; then pass "+ doubles the lr on screen ($lr0 -> $want)"
else fail "+ should show lr $want (was $lr0)"; fi
sleep 0.3
if grep '"type":"lr"' "$events" 2>/dev/null | tail -n 1 | grep -q 'x2'; then
    pass "+ is recorded in events.jsonl"
else fail "an lr x2 event expected in $events"; fi

$TM send-keys -t smoke ':lr 0.01' Enter
if wait_for '^ nntop .* lr 0\.01 ' 10; then pass ":lr 0.01 sets the lr"
else fail ":lr 0.01 should show lr 0.01"; fi
sleep 0.3
if grep '"type":"lr"' "$events" 2>/dev/null | tail -n 1 | grep -q '"value":0.01'; then
    pass ":lr 0.01 is recorded in events.jsonl"
else fail "an lr event with value 0.01 expected in $events"; fi

nlr=$(grep -c '"type":"lr"' "$events")
$TM send-keys -t smoke ':lr abc' Enter
if wait_for "lr: expected a positive number, got 'abc'" 10; then pass "a bad command shows its error"
else fail "error line for ':lr abc' expected"; fi
sleep 0.5
if [ "$(lr_now)" = "0.01" ] && [ "$(grep -c '"type":"lr"' "$events")" = "$nlr" ]; then
    pass "a bad command changes nothing"
else fail "lr should stay 0.01 with $nlr lr events"; fi

$TM resize-window -t smoke -x 60 -y 20
if wait_for 'terminal too small \(need 80x24\)' 10; then pass "60x20 shows the too-small notice"
else fail "'terminal too small (need 80x24)' expected at 60x20"; fi
$TM resize-window -t smoke -x 100 -y 30
if wait_gone 'too small' 10 && wait_for '^ nntop demo-spiral' 10; then
    pass "back at 100x30 the dashboard returns"
else fail "the dashboard should come back at 100x30"; fi

$TM send-keys -t smoke '?'
if wait_for 'help .* Esc closes' 10 && pane | grep -q 'pause or resume training'; then
    pass "? shows the help overlay"
else fail "help overlay expected after ?"; fi
ng=$(grep -c '"type":"gradcheck"' "$events")
$TM send-keys -t smoke g
if wait_for 'help is open: Esc, q or \? closes it' 10 && pane | grep -q 'Esc closes'; then
    sleep 1
    if [ "$(grep -c '"type":"gradcheck"' "$events")" = "$ng" ]; then
        pass "the help overlay swallows g (no gradient check)"
    else fail "g inside the help must not start a gradient check"; fi
else fail "g inside the help should keep it open and say how to close it"; fi
$TM send-keys -t smoke Escape
if wait_gone 'Esc closes' 10; then pass "Esc closes it"
else fail "Esc should close the help"; fi
$TM send-keys -t smoke F2
if wait_for 'F2 does nothing here: press \? for the keys' 10; then pass "an unbound key says so, naming ?"
else fail "F2 should say it does nothing and name ?"; fi
$TM send-keys -t smoke ':help mom' Tab Enter
if wait_for ':momentum M: set SGD momentum' 10; then pass ":help mom<Tab> completes and shows the synopsis"
else fail ":help momentum should show its synopsis"; fi

$TM send-keys -t smoke q
status=$(wait_exit 30)
if [ "$status" = 0 ]; then pass "q exits 0"
else fail "q should exit 0, got '$status'"; fi
missing=""
for f in config.yaml metrics.csv layers.csv events.jsonl env.txt; do
    [ -s "$run$f" ] || missing="$missing $f"
done
ls "$run"checkpoint-*.safetensors >/dev/null 2>&1 || missing="$missing checkpoint"
if [ -n "$run" ] && [ -z "$missing" ]; then pass "the run directory is complete"
else fail "run directory '$run' lacks:$missing"; fi
final=$(grep '"type":"quit"' "$events" 2>/dev/null |
    sed -n 's/.*"step":\([0-9]*\).*/\1/p' | tail -n 1)

# ---- the same with LANG=C: nothing but ASCII on screen -----------------

start C -o "$TMP/runs-c" -n $STEPS
if wait_for '^ nntop demo-spiral .*running' 20 && wait_for 'initial [0-9.]+' 10; then
    sleep 1
    if pane | LC_ALL=C grep -q "$(printf '[\200-\377]')"; then
        fail "LANG=C: bytes above 0x7f on screen"
    else pass "LANG=C: the screen is pure ASCII"; fi
else fail "LANG=C: the dashboard should start"; fi
$TM send-keys -t smoke q
status=$(wait_exit 30)
[ "$status" = 0 ] || fail "LANG=C: q should exit 0, got '$status'"

# ---- overfit mode: o, 100 % training accuracy on screen, the doctor says so

start C.UTF-8 --paused --no-log
if wait_for '^ nntop demo-spiral .*paused .*step 0/' 20; then
    $TM send-keys -t smoke o
    if wait_for '^ nntop .* overfit' 10; then pass "o turns overfit mode on (header says overfit)"
    else fail "o should turn overfit mode on"; fi
    $TM send-keys -t smoke ' '
    if wait_for 'train (100%|[0-9.e-]+ \(100%\))' 30 && wait_for 'overfit-reached' 10; then
        pass "overfit mode: training accuracy 100% beside val, and overfit-reached"
    else fail "overfit mode should reach 'train 100%' and show overfit-reached"; fi
    $TM send-keys -t smoke o
    sleep 1
    if header | grep -q overfit; then fail "o again should leave overfit mode: $(header)"
    else pass "o again leaves overfit mode"; fi
else fail "overfit: the dashboard should start paused"; fi
$TM send-keys -t smoke q
status=$(wait_exit 30)
[ "$status" = 0 ] || fail "overfit: q should exit 0, got '$status'"

# ---- replay of the first run -------------------------------------------

if [ -n "$final" ]; then
    start C.UTF-8 --replay "$run"
    if wait_for "^ nntop demo-spiral .* step $final[/ ]" 20; then
        pass "--replay shows the final step $final"
    else fail "--replay should show step $final"; fi
    # The last snapshots carry no histograms (telemetry.max_hz): the panel
    # keeps step 1's from histograms.csv, with bars, counts and its step.
    if [ -s "${run}histograms.csv" ] && wait_for ' activations at step 1  \[h\]' 10 &&
        wait_for '│n [0-9.]+k? .*bins +mean ' 10 && pane | grep -q '[▁▂▃▄▅▆▇█]' &&
        ! pane | grep -q 'no histogram data'; then
        pass "--replay shows histograms (from histograms.csv, step 1's kept)"
    else fail "--replay should draw step 1's histograms of ${run}histograms.csv"; fi
    $TM send-keys -t smoke ' '
    if wait_for 'read-only in replay' 10; then pass "replay refuses steering keys"
    else fail "'read-only in replay' expected"; fi
    $TM send-keys -t smoke q
    status=$(wait_exit 10)
    [ "$status" = 0 ] || fail "replay: q should exit 0, got '$status'"
else
    fail "no quit event with the final step in $events"
fi

# ---- replay of a finished headless run: the last step's histograms ------

if NNTOP_DEMO=spiral "$NNTOP" -H -n 300 -o "$TMP/runs-h" >/dev/null 2>&1 </dev/null; then
    hrun=$(ls -d "$TMP"/runs-h/*/ 2>/dev/null | head -n 1)
    start C.UTF-8 --replay "$hrun"
    if wait_for '^ nntop demo-spiral .* step 300/300' 20 &&
        wait_for ' 0 dense 2→256 · activations  \[h\] ' 10 && wait_for '│n [0-9.]+k? .*bins +mean ' 10 &&
        pane | grep -q '[▁▂▃▄▅▆▇█]'; then
        pass "--replay of a finished run draws the final step's histograms"
    else fail "--replay of $hrun should draw step 300's histograms"; fi
    $TM send-keys -t smoke q
    status=$(wait_exit 10)
    [ "$status" = 0 ] || fail "replay (headless run): q should exit 0, got '$status'"
else fail "a headless 300-step run should succeed"; fi

finish
