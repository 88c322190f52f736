# lib.sh - what the shell tests share, sourced after setting NAME:
#
#     NAME=cli
#     . "${top_srcdir:-.}/tests/lib.sh"
#
# It finds the nntop binary (exit 77, automake's SKIP, when there is none),
# makes $TMP (removed on exit, after the test's own $CLEANUP command), and
# gives say / pass / fail / run / check / finish with their counts.  Lines
# start with "# NAME: ".  It decides nothing about what a test checks.
#
# FAIL_LINES (default 20): how much of $TMP/out and $TMP/err fail shows.
# ON_FAIL: a command fail runs after that (tests/tmux-lib.sh: the screen).

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}

say() { echo "# $NAME: $*"; }

if [ ! -x "$NNTOP" ]; then
    say "SKIP: no nntop binary at $NNTOP"
    exit 77
fi
case $NNTOP in /*) ;; *) NNTOP=$(pwd)/$NNTOP ;; esac

TMP=$(mktemp -d)
CLEANUP=:
ON_FAIL=:
trap 'eval "$CLEANUP"; rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0
FAIL_LINES=${FAIL_LINES:-20}

pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }

# fail MESSAGE: count it and show what the last run printed.
fail() {
    FAILED=$((FAILED + 1))
    say "FAIL $*"
    for f in "$TMP/out" "$TMP/err"; do
        [ -s "$f" ] || continue
        echo "---- ${f##*/} ----"
        head -n "$FAIL_LINES" "$f"
    done
    eval "$ON_FAIL"
}

# run ARGS...: nntop's stdout, stderr and status in $TMP/out, $TMP/err, $STATUS
# (no stdin, no terminal).
run() {
    "$NNTOP" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    STATUS=$?
}

# wait_rows DIR PID: wait (up to 30 s) until the run PID writes under DIR
# has logged more than 20 rows; m is then its metrics.csv.  On the
# timeout PID is killed and the status is 1.
wait_rows() {
    tries=0
    while :; do
        m=$(ls "$1"/*/metrics.csv 2>/dev/null | head -n 1)
        [ -n "$m" ] && [ "$(wc -l <"$m")" -gt 20 ] && return 0
        tries=$((tries + 1))
        if [ $tries -gt 300 ]; then
            kill -KILL "$2" 2>/dev/null
            return 1
        fi
        sleep 0.1
    done
}

# check NAME WANT_STATUS [FILE REGEX]...: the status and what each file
# under $TMP must match; 1 when it failed.
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

# finish: the closing count; the test's exit status.
finish() {
    say "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
