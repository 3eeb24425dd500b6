"""Logistic regression by full-batch gradient descent on the features
(model/model.json): lr from the sweep, epochs, l2 and seed from params."""

import math
import random

import utils

p = utils.params()
rows = utils.load(utils.input_path("features", "features", "train.json"))
n_feat = len(rows[0]) - 1
rng = random.Random(p["seed"])
w = [rng.gauss(0, 0.01) for _ in range(n_feat)]
b = 0.0
for epoch in range(p["epochs"]):
    gw, gb = [0.0] * n_feat, 0.0
    for r in rows:
        z = b + sum(wi * xi for wi, xi in zip(w, r))
        err = 1 / (1 + math.exp(-max(-30.0, min(30.0, z)))) - r[-1]
        gb += err
        for i in range(n_feat):
            gw[i] += err * r[i]
    w = [wi - p["lr"] * (g / len(rows) + p["l2"] * wi) for wi, g in zip(w, gw)]
    b -= p["lr"] * gb / len(rows)
utils.save("model/model.json", {"w": [round(x, 8) for x in w], "b": round(b, 8)})
print(f"train: lr {p['lr']}, {p['epochs']} epochs, seed {p['seed']}")
