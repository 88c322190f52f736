#!/bin/sh
# reliability.sh - nntop run as a hostile user runs it: closed standard
# descriptors, nohup (inherited ignored signals), stale temporary files of
# a killed run, a full disk (a small tmpfs, when root), and hostile input
# files, each checked for its exit status, its message and (for the input
# files) the peak memory it took, measured with /usr/bin/time.
#
# It does not repeat tests/cli.sh (options, config errors, ordinary
# signals).  Exit 77 (skip) only when there is no nntop binary; parts
# that need root or /usr/bin/time say SKIP and go on.  Lines start with
# "# reliability: ".
set -u

top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
if [ ! -x "$NNTOP" ]; then
    echo "# reliability: SKIP: no nntop binary at $NNTOP"
    exit 77
fi
case $NNTOP in /*) ;; *) NNTOP=$(pwd)/$NNTOP ;; esac

# The built-in demo is Fashion-MNIST when it is installed; these runs want
# the spiral demo (quick to load).
NNTOP_DEMO=spiral
export NNTOP_DEMO
TMP=$(mktemp -d)
MOUNTED=
cleanup() {
    [ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
PASSED=0
FAILED=0

say() { echo "# reliability: $*"; }
pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }
fail() {
    FAILED=$((FAILED + 1))
    say "FAIL $*"
    for f in "$TMP/out" "$TMP/err"; do
        [ -s "$f" ] || continue
        echo "---- ${f##*/} ----"
        head -n 20 "$f"
    done
}

# run ARGS...: nntop's stdout, stderr and status in $TMP/out, $TMP/err, $STATUS.
run() {
    "$NNTOP" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    STATUS=$?
}

# check NAME WANT_STATUS [FILE REGEX]...: the status and what each file must match.
check() {
    name=$1
    want=$2
    shift 2
    if [ "$STATUS" -ne "$want" ]; then
        fail "$name: exit status $STATUS, expected $want"
        return 1
    fi
    while [ $# -ge 2 ]; do
        if ! grep -Eq -- "$2" "$TMP/$1"; then
            fail "$name: $1 does not match /$2/"
            return 1
        fi
        shift 2
    done
    pass "$name"
}

# metrics_ok FILE: every line after the header is a whole metrics row.
metrics_ok() {
    [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || return 1
    ! tail -n +2 "$1" | grep -Evq '^[0-9]+,[^,]*,(train|val|test),([^,]*,){7}[^,]*$'
}

# one_run ROOT: the single run directory under ROOT.
one_run() {
    d=$(ls -d "$1"/*/ 2>/dev/null | head -n 1)
    echo "${d%/}"
}

# ---- closed standard descriptors ----------------------------------------------

# With fd 1 closed, the first file opened used to become "stdout", and the
# progress lines went into metrics.csv.
for fd in 1 2; do
    root=$TMP/closed$fd
    if [ $fd = 1 ]; then
        "$NNTOP" -H -n 300 -o "$root" 2>"$TMP/err" </dev/null >&-
    else
        "$NNTOP" -H -n 300 -o "$root" >"$TMP/out" </dev/null 2>&-
    fi
    STATUS=$?
    rd=$(one_run "$root")
    if [ "$STATUS" -eq 0 ] && [ -n "$rd" ] && metrics_ok "$rd/metrics.csv" &&
        [ "$(grep -c ',train,' "$rd/metrics.csv")" -eq 300 ]; then
        pass "fd $fd closed: exit 0, metrics.csv holds 300 whole train rows and nothing else"
    else
        fail "fd $fd closed: status $STATUS, metrics.csv: $(grep -cv ',train,\|,val,\|,test,' "$rd/metrics.csv" 2>/dev/null) foreign lines"
    fi
    run --replay "$rd"
    check "fd $fd closed: the run replays" 0 out '^step 300/300 '
done

# ---- nohup ---------------------------------------------------------------------

# A hang-up inherited as ignored stays ignored; SIGTERM still stops the run.
root=$TMP/nohup
nohup "$NNTOP" -H -n 100000000 -o "$root" >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
tries=0
while :; do
    m=$(ls "$root"/*/metrics.csv 2>/dev/null | head -n 1)
    [ -n "$m" ] && [ "$(wc -l <"$m")" -gt 20 ] && break
    tries=$((tries + 1))
    if [ $tries -gt 300 ]; then
        kill -KILL $pid 2>/dev/null
        fail "nohup: no metrics rows after 30 s"
        break
    fi
    sleep 0.1
done
kill -HUP $pid
# The run must still be training well after the hang-up: rows keep coming.
n0=$(wc -l <"$m")
tries=0
while [ "$(wc -l <"$m")" -le $((n0 + 50)) ] && [ $tries -lt 300 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
if kill -0 $pid 2>/dev/null && ! grep -q 'caught signal' "$TMP/err" "$TMP/out"; then
    pass "nohup: SIGHUP ignored, the run goes on"
else
    fail "nohup: the run stopped on SIGHUP"
fi
kill -TERM $pid 2>/dev/null
wait $pid
STATUS=$?
check "nohup: SIGTERM still stops it (130, message on stderr)" 130 err 'caught signal 15'

# ---- stale temporary files ------------------------------------------------------

root=$TMP/stale
run -H -n 20 -o "$root"
rd=$(one_run "$root")
# Left by a SIGKILLed writer whose pid is gone (above pid_max).
: >"$rd/checkpoint-25.safetensors.tmp.99999999"
run -H -n 30 --resume "$rd"
if [ "$STATUS" -eq 0 ] && [ ! -e "$rd/checkpoint-25.safetensors.tmp.99999999" ]; then
    pass "stale *.tmp.PID removed on resume"
else
    fail "stale *.tmp.PID: status $STATUS, $(ls "$rd" | grep tmp)"
fi

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
