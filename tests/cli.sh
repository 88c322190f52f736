#!/bin/sh
# cli.sh - the nntop binary's exit codes and one-line messages: --help,
# --version, bad options and values, a missing config, YAML and --set
# errors (file:line:col and a caret), messages that teach (a bare width
# as a layer, a missing Fashion-MNIST file, a ';'- or tab-separated CSV),
# --check-config round trips, --set KEY=~ (an optional key back to its
# default, a required one refused by name), a finding's line alike live
# and under --replay (an em dash in UTF-8, "--" in C), a short
# headless demo run, a model that does not fit the data, --gradcheck,
# --replay and --resume of a run, and SIGINT / SIGTERM during a headless
# run (exit 130, nothing logged lost, a "quit" event).
#
# It does not look at the dashboard (tests/ui-smoke.sh does) or at the
# numbers a run computes (tests/check_trainer.c does).  Exit 77 (skip)
# only when there is no nntop binary.  Lines start with "# cli: ".
set -u

NAME=cli
. "${top_srcdir:-.}/tests/lib.sh"
# The built-in demo is Fashion-MNIST when it is installed; these runs want
# the spiral demo (quick to load, the same wherever the tests run).
NNTOP_DEMO=spiral
export NNTOP_DEMO

# ---- help and version ------------------------------------------------------

run --help
check "--help" 0 out '^Usage: nntop '
for opt in -H --headless -s --set -n --steps -o --runs-dir --no-log -r --resume \
    --reproduce --replay --attach --check-config --gradcheck --exit-when-done --keep-going \
    -V --version -h --help; do
    grep -q -- "$opt[ ,]" "$TMP/out" || fail "--help does not mention $opt"
done
[ -s "$TMP/err" ] && fail "--help wrote to stderr"
run -h
check "-h" 0 out '^Usage: nntop '

run --version
check "--version" 0 out '^nntop [0-9]+\.[0-9]+'
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "--version printed more than one line"
run -V
check "-V" 0 out '^nntop [0-9]'

# ---- bad options -------------------------------------------------------------

run --bogus
check "unknown long option" 2 err "^nntop: unknown option '--bogus'$"
run --bogus=3
check "unknown long option with a value" 2 err "^nntop: unknown option '--bogus'$"
run -Hx
check "unknown short option in a bundle" 2 err "^nntop: unknown option '-x'$"
run --steps abc
check "--steps abc" 2 err "^nntop: --steps: expected a positive integer, got 'abc'$"
run -n 0
check "-n 0" 2 err "^nntop: --steps: expected a positive integer, got '0'$"
run -n 12x
check "-n 12x" 2 err "expected a positive integer"
run --steps
check "--steps without a value" 2 err "^nntop: option '--steps' needs a value$"
run -H -n
check "-n without a value" 2 err "^nntop: option '-n' needs a value$"
run a.yaml b.yaml
check "two configs" 2 err "^nntop: unexpected argument 'b.yaml'"
run -o "$(printf '%05000d' 0)" --check-config
check "--runs-dir too long" 2 err "^nntop: --runs-dir: the path is longer than"
run --resume x --reproduce y
check "--resume with --reproduce" 2 err "cannot be combined"

# ---- config errors ---------------------------------------------------------------

run "$TMP/nope.yaml"
check "missing config" 2 err "^nntop: $TMP/nope.yaml: No such file or directory$"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "missing config: more than one line on stderr"

printf 'name: bad\noptim:\n  lr: -1\n' >"$TMP/range.yaml"
run "$TMP/range.yaml"
check "out-of-range value" 2 err "^nntop: $TMP/range.yaml:3:7: optim\.lr: " \
    err '^ +3 \|   lr: -1$' err '^ +\| +\^$'

printf 'name: bad\ndata:\n  source: spiral\n   classes: 3\n' >"$TMP/syntax.yaml"
run "$TMP/syntax.yaml"
check "YAML syntax error" 2 err "^nntop: $TMP/syntax.yaml:[0-9]+:[0-9]+: " err '\^$'

run --set optim.bogus=1
check "--set unknown key" 2 err '^nntop: --set optim\.bogus: '
run --set optim.lr
check "--set without =" 2 err '^nntop: --set'
run --set optim.lr=abc
check "--set bad value" 2 err '^nntop: --set optim\.lr: '

run --set 'model.layers=[{dense: 10}, relu, {dense: 4}]' -H --no-log
check "last dense width is not the class count" 2 \
    err '^nntop: model\.layers: the last dense layer has 4 units but the data has 5 classes$'

# Image layers: shapes are checked once the data is known, at the layer's position.
awk 'BEGIN { for (r = 0; r < 40; r++) { l = ""; for (j = 0; j < 32; j++) l = l ((r * 7 + j * 3) % 11) ",";
             print l (r % 2) } }' >"$TMP/img.csv"
cat >"$TMP/img.yaml" <<EOF
name: img
data: {source: csv, path: img.csv, header: false, shape: [2, 4, 4]}
model:
  layers:
    - {conv2d: 3, kernel: 3, padding: 1}
    - maxpool2d: 2
    - {conv2d: 3, kernel: 3}
    - flatten
    - dense: 2
train: {steps: 2, batch_size: 8}
EOF
run -H --no-log "$TMP/img.yaml"
check "conv kernel larger than its input" 2 \
    err "^nntop: $TMP/img\.yaml:7:7: model\.layers\[2\]: conv2d: kernel 3 larger than the 2x2 input after layer 1$"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "conv kernel error: more than one line on stderr"
run -H --no-log --set 'model.layers=[{conv2d: 3, kernel: 3}, {dense: 2}]' "$TMP/img.yaml"
check "dense on an image without flatten" 2 \
    err '^nntop: model\.layers\[1\]: dense: needs a flatten before it, for the 3x2x2 input after layer 0$'
run -H --no-log --set 'data.shape=[1, 4, 4]' "$TMP/img.yaml"
check "data.shape that does not match the rows" 2 \
    err "^nntop: .*img\.csv: data\.shape \[1, 4, 4\] makes 16 values per row, but the rows have 32 features$"
run -H --no-log --set 'model.layers=[{conv2d: 4, kernel: 3, padding: 1}, relu, {maxpool2d: 2}, flatten, {dense: 2}]' "$TMP/img.yaml"
check "a small CNN trains on CSV images" 0 out 'training finished at step 2'
run -H --no-log --set 'model.layers=[maxpool2d: 2, flatten, {dense: 3}]'
check "an image layer on flat data" 2 \
    err '^nntop: model\.layers\[0\]: maxpool2d: needs image input \(data\.shape: \[C, H, W\], or IDX images\), but the input is 2 flat features$'

# ---- error messages that teach ------------------------------------------------

run --check-config --set 'model.layers=[32, relu, {dense: 5}]'
check "a bare width as a layer suggests {dense: N}" 2 \
    err "^nntop: --set model\.layers\[0\]: unknown layer '32': a width needs its layer, e\.g\. \{dense: 32\}$"
mkdir -p "$TMP/nofm"
cat >"$TMP/fm.yaml" <<EOF
name: fm
data:
  source: idx
  train_images: $TMP/nofm/train-images-idx3-ubyte.gz
  train_labels: $TMP/nofm/train-labels-idx1-ubyte.gz
model: {layers: [{dense: 10}]}
EOF
run -H --no-log "$TMP/fm.yaml"
check "a missing Fashion-MNIST file names the Debian package" 2 \
    err "^nntop: .*nofm/train-images-idx3-ubyte\.gz: No such file or directory \(Fashion-MNIST: apt-get install dataset-fashion-mnist puts it in /usr/share/datasets/fashion-mnist\)$"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "missing Fashion-MNIST: more than one line on stderr"
printf 'x;y;label\n0.1;0.2;0\n0.3;0.4;1\n' >"$TMP/semi.csv"
printf 'x\ty\tlabel\n0.1\t0.2\t0\n0.3\t0.4\t1\n' >"$TMP/tab.csv"
for f in semi tab; do
    cat >"$TMP/$f.yaml" <<EOF
name: $f
data: {source: csv, path: $f.csv, label: label}
model: {layers: [{dense: 2}]}
EOF
done
run -H --no-log "$TMP/semi.yaml"
check "a ';'-separated CSV is recognised" 2 \
    err "^nntop: .*semi\.csv:1:2: one column holding ';': the file looks semicolon-separated, and nntop reads comma-separated CSV \(convert it first, e\.g\. tr ';' ','\)$"
run -H --no-log "$TMP/tab.yaml"
check "a tab-separated CSV is recognised" 2 \
    err "^nntop: .*tab\.csv:1:2: one column holding tabs: the file looks tab-separated, and nntop reads comma-separated CSV \(convert it first, e\.g\. tr '\\\\t' ','\)$"

# ---- --check-config round trip ------------------------------------------------

run --check-config --set optim.lr=0.25 -n 77
check "--check-config" 0 out '^  lr: 0\.25$' out '^  steps: 77$'
cp "$TMP/out" "$TMP/effective.yaml"
run --check-config "$TMP/effective.yaml"
if [ "$STATUS" -eq 0 ] && cmp -s "$TMP/out" "$TMP/effective.yaml"; then
    pass "--check-config output loads back to the same config"
else
    fail "--check-config round trip (status $STATUS)"
fi

# ---- --set KEY=~: an optional key back to its default, a required one refused ---

cat >"$TMP/keyed.yaml" <<EOF
name: keyed
data: {source: npy, train_images: $TMP/none.npz, inputs_key: pixels, labels_key: target}
model: {layers: [flatten, {dense: 3}]}
EOF
run --check-config "$TMP/keyed.yaml"
check "a file's data.inputs_key" 0 out '^  inputs_key: "pixels"$'
run --check-config --set 'data.inputs_key=~' "$TMP/keyed.yaml"
if check "--set data.inputs_key=~ clears the file's key" 0 out '^  labels_key: "target"$' &&
    grep -q 'inputs_key' "$TMP/out"; then
    fail "--set data.inputs_key=~: the key is still set: $(grep inputs_key "$TMP/out")"
fi
run --check-config --set 'model.layers=~' "$TMP/keyed.yaml"
check "--set model.layers=~: a required key refuses ~, by name" 2 \
    err '^nntop: --set model\.layers: expected a list of layers such as \[\{dense: 100\}, relu, \{dense: 3\}\], got nothing$'
run --check-config --set 'data.train_images=~' "$TMP/keyed.yaml"
check "--set data.train_images=~: required for npy, named" 2 \
    err "^nntop: .*keyed\.yaml: data\.train_images is required for source 'npy'$"

# ---- a finding's dash: --replay prints what the live run printed ------------------

# An em dash before the advice where the locale is UTF-8, "--" where it is not.
for lc in C.UTF-8 C; do
    case $lc in C) dash=' -- ' ;; *) dash=' — ' ;; esac
    LC_ALL=$lc "$NNTOP" -H -o "$TMP/dash-$lc" "${top_srcdir:-.}/configs/bugs/dead-relu.yaml" \
        >"$TMP/live" 2>&1 </dev/null
    LC_ALL=$lc "$NNTOP" --replay "$TMP/dash-$lc"/*/ >"$TMP/replayed" 2>&1 </dev/null
    live=$(grep '^WARN step 0 lr-out-of-range: ' "$TMP/live")
    replayed=$(grep '^WARN step 0 lr-out-of-range: ' "$TMP/replayed")
    case $live in *"$dash"*) has_dash=yes ;; *) has_dash= ;; esac
    if [ -n "$live" ] && [ "$live" = "$replayed" ] && [ -n "$has_dash" ]; then
        pass "LC_ALL=$lc: --replay's finding line is the live one, '$dash' before the advice"
    else
        fail "LC_ALL=$lc: live '$live', replayed '$replayed' (want '$dash')"
    fi
done

# ---- runs ---------------------------------------------------------------------------

run -H -n 50 --no-log
check "headless demo, 50 steps" 0 out '^OK step 1 initial-loss: initial loss [0-9.]+, expected 1\.609' \
    out '^eval  step +50  ep +0\.36  val   loss [0-9.]+ +acc +[0-9.]+ %  \(500 samples\)$' \
    out '^step 50/50 \(100\.0 %\)  ep +[0-9.]+  loss\(ema\) [0-9.]+ +acc +[0-9.]+ %  lr 0\.05 ' \
    out '^summary: finished at step 50 of 50 in [0-9.]+ s ' out '^  findings    (none|[0-9]+ info)$'
run -n 20 --no-log
check "headless when stdout is not a terminal" 0 out '^OK step 1 initial-loss: '

# Through a real pipe: plain lines (no '\r'), progress then the summary last.
"$NNTOP" -n 200 --no-log </dev/null 2>"$TMP/err" | cat >"$TMP/out"
STATUS=$?
check "headless in a pipe" 0 out '^step +[0-9]+/200 \( *[0-9]+\.[0-9] %\)  ep ' \
    out '^summary: finished at step 200 of 200 in ' out '^  best val    loss [0-9.]+ at step [0-9]+, acc '
if tr -d -c '\r' <"$TMP/out" | grep -q .; then fail "headless in a pipe: a '\\r' in the output"
elif ! tail -n 1 "$TMP/out" | grep -Eq '^  findings    (none|[0-9]+ info)$'; then
    fail "headless in a pipe: the summary should end the output"
else pass "headless in a pipe: plain lines, the summary last"; fi

run --gradcheck
check "--gradcheck" 0 out ': PASS$' out '^  input '

# Zero initialisation: nothing to compare, so neither pass nor fail.
run --gradcheck "${top_srcdir:-.}/configs/spiral.yaml" \
    --set 'model.layers=[{dense: 8, init: zeros}, tanh, {dense: 3, init: zeros}]'
check "--gradcheck on a zero-initialised model is inconclusive (exit 4)" 4 \
    out ': INCONCLUSIVE \(gradients exactly zero' out '^  0\.weight .* INCONCLUSIVE' \
    out '^  2\.bias .* PASS$'

run -H -n 30 -o "$TMP/runs"
check "logged run" 0 out '; run '
RUN=$(ls -d "$TMP"/runs/*/ 2>/dev/null | head -n 1)
RUN=${RUN%/}
if [ -n "$RUN" ] && [ -f "$RUN/checkpoint-30.safetensors" ]; then
    pass "logged run: checkpoint-30 written"
else
    fail "logged run: no run directory or no final checkpoint in '$RUN'"
fi
run --replay "$RUN"
check "--replay" 0 out '^step 30/30 ' out 'training finished at step 30'
run --replay "$TMP/no-such-run"
check "--replay of a missing run" 2 err '^nntop: '
run -H -n 45 --resume "$RUN"
check "--resume to step 45" 0 out '^event   step 30: resuming demo-spiral at step 30$'
grep -q 'initial-loss' "$TMP/out" && fail "--resume: an initial-loss line for step 31"
if [ -f "$RUN/checkpoint-45.safetensors" ] &&
    [ "$(grep -c ',train,' "$RUN/metrics.csv")" -eq 45 ]; then
    pass "--resume: 45 train rows in all, checkpoint-45"
else
    fail "--resume: $(grep -c ',train,' "$RUN/metrics.csv") train rows"
fi

# Without CONFIG, --resume continues with the run's own config.yaml: a run
# with a model the demo does not have resumes; with the demo it could not.
run -H -n 10 -o "$TMP/runs2" -s 'model.layers=[{dense: 16}, tanh, {dense: 5}]'
RUN2=$(ls -d "$TMP"/runs2/*/ 2>/dev/null | head -n 1)
RUN2=${RUN2%/}
run -H -n 15 --resume "$RUN2/checkpoint-10.safetensors"
check "--resume uses the run's own config" 0 out '^event   step 10: resuming demo-spiral at step 10$'

# A checkpoint from before optim-<step>.safetensors (format 1: the
# optimizer's tensors inside it) still resumes; the new ones are split.
cp -r "${top_srcdir:-.}/tests/data/run-v1" "$TMP/run-v1" && chmod -R u+w "$TMP/run-v1"
run -H -n 25 --resume "$TMP/run-v1"
check "--resume of a format-1 checkpoint" 0 out 'resuming spiral-mlp at step 20$'
if [ -f "$TMP/run-v1/optim-25.safetensors" ] &&
    ! grep -aq '"optim\.' "$TMP/run-v1/checkpoint-25.safetensors"; then
    pass "--resume: checkpoint-25 holds the model, optim-25 its optimizer"
else
    fail "--resume: no optim-25.safetensors, or optimizer tensors in checkpoint-25"
fi
run -H -n 30 --resume "$TMP/run-v1"
check "--resume from a split checkpoint" 0 out 'resuming spiral-mlp at step 25$'
rm "$TMP/run-v1/optim-30.safetensors"
run -H -n 35 --resume "$TMP/run-v1"
check "--resume without the optimizer file" 2 err 'checkpoint-30\.safetensors: no optimizer state beside it: .*optim-30\.safetensors'

# ---- signals --------------------------------------------------------------------------

# A job started with & by a non-interactive shell ignores SIGINT (POSIX),
# and nntop respects an inherited ignore; env --default-signal lifts it.
if env --default-signal=INT true 2>/dev/null; then
    DEFSIG="env --default-signal=INT"
else
    DEFSIG=
fi

# interrupt SIGNAL: a long headless run, stopped by SIGNAL once it has logged rows.
interrupt() {
    sig=$1
    dir=$TMP/sig-$sig
    if [ "$sig" = INT ] && [ -z "$DEFSIG" ]; then
        say "SKIP SIG$sig: env cannot reset the ignored signal"
        return
    fi
    $DEFSIG "$NNTOP" -H -n 100000000 -o "$dir" >"$TMP/out" 2>"$TMP/err" </dev/null &
    pid=$!
    if ! wait_rows "$dir" $pid; then
        fail "SIG$sig: no metrics rows after 30 s"
        return
    fi
    kill -"$sig" $pid
    wait $pid
    STATUS=$?
    check "SIG$sig: exit 130" 130 err 'caught signal' out 'stopped at step'
    rd=${m%/metrics.csv}
    if [ "$(tail -c 1 "$m" | od -An -c | tr -d ' ')" = '\n' ] &&
        tail -n 1 "$m" | grep -Eq '^[0-9]+,[^,]*,(train|val|test),([^,]*,){7}[^,]*$'; then
        pass "SIG$sig: metrics.csv ends with a complete row"
    else
        fail "SIG$sig: metrics.csv's last line: '$(tail -n 1 "$m")'"
    fi
    if grep -q '"type":"quit"' "$rd/events.jsonl"; then
        pass "SIG$sig: events.jsonl has the quit event"
    else
        fail "SIG$sig: no quit event in events.jsonl"
    fi
    # global steps: the last train row's step is the updates done
    last=$(grep ',train,' "$m" | tail -n 1 | cut -d, -f1)
    if [ -f "$rd/checkpoint-$last.safetensors" ]; then
        pass "SIG$sig: final checkpoint at the last logged step"
    else
        fail "SIG$sig: no checkpoint-$last.safetensors"
    fi
}
interrupt INT
interrupt TERM

# SIGTERM delivered to a thread that does not block it: OpenBLAS starts its
# threads before main() blocks the stop signals, and the kernel may hand a
# process's signal to one of them.  The run must still stop as above, not
# die of the default action (exit 143, nothing logged after).
dir=$TMP/sig-thread
"$NNTOP" -H -n 100000000 -o "$dir" >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
rows=yes
wait_rows "$dir" $pid || rows=
# A thread other than main whose SigBlk lacks SIGTERM (bit 15, 0x4000).
tid=
for t in /proc/$pid/task/*; do
    t=${t##*/}
    [ "$t" = "$pid" ] && continue
    blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "/proc/$pid/task/$t/status" 2>/dev/null)
    [ -n "$blk" ] && [ $((0x$blk & 0x4000)) -eq 0 ] && tid=$t && break
done
if [ -z "$rows" ]; then
    wait $pid 2>/dev/null
    fail "SIGTERM to a thread: no metrics rows after 30 s"
elif [ -z "$tid" ] || ! /usr/bin/python3 -c 'import ctypes; ctypes.CDLL(None).tgkill' 2>/dev/null; then
    kill -TERM $pid
    wait $pid
    say "SKIP SIGTERM to a thread: no thread leaves it unblocked, or no python3 tgkill"
else
    /usr/bin/python3 -c 'import ctypes, sys
sys.exit(ctypes.CDLL(None).tgkill(int(sys.argv[1]), int(sys.argv[2]), 15))' "$pid" "$tid"
    wait $pid
    STATUS=$?
    check "SIGTERM to thread $tid, which does not block it: exit 130" 130 \
        err 'caught signal 15' out 'stopped at step'
fi

# -H --keep-going pauses on NaN; with --no-log nothing could resume it.
run -H --no-log --keep-going
check "-H --keep-going --no-log: refused, exit 2" 2 err '^nntop: --keep-going with --no-log: nothing could resume'

# --no-log has no run directory, so no control socket and nothing to say
# about one: stderr stays free of it.
NNTOP_DEMO=spiral run -H -n 5 --no-log
if [ "$STATUS" -eq 0 ] && ! grep -q 'control socket' "$TMP/err"; then
    pass "--no-log: exit 0, no word of a control socket"
else
    fail "--no-log: exit $STATUS, stderr: $(head -n 1 "$TMP/err")"
fi

finish
