#!/bin/sh
# source-limits.sh - no function under src/ grows past LIMIT lines, so
# that a function does one job a reader can hold at once (issue 9: split
# where the pieces have names of their own), and no line in src/ or
# include/ passes COLS columns (UTF-8 characters, not bytes).
#
# It measures the house style's layout (STYLE.md: the name at column 0,
# the body's braces alone at column 0) with awk; it does not parse C.  So
# that it cannot miss a function, it fails when a body opens without a
# name line just above it, or a definition opens its body on the name's
# line.  A function counts from its "{" to its "}" line, both included.
# Lines start with "# source-limits: ".
set -u

LIMIT=100
COLS=100

# Functions not split yet, each with the length it may not exceed; lower
# a ceiling when you shorten one, and remove the row once it is under
# LIMIT.  These are debts, not designs: none of them is long by need.
CEILINGS='
src/ui/uimodel.c ui_model_apply 155
src/nn/fault.c fault_backward 129
src/data/npz.c npz_open 154
src/train/trainer-view.c trainer_cmd_view 119
src/train/replay.c replay_next 115
'

top_srcdir=${top_srcdir:-.}
cd "$top_srcdir" || exit 99

files=$(find src -name '*.c' | LC_ALL=C sort)
if [ -z "$files" ]; then
    echo "# source-limits: FAIL no C files under $top_srcdir/src"
    exit 1
fi

# shellcheck disable=SC2086  # $files: paths under src/, no blanks
echo "$CEILINGS" | awk -v lim="$LIMIT" '
function fail(msg) { print "# source-limits: FAIL " msg; failed++ }
# The ceilings come first, on stdin.
FILENAME == "-" { if (NF == 3) { ceil[$1 " " $2] = $3; order[++nc] = $1 " " $2 } ; next }
FNR == 1 { name = ""; nline = 0; start = 0 }
/^[A-Za-z_][A-Za-z0-9_]*\(/ { name = $0; sub(/\(.*/, "", name); nline = FNR }
/^[A-Za-z_].*\)[ \t]*\{[ \t]*$/ && !/=/ {
    fail("cannot measure: " FILENAME ":" FNR " a body opens on the definition line")
}
/^\{$/ {
    if (start)
        fail("cannot measure: " FILENAME ":" FNR " a body opens inside another")
    if (nline == 0 || FNR - nline > 8)
        fail("cannot measure: " FILENAME ":" FNR " a body with no name line just above it")
    start = FNR; fn = name; fline = nline; nline = 0
}
/^\}$/ && start {
    len = FNR - start + 1; key = FILENAME " " fn; n++
    seen[key] = len
    if (len > lim && !(key in ceil))
        fail(FILENAME ":" fline " " fn " is " len " lines (limit " lim "): split it into pieces with names of their own")
    else if (len > lim && len > ceil[key])
        fail(FILENAME ":" fline " " fn " is " len " lines, past its ceiling of " ceil[key] " in tests/source-limits.sh: split it (or, if it cannot wait, raise the ceiling there and say why in the commit)")
    start = 0
}
END {
    for (i = 1; i <= nc; i++) {
        key = order[i]
        if (!(key in seen) || seen[key] <= lim)
            fail("stale ceiling: " key " is " ((key in seen) ? seen[key] " lines" : "gone") ": remove its row")
        else if (seen[key] < ceil[key])
            fail("stale ceiling: " key " is " seen[key] " lines: lower its ceiling from " ceil[key])
    }
    print "# source-limits: " n " functions under src/ measured, limit " lim " lines, " nc " ceilings, " failed + 0 " failures"
    exit failed > 0
}' - $files
status=$?

# Columns: count the bytes that start a UTF-8 character.
# shellcheck disable=SC2046
wide=$(LC_ALL=C awk -v cols="$COLS" '
{ s = $0; n = length(s) - gsub(/[\200-\277]/, "", s) }
n > cols { print FILENAME ":" FNR ": " n " columns" }
' $files $(find src include -name '*.h' | LC_ALL=C sort))
if [ -n "$wide" ]; then
    echo "$wide" | sed "s/^/# source-limits: FAIL over $COLS columns: /"
    status=1
fi
echo "# source-limits: lines at most $COLS columns in src/ and include/"
exit $status
