#!/bin/sh
# torch-logger.sh - contrib/python/nntop_torch.py in a real PyTorch loop
# (tests/torch_logger_train.py): the run directory it writes is accepted by
# nntop --replay and by nntop attach -H, the steering it received over its
# control socket (lr, clip) is applied and journaled with "source":"socket",
# bad messages get errors, save writes a safetensors checkpoint that PyTorch
# loads strictly (read here by hand, independently of the logger), eval logs
# the evaluate function's result as a val row (and is refused without one),
# and snapshots sit at the steps the format says.
# Then a loop that trains until told (tests/torch_logger_live.py) is
# attached to under tmux and steered from the dashboard: Space pauses it,
# :lr and :clip change it, :quit + y stops it, and its run replays.
# Exit 77 (skip) when /usr/bin/python3 has no torch.  Lines start with
# "# torch-logger: ".
set -u
NAME=torch-logger
SESSION=live
TMUX_OPTIONAL=1             # the first part needs no tmux
. "${top_srcdir:-.}/tests/tmux-lib.sh"
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    say "SKIP: $PY cannot import torch (Debian: python3-torch)"
    exit 77
fi
LIVE=
CLEANUP="$CLEANUP"'; [ -n "$LIVE" ] && kill -9 "$LIVE" 2>/dev/null'
ON_FAIL=:

out=$("$PY" "$top_srcdir/tests/torch_logger_train.py" "$top_srcdir/contrib/python" "$TMP/runs" 2>"$TMP/err")
rc=$?
RUN=$(printf '%s\n' "$out" | sed -n 1p)
if [ "$rc" = 0 ] && [ -d "$RUN" ]; then pass "the PyTorch loop trains and writes $RUN"
else
    fail "the PyTorch loop should exit 0 with a run directory (rc $rc)"
    cat "$TMP/err"
    exit 1
fi
want='{"ok": true}
{"ok": true}
{"ok": false, "error": "command '"'bogus'"' is not supported by nntop_torch"}
{"ok": false, "error": "malformed message: expected a JSON object with a string \"cmd\""}
{"ok": true}
{"ok": true}
{"ok": false, "error": "eval: no evaluate function (pass Run(..., evaluate=fn))"}'
if [ "$(printf '%s\n' "$out" | sed -n '2,$p')" = "$want" ]; then
    pass "control socket replies: lr, clip, save, eval taken, an unknown and a malformed one refused, eval without a function refused"
else fail "control socket replies: $(printf '%s\n' "$out" | sed -n '2,$p')"; fi
if grep -q '"type":"checkpoint","file":"checkpoint-50.safetensors","bytes":'"$(wc -c <"$RUN/checkpoint-50.safetensors" 2>/dev/null)"',"source":"socket"' "$RUN/events.jsonl"; then
    pass "save writes checkpoint-50.safetensors, journaled as a checkpoint event (its size) from the socket"
else fail "checkpoint-50.safetensors and its checkpoint event expected"; fi
# The checkpoint read by hand (8-byte length, JSON header, raw little-endian
# data), loaded strictly into a fresh model and compared with the weights
# the loop saved with torch.save at that step; then through nntop_load.
ck=$("$PY" - "$RUN/checkpoint-50.safetensors" "$TMP/runs-aux/expected-50.pt" "$top_srcdir/contrib/python" <<'PYEOF' 2>&1
import json, struct, sys
import torch
buf = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", buf[:8])
assert n % 8 == 0, "header not padded to 8 bytes"
head = json.loads(buf[8:8 + n]); meta = head.pop("__metadata__")
assert meta["step"] == "50" and meta["format"] == "nntop-checkpoint", meta
data, state, end = buf[8 + n:], {}, 0
for name, e in sorted(head.items(), key=lambda kv: kv[1]["data_offsets"]):
    assert e["dtype"] == "F32", e
    b, en = e["data_offsets"]; assert b == end; end = en
    state[name] = torch.frombuffer(bytearray(data[b:en]), dtype=torch.float32).reshape(e["shape"])
assert end == len(data), "trailing bytes"
m = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
m.load_state_dict(state, strict=True)
want = torch.load(sys.argv[2])
assert sorted(want) == sorted(state), (sorted(want), sorted(state))
for k in want:
    assert torch.equal(want[k], m.state_dict()[k]), k
sys.path.insert(0, sys.argv[3])
import nntop_load
lm, pre = nntop_load.load(sys.argv[1])
x = torch.randn(7, 2)
assert torch.equal(lm(pre(x)), m(x))
print("ok", len(state))
PYEOF
)
if [ "$ck" = "ok 4" ]; then
    pass "the checkpoint loads with load_state_dict(strict=True) and holds the weights after 50 updates (and nntop_load loads it)"
else fail "checkpoint-50.safetensors should load strictly with the step-50 weights: $ck"; fi
ev=$(grep '^50,[^,]*,val,' "$RUN/metrics.csv" | cut -d, -f4,6 | tr ',' ' ')
want_ev=$(cat "$TMP/runs-aux/expected-eval.txt")
if [ "$(printf '%s\n' "$ev" | sed -n 2p)" = "$want_ev" ] && [ "$(printf '%s\n' "$ev" | wc -l)" = 2 ] &&
    grep -q '"step":50,[^}]*"type":"eval","source":"socket"' "$RUN/events.jsonl"; then
    pass "eval calls the evaluate function and logs its loss and accuracy as a val row at step 50 (journaled)"
else fail "a val row '$want_ev' at step 50 from the socket's eval expected, got: $ev"; fi
if grep -q '"type":"refused","command":"eval","source":"socket"' "$TMP"/runs-aux/*/events.jsonl; then
    pass "eval without an evaluate function is journaled as refused"
else fail "a refused eval event expected in the run without an evaluate function"; fi
if grep -q '"type":"lr","value":0.02,"source":"socket"' "$RUN/events.jsonl" &&
    grep -q '"type":"clip","kind":"norm","value":0.5,"source":"socket"' "$RUN/events.jsonl"; then
    pass "lr and clip changes are journaled with \"source\":\"socket\""
else fail "lr and clip events with source socket expected"; fi
lrs=$(grep ',train,' "$RUN/metrics.csv" | cut -d, -f7 | uniq -c | awk '{print $1 "x" $2}' | tr '\n' ' ')
clipped=$(grep ',train,' "$RUN/metrics.csv" | cut -d, -f9 | grep -c '^1$')
if [ "$lrs" = "50x0.1 150x0.02 " ]; then pass "the lr is applied to every update after the command (50 at 0.1, 150 at 0.02)"
else fail "lr should be 0.1 for 50 updates and 0.02 for 150, got $lrs"; fi
if [ "$clipped" -ge 1 ] && ! grep ',train,' "$RUN/metrics.csv" | head -n 50 | cut -d, -f9 | grep -q '^1$'; then
    pass "clipping applies after the command only ($clipped clipped updates)"
else fail "clipped updates expected after step 50 only, got $clipped"; fi
steps=$(grep -v '^step' "$RUN/layers.csv" | cut -d, -f1 | sort -n -u | tr '\n' ' ')
if [ "$steps" = "10 20 30 40 50 60 70 80 90 100 110 120 130 140 150 160 170 180 190 " ]; then
    pass "layers.csv snapshots every 10 steps"
else fail "layers.csv snapshot steps: $steps"; fi
if grep -q '^10,1,relu,,.*,0,0$' "$RUN/layers.csv" && grep -q '^10,2,dense 32->3,2.weight,' "$RUN/layers.csv"; then
    pass "layer rows and tensor rows named as nn.Sequential names them"
else fail "layer/tensor rows for relu and 2.weight expected at step 10"; fi

rout=$("$NNTOP" --replay "$RUN" -H 2>&1 </dev/null)
rc=$?
if [ "$rc" = 0 ] && printf '%s\n' "$rout" | grep -q '^step 200/200 ' &&
    printf '%s\n' "$rout" | grep -q 'training finished at step 200' &&
    printf '%s\n' "$rout" | grep -q 'lr set to 0.02'; then
    pass "nntop --replay accepts the run (step 200/200, the lr change, done)"
else fail "nntop --replay of the PyTorch run: rc $rc: $(printf '%s' "$rout" | tail -n 5)"; fi
aout=$("$NNTOP" attach -H "$RUN" 2>&1 </dev/null)
rc=$?
if [ "$rc" = 0 ] && printf '%s\n' "$aout" | grep -q '^summary: finished at step 200 of 200'; then
    pass "nntop attach -H follows it to its end"
else fail "nntop attach -H of the PyTorch run: rc $rc: $(printf '%s' "$aout" | tail -n 3)"; fi
if "$NNTOP" runs "$TMP/runs" --format tsv | sed -n 2p | grep -q 'done'; then pass "nntop runs lists it as done"
else fail "nntop runs should list the run as done: $("$NNTOP" runs "$TMP/runs")"; fi
# ---- a live PyTorch loop, attached in tmux and steered ----------------------------

if [ -n "$HAVE_TMUX" ]; then
    "$PY" "$top_srcdir/tests/torch_logger_live.py" "$top_srcdir/contrib/python" "$TMP/live" \
        >"$TMP/live.out" 2>"$TMP/live.err" &
    LIVE=$!
    i=0
    while [ "$i" -lt 300 ] && [ ! -S "$(sed -n 1p "$TMP/live.out" 2>/dev/null)/control.sock" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    LRUN=$(sed -n 1p "$TMP/live.out")
    $TM new-session -d -s live -x 100 -y 30 \
        "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen $NNTOP --attach '$LRUN'; echo \$? > '$TMP/live-exit'; sleep 600"
    if wait_for '^ nntop torch-live .*running.*attached' 20; then
        pass "the dashboard attaches to the live PyTorch loop"
    else fail "the attached dashboard should show torch-live running"; fi
    $TM send-keys -t live ' '
    if wait_for '^ nntop torch-live .*paused' 10 &&
        grep -q '"type":"pause","source":"socket"' "$LRUN/events.jsonl"; then
        pass "Space pauses the PyTorch loop (journaled from the socket)"
    else fail "Space should pause the PyTorch loop"; fi
    $TM send-keys -t live ':lr 0.01' Enter
    if wait_for '^ nntop .* lr 0\.01 ' 10; then pass ":lr 0.01 sets the loop's lr"
    else fail ":lr 0.01 should show on the attached dashboard"; fi
    $TM send-keys -t live ':clip norm 1' Enter
    if wait_for '^ nntop .* clip norm 1' 10; then pass ":clip norm 1 turns clipping on in the loop"
    else fail ":clip norm 1 should show on the attached dashboard"; fi
    $TM send-keys -t live ' '
    if wait_for '^ nntop torch-live .*running' 10; then pass "Space resumes the loop"
    else fail "Space should resume the loop"; fi
    $TM send-keys -t live ':quit' Enter
    wait_for 'stop the run for every viewer' 10
    $TM send-keys -t live y
    i=0
    while [ "$i" -lt 300 ] && kill -0 "$LIVE" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    if ! kill -0 "$LIVE" 2>/dev/null && wait "$LIVE" &&
        grep -q '"type":"quit","source":"socket"' "$LRUN/events.jsonl"; then
        pass ":quit then y stops the PyTorch loop (run.should_stop)"
    else
        fail ":quit + y should stop the PyTorch loop"
        kill -9 "$LIVE" 2>/dev/null
    fi
    after=$(grep ',train,' "$LRUN/metrics.csv" | tail -n 1 | cut -d, -f7)
    if [ "$after" = 0.01 ] && "$NNTOP" --replay "$LRUN" -H >/dev/null 2>&1 </dev/null; then
        pass "its last updates used lr 0.01 and the run replays"
    else fail "last lr should be 0.01 (got $after) and the run should replay"; fi
    $TM kill-server >/dev/null 2>&1
else
    say "SKIP the attached-dashboard part: tmux is not installed"
fi

finish
