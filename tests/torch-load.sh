#!/bin/sh
# torch-load.sh - checkpoints a PyTorch user can take away: nntop trains a
# small CNN (Fashion-MNIST IDX images, when installed) and an MLP (the
# moons CSV, standardised), then contrib/python/nntop_load.py builds each
# nn.Sequential from the checkpoint's metadata, loads it strictly, applies
# the saved normalisation to the raw test data and must reproduce nntop's
# own test loss (metrics.csv) within 1e-5 relative, and the same accuracy.
# The checkpoint file must hold exactly the state_dict (no optim.*), with
# the optimizer's state in optim-<step>.safetensors beside it, and --resume
# must keep the checkpoint's normalisation when the data's has moved.
#
# Exit 77 (skip) when there is no nntop binary or no python3 with torch.
# Lines start with "# torch-load: ".
set -u

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
PY=/usr/bin/python3
LOADER=$top_srcdir/contrib/python/nntop_load.py
say() { echo "# torch-load: $*"; }
if [ ! -x "$NNTOP" ]; then
    say "SKIP: no nntop binary at $NNTOP"
    exit 77
fi
if ! "$PY" -c 'import torch' 2>/dev/null; then
    say "SKIP: no python3 with torch"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILED=0
PASSED=0
fail() { FAILED=$((FAILED + 1)); say "FAIL $*"; }
pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }

# check NAME RUN_DIR LOADER_ARGS...: nntop's last test row against the loader's.
check() {
    name=$1
    run=$2
    shift 2
    ck=$(ls "$run"/checkpoint-*.safetensors 2>/dev/null | tail -n 1)
    if [ -z "$ck" ]; then
        fail "$name: no checkpoint in $run"
        return
    fi
    step=${ck##*/checkpoint-}
    step=${step%.safetensors}
    [ -f "$run/optim-$step.safetensors" ] || fail "$name: no optim-$step.safetensors beside it"
    if grep -aq '"optim\.' "$ck"; then
        fail "$name: optimizer tensors in the checkpoint"
    fi
    want=$(awk -F, '$3 == "test" { l = $4; a = $6 } END { print l, a }' "$run/metrics.csv")
    got=$("$PY" "$LOADER" "$ck" "$@" 2>"$TMP/err")
    if [ $? -ne 0 ]; then
        fail "$name: nntop_load.py failed: $(cat "$TMP/err")"
        return
    fi
    # got: "loss L accuracy A n N"
    if echo "$want $got" | awk '{ rel = ($1 - $4) / $1; if (rel < 0) rel = -rel;
                                  exit !(rel <= 1e-5 && ($2 - $6) ^ 2 < 1e-12) }'; then
        pass "$name: test loss and accuracy $want, torch: $got"
    else
        fail "$name: nntop test loss and accuracy $want, torch: $got"
    fi
}

# ---- an MLP on the moons CSV, standardised (its statistics must travel) ----
cp "$top_srcdir/configs/moons.csv" "$TMP/moons.csv"
cat >"$TMP/mlp.yaml" <<EOF
name: mlp
seed: 3
data: {source: csv, path: moons.csv, test_path: moons.csv, label: moon, header: true,
       normalize: standardize, val_fraction: 0.2}
model:
  layers: [{dense: 16}, relu, {dense: 2}]
optim: {name: adam, lr: 0.01}
train: {batch_size: 32, steps: 60, eval_every: 60}
EOF
if "$NNTOP" -H -o "$TMP/runs" "$TMP/mlp.yaml" >"$TMP/out" 2>&1; then
    check "mlp (csv, standardize)" "$(ls -d "$TMP"/runs/*-mlp)" --csv "$TMP/moons.csv" \
        --label-col 2 --header
    # --resume trains on with the run's normalisation, not the data's new one.
    run=$(ls -d "$TMP"/runs/*-mlp)
    norm() { grep -ao '"normalize":"[^"]*"' "$1"; }
    before=$(norm "$run/checkpoint-60.safetensors")
    awk -F, -v OFS=, 'NR > 1 { $1 = 3 * $1 + 5 } { print }' "$TMP/moons.csv" >"$TMP/moved.csv" &&
        mv "$TMP/moved.csv" "$TMP/moons.csv"
    if "$NNTOP" -H -n 70 --resume "$run" >"$TMP/out" 2>&1 &&
        [ -n "$before" ] && [ "$(norm "$run/checkpoint-70.safetensors")" = "$before" ]; then
        pass "mlp: --resume keeps the checkpoint's normalisation"
    else
        fail "mlp: --resume: $(tail -n 2 "$TMP/out")"
    fi
else
    fail "mlp: nntop failed: $(tail -n 3 "$TMP/out")"
fi

# ---- a CNN on Fashion-MNIST IDX images -----------------------------------
FM=/usr/share/datasets/fashion-mnist
if [ -r "$FM/t10k-images-idx3-ubyte.gz" ]; then
    cat >"$TMP/cnn.yaml" <<EOF
name: cnn
seed: 4
data:
  source: idx
  train_images: $FM/t10k-images-idx3-ubyte.gz
  train_labels: $FM/t10k-labels-idx1-ubyte.gz
  test_images: $FM/t10k-images-idx3-ubyte.gz
  test_labels: $FM/t10k-labels-idx1-ubyte.gz
  subset: 640
model:
  layers:
    - {conv2d: 6, kernel: 5, padding: 2}
    - relu
    - maxpool2d: 2
    - {conv2d: 8, kernel: 3, bias: false}
    - batchnorm2d
    - relu
    - {avgpool2d: 2}
    - flatten
    - dense: 10
optim: {name: adam, lr: 0.003}
train: {batch_size: 64, steps: 20, eval_every: 20}
EOF
    if "$NNTOP" -H -o "$TMP/runs" "$TMP/cnn.yaml" >"$TMP/out" 2>&1; then
        check "cnn (idx, unit)" "$(ls -d "$TMP"/runs/*-cnn)" \
            --idx "$FM/t10k-images-idx3-ubyte.gz" "$FM/t10k-labels-idx1-ubyte.gz"
    else
        fail "cnn: nntop failed: $(tail -n 3 "$TMP/out")"
    fi
else
    say "skipped the CNN: $FM is not installed"
fi

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
