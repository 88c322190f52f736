"""nntop_torch - log a PyTorch training loop as an nntop run directory.

A few lines in an ordinary loop write the run-directory format that
doc/run-format.md defines, so `nntop --replay RUN_DIR`, `nntop --attach
RUN_DIR`, `nntop runs` and `nntop export` work on it:

    from nntop_torch import Run
    run = Run(model, optimizer, run_dir="runs", name="my-net", config=vars(args))
    for x, y in loader:
        out = model(x); loss = loss_fn(out, y); loss.backward()
        run.step(loss, out, y)      # stats, control commands applied here, then
        optimizer.step(); optimizer.zero_grad()
    run.close()

What it writes: env.txt (run_format 1), config.yaml (the model as nntop
describes it, so the dashboard can label layers and tensors), metrics.csv
(one train row per update), layers.csv (every `every` updates: activation
statistics of each layer from forward hooks, dead and saturated
fractions, weight, gradient and update norms of each tensor),
histograms.csv (at the same snapshots: each layer's activations and each
tensor's weights and gradients in `bins` equal bins over [min, max]), and
events.jsonl (start, the changes made over the control socket, done).
It listens on RUN_DIR/control.sock (mode 0600, peers of the same uid or
root only, checked with SO_PEERCRED) between steps: pause blocks the loop
until resume (or step N), lr and lr_scale set every param group's rate,
clip clips the gradients from then on, save writes
checkpoint-<step>.safetensors (the model's state_dict, the weights after
<step> updates, in the format nntop's checkpoints use, written by hand),
eval calls the evaluate function given to Run() and logs its result as an
eval row, quit makes `run.should_stop` true.  Without an evaluate function
eval is refused; other commands are answered with an error.

The model must be a torch.nn.Sequential of Linear, ReLU, LeakyReLU, Tanh,
Sigmoid and Dropout layers (what nntop's config can describe); anything
else is refused at Run() with a ValueError naming the layer.  Standard
library plus torch only.  Install by copying this file next to your
script, or onto PYTHONPATH.
"""

import ctypes
import datetime
import json
import math
import os
import socket
import struct
import sys
import time

import torch

__all__ = ["Run"]

RUN_FORMAT = 1
LINE_MAX = 1024
HIST_SAMPLE = 4096      # histograms of larger tensors count a strided sample (as nntop's)
# safetensors' dtype names (what contrib/python/nntop_load.py reads back)
ST_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
             torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
             torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def _fmt(x):
    """A float as run-format.md writes it: empty for None, nan/inf spelled out."""
    if x is None:
        return ""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def _now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")


def _describe(model):
    """(yaml layer lines, [(kind, label)]) for an nn.Sequential nntop can describe."""
    if not isinstance(model, torch.nn.Sequential):
        raise ValueError("nntop_torch: the model must be a torch.nn.Sequential")
    lines, layers = [], []
    width = None
    for i, m in enumerate(model):
        if isinstance(m, torch.nn.Linear):
            if width is not None and m.in_features != width:
                raise ValueError("nntop_torch: layer %d: Linear takes %d inputs, gets %d"
                                 % (i, m.in_features, width))
            lines.append("    - {dense: %d, init: pytorch}" % m.out_features)
            layers.append(("dense", "dense %d->%d" % (m.in_features, m.out_features)))
            width = m.out_features
        elif isinstance(m, torch.nn.ReLU):
            lines.append("    - relu")
            layers.append(("relu", "relu"))
        elif isinstance(m, torch.nn.LeakyReLU):
            lines.append("    - {leaky_relu: %r}" % m.negative_slope)
            layers.append(("leaky_relu", "leaky_relu"))
        elif isinstance(m, torch.nn.Tanh):
            lines.append("    - tanh")
            layers.append(("tanh", "tanh"))
        elif isinstance(m, torch.nn.Sigmoid):
            lines.append("    - sigmoid")
            layers.append(("sigmoid", "sigmoid"))
        elif isinstance(m, torch.nn.Dropout):
            lines.append("    - {dropout: %r}" % m.p)
            layers.append(("dropout", "dropout %g" % m.p))
        else:
            raise ValueError("nntop_torch: layer %d: %s is not a layer nntop describes"
                             % (i, type(m).__name__))
    first = next((m for m in model if isinstance(m, torch.nn.Linear)), None)
    if first is None:
        raise ValueError("nntop_torch: the model has no Linear layer")
    return lines, layers, first.in_features, width


def _optim_yaml(optimizer):
    """The optimizer's name (and momentum) as nntop's config spells them, so the
    viewer's doctor judges the lr against the right range; "" for another kind."""
    g = optimizer.param_groups[0]
    if isinstance(optimizer, torch.optim.AdamW):
        return "  name: adamw\n"
    if isinstance(optimizer, torch.optim.Adam):
        return "  name: adam\n"
    if isinstance(optimizer, torch.optim.SGD):
        m = float(g.get("momentum", 0.0) or 0.0)
        return "  name: sgd\n" + ("  momentum: %r\n" % m if m > 0 else "")
    return ""


def _tensor_bytes(t):
    """The raw little-endian bytes of a tensor, row-major."""
    t = t.detach().to("cpu").contiguous().reshape(-1)
    n = t.numel() * t.element_size()
    if n == 0:
        return b""
    if sys.byteorder != "little" and t.element_size() > 1:
        u = t.view(torch.uint8).reshape(-1, t.element_size()).flip(1).contiguous()
        return ctypes.string_at(u.data_ptr(), n)
    return ctypes.string_at(t.data_ptr(), n)


def _write_safetensors(path, tensors, metadata):
    """Write {name: tensor} and {key: str} metadata as a safetensors file,
    atomically (a temporary file, fsync, rename); its size in bytes."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        if t.dtype not in ST_DTYPES:
            raise ValueError("tensor %s has dtype %s, which safetensors cannot hold" % (name, t.dtype))
        b = _tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)       # the data start 8-byte aligned, as safetensors' writer pads
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return 8 + len(h) + offset


class _Control:
    """The control socket: non-blocking, served between steps."""

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, "control.sock")
        tmp = "%s.%d" % (self.path, os.getpid())
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(tmp):
            os.unlink(tmp)
        self.sock.bind(tmp)
        os.chmod(tmp, 0o600)
        self.sock.listen(16)
        os.rename(tmp, self.path)
        self.sock.setblocking(False)
        self.clients = {}
        self.uid = os.geteuid()

    def _reply(self, c, obj):
        try:
            c.send((json.dumps(obj) + "\n").encode(), socket.MSG_DONTWAIT)
        except OSError:
            self._drop(c)

    def _drop(self, c):
        self.clients.pop(c, None)
        c.close()

    def serve(self, handle):
        while True:
            try:
                c, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                break
            c.setblocking(False)
            cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _, uid, _ = struct.unpack("3i", cred)
            if uid not in (self.uid, 0):
                self._reply(c, {"ok": False, "error": "refused: uid %d does not own this run (uid %d)"
                                % (uid, self.uid)})
                c.close()
                continue
            if len(self.clients) >= 16:
                self._reply(c, {"ok": False, "error": "refused: 16 viewers are connected already"})
                c.close()
                continue
            self.clients[c] = b""
        for c in list(self.clients):
            try:
                data = c.recv(16384)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                self._drop(c)
                continue
            if not data:
                self._drop(c)
                continue
            buf = self.clients[c] + data
            while b"\n" in buf and c in self.clients:
                line, buf = buf.split(b"\n", 1)
                if len(line) >= LINE_MAX:
                    self._reply(c, {"ok": False, "error": "message too long: at most %d bytes a line"
                                    % (LINE_MAX - 1)})
                    continue
                self._reply(c, handle(line))
            if c in self.clients:
                if len(buf) >= LINE_MAX:
                    self._reply(c, {"ok": False, "error": "message too long: at most %d bytes a line"
                                    % (LINE_MAX - 1)})
                    buf = b""
                self.clients[c] = buf

    def close(self):
        for c in list(self.clients):
            self._drop(c)
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class Run:
    """One run directory written from a PyTorch loop (see the module's doc)."""

    def __init__(self, model, optimizer, run_dir="runs", name="torch", config=None, every=10,
                 classes=None, train_n=0, val_n=0, steps_per_epoch=0, total_steps=0,
                 loss="cross_entropy", control=True, bins=40, evaluate=None):
        """evaluate: a function of no arguments that the eval command calls
        (under torch.no_grad) and that returns the loss, or a dict with
        "loss" and optionally "accuracy" and "split" ("val", the default,
        or "test"); without it eval is refused."""
        self.model, self.optimizer = model, optimizer
        self.evaluate_fn = evaluate
        self.loss_name = loss
        self.every = max(1, int(every))
        self.bins = min(256, max(4, int(bins)))
        yaml_layers, self.layers, self.in_width, out = _describe(model)
        self.classes = int(classes or out)
        self.steps_per_epoch = int(steps_per_epoch)
        self.global_step = 0
        self.should_stop = False
        self.paused = False
        self.step_budget = 0
        self.clip = ("none", 0.0)
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name) or "run"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        os.makedirs(run_dir, exist_ok=True)
        base = os.path.join(run_dir, "%s-%s" % (stamp, safe))
        self.dir, k = base, 1
        while True:
            try:
                os.mkdir(self.dir)
                break
            except FileExistsError:
                k += 1
                self.dir = "%s-%d" % (base, k)
        self.t0 = time.monotonic()
        lr = optimizer.param_groups[0]["lr"]
        self._write_env(name, config)
        with open(os.path.join(self.dir, "config.yaml"), "w") as f:
            f.write("# written by nntop_torch: the PyTorch model as nntop describes it\n")
            self.config_text = ("name: %s\nmodel:\n  layers:\n%s\nloss: %s\noptim:\n%s  lr: %r\n"
                                % (json.dumps(name), "\n".join(yaml_layers), loss,
                                   _optim_yaml(optimizer), float(lr)))
            f.write(self.config_text)
        self.metrics = open(os.path.join(self.dir, "metrics.csv"), "w")
        self.metrics.write("step,epoch,kind,loss,reg_loss,accuracy,lr,grad_norm,clipped,"
                           "samples_per_s,wall_s\n")
        self.layers_csv = open(os.path.join(self.dir, "layers.csv"), "w")
        self.layers_csv.write("step,layer,name,tensor,act_mean,act_std,act_min,act_max,dead_frac,"
                              "sat_frac,w_norm,g_norm,update_norm,update_ratio,nan_count,inf_count\n")
        self.hists_csv = open(os.path.join(self.dir, "histograms.csv"), "w")
        self.hists_csv.write("step,what,index,lo,hi,under,over,total,counts\n")
        self.events = open(os.path.join(self.dir, "events.jsonl"), "w")
        self.last_flush = time.monotonic()
        self.acts = {}
        self.want_acts = False
        self.prev = None        # the weights before the update a snapshot measures
        self.have_prev = False
        for i, m in enumerate(model):
            m.register_forward_hook(self._hook(i))
        expected = math.log(self.classes) if loss == "cross_entropy" else float("nan")
        self.event("start", "training %s: %d classes, expected initial loss %.4f"
                   % (name, self.classes, expected),
                   **{"in": self.in_width, "classes": self.classes, "train_n": int(train_n),
                      "val_n": int(val_n), "test_n": 0, "expected_loss": expected,
                      "total_steps": int(total_steps), "steps_per_epoch": self.steps_per_epoch})
        self.control = _Control(self.dir) if control else None
        self.last_time = time.monotonic()

    # ---- files ----------------------------------------------------------------

    def _write_env(self, name, config):
        lines = ["run_format: %d" % RUN_FORMAT, "nntop: nntop_torch (torch %s)" % torch.__version__,
                 "python: %s" % sys.version.split()[0], "host: %s" % socket.gethostname(),
                 "pid: %d" % os.getpid(), "cwd: %s" % os.getcwd(),
                 "start: %s" % datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                 "command: %s" % " ".join(sys.argv)]
        for k, v in sorted((config or {}).items()):
            lines.append("config_%s: %s" % (k, str(v).replace("\n", " ")))
        with open(os.path.join(self.dir, "env.txt.tmp"), "w") as f:
            f.write("\n".join(lines) + "\n")
        os.rename(os.path.join(self.dir, "env.txt.tmp"), os.path.join(self.dir, "env.txt"))

    def event(self, type_, text, severity="ok", source=None, **members):
        obj = {"step": self.global_step, "time": _now_iso(),
               "wall_s": round(time.monotonic() - self.t0, 3), "type": type_}
        for k, v in members.items():
            obj[k] = _fmt(v) if isinstance(v, float) and not math.isfinite(v) else v
        if source:
            obj["source"] = source
        obj["severity"] = severity
        obj["text"] = text
        self.events.write(json.dumps(obj, separators=(",", ":")) + "\n")
        self.events.flush()

    def _flush(self, force=False):
        if force or time.monotonic() - self.last_flush >= 1.0:
            self.metrics.flush()
            self.layers_csv.flush()
            self.hists_csv.flush()
            self.last_flush = time.monotonic()

    # ---- statistics ---------------------------------------------------------------

    def _hook(self, index):
        def hook(module, inputs, output):
            if not self.want_acts or not torch.is_tensor(output):
                return
            with torch.no_grad():
                y = output.detach().float()
                kind = self.layers[index][0]
                dead = sat = None
                if kind == "relu" and y.dim() >= 2:
                    # a unit is dead when it is zero for every sample of the batch
                    dead = float((y.reshape(y.shape[0], -1).amax(dim=0) <= 0).float().mean())
                elif kind == "tanh":
                    sat = float((y.abs() > 0.99).float().mean())
                elif kind == "sigmoid":
                    sat = float(((y < 0.01) | (y > 0.99)).float().mean())
                if y.numel() > 1:
                    std, mean = torch.std_mean(y)
                    std, mean = float(std), float(mean)
                else:
                    std, mean = 0.0, float(y.reshape(-1)[0])
                lo, hi, nan, inf, h = self._range_hist(y)
                self.acts[index] = (mean, std, lo, hi, dead, sat, nan, inf, h)
        return hook

    def _range_hist(self, y):
        """(min, max, NaN count, Inf count, histogram) of y's finite values.  The
        histogram (lo, hi, total, counts) is nntop's: every stride-th value of a
        tensor larger than HIST_SAMPLE (stride = ceil(n / HIST_SAMPLE)), in
        self.bins equal bins over the sample's [min, max]; None when nothing is
        finite.  A tensor without NaN or Inf (min and max finite) costs one
        min/max pass over it and one histc over the sample."""
        v = y.detach().reshape(-1)
        if v.dtype != torch.float32:
            v = v.float()
        if v.numel() == 0:
            return None, None, 0, 0, None
        lo, hi = (float(t) for t in torch.aminmax(v))
        nan = inf = 0
        if not (math.isfinite(lo) and math.isfinite(hi)):
            finite = torch.isfinite(v)
            nan = int(torch.isnan(v).sum())
            inf = int(v.numel() - int(finite.sum()) - nan)
            v = v[finite]
            if v.numel() == 0:
                return None, None, nan, inf, None
            lo, hi = (float(t) for t in torch.aminmax(v))
        n = v.numel()
        if n > HIST_SAMPLE:
            v = v[::(n + HIST_SAMPLE - 1) // HIST_SAMPLE]
            hlo, hhi = (float(t) for t in torch.aminmax(v))
        else:
            hlo, hhi = lo, hi
        if hhi > hlo:
            c = torch.histc(v, bins=self.bins, min=hlo, max=hhi).to(torch.int64).tolist()
        else:
            c = [0] * self.bins
            c[0] = int(v.numel())
        return lo, hi, nan, inf, (hlo, hhi, int(v.numel()), c)

    def _hist_row(self, step, what, index, h):
        if h is not None:
            self.hists_csv.write("%d,%s,%d,%s,%s,0,0,%d,%s\n" % (
                step, what, index, repr(h[0]), repr(h[1]), h[2], " ".join(map(str, h[3]))))

    def _snapshot(self, step):
        w = self.layers_csv
        params = dict(self.model.named_parameters())
        tensor_index = 0
        for i, (kind, label) in enumerate(self.layers):
            a = self.acts.get(i)
            if a is not None:
                w.write("%d,%d,%s,,%s,%s,%s,%s,%s,%s,,,,,%d,%d\n" % (
                    step, i, label, _fmt(a[0]), _fmt(a[1]), _fmt(a[2]), _fmt(a[3]),
                    _fmt(a[4]), _fmt(a[5]), a[6], a[7]))
                self._hist_row(step, "act", i, a[8])
            for t in ("weight", "bias"):
                p = params.get("%d.%s" % (i, t))
                if p is None:
                    continue
                # Tensors are numbered in the order their rows come (histograms.csv's index).
                k = tensor_index
                tensor_index += 1
                with torch.no_grad():
                    wn = float(p.norm())
                    gn = float(p.grad.norm()) if p.grad is not None else None
                    un = ur = None
                    if self.have_prev:
                        # in place: the buffer is refilled before the next snapshot
                        b = self.prev[p]
                        un = float(b.sub_(p).norm())
                        ur = un / wn if wn > 0 else None
                    _, _, nan, inf, hw = self._range_hist(p)
                    self._hist_row(step, "weight", k, hw)
                    if p.grad is not None:
                        self._hist_row(step, "grad", k, self._range_hist(p.grad)[4])
                w.write("%d,%d,%s,%d.%s,,,,,,,%s,%s,%s,%s,%d,%d\n" % (
                    step, i, label, i, t, _fmt(wn), _fmt(gn), _fmt(un), _fmt(ur), nan, inf))
        self.acts = {}

    # ---- control ------------------------------------------------------------------

    def _set_lr(self, lr):
        for g in self.optimizer.param_groups:
            g["lr"] = lr

    def _model_json(self):
        """The checkpoint's "model" metadata as nntop writes it (input shape,
        loss, layer list), so nntop_load.load() rebuilds the model."""
        layers = []
        for m, (kind, _) in zip(self.model, self.layers):
            l = {"kind": kind}
            if kind == "dense":
                l["in"], l["out"] = m.in_features, m.out_features
            elif kind == "leaky_relu":
                l["arg"] = m.negative_slope
            elif kind == "dropout":
                l["arg"] = m.p
            layers.append(l)
        return json.dumps({"input": [self.in_width], "loss": self.loss_name, "layers": layers},
                          separators=(",", ":"))

    def save(self, source=None):
        """Write checkpoint-<step>.safetensors (the model's state_dict after
        the updates so far) in the run directory and journal it; the file name."""
        name = "checkpoint-%d.safetensors" % self.global_step
        epoch = self.global_step / self.steps_per_epoch if self.steps_per_epoch else 0.0
        meta = {"format": "nntop-checkpoint", "writer": "nntop_torch (torch %s)" % torch.__version__,
                "step": str(self.global_step), "epoch": repr(float(epoch)),
                "optimizer": type(self.optimizer).__name__.lower(), "config": self.config_text,
                "model": self._model_json()}
        try:
            size = _write_safetensors(os.path.join(self.dir, name), self.model.state_dict(), meta)
        except (OSError, ValueError) as e:
            self.event("error", "checkpoint failed: %s" % e, severity="error", source=source,
                       what="checkpoint", message=str(e))
            raise
        self.event("checkpoint", "saved %s" % name, source=source, file=name, bytes=size)
        return name

    def _eval_command(self):
        if self.evaluate_fn is None:
            why = "eval: no evaluate function (pass Run(..., evaluate=fn))"
            self.event("refused", why, severity="info", source="socket", command="eval")
            return {"ok": False, "error": why}
        self.event("eval", "evaluating", source="socket")
        want, self.want_acts = self.want_acts, False     # its forwards are not the snapshot's
        try:
            with torch.no_grad():
                r = self.evaluate_fn()
        except Exception as e:
            why = "eval: the evaluate function raised %s: %s" % (type(e).__name__, e)
            self.event("error", why, severity="error", source="socket", what="eval", message=str(e))
            return {"ok": False, "error": why[:300]}
        finally:
            self.want_acts = want
        split, acc = "val", None
        if isinstance(r, dict):
            loss, acc, split = r.get("loss"), r.get("accuracy"), r.get("split", "val")
        else:
            loss = r
        try:
            loss = float(loss)
            acc = None if acc is None else float(acc)
        except (TypeError, ValueError):
            loss = None
        if loss is None or split not in ("val", "test"):
            why = ('eval: the evaluate function returned %.60r; expected a number or a dict with '
                   '"loss" (and "accuracy", "split": val or test)' % (r,))
            self.event("error", why, severity="error", source="socket", what="eval", message=why)
            return {"ok": False, "error": why}
        self.evaluate(loss, acc, split)
        self._flush(force=True)
        return {"ok": True}

    def _command(self, line):
        try:
            msg = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            msg = None
        if not isinstance(msg, dict) or not isinstance(msg.get("cmd"), str):
            return {"ok": False, "error": 'malformed message: expected a JSON object with a string "cmd"'}
        cmd, value = msg["cmd"], msg.get("value")
        num = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if cmd == "pause":
            self.paused, self.step_budget = True, 0
            self.event("pause", "paused", source="socket")
        elif cmd == "resume":
            self.paused, self.step_budget = False, 0
            self.event("resume", "resumed", source="socket")
        elif cmd == "step":
            n = msg.get("n", 1)
            if not isinstance(n, int) or n < 1:
                return {"ok": False, "error": '"n" must be a positive integer'}
            self.paused, self.step_budget = False, n
            self.event("step", "stepping %d" % n, source="socket", n=n)
        elif cmd in ("lr", "lr_scale"):
            if not num or value <= 0:
                return {"ok": False, "error": '"value" must be a positive number'}
            lr = value if cmd == "lr" else self.optimizer.param_groups[0]["lr"] * value
            self._set_lr(lr)
            self.event("lr", "lr set to %g" % lr, source="socket", value=lr)
        elif cmd == "clip":
            kind = msg.get("kind")
            if kind not in ("none", "norm", "value"):
                return {"ok": False, "error": '"kind" must be none, norm or value'}
            if kind != "none" and (not num or value <= 0):
                return {"ok": False, "error": '"value" must be a positive number'}
            self.clip = (kind, float(value) if num else 0.0)
            self.event("clip", "clip %s %g" % self.clip, source="socket", kind=kind,
                       value=self.clip[1])
        elif cmd == "save":
            try:
                self.save(source="socket")
            except (OSError, ValueError) as e:
                return {"ok": False, "error": "save: %s" % str(e)[:300]}
        elif cmd == "eval":
            return self._eval_command()
        elif cmd == "quit":
            self.should_stop = True
            self.paused = False
            self.quit_source = "socket"
        else:
            return {"ok": False, "error": "command '%s' is not supported by nntop_torch" % cmd[:40]}
        return {"ok": True}

    def serve(self):
        """Answer waiting control commands now (step() does it on each call)."""
        if self.control is not None:
            self.control.serve(self._command)

    # ---- the loop's calls -----------------------------------------------------------

    def step(self, loss, output=None, target=None, batch_size=None):
        """After loss.backward(), before optimizer.step(): log, steer, clip."""
        self.serve()
        while self.paused and not self.should_stop:
            self._flush(force=True)
            time.sleep(0.02)
            self.serve()
        k = self.global_step + 1
        if self.global_step >= 1 and self.global_step % self.every == 0:
            self._snapshot(self.global_step)
        params = [p for p in self.model.parameters() if p.grad is not None]
        with torch.no_grad():
            gnorm = float(torch.norm(torch.stack([p.grad.norm() for p in params]))) if params else 0.0
        clipped = False
        if self.clip[0] == "norm" and gnorm > self.clip[1]:
            torch.nn.utils.clip_grad_norm_(params, self.clip[1])
            clipped = True
        elif self.clip[0] == "value":
            clipped = any(float(p.grad.abs().max()) > self.clip[1] for p in params)
            torch.nn.utils.clip_grad_value_(params, self.clip[1])
        acc = None
        if output is not None and target is not None:
            with torch.no_grad():
                acc = float((output.argmax(dim=1) == target).float().mean())
            batch_size = batch_size or int(target.shape[0])
        now = time.monotonic()
        rate = (batch_size or 0) / (now - self.last_time) if now > self.last_time else 0.0
        self.last_time = now
        epoch = k / self.steps_per_epoch if self.steps_per_epoch else 0.0
        self.metrics.write("%d,%s,train,%s,0,%s,%s,%s,%d,%.1f,%.3f\n" % (
            k, repr(float(epoch)), _fmt(float(loss)), _fmt(acc),
            repr(float(self.optimizer.param_groups[0]["lr"])), _fmt(gnorm), int(clipped), rate,
            now - self.t0))
        # The next update's snapshot needs these weights (its update norm) and
        # the next forward's activations.
        if k % self.every == 0:
            # Copied into buffers made once: a fresh clone every snapshot costs
            # the allocator more than the copy (large blocks mapped and unmapped).
            with torch.no_grad():
                if self.prev is None:
                    self.prev = {p: torch.empty_like(p) for p in self.model.parameters()}
                for p, b in self.prev.items():
                    b.copy_(p)
            self.have_prev = True
            self.want_acts = True
        else:
            self.want_acts = False
        self.global_step = k
        if self.step_budget > 0:
            self.step_budget -= 1
            if self.step_budget == 0:
                self.paused = True
        self._flush()

    def evaluate(self, loss, accuracy, split="val"):
        """An evaluation after the updates so far (split "val" or "test")."""
        epoch = self.global_step / self.steps_per_epoch if self.steps_per_epoch else 0.0
        self.metrics.write("%d,%s,%s,%s,,%s,,,,,%.3f\n" % (
            self.global_step, repr(float(epoch)), split, _fmt(loss), _fmt(accuracy),
            time.monotonic() - self.t0))

    def close(self):
        """Flush, write the closing event and remove the control socket."""
        if self.should_stop:
            self.event("quit", "stopped at step %d" % self.global_step,
                       source=getattr(self, "quit_source", None))
        else:
            self.event("done", "training finished at step %d" % self.global_step)
        self._flush(force=True)
        self.metrics.close()
        self.layers_csv.close()
        self.hists_csv.close()
        self.events.close()
        if self.control is not None:
            self.control.close()
            self.control = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
