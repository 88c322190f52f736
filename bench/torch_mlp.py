#!/usr/bin/python3
"""torch_mlp.py - the PyTorch twin of bench/mlp-bench.c.

Trains the same 784-256-128-10 ReLU MLP with softmax cross-entropy and SGD
(momentum 0.9) on 10000 synthetic samples gathered per batch from a shuffled
order, and prints the same single line:

    samples_per_s=<float> gflops=<float>

Options: --model mlp|cnn --threads N --batch B --steps S (a few warm-up
steps are not timed).  --model cnn trains mlp-bench's CNN (that of
configs/fashion-cnn.yaml without its dropout) on the same data as 1x28x28
images.

Threads.  Debian's python3-torch does its matrix products in the system
OpenBLAS (libblas.so.3 -> openblas-pthread), whose thread pool torch's
set_num_threads() does not control: OpenBLAS reads OPENBLAS_NUM_THREADS when
it is loaded, so this script sets it before importing torch.  torch's own
intra-op threads (OpenMP) run only the element-wise ops, which are tiny for
this model; handing them a second thread costs more in synchronisation than
it saves, so torch keeps 1 thread and OpenBLAS gets N.  (Measured on the
2-core development VM with --threads 2: 1 torch thread was 3-4x faster
than 2 at batch 32 and 128, and equal at 512, because torch's OpenMP
workers and OpenBLAS's spin against each other.)  Set TORCH_MLP_INTRAOP to
override the torch thread count.

stderr also gets best_samples_per_s, the fastest of 20 windows of steps,
the steadier figure on a shared machine; mlp-bench.c prints the same.

It is a program, not a test; it needs /usr/bin/python3 with python3-torch.
"""

import argparse
import os
import sys
import time

SAMPLES = 10000
WIDTHS = (784, 256, 128, 10)
WARMUP = 5


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=300)
    a = p.parse_args()
    if a.threads < 1 or a.batch < 1 or a.steps < 1 or a.batch > SAMPLES:
        p.error("--threads, --batch and --steps must be positive (batch <= %d)" % SAMPLES)
    return a


def flops_per_sample(cnn=False):
    """Forward, dW, and dX of every layer but the first, times two (mul + add)."""
    if cnn:
        macs = [32 * 28 * 28 * 1 * 25, 64 * 14 * 14 * 32 * 25, 3136 * 128, 128 * 10]
    else:
        macs = [WIDTHS[i] * WIDTHS[i + 1] for i in range(len(WIDTHS) - 1)]
    return 2.0 * (2.0 * sum(macs) + sum(macs[1:]))


def cnn_model(nn):
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    args = parse_args()
    # Before torch loads libopenblas: see the module comment.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    intraop = int(os.environ.get("TORCH_MLP_INTRAOP", "1"))
    os.environ["OMP_NUM_THREADS"] = str(intraop)
    import torch
    from torch import nn

    torch.set_num_threads(intraop)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(1)

    data = torch.rand(SAMPLES, WIDTHS[0], generator=gen)
    labels = torch.randint(0, WIDTHS[-1], (SAMPLES,), generator=gen)

    if args.model == "cnn":
        model = cnn_model(nn)
        data = data.reshape(SAMPLES, 1, 28, 28)
    else:
        layers = []
        for i in range(len(WIDTHS) - 1):
            layers.append(nn.Linear(WIDTHS[i], WIDTHS[i + 1]))
            if i + 2 < len(WIDTHS):
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    print("torch_mlp: %s, torch %s, %d intra-op thread(s), OPENBLAS_NUM_THREADS=%s, "
          "batch %d, %d steps" % (args.model, torch.__version__, torch.get_num_threads(),
                                  os.environ["OPENBLAS_NUM_THREADS"], args.batch,
                                  args.steps), file=sys.stderr)

    order = torch.randperm(SAMPLES, generator=gen)
    pos = 0
    # Besides the mean, the fastest window of `window` steps (stderr only),
    # as mlp-bench.c does: the better estimate on a shared machine.
    window = args.steps // 20 if args.steps >= 20 else 1
    start = cpu_start = win_start = 0.0
    best_win = None
    loss = None
    for s in range(WARMUP + args.steps):
        if s == WARMUP:
            start = win_start = time.perf_counter()
            cpu_start = time.process_time()
        if pos + args.batch > SAMPLES:      # next epoch, drop the last partial batch
            order = torch.randperm(SAMPLES, generator=gen)
            pos = 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        xb = data.index_select(0, idx)
        yb = labels.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        done = s + 1 - WARMUP
        if done > 0 and done % window == 0:
            t = time.perf_counter()
            if best_win is None or t - win_start < best_win:
                best_win = t - win_start
            win_start = t
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    sps = args.steps * args.batch / elapsed
    print("torch_mlp: %.3f s (cpu %.3f s), best_samples_per_s=%.1f, last loss %.4f"
          % (elapsed, cpu, window * args.batch / best_win, loss.item()), file=sys.stderr)
    print("samples_per_s=%.1f gflops=%.2f" % (sps, sps * flops_per_sample(args.model == "cnn")
                                              * 1e-9))

if __name__ == "__main__":
    main()
