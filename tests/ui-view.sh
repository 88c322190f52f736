#!/bin/sh
# ui-view.sh - the look-inside view (v) of the real dashboard under tmux,
# on a small CNN over a generated set of 16x16 images (a CSV with
# data.shape [1, 16, 16]): the view opens on validation sample 0 with its
# label, prediction, input, saliency, filters and maps drawn in half
# blocks (256 colours; 24-bit with COLORTERM=truecolor or a direct-colour
# terminfo entry, more levels of grey) or an ASCII ramp (LANG=C); ] and [ change the
# sample and [ brings back exactly the first picture; m finds a
# misclassified sample; j moves the maps to the next layer; Space trains
# on while the view follows the new weights; v closes it (and the layers
# panel counts dead filters, dfilt); a model with
# flat input refuses it with the reason.
#
# Runs start paused (--paused), so what is drawn at step 0 is the same on
# every machine.  No wall-clock assertion: waits are generous upper
# bounds.  Exit 77 (skip) only when tmux or nntop is missing.
# Progress lines start with "# ui-view: " (CI collects them).
set -u

NAME=ui-view
SESSION=view
. "${top_srcdir:-.}/tests/tmux-lib.sh"
case $top_srcdir in /*) ;; *) top_srcdir=$(pwd)/$top_srcdir ;; esac

pictures() { pane_e | sed -n '5,12p'; }
pictures_text() { pane | sed -n '5,12p'; }
# The colour escapes of the input picture alone: each row from the border
# to the gap before the saliency, one escape a line.
ESC=$(printf '\033')
input_colours() {
    pane_e | sed -n '5,12p' | sed "s/^[^│]*│//; s/  .*//" | grep -o "$ESC\[[0-9;]*m"
}
# check_grey DEPTH PATTERN: the input picture (grey palette) has colours,
# and only those PATTERN matches (besides the resets before the gap).
check_grey() {
    n=$(input_colours | grep -c .)
    bad=$(input_colours | grep -E -v "^$ESC\[($2|39|49)m\$" | sort -u | tr -d '\033' | tr '\n' ' ')
    if [ "$n" -gt 0 ] && [ -z "$bad" ]; then pass "$1: the input picture is drawn in greys only ($n escapes)"
    else fail "$1: the input picture should be grey, got $n escapes, not grey: $bad"; fi
}

# start LANG TERM ARGS...: nntop in a fresh 100x30 tmux session, with
# COLORTERM=$CT (empty unless set).
start() {
    lang=$1
    term=$2
    shift 2
    tmux_run "env LANG=$lang LC_ALL=$lang TERM=$term COLORTERM=${CT:-} NO_COLOR= $NNTOP $*"
}

quit() {
    $TM send-keys -t view q
    status=$(wait_exit 30)
    [ "$status" = 0 ] || fail "$1: q should exit 0, got '$status'"
}

# ---- the data: 200 images of 16x16 in 4 classes (a bright quadrant) ------

awk 'BEGIN {
    srand(5)
    for (j = 0; j < 256; j++) printf "p%d,", j
    print "y"
    for (i = 0; i < 200; i++) {
        c = i % 4
        for (j = 0; j < 256; j++) {
            y = int(j / 16); x = j % 16
            q = (y >= 8) * 2 + (x >= 8)
            printf "%.3f,", (q == c ? 1 : 0) + 0.4 * (rand() - 0.5)
        }
        print c
    }
}' > "$TMP/img.csv"
cat > "$TMP/cnn.yaml" <<EOF
name: view-cnn
seed: 3
data: {source: csv, path: img.csv, label: y, header: true, shape: [1, 16, 16],
       normalize: none, val_fraction: 0.25}
model:
  layers:
    - {conv2d: 6, kernel: 3, padding: 1}
    - relu
    - maxpool2d: 2
    - flatten
    - dense: 4
optim: {name: adam, lr: 0.003}
train: {batch_size: 16, epochs: 100000}
telemetry: {every: 5}
EOF

# ---- UTF-8 and 256 colours: half blocks -----------------------------------

start C.UTF-8 screen-256color --paused --no-log cnn.yaml
if wait_for '^ nntop view-cnn .*paused .*step 0/' 20; then pass "the CNN starts paused at step 0"
else fail "the CNN should start paused"; fi
$TM send-keys -t view v
if wait_for 'view .+ sample 0/50 \(val\) .+ step 0 ' 10 && wait_for 'label [0-3]  predicted [0-3]' 5
then pass "v opens the view on validation sample 0 of 50 at step 0, with label and prediction"
else fail "v should show sample 0/50 (val) at step 0 with its label and prediction"; fi
if wait_for 'input 1x16x16 +saliency max' 5 && wait_for 'class  p' 1; then
    pass "the view names the input, its saliency and the class list"
else fail "captions 'input 1x16x16', 'saliency max' and 'class  p' expected"; fi
if wait_for 'filters 6 -[0-9.]+\.\.[0-9.]+ 0 conv 1.+6 3x3 s1 p1' 10 && wait_for 'maps [0-9 of]+ [-0-9.e]+\.\.[0-9.e]+ 0 conv 1.+6 3x3' 5; then
    pass "the first layer's 6 filters and its maps are captioned"
else fail "the filters and maps captions of layer 0 expected"; fi
# Half blocks (U+2580, e2 96 80) in the picture rows, in 256-colour escapes.
if pictures_text | LC_ALL=C grep -q "$(printf '\342\226\200')" &&
    pictures | LC_ALL=C grep -q "$(printf '\033')\[38;5;"; then
    pass "the pictures are half blocks in 256 colours"
else fail "half blocks with 256-colour escapes expected in the picture rows"; fi
# Every picture pair is the one asked for: the grey palette's colours (16,
# 231, 232-255) only, never a semantic colour (a pair number past 255).
check_grey "256 colours" '[34]8;5;(16|231|23[2-9]|24[0-9]|25[0-5])'
# Ten rows of classes: p sums to about 100 %.
sum=$(pane | sed -n '5,8p' | sed -n 's/.* \([0-9.]*\)%.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
if awk -v s="$sum" 'BEGIN { exit !(s > 80 && s <= 100.5) }'; then
    pass "the 4 class probabilities add up ($sum %)"
else fail "4 class probabilities summing to 100 % expected, got '$sum'"; fi
first=$(pictures)

$TM send-keys -t view ']'
if wait_for 'view .+ sample 1/50 \(val\)' 10; then
    sleep 0.3
    second=$(pictures)
    if [ "$first" != "$second" ]; then pass "] shows sample 1, and its pictures differ"
    else fail "sample 1 should not look like sample 0"; fi
else fail "] should show sample 1/50"; fi
$TM send-keys -t view '['
if wait_for 'view .+ sample 0/50 \(val\)' 10; then
    sleep 0.3
    if [ "$(pictures)" = "$first" ]; then pass "[ brings back sample 0, drawn exactly as before"
    else fail "sample 0 should be drawn as before"; fi
else fail "[ should show sample 0/50 again"; fi
$TM send-keys -t view '['
if wait_for 'view .+ sample 49/50 \(val\)' 10; then pass "[ from sample 0 wraps to sample 49"
else fail "[ should wrap to sample 49/50"; fi

$TM send-keys -t view m
if wait_for 'predicted [0-3] misclassified' 10; then pass "m finds a misclassified sample"
else fail "m should show a misclassified sample at the initial weights"; fi

$TM send-keys -t view j
if wait_for 'maps ([0-9] of )?6 [-0-9.e]+\.\.[0-9.e]+ 1 relu' 10; then pass "j: the maps of the next layer (relu)"
else fail "j should show the maps of layer 1"; fi
$TM send-keys -t view j j j
if wait_for 'maps ([0-9] of )?6 [-0-9.e]+\.\.[0-9.e]+ 2 maxpool 2x2' 10; then
    pass "a flat layer selected: the maps of the last layer with maps (the pool)"
else fail "the pool's maps expected for a dense layer selected"; fi

$TM send-keys -t view ' '
if wait_for '^ nntop view-cnn .*running' 10 && wait_for 'view .+ sample [0-9]+/50 \(val\) .+ step [1-9][0-9]* ' 20
then pass "Space trains on in the view, and the view follows the new weights"
else fail "the view should follow training after Space"; fi
$TM send-keys -t view ' '
$TM send-keys -t view v
if wait_for '^.+ loss ' 10 && ! pane | grep -q 'view .* sample'; then pass "v closes the view"
else fail "v should close the view and bring the panels back"; fi
# Its relu is on an image: the layers panel's dead column counts filters.
if wait_for ' dfilt ' 5; then pass "the layers panel titles the column dfilt (dead filters)"
else fail "the dead column of a conv model should read dfilt"; fi
quit "UTF-8"

# ---- 24-bit colour: COLORTERM=truecolor, or a direct-colour terminfo -------

# depth_run NAME TERM COLORTERM WANT: open the view, and check the pictures'
# escapes are 24-bit (WANT direct) or 256-colour (WANT 256) and the input
# picture grey.
depth_run() {
    CT=$3 start C.UTF-8 "$2" --paused --no-log cnn.yaml
    wait_for '^ nntop view-cnn .*paused' 20
    $TM send-keys -t view v
    if ! wait_for 'input 1x16x16 +saliency max' 10; then
        fail "$1: the view should open"
        quit "$1"
        return
    fi
    sleep 0.3
    if [ "$4" = direct ]; then
        if pictures | LC_ALL=C grep -q "$ESC\[38;2;" && ! pictures | LC_ALL=C grep -q "$ESC\[38;5;"; then
            pass "$1: the pictures are half blocks in 24-bit colour"
        else fail "$1: 24-bit escapes (38;2) and no 256-colour ones expected"; fi
        check_grey "$1" '[34]8;2;([0-9]+);\2;\2'
        # More greys than the 256-colour palette's 16 levels.
        greys=$(input_colours | sed -n "s/^$ESC\[[34]8;2;\([0-9]*\);.*/\1/p" | sort -u | grep -c .)
        if [ "$greys" -gt 16 ]; then pass "$1: $greys levels of grey in the input (more than 16)"
        else fail "$1: more than 16 levels of grey expected, got $greys"; fi
    else
        if pictures | LC_ALL=C grep -q "$ESC\[38;5;" && ! pictures | LC_ALL=C grep -q "$ESC\[38;2;"; then
            pass "$1: the pictures fall back to 256 colours"
        else fail "$1: 256-colour escapes (38;5) and no 24-bit ones expected"; fi
    fi
    quit "$1"
}

if infocmp tmux-direct >/dev/null 2>&1 && infocmp tmux-256color >/dev/null 2>&1; then
    depth_run "COLORTERM=truecolor on tmux-256color" tmux-256color truecolor direct
    depth_run "COLORTERM=24bit on tmux-256color" tmux-256color 24bit direct
    depth_run "TERM=tmux-direct" tmux-direct "" direct
    depth_run "tmux-256color without COLORTERM" tmux-256color "" 256
else
    say "SKIP 24-bit colour: no tmux-direct or tmux-256color terminfo (ncurses-term)"
fi
if ! infocmp screen-direct >/dev/null 2>&1; then
    depth_run "COLORTERM=truecolor on screen-256color (no -direct twin)" screen-256color truecolor 256
fi

# ---- LANG=C: the ASCII ramp -----------------------------------------------

start C screen --paused --no-log cnn.yaml
wait_for '^ nntop view-cnn .*paused' 20
$TM send-keys -t view v
if wait_for 'view - sample 0/50 \(val\) - step 0 ' 10 && wait_for 'maps .* 0 conv 1->6' 10; then
    pass "LANG=C: the view opens"
else fail "LANG=C: the view should open on sample 0"; fi
if pane | LC_ALL=C grep -q "$(printf '[\200-\377]')"; then
    fail "LANG=C: only ASCII should be on the screen"
else pass "LANG=C: the screen is pure ASCII"; fi
if pictures_text | grep -E -q '[.:=+*#%@-]{8}'; then pass "LANG=C: pictures in the ASCII ramp"
else fail "LANG=C: ramp characters expected in the picture rows"; fi
a=$(pictures_text)
$TM send-keys -t view ']'
wait_for 'view - sample 1/50' 10
sleep 0.3
if [ "$(pictures_text)" != "$a" ]; then pass "LANG=C: ] changes the pictures"
else fail "LANG=C: the pictures of sample 1 should differ from sample 0's"; fi
quit "LANG=C"

# ---- flat input: refused, with the reason ----------------------------------

start C.UTF-8 screen --paused --no-log "$top_srcdir/configs/spiral.yaml"
wait_for '^ nntop .*paused' 20
$TM send-keys -t view v
if wait_for 'view: the input is 2 flat features, not an image' 10; then
    pass "flat input: the view says why it has nothing to draw"
else fail "flat input: the refusal should be on the screen"; fi
quit "spiral"

finish
