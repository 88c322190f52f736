#!/bin/sh
# doctor-ui.sh - the doctor on the dashboard, under tmux: every warning
# mark is a doctor finding.  A healthy run (the full-batch spiral) ends
# with no warning or error mark anywhere on the screen and the doctor's
# initial-loss tick; a bug-zoo run (dead ReLUs) marks the dead layer's
# row and its dead share, and the header counts the warnings raised.
# Then the remedy on one key: with lr far too low, update-ratio-low is on
# screen and the function bar offers "f Fix lr x10"; f multiplies the lr
# by ten (the header shows it, events.jsonl journals it as an lr event),
# :fix RULE does it again, a bad rule is refused, and :explain RULE shows
# the rule's thresholds and what is raised now.
#
# Exit 77 (skip) only when tmux or nntop is missing.  Progress lines
# start with "# doctor-ui: ".
set -u

NAME=doctor-ui
SESSION=doc
. "${top_srcdir:-.}/tests/tmux-lib.sh"
case $top_srcdir in /*) SRC=$top_srcdir ;; *) SRC=$(pwd)/$top_srcdir ;; esac

start() {
    tmux_run "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP -o '$TMP/runs' $*"
}

# ---- a healthy run: no mark at all -------------------------------------

start "'$SRC/configs/spiral.yaml'"
if wait_for '^ nntop spiral-mlp .*done' 120; then
    if pane | grep -q -e '⚠' -e '✗'; then
        fail "healthy spiral: a warning or error mark is on the screen"
    else
        pass "healthy spiral: no warning or error mark anywhere"
    fi
    if header | grep -E -q '[0-9]+ (warn|err)'; then
        fail "healthy spiral: the header counts warnings or errors"
    else
        pass "healthy spiral: the header counts no warning or error"
    fi
    if pane | grep -E -q 'initial 1\.09[0-9]+ +expected 1\.09[0-9]+ ✓'; then
        pass "healthy spiral: the initial loss carries the doctor's tick"
    else
        fail "healthy spiral: no initial-loss tick"
    fi
else
    fail "healthy spiral: did not finish"
fi

# ---- a bug: dead ReLUs mark their row ------------------------------------

start "'$SRC/configs/bugs/dead-relu.yaml'"
if wait_for '^ nntop bug-dead-relu .*done' 120; then
    # layer 1 is the relu: its row is marked beside the index, and the dead share too
    if pane | grep -E -q '│[ ▸] 1⚠relu .* [0-9]+%⚠'; then
        pass "dead-relu: the relu row and its dead share are marked"
    else
        fail "dead-relu: no mark on the relu row"
    fi
    if [ "$(pane | grep -E -c '│[ ▸] [02] dense')" -eq 2 ]; then
        pass "dead-relu: the dense rows are not marked"
    else
        fail "dead-relu: a dense row is marked"
    fi
    if header | grep -E -q '⚠ [0-9]+ warn'; then
        pass "dead-relu: the header counts the warnings raised"
    else
        fail "dead-relu: no warning count in the header"
    fi
    run=$(ls -d "$TMP"/runs/*bug-dead-relu*/ | head -n 1)
    if grep '"type":"finding"' "$run/events.jsonl" | grep '"state":"raised"' |
        grep '"rule":"dead-relu"' | grep -q '"severity":"warning"'; then
        pass "dead-relu: the mark is the warning in events.jsonl"
    else
        fail "dead-relu: no dead-relu warning in events.jsonl"
    fi
else
    fail "dead-relu: did not finish"
fi

# ---- a remedy on one key: f, then :fix and :explain ------------------------

# wait_lr VALUE SECONDS: true once the header's lr is VALUE (to 0.1 %).
wait_lr() {
    i=0
    while [ "$i" -lt $(($2 * 10)) ]; do
        awk -v a="$(lr_now)" -v b="$1" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-3 * b) }' &&
            return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

start "'$SRC/configs/bugs/lr-too-low.yaml' --steps 100000000"
if wait_for 'update-ratio-low' 60 && wait_for '^F1Help fFix lr x10 ' 10; then
    pass "lr-too-low: update-ratio-low on screen, the bar offers f Fix lr x10"
    $TM send-keys -t doc ':explain update-ratio-low' Enter
    if wait_for 'explain update-ratio-low' 5 && wait_for 'doctor\.ratio_warning_low = 1e-05' 5 &&
        wait_for 'Now: raised on [0-9]\.weight at step' 5; then
        pass ":explain shows the rule's thresholds and the finding raised now"
    else
        fail ":explain update-ratio-low: no explanation"
    fi
    $TM send-keys -t doc Escape
    wait_gone 'explain update-ratio-low' 5 || fail "Esc should close the explanation"
    lr0=$(lr_now)
    $TM send-keys -t doc f
    want=$(awk -v x="$lr0" 'BEGIN { printf "%g", 10 * x }')
    if wait_lr "$want" 10; then
        pass "f applies the remedy: lr $lr0 -> $(lr_now) on screen"
    else
        fail "f should take the lr from $lr0 to $want"
    fi
    if wait_for 'fix for (update-ratio-low|plateau)[^:]*: lr x10 sent' 5; then
        pass "the message line names the finding fixed"
    else
        fail "no 'fix for ...' message"
    fi
    run=$(ls -d "$TMP"/runs/*bug-lr-too-low*/ | head -n 1)
    sleep 0.5
    if grep '"type":"lr"' "$run/events.jsonl" | tail -n 1 | grep '"value":0.0001' | grep -q 'x10'; then
        pass "the remedy is journaled in events.jsonl (lr x10 to 0.0001)"
    else
        fail "no lr x10 event in $run/events.jsonl: $(grep '"type":"lr"' "$run/events.jsonl")"
    fi
    # :fix RULE applies that rule's remedy (again x10)
    $TM send-keys -t doc ':fix update-ratio-low' Enter
    if wait_lr "$(awk -v x="$want" 'BEGIN { printf "%g", 10 * x }')" 10; then
        pass ":fix update-ratio-low applies it again: lr $(lr_now)"
    else
        fail ":fix update-ratio-low should multiply the lr by 10 (lr $(lr_now))"
    fi
    $TM send-keys -t doc ':fix bogus' Enter
    if wait_for "fix: 'bogus' is not a doctor rule" 5; then pass ":fix bogus is refused with the reason"
    else fail ":fix bogus: no error line"; fi
    $TM send-keys -t doc q
else
    fail "lr-too-low: no update-ratio-low with its remedy on the bar"
fi

finish
