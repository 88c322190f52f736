#!/usr/bin/python3
"""gen_optim_ref.py - write tests/data/optim_ref.txt, the PyTorch reference
numbers tests/check_optim.c compares nntop's optimizers, clipping,
schedules and L2 penalty against.

Run with a Python that has torch 1.13 (Debian's python3-torch):
    /usr/bin/python3 tests/gen_optim_ref.py > tests/data/optim_ref.txt
Everything is seeded, so a rerun writes the same file byte for byte.
It does not test anything itself; the C suite does.

Format (one record per line, fields separated by single spaces; float32
values printed with %.9g and doubles with %.17g, both exact round trips):
    nntop-optim-ref 1
    # comment lines
    optim NAME KIND NESTEROV N NSTEPS          KIND: sgd adam adamw
    params P_1 .. P_N                          starting parameters
    step LR MOMENTUM WEIGHT_DECAY BETA1 BETA2 EPS   group values for this step
    grad G_1 .. G_N
    expect P_1 .. P_N                          parameters after the step
      (step/grad/expect repeated NSTEPS times)
    clip NAME KIND VALUE N                     KIND: none norm value
    grad G_1 .. G_N
    norm NORM_F64 NORM_TORCH                   double L2 norm; torch's float32 one
    clipped 0|1
    expect G_1 .. G_N                          gradients after clipping
    sched NAME KIND LR WARMUP STEP_SIZE GAMMA MIN_LR TOTAL_STEPS COUNT
    lr LR_0 .. LR_COUNT-1                      lr used by optimizer step s
    l2 NAME KIND WEIGHT_DECAY N PENALTY
    params P_1 .. P_N
"""

import math
import sys
import warnings

import torch

MAGIC = "nntop-optim-ref 1"
N = 13          # parameters per optimizer case
NSTEPS = 5      # steps per optimizer case (live cases use more)


def f32(x):
    """A float32 value, printed so that strtof() recovers it exactly."""
    return "%.9g" % float(x)


def f64(x):
    return "%.17g" % float(x)


def vec(t):
    return " ".join(f32(x) for x in t.tolist())


def start_params():
    g = torch.Generator().manual_seed(1)
    return torch.randn(N, generator=g, dtype=torch.float32)


def grad_sequence(seed, nsteps):
    """nsteps gradients of mixed scale; the last entry is tiny so that
    Adam's eps matters, the one before is exactly zero."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([1.0, 0.5, 2.0, 0.1, 1.0, 3.0, 0.01, 1.0, 0.3,
                          1.0, 5.0, 1.0, 1e-7], dtype=torch.float32)
    out = []
    for _ in range(nsteps):
        x = torch.randn(N, generator=g, dtype=torch.float32) * scale
        x[11] = 0.0
        out.append(x)
    return out


def optim_case(out, name, kind, steps, nesterov=False, seed=7):
    """steps: list of dicts with lr, momentum, wd, beta1, beta2, eps."""
    p = torch.nn.Parameter(start_params())
    s0 = steps[0]
    if kind == "sgd":
        opt = torch.optim.SGD([p], lr=s0["lr"], momentum=s0["momentum"],
                              nesterov=nesterov, weight_decay=s0["wd"],
                              foreach=False)
    elif kind == "adam":
        opt = torch.optim.Adam([p], lr=s0["lr"], betas=(s0["beta1"], s0["beta2"]),
                               eps=s0["eps"], weight_decay=s0["wd"], foreach=False)
    elif kind == "adamw":
        opt = torch.optim.AdamW([p], lr=s0["lr"], betas=(s0["beta1"], s0["beta2"]),
                                eps=s0["eps"], weight_decay=s0["wd"], foreach=False)
    else:
        raise ValueError(kind)
    grads = grad_sequence(seed, len(steps))
    out.append("optim %s %s %d %d %d" % (name, kind, int(nesterov), N, len(steps)))
    out.append("params " + vec(p.detach()))
    for st, g in zip(steps, grads):
        grp = opt.param_groups[0]
        grp["lr"] = st["lr"]
        grp["weight_decay"] = st["wd"]
        if kind == "sgd":
            grp["momentum"] = st["momentum"]
        else:
            grp["betas"] = (st["beta1"], st["beta2"])
            grp["eps"] = st["eps"]
        p.grad = g.clone()
        opt.step()
        out.append("step %s %s %s %s %s %s" % (f64(st["lr"]), f64(st["momentum"]),
                                               f64(st["wd"]), f64(st["beta1"]),
                                               f64(st["beta2"]), f64(st["eps"])))
        out.append("grad " + vec(g))
        out.append("expect " + vec(p.detach()))


def steps_of(n, lr, momentum=0.0, wd=0.0, beta1=0.9, beta2=0.999, eps=1e-8):
    return [dict(lr=lr, momentum=momentum, wd=wd, beta1=beta1, beta2=beta2, eps=eps)
            for _ in range(n)]


def live(base, **changes):
    """base steps with per-step overrides: changes maps a key to a list."""
    steps = [dict(s) for s in base]
    for key, values in changes.items():
        for s, v in zip(steps, values):
            s[key] = v
    return steps


def all_optim_cases(out):
    optim_case(out, "sgd_plain", "sgd", steps_of(NSTEPS, 0.1))
    optim_case(out, "sgd_plain_lr3e-3", "sgd", steps_of(NSTEPS, 3e-3), seed=8)
    optim_case(out, "sgd_momentum", "sgd", steps_of(NSTEPS, 0.05, momentum=0.9))
    optim_case(out, "sgd_momentum_lr0.3", "sgd", steps_of(NSTEPS, 0.3, momentum=0.5), seed=9)
    optim_case(out, "sgd_nesterov", "sgd", steps_of(NSTEPS, 0.05, momentum=0.9), nesterov=True)
    optim_case(out, "sgd_wd", "sgd", steps_of(NSTEPS, 0.1, wd=0.01))
    optim_case(out, "sgd_momentum_wd", "sgd", steps_of(NSTEPS, 0.1, momentum=0.9, wd=5e-4))
    optim_case(out, "sgd_nesterov_wd", "sgd", steps_of(NSTEPS, 0.02, momentum=0.95, wd=0.1),
               nesterov=True, seed=10)
    # weight decay as large as the gradient, so that rounding wd * p on its
    # own (torch fuses it into the add) would show
    optim_case(out, "sgd_wd_large", "sgd", steps_of(NSTEPS, 0.1, wd=0.7), seed=18)
    optim_case(out, "adam", "adam", steps_of(NSTEPS, 1e-3))
    optim_case(out, "adam_lr3e-2", "adam",
               steps_of(NSTEPS, 3e-2, beta1=0.8, beta2=0.99, eps=1e-6), seed=11)
    optim_case(out, "adam_wd", "adam", steps_of(NSTEPS, 1e-2, wd=0.05))
    optim_case(out, "adam_wd_large", "adam", steps_of(NSTEPS, 1e-2, wd=0.9), seed=19)
    optim_case(out, "adamw", "adamw", steps_of(NSTEPS, 1e-3, wd=1e-2))
    optim_case(out, "adamw_lr5e-2", "adamw", steps_of(NSTEPS, 5e-2, wd=0.1), seed=12)
    optim_case(out, "adamw_nowd", "adamw", steps_of(NSTEPS, 1e-2, wd=0.0), seed=13)
    # Live edits of param_groups between steps, as the trainer makes them.
    optim_case(out, "sgd_live_momentum", "sgd",
               live(steps_of(7, 0.05, momentum=0.9),
                    momentum=[0.9, 0.9, 0.5, 0.0, 0.0, 0.9, 0.99],
                    lr=[0.05, 0.05, 0.1, 0.1, 0.02, 0.05, 0.05]))
    optim_case(out, "sgd_live_from_zero", "sgd",
               live(steps_of(6, 0.1),
                    momentum=[0.0, 0.0, 0.9, 0.9, 0.3, 0.0],
                    wd=[0.0, 0.01, 0.01, 0.0, 0.0, 0.1]), seed=14)
    optim_case(out, "sgd_live_nesterov", "sgd",
               live(steps_of(6, 0.05, momentum=0.9),
                    momentum=[0.9, 0.9, 0.0, 0.9, 0.5, 0.5]), nesterov=True, seed=15)
    optim_case(out, "adam_live", "adam",
               live(steps_of(7, 1e-2),
                    lr=[1e-2, 1e-2, 5e-3, 5e-3, 2e-2, 1e-3, 1e-2],
                    wd=[0.0, 0.0, 0.01, 0.01, 0.0, 0.1, 0.0],
                    beta1=[0.9, 0.9, 0.9, 0.5, 0.5, 0.9, 0.9],
                    beta2=[0.999, 0.999, 0.99, 0.99, 0.999, 0.999, 0.9],
                    eps=[1e-8, 1e-8, 1e-8, 1e-6, 1e-6, 1e-8, 1e-8]), seed=16)
    optim_case(out, "adamw_live", "adamw",
               live(steps_of(6, 1e-2, wd=0.01),
                    lr=[1e-2, 2e-2, 2e-2, 5e-3, 5e-3, 1e-2],
                    wd=[0.01, 0.01, 0.0, 0.2, 0.2, 0.01]), seed=17)


def clip_case(out, name, kind, value, seed, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    grad = torch.randn(N, generator=g, dtype=torch.float32) * scale
    p = torch.nn.Parameter(torch.zeros(N))
    p.grad = grad.clone()
    norm64 = torch.linalg.vector_norm(grad.double()).item()
    if kind == "norm":
        norm32 = torch.nn.utils.clip_grad_norm_([p], max_norm=value).item()
        coef = value / (norm32 + 1e-6)
        clipped = coef < 1.0
    elif kind == "value":
        norm32 = torch.linalg.vector_norm(grad).item()
        torch.nn.utils.clip_grad_value_([p], clip_value=value)
        clipped = not torch.equal(p.grad, grad)
    else:
        norm32 = torch.linalg.vector_norm(grad).item()
        clipped = False
    out.append("clip %s %s %s %d" % (name, kind, f64(value), N))
    out.append("grad " + vec(grad))
    out.append("norm %s %s" % (f64(norm64), f64(norm32)))
    out.append("clipped %d" % int(clipped))
    out.append("expect " + vec(p.grad))


def all_clip_cases(out):
    clip_case(out, "norm_acting", "norm", 1.0, 21)
    clip_case(out, "norm_acting_small", "norm", 0.05, 22, scale=0.3)
    clip_case(out, "norm_not_acting", "norm", 100.0, 23)
    # the same gradients (norm 5.993) just below and just above the bound
    clip_case(out, "norm_barely_acting", "norm", 5.99, 23)
    clip_case(out, "norm_barely_not_acting", "norm", 6.0, 23)
    clip_case(out, "value_acting", "value", 0.5, 24)
    clip_case(out, "value_not_acting", "value", 10.0, 25)
    clip_case(out, "none", "none", 0.0, 26)


def sched_case(out, name, kind, lr, warmup=0, step_size=0, gamma=0.0, min_lr=0.0,
               total=0, count=31):
    lrs_sched = torch.optim.lr_scheduler
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    if kind == "constant":
        main = lrs_sched.LambdaLR(opt, lambda e: 1.0)
    elif kind == "step":
        main = lrs_sched.StepLR(opt, step_size=step_size, gamma=gamma)
    elif kind == "exp":
        main = lrs_sched.ExponentialLR(opt, gamma=gamma)
    elif kind == "cosine":
        main = lrs_sched.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=min_lr)
    else:
        raise ValueError(kind)
    if warmup > 0:
        first = lrs_sched.LinearLR(opt, start_factor=1.0 / warmup, end_factor=1.0,
                                   total_iters=warmup)
        sched = lrs_sched.SequentialLR(opt, [first, main], milestones=[warmup])
    else:
        sched = main
    lrs = []
    for _ in range(count):
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        opt.step()
        sched.step()
    out.append("sched %s %s %s %d %d %s %s %d %d" % (name, kind, f64(lr), warmup, step_size,
                                                     f64(gamma), f64(min_lr), total, count))
    out.append("lr " + " ".join(f64(x) for x in lrs))


def all_sched_cases(out):
    # cosine runs end at s = total_steps = 30, the last value recorded:
    # torch's CosineAnnealingLR climbs again after T_max, nntop holds min_lr.
    sched_case(out, "constant", "constant", 0.1)
    sched_case(out, "constant_warm5", "constant", 0.1, warmup=5)
    sched_case(out, "step", "step", 0.1, step_size=7, gamma=0.5)
    sched_case(out, "step_warm5", "step", 0.3, warmup=5, step_size=4, gamma=0.3)
    sched_case(out, "exp", "exp", 0.1, gamma=0.9)
    sched_case(out, "exp_warm3", "exp", 0.05, warmup=3, gamma=0.95)
    sched_case(out, "cosine", "cosine", 0.1, total=30)
    sched_case(out, "cosine_min", "cosine", 0.1, min_lr=1e-3, total=30)
    sched_case(out, "cosine_warm5", "cosine", 0.1, warmup=5, min_lr=1e-3, total=30)
    sched_case(out, "cosine_warm1", "cosine", 3e-4, warmup=1, min_lr=1e-5, total=30)


def l2_case(out, name, kind, wd, seed):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(N, generator=g, dtype=torch.float32) * 3.0
    pen = 0.0 if kind == "adamw" else wd / 2.0 * torch.sum(p.double() ** 2).item()
    out.append("l2 %s %s %s %d %s" % (name, kind, f64(wd), N, f64(pen)))
    out.append("params " + vec(p))


def all_l2_cases(out):
    l2_case(out, "sgd", "sgd", 5e-4, 31)
    l2_case(out, "adam", "adam", 0.01, 32)
    l2_case(out, "adamw", "adamw", 0.01, 33)


def main():
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    out = [MAGIC,
           "# PyTorch reference numbers for tests/check_optim.c.",
           "# Produced by tests/gen_optim_ref.py (torch %s); do not edit."
           % ".".join(torch.__version__.split(".")[:2])]
    all_optim_cases(out)
    all_clip_cases(out)
    all_sched_cases(out)
    all_l2_cases(out)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
