#!/bin/sh
# ui-progress.sh - long trainer work shows its progress and q cancels it:
# a gradient check of 1000 samples on Fashion-MNIST (tens of seconds)
# started from the ':' prompt of the dashboard under tmux must put
# "gradcheck N/M (P %) · q cancels" in the header, N must advance, and q
# must leave with exit status 0 without waiting for the check; headless,
# into a pipe, the same check prints "gradcheck N/M (P %)" lines and
# SIGTERM stops it (130).
#
# Waits are generous (a loaded machine); nothing is timed.  Exit 77
# (skip) when tmux, nntop or Fashion-MNIST is missing.  Lines start with
# "# ui-progress: ".
set -u

top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
FMNIST=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
say() { echo "# ui-progress: $*"; }
if ! command -v tmux >/dev/null 2>&1; then
    say "SKIP: tmux is not installed"
    exit 77
fi
if [ ! -x "$NNTOP" ]; then
    say "SKIP: no nntop binary at $NNTOP"
    exit 77
fi
if [ ! -r "$FMNIST" ]; then
    say "SKIP: no Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    exit 77
fi
case $NNTOP in /*) ;; *) NNTOP=$(pwd)/$NNTOP ;; esac

unset TMUX
TMP=$(mktemp -d)
TM="tmux -L nntop-progress-$$ -f /dev/null"
FAILS=0
CHECKS=0
HPID=
cleanup() {
    [ -n "$HPID" ] && kill -KILL "$HPID" 2>/dev/null
    $TM kill-server >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

pass() { CHECKS=$((CHECKS + 1)); say "ok   $*"; }
fail() {
    CHECKS=$((CHECKS + 1))
    FAILS=$((FAILS + 1))
    say "FAIL $*"
    echo "---- screen ----"
    pane
    echo "----------------"
}
pane() { $TM capture-pane -t prog -p 2>/dev/null; }
header() { pane | sed -n 1p; }
# The entries done of the check, from the header ("gradcheck 340/1000 (34 %)").
done_now() { header | sed -n 's/.*gradcheck \([0-9][0-9]*\)\/[0-9]* .*/\1/p'; }

# wait_for REGEX SECONDS: true once the header matches (grep -E).
wait_for() {
    i=0
    while [ "$i" -lt $(($2 * 10)) ]; do
        header | grep -E -q -- "$1" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# wait_exit SECONDS: the exit status nntop left, or "none".
wait_exit() {
    i=0
    while [ "$i" -lt $(($1 * 10)) ]; do
        if [ -s "$TMP/exit" ]; then
            cat "$TMP/exit"
            return
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo none
}

# ---- the dashboard -----------------------------------------------------------

$TM new-session -d -s prog -x 100 -y 30 \
    "cd '$TMP' && env NNTOP_DEMO=fashion-mnist LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen \
     $NNTOP --paused --no-log; echo \$? > '$TMP/exit'; sleep 600"
if wait_for 'paused' 120; then
    $TM send-keys -t prog ':' 'gradcheck 1000' Enter
    if wait_for 'gradcheck [0-9]+/[0-9]+ \([0-9]+ %\) · q cancels' 120; then
        pass "the header shows the gradient check's progress and that q cancels it"
        d1=$(done_now)
        i=0
        d2=$d1
        while [ "$i" -lt 600 ] && [ "$d2" = "$d1" ]; do
            sleep 0.1
            d2=$(done_now)
            i=$((i + 1))
        done
        if [ -n "$d1" ] && [ -n "$d2" ] && [ "$d2" -gt "$d1" ]; then
            pass "the progress advances ($d1 -> $d2 entries)"
        else fail "the progress should advance (it read '$d1', then '$d2')"; fi
        $TM send-keys -t prog q
        status=$(wait_exit 30)
        if [ "$status" = 0 ]; then pass "q during the check exits 0 without waiting for it"
        else fail "q during the check should exit 0, got '$status'"; fi
    else fail "no gradient-check progress in the header"; fi
else fail "the Fashion-MNIST demo should start paused"; fi

# ---- headless, into a pipe ------------------------------------------------------

NNTOP_DEMO=fashion-mnist "$NNTOP" -H --no-log -s gradcheck.samples=1000 --gradcheck \
    >"$TMP/out" 2>"$TMP/err" </dev/null &
HPID=$!
# The entries done in the first and the latest progress line.
nth_done() {
    grep '^gradcheck [0-9]*/[0-9]* ([0-9]* %)$' "$TMP/out" | sed -n "$1" |
        sed 's/^gradcheck \([0-9]*\)\/.*/\1/'
}
i=0
first=
last=
while [ "$i" -lt 1200 ]; do
    first=$(nth_done 1p)
    last=$(nth_done '$p')
    [ -n "$first" ] && [ -n "$last" ] && [ "$last" -gt "$first" ] && break
    sleep 0.1
    i=$((i + 1))
done
if [ -n "$first" ] && [ -n "$last" ] && [ "$last" -gt "$first" ]; then
    pass "headless into a pipe: progress lines that advance ($first, then $last)"
else
    fail "headless: expected advancing 'gradcheck N/M (P %)' lines"
    head -n 20 "$TMP/out" "$TMP/err"
fi
kill -TERM "$HPID" 2>/dev/null
wait "$HPID"
status=$?
HPID=
if [ "$status" -eq 130 ] && grep -q 'caught signal 15' "$TMP/err"; then
    pass "headless: SIGTERM during the check stops it (130)"
else
    fail "headless: SIGTERM during the check: status $status"
    cat "$TMP/err"
fi

say "$((CHECKS - FAILS)) of $CHECKS checks passed"
[ "$FAILS" -eq 0 ]
