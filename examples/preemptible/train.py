"""An MLP on scikit-learn's digits, preemptible: it checkpoints every epoch
into TRAINRUN_CHECKPOINT_DIR (atomically), resumes from it, and stops
cleanly on SIGUSR2 (Slurm, before the time limit or at preemption) or
SIGTERM. Deterministic: a preempted run's weights equal an unpreempted
run's."""
import hashlib, json, os, signal, sys, time

t0 = time.monotonic()
import torch
from sklearn.datasets import load_digits

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
epochs = int(os.environ.get("TRAINRUN_PARAM_EPOCHS", "20"))
outdir = os.environ["TRAINRUN_OUTPUTS_DIR"]
ckdir = os.environ["TRAINRUN_CHECKPOINT_DIR"]
if os.environ.get("CHECKPOINT_IN_OUTPUTS"):
    ckdir = outdir  # the old way, to compare what is stored: don't
path = os.path.join(ckdir, "last.pt")

X, y = load_digits(return_X_y=True)
X = torch.tensor(X / 16.0, dtype=torch.float32)
y = torch.tensor(y)
n_train = 1500
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
gen = torch.Generator().manual_seed(1)

start = 0
if os.path.exists(path):
    state = torch.load(path)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    gen.set_state(state["gen"])
    start = state["epoch"] + 1
    print(f"attempt {os.environ.get('TRAINRUN_ATTEMPT')}: resuming from epoch {start} "
          f"({time.monotonic() - t0:.2f}s after start)", flush=True)
else:
    print(f"attempt {os.environ.get('TRAINRUN_ATTEMPT')}: no checkpoint, starting from epoch 0", flush=True)

stop = False
def on_signal(sig, frame):
    global stop
    stop = True
signal.signal(signal.SIGUSR2, on_signal)
signal.signal(signal.SIGTERM, on_signal)

for epoch in range(start, epochs):
    perm = torch.randperm(n_train, generator=gen)
    for i in range(0, n_train, 50):
        idx = perm[i:i + 50]
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (model(X[n_train:]).argmax(1) == y[n_train:]).float().mean().item()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(), "epoch": epoch},
               path + ".tmp")
    os.replace(path + ".tmp", path)
    print(json.dumps({"name": "val_acc", "value": acc, "step": epoch}),
          file=open(os.environ["TRAINRUN_METRICS_FILE"], "a"))
    print(f"epoch {epoch}: loss {loss.item():.4f} val_acc {acc:.4f}", flush=True)
    if os.environ.get("SLOW"):
        time.sleep(float(os.environ["SLOW"]))
    # STOP_AFTER_EPOCH=N: the first attempt stops after epoch N as if it
    # had been preempted (for tests and demonstrations).
    if os.environ.get("STOP_AFTER_EPOCH") == str(epoch) and os.environ.get("TRAINRUN_ATTEMPT") == "1":
        stop = True
    if stop:
        print(f"stopping after epoch {epoch}: the next attempt resumes", flush=True)
        sys.exit(1)

torch.save(model.state_dict(), os.path.join(outdir, "model.pt"))
print("weights sha256", hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest(), flush=True)
