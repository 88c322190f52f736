#!/usr/bin/python3
"""torch_fashion.py - the plain PyTorch twin of `nntop -H configs/fashion-mnist.yaml`.

The same run, written as a PyTorch user would: Fashion-MNIST from the same
gzipped IDX files, pixels / 255, a seeded 10 % validation split held out of
the 60,000 training images, a 784-256-128-10 ReLU MLP with nn.Linear's
default init, softmax cross-entropy, Adam (lr 1e-3) on a per-step cosine
schedule decaying to 0 over the run, batch 128 (the last batch of an epoch
partial), 15 epochs, validation accuracy after every epoch and test
accuracy at the end.  It prints one line:

    test_acc=<percent> steps=<int> train_s=<float>

Wall time from exec to exit and peak RSS are measured from outside
(bench/run-bench.sh, with /usr/bin/time).  Options: --threads N (OpenBLAS
threads, as bench/torch_mlp.py: torch's own intra-op pool stays at 1, its
best 2-core setting for this model), --epochs E.  A program, not a test.
bench/torch-logger-overhead.py imports its loading and its model (load,
mlp), so that both benchmarks train the same thing.
"""

import argparse
import gzip
import math
import os
import sys
import time

DATA = "/usr/share/datasets/fashion-mnist"
TRAIN = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--data", default=DATA)
    return p.parse_args()


def read_idx(path, np):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, files, np, torch):
    """The images of files (images, labels) in data as (N, 784) float32
    pixels / 255, and their labels as int64."""
    x = read_idx(os.path.join(data, files[0]), np)
    y = read_idx(os.path.join(data, files[1]), np)
    x = torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255.0)
    return x, torch.from_numpy(y.astype(np.int64))


def mlp(nn):
    """The 784-256-128-10 ReLU MLP, nn.Linear's default init."""
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def main():
    args = parse_args()
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = "1"
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(42)
    gen = torch.Generator().manual_seed(42)

    x_all, y_all = load(args.data, TRAIN, np, torch)
    x_test, y_test = load(args.data, TEST, np, torch)
    perm = torch.randperm(len(x_all), generator=gen)
    n_val = int(round(0.1 * len(x_all)))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    x_train, y_train = x_all[train_idx], y_all[train_idx]
    x_val, y_val = x_all[val_idx], y_all[val_idx]

    model = mlp(nn)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps_per_epoch = math.ceil(len(x_train) / args.batch)
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=0.0)

    def accuracy(x, y):
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(x), 1000):
                correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
        model.train()
        return 100.0 * correct / len(x)

    start = time.perf_counter()
    step = 0
    for epoch in range(args.epochs):
        order = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(x_train), args.batch):
            idx = order[i:i + args.batch]
            xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
        print("epoch %d: loss %.4f, val acc %.2f%%" % (epoch + 1, loss.item(),
                                                     accuracy(x_val, y_val)), file=sys.stderr)
    train_s = time.perf_counter() - start
    print("test_acc=%.2f steps=%d train_s=%.2f" % (accuracy(x_test, y_test), step, train_s))


if __name__ == "__main__":
    main()
