#!/bin/sh
# ui-select.sh - picking things on the dashboard, under tmux: a mouse click
# on a finding selects it (its row is marked and the message line says
# what f and :explain will do), f applies that finding's remedy, :explain
# without a rule explains it, Esc unselects; the prompt completes config
# keys (:set optim.l<Tab>), :set optim.lr sets the lr on screen, and a key
# that cannot change live is refused by name.
#
# The run is configs/bugs/lr-too-low.yaml, started paused and moved by
# :step 100 only (update-ratio-low is raised by then), so the findings
# panel holds the same events on every machine and nothing moves under
# the click.  Exit 77 (skip) when tmux
# or nntop is missing.  Lines start "# ui-select: ".
set -u
NAME=ui-select
SESSION=s
SCREEN_LC=C.UTF-8
. "${top_srcdir:-.}/tests/tmux-lib.sh"
case $top_srcdir in /*) SRC=$top_srcdir ;; *) SRC=$(pwd)/$top_srcdir ;; esac

# click COL ROW: an xterm mouse report of button 1 pressed and released at a
# 1-based cell, as a terminal sends it (a press alone leaves curses waiting
# for the release, and the next press is lost).  tmux garbles a report whose
# row byte is ':' or ';' (rows 26 and 27): the clicks here stay above.
click() {
    x=$(printf '\\%03o' $((32 + $1)))
    y=$(printf '\\%03o' $((32 + $2)))
    $TM send-keys -t s -l "$(printf "$(printf '\033[M %s%s\033[M#%s%s' "$x" "$y" "$x" "$y")")"
}

# row TEXT: the first screen row (1-based) whose findings half holds TEXT.
row() {
    pane | python3 -c 'import sys
for i, l in enumerate(sys.stdin.read().split("\n")):
    if sys.argv[1] in l[50:]:
        print(i + 1)
        break' "$1"
}

tmux_run "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP --no-log --paused '$SRC/configs/bugs/lr-too-low.yaml' --steps 100000000"
expect_screen "--paused starts at step 0" '^ nntop .*paused .*step 0/' 30
$TM send-keys -t s ':step 100' Enter
expect_screen "after :step 100, paused again" 'paused after stepping' 60
expect_screen "lr-too-low raises update-ratio-low" '│ [⚠·] +[0-9]+ update-ratio-low'

# The finding's first line in the findings panel (the right half).
row=$(row update-ratio-low)
if [ -n "$row" ] && [ "$row" -lt 26 ]; then
    click 70 "$row"
    expect_screen "a click on the finding selects it" \
        'selected update-ratio-low: f applies its remedy \(lr x10\), :explain explains it'
    if pane | sed -n "${row}p" | LC_ALL=C.UTF-8 grep -q '││▸'; then
        pass "the selected finding's row is marked"
    else
        fail "the selected finding's row $row has no mark"
        pane | sed -n "${row}p"
    fi
    $TM send-keys -t s f
    expect_screen "f applies the selected finding's remedy" 'fix for update-ratio-low .*lr x10 sent'
    $TM send-keys -t s ':explain' Enter
    expect_screen ":explain without a rule explains the selected one" 'explain update-ratio-low'
    $TM send-keys -t s Escape
    sleep 0.3
    $TM send-keys -t s Escape
    sleep 0.3
    if pane | sed -n "${row}p" | LC_ALL=C.UTF-8 grep -q '││▸'; then
        fail "Esc should unselect the finding"
    else
        pass "Esc unselects the finding"
    fi
    # A finding without a remedy (initial-loss passed) is selected for :explain only.
    irow=$(row initial-loss)
    if [ -n "$irow" ] && [ "$irow" -lt 26 ]; then
        click 70 "$irow"
        expect_screen "a finding without a remedy: :explain only" \
            'selected initial-loss: :explain explains it \(no remedy raised now\)'
    else
        fail "initial-loss is not in rows 16-25 of the findings panel (row '$irow')"
    fi
    # A click on an event that is no finding selects nothing f or :explain use.
    erow=$(row 'stepping 100')
    if [ -n "$erow" ] && [ "$erow" -lt 26 ]; then
        click 70 "$erow"
        expect_screen "a click on an event that is no finding says so" \
            'selected an event, not a finding: f and :explain act on the newest raised'
    else
        fail "'stepping 100' is not in rows 16-25 of the findings panel (row '$erow')"
    fi
else
    fail "update-ratio-low is not in the findings panel"
fi

# Config keys complete at the prompt, and :set changes them live.
$TM send-keys -t s ':set optim.l' Tab
expect_screen ":set optim.l<Tab> completes the key" '^:set optim\.lr *$'
$TM send-keys -t s '0.003' Enter
expect_screen ":set optim.lr 0.003 sets the lr on screen" '^ nntop .* lr 3e-3 '
$TM send-keys -t s ':set train.epochs 3' Enter
expect_screen "a key that cannot change live is refused by name" \
    "set: 'train.epochs' cannot change live \(these can: optim.lr"
$TM send-keys -t s q

finish
