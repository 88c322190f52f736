#!/bin/sh
# compare-torch.sh - nntop's engine against PyTorch, side by side: for each
# thread count and batch size, PAIRS alternating runs of bench/mlp-bench
# and bench/torch_mlp.py, then the median of the per-pair ratios.
#   bench/compare-torch.sh [BUILD_DIR] [PAIRS] [mlp|cnn]
# The CNN (configs/fashion-cnn.yaml's) runs at batch 64, 4096 samples a run.
# Each pair prints a line (the load average, both programs' samples/s, the
# best of their 20 windows and their CPU time); the table gives the median
# ratios nntop / PyTorch of mean and best-window samples/s, and of CPU time
# (PyTorch's over nntop's).  TORCH_MLP_INTRAOP (inherited) sets PyTorch's
# intra-op threads (default 1; see torch_mlp.py).  TORCH_MALLOC=keep runs
# both programs with glibc's malloc told to keep freed memory
# (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:
# glibc.malloc.trim_threshold=1073741824): PyTorch frees its large
# activation buffers every step and, by default, glibc hands them back to
# the kernel, so its CNN runs are slow (high system time) or fast by
# chance; with keep they are fast every time, the fair comparison.
# nntop allocates nothing per step, so the setting does not change it.
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
keep_tunables=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824
case ${TORCH_MALLOC:-default} in
    keep) GLIBC_TUNABLES=$keep_tunables; export GLIBC_TUNABLES ;;
    default) ;;
    *) echo "compare-torch.sh: TORCH_MALLOC must be keep or default, not '$TORCH_MALLOC'" >&2
       exit 2 ;;
esac
echo "malloc: ${TORCH_MALLOC:-default}${GLIBC_TUNABLES:+ (GLIBC_TUNABLES=$GLIBC_TUNABLES)}"
here=$(cd "$(dirname "$0")" && pwd)
field() { sed -n "s/.*[ (]$1[= ]\\([0-9.]*\\).*/\\1/p" | head -n 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { echo "$1 $2" | awk '{ printf "%.4f", $1 / $2 }'; }
rows=""
for threads in 1 2; do
    for batch in $batches; do
        steps=$((samples / batch))
        r_mean=""
        r_best=""
        r_cpu=""
        for p in $(seq "$pairs"); do
            load=$(cut -d' ' -f1 /proc/loadavg)
            c=$("$build/bench/mlp-bench" --model "$model" --threads "$threads" --batch "$batch" --steps "$steps" 2>&1 | tr '\n' ' ')
            t=$(/usr/bin/python3 "$here/torch_mlp.py" --model "$model" --threads "$threads" --batch "$batch" --steps "$steps" 2>&1 | tr '\n' ' ')
            cs=$(echo "$c" | field samples_per_s)
            ts=$(echo "$t" | field samples_per_s)
            cb=$(echo "$c" | field best_samples_per_s)
            tb=$(echo "$t" | field best_samples_per_s)
            cc=$(echo "$c" | field cpu)
            tc=$(echo "$t" | field cpu)
            r_mean="$r_mean $(ratio "$cs" "$ts")"
            r_best="$r_best $(ratio "$cb" "$tb")"
            r_cpu="$r_cpu $(ratio "$tc" "$cc")"
            printf 'pair %s: threads %s batch %s load %s: nntop %s/s (best %s, cpu %s s) torch %s/s (best %s, cpu %s s)\n' \
                "$p" "$threads" "$batch" "$load" "$cs" "$cb" "$cc" "$ts" "$tb" "$tc"
        done
        rows="$rows$(printf '%-8s %-6s %8s %8s %8s' "$threads" "$batch" \
            "$(echo "$r_mean" | tr ' ' '\n' | grep . | median)" \
            "$(echo "$r_best" | tr ' ' '\n' | grep . | median)" \
            "$(echo "$r_cpu" | tr ' ' '\n' | grep . | median)")
"
    done
done
printf '%-8s %-6s %8s %8s %8s\n' threads batch mean best cpu
printf '%s' "$rows"
