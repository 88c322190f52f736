#!/usr/bin/python3
"""nntop_load.py - an nntop checkpoint as a PyTorch model.

    from nntop_load import load
    model, preprocess = load("runs/.../checkpoint-4000.safetensors")
    logits = model(preprocess(raw_inputs))

load() reads the safetensors file by hand (8-byte little-endian header
length, JSON header, raw little-endian data: the safetensors package is
not needed), builds the nn.Sequential described by the "model" entry of
its metadata (the layer list, with the input shape), loads the tensors with
load_state_dict(strict=True), and returns the model in eval mode together
with preprocess(x): raw features (N, D) or images (N, C, H, W), as the data
files hold them, to the normalised float32 input the model was trained on
(the per-feature x * scale + shift in the "normalize" metadata entry, the
training split's statistics), shaped as the model takes it.

Only the standard library and torch.  The optimizer's state is in the
optim-<step>.safetensors file beside the checkpoint; this loader ignores it.

As a program it evaluates a checkpoint on a data set and prints the mean
loss and accuracy, which is how the test suite compares it with nntop's:

    nntop_load.py CKPT --idx IMAGES LABELS     # IDX files, .gz or not
    nntop_load.py CKPT --csv FILE [--label-col K] [--header]

Exit status: 0 on success, 2 on bad input.
"""
import argparse
import gzip
import json
import struct
import sys

import torch
from torch import nn

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8)}


class LoadError(Exception):
    pass


def read_safetensors(path):
    """({name: tensor}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise LoadError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise LoadError("%s: header length %d is larger than the file" % (path, n))
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = buf[8 + n:]
    tensors = {}
    for name, e in header.items():
        if e["dtype"] not in DTYPES:
            raise LoadError("%s: tensor %r has dtype %s" % (path, name, e["dtype"]))
        dtype, size = DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        shape = list(e["shape"])
        count = 1
        for s in shape:
            count *= s
        if end > len(data) or end - begin != count * size:
            raise LoadError("%s: tensor %r has bad data_offsets" % (path, name))
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if count else \
            torch.zeros(0, dtype=dtype)
        if sys.byteorder != "little":
            t = t.byteswap() if hasattr(t, "byteswap") else t
        tensors[name] = t.reshape(shape).clone()
    return tensors, meta


def build(model_desc):
    """The nn.Sequential of a "model" metadata entry."""
    shape = list(model_desc["input"])
    c = shape[0] if len(shape) == 3 else None
    width = 1
    for s in shape:
        width *= s
    mods = []
    for l in model_desc["layers"]:
        k = l["kind"]
        if k == "dense":
            mods.append(nn.Linear(l["in"], l["out"]))
        elif k == "conv2d":
            mods.append(nn.Conv2d(l["in_channels"], l["out"], l["kernel"], stride=l["stride"],
                                  padding=l["padding"], bias=l["bias"]))
        elif k == "maxpool2d":
            mods.append(nn.MaxPool2d(l["kernel"], stride=l["stride"], padding=l["padding"]))
        elif k == "avgpool2d":
            mods.append(nn.AvgPool2d(l["kernel"], stride=l["stride"], padding=l["padding"]))
        elif k == "global_avgpool":
            mods.append(nn.AdaptiveAvgPool2d(1))
        elif k == "flatten":
            mods.append(nn.Flatten())
        elif k == "relu":
            mods.append(nn.ReLU())
        elif k == "leaky_relu":
            mods.append(nn.LeakyReLU(l["arg"]))
        elif k == "tanh":
            mods.append(nn.Tanh())
        elif k == "sigmoid":
            mods.append(nn.Sigmoid())
        elif k == "dropout":
            mods.append(nn.Dropout(l["arg"]))
        elif k == "dropout2d":
            mods.append(nn.Dropout2d(l["arg"]))
        elif k == "batchnorm":
            mods.append(nn.BatchNorm1d(l["features"]))
        elif k == "batchnorm2d":
            mods.append(nn.BatchNorm2d(l["features"]))
        else:
            raise LoadError("unknown layer kind %r" % k)
    return nn.Sequential(*mods)


def load(path):
    """(model in eval mode, preprocess) of an nntop checkpoint; see the module comment."""
    tensors, meta = read_safetensors(path)
    if "model" not in meta:
        raise LoadError("%s: no \"model\" in the metadata (a checkpoint from an older nntop?)"
                        % path)
    desc = json.loads(meta["model"])
    model = build(desc)
    state = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    model.load_state_dict(state, strict=True)
    model.eval()
    norm = json.loads(meta.get("normalize", "null"))
    shape = list(desc["input"])
    width = 1
    for s in shape:
        width *= s
    scale = shift = None
    if norm is not None and norm.get("scale") is not None:
        scale = torch.tensor(norm["scale"], dtype=torch.float32)
        shift = torch.tensor(norm["shift"], dtype=torch.float32)

    def preprocess(x):
        x = torch.as_tensor(x).to(torch.float32).reshape(-1, width)
        if scale is not None:
            x = x * scale + shift
        return x.reshape([-1] + shape)

    return model, preprocess


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    magic, = struct.unpack(">I", buf[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, buf[4:4 + 4 * ndim])
    data = torch.frombuffer(bytearray(buf[4 + 4 * ndim:]), dtype=torch.uint8)
    return data.reshape(dims)


def read_csv(path, label_col, header):
    xs, ys = [], []
    with open(path) as f:
        lines = f.read().splitlines()
    if header:
        lines = lines[1:]
    for line in lines:
        if not line.strip():
            continue
        cells = [float(c) for c in line.split(",")]
        ys.append(int(cells.pop(label_col)))
        xs.append(cells)
    return torch.tensor(xs, dtype=torch.float64), torch.tensor(ys)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--idx", nargs=2, metavar=("IMAGES", "LABELS"))
    p.add_argument("--csv")
    p.add_argument("--label-col", type=int, default=-1)
    p.add_argument("--header", action="store_true")
    a = p.parse_args()
    try:
        model, preprocess = load(a.checkpoint)
        if a.idx:
            x = read_idx(a.idx[0])
            y = read_idx(a.idx[1]).to(torch.int64)
            x = x.reshape(x.shape[0], -1).to(torch.float32)
        elif a.csv:
            x, y = read_csv(a.csv, a.label_col, a.header)
        else:
            raise LoadError("give --idx IMAGES LABELS or --csv FILE")
    except (LoadError, OSError, ValueError, KeyError, RuntimeError) as e:
        print("nntop_load: %s" % e, file=sys.stderr)
        return 2
    with torch.no_grad():
        total, correct, n = 0.0, 0, x.shape[0]
        for i in range(0, n, 1000):
            logits = model(preprocess(x[i:i + 1000]))
            yb = y[i:i + 1000]
            total += nn.functional.cross_entropy(logits.double(), yb, reduction="sum").item()
            correct += int((logits.argmax(1) == yb).sum())
    print("loss %.9g accuracy %.6f n %d" % (total / n, correct / n, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
