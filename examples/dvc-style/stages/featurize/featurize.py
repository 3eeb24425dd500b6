"""Polynomial features of the points up to the given degree, standardized
with the train set's mean and deviation (features/train.json, test.json)."""

import math

import utils

p = utils.params()


def expand(x, y):
    return [x ** i * y ** (d - i) for d in range(1, p["degree"] + 1) for i in range(d + 1)]


train = utils.load(utils.input_path("data", "data", "train.json"))
test = utils.load(utils.input_path("data", "data", "test.json"))
X_train = [expand(x, y) for x, y, _ in train]
cols = list(zip(*X_train))
mean = [sum(c) / len(c) for c in cols]
std = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) or 1.0 for c, m in zip(cols, mean)]


def scale(rows, data):
    return [[round((v - m) / s, 6) for v, m, s in zip(r, mean, std)] + [d[2]] for r, d in zip(rows, data)]


utils.save("features/train.json", scale(X_train, train))
utils.save("features/test.json", scale([expand(x, y) for x, y, _ in test], test))
print(f"featurize: {len(mean)} features of degree up to {p['degree']}")
