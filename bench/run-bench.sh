#!/bin/sh
# run-bench.sh - what `make bench` runs: every speed figure of bench/README.md
# as a ratio of two programs run side by side, PAIRS alternating pairs each
# (median of the pair ratios), printed as one table:
#
#   engine      bench/mlp-bench against bench/torch_mlp.py (samples/s)
#   scaling     mlp-bench at 2 threads against 1 (the batch split, and
#               OpenBLAS's own threads for comparison)
#   ceiling     mlp-bench against bench/gemm-ceiling, its sgemm calls alone
#   fallback    mlp-bench with the OpenBLAS core correction against without
#               it, under a forced Prescott fallback
#   end-to-end  `nntop -H configs/fashion-mnist.yaml` against
#               bench/torch_fashion.py, whole processes: wall time from exec
#               to exit, test accuracy, peak RSS (/usr/bin/time)
#
#   bench/run-bench.sh [BUILD_DIR]
# Environment: PAIRS (default 3), E2E_EPOCHS (default 15; 0 skips the
# end-to-end rows), E2E_PAIRS (default 2).  PyTorch rows are skipped, with
# the reason, when /usr/bin/python3 cannot import torch.  A program, not a
# test: it asserts nothing.
set -u
build=${1:-.}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
pairs=${PAIRS:-3}
e2e_epochs=${E2E_EPOCHS:-15}
e2e_pairs=${E2E_PAIRS:-2}
mlp=$build/bench/mlp-bench
ceiling=$build/bench/gemm-ceiling
nntop=$build/nntop
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sps() { sed -n 's/^samples_per_s=\([0-9.]*\) .*/\1/p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.3f", $1 / $2; else print "nan" }'; }

torch_ok=yes
why_no_torch=
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    torch_ok=no
    why_no_torch="skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"
fi

echo "# nntop bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, core: $("$mlp" --steps 1 2>&1 >/dev/null | sed -n 's/.*(core \([^)]*\)).*/\1/p'), load $(cut -d' ' -f1-3 /proc/loadavg); $pairs alternating pairs per row, median of the pair ratios"
# The scaling rows depend on what a line costs between the two cores (a
# virtual machine's cores may sit near or far apart): say it with them.
echo "# core link, ns per 64-byte line: $("$build/bench/core-link" 2>/dev/null || echo unknown)"
printf '%-11s %-30s %12s %12s %7s  %s\n' group setting A B A/B spread
row() {     # row GROUP SETTING "A..." "B..." where A and B are commands printing samples_per_s
    group=$1 setting=$2 cmd_a=$3 cmd_b=$4
    rs= la= lb=
    for p in $(seq "$pairs"); do
        va=$(eval "$cmd_a" 2>/dev/null | sps)
        vb=$(eval "$cmd_b" 2>/dev/null | sps)
        rs="$rs $(ratio "${va:-0}" "${vb:-0}")"
        la=$va lb=$vb
    done
    med=$(echo "$rs" | tr ' ' '\n' | grep . | median)
    lo=$(echo "$rs" | tr ' ' '\n' | grep . | sort -n | head -1)
    hi=$(echo "$rs" | tr ' ' '\n' | grep . | sort -n | tail -1)
    printf '%-11s %-30s %12s %12s %7s  %s-%s\n' "$group" "$setting" "$la" "$lb" "$med" "$lo" "$hi"
}

for t in 1 2; do
    for b in 32 128 512; do
        s=$((64000 / b))
        if [ "$torch_ok" = yes ]; then
            row engine "threads $t batch $b (vs torch)" \
                "$mlp --threads $t --batch $b --steps $s" \
                "/usr/bin/python3 $here/torch_mlp.py --threads $t --batch $b --steps $s"
        else
            printf '%-11s %-30s %s\n' engine "threads $t batch $b" "$why_no_torch"
        fi
    done
done
for b in 32 128 512; do
    s=$((64000 / b))
    row scaling "batch $b split 2 / 1 thread" \
        "$mlp --threads 2 --batch $b --steps $s" "$mlp --threads 1 --batch $b --steps $s"
    row scaling "batch $b openblas 2 / 1 thread" \
        "$mlp --threads 2 --blas-threads --batch $b --steps $s" \
        "$mlp --threads 1 --batch $b --steps $s"
done
for t in 1 2; do
    for b in 32 128 512; do
        s=$((64000 / b))
        row ceiling "threads $t batch $b engine/gemm" \
            "$mlp --threads $t --batch $b --steps $s" "$ceiling --threads $t --batch $b --steps $s"
    done
done
# The correction, under a fallback forced with the test-only override.
row fallback "batch 128 corrected / kept" \
    "env OPENBLAS_CORETYPE=Prescott NNTOP_BLAS_TEST_FALLBACK=1 $mlp --batch 128 --steps 500" \
    "env OPENBLAS_CORETYPE=Prescott NNTOP_BLAS_TEST_FALLBACK=1 NNTOP_BLAS_CORE=keep $mlp --batch 128 --steps 500"

[ "$e2e_epochs" -gt 0 ] || exit 0
if [ "$torch_ok" != yes ]; then
    printf '%-11s %s\n' end-to-end "$why_no_torch"
    exit 0
fi
if [ ! -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    printf '%-11s %s\n' end-to-end "skipped: no Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    exit 0
fi
# e2e NAME CMD...: wall seconds, peak RSS MB and test accuracy of one whole process.
e2e() {
    name=$1
    shift
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err"
    acc=$(sed -n 's/^test_acc=\([0-9.]*\).*/\1/p; s/^eval .* test  *loss [0-9.]*  *acc  *\([0-9.]*\) %.*/\1/p' "$tmp/out" | tail -1)
    read -r wall rss <"$tmp/time"
    echo "$wall $((rss / 1024)) ${acc:-?}"
}
printf '%-11s %-30s %22s %22s %7s\n' group setting "nntop s/MB/acc%" "torch s/MB/acc%" torch/nntop
for t in 1 2; do
    rs=
    for p in $(seq "$e2e_pairs"); do
        n=$(e2e nntop "$nntop" -H --no-log -s train.threads=$t -s train.epochs=$e2e_epochs \
            "$top/configs/fashion-mnist.yaml")
        y=$(e2e torch /usr/bin/python3 "$here/torch_fashion.py" --threads $t --epochs $e2e_epochs)
        rs="$rs $(ratio "${y%% *}" "${n%% *}")"
        ln=$n ly=$y
    done
    med=$(echo "$rs" | tr ' ' '\n' | grep . | median)
    printf '%-11s %-30s %22s %22s %7s\n' end-to-end "threads $t, $e2e_epochs epochs" \
        "$(echo "$ln" | tr ' ' '/')" "$(echo "$ly" | tr ' ' '/')" "$med"
done
