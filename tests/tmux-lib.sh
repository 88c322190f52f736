# tmux-lib.sh - what the dashboard tests share, sourced after setting
# NAME and SESSION (the tmux session the test drives):
#
#     NAME=ui-smoke
#     SESSION=smoke
#     . "${top_srcdir:-.}/tests/tmux-lib.sh"
#
# It sources tests/lib.sh (nntop, $TMP, say / pass / fail / finish), skips
# (exit 77) when tmux is missing, and runs every session on a private
# tmux server ($TM) that the exit trap kills, after the test's own
# $CLEANUP.  fail shows the screen of $SESSION.  The waits poll ten times
# a second up to a bound in seconds, and never assert on time.  It
# decides nothing about what a test checks.
#
# SCREEN_LC (set before sourcing, e.g. C.UTF-8): the locale the screen is
# matched in, for patterns that count characters (".", "{5}", brackets of
# glyphs); unset, the test's own locale.

. "${top_srcdir:-.}/tests/lib.sh"

# TMUX_OPTIONAL=1: a test with a part that needs no tmux runs that part
# without it; HAVE_TMUX says whether the tmux part can run.
HAVE_TMUX=yes
if ! command -v tmux >/dev/null 2>&1; then
    HAVE_TMUX=
    if [ -z "${TMUX_OPTIONAL:-}" ]; then
        say "SKIP: tmux is not installed"
        exit 77
    fi
fi

unset TMUX                  # a private server even when run inside tmux
SOCK=nntop-$NAME-$$
TM="tmux -L $SOCK -f /dev/null"
CLEANUP='$TM kill-server >/dev/null 2>&1'
# A signal leaves through the exit trap, so the server and $TMP go too.
trap 'exit 130' INT TERM
ON_FAIL=show_screen

# pane [SESSION]: the screen as text; pane_e [SESSION]: with its escapes.
pane() { $TM capture-pane -t "${1:-$SESSION}" -p 2>/dev/null; }
pane_e() { $TM capture-pane -t "${1:-$SESSION}" -p -e 2>/dev/null; }
header() { pane "$@" | sed -n 1p; }
# The step number in the header ("step 1520/3000" or "step 1520").
step_now() { header "$@" | sed -n 's/.* step \([0-9][0-9]*\).*/\1/p'; }
# The learning rate in the header ("lr 0.05", "lr 300e-6").
lr_now() { header "$@" | sed -n 's/.* lr \([0-9.e+-]*\) .*/\1/p'; }

# show_screen [SESSION]: the screen between rules, for a failure.
show_screen() {
    echo "---- screen ${1:-} ----"
    pane "$@"
    echo "----------------"
}

# wait_until SECONDS COMMAND...: true once COMMAND succeeds.
wait_until() {
    _wu_n=$(($1 * 10))
    shift
    _wu_i=0
    while [ "$_wu_i" -lt "$_wu_n" ]; do
        "$@" && return 0
        sleep 0.1
        _wu_i=$((_wu_i + 1))
    done
    return 1
}

screen_has() { pane "$2" | LC_ALL=${SCREEN_LC:-${LC_ALL:-}} grep -E -q -- "$1"; }
screen_lacks() { ! screen_has "$@"; }
file_has() { grep -E -q -- "$2" "$1" 2>/dev/null; }

# wait_for REGEX SECONDS [SESSION]: true once the screen matches (grep -E).
wait_for() { wait_until "$2" screen_has "$1" "${3:-}"; }
# wait_gone REGEX SECONDS [SESSION]: true once the screen no longer matches.
wait_gone() { wait_until "$2" screen_lacks "$1" "${3:-}"; }
# wait_file FILE REGEX SECONDS: true once a line of FILE matches.
wait_file() { wait_until "$3" file_has "$1" "$2"; }

# expect_screen WHAT REGEX [SECONDS]: pass WHAT once the screen matches
# REGEX within SECONDS (default 10), else fail it.
expect_screen() {
    if wait_for "$2" "${3:-10}"; then
        pass "$1"
    else
        fail "$1: no /$2/ on screen"
    fi
}

# tmux_run COMMAND: COMMAND (a shell line, run in $TMP) in a fresh
# ${COLS:-100}x${ROWS:-30} session $SESSION; its exit status goes to
# $TMP/exit (see wait_exit), and the pane stays for reading.
tmux_run() {
    $TM kill-session -t "$SESSION" >/dev/null 2>&1
    rm -f "$TMP/exit"
    $TM new-session -d -s "$SESSION" -x "${COLS:-100}" -y "${ROWS:-30}" \
        "cd '$TMP' && $1;
         echo \$? > '$TMP/exit'; sleep 600"
}

# wait_exit SECONDS: the exit status tmux_run's command left, or "none".
wait_exit() {
    if wait_until "$1" test -s "$TMP/exit"; then
        cat "$TMP/exit"
    else
        echo none
    fi
}
