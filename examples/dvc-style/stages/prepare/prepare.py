"""Generate the data set, deterministically: two interleaved half moons
with noise (points x, y; label 0 or 1), split into a train and a test set
(data/train.json, data/test.json)."""

import math
import random

import utils

p = utils.params()
rng = random.Random(p["seed"])
points = []
for i in range(p["samples"]):
    label = i % 2
    t = math.pi * rng.random()
    x, y = (math.cos(t), math.sin(t)) if label == 0 else (1 - math.cos(t), 0.5 - math.sin(t))
    points.append([round(x + rng.gauss(0, 0.2), 6), round(y + rng.gauss(0, 0.2), 6), label])
rng.shuffle(points)
n_test = int(len(points) * p["split"])
utils.save("data/test.json", points[:n_test])
utils.save("data/train.json", points[n_test:])
print(f"prepare: {len(points) - n_test} train and {n_test} test samples")
