#!/bin/sh
# compare-torch.sh - nntop's engine against PyTorch, side by side: for each
# thread count and batch size, PAIRS alternating runs of bench/mlp-bench
# and bench/torch_mlp.py, then the median of the per-pair ratios.
#   bench/compare-torch.sh [BUILD_DIR] [PAIRS] [mlp|cnn]
# The CNN (configs/fashion-cnn.yaml's) runs at batch 64, 4096 samples a run.
set -eu
build=${1:-.}
pairs=${2:-3}
model=${3:-mlp}
batches="32 128 512"
samples=64000
if [ "$model" = cnn ]; then
    batches=64
    samples=4096
fi
here=$(cd "$(dirname "$0")" && pwd)
value() { sed -n 's/^samples_per_s=\([0-9.]*\) .*/\1/p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-8s %-6s %12s %12s %8s\n' threads batch nntop torch ratio
for threads in 1 2; do
    for batch in $batches; do
        steps=$((samples / batch))
        ratios=""
        for p in $(seq "$pairs"); do
            c=$("$build/bench/mlp-bench" --model "$model" --threads "$threads" --batch "$batch" --steps "$steps" 2>/dev/null | value)
            t=$(/usr/bin/python3 "$here/torch_mlp.py" --model "$model" --threads "$threads" --batch "$batch" --steps "$steps" 2>/dev/null | value)
            ratios="$ratios $(echo "$c $t" | awk '{ printf "%.4f", $1 / $2 }')"
            last_c=$c
            last_t=$t
        done
        r=$(echo "$ratios" | tr ' ' '\n' | grep . | median)
        printf '%-8s %-6s %12s %12s %8s\n' "$threads" "$batch" "$last_c" "$last_t" "$r"
    done
done
