#!/bin/sh
# doctor-ui.sh - the doctor on the dashboard, under tmux: every warning
# mark is a doctor finding.  A healthy run (the full-batch spiral) ends
# with no warning or error mark anywhere on the screen and the doctor's
# initial-loss tick; a bug-zoo run (dead ReLUs) marks the dead layer's
# row and its dead share, and the header counts the warnings raised.
#
# Exit 77 (skip) only when tmux or nntop is missing.  Progress lines
# start with "# doctor-ui: ".
set -u

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
if ! command -v tmux >/dev/null 2>&1; then
    echo "# doctor-ui: SKIP: tmux is not installed"
    exit 77
fi
if [ ! -x "$NNTOP" ]; then
    echo "# doctor-ui: SKIP: no nntop binary at $NNTOP"
    exit 77
fi
case $NNTOP in /*) ;; *) NNTOP=$(pwd)/$NNTOP ;; esac
case $top_srcdir in /*) SRC=$top_srcdir ;; *) SRC=$(pwd)/$top_srcdir ;; esac

unset TMUX
TMP=$(mktemp -d)
SOCK=nntop-doctor-$$
TM="tmux -L $SOCK -f /dev/null"
FAILS=0
CHECKS=0

cleanup() {
    $TM kill-server >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

say() { echo "# doctor-ui: $*"; }
pass() { CHECKS=$((CHECKS + 1)); say "ok   $*"; }
fail() {
    CHECKS=$((CHECKS + 1))
    FAILS=$((FAILS + 1))
    say "FAIL $*"
    echo "---- screen ----"
    pane
    echo "----------------"
}

pane() { $TM capture-pane -t doc -p 2>/dev/null; }
header() { pane | sed -n 1p; }

# wait_for REGEX SECONDS: true once the screen matches (grep -E).
wait_for() {
    i=0
    while [ "$i" -lt $(($2 * 10)) ]; do
        pane | grep -E -q -- "$1" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# start ARGS...: nntop in a fresh 100x30 tmux session, UTF-8, runs under $TMP/runs.
start() {
    $TM kill-session -t doc >/dev/null 2>&1
    $TM new-session -d -s doc -x 100 -y 30 \
        "cd '$TMP' && env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP -o '$TMP/runs' $*; sleep 600"
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
    if pane | grep -E -q '│[ ▸] [02] [^ ]'; then
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

say "$CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
