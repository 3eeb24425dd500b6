"""Logistic regression with plain Python, trained by gradient descent.

The data set is synthetic and seeded, so a run is reproducible: two runs
with the same parameters write byte-identical model files. Metrics go to
$TRAINRUN_METRICS_FILE as JSON lines; the model goes to model.json (a
declared output) and a summary to $TRAINRUN_OUTPUTS_DIR.
"""

import argparse
import json
import math
import os
import random


def make_data(n, dim, seed):
    rng = random.Random(seed)
    true_w = [rng.uniform(-2, 2) for _ in range(dim)]
    xs, ys = [], []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(dim)]
        z = sum(w * v for w, v in zip(true_w, x)) + rng.gauss(0, 0.5)
        xs.append(x)
        ys.append(1 if z > 0 else 0)
    return xs, ys


def sigmoid(z):
    if z < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


def evaluate(w, b, xs, ys):
    loss, correct = 0.0, 0
    for x, y in zip(xs, ys):
        p = sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b)
        p = min(max(p, 1e-12), 1 - 1e-12)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        correct += (p > 0.5) == (y == 1)
    return loss / len(xs), correct / len(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    xs, ys = make_data(400, 5, args.seed)
    train_x, train_y, val_x, val_y = xs[:300], ys[:300], xs[300:], ys[300:]
    w, b = [0.0] * len(xs[0]), 0.0
    metrics = open(os.environ.get("TRAINRUN_METRICS_FILE", os.devnull), "a")
    for epoch in range(1, args.epochs + 1):
        gw, gb = [0.0] * len(w), 0.0
        for x, y in zip(train_x, train_y):
            err = sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b) - y
            for i, xi in enumerate(x):
                gw[i] += err * xi
            gb += err
        w = [wi - args.lr * g / len(train_x) for wi, g in zip(w, gw)]
        b -= args.lr * gb / len(train_x)
        loss, acc = evaluate(w, b, val_x, val_y)
        for name, value in (("loss", loss), ("accuracy", acc)):
            metrics.write(json.dumps({"name": name, "value": round(value, 6), "step": epoch}) + "\n")
        metrics.flush()
        if epoch % 10 == 0 or epoch == args.epochs:
            print(f"epoch {epoch}: val loss {loss:.4f}, val accuracy {acc:.3f}", flush=True)

    with open("model.json", "w") as f:
        json.dump({"w": [round(v, 8) for v in w], "b": round(b, 8)}, f, indent=2)
    out = os.environ.get("TRAINRUN_OUTPUTS_DIR")
    if out:
        with open(os.path.join(out, "summary.json"), "w") as f:
            json.dump({"lr": args.lr, "epochs": args.epochs, "val_loss": round(loss, 6), "val_accuracy": acc}, f)


if __name__ == "__main__":
    main()
