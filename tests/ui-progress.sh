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
NAME=ui-progress
SESSION=prog
. "${top_srcdir:-.}/tests/tmux-lib.sh"
FMNIST=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -r "$FMNIST" ]; then
    say "SKIP: no Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    exit 77
fi
HPID=
CLEANUP='[ -n "$HPID" ] && kill -KILL "$HPID" 2>/dev/null; $TM kill-server >/dev/null 2>&1'

# The entries done of the check, from the header ("gradcheck 340/1000 (34 %)").
done_now() { header | sed -n 's/.*gradcheck \([0-9][0-9]*\)\/[0-9]* .*/\1/p'; }
header_has() { header | grep -E -q -- "$1"; }
# wait_header REGEX SECONDS: true once the header matches (grep -E).
wait_header() { wait_until "$2" header_has "$1"; }

# ---- the dashboard -----------------------------------------------------------

tmux_run "env NNTOP_DEMO=fashion-mnist LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen \
     $NNTOP --paused --no-log"
if wait_header 'paused' 120; then
    $TM send-keys -t prog ':' 'gradcheck 1000' Enter
    if wait_header 'gradcheck [0-9]+/[0-9]+ \([0-9]+ %\) · q cancels' 120; then
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
fi
kill -TERM "$HPID" 2>/dev/null
wait "$HPID"
status=$?
HPID=
if [ "$status" -eq 130 ] && grep -q 'caught signal 15' "$TMP/err"; then
    pass "headless: SIGTERM during the check stops it (130)"
else
    fail "headless: SIGTERM during the check: status $status"
fi

finish
