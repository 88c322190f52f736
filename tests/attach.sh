#!/bin/sh
# attach.sh - nntop --attach on a run another process writes: a headless
# nntop trains, the dashboard (under tmux) follows its run directory and
# the step on screen rises; q detaches and the writer goes on; a writer
# that quits and one whose process is killed both show "writer gone"; a
# resumed run appending to the directory is picked up again; without a
# writer the steering keys are refused (read-only); a torn last line of
# metrics.csv is held back until it is whole.  (Steering through the
# control socket is tests/control.sh.)  Also the headless
# follower (nntop attach -H) and the usage errors.
#
# It waits for what it checks (bounded waits), never for a fixed time,
# and asserts nothing about timing.  Exit 77 (skip) only when tmux or
# nntop is missing.  Progress lines start with "# attach: ".
set -u

NAME=attach
SESSION=att
. "${top_srcdir:-.}/tests/tmux-lib.sh"

STEPS=100000000             # far more than the test lasts: the writer never ends by itself
WRITER=
CLEANUP="$CLEANUP"'; [ -n "$WRITER" ] && kill -9 "$WRITER" >/dev/null 2>&1'

header_lacks() { ! header | grep -E -q -- "$1"; }
# wait_header_gone REGEX SECONDS: true once the header no longer matches.
wait_header_gone() { wait_until "$2" header_lacks "$1"; }

step_above() {
    s=$(step_now)
    [ -n "$s" ] && [ "$s" -gt "$1" ]
}
# wait_step_above N SECONDS: true once the header's step is above N.
wait_step_above() { wait_until "$2" step_above "$1"; }

# wait_file_has FILE REGEX SECONDS
wait_file_has() { wait_file "$@"; }

# attach ARGS...: nntop --attach in a fresh 100x30 tmux session.
attach() {
    tmux_run "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP $*"
}

# writer ARGS...: a headless nntop training the spiral demo in the background.
writer() {
    (cd "$TMP" && exec env NNTOP_DEMO=spiral "$NNTOP" -H "$@" >>"$TMP/writer.log" 2>&1 </dev/null) &
    WRITER=$!
}

# ---- usage errors ---------------------------------------------------------

out=$("$NNTOP" --attach "$TMP/nothing" 2>&1 </dev/null)
rc=$?
if [ "$rc" = 2 ] && printf '%s' "$out" | grep -q "nothing/config.yaml"; then
    pass "--attach of a missing run: exit 2 naming its config.yaml"
else fail "--attach of a missing run: want exit 2 naming config.yaml, got $rc: $out"; fi
out=$("$NNTOP" --attach "$TMP/x" --replay "$TMP/y" 2>&1 </dev/null)
rc=$?
if [ "$rc" = 2 ] && printf '%s' "$out" | grep -q "attach takes a run directory"; then
    pass "--attach with --replay: exit 2 with a usage message"
else fail "--attach with --replay: want exit 2, got $rc: $out"; fi
out=$("$NNTOP" attach 2>&1 </dev/null)
rc=$?
if [ "$rc" = 2 ] && printf '%s' "$out" | grep -q "attach: expected one run directory"; then
    pass "nntop attach without a directory: exit 2 with a usage message"
else fail "nntop attach without a directory: want exit 2, got $rc: $out"; fi

# ---- a headless writer; the dashboard follows it ----------------------------

writer -o "$TMP/runs" -n $STEPS
run=
i=0
while [ "$i" -lt 300 ]; do
    run=$(ls -d "$TMP"/runs/*/ 2>/dev/null | head -n 1)
    [ -n "$run" ] && grep -q '"type":"start"' "${run}events.jsonl" 2>/dev/null && break
    sleep 0.1
    i=$((i + 1))
done
run=${run%/}
if [ -z "$run" ]; then
    fail "the headless writer should start a run directory"
    exit 1
fi

attach --attach "$run"
if wait_for '^ nntop demo-spiral .*running.*attached' 20; then
    pass "header shows the followed run: running, attached"
else fail "'running' and 'attached' expected in the header"; fi
s1=$(step_now)
if [ -n "$s1" ] && wait_step_above "$s1" 30; then pass "the step on screen rises ($s1 -> $(step_now))"
else fail "the step should rise from '$s1'"; fi
if wait_for 'initial [0-9.]+ +expected' 10; then pass "the loss panel shows the initial loss"
else fail "the initial loss should show"; fi
if wait_for '0 dense 2.256 ' 10; then pass "the layer table fills from layers.csv"
else fail "the layer table should show '0 dense 2→256'"; fi

$TM send-keys -t att q
status=$(wait_exit 20)
if [ "$status" = 0 ]; then pass "q detaches (exit 0)"
else fail "q should detach with exit 0, got '$status'"; fi
if kill -0 "$WRITER" 2>/dev/null; then pass "the writer goes on after q"
else fail "the writer should still run after the viewer detached"; fi

# ---- the writer quits: writer gone; a resumed run is picked up -----------------

attach attach "$run"
if wait_for '^ nntop demo-spiral .*attached' 20; then pass "nntop attach RUN_DIR shows the run"
else fail "nntop attach RUN_DIR should show the run"; fi
kill -TERM "$WRITER"
wait "$WRITER"
if wait_for '^ nntop .*writer gone' 20 && wait_for 'writer gone: the run ended' 10; then
    pass "a writer that quits shows 'writer gone'"
else fail "'writer gone' expected after the writer quit"; fi
gone_at=$(step_now)

writer --resume "$run" -n $STEPS
if wait_header_gone 'writer gone' 30 && wait_for 'writer back: pid' 10; then
    pass "a resumed run is picked up again ('writer back')"
else fail "the resumed writer should clear 'writer gone'"; fi
if [ -n "$gone_at" ] && wait_step_above "$gone_at" 30; then
    pass "the step rises past the quit ($gone_at -> $(step_now))"
else fail "the step should rise past $gone_at after the resume"; fi

kill -9 "$WRITER"
wait "$WRITER" 2>/dev/null
if wait_for "writer gone: process $WRITER( |$)" 20 && wait_for '^ nntop .*writer gone' 5; then
    pass "a killed writer shows 'writer gone' (pid $WRITER)"
else fail "'writer gone' expected after kill -9 of $WRITER"; fi
WRITER=
$TM send-keys -t att ' '
if wait_for 'read-only: no control socket' 10; then
    pass "without a writer (no control socket) steering keys are refused"
else fail "a read-only message expected after Space with the writer gone"; fi

# ---- a torn last line is held back until it is whole --------------------------

last=$(grep ',train,' "$run/metrics.csv" | tail -n 1)
fields=$(printf '%s' "$last" | cut -d, -f2-)
next=$(( $(printf '%s' "$last" | cut -d, -f1) + 1000 ))
row="$next,$fields"
half=$(printf '%s' "$row" | cut -c1-20)
rest=$(printf '%s' "$row" | cut -c21-)
before=$(step_now)
printf '%s' "$half" >>"$run/metrics.csv"
# The viewer has looked at the file once the torn bytes are older than its poll.
sleep 1
if [ "$(step_now)" = "$before" ] && ! pane | grep -q 'no longer following'; then
    pass "a torn last line is not shown (step stays $before)"
else fail "a torn line should be held back: step '$(step_now)' (was $before)"; fi
printf '%s\n' "$rest" >>"$run/metrics.csv"
if wait_for "^ nntop .* step $next" 10; then pass "the line shows once whole (step $next)"
else fail "step $next expected once the line is whole"; fi

$TM send-keys -t att q
status=$(wait_exit 20)
[ "$status" = 0 ] || fail "q should exit 0 after writer gone, got '$status'"

# ---- the headless follower -----------------------------------------------------

out=$("$NNTOP" attach -H --exit-when-done "$run" 2>&1 </dev/null)
rc=$?
if [ "$rc" = 0 ] && printf '%s\n' "$out" | grep -q "^summary: ended at step $next"; then
    pass "nntop attach -H prints the run to its end when the writer is gone"
else fail "nntop attach -H: want exit 0 and a summary at step $next, got $rc: $(printf '%s' "$out" | tail -n 3)"; fi

finish
