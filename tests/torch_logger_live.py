"""torch_logger_live.py - a PyTorch loop that trains until it is told to stop,
logged with contrib/python/nntop_torch.py, for the tmux part of
tests/torch-logger.sh: an attached dashboard steers it over control.sock and
:quit ends it (run.should_stop).  A 2-32-3 MLP on fixed random data (seed 0);
it sleeps 2 ms a step so the machine stays usable, and stops by itself after
200000 steps.  Usage: torch_logger_live.py CONTRIB_DIR RUNS_DIR
"""
import sys
import time

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402
from nntop_torch import Run  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
X = torch.randn(512, 2)
Y = (X[:, 0] * X[:, 1] > 0).long() + (X[:, 0] > 1).long()
model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
run = Run(model, opt, run_dir=sys.argv[2], name="torch-live", every=10, train_n=512,
          steps_per_epoch=16)
print(run.dir, flush=True)
step = 0
while not run.should_stop and step < 200000:
    i = (step * 32) % 512
    out = model(X[i:i + 32])
    loss = torch.nn.functional.cross_entropy(out, Y[i:i + 32])
    loss.backward()
    run.step(loss, out, Y[i:i + 32])
    opt.step()
    opt.zero_grad()
    step += 1
    time.sleep(0.002)
run.close()
