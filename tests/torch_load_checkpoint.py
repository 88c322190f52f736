#!/usr/bin/env python3
"""torch_load_checkpoint.py - load an nntop checkpoint into PyTorch.

Builds the nn.Sequential that nntop's layer list describes, reads the
safetensors file by hand (8-byte little-endian header length, JSON header,
raw little-endian data: the safetensors package is not needed), and loads
the model tensors with load_state_dict(strict=True).  Tensors under
"optim." (optimizer state) are not part of the torch model and are skipped.

With --x (and --y or --targets) it evaluates the loss on that batch and
prints it; with --expect-loss it also compares.  It does not train, and it
does not know nntop's YAML config: the layer list is given on the command
line.

    torch_load_checkpoint.py CKPT --in 2 --layers dense:100,relu,dense:3 \
        [--x x.npy|x.bin --y y.npy|y.bin | --targets t.npy|t.bin] \
        [--loss ce|mse] [--mode eval|train] [--expect-loss V [--rtol R]]

Layers: dense:N, relu, leaky_relu[:slope], tanh, sigmoid, dropout[:p],
batchnorm.  .bin files are raw little-endian float32 (x, targets) or int32
(labels).  Exit status: 0 success, 1 loss mismatch, 2 bad input.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
    "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}


class Fail(Exception):
    pass


def read_safetensors(path):
    """Return ({name: numpy array}, metadata dict) from a safetensors file."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise Fail("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise Fail("%s: header length %d is larger than the file" % (path, n))
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = memoryview(buf)[8 + n:]
    tensors = {}
    for name, e in header.items():
        if e["dtype"] not in DTYPES:
            raise Fail("%s: tensor %r has dtype %s" % (path, name, e["dtype"]))
        dt = np.dtype(DTYPES[e["dtype"]])
        begin, end = e["data_offsets"]
        shape = tuple(e["shape"])
        count = int(np.prod(shape)) if shape else 1
        if end > len(data) or end - begin != count * dt.itemsize:
            raise Fail("%s: tensor %r has bad data_offsets" % (path, name))
        arr = np.frombuffer(data[begin:end], dtype=dt, count=count).reshape(shape)
        tensors[name] = arr.astype(dt.newbyteorder("="), copy=True)
    return tensors, meta


def build_model(width, layers):
    mods = []
    for spec in layers.split(","):
        kind, _, arg = spec.strip().partition(":")
        if kind == "dense":
            out = int(arg)
            mods.append(torch.nn.Linear(width, out))
            width = out
        elif kind == "relu":
            mods.append(torch.nn.ReLU())
        elif kind == "leaky_relu":
            mods.append(torch.nn.LeakyReLU(float(arg) if arg else 0.01))
        elif kind == "tanh":
            mods.append(torch.nn.Tanh())
        elif kind == "sigmoid":
            mods.append(torch.nn.Sigmoid())
        elif kind == "dropout":
            mods.append(torch.nn.Dropout(float(arg) if arg else 0.5))
        elif kind == "batchnorm":
            mods.append(torch.nn.BatchNorm1d(width))
        else:
            raise Fail("unknown layer %r" % spec)
    return torch.nn.Sequential(*mods), width


def load_array(path, dtype, width=None):
    if path.endswith(".npy"):
        arr = np.load(path)
    else:
        arr = np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<"))
        if width is not None:
            arr = arr.reshape(-1, width)
    return arr


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--in", dest="width", type=int, required=True, help="input width")
    ap.add_argument("--layers", required=True, help="e.g. dense:100,relu,dense:3")
    ap.add_argument("--x", help="inputs (B, in): .npy or raw float32 .bin")
    ap.add_argument("--y", help="integer labels (B): .npy or raw int32 .bin")
    ap.add_argument("--targets", help="regression targets (B, out): .npy or raw float32 .bin")
    ap.add_argument("--loss", choices=["ce", "mse"], default="ce")
    ap.add_argument("--mode", choices=["eval", "train"], default="eval")
    ap.add_argument("--expect-loss", type=float)
    ap.add_argument("--rtol", type=float, default=1e-5)
    args = ap.parse_args(argv)

    try:
        model, out = build_model(args.width, args.layers)
        tensors, meta = read_safetensors(args.checkpoint)
        state = {k: torch.from_numpy(v) for k, v in tensors.items()
                 if not k.startswith("optim.")}
        model.load_state_dict(state, strict=True)
    except (Fail, RuntimeError, ValueError, KeyError, OSError) as e:
        print("torch_load_checkpoint: %s" % e, file=sys.stderr)
        return 2

    if args.x is None:
        print("ok: %d tensors loaded (step %s)" % (len(state), meta.get("step", "?")))
        return 0

    model.train(args.mode == "train")
    x = torch.from_numpy(load_array(args.x, np.float32, args.width).astype(np.float32))
    with torch.no_grad():
        y = model(x)
        if args.targets is not None:
            t = torch.from_numpy(load_array(args.targets, np.float32, out).astype(np.float32))
            loss = F.mse_loss(y, t)
        else:
            if args.y is None:
                print("torch_load_checkpoint: --x needs --y or --targets", file=sys.stderr)
                return 2
            labels = torch.from_numpy(load_array(args.y, np.int32).astype(np.int64))
            if args.loss == "ce":
                loss = F.cross_entropy(y, labels)
            else:
                loss = F.mse_loss(y, F.one_hot(labels, out).to(y.dtype))
    value = float(loss)
    print("loss %.9g" % value)
    if args.expect_loss is not None:
        if not np.isclose(value, args.expect_loss, rtol=args.rtol, atol=0.0):
            print("torch_load_checkpoint: loss %.9g, expected %.9g (rtol %g)"
                  % (value, args.expect_loss, args.rtol), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
