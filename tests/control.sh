#!/bin/sh
# control.sh - steering a headless run from other processes through its
# control socket (RUN_DIR/control.sock): the socket's mode; malformed,
# unknown, badly typed and oversized messages answered with an error and
# changing nothing; a silent client, a flooding client and a killed
# client costing the writer nothing (it keeps training and answering);
# another uid refused (the client runs as nobody: by the file mode, and,
# with the mode opened up, by SO_PEERCRED); and two attached dashboards
# under tmux steering the same run (Space, +, :quit with its
# confirmation), every change journaled with "source":"socket"; a viewer
# killed with kill -9 mid-session leaves the run training, and a new viewer
# attaches and pauses it.
#
# Waits are bounded polls; nothing is asserted about timing.  Exit 77
# (skip) when tmux, python3 or nntop is missing.  The uid checks need
# root (CI runs as root) and say SKIP otherwise.  Lines start with
# "# control: ".
set -u

NAME=control
SESSION=a                   # viewers a and b; fail_screen names the one to show
. "${top_srcdir:-.}/tests/tmux-lib.sh"
CLIENT=$top_srcdir/tests/control_client.py
PY=/usr/bin/python3
if ! command -v "$PY" >/dev/null 2>&1; then
    say "SKIP: $PY is not installed"
    exit 77
fi

STEPS=100000000
WRITER=
BG=
CLEANUP="$CLEANUP"'; for p in $WRITER $BG; do kill -9 "$p" >/dev/null 2>&1; done'
ON_FAIL=:
fail_screen() {
    fail "$2"
    show_screen "$1"
}

# last_step: the highest train step in metrics.csv.
last_step() { grep ',train,' "$RUN/metrics.csv" | tail -n 1 | cut -d, -f1; }

# wait_steps_past N SECONDS: true once metrics.csv has a train row after step N.
wait_steps_past() {
    i=0
    while [ "$i" -lt $(($2 * 10)) ]; do
        s=$(last_step)
        [ -n "$s" ] && [ "$s" -gt "$1" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# Always called in a subshell ($(...) or &): exec makes the python client
# that subshell, so $! is the client itself and kill -9 (the killed-client
# check, the cleanup) reaches it instead of leaving it behind.
client() { exec "$PY" "$CLIENT" "$RUN/control.sock" "$@"; }
socket_events() { grep -c '"source":"socket"' "$RUN/events.jsonl"; }

# ---- the writer and its socket ---------------------------------------------------

(cd "$TMP" && exec env NNTOP_DEMO=spiral "$NNTOP" -H -o "$TMP/runs" -n $STEPS \
    >"$TMP/writer.log" 2>&1 </dev/null) &
WRITER=$!
RUN=
i=0
while [ "$i" -lt 300 ]; do
    RUN=$(ls -d "$TMP"/runs/*/ 2>/dev/null | head -n 1)
    [ -n "$RUN" ] && [ -S "${RUN}control.sock" ] && break
    sleep 0.1
    i=$((i + 1))
done
RUN=${RUN%/}
if [ -z "$RUN" ] || [ ! -S "$RUN/control.sock" ]; then
    fail "the headless writer should open RUN_DIR/control.sock"
    cat "$TMP/writer.log"
    exit 1
fi
mode=$(stat -c %a "$RUN/control.sock")
if [ "$mode" = 600 ]; then pass "control.sock is a socket of mode 0600"
else fail "control.sock should have mode 600, has $mode"; fi

# ---- bad messages: an error each, nothing changed --------------------------------

out=$(client send 'not json' '{"cmd":"lr2"}' '{"cmd":"lr","value":"fast"}' \
    '{"cmd":"clip","value":1}' '{"cmd":"step","n":1.5}' '[1,2]' '{"cmd":"pause"')
expect() {
    if printf '%s\n' "$out" | sed -n "$1p" | grep -F -q -- "$2"; then pass "$3"
    else fail "$3: reply $1 should hold '$2', replies: $out"; fi
}
expect 1 '{"ok":false,"error":"malformed message: expected a JSON object with a string \"cmd\""}' \
    "not JSON: an error reply"
expect 2 "unknown command 'lr2'" "an unknown command: an error reply naming it"
expect 3 '\"value\" must be a number' "a value that is not a number: an error reply"
expect 4 'clip needs \"kind\"' "clip without its kind: an error reply"
expect 5 '\"n\" must be an integer' "a fractional step count: an error reply"
expect 6 'malformed message' "a JSON array: an error reply"
expect 7 'malformed message' "a torn object: an error reply"
"$PY" -c 'import sys; sys.stdout.write("{\"cmd\":\"lr\",\"value\":0.5,\"pad\":\"" + "x" * 5000 + "\"}\n{\"cmd\":\"lr\"")' \
    >"$TMP/long"
out=$(client raw "$TMP/long")
if [ "$out" = '{"ok":false,"error":"message too long: at most 1023 bytes a line"}' ]; then
    pass "an oversized message: one error reply, and the rest of its line is not read as a command"
else fail "an oversized message should get one 'message too long' reply, got: $out"; fi
if [ "$(socket_events)" = 0 ] && ! grep -q '"value":0.5' "$RUN/events.jsonl"; then
    pass "bad messages changed nothing (no socket events journaled)"
else fail "bad messages should journal nothing: $(grep socket "$RUN/events.jsonl")"; fi
if kill -0 "$WRITER" 2>/dev/null; then pass "the writer survives the bad messages"
else fail "the writer died on bad messages"; fi

# ---- silent, flooding and killed clients cost nothing --------------------------------

# Started as processes of their own (not through the client function, whose
# subshell $! would name), so kill -9 kills the client itself.
"$PY" "$CLIENT" "$RUN/control.sock" silent 600 >"$TMP/silent.out" &
BG="$BG $!"
wait_file "$TMP/silent.out" connected 10
"$PY" "$CLIENT" "$RUN/control.sock" half >"$TMP/half.out" &
half=$!
BG="$BG $half"
wait_file "$TMP/half.out" 'sent half' 10
kill -9 "$half"
wait "$half" 2>/dev/null
"$PY" -c 'import sys; sys.stdout.write("x" * 1000000 + "\n" + "{\"cmd\":\"telemetry\",\"n\":25}\n" * 100)' \
    >"$TMP/flood"
out=$(client raw "$TMP/flood")
ok=$(printf '%s\n' "$out" | grep -c '"ok":true')
rate=$(printf '%s\n' "$out" | grep -c 'too many commands: at most 32 a second')
long=$(printf '%s\n' "$out" | grep -c 'message too long')
if [ "$long" = 1 ] && [ "$ok" -ge 1 ] && [ "$ok" -le 64 ] && [ $((ok + rate + long)) = 101 ]; then
    pass "a flood: one 'too long', $ok commands taken, $rate refused by the rate limit"
else fail "a flood: want 1 too long and 101 replies, at most 64 taken; got ok=$ok rate=$rate long=$long"; fi
s0=$(last_step)
if wait_steps_past "$s0" 30; then pass "training goes on beside a silent, a killed and a flooding client ($s0 -> $(last_step))"
else fail "training should go on past step $s0"; fi
out=$(client send '{"cmd":"telemetry","n":50}')
if [ "$out" = '{"ok":true}' ] && wait_file "$RUN/events.jsonl" '"type":"telemetry","value":50,"source":"socket"' 10; then
    pass "another client is still served, its change journaled with \"source\":\"socket\""
else fail "a client after the flood should be served: $out"; fi

# ---- another uid is refused -----------------------------------------------------------

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    nobody=$(id -u nobody)
    chmod 755 "$TMP" "$TMP/runs" "$RUN"
    out=$(client as-uid "$nobody" '{"cmd":"pause"}')
    if [ "$out" = "connect: Permission denied" ]; then pass "nobody cannot connect to the 0600 socket"
    else fail "nobody should get 'Permission denied' connecting, got: $out"; fi
    chmod 666 "$RUN/control.sock"
    out=$(client as-uid "$nobody" '{"cmd":"pause"}')
    if printf '%s' "$out" | grep -F -q "refused: uid $nobody does not own this run"; then
        pass "with the mode opened, SO_PEERCRED refuses uid $nobody"
    else fail "SO_PEERCRED should refuse uid $nobody, got: $out"; fi
    chmod 600 "$RUN/control.sock"
    if ! grep '"type":"pause"' "$RUN/events.jsonl" >/dev/null; then pass "the refused uid changed nothing"
    else fail "a refused uid must not pause the run"; fi
else
    say "SKIP the uid checks: they need root and a 'nobody' user"
fi

# ---- two dashboards attached at once steer the run -------------------------------

for v in a b; do
    $TM new-session -d -s "$v" -x 100 -y 30 \
        "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP --attach '$RUN'; echo \$? > '$TMP/exit-$v'; sleep 600"
done
if wait_for '^ nntop .*running.*attached' 20 a && wait_for '^ nntop .*running.*attached' 20 b; then
    pass "two viewers attach at once"
else fail_screen a "both viewers should show the run attached"; fi

$TM send-keys -t a ' '
if wait_for '^ nntop .*paused' 10 a && wait_for '^ nntop .*paused' 10 b; then
    pass "Space in viewer a pauses the run: both viewers show it"
else fail_screen b "Space in viewer a should pause the run in both"; fi
if wait_file "$RUN/events.jsonl" '"type":"pause","source":"socket"' 5; then
    pass "the pause is journaled with \"source\":\"socket\""
else fail "a pause event with source socket expected"; fi

lr0=$(header b | sed -n 's/.* lr \([0-9.e+-]*\) .*/\1/p')
$TM send-keys -t b +
want=$(awk -v x="$lr0" 'BEGIN { printf "%g", 2 * x }')
want_re=$(printf '%s' "$want" | sed 's/[.+]/\\&/g')
if wait_for "^ nntop .* lr $want_re " 10 a && wait_for "^ nntop .* lr $want_re " 10 b; then
    pass "+ in viewer b doubles the lr, seen by both ($lr0 -> $want)"
else fail_screen a "+ in viewer b should show lr $want in both (was $lr0)"; fi
if wait_file "$RUN/events.jsonl" '"type":"lr".*"source":"socket"' 5; then
    pass "the lr change is journaled with \"source\":\"socket\""
else fail "an lr event with source socket expected"; fi

$TM send-keys -t a ' '
if wait_for '^ nntop .*running' 10 b; then pass "Space again resumes the run"
else fail_screen b "Space should resume the run"; fi

# q in viewer b detaches only.
$TM send-keys -t b q
i=0
while [ "$i" -lt 100 ] && [ ! -s "$TMP/exit-b" ]; do sleep 0.1; i=$((i + 1)); done
if [ "$(cat "$TMP/exit-b" 2>/dev/null)" = 0 ] && kill -0 "$WRITER" 2>/dev/null; then
    pass "q detaches viewer b; the writer goes on"
else fail "q in viewer b should detach (exit 0) and leave the writer running"; fi

# ---- a viewer killed mid-session ----------------------------------------------
# The viewer is the pane shell's child (env execs nntop); the shell reaps it
# and records its exit status.
$TM new-session -d -s c -x 100 -y 30 \
    "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP --attach '$RUN'; echo \$? > '$TMP/exit-c'; sleep 600"
if wait_for '^ nntop .*running.*attached' 20 c; then pass "a third viewer attaches"
else fail_screen c "viewer c should show the run attached"; fi
vpid=$(ps -o pid= --ppid "$($TM display-message -p -t c '#{pane_pid}' 2>/dev/null)" | tr -d ' ')
if [ -n "$vpid" ] && [ "$(cat "/proc/$vpid/comm" 2>/dev/null)" = nntop ]; then
    kill -9 "$vpid"
    i=0
    while [ "$i" -lt 100 ] && [ ! -s "$TMP/exit-c" ]; do sleep 0.1; i=$((i + 1)); done
    if [ "$(cat "$TMP/exit-c" 2>/dev/null)" = 137 ] && ! kill -0 "$vpid" 2>/dev/null; then
        pass "kill -9 of viewer c (pid $vpid) mid-session"
    else fail "viewer c (pid $vpid) should be gone after kill -9: $(ps -o pid=,ppid=,stat=,comm= -p "$vpid")"; fi
else fail "viewer c's pane shell should have the nntop viewer as its child (pid '$vpid')"; fi
s0=$(last_step)
if kill -0 "$WRITER" 2>/dev/null && wait_steps_past "$s0" 30 && s1=$(last_step) &&
    wait_steps_past "$s1" 30; then
    pass "the headless run trains on after its viewer was killed (metrics.csv grows past $s1)"
else fail "metrics.csv should keep growing past step $s0 after the viewer was killed"; fi
pauses=$(grep -c '"type":"pause","source":"socket"' "$RUN/events.jsonl")
$TM new-session -d -s d -x 100 -y 30 \
    "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP --attach '$RUN'; echo \$? > '$TMP/exit-d'; sleep 600"
if wait_for '^ nntop .*running.*attached' 20 d; then pass "a new viewer attaches after the killed one"
else fail_screen d "viewer d should show the run attached"; fi
$TM send-keys -t d ' '
i=0
while [ "$i" -lt 100 ] &&
    [ "$(grep -c '"type":"pause","source":"socket"' "$RUN/events.jsonl")" -le "$pauses" ]; do
    sleep 0.1
    i=$((i + 1))
done
if wait_for '^ nntop .*paused' 10 d &&
    [ "$(grep -c '"type":"pause","source":"socket"' "$RUN/events.jsonl")" -gt "$pauses" ]; then
    pass "the control socket serves the new viewer: Space pauses the run (journaled)"
else fail_screen d "Space in viewer d should pause the run"; fi
$TM send-keys -t d ' '
if wait_for '^ nntop .*running' 10 d; then pass "Space in viewer d resumes it"
else fail_screen d "Space in viewer d should resume the run"; fi
$TM send-keys -t d q
i=0
while [ "$i" -lt 100 ] && [ ! -s "$TMP/exit-d" ]; do sleep 0.1; i=$((i + 1)); done
if [ "$(cat "$TMP/exit-d" 2>/dev/null)" = 0 ]; then pass "q detaches viewer d"
else fail_screen d "q in viewer d should detach (exit 0)"; fi

# :quit asks first; n keeps the run.
$TM send-keys -t a ':quit' Enter
if wait_for 'stop the run for every viewer\? y: stop it' 10 a; then pass ":quit asks for confirmation"
else fail_screen a ":quit should ask for confirmation"; fi
$TM send-keys -t a n
if wait_for 'the run goes on' 10 a && kill -0 "$WRITER" 2>/dev/null; then pass "any other key keeps the run"
else fail_screen a "n should keep the run going"; fi
$TM send-keys -t a ':quit' Enter
wait_for 'stop the run for every viewer' 10 a
$TM send-keys -t a y
i=0
while [ "$i" -lt 300 ] && kill -0 "$WRITER" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if ! kill -0 "$WRITER" 2>/dev/null && wait "$WRITER"; then
    pass ":quit then y stops the writer (exit 0)"
else fail ":quit + y should stop the writer with exit 0"; fi
WRITER=
if grep -q '"type":"quit","source":"socket"' "$RUN/events.jsonl"; then
    pass "the quit is journaled with \"source\":\"socket\""
else fail "a quit event with source socket expected"; fi
i=0
while [ "$i" -lt 200 ] && [ ! -s "$TMP/exit-a" ]; do sleep 0.1; i=$((i + 1)); done
if [ "$(cat "$TMP/exit-a" 2>/dev/null)" = 0 ]; then pass "viewer a leaves once the writer is gone"
else fail_screen a "viewer a should exit 0 after the writer stopped"; fi
if [ ! -e "$RUN/control.sock" ]; then pass "the writer removed control.sock"
else fail "control.sock should be gone after the writer stopped"; fi

finish
