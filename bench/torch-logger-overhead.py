#!/usr/bin/python3
"""torch-logger-overhead.py - what contrib/python/nntop_torch.py costs a PyTorch loop.

The Fashion-MNIST MLP of bench/torch_fashion.py (784-256-128-10 ReLU,
nn.Linear's default init, softmax cross-entropy, Adam lr 1e-3, batch 128)
trained in plain PyTorch, once as is and once with a nntop_torch Run
(telemetry every N steps, default the logger's own default 10; metrics
every step, layer statistics and histograms at each snapshot, the control
socket served between steps).  The two loops run in one process on two
models of the same shape, in alternating segments of --steps updates
(--pairs of them), so that the shared machine's noise falls on both alike.
It prints the step time of each segment and then one line:

    plain_ms=<median> logged_ms=<median> overhead=<percent> (pairs P, every N)

where overhead = logged / plain - 1 over the medians.  Options: --every N,
--steps S, --pairs P, --threads T (torch's intra-op threads, default 1),
--data DIR.  A program, not a test: it asserts nothing.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_fashion import DATA, TRAIN, load, mlp  # noqa: E402  (the same data and model)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--every", type=int, default=None, help="telemetry every N steps (logger default)")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--data", default=DATA)
    return p.parse_args()


def main():
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import numpy as np
    import torch
    from torch import nn
    sys.path.insert(0, os.path.join(HERE, "..", "contrib", "python"))
    from nntop_torch import Run

    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    x, y = load(args.data, TRAIN, np, torch)
    n = len(x)

    loss_fn = nn.CrossEntropyLoss()
    plain_model = mlp(nn)
    plain_opt = torch.optim.Adam(plain_model.parameters(), lr=1e-3)
    logged_model = mlp(nn)
    logged_opt = torch.optim.Adam(logged_model.parameters(), lr=1e-3)
    tmp = tempfile.TemporaryDirectory(prefix="nntop-torch-bench-")
    kw = {} if args.every is None else {"every": args.every}
    run = Run(logged_model, logged_opt, run_dir=tmp.name, name="fashion-mlp-bench",
              train_n=n, steps_per_epoch=(n + args.batch - 1) // args.batch, **kw)
    every = run.every
    pos = {"plain": 0, "logged": 0}

    def segment(which):
        model, opt = (plain_model, plain_opt) if which == "plain" else (logged_model, logged_opt)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            i = pos[which]
            xb, yb = x[i:i + args.batch], y[i:i + args.batch]
            pos[which] = (i + args.batch) % (n - args.batch)
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            if which == "logged":
                run.step(loss, out, yb)
            opt.step()
            opt.zero_grad()
        return (time.perf_counter() - t0) / args.steps * 1e3

    segment("plain")            # warm both up (allocator, threads, first snapshot)
    segment("logged")
    plain, logged = [], []
    for p in range(args.pairs):
        order = ("plain", "logged") if p % 2 == 0 else ("logged", "plain")
        for which in order:
            ms = segment(which)
            (plain if which == "plain" else logged).append(ms)
            print("pair %d %-6s %.3f ms/step" % (p + 1, which, ms), flush=True)
    run.close()
    tmp.cleanup()
    pm, lm = statistics.median(plain), statistics.median(logged)
    print("plain_ms=%.3f logged_ms=%.3f overhead=%.1f%% (pairs %d, every %d, %d steps a segment)"
          % (pm, lm, (lm / pm - 1.0) * 100.0, args.pairs, every, args.steps))


if __name__ == "__main__":
    main()
