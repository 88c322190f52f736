"""torch_logger_bug.py - a PyTorch loop with two planted bugs, logged with
contrib/python/nntop_torch.py, for tests/torch-doctor.sh: a 2-32-3 MLP whose
first layer's biases are -20 (every ReLU unit is dead from the start) trained
with SGD at lr 3 (above the doctor's lr_max_sgd of 1), 200 steps on fixed
random data (seed 0), snapshots every 10 steps.  The logger runs no doctor:
the findings must come from the viewer.  Prints the run directory.
Usage: torch_logger_bug.py CONTRIB_DIR RUNS_DIR
"""
import sys
sys.path.insert(0, sys.argv[1])
import torch
from nntop_torch import Run
torch.manual_seed(0)
X = torch.randn(512, 2); Y = (X[:, 0] * X[:, 1] > 0).long() + (X[:, 0] > 1).long()
model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
with torch.no_grad():
    model[0].bias.fill_(-20.0)
opt = torch.optim.SGD(model.parameters(), lr=3.0)
run = Run(model, opt, run_dir=sys.argv[2], name="torch-bug", every=10, train_n=512,
          steps_per_epoch=16, total_steps=200, control=False)
for step in range(200):
    i = (step * 32) % 512
    x, y = X[i:i + 32], Y[i:i + 32]
    out = model(x); loss = torch.nn.functional.cross_entropy(out, y); loss.backward()
    run.step(loss, out, y)
    opt.step(); opt.zero_grad()
run.close()
print(run.dir)
