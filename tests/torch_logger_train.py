"""torch_logger_train.py - a tiny PyTorch loop logged with contrib/python/nntop_torch.py,
for tests/torch-logger.sh: 200 SGD steps of a 2-32-3 MLP on fixed random data
(seed 0), snapshots every 10 steps, an evaluation every 50, and a thread that
steers the run over its control socket after 50 updates (lr 0.02, clip norm 0.5, then
an unknown and a malformed message, save, eval).  The state_dict after those 50
updates is kept as RUNS_DIR-aux/expected-50.pt (torch.save) to compare the saved
checkpoint with, and the evaluate function's result as RUNS_DIR-aux/expected-eval.txt.
Then a second run (in RUNS_DIR-aux) without an evaluate function is sent eval.  Prints the run
directory, then the six replies, then the second run's reply.
Usage: torch_logger_train.py CONTRIB_DIR RUNS_DIR
"""
import json, os, socket, sys, threading, time
sys.path.insert(0, sys.argv[1])
import torch
from nntop_torch import Run
AUX = sys.argv[2] + "-aux"; os.makedirs(AUX, exist_ok=True)
torch.manual_seed(0)
X = torch.randn(512, 2); Y = (X[:, 0] * X[:, 1] > 0).long() + (X[:, 0] > 1).long()
model = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
evals = []
def evaluate():
    o = model(X); r = {"loss": float(torch.nn.functional.cross_entropy(o, Y)),
                       "accuracy": float((o.argmax(1) == Y).float().mean())}
    evals.append(r); return r
run = Run(model, opt, run_dir=sys.argv[2], name="torch-tiny", config={"lr": 0.1}, every=10,
          train_n=512, steps_per_epoch=16, total_steps=200, evaluate=evaluate)
replies = []
def steer(r=run, lines=('{"cmd":"lr","value":0.02}', '{"cmd":"clip","kind":"norm","value":0.5}',
                        '{"cmd":"bogus"}', 'nope', '{"cmd":"save"}', '{"cmd":"eval"}')):
    s = socket.socket(socket.AF_UNIX); s.connect(os.path.join(r.dir, "control.sock")); f = s.makefile("rb")
    for line in lines:
        s.sendall(line.encode() + b"\n"); replies.append(f.readline().decode().strip())
t = None
for step in range(200):
    i = (step * 32) % 512
    x, y = X[i:i + 32], Y[i:i + 32]
    out = model(x); loss = torch.nn.functional.cross_entropy(out, y); loss.backward()
    if step == 50:
        # Steered after 50 updates: serve until the client has its four replies.
        t = threading.Thread(target=steer); t.start()
        while t.is_alive():
            run.serve(); time.sleep(0.005)
        torch.save({k: v.clone() for k, v in model.state_dict().items()},
                   os.path.join(AUX, "expected-50.pt"))
        with open(os.path.join(AUX, "expected-eval.txt"), "w") as f:
            f.write("%r %r\n" % (evals[0]["loss"], evals[0]["accuracy"]))
    run.step(loss, out, y)
    opt.step(); opt.zero_grad()
    if (step + 1) % 50 == 0:
        with torch.no_grad():
            o = model(X); run.evaluate(float(torch.nn.functional.cross_entropy(o, Y)), float((o.argmax(1) == Y).float().mean()))
run.close()
# A run without an evaluate function refuses eval.
other = Run(model, opt, run_dir=AUX, name="torch-noeval")
t = threading.Thread(target=steer, args=(other, ('{"cmd":"eval"}',))); t.start()
while t.is_alive():
    other.serve(); time.sleep(0.005)
other.close()
print(run.dir)
print("\n".join(replies))
