#!/usr/bin/python3
"""gen_conv_ref.py - write tests/data/conv_ref.txt, the PyTorch reference
numbers tests/check_nn.c compares nntop's image layers against: for each
small model, the same weights and batch give the same logits, loss,
parameter gradients and input gradient, and 20 Adam steps on that batch
give the same parameters (and batch-norm running statistics).

Run with a Python that has torch 1.13 (Debian's python3-torch):
    /usr/bin/python3 tests/gen_conv_ref.py > tests/data/conv_ref.txt
Everything is seeded, so a rerun writes the same file byte for byte.
It does not test anything itself; the C suite does.

Format (one record per line, fields separated by single spaces; float32
values printed with %.9g, exact round trips):
    nntop-conv-ref 1
    # comment lines
    model NAME C H W B NLAYERS LR STEPS
    layer conv2d OUT K STRIDE PAD BIAS      BIAS 0 or 1
    layer maxpool2d K STRIDE PAD | avgpool2d K STRIDE PAD
    layer relu | tanh | flatten | global_avgpool | batchnorm2d
    layer dense OUT
      (NLAYERS layer lines, in order: nn.Sequential's indices)
    params N P_1 .. P_N        every trainable tensor in state_dict order, flat
    input N X_1 .. X_N         (B, C, H, W)
    labels B L_1 .. L_B
    logits N ..                forward in training mode
    loss LOSS                  mean cross-entropy
    grads N ..                 d loss / d params, same order as params
    dx N ..                    d loss / d input
    after N ..                 params after STEPS Adam steps on the batch
    state N ..                 running_mean, running_var of each batchnorm2d after them
"""

import torch
import torch.nn as nn

MAGIC = "nntop-conv-ref 1"


def f32(x):
    return "%.9g" % float(x)


def vec(t):
    return " ".join(f32(x) for x in t.reshape(-1).tolist())


def build(layers, c):
    mods = []
    for spec in layers:
        kind = spec[0]
        if kind == "conv2d":
            _, out, k, s, p, bias = spec
            mods.append(nn.Conv2d(c, out, k, stride=s, padding=p, bias=bool(bias)))
            c = out
        elif kind == "maxpool2d":
            mods.append(nn.MaxPool2d(spec[1], stride=spec[2], padding=spec[3]))
        elif kind == "avgpool2d":
            mods.append(nn.AvgPool2d(spec[1], stride=spec[2], padding=spec[3]))
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "tanh":
            mods.append(nn.Tanh())
        elif kind == "flatten":
            mods.append(nn.Flatten())
        elif kind == "global_avgpool":
            mods.append(nn.AdaptiveAvgPool2d(1))
        elif kind == "batchnorm2d":
            mods.append(nn.BatchNorm2d(c))
        elif kind == "dense":
            mods.append(nn.LazyLinear(spec[1]))
        else:
            raise ValueError(kind)
    return nn.Sequential(*mods)


def case(out, name, shape, batch, layers, lr=1e-2, steps=20, seed=1):
    torch.manual_seed(seed)
    c, h, w = shape
    model = build(layers, c)
    x = torch.randn(batch, c, h, w)
    labels = torch.randint(0, 3, (batch,))
    model(x)                    # materialise the lazy dense layers
    torch.manual_seed(seed + 100)
    # Non-default batch-norm affine parameters, so their gradients matter.
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    init = [p.detach().clone() for p in model.parameters()]
    model.train()

    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]

    # Undo the batch-norm statistics that forward moved: the C side
    # starts its optimiser run from the initial state too.
    for m in model:
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=False)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), labels).backward()
        opt.step()

    flat = lambda ts: torch.cat([t.reshape(-1) for t in ts])
    out.append("model %s %d %d %d %d %d %s %d" % (name, c, h, w, batch, len(layers),
                                                 f32(lr), steps))
    for spec in layers:
        out.append("layer " + " ".join(str(v) for v in spec))
    p0 = flat(init)
    out.append("params %d %s" % (p0.numel(), vec(p0)))
    out.append("input %d %s" % (x.numel(), vec(x)))
    out.append("labels %d %s" % (batch, " ".join(str(int(v)) for v in labels)))
    out.append("logits %d %s" % (logits.numel(), vec(logits.detach())))
    out.append("loss %s" % f32(loss.item()))
    g = flat(grads)
    out.append("grads %d %s" % (g.numel(), vec(g)))
    out.append("dx %d %s" % (xg.grad.numel(), vec(xg.grad)))
    p1 = flat([p.detach() for p in model.parameters()])
    out.append("after %d %s" % (p1.numel(), vec(p1)))
    st = [t for m in model if isinstance(m, nn.BatchNorm2d)
          for t in (m.running_mean, m.running_var)]
    s = flat(st) if st else torch.zeros(0)
    out.append("state %d %s" % (s.numel(), vec(s)))


def main():
    torch.set_num_threads(1)
    out = [MAGIC, "# PyTorch reference numbers for tests/check_nn.c's image layers.",
           "# Produced by tests/gen_conv_ref.py (torch %s); do not edit." % torch.__version__]
    case(out, "conv_relu_maxpool", (1, 8, 8), 4,
         [("conv2d", 4, 3, 1, 1, 1), ("relu",), ("maxpool2d", 2, 2, 0),
          ("flatten",), ("dense", 3)], seed=1)
    case(out, "conv_stride_nobias_avgpool", (2, 9, 9), 3,
         [("conv2d", 3, 3, 2, 1, 0), ("tanh",), ("avgpool2d", 3, 1, 1),
          ("conv2d", 5, 2, 1, 0, 1), ("relu",), ("flatten",), ("dense", 3)], seed=2)
    # The conv before the batch norm has no bias, as usual: that bias has a
    # true gradient of 0, and Adam turns either side's rounding noise in it
    # into steps of lr, so it could never agree.
    case(out, "conv_bn_gap", (3, 6, 6), 5,
         [("conv2d", 4, 3, 1, 1, 0), ("batchnorm2d",), ("relu",),
          ("maxpool2d", 3, 2, 1), ("conv2d", 6, 1, 1, 0, 1), ("global_avgpool",),
          ("flatten",), ("dense", 3)], seed=3)
    case(out, "lenet_like", (1, 12, 12), 4,
         [("conv2d", 6, 5, 1, 2, 1), ("relu",), ("maxpool2d", 2, 2, 0),
          ("conv2d", 8, 3, 1, 0, 1), ("relu",), ("maxpool2d", 2, 2, 0),
          ("flatten",), ("dense", 10), ("relu",), ("dense", 3)], lr=3e-3, seed=4)
    print("\n".join(out))


if __name__ == "__main__":
    main()
