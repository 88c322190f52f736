#!/bin/sh
# doctor-zoo.sh - the doctor on real runs.  Each config of the bug zoo
# (configs/bugs/*.yaml) names the finding it must raise and by which step
# ("# expect: RULE within N steps"); a headless run must write that rule,
# raised at warning or error, at or before step N into events.jsonl.
# Every healthy shipped config (the built-in demo, spiral, xor, blobs with
# Adam and a cosine schedule, the CSV example, blobs with the cosine going
# to lr 0 and with a step decay, Fashion-MNIST for one epoch, the CNN's
# first 100 steps, the spiral demo) must raise no warning and no error, and
# no update-ratio-high or update-ratio-low even as info; the lr-too-high and
# lr-too-low configs must raise them.  The schedules (blobs' cosine to lr 0
# and step decay, Fashion-MNIST's cosine) cut the lr far below its base,
# which the update-ratio rules must not take for an lr too low (the rule
# that judged the raw ratio raised it as info on Fashion-MNIST's epoch, and
# warned at step 5990 of its full 15 epochs).
# Two runs of one config write byte-identical layers.csv and the same
# findings (snapshots follow the step cadence, never the clock), and
# --fail-on turns a raised finding into exit status 3.
#
# Fashion-MNIST configs are skipped when the data set is not installed.
# Exit 77 (skip) only when there is no nntop binary.  Lines start with
# "# zoo: ".
set -u

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
if [ ! -x "$NNTOP" ]; then
    echo "# zoo: SKIP: no nntop binary at $NNTOP"
    exit 77
fi
FMNIST=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0

say() { echo "# zoo: $*"; }
pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL $*"; }

# run NAME CONFIG [ARGS...]: a headless run into $TMP/NAME; sets RUN (its
# directory) and STATUS.
run() {
    name=$1
    shift
    rm -rf "$TMP/$name"
    "$NNTOP" --headless -o "$TMP/$name" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
    STATUS=$?
    RUN=$(ls -d "$TMP/$name"/*/ 2>/dev/null | head -n 1)
}

# Raised findings at warning or error in $RUN/events.jsonl: "STEP RULE" lines.
bad_findings() {
    grep '"type":"finding"' "$RUN/events.jsonl" | grep '"state":"raised"' |
        grep -E '"severity":"(warning|error)"' |
        sed -n 's/^{"step":\([0-9]*\),.*"rule":"\([a-z-]*\)".*/\1 \2/p'
}

needs_fmnist() {
    grep -q 'fashion-mnist' "$1" && [ ! -r "$FMNIST" ]
}

for cfg in "$top_srcdir"/configs/bugs/*.yaml; do
    name=$(basename "$cfg" .yaml)
    expect=$(sed -n 's/^# expect: \([a-z-]*\) within \([0-9]*\) steps$/\1 \2/p' "$cfg")
    if [ -z "$expect" ]; then
        fail "$name: no '# expect: RULE within N steps' line"
        continue
    fi
    if needs_fmnist "$cfg"; then
        say "skip $name: Fashion-MNIST is not installed"
        continue
    fi
    rule=${expect% *}
    within=${expect#* }
    run "$name" "$cfg"
    if [ -z "$RUN" ] || [ ! -s "$RUN/events.jsonl" ]; then
        fail "$name: no run directory (status $STATUS)"
        head -n 5 "$TMP/$name.err"
        continue
    fi
    step=$(bad_findings | awk -v r="$rule" '$2 == r { print $1; exit }')
    if [ -z "$step" ]; then
        fail "$name: $rule not raised at warning or error; raised:"
        bad_findings | head -n 10
    elif [ "$step" -gt "$within" ]; then
        fail "$name: $rule raised at step $step, later than $within"
    else
        pass "$name: $rule raised at step $step (within $within)"
    fi
    # The headless line names it too.
    if ! grep -Eq "^(WARN|ERROR) step [0-9]+ $rule" "$TMP/$name.out"; then
        fail "$name: no headless line for $rule"
    fi
done

# update-ratio-high at both ends: the lr far too high raises it (at any
# severity: the divergence it causes is the zoo's warning), and no healthy
# run below raises it at all, not even as info (the first fast-falling steps
# of every run have large updates; see healthy).
run ratio-high "$top_srcdir/configs/bugs/lr-too-high.yaml"
if grep '"type":"finding"' "$RUN/events.jsonl" | grep '"state":"raised"' |
    grep -q '"rule":"update-ratio-high"'; then
    pass "lr-too-high: update-ratio-high raised"
else
    fail "lr-too-high: update-ratio-high not raised"
fi

# healthy NAME CONFIG [ARGS...]
healthy() {
    name=$1
    shift
    run "$name" "$@"
    if [ "$STATUS" -ne 0 ] || [ -z "$RUN" ]; then
        fail "$name: exit status $STATUS"
        head -n 5 "$TMP/$name.err"
        return
    fi
    bad=$(bad_findings)
    high=$(grep '"type":"finding"' "$RUN/events.jsonl" | grep '"state":"raised"' |
        grep -c '"rule":"update-ratio-high"')
    low=$(grep '"type":"finding"' "$RUN/events.jsonl" | grep '"state":"raised"' |
        grep -c '"rule":"update-ratio-low"')
    if [ -n "$bad" ]; then
        fail "$name: healthy run raised: $(echo "$bad" | tr '\n' ';')"
    elif [ "$high" -ne 0 ]; then
        fail "$name: healthy run raised update-ratio-high $high times (info included)"
    elif [ "$low" -ne 0 ]; then
        fail "$name: healthy run raised update-ratio-low $low times (info included)"
    elif ! grep -q '^doctor: ' "$TMP/$name.out"; then
        fail "$name: no doctor summary line"
    else
        pass "$name: no warning or error ($(grep '^doctor: ' "$TMP/$name.out"))"
    fi
}

healthy demo
healthy spiral "$top_srcdir/configs/spiral.yaml"
healthy xor "$top_srcdir/configs/xor.yaml"
healthy blobs-adam "$top_srcdir/configs/blobs.yaml"
healthy blobs-cosine-to-0 "$top_srcdir/configs/blobs.yaml" --set optim.schedule.min_lr=0
# Step decay, lr x0.1 every 200 steps: it converges at step 1100 with the lr
# at 1e-5 of its base; the rule that judged the raw ratio warned at step 530.
healthy blobs-step-decay "$top_srcdir/configs/blobs.yaml" --set optim.schedule.name=step \
    --set optim.schedule.step_size=200 --set optim.schedule.gamma=0.1
healthy csv-example "$top_srcdir/configs/csv-example.yaml"
# The spiral demo (minibatches of 32, so a noisy loss) for a tenth of its run.
healthy demo-spiral "$top_srcdir/configs/demo-spiral.yaml" --set train.steps=20000
if [ -r "$FMNIST" ]; then
    healthy fashion-mnist-1-epoch "$top_srcdir/configs/fashion-mnist.yaml" --set train.epochs=1
    # The CNN's first 100 steps: its dense 128 layer's pre-activations sit
    # far below zero (rms 14, its ReLU's output 3.7), which activation-scale
    # once warned of; the scale is judged after the activation.
    healthy fashion-cnn-100 "$top_srcdir/configs/fashion-cnn.yaml" --set train.steps=100
else
    say "skip fashion-mnist: not installed"
fi

# Deterministic: two runs, the same layers.csv (every snapshot, whatever
# the clock) and the same findings at the same steps.
run det1 "$top_srcdir/configs/bugs/lr-too-low.yaml" --set train.steps=300
r1=$RUN
run det2 "$top_srcdir/configs/bugs/lr-too-low.yaml" --set train.steps=300
r2=$RUN
rows=$(grep -c '^100,' "$r1/layers.csv")
if ! cmp -s "$r1/layers.csv" "$r2/layers.csv"; then
    fail "determinism: layers.csv differs between two runs"
elif [ "$(grep -c . "$r1/layers.csv")" -lt 150 ] || [ "$rows" -ne 7 ]; then
    fail "determinism: layers.csv has $(grep -c . "$r1/layers.csv") lines, step 100 $rows rows"
elif [ "$(grep '"type":"finding"' "$r1/events.jsonl" | sed 's/"time":"[^"]*","wall_s":[0-9.e+-]*,//')" != \
       "$(grep '"type":"finding"' "$r2/events.jsonl" | sed 's/"time":"[^"]*","wall_s":[0-9.e+-]*,//')" ]; then
    fail "determinism: the findings differ between two runs"
else
    pass "determinism: layers.csv identical ($(grep -c . "$r1/layers.csv") lines, every 10 steps), same findings"
fi

# A finding line has the issue's shape.
line=$(grep '"type":"finding"' "$r1/events.jsonl" | grep '"rule":"update-ratio-low"' | head -n 1)
case $line in
*'"rule":"update-ratio-low","severity":"warning","stage":3,"layer":0,"tensor":"0.weight","value":'*'"threshold":1e-05,"advice":"the lr is too low: raise it","state":"raised"'*)
    pass "events.jsonl finding line shape" ;;
*) fail "events.jsonl finding line shape: $line" ;;
esac

# --fail-on
run failon-w "$top_srcdir/configs/bugs/no-activation.yaml" --set train.steps=20 --fail-on warning
if [ "$STATUS" -eq 3 ] && grep -q '^doctor: .*missing-activation 1 warning' "$TMP/failon-w.out"; then
    pass "--fail-on warning: exit 3 on a warning"
else
    fail "--fail-on warning: exit status $STATUS"
fi
run failon-e "$top_srcdir/configs/bugs/no-activation.yaml" --set train.steps=20 --fail-on error
[ "$STATUS" -eq 0 ] && pass "--fail-on error: exit 0 with warnings only" ||
    fail "--fail-on error: exit status $STATUS"
run failon-ok "$top_srcdir/configs/spiral.yaml" --set train.steps=50 --fail-on warning
[ "$STATUS" -eq 0 ] && pass "--fail-on warning: exit 0 on a healthy run" ||
    fail "--fail-on warning on a healthy run: exit status $STATUS"
"$NNTOP" --headless --no-log --fail-on bogus >"$TMP/out" 2>"$TMP/err" </dev/null
STATUS=$?
if [ "$STATUS" -eq 2 ] && grep -q "^nntop: --fail-on: expected warning or error, got 'bogus'" "$TMP/err"; then
    pass "--fail-on bogus: exit 2 with the message"
else
    fail "--fail-on bogus: exit status $STATUS: $(head -n 1 "$TMP/err")"
fi

# doctor.enabled: false: no finding at all; doctor.disable removes one rule.
run off "$top_srcdir/configs/bugs/no-activation.yaml" --set train.steps=20 --set doctor.enabled=false
if grep -q '"type":"finding"' "$RUN/events.jsonl"; then
    fail "doctor.enabled=false: findings were written"
else
    pass "doctor.enabled=false: no findings"
fi
run dis "$top_srcdir/configs/bugs/no-activation.yaml" --set train.steps=20 \
    --set 'doctor.disable=[missing-activation]'
if grep -q '"rule":"missing-activation"' "$RUN/events.jsonl"; then
    fail "doctor.disable: the disabled rule was raised"
else
    pass "doctor.disable: the disabled rule stays quiet"
fi

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
